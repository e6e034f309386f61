"""Partition writes are idempotent, on DuckDB and on the real PostgreSQL."""

import uuid
from datetime import date

import pytest

from dagster_project.resources.warehouse import DuckDBWarehouse, PostgresWarehouse

DAY = date(2026, 11, 18)


def duckdb_wh(tmp_path):
    return DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))


@pytest.fixture
def postgres_wh():
    psycopg2 = pytest.importorskip("psycopg2")
    url = "postgresql://postgres@127.0.0.1:5432/test"
    schema = f"t_{uuid.uuid4().hex[:8]}"
    wh = PostgresWarehouse(url=url, db_schema=schema)
    yield wh
    con = psycopg2.connect(url)
    con.autocommit = True
    con.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    con.close()


def exercise(wh):
    rows = [
        {"claim_id": "a", "feed": "f", "episode_guid": "g", "start_s": 1.0, "end_s": 2.0,
         "text": "x", "score": 0.5},
        {"claim_id": "b", "feed": "f", "episode_guid": "g", "start_s": 3.0, "end_s": 4.0,
         "text": "y", "score": 0.7},
    ]  # fmt: skip
    assert wh.replace_partition("claims", DAY, rows) == 2
    assert wh.replace_partition("claims", DAY, rows) == 2  # a rerun replaces, never appends
    wh.replace_partition("claims", date(2026, 11, 19), rows[:1])
    got = wh.rows("claims", DAY, order_by="claim_id")
    assert [r["claim_id"] for r in got] == ["a", "b"]
    assert got[0]["partition_date"] == DAY
    assert len(wh.rows("claims", DAY, date(2026, 11, 19))) == 3
    wh.replace_partition("failures", DAY, [{"stage": "feeds", "feed": "f", "error": "e"}],
                         where={"stage": "feeds"})  # fmt: skip
    wh.replace_partition("failures", DAY, [{"stage": "audio", "feed": "f", "error": "e"}],
                         where={"stage": "audio"})  # fmt: skip
    wh.replace_partition("failures", DAY, [], where={"stage": "feeds"})
    assert [r["stage"] for r in wh.rows("failures", DAY)] == ["audio"]


def test_duckdb_partitions(tmp_path):
    exercise(duckdb_wh(tmp_path))


@pytest.mark.postgres
def test_postgres_partitions(postgres_wh):
    exercise(postgres_wh)
