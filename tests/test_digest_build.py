"""The digest from plain rows: selection, headlines, citations, empty days, and the contract."""

import copy
import json
from datetime import date, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from dagster_project.lib import render, tuning
from dagster_project.lib.digest import Digest, best_claim, build_digest, problems
from dagster_project.lib.ranking import RankingRules

DAY = date(2026, 11, 18)
CITATION_KEYS = {
    "podcast",
    "podcast_title",
    "episode_guid",
    "episode_title",
    "speaker",
    "start_s",
    "end_s",
    "quote",
    "url",
}
INSIGHT_KEYS = {
    "rank",
    "headline",
    "summary",
    "topic_id",
    "topic_label",
    "keywords",
    "support",
    "novelty",
    "citations",
}


def claim(cid, feed, text=None, n=1, start_s=10.0, score=0.8, speaker=None, cites_source=False):
    """A `claims` row as the claims asset stores it."""
    text = text or f"Claim {cid} says something about {feed} that is worth citing."
    return {
        "partition_date": DAY,
        "claim_id": cid,
        "feed": feed,
        "episode_guid": f"{feed}/{n}",
        "start_s": start_s,
        "end_s": start_s + 4.5,
        "text": text,
        "score": score,
        "speaker": speaker,
        "raw_text": text,
        "entities": "[]",
        "cites_source": cites_source,
    }


def episode(feed, guid, audio_url="default", link=None):
    """An `episodes` row; the audio at a CDN unless told otherwise."""
    return {
        "partition_date": DAY,
        "feed": feed,
        "guid": guid,
        "title": f"Episode {guid}",
        "feed_title": feed.replace("-", " ").title(),
        "audio_url": f"https://cdn.example.org/{guid}.mp3" if audio_url == "default" else audio_url,
        "link": link,
    }


def axis(i: int, lean: float = 0.0) -> list[float]:
    """A unit centroid along axis i (leaning towards the next axis by `lean`)."""
    v = np.eye(12)[i] + lean * np.eye(12)[(i + 1) % 12]
    return (v / np.linalg.norm(v)).tolist()


def theme(tid, centroid, claims, centrality=0.8):
    """A topic row and its claims, each with its centrality (one value, or one per claim)."""
    cents = centrality if isinstance(centrality, list) else [centrality] * len(claims)
    topic = {
        "partition_date": DAY,
        "topic_id": tid,
        "label": f"{tid} / label",
        "keywords": json.dumps([tid, "label"]),
        "centroid": json.dumps(centroid),
    }
    return topic, list(zip(claims, cents, strict=True))


def shows(tid, i, *feeds, per_show=1):
    """A theme along axis i that each feed discusses `per_show` times."""
    claims = [
        claim(f"{tid}-{f}-{k}", f, start_s=10.0 * (k + 1)) for f in feeds for k in range(per_show)
    ]
    return theme(tid, axis(i), claims)


def build(*themes, earlier=(), top_k=tuning.TOP_K, episodes=None, day=DAY):
    """build_digest over the themes' rows, every episode they cite being the day's."""
    members = [(c, cent, t["topic_id"]) for t, ms in themes for c, cent in ms]
    if episodes is None:
        keys = sorted({(c["feed"], c["episode_guid"]) for c, _, _ in members})
        episodes = [episode(feed, guid) for feed, guid in keys]
    return build_digest(
        day,
        episodes=episodes,
        claims=[c for c, _, _ in members],
        claim_topics=[
            {"partition_date": day, "claim_id": c["claim_id"], "topic_id": tid, "centrality": x}
            for c, x, tid in members
        ],
        topics=[t for t, _ in themes],
        earlier=list(earlier),
        rules=RankingRules(top_k=top_k),
    )


# --- selection: the ranking decides -----------------------------------------------------------


def test_broader_themes_rank_first_with_their_support():
    digest, decisions = build(
        shows("solo", 0, "a", per_show=3),
        shows("wide", 1, "a", "b", "c"),
        shows("pair", 2, "b", "c"),
    )
    assert [i.topic_id for i in digest.insights] == ["wide", "pair", "solo"]
    assert [i.rank for i in digest.insights] == [1, 2, 3]
    assert [i.support.model_dump() for i in digest.insights] == [
        {"podcasts": 3, "episodes": 3, "claims": 3},
        {"podcasts": 2, "episodes": 2, "claims": 2},
        {"podcasts": 1, "episodes": 1, "claims": 3},
    ]
    assert [i.novelty for i in digest.insights] == ["new"] * 3
    assert digest.insights[0].summary == (
        "Discussed by 3 shows (A, B, C) in 3 episodes; new today."
    )
    assert digest.insights[2].summary.startswith("Discussed by one show (A) in 1 episode;")
    assert len(decisions) == 3 and all(d.rank for d in decisions)


@pytest.mark.parametrize("top_k", [1, 3, 5])
def test_at_most_top_k_insights_and_every_candidate_has_a_fate(top_k):
    themes = [shows(f"t{i}", i, f"show-{i}", f"other-{i}") for i in range(7)]
    digest, decisions = build(*themes, top_k=top_k)
    assert [i.rank for i in digest.insights] == list(range(1, top_k + 1))
    assert len(decisions) == 7
    left_out = [d for d in decisions if d.rank is None]
    assert len(left_out) == 7 - top_k
    assert all(d.reason == f"ranked below the top {top_k}" for d in left_out)


def test_two_topics_that_say_the_same_thing_make_one_insight():
    first = shows("first", 0, "a", "b", "c")
    again = theme("again", axis(0, lean=0.1), [claim("again-1", "d"), claim("again-2", "e")])
    digest, decisions = build(first, again, shows("other", 5, "a", "b"))
    assert [i.topic_id for i in digest.insights] == ["first", "other"]
    (dropped,) = [d for d in decisions if d.candidate.topic_id == "again"]
    assert dropped.rank is None and dropped.reason.startswith("says what rank 1 says")


def test_a_topic_is_judged_by_what_its_claims_of_the_day_say():
    # "part" is one claim of episode a/1, said inside the theme that "wide" cites there, that
    # clustered with an earlier day's theme (its window centroid along axis 7). By its own
    # words (the day's centroid) it is a split-off part of "wide", and waits behind "other", a
    # lone claim of another show that scores lower.
    wide = shows("wide", 0, "a", "b")
    part_topic, part_claims = theme("part", axis(7), [claim("part-1", "a", start_s=20.0)], 0.9)
    part_topic["day_centroid"] = json.dumps(axis(0, lean=1.5))
    other = theme("other", axis(3), [claim("other-1", "c", score=0.5)], 0.9)
    digest, decisions = build(wide, (part_topic, part_claims), other, top_k=2)
    assert [i.topic_id for i in digest.insights] == ["wide", "other"]
    (left,) = [d for d in decisions if d.candidate.topic_id == "part"]
    assert "likely part of rank 1" in left.reason
    # A topic stored before the day's centroid was kept is judged by its window centroid.
    del part_topic["day_centroid"]
    digest, _ = build(wide, (part_topic, part_claims), other, top_k=2)
    assert [i.topic_id for i in digest.insights] == ["wide", "part"]


def test_claims_of_episodes_the_day_does_not_have_are_left_out():
    wide = shows("wide", 0, "a", "b")
    stray = shows("stray", 1, "ghost")
    day_episodes = [episode("a", "a/1"), episode("b", "b/1")]
    digest, decisions = build(wide, stray, episodes=day_episodes)
    assert [i.topic_id for i in digest.insights] == ["wide"]
    assert [d.candidate.topic_id for d in decisions] == ["wide"]


@pytest.mark.parametrize("something_new", [False, True])
def test_a_topic_featured_before_is_recurring_and_last_unless_it_says_something_new(
    something_new,
):
    yesterday = DAY - timedelta(days=1)
    before, _ = build(shows("old", 0, "a", "b"), day=yesterday)
    earlier = [{**row, "partition_date": yesterday} for row in before.rows()]
    old = shows("old", 0, "a", "b")  # the same claims as yesterday's
    if something_new:
        news = [claim("n1", "a", "Rates fell again."), claim("n2", "b", "Banks lent less.")]
        old = theme("old", axis(0), news)
    digest, _ = build(old, shows("solo", 3, "c", per_show=2), earlier=earlier)
    by_topic = {i.topic_id: i for i in digest.insights}
    assert by_topic["old"].novelty == "recurring" and by_topic["solo"].novelty == "new"
    assert by_topic["old"].summary.endswith(f"recurring, last featured on {yesterday}.")
    # Two shows' theme outranks one show's, unless all it has is what was featured already.
    expected = ["old", "solo"] if something_new else ["solo", "old"]
    assert [i.topic_id for i in digest.insights] == expected


# --- headline: the most central clean claim, attributed only when the speaker is known -------


def rows_for_headline(specs):
    """Claims (id, centrality, score, words) as build_digest's members carry them."""
    return [
        {**claim(cid, "a", " ".join(["word"] * words) + "."), "score": score, "centrality": cent}
        for cid, cent, score, words in specs
    ]


@pytest.mark.parametrize(
    "specs, expected",
    [
        # one claim speaks for its topic
        ([("c1", 0.5, 0.1, 8)], "c1"),
        # a strong claim at the theme's edge never speaks for it: only the central half competes
        ([("c1", 0.9, 0.5, 8), ("c2", 0.8, 0.4, 8), ("edge", 0.5, 1.0, 8), ("far", 0.4, 1.0, 8)],
         "c1"),
        # among central claims, centrality and score together
        ([("c1", 0.9, 0.2, 8), ("c2", 0.85, 0.9, 8), ("c3", 0.1, 0.9, 8)], "c2"),
        # a run-on (a transcriber's missed full stop) loses to a clean sentence
        ([("run", 0.9, 0.8, tuning.RUN_ON_WORDS + 1), ("clean", 0.85, 0.7, 12),
          ("edge", 0.2, 0.2, 12)], "clean"),
    ],
)  # fmt: skip
def test_best_claim_is_the_most_central_clean_claim(specs, expected):
    assert best_claim(rows_for_headline(specs))["claim_id"] == expected


def test_the_headline_is_the_claim_the_transcriber_heard_clearly():
    """Two central claims of a theme: the one whose words Whisper was sure of speaks for it,
    though the other is a little more central and specific (a misheard headline reads as
    nonsense); where one claim's clarity is unknown, none is weighed by it."""
    rows = rows_for_headline(
        [("misheard", 0.9, 0.8, 12), ("clear", 0.85, 0.75, 12), ("edge", 0.3, 0.9, 12)]
    )
    misheard, clear, edge = rows
    edge["clarity"] = 0.99  # at the theme's edge: never its headline, however clear
    assert best_claim(rows)["claim_id"] == "misheard"  # no clarity stored: as before
    misheard["clarity"], clear["clarity"] = 0.45, 0.93
    assert best_claim(rows)["claim_id"] == "clear"
    misheard["clarity"], clear["clarity"] = 0.93, 0.9
    assert best_claim(rows)["claim_id"] == "misheard"  # both clear: the more central
    clear["clarity"] = None  # a publisher's transcript beside a Whisper one
    assert best_claim(rows)["claim_id"] == "misheard"


@pytest.mark.parametrize(
    "speaker, cites_source, text, expected",
    [
        ("Ann Lee", False, "The models are free for anyone to download.",
         "Ann Lee argues that the models are free for anyone to download."),
        (None, False, "the models are free for anyone to download",
         "The models are free for anyone to download."),
        # a claim that names its own source stays the source's
        ("Ann Lee", True, "Deposits fell sharply this year, according to the FDIC.",
         "Deposits fell sharply this year, according to the FDIC."),
        ("Ann Lee", False, "Figure says its robots work ten hour shifts",
         "Figure says its robots work ten hour shifts."),
    ],
)  # fmt: skip
def test_the_headline_is_attributed_only_when_the_speaker_is_known(
    speaker, cites_source, text, expected
):
    central = claim("c1", "a", text, speaker=speaker, cites_source=cites_source)
    other = claim("c2", "b", "Someone else said a different thing entirely.", speaker="Bo Chan")
    digest, _ = build(theme("t", axis(0), [central, other], centrality=[0.95, 0.3]))
    assert digest.insights[0].headline == expected


# --- citations ----------------------------------------------------------------------------------


def test_every_claim_is_cited_in_order_verbatim_with_only_the_contracts_fields():
    claims = [
        claim("c1", "b-show", "  the Fed, uh, cut rates  ", n=2, start_s=30.0),
        claim("c2", "a-show", "Rates fell a quarter point.", n=1, start_s=95.5, speaker="Ann"),
        claim("c3", "b-show", "Mortgages got cheaper.", n=1, start_s=12.0),
        claim("c4", "a-show", "Banks will lend more now.", n=1, start_s=7.25),
    ]
    digest, _ = build(theme("rates", axis(0), claims))
    (insight,) = digest.insights
    cited = [(c.podcast, c.episode_guid, c.start_s) for c in insight.citations]
    assert cited == sorted(cited) and len(cited) == 4
    by_quote = {c.quote: c for c in insight.citations}
    assert set(by_quote) == {c["text"] for c in claims}  # the claims' own words, untouched
    c2 = by_quote["Rates fell a quarter point."]
    assert (c2.speaker, c2.podcast_title, c2.episode_title) == ("Ann", "A Show", "Episode a-show/1")
    assert (c2.end_s, c2.url) == (100.0, "https://cdn.example.org/a-show/1.mp3#t=95")
    published = json.loads(render.to_json(digest))["insights"][0]
    assert set(published) == INSIGHT_KEYS  # the ranking score stays in the warehouse
    assert all(set(c) == CITATION_KEYS for c in published["citations"])


@pytest.mark.parametrize(
    "audio_url, link, start_s, url",
    [
        ("https://cdn.example.org/x.mp3", None, 75.9, "https://cdn.example.org/x.mp3#t=75"),
        ("https://cdn.example.org/x.mp3#t=3", None, 12.0, "https://cdn.example.org/x.mp3#t=12"),
        (None, "https://show.example.org/ep-1", 61.2, "https://show.example.org/ep-1#t=61"),
        (None, None, 5.0, None),
    ],
)
def test_a_citation_links_the_second_it_quotes(audio_url, link, start_s, url):
    t = theme("t", axis(0), [claim("c1", "a", start_s=start_s)])
    digest, _ = build(t, episodes=[episode("a", "a/1", audio_url=audio_url, link=link)])
    assert digest.insights[0].citations[0].url == url


# --- empty days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "episodes, note",
    [
        (0, "No new episodes were published on this day by the feeds followed."),
        (1, "1 new episode today, but none made a claim worth citing."),
        (3, "3 new episodes today, but none made a claim worth citing."),
    ],
)
def test_a_day_without_insights_says_why(episodes, note):
    eps = [episode("a", f"a/{n}") for n in range(episodes)]
    digest, decisions = build(episodes=eps)
    assert digest.insights == [] and decisions == []
    assert json.loads(render.to_json(digest)) == {
        "date": "2026-11-18",
        "note": note,
        "insights": [],
    }
    assert note in render.to_markdown(digest) and note in render.to_text(digest)


def test_a_day_with_insights_has_no_note():
    digest, _ = build(shows("t", 0, "a", "b"))
    assert "note" not in json.loads(render.to_json(digest))


# --- the contract: stored, published and read back through one model --------------------------


def test_rows_and_json_read_back_as_the_same_digest():
    digest, _ = build(shows("wide", 0, "a", "b", "c"), shows("solo", 1, "a", per_show=2))
    rows = [{**r, "partition_date": DAY} for r in digest.rows()]
    assert all(isinstance(r[k], str) for r in rows for k in ("citations", "keywords", "support"))
    assert [r["score"] for r in rows] == [i.score for i in digest.insights]
    assert Digest.from_rows(DAY, list(reversed(rows)), episodes=3) == digest
    published = Digest.model_validate_json(render.to_json(digest))
    assert published.model_dump() == digest.model_dump()
    assert problems(DAY, rows) == []


def valid() -> dict:
    """A digest of two insights, as the contract publishes it."""
    digest, _ = build(shows("wide", 0, "a", "b", "c"), shows("solo", 1, "a", per_show=2))
    return digest.model_dump(mode="json")


def cite(d):
    return d["insights"][0]["citations"][0]


MALFORMED = {
    "rank 0": lambda d: d["insights"][0].update(rank=0),
    "ranks out of order": lambda d: d["insights"].reverse(),
    "a rank skipped": lambda d: d["insights"][1].update(rank=3),
    "more than top_k": lambda d: d["insights"].extend(
        {**copy.deepcopy(d["insights"][0]), "rank": r, "topic_id": f"t{r}"} for r in range(3, 7)
    ),
    "an unknown novelty": lambda d: d["insights"][0].update(novelty="old"),
    "an empty headline": lambda d: d["insights"][0].update(headline=""),
    "no headline": lambda d: d["insights"][0].pop("headline"),
    "no citation": lambda d: d["insights"][0].update(citations=[]),
    "support of no show": lambda d: d["insights"][0]["support"].update(podcasts=0),
    "an empty quote": lambda d: cite(d).update(quote="  "),
    "an end before the start": lambda d: cite(d).update(end_s=cite(d)["start_s"] - 1),
    "a negative second": lambda d: cite(d).update(start_s=-1.0),
    "a link to another second": lambda d: cite(d).update(url=cite(d)["url"] + "0"),
    "an internal field": lambda d: cite(d).update(claim_id="c1"),
    "a date that is not one": lambda d: d.update(date="2026-13-01"),
}  # fmt: skip


@pytest.mark.parametrize("fault", MALFORMED)
def test_the_model_refuses_a_malformed_digest(fault):
    data = valid()
    Digest.model_validate(data)  # the untouched one is fine
    MALFORMED[fault](data)
    with pytest.raises(ValidationError):
        Digest.model_validate(data)
    with pytest.raises(ValidationError):
        Digest.model_validate_json(json.dumps(data))


def test_top_k_is_the_tuning_value_unless_the_validation_says_otherwise():
    data = valid()
    MALFORMED["more than top_k"](data)
    assert len(data["insights"]) == tuning.TOP_K + 1
    with pytest.raises(ValidationError, match=f"more than top_k \\({tuning.TOP_K}\\)"):
        Digest.model_validate(data)
    assert len(Digest.model_validate(data, context={"top_k": 6}).insights) == 6


def stored(data: dict) -> list[dict]:
    """The digest_insights rows of a digest's JSON, whatever it holds (nothing validated)."""
    nested = ("keywords", "support", "citations")
    return [
        {**i, **{k: json.dumps(i[k]) for k in nested}, "partition_date": DAY}
        for i in data["insights"]
    ]


@pytest.mark.parametrize(
    "fault, problem",
    [
        ("more than top_k", f"6 insights, more than top_k ({tuning.TOP_K})"),
        ("an end before the start", "insight 1: citations.0: Value error, ends at"),
        ("an unknown novelty", "insight 1: novelty: Input should be 'new' or 'recurring'"),
    ],
)
def test_the_checks_problems_name_what_is_wrong(fault, problem):
    data = valid()
    MALFORMED[fault](data)
    (found,) = problems(DAY, stored(data), top_k=tuning.TOP_K)
    assert found.startswith(problem) or problem in found


def test_the_checks_problems_include_two_insights_alike():
    data = valid()
    data["insights"][1].update(topic_id="wide", headline=data["insights"][0]["headline"].upper())
    assert problems(DAY, stored(data)) == [
        "two insights share a topic",
        "two insights share a headline",
    ]
