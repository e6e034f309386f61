from pathlib import Path

import feedparser
import pytest

from dagster_project.lib.rss import FeedError, parse_duration, parse_feed

QUIRKS = Path(__file__).parent / "fixtures" / "feeds"

FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel>
  <title>Signal and Noise</title>
  <itunes:author>Dana Reyes</itunes:author>
  <podcast:person role="host">Dana Reyes</podcast:person>
  <item>
    <title>Open models</title>
    <guid isPermaLink="false">sn-101</guid>
    <pubDate>Wed, 18 Nov 2026 23:30:00 -0500</pubDate>
    <enclosure url="../audio/sn-101.mp3" length="1234" type="audio/mpeg"/>
    <itunes:duration>01:02:03</itunes:duration>
    <podcast:person role="guest">Marc Andreessen</podcast:person>
    <podcast:transcript url="../t/sn-101.vtt" type="text/vtt"/>
  </item>
  <item>
    <title>No guid</title>
    <pubDate>Tue, 17 Nov 2026 10:00:00 GMT</pubDate>
    <enclosure url="https://cdn.example.com/b.mp3" type="audio/mpeg"/>
  </item>
  <item>
    <title>No audio</title><guid>sn-103</guid>
    <pubDate>Tue, 17 Nov 2026 10:00:00 GMT</pubDate>
  </item>
  <item>
    <title>Dup</title><guid isPermaLink="false">sn-101</guid>
    <pubDate>Tue, 17 Nov 2026 10:00:00 GMT</pubDate>
    <enclosure url="https://cdn.example.com/c.mp3" type="audio/mpeg"/>
  </item>
</channel></rss>"""


def test_parse_feed_resolves_urls_people_transcripts_and_utc_days():
    feed = parse_feed(FEED, "sn", "http://127.0.0.1:8000/feeds/sn.xml")
    assert feed.title == "Signal and Noise"
    first, second = feed.episodes
    assert first.guid == "sn-101"
    assert first.audio_url == "http://127.0.0.1:8000/audio/sn-101.mp3"
    # 23:30 in New York on the 18th is the 19th in UTC: the partition is the UTC day.
    assert first.partition_date.isoformat() == "2026-11-19"
    assert first.duration_s == 3723
    assert {(p.name, p.role) for p in first.persons} == {
        ("Dana Reyes", "host"),
        ("Marc Andreessen", "guest"),
    }
    assert first.transcript_url == "http://127.0.0.1:8000/t/sn-101.vtt"
    assert first.transcript_type == "text/vtt"
    assert second.guid == "https://cdn.example.com/b.mp3"  # no guid: the enclosure URL
    assert {label: why for label, why, _ in feed.skipped} == {
        "sn-103": "no audio enclosure",
        "sn-101": "duplicate guid in feed",
    }


def test_podcast_block_is_reported():
    raw = FEED.replace(b"<title>Signal", b"<podcast:block>yes</podcast:block><title>Signal")
    assert parse_feed(raw, "sn", "http://x/feed.xml").blocked


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        (b"<html><body>not a feed", "not XML"),
        (b"<?xml version='1.0'?><note>hello</note>", "not an RSS"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss><channel><title>&lol2;</title>'
            b"</channel></rss>",
            "hostile XML",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<rss><channel><title>&x;</title></channel></rss>",
            "hostile XML",
        ),
    ],
)
def test_unusable_feeds_raise_with_the_feed_named(raw, message):
    with pytest.raises(FeedError, match=message) as err:
        parse_feed(raw, "bad-feed", "http://x/feed.xml")
    assert "bad-feed" in str(err.value)


@pytest.mark.parametrize(
    "value, seconds",
    [("90", 90), ("1:30", 90), ("1:00:00", 3600), ("", None), ("abc", None), ("1:2:3:4", None)],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_a_remote_feed_cannot_point_at_local_files():
    raw = FEED.replace(b'url="../audio/sn-101.mp3"', b'url="file:///etc/passwd"').replace(
        b'url="../t/sn-101.vtt"', b'url="file:///etc/hostname"'
    )
    feed = parse_feed(raw, "sn", "https://example.com/feeds/sn.xml")
    assert all(e.audio_url.startswith("https://") for e in feed.episodes)
    assert any("not an http(s) URL" in why for _, why, _ in feed.skipped)
    # A local feed (the demo's file: feeds) may use local files.
    local = parse_feed(FEED, "sn", "file:///srv/shows/feeds/sn.xml")
    assert local.episodes[0].audio_url == "file:///srv/shows/audio/sn-101.mp3"


def test_a_remote_feeds_local_transcript_link_is_dropped():
    raw = FEED.replace(b'url="../t/sn-101.vtt"', b'url="file:///etc/hostname"')
    (first, _) = parse_feed(raw, "sn", "https://example.com/feeds/sn.xml").episodes
    assert first.transcript_url is None


def quirk(name: str) -> bytes:
    return (QUIRKS / name).read_bytes()


@pytest.mark.parametrize(
    "name, title, guids",
    [
        ("blank-line-before-declaration.xml", "Blank Line Radio", ["blr-1"]),
        ("bom-and-whitespace.xml", "Byte Order Show", ["bom-1"]),
        ("undeclared-itunes.xml", "Undeclared Prefixes", ["up-1"]),
        ("iso-8859-1-declared.xml", "Café Crème", ["cc-1"]),
        ("iso-8859-1-undeclared.xml", "Café Crème", ["cc-1"]),
        ("invalid-utf8-byte.xml", "Naïve Economics", ["ne-1", "ne-2"]),
        ("html-entities-and-bare-ampersands.xml", "Markets & Mortgages", ["mm-1"]),
        (
            "no-guids.xml",
            "Guidless",
            ["https://cdn.example.com/g/1.mp3", "https://cdn.example.com/g/2.mp3"],
        ),
    ],
)
def test_real_world_quirks_are_read_as_feedparser_reads_them(name, title, guids, monkeypatch):
    # feedparser guesses with chardet whenever some other package installed it (sqlfluff does),
    # and then reads a stray byte in UTF-8 as a whole legacy code page ("RÃ©sumÃ©s"); its own
    # reading, the oracle here, is UTF-8 with the stray byte replaced.
    monkeypatch.setattr(feedparser.encodings, "lazy_chardet_encoding", None)
    raw = quirk(name)
    feed = parse_feed(raw, "quirky", "https://example.com/feed.xml")
    assert feed.title == title
    assert [e.guid for e in feed.episodes] == guids
    theirs = feedparser.parse(raw)
    with_audio = [
        x
        for x in theirs.entries
        if any(link.get("rel") == "enclosure" for link in x.get("links", []))
    ]
    assert [e.title for e in feed.episodes] == [x.title for x in with_audio]
    assert [e.audio_url for e in feed.episodes] == [
        next(link.href for link in x.links if link.get("rel") == "enclosure") for x in with_audio
    ]


def test_undeclared_itunes_and_podcast_prefixes_keep_their_meaning():
    (ep,) = parse_feed(quirk("undeclared-itunes.xml"), "up", "https://example.com/f.xml").episodes
    assert ep.duration_s == 3723
    assert ep.author == "Ana Lima"
    assert {(p.name, p.role) for p in ep.persons} == {("Ana Lima", "host"), ("Ben Ito", "guest")}


def test_text_survives_its_encoding_quirks():
    for name in ("iso-8859-1-declared.xml", "iso-8859-1-undeclared.xml"):
        (ep,) = parse_feed(quirk(name), "cc", "https://example.com/f.xml").episodes
        assert ep.title == "Über München © 2026", name
    first, _ = parse_feed(quirk("invalid-utf8-byte.xml"), "ne", "https://e.com/f.xml").episodes
    assert first.title == "Résumés and rôles"  # the valid UTF-8 around the bad byte is kept
    assert first.description == "A café conversation."  # the stray byte read as Windows-1252
    (ep,) = parse_feed(
        quirk("html-entities-and-bare-ampersands.xml"), "mm", "https://e.com/f.xml"
    ).episodes
    assert ep.title == "Rates\xa0— what’s next"
    assert ep.audio_url == "https://cdn.example.com/mm-1.mp3?a=1&b=2"


def test_items_without_guids_and_without_audio():
    feed = parse_feed(quirk("no-guids.xml"), "g", "https://example.com/f.xml")
    assert {label: why for label, why, _ in feed.skipped} == {
        "Trailer without audio": "no audio enclosure"
    }


def test_a_feed_with_hundreds_of_items():
    feed = parse_feed(quirk("hundreds-of-items.xml"), "long", "https://example.com/f.xml")
    assert len(feed.episodes) == 400 and feed.skipped == []
    assert len({e.guid for e in feed.episodes}) == 400
    days = sorted(e.partition_date.isoformat() for e in feed.episodes)
    assert days[0] == "2025-10-15" and days[-1] == "2026-11-18"


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss version="2.0"><channel><title>&lol2;</title>'
    b"</channel></rss>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>&x;</title></channel></rss>'
)


@pytest.mark.parametrize(
    "raw",
    [
        b"\n\n" + LAUGHS,
        b"\xef\xbb\xbf " + EXTERNAL,
        # A bad byte and an undeclared prefix ahead of the DTD: the strict parser stops there,
        # before it sees the entities; the repaired copy must still be refused.
        LAUGHS.replace(b"<!DOCTYPE", b"<!-- caf\xe9 --><!DOCTYPE"),
        EXTERNAL.replace(b"<title>", b"<itunes:author>x</itunes:author><title>"),
        EXTERNAL.replace(b"<!DOCTYPE", b"<!-- \x0b --><!DOCTYPE"),
    ],
)
def test_hostile_xml_is_refused_behind_every_quirk(raw):
    with pytest.raises(FeedError, match="hostile XML"):
        parse_feed(raw, "bad-feed", "http://x/feed.xml")


@pytest.mark.parametrize(
    "raw",
    [
        b"<rss><channel><title>unclosed</channel></rss>",
        b"\n\n<html><body>Gone fishing",
        b"\xff\xfe\x00garbage",
    ],
)
def test_what_no_repair_makes_xml_is_still_not_xml(raw):
    with pytest.raises(FeedError, match="not XML"):
        parse_feed(raw, "bad-feed", "http://x/feed.xml")
