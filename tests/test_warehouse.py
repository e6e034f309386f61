"""Partition writes are idempotent, on DuckDB and on the real PostgreSQL."""

import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import date

import dagster as dg
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


def input_keys(wh):
    """A day written from inputs with a key is unchanged for that key only; the key of a
    table's days follows their content, not the act of writing them."""
    claim = {"claim_id": "a", "feed": "f", "episode_guid": "g", "text": "Rates rose.", "score": 1.0}
    empty = wh.versions([("claims", DAY, DAY)])
    wh.replace_partition("claims", DAY, [claim], inputs_key="k1")
    written = wh.versions([("claims", DAY, DAY)])
    assert written != empty
    assert wh.unchanged(["claims"], DAY, "k1")
    assert not wh.unchanged(["claims"], DAY, "k2")
    assert not wh.unchanged(["claims", "topics"], DAY, "k1")  # topics never written that day
    wh.replace_partition("claims", DAY, [claim], inputs_key="k2")  # same rows, other inputs
    assert wh.versions([("claims", DAY, DAY)]) == written
    assert not wh.unchanged(["claims"], DAY, "k1")
    wh.replace_partition("claims", DAY, [{**claim, "text": "Rates fell."}])
    assert wh.versions([("claims", DAY, DAY)]) not in (written, empty)
    assert not wh.unchanged(["claims"], DAY, "k2")  # written without a key: always made again
    # another day or another table leaves this span's key alone
    before = wh.versions([("claims", DAY, DAY)])
    wh.replace_partition("claims", date(2026, 11, 19), [claim])
    wh.replace_partition("topics", DAY, [{"topic_id": "t"}])
    assert wh.versions([("claims", DAY, DAY)]) == before


def test_duckdb_input_keys(tmp_path):
    input_keys(duckdb_wh(tmp_path))


@pytest.mark.postgres
def test_postgres_input_keys(postgres_wh):
    input_keys(postgres_wh)


def test_an_older_warehouse_gains_new_columns_and_keeps_its_rows(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE claims (partition_date DATE, claim_id TEXT, text TEXT)")
    con.execute("INSERT INTO claims VALUES ('2026-11-17', 'old', 'kept')")
    con.close()
    wh = DuckDBWarehouse(path=str(path))
    wh.replace_partition("claims", DAY, [{"claim_id": "new", "text": "x", "cites_source": True}])
    assert [r["claim_id"] for r in wh.rows("claims", date(2026, 11, 17), DAY)] == ["old", "new"]


def numpy_values(wh):
    """Whisper's and numpy's scalars are stored as numbers on every warehouse."""
    import numpy as np

    row = {"feed": "f", "episode_guid": "g", "segment_index": np.int64(0),
           "start_s": np.float64(1.235), "end_s": np.float32(2.5), "text": "x",
           "source": "whisper"}  # fmt: skip
    assert wh.replace_partition("transcript_segments", DAY, [row]) == 1
    (got,) = wh.rows("transcript_segments", DAY)
    assert (got["segment_index"], got["start_s"], got["end_s"]) == (0, 1.235, 2.5)
    assert wh.query(
        "SELECT COUNT(*) AS n FROM transcript_segments WHERE start_s > ?", [np.float64(1.0)]
    ) == [{"n": 1}]


def test_duckdb_takes_numpy_values(tmp_path):
    numpy_values(duckdb_wh(tmp_path))


@pytest.mark.postgres
def test_postgres_takes_numpy_values(postgres_wh):
    numpy_values(postgres_wh)


# ---- one writer at a time --------------------------------------------------------------


def hold_lock(path, seconds: float, after: threading.Event | None = None) -> subprocess.Popen:
    """Another process that opens the DuckDB file (taking its lock) and keeps it `seconds`
    after `after` is set (at once without one): long enough for a writer to meet it."""
    script = textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        sys.stdin.readline()
        con.close()
    """)
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"

    def release():
        if after is not None:
            after.wait(120)
        time.sleep(seconds)
        holder.stdin.write("release\n")
        holder.stdin.flush()

    threading.Thread(target=release, daemon=True).start()
    return holder


def waited_seconds(messages: list[str]) -> float:
    (done,) = [m for m in messages if "got the lock after waiting" in m]
    return float(re.search(r"waiting ([0-9.]+) s", done)[1])


def test_a_second_writer_waits_for_the_lock_and_says_so(tmp_path, caplog):
    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path=str(path))
    wh.ensure_schema()
    holder = hold_lock(path, 2)
    try:
        with caplog.at_level(logging.INFO):
            wh.replace_partition("topics", DAY, [{"topic_id": "t1"}])
    finally:
        holder.wait(10)
    messages = [r.getMessage() for r in caplog.records]
    (start,) = [m for m in messages if "is locked by another writer" in m]
    assert f"held by PID {holder.pid} (" in start and "up to 120 s" in start
    assert 0.5 <= waited_seconds(messages) <= 10
    assert [r["topic_id"] for r in wh.rows("topics", DAY)] == ["t1"]


def test_inside_a_run_the_wait_is_in_the_runs_log(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path=str(path))
    wh.ensure_schema()

    writing = threading.Event()

    @dg.asset
    def claims(warehouse: DuckDBWarehouse) -> None:
        writing.set()
        warehouse.replace_partition("claims", DAY, [{"claim_id": "c1", "text": "x"}])

    holder = hold_lock(path, 2, after=writing)
    try:
        with dg.instance_for_test() as instance:
            result = dg.materialize([claims], resources={"warehouse": wh}, instance=instance)
            messages = [e.user_message for e in instance.all_logs(result.run_id)]
    finally:
        holder.wait(10)
    assert result.success
    assert any("is locked by another writer" in m for m in messages)
    assert waited_seconds(messages) >= 0.5


def test_a_writer_that_finds_no_lock_logs_nothing(tmp_path, caplog):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    with caplog.at_level(logging.INFO):
        wh.replace_partition("topics", DAY, [{"topic_id": "t1"}])
    assert not [r for r in caplog.records if "lock" in r.getMessage()]
