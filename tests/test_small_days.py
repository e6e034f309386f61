"""Small days never crash: BERTopic with 0 to a handful of claims (real MiniLM embeddings)."""

from datetime import date

import dagster as dg
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


def day_of(wh, texts, shows):
    """Episodes and claims of one day, as the claims asset stores them."""
    wh.replace_partition(
        "episodes",
        DAY,
        [{"feed": f, "guid": f"{f}-1", "title": "Ep", "feed_title": f.upper(), "audio_url": None}
         for f in ("a", "b")],
    )  # fmt: skip
    wh.replace_partition(
        "claims",
        DAY,
        [
            {"claim_id": f"c{i}", "feed": f, "episode_guid": f"{f}-1", "start_s": 10.0 * i,
             "end_s": 10.0 * i + 5, "text": t, "score": 0.8, "entities": "[]"}
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
