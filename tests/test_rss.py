import pytest

from dagster_project.lib.rss import FeedError, parse_duration, parse_feed

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
