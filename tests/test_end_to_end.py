"""The demo day end to end: real HTTP, Whisper, spaCy, MiniLM and BERTopic, through the real
Definitions. Ground truth comes from demo/shows/manifest.json (which the pipeline never reads)."""

import json
from datetime import date

import dagster as dg
import pytest

from dagster_project.lib.claims import is_verbatim
from tests.conftest import DEMO_SHOWS

pytestmark = pytest.mark.slow
DAY = "2026-11-18"
MAIN_THEME = "china-open-ai"


def theme_of(citation: dict, manifest: dict) -> str | None:
    """The label of the script line the citation's seconds overlap most."""
    ep = manifest[citation["episode_guid"]]
    best, overlap = None, 0.0
    for line in ep["lines"]:
        o = min(line["end_s"], citation["end_s"]) - max(line["start_s"], citation["start_s"])
        if o > overlap:
            best, overlap = line["label"], o
    return best


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from tests.conftest import RecordingProxy, Server, demo_feeds

    tmp = tmp_path_factory.mktemp("e2e")
    server = Server(DEMO_SHOWS)
    feeds = demo_feeds(server.url, tmp / "feeds.yaml")
    mp = pytest.MonkeyPatch()
    mp.setenv("PODCAST_INSIGHTS_FEEDS", str(feeds))
    mp.setenv("PODCAST_INSIGHTS_HOME", str(tmp / "data"))
    mp.delenv("PODCAST_INSIGHTS_WAREHOUSE_URL", raising=False)
    proxy = RecordingProxy()  # HTTP(S) for any host but this machine's goes there, and stops
    for name, value in proxy.environ(no_proxy="127.0.0.1,localhost").items():
        mp.setenv(name, value)
    from dagster_project.definitions import defs

    definitions = defs()
    job = definitions.resolve_job_def("daily_insights")
    instance = dg.DagsterInstance.ephemeral()
    first = job.execute_in_process(partition_key=DAY, instance=instance)
    first_digest = (tmp / "data" / "digests" / f"{DAY}.json").read_text()
    second = job.execute_in_process(partition_key=DAY, instance=instance)
    manifest = {
        e["guid"]: e for e in json.loads((DEMO_SHOWS / "manifest.json").read_text())["episodes"]
    }
    yield {
        "first": first,
        "second": second,
        "first_digest": json.loads(first_digest),
        "home": tmp / "data",
        "warehouse": definitions.resources["warehouse"],
        "manifest": manifest,
        "server": server,
        "feeds": str(feeds),
        "proxy": proxy,
    }
    mp.undo()
    server.close()
    proxy.close()


def digest(run) -> dict:
    return json.loads((run["home"] / "digests" / f"{DAY}.json").read_text())


def test_the_run_succeeds_with_checks_passing(demo_run):
    for result in (demo_run["first"], demo_run["second"]):
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert evaluations and all(e.passed for e in evaluations), [
            (e.check_name, e.metadata) for e in evaluations if not e.passed
        ]


def test_the_day_and_its_rerun_ask_nothing_of_the_network(demo_run):
    # Feeds and audio come from the test's server on 127.0.0.1; models ship in packages.
    assert demo_run["proxy"].asked == []


def test_only_the_days_episodes(demo_run):
    eps = demo_run["warehouse"].rows("episodes", date.fromisoformat(DAY))
    expected = {g for g, e in demo_run["manifest"].items() if e["published"].startswith(DAY)}
    assert {e["guid"] for e in eps} == expected


def majority_theme(insight: dict, manifest: dict) -> str:
    labels = [theme_of(c, manifest) for c in insight["citations"]]
    return max(sorted(set(labels), key=str), key=labels.count)


def test_the_seed_theme_is_one_insight_citing_several_shows(demo_run):
    d = digest(demo_run)
    main = [i for i in d["insights"] if majority_theme(i, demo_run["manifest"]) == MAIN_THEME]
    assert len(main) == 1, [i["headline"] for i in main]
    (insight,) = main
    assert insight["support"]["podcasts"] >= 3
    assert len({c["podcast"] for c in insight["citations"]}) >= 3
    assert len(insight["citations"]) >= 6


def test_other_themes_fill_the_digest(demo_run):
    d = digest(demo_run)
    assert 4 <= len(d["insights"]) <= 5
    assert len({i["topic_id"] for i in d["insights"]}) == len(d["insights"])
    majority = [majority_theme(i, demo_run["manifest"]) for i in d["insights"]]
    assert len(set(majority)) == len(majority)  # no two insights about the same theme
    assert not {"intro", "outro", "sponsor", "banter", "noise", "question"} & set(majority)
    # Citations are evidence of their insight's theme, seed theme included.
    cited = [
        theme_of(c, demo_run["manifest"]) == theme
        for i, theme in zip(d["insights"], majority, strict=True)
        for c in i["citations"]
    ]
    assert sum(cited) / len(cited) >= 0.95


def test_every_citation_is_inside_its_episode_and_quoted_from_its_transcript(demo_run):
    wh = demo_run["warehouse"]
    segments = wh.rows("transcript_segments", date.fromisoformat(DAY))
    text = {}
    for s in sorted(segments, key=lambda s: s["segment_index"]):
        text[s["episode_guid"]] = text.get(s["episode_guid"], "") + " " + s["text"]
    for insight in digest(demo_run)["insights"]:
        for c in insight["citations"]:
            duration = demo_run["manifest"][c["episode_guid"]]["duration_s"]
            assert 0 <= c["start_s"] < c["end_s"] <= duration + 0.5
            assert is_verbatim(c["quote"], text[c["episode_guid"]]), c["quote"]
            assert c["url"].endswith(f"#t={int(c['start_s'])}")


def test_a_speaker_named_by_the_feed_transcript_is_cited(demo_run):
    speakers = {c["speaker"] for i in digest(demo_run)["insights"] for c in i["citations"]}
    assert "Marc Andreessen" in speakers


def test_the_rerun_reuses_audio_and_transcripts_and_gives_the_same_digest(demo_run):
    first = demo_run["first"].asset_materializations_for_node("transcripts")[0].metadata
    second = demo_run["second"].asset_materializations_for_node("transcripts")[0].metadata
    assert first["transcribed"].value >= 6 and first["cached"].value == 0
    assert second["transcribed"].value == 0
    assert second["cached"].value == first["transcribed"].value
    audio = demo_run["second"].asset_materializations_for_node("episode_audio")[0].metadata
    assert audio["downloaded"].value == 0 and audio["cached"].value >= 8
    assert digest(demo_run) == demo_run["first_digest"]


def test_the_rerun_does_no_model_work_and_skips_dbt(demo_run):
    """Inputs, settings and code unchanged: the model stages and dbt report their stored
    results (same row counts and data versions) instead of working again."""
    for node in ("voices", "claims", "topics"):
        first = demo_run["first"].asset_materializations_for_node(node)[0]
        second = demo_run["second"].asset_materializations_for_node(node)[0]
        assert "unchanged" not in first.metadata, node
        assert second.metadata["unchanged"].value is True, node
        assert second.metadata["dagster/row_count"] == first.metadata["dagster/row_count"], node
        assert second.tags["dagster/data_version"] == first.tags["dagster/data_version"], node
    marts = demo_run["second"].asset_materializations_for_node("marts")
    assert marts and all(m.metadata["unchanged"].value is True for m in marts)
    first_marts = {
        m.asset_key: m.metadata["dagster/row_count"]
        for m in demo_run["first"].asset_materializations_for_node("marts")
    }
    assert {m.asset_key: m.metadata["dagster/row_count"] for m in marts} == first_marts
    assert first_marts[dg.AssetKey("show_days")].value > 0
    checks = demo_run["second"].get_asset_check_evaluations()
    assert {e.check_name for e in checks} >= {"unique_stg_claims_claim_key"}


def test_the_dbt_marts_are_built_with_their_tests(demo_run):
    wh = demo_run["warehouse"]
    featured = wh.query(
        "SELECT COUNT(*) AS n FROM topic_days WHERE partition_date = ? AND featured", [DAY]
    )
    assert featured[0]["n"] == len(digest(demo_run)["insights"])
    shows = wh.query("SELECT feed, episodes FROM show_days WHERE partition_date = ?", [DAY])
    assert sum(r["episodes"] for r in shows) == 8
    checks = {e.check_name for e in demo_run["first"].get_asset_check_evaluations()}
    assert "unique_stg_claims_claim_key" in checks  # dbt tests run as asset checks


RERUN = """
import json, sys
import dagster as dg
from dagster_project.definitions import defs
result = defs().resolve_job_def("daily_insights").execute_in_process(
    partition_key=sys.argv[1], instance=dg.DagsterInstance.ephemeral()
)
heavy = ["torch", "spacy", "faster_whisper", "bertopic", "sentence_transformers", "resemblyzer"]
print(json.dumps({"success": result.success, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_a_rerun_in_a_new_process_imports_no_model(demo_run):
    """The scheduled rerun of a finished day, as its own process: no model library is even
    imported, and the digest stays the same."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PODCAST_INSIGHTS_HOME": str(demo_run["home"])}
    env["PODCAST_INSIGHTS_FEEDS"] = demo_run["feeds"]
    out = subprocess.run(
        [sys.executable, "-c", RERUN, DAY], env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"success": True, "loaded": []}
    assert digest(demo_run) == demo_run["first_digest"]


def _spoken_by(manifest_episode: dict, start_s: float, end_s: float) -> str | None:
    best, overlap = None, 0.0
    for line in manifest_episode["lines"]:
        o = min(line["end_s"], end_s) - max(line["start_s"], start_s)
        if o > overlap:
            best, overlap = line["speaker_name"], o
    return best


def test_voices_split_two_speaker_episodes_and_names_are_never_wrong(demo_run):
    wh, manifest = demo_run["warehouse"], demo_run["manifest"]
    day = date.fromisoformat(DAY)
    voices: dict[str, set] = {}
    for r in wh.rows("segment_voices", day):
        voices.setdefault(r["episode_guid"], set()).add(r["voice"])
    two_voiced = [
        g
        for g in voices
        if len({line["speaker_name"] for line in manifest[g]["lines"]}) == 2
        and manifest[g]["partition_date"] == DAY
    ]
    assert two_voiced, "no whisper-transcribed episode with two speakers on the demo day"
    assert all(len(voices[g] - {None}) >= 2 for g in two_voiced), voices
    claims = wh.rows("claims", day)
    by_voice = [c for c in claims if c["speaker"] and c["voice"]]
    assert by_voice, "no claim named through its voice"
    wrong = [
        (c["speaker"], c["text"])
        for c in claims
        if c["speaker"]
        and c["speaker"] != _spoken_by(manifest[c["episode_guid"]], c["start_s"], c["end_s"])
    ]
    assert not wrong


def test_claims_say_how_surely_whisper_heard_them(demo_run):
    """A claim Whisper transcribed carries its clarity (the geometric mean of its words'
    probabilities, which the headline weighs); a claim from a published transcript has none."""
    wh = demo_run["warehouse"]
    day = date.fromisoformat(DAY)
    source = {
        (r["feed"], r["episode_guid"]): r["source"] for r in wh.rows("transcript_segments", day)
    }
    claims = wh.rows("claims", day)
    heard = [c["clarity"] for c in claims if source[(c["feed"], c["episode_guid"])] == "whisper"]
    published = [c["clarity"] for c in claims if source[(c["feed"], c["episode_guid"])] == "feed"]
    assert heard and published, "the demo day has Whisper's and a publisher's transcripts"
    assert all(c is not None and 0 < c <= 1 for c in heard), heard
    assert len(set(heard)) > len(heard) // 2  # a sentence's own figure, not one per episode
    assert published == [None] * len(published)
