"""great-expectations suites on deliberately bad tables: each failure names the rows that broke
it by their ids, in plain JSON; the context is built once a process."""

import json
from datetime import date

import dagster as dg
import pytest

from dagster_project.assets.claims import claims_valid
from dagster_project.assets.common import DAILY
from dagster_project.lib import expectations
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse

DAY = "2026-11-18"


def claim(claim_id, **more):
    return {"claim_id": claim_id, "feed": "signal", "episode_guid": "sn/1", "text": "A claim.",
            "score": 0.5, "start_s": 1.0, "end_s": 2.0, **more}  # fmt: skip


BAD_CLAIMS = [
    claim("c1"),
    claim("c2", score=1.5),  # out of 0..1
    claim("c3", text=None),  # no text
    claim("c4", start_s=9.0, end_s=3.0),  # ends before it starts
    claim("c5"),
    claim("c5", episode_guid="sn/2"),  # the same id twice
]


def by_expectation(result: dict) -> dict[str, dict]:
    return {f["expectation"]: f for f in result["metadata"]["failed"]}


def test_a_bad_claims_table_names_the_offending_claims():
    result = expectations.validate_claims(BAD_CLAIMS)
    assert result["success"] is False
    json.dumps(result)  # plain JSON: no numpy scalars, no NaN
    failed = by_expectation(result)
    assert set(failed) == {
        "expect_column_values_to_be_unique",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
    between = failed["expect_column_values_to_be_between"]
    assert between["column"] == "score" and between["unexpected"] == 1
    assert between["rows"] == [
        {"claim_id": "c2", "feed": "signal", "episode_guid": "sn/1", "score": 1.5}
    ]
    assert [r["claim_id"] for r in failed["expect_column_values_to_not_be_null"]["rows"]] == ["c3"]
    (order,) = failed["expect_column_pair_values_a_to_be_greater_than_b"]["rows"]
    assert (order["claim_id"], order["start_s"], order["end_s"]) == ("c4", 9.0, 3.0)
    dupes = failed["expect_column_values_to_be_unique"]["rows"]
    assert sorted((r["claim_id"], r["episode_guid"]) for r in dupes) == [
        ("c5", "sn/1"),
        ("c5", "sn/2"),
    ]


def test_a_bad_segments_table_names_feed_episode_and_index():
    seg = {"feed": "signal", "episode_guid": "sn/1", "text": "Hello.", "start_s": 0.0, "end_s": 1.0}
    rows = [
        {**seg, "segment_index": 0},
        {**seg, "segment_index": 1, "start_s": -2.0},
        {**seg, "segment_index": 2, "text": None},
        {**seg, "segment_index": 2, "episode_guid": "sn/1"},  # the same segment twice
    ]
    result = expectations.validate_segments(rows)
    json.dumps(result)
    failed = by_expectation(result)
    (negative,) = failed["expect_column_values_to_be_between"]["rows"]
    assert negative == {"feed": "signal", "episode_guid": "sn/1", "segment_index": 1,
                        "start_s": -2.0}  # fmt: skip
    dupes = failed["expect_compound_columns_to_be_unique"]["rows"]
    assert {(r["episode_guid"], r["segment_index"]) for r in dupes} == {("sn/1", 2)}
    assert failed["expect_column_values_to_not_be_null"]["rows"][0]["segment_index"] == 2


def test_good_tables_pass():
    assert expectations.validate_claims([claim("c1"), claim("c2")])["success"] is True
    assert expectations.validate_claims([]) == {
        "success": True,
        "metadata": {"rows": 0, "expectations": 0, "failed": []},
    }


def test_the_context_is_built_once_a_process(monkeypatch):
    import great_expectations as gx

    monkeypatch.setattr(expectations, "_context", None)
    monkeypatch.setattr(expectations, "_batches", {})
    built = []
    real = gx.get_context
    monkeypatch.setattr(gx, "get_context", lambda **kw: built.append(kw) or real(**kw))
    segment = {"feed": "f", "episode_guid": "e", "segment_index": 0, "text": "x", "start_s": 0.0}
    for _ in range(3):
        expectations.validate_claims(BAD_CLAIMS)
        expectations.validate_segments([{**segment, "end_s": 1.0}])
    assert len(built) == 1
    assert built[0]["project_config"].analytics_enabled is False
    assert set(expectations._batches) == {"claims", "transcript_segments"}


def test_the_check_shows_the_offending_ids_in_the_ui(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_partition("claims", date.fromisoformat(DAY), BAD_CLAIMS)

    @dg.asset(name="claims", partitions_def=DAILY)
    def stored_claims() -> None:
        """The day's claims, already in the warehouse."""

    result = dg.materialize([stored_claims, claims_valid], partition_key=DAY,
                            resources={"warehouse": wh, "data_home": DataHome(
                                home=str(tmp_path / "data"),
                                feeds_file=str(tmp_path / "feeds.yaml"))})  # fmt: skip
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    failed = evaluation.metadata["failed"].value
    ids = {r["claim_id"] for f in failed for r in f["rows"]}
    assert ids == {"c2", "c3", "c4", "c5"}


@pytest.mark.parametrize("value, shown", [(float("nan"), None), ((1, 2.5), [1, 2.5]), ("x", "x")])
def test_plain_values(value, shown):
    assert expectations.plain(value) == shown
