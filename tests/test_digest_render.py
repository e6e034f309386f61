import xml.etree.ElementTree as ET

from dagster_project.lib import digest as render

DIGEST = {
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


def test_headline_attributes_and_keeps_names_capitalised():
    h = render.headline("So I think China gives models away", "Marc Andreessen", ["China"])
    assert h == "Marc Andreessen argues that China gives models away."
    h = render.headline("The models are free", "Ann Lee", [])
    assert h == "Ann Lee argues that the models are free."
    assert render.headline("The models are free", None, []) == "The models are free."
    # A claim that reports its own source is not put in the speaker's mouth.
    h = render.headline("Figure says its robots work ten hour shifts", "Dana Reyes", ["Figure"])
    assert h == "Figure says its robots work ten hour shifts."
    h = render.headline("The FDIC, which insures deposits, says banks fell", "Greg", [], True)
    assert h == "The FDIC, which insures deposits, says banks fell."


def test_deep_link():
    assert render.deep_link("http://x/a.mp3#old", 75.9) == "http://x/a.mp3#t=75"
    assert render.deep_link(None, 3) is None


def test_renderings_escape_and_carry_the_evidence():
    md = render.to_markdown(DIGEST)
    assert "1. **China gives away <models>.**" in md and "at 1:15" in md
    html = render.to_html(DIGEST)
    assert "&lt;models&gt;" in html and "A &amp; B" in html
    rss = ET.fromstring(render.to_rss([DIGEST, {**DIGEST, "date": "2026-11-19"}]))
    titles = [t.text for t in rss.iter("title")][1:]
    assert titles == ["Top insights for 2026-11-19", "Top insights for 2026-11-18"]


def test_summary_says_new_or_recurring():
    assert render.summary(["A"], 1, "new", None).endswith("new today.")
    assert "last featured on 2026-11-17" in render.summary(["A", "B"], 3, "recurring", "2026-11-17")
