import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import feedparser

from dagster_project.lib import render
from dagster_project.lib.digest import Digest, deep_link, headline, summary

DATA = {
    "date": "2026-11-18",
    "insights": [
        {
            "rank": 1,
            "headline": "China gives away <models>.",
            "summary": "Discussed by 2 shows (A, B) in 2 episodes; new today.",
            "topic_id": "t1",
            "topic_label": "china / open",
            "keywords": ["china"],
            "support": {"podcasts": 2, "episodes": 2, "claims": 2},
            "novelty": "new",
            "citations": [
                {
                    "podcast": "a-and-b",
                    "podcast_title": "A & B",
                    "episode_guid": "g",
                    "episode_title": "Ep",
                    "speaker": None,
                    "start_s": 75.2,
                    "end_s": 80.0,
                    "quote": "China gives away models.",
                    "url": "http://x/a.mp3#t=75",
                }
            ],
        }
    ],
}
DIGEST = Digest.model_validate(DATA)


def test_headline_attributes_and_keeps_names_capitalised():
    h = headline("So I think China gives models away", "Marc Andreessen", ["China"])
    assert h == "Marc Andreessen argues that China gives models away."
    h = headline("The models are free", "Ann Lee", [])
    assert h == "Ann Lee argues that the models are free."
    assert headline("The models are free", None, []) == "The models are free."
    # A claim that reports its own source is not put in the speaker's mouth.
    h = headline("Figure says its robots work ten hour shifts", "Dana Reyes", ["Figure"])
    assert h == "Figure says its robots work ten hour shifts."
    h = headline("The FDIC, which insures deposits, says banks fell", "Greg", [], True)
    assert h == "The FDIC, which insures deposits, says banks fell."


def test_deep_link():
    assert deep_link("http://x/a.mp3#old", 75.9) == "http://x/a.mp3#t=75"
    assert deep_link(None, 3) is None


def test_renderings_escape_and_carry_the_evidence():
    md = render.to_markdown(DIGEST)
    assert "1. **China gives away <models>.**" in md and "at 1:15" in md
    html = render.to_html(DIGEST)
    assert "&lt;models&gt;" in html and "A &amp; B" in html
    rss = ET.fromstring(
        render.to_rss(
            [DIGEST, DIGEST.model_copy(update={"date": date(2026, 11, 19)})],
            "https://example.org/d/",
        )
    )
    titles = [t.text for t in rss.iter("title")][1:]
    assert titles == ["Top insights for 2026-11-19", "Top insights for 2026-11-18"]


def test_summary_says_new_or_recurring():
    assert summary(["A"], 1, "new", None).endswith("new today.")
    assert "last featured on 2026-11-17" in summary(["A", "B"], 3, "recurring", "2026-11-17")


def many(n: int) -> Digest:
    """DIGEST with n citations on its insight, a minute apart."""
    base = DATA["insights"][0]["citations"][0]
    cites = [
        {**base, "quote": f"Quote {i + 1}.", "start_s": 60.0 * i, "end_s": 60.0 * i + 5,
         "url": f"http://x/a.mp3#t={60 * i}"}
        for i in range(n)
    ]  # fmt: skip
    return Digest.model_validate(
        {**DATA, "insights": [{**DATA["insights"][0], "citations": cites}]}
    )


def test_the_page_reads_on_a_phone_and_folds_citations_past_three():
    page = render.to_html(many(5))
    assert page.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style" not in page and 'style="' in page
    # Three citations shown; the other two folded under "+2 more" on the same, full page.
    shown, folded = page.split("<details", 1)
    assert [q for q in ("Quote 1.", "Quote 2.", "Quote 3.") if q in shown] == [
        "Quote 1.",
        "Quote 2.",
        "Quote 3.",
    ]
    assert "Quote 4." not in shown and "Quote 4." in folded and "Quote 5." in folded
    assert re.search(r"<summary[^>]*>\+2 more</summary>", folded)
    assert 'id="insight-1"' in page
    # Three or fewer: nothing folded.
    assert "<details" not in render.to_html(many(3)) and "more</" not in render.to_html(many(3))


def test_the_plain_text_is_text_not_markdown():
    text = render.to_text(many(4), page_url="https://example.org/d/2026-11-18.html")
    assert text.startswith("Top insights for 2026-11-18\n")
    assert "**" not in text and "](" not in text and "&" not in text.replace("A & B", "")
    assert "1. China gives away <models>." in text
    assert 'A & B, "Ep" at 0:00' in text and "http://x/a.mp3#t=60" in text
    assert "Quote 3." in text and "Quote 4." not in text
    assert "+1 more: https://example.org/d/2026-11-18.html#insight-1" in text
    assert max(len(line) for line in text.splitlines() if "http" not in line) <= 78
    empty = render.to_text(Digest(date=date(2026, 11, 18), note="No new episodes."))
    assert "No new episodes." in empty


def test_the_email_html_links_the_rest_to_the_page():
    html = render.to_email_html(many(6), page_url="file:///data/digests/2026-11-18.html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "Quote 3." in html and "Quote 4." not in html
    assert re.search(
        r'<a href="file:///data/digests/2026-11-18.html#insight-1"[^>]*>\+3 more</a>', html
    )
    assert "<details" not in html  # mail clients do not open them


def test_rss_items_are_fragments_linked_to_their_pages_and_empty_days_are_left_out():
    digests = [
        many(4),
        Digest(date=date(2026, 11, 17), note="No new episodes."),
        DIGEST.model_copy(update={"date": date(2026, 11, 16)}),
    ]
    built = datetime(2026, 11, 19, 6, 30, tzinfo=UTC)
    xml = render.to_rss(digests, "https://example.org/d", built=built)
    feed = feedparser.parse(xml)
    assert not feed.bozo
    assert feed.feed.link == "https://example.org/d/"
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [
        "https://example.org/d/feed.xml"
    ]
    assert feed.feed.updated_parsed[:5] == (2026, 11, 19, 6, 30)
    assert [e.link for e in feed.entries] == [
        "https://example.org/d/2026-11-18.html",
        "https://example.org/d/2026-11-16.html",
    ]
    first = feed.entries[0].summary
    assert first.startswith("<ol") and "<body" not in first and "<head" not in first
    assert "+1 more" in first and "Quote 4." not in first
    # An explicit feed URL (where feed.xml is served) wins over the site's.
    xml = render.to_rss(digests, "https://example.org/d/", feed_url="https://cdn.example.org/f.xml")
    assert 'href="https://cdn.example.org/f.xml" rel="self"' in xml


def test_the_three_citations_shown_span_the_shows():
    cites = [
        DIGEST.insights[0]
        .citations[0]
        .model_copy(update={"podcast": show, "quote": f"Quote {i + 1}."})
        for i, show in enumerate(["a", "a", "a", "b", "a", "c", "b"])
    ]
    shown, rest = render.shown_citations(cites)
    assert [c.quote for c in shown] == ["Quote 1.", "Quote 4.", "Quote 6."]
    assert [c.quote for c in rest] == ["Quote 2.", "Quote 3.", "Quote 5.", "Quote 7."]
    one_show = cites[:3] + cites[4:5]
    assert [c.quote for c in render.shown_citations(one_show)[0]] == [
        "Quote 1.",
        "Quote 2.",
        "Quote 3.",
    ]
    insight = DIGEST.insights[0].model_copy(update={"citations": cites})
    digest = DIGEST.model_copy(update={"insights": [insight]})
    text = render.to_text(digest, page_url="https://e.org/p.html")
    assert "Quote 6." in text and "Quote 2." not in text and "+4 more" in text
