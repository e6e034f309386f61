"""The dbt marts, partition-true: a day's run builds that day's rows and nothing else.

No models here: synthetic rows go into the warehouse tables through the warehouse resource, then
the real `marts` asset runs dbt over them (DuckDB, and PostgreSQL where marked).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from dagster_project.assets.marts import build_marts
from dagster_project.lib import tuning
from dagster_project.resources.marts import DbtMarts
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse

MON, TUE, WED = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)
SHOWS = {"alpha": "Alpha Hour", "beta": "Beta Talk", "gamma": "Gamma Weekly"}
WORDS = {
    "t-ai": "open models",
    "t-rates": "interest rates",
    "t-china": "china chips",
    "t-sleep": "sleep",
}
# Each day: (show, theme, claims). Labels change from day to day, as the keywords do.
PLANS = {
    MON: [("alpha", "t-ai", 3), ("beta", "t-ai", 2), ("alpha", "t-rates", 1),
          ("gamma", "t-sleep", 2)],
    TUE: [("alpha", "t-china", 2), ("beta", "t-rates", 2), ("gamma", "t-ai", 1)],
    WED: [("beta", "t-china", 2), ("gamma", "t-china", 1), ("alpha", "t-ai", 1)],
}  # fmt: skip
MARTS = ["topic_days", "show_days", "show_topic_days"]  # keyed by day
SERVER = "postgresql://postgres@127.0.0.1:5432"


def day_label(topic: str, day: date) -> str:
    return f"{WORDS[topic]} {day.day}"


def seed_day(wh: Warehouse, day: date, plan: list[tuple[str, str, int]], featured_before=()):
    """Write one day's episodes, claims, topics, claim_topics and digest, as the stages do."""
    episodes, claims, claim_topics = {}, [], []
    for feed, topic, n in plan:
        for i in range(n):
            guid = f"{feed}-{day}-{i % 2}"
            episodes[(feed, guid)] = {
                "feed": feed,
                "guid": guid,
                "title": f"{SHOWS[feed]} {day} part {i % 2}",
                "published_at": datetime(day.year, day.month, day.day, 6),
                "audio_url": f"http://127.0.0.1/{guid}.mp3",
                "duration_s": 600.0,
                "feed_title": SHOWS[feed],
            }
            claim_id = f"{feed}-{topic}-{i}"
            claims.append(
                {
                    "claim_id": claim_id,
                    "feed": feed,
                    "episode_guid": guid,
                    "start_s": 10.0 * i,
                    "end_s": 10.0 * i + 8,
                    "text": f"{SHOWS[feed]} says {WORDS[topic]} matter, point {i}.",
                    "score": 0.5 + 0.1 * i,
                    "speaker": "Ann" if i == 0 else None,
                }
            )
            claim_topics.append(
                {"claim_id": claim_id, "topic_id": topic, "centrality": round(0.9 - 0.1 * i, 2)}
            )
    support = defaultdict(lambda: {"claims": 0, "shows": set(), "episodes": set()})
    for feed, topic, n in plan:
        support[topic]["claims"] += n
        support[topic]["shows"].add(feed)
        support[topic]["episodes"].update(f"{feed}-{day}-{i % 2}" for i in range(n))
    topics = [
        {
            "topic_id": t,
            "label": day_label(t, day),
            "keywords": json.dumps(WORDS[t].split()),
            "claims": s["claims"],
            "episodes": len(s["episodes"]),
            "podcasts": len(s["shows"]),
        }
        for t, s in support.items()
    ]
    ranked = sorted(topics, key=lambda r: (-r["podcasts"], -r["claims"], r["topic_id"]))
    insights = [
        {
            "rank": n,
            "topic_id": r["topic_id"],
            "topic_label": r["label"],
            "headline": f"Shows discussed {r['label']}.",
            "novelty": "recurring" if r["topic_id"] in featured_before else "new",
            "score": 1.0 / n,
        }
        for n, r in enumerate(ranked[: tuning.TOP_K], start=1)
    ]
    wh.replace_partition("episodes", day, list(episodes.values()))
    audio = [
        {"feed": f, "episode_guid": g, "audio_url": e["audio_url"], "audio_sha256": g,
         "audio_bytes": 1, "duration_s": e["duration_s"]}
        for (f, g), e in episodes.items()
    ]  # fmt: skip
    wh.replace_partition("episode_audio", day, audio)
    wh.replace_partition("claims", day, claims)
    wh.replace_partition("topics", day, topics)
    wh.replace_partition("claim_topics", day, claim_topics)
    wh.replace_partition("digest_insights", day, insights)


def seed_days(wh: Warehouse, days: list[date]) -> None:
    featured: set[str] = set()
    for day in days:
        seed_day(wh, day, PLANS[day], featured_before=set(featured))
        featured |= {r["topic_id"] for r in wh.rows("digest_insights", day)}


@pytest.fixture(scope="module")
def marts_asset() -> dg.AssetsDefinition:
    return build_marts()


@pytest.fixture
def run_day(marts_asset, tmp_path):
    def run(marts: DbtMarts, day: date, raise_on_error: bool = True, **config):
        if marts.postgres_url:
            wh = PostgresWarehouse(url=marts.postgres_url, db_schema=marts.postgres_schema)
        else:
            wh = DuckDBWarehouse(path=marts.duckdb_path)
        home = DataHome(home=str(tmp_path / "data"), feeds_file=str(tmp_path / "feeds.yaml"))
        return dg.materialize(
            [marts_asset],
            partition_key=day.isoformat(),
            resources={"dbt_marts": marts, "warehouse": wh, "data_home": home},
            run_config={"ops": {"marts": {"config": config}}} if config else None,
            raise_on_error=raise_on_error,
        )

    return run


def mart_rows(wh: Warehouse, table: str, day: date | None = None) -> list[dict]:
    where = " WHERE partition_date = ?" if day else ""
    rows = wh.query(f"SELECT * FROM {table}{where}", [day] if day else [])
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def snapshot(wh: Warehouse, day: date | None = None) -> dict[str, list[dict]]:
    return {t: mart_rows(wh, t, day) for t in MARTS}


def weekly(wh: Warehouse, feed: str, week_start: date) -> list[dict]:
    """Which topics did the show discuss that week: one query on one table."""
    return wh.query(
        "SELECT topic_id, topic_label, SUM(claims) AS claims, COUNT(*) AS days "
        "FROM show_topic_days WHERE feed = ? AND week_start = ? "
        "GROUP BY topic_id, topic_label ORDER BY topic_id",
        [feed, week_start],
    )


def expected_weekly(feed: str, days: list[date]) -> list[dict]:
    """The same answer worked out from the plans, with each theme's first-day label."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    first_day: dict[str, date] = {}
    for day in days:
        for show, topic, n in PLANS[day]:
            first_day.setdefault(topic, day)
            if show == feed:
                found[topic][0] += n
                found[topic][1] += 1
    return [
        {"topic_id": t, "topic_label": day_label(t, first_day[t]), "claims": c, "days": d}
        for t, (c, d) in sorted(found.items())
    ]


def wipe(wh: Warehouse, day: date) -> None:
    tables = ("episodes", "episode_audio", "claims", "topics", "claim_topics", "digest_insights")
    for table in tables:
        wh.replace_partition(table, day, [])


@pytest.fixture
def duck(tmp_path) -> tuple[Warehouse, DbtMarts]:
    path = str(tmp_path / "any-name.duckdb")  # dbt opens the file the warehouse writes
    return DuckDBWarehouse(path=path), DbtMarts(duckdb_path=path)


def test_each_day_builds_its_own_rows_and_nothing_else(duck, run_day):
    wh, marts = duck
    seed_days(wh, [MON, TUE, WED])
    run_day(marts, MON)
    assert {r["partition_date"] for r in mart_rows(wh, "topic_days")} == {MON}
    run_day(marts, TUE)
    run_day(marts, WED)

    # The show-by-topic-by-day mart answers the weekly question, with one label a theme.
    for feed in SHOWS:
        assert weekly(wh, feed, MON) == expected_weekly(feed, [MON, TUE, WED])
    labels = {r["topic_id"]: r["topic_label"] for r in mart_rows(wh, "dim_topics")}
    first_days = {t: day for day in reversed(PLANS) for _, t, _ in PLANS[day]}
    assert labels == {t: day_label(t, day) for t, day in first_days.items()}
    assert labels["t-china"] == "china chips 17"  # its first day's label, not Wednesday's

    # A rerun of an earlier day gives identical rows, everywhere; with nothing changed, it
    # reports the stored build (row counts, test results) without running dbt.
    first = {**snapshot(wh), "dim_topics": mart_rows(wh, "dim_topics")}
    again = run_day(marts, MON)
    assert {**snapshot(wh), "dim_topics": mart_rows(wh, "dim_topics")} == first
    counts = {
        m.asset_key.path[-1]: (m.metadata["dagster/row_count"].value, "unchanged" in m.metadata)
        for m in again.asset_materializations_for_node("marts")
    }
    assert counts["show_days"] == (len(mart_rows(wh, "show_days", MON)), True)
    assert counts["dim_topics"] == (len(first["dim_topics"]), True)
    replayed = again.get_asset_check_evaluations()
    assert len(replayed) > 30 and all(e.passed for e in replayed)
    assert {e.partition for e in replayed} == {MON.isoformat()}

    # Monday's inputs vanish and Tuesday's change: a Tuesday run rewrites Tuesday only (it
    # never even reads Monday), and its test results belong to Tuesday's partition.
    wipe(wh, MON)
    seed_day(wh, TUE, [("alpha", "t-sleep", 2)])
    result = run_day(marts, TUE)
    for day in (MON, WED):
        assert snapshot(wh, day) == {t: [r for r in first[t] if r["partition_date"] == day]
                                     for t in MARTS}  # fmt: skip
    tue = mart_rows(wh, "show_topic_days", TUE)
    assert [(r["feed"], r["topic_id"], r["claims"]) for r in tue] == [("alpha", "t-sleep", 2)]
    assert [r["feed"] for r in mart_rows(wh, "show_days", TUE)] == ["alpha"]
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 30 and all(e.passed for e in evaluations)
    assert {e.partition for e in evaluations} == {TUE.isoformat()}


@pytest.fixture
def proxy(recording_proxy, monkeypatch) -> list[str]:
    """Every HTTP(S) request of this process and its children goes to the recording proxy."""
    for name, value in recording_proxy.environ().items():
        monkeypatch.setenv(name, value)
    return recording_proxy.asked


def test_a_day_s_dbt_build_asks_nothing_of_the_network(duck, run_day, proxy):
    # Nothing may try the network at run time. dagster-dbt learns dbt's version by running
    # `dbt --version`, which asks PyPI for the latest release: not from this project's steps.
    wh, marts = duck
    seed_days(wh, [MON])
    assert run_day(marts, MON).success
    assert mart_rows(wh, "show_days", MON)
    assert proxy == []


def test_dbt_tests_fail_on_a_bad_day_and_only_on_it(duck, run_day):
    wh, marts = duck
    seed_days(wh, [MON, TUE])
    topics = wh.rows("topics", TUE)
    wh.replace_partition("topics", TUE, [*topics, topics[0]])  # a theme twice on one day
    insights = wh.rows("digest_insights", TUE)
    extra = [  # more insights than lib/tuning.py's TOP_K, ranked beyond it
        {**insights[0], "rank": tuning.TOP_K + n, "topic_id": f"t-extra-{n}"}
        for n in range(1, tuning.TOP_K + 1)
    ]
    insights = [{**r, "novelty": "trending"} for r in insights]  # not new, not recurring
    wh.replace_partition("digest_insights", TUE, [*insights, *extra])

    assert run_day(marts, MON).success  # Tuesday's faults are not Monday's
    result = run_day(marts, TUE, raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    failed = {e.check_name for e in evaluations if not e.passed}
    assert {
        "unique_combination_stg_topics_partition_date__topic_id",
        "within_top_k_stg_digest_insights_rank",
        "at_most_top_k_stg_digest_insights_partition_date",
        "relationships_on_stg_digest_insights_partition_date__topic_id__ref_stg_topics_",
    } <= failed
    assert any(n.startswith("accepted_values_stg_digest_insights_novelty") for n in failed)
    assert {e.partition for e in evaluations} == {TUE.isoformat()}
    assert marts.dbt_vars(None) == {"top_k": tuning.TOP_K}


def test_a_full_refresh_rebuilds_every_day_and_freshness_is_reported(duck, run_day):
    wh, marts = duck
    today = datetime.now(UTC).date()
    old = today - timedelta(days=10)
    seed_day(wh, old, PLANS[MON])
    seed_day(wh, today, PLANS[TUE])
    run_day(marts, old, full_refresh=True)  # any day: a full refresh rebuilds them all
    assert {r["partition_date"] for r in mart_rows(wh, "show_days")} == {old, today}

    # Freshness: the newest day of each table; today's rows pass, ten-day-old ones fail.
    wipe(wh, today)
    wh.replace_partition("episodes", today, wh.rows("episodes", old))
    wh.replace_partition("episode_audio", today, wh.rows("episode_audio", old))
    found = marts.run(["source", "freshness"])
    status = {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in found["results"]}
    assert status == {
        "episodes": "pass",
        "episode_audio": "pass",
        "claims": "error",
        "topics": "error",
        "claim_topics": "error",
        "digest_insights": "error",
    }


@pytest.mark.postgres
def test_on_the_postgres_warehouse(database, run_day):
    url = f"{SERVER}/{database}"
    wh = PostgresWarehouse(url=url, db_schema="podcast_insights")
    marts = DbtMarts(postgres_url=url, postgres_schema="podcast_insights")
    seed_days(wh, [MON, TUE])
    run_day(marts, MON)
    run_day(marts, TUE)
    assert weekly(wh, "beta", MON) == expected_weekly("beta", [MON, TUE])
    before = snapshot(wh, MON)
    wipe(wh, MON)
    seed_day(wh, TUE, [("alpha", "t-sleep", 2)])
    result = run_day(marts, TUE)
    assert snapshot(wh, MON) == before
    assert [r["topic_id"] for r in mart_rows(wh, "topic_days", TUE)] == ["t-sleep"]
    assert {e.partition for e in result.get_asset_check_evaluations()} == {TUE.isoformat()}
