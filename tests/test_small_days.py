"""Small days never crash: BERTopic with 0 to a handful of claims (real MiniLM embeddings)."""

import json
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pytest

from dagster_project.assets.digest import daily_digest, load_digest
from dagster_project.assets.topics import topics
from dagster_project.lib.render import to_markdown
from dagster_project.resources.models import TopicModeler
from dagster_project.resources.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 18)
TEXTS = [
    "China releases open-weight AI models to undercut American labs.",
    "Chinese labs give away strong AI models as a loss leader.",
    "Free Chinese AI models make it hard for US firms to charge for theirs.",
    "The Federal Reserve cut interest rates by a quarter point.",
    "Mortgage rates fell to six percent after the Fed cut rates.",
]


@pytest.fixture(scope="module")
def modeler():
    return TopicModeler()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_cluster_handles_tiny_inputs(modeler, n):
    texts = TEXTS[:n]
    labels, keywords = modeler.cluster(texts, modeler.embed(texts))
    assert len(labels) == n
    assert set(keywords) == set(labels.tolist()) - {-1}


def test_stop_words_only_give_no_topic_instead_of_a_crash(modeler):
    texts = ["It is what it is.", "It was, it is.", "This is it.", "Is it this?", "It is."]
    labels, keywords = modeler.cluster(texts, modeler.embed(texts))
    assert len(labels) == 5 and keywords == {}


def day_of(wh, texts, shows, day=DAY):
    """Episodes and claims of one day, as the claims asset stores them."""
    wh.replace_partition(
        "episodes",
        day,
        [{"feed": f, "guid": f"{f}-1", "title": "Ep", "feed_title": f.upper(), "audio_url": None}
         for f in ("a", "b")],
    )  # fmt: skip
    wh.replace_partition(
        "claims",
        day,
        [
            {"claim_id": f"c{day.day}-{i}", "feed": f, "episode_guid": f"{f}-1",
             "start_s": 10.0 * i, "end_s": 10.0 * i + 5, "text": t, "score": 0.8,
             "entities": "[]"}
            for i, (f, t) in enumerate(zip(shows, texts, strict=True))
        ],
    )  # fmt: skip


def run_day(wh, modeler):
    result = dg.materialize(
        [topics, daily_digest],
        partition_key=DAY.isoformat(),
        resources={"warehouse": wh, "topic_model": modeler},
    )
    assert result.success
    return load_digest(wh, DAY)


def test_five_claims_from_two_shows_make_two_insights_of_two_shows(tmp_path, modeler):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    day_of(wh, TEXTS, ["a", "b", "a", "b", "a"])
    digest = run_day(wh, modeler)
    assert [i.support.podcasts for i in digest.insights] == [2, 2]
    assert all(i.headline for i in digest.insights)


@pytest.mark.parametrize("n", [1, 2])
def test_a_day_with_a_claim_is_never_empty(tmp_path, modeler, n):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    day_of(wh, [TEXTS[0], TEXTS[3]][:n], ["a", "b"][:n])
    digest = run_day(wh, modeler)
    assert len(digest.insights) == n
    assert "one show" in digest.insights[0].summary


def test_a_day_without_episodes_says_so(tmp_path, modeler):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    digest = run_day(wh, modeler)
    assert digest.insights == [] and "No new episodes" in (digest.note or "")
    assert "No new episodes" in to_markdown(digest)


def test_a_topic_keeps_what_the_days_own_claims_say(tmp_path, modeler):
    # Yesterday two shows discussed China's free models; today one claim of it, beside the
    # Fed's rate cut. Today's claim joins yesterday's theme (its centroid is the window's), and
    # the topic also keeps the centre of the day's claims alone, which the digest ranks by.
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    day_of(wh, TEXTS[:3], ["a", "b", "a"], day=DAY - timedelta(days=1))
    day_of(wh, [TEXTS[0], TEXTS[3], TEXTS[4]], ["b", "a", "b"])
    run_day(wh, modeler)
    rows = {r["topic_id"]: r for r in wh.rows("topics", DAY, DAY)}
    links = {r["claim_id"]: r["topic_id"] for r in wh.rows("claim_topics", DAY, DAY)}
    models = rows[links[f"c{DAY.day}-0"]]
    assert models["claims"] == 1 and models["window_claims"] == 4
    (alone,) = modeler.embed([TEXTS[0]])
    day_centroid = np.asarray(json.loads(models["day_centroid"]))
    centroid = np.asarray(json.loads(models["centroid"]))
    assert float(day_centroid @ alone) == pytest.approx(1.0, abs=1e-4)
    assert float(centroid @ alone) < 0.99
    rates = rows[links[f"c{DAY.day}-1"]]
    assert rates["claims"] == 2 and rates["day_centroid"] == rates["centroid"]
