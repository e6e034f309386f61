"""Each day's tables as Parquet under exports/<table>/partition_date=YYYY-MM-DD/: what an analyst
reads with DuckDB or pandas over the whole folder is what the warehouse holds, after reruns too."""

import threading
import time
import uuid
from datetime import date, datetime

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dagster_project.lib import exports
from dagster_project.lib.schema import TABLES
from dagster_project.resources.environment import warehouse_for
from dagster_project.resources.warehouse import DuckDBWarehouse, PostgresWarehouse

DAY1, DAY2 = date(2026, 11, 17), date(2026, 11, 18)


def claim(claim_id: str, text: str, score: float = 0.5, **more) -> dict:
    return {"claim_id": claim_id, "feed": "f", "episode_guid": "g", "start_s": 1.0,
            "end_s": 2.0, "text": text, "score": score, **more}  # fmt: skip


def read_folder(root, table: str) -> list[dict]:
    """The whole table as DuckDB reads the folder (hive partitioning), in a stable order."""
    con = duckdb.connect()
    try:
        got = con.execute(
            f"SELECT * FROM read_parquet('{root}/{table}/*/*.parquet', hive_partitioning = true) "
            "ORDER BY ALL"
        )
        names = [d[0] for d in got.description]
        return [dict(zip(names, row, strict=True)) for row in got.fetchall()]
    finally:
        con.close()


def exercise(wh, root):
    wh.replace_partition("claims", DAY1, [claim("a", "first"), claim("b", "second")])
    wh.replace_partition("claims", DAY2, [claim("c", "third", cites_source=True)])
    # A rerun of the first day with other rows: replaced, never appended.
    wh.replace_partition("claims", DAY1, [claim("a", "first, again", score=0.9)])

    rows = read_folder(root, "claims")
    assert [(r["partition_date"], r["claim_id"], r["text"]) for r in rows] == [
        (DAY1, "a", "first, again"),
        (DAY2, "c", "third"),
    ]
    assert rows[0]["score"] == 0.9 and rows[1]["cites_source"] is True
    # The exports hold what the warehouse holds, column for column.
    stored = {r["claim_id"]: r for r in wh.rows("claims", DAY1, DAY2)}
    for r in rows:
        assert r == stored[r["claim_id"]]

    # pandas over the same folder: one table, the day from the folder name.
    df = pd.read_parquet(root / "claims").sort_values("claim_id")
    assert list(df["claim_id"]) == ["a", "c"]
    assert [str(d) for d in df["partition_date"]] == ["2026-11-17", "2026-11-18"]

    # A write that replaces part of a day (failures of one stage) exports the whole day.
    wh.replace_partition("failures", DAY1, [{"stage": "feeds", "feed": "f", "error": "404"}],
                         where={"stage": "feeds"})  # fmt: skip
    wh.replace_partition("failures", DAY1, [{"stage": "audio", "feed": "f", "error": "empty"}],
                         where={"stage": "audio"})  # fmt: skip
    assert sorted(r["stage"] for r in read_folder(root, "failures")) == ["audio", "feeds"]

    # A day that now has no rows is an empty file with the table's schema, not a stale copy.
    wh.replace_partition("claims", DAY2, [])
    assert [r["claim_id"] for r in read_folder(root, "claims")] == ["a"]
    (file,) = exports.partition_dir(root, "claims", DAY2).glob(exports.FILE_GLOB)
    empty = pq.read_table(file)
    assert empty.num_rows == 0 and "claim_id" in empty.schema.names
    assert not list((root / exports.STAGING).iterdir())  # nothing left half-written


def test_duckdb_warehouse_exports_every_day(tmp_path):
    root = tmp_path / "exports"
    exercise(DuckDBWarehouse(path=str(tmp_path / "w.duckdb"), exports_dir=str(root)), root)


@pytest.mark.postgres
def test_postgres_warehouse_exports_every_day(tmp_path):
    psycopg2 = pytest.importorskip("psycopg2")
    url = "postgresql://postgres@127.0.0.1:5432/test"
    schema = f"t_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "exports"
    try:
        exercise(PostgresWarehouse(url=url, db_schema=schema, exports_dir=str(root)), root)
    finally:
        con = psycopg2.connect(url)
        con.autocommit = True
        con.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.close()


def test_the_data_folder_gets_exports_and_older_days_can_be_exported(tmp_path):
    from dagster_project.lib.settings import Settings

    settings = Settings.from_env({"PODCAST_INSIGHTS_HOME": str(tmp_path)})
    wh = warehouse_for(settings, {})
    assert wh.exports_dir == str(tmp_path / "exports")
    # A day stored before exports existed is exported on demand.
    plain = DuckDBWarehouse(path=wh.path)
    episode = {"feed": "f", "guid": "g", "title": "t", "published_at": datetime(2026, 11, 17, 9)}
    plain.replace_partition("episodes", DAY1, [episode])
    assert not (tmp_path / "exports").exists()
    wh.export_partition("episodes", DAY1)
    (row,) = read_folder(tmp_path / "exports", "episodes")
    assert (row["guid"], row["published_at"]) == ("g", datetime(2026, 11, 17, 9))


def test_every_table_has_a_parquet_schema():
    for table, cols in TABLES.items():
        schema = exports.arrow_schema(cols)
        assert schema.names == [c for c, _ in cols if c != "partition_date"], table


def test_a_failed_write_keeps_the_day_it_would_have_replaced(tmp_path):
    cols = TABLES["topics"]
    exports.write_partition(tmp_path, "topics", DAY1, cols, [{"topic_id": "t1", "claims": 3}])
    with pytest.raises((TypeError, ValueError)):
        exports.write_partition(tmp_path, "topics", DAY1, cols, [{"topic_id": "t2", "claims": "x"}])
    kept = pq.read_table(exports.partition_dir(tmp_path, "topics", DAY1)).to_pylist()
    assert [(r["topic_id"], r["claims"]) for r in kept] == [("t1", 3)]
    assert not list((tmp_path / exports.STAGING).iterdir())


def test_readers_see_the_old_day_or_the_new_one_never_a_mix(tmp_path):
    """A reader polling while a day is rewritten over and over finds one whole version each time.

    A query that planned on the file just replaced finds it gone (and can be run again); it
    never reads half a file, two versions at once, or a day missing.
    """
    cols = TABLES["topics"]
    versions = {"a": 3, "b": 5}

    def rows(v: str) -> list[dict]:
        return [{"topic_id": f"{v}{i}", "label": v} for i in range(versions[v])]

    exports.write_partition(tmp_path, "topics", DAY1, cols, rows("a"))
    done, enough = threading.Event(), threading.Event()

    def rewrite():
        # Until the reader has read enough whole versions (a busy machine may schedule it
        # rarely), with a cap in case it never does.
        i = 0
        while not enough.is_set() and i < 3000:
            exports.write_partition(tmp_path, "topics", DAY1, cols, rows("ab"[i % 2]))
            i += 1
            time.sleep(0.002)  # rewrites back to back, yet a reader's query can finish between
        done.set()

    writer = threading.Thread(target=rewrite)
    writer.start()
    seen, gone, reads = set(), 0, 0
    while not done.is_set():
        try:
            labels = [r["label"] for r in read_folder(tmp_path, "topics")]
        except duckdb.IOException as exc:
            assert "No such file" in str(exc) or "No files found" in str(exc), exc
            gone += 1
            continue
        assert labels, "the day was missing while it was being replaced"
        assert len(set(labels)) == 1 and len(labels) == versions[labels[0]], labels
        seen.add(labels[0])
        reads += 1
        if reads >= 20:
            enough.set()
    writer.join()
    assert seen  # the reader did read whole versions while the writer wrote
    print(f"reads: {reads}, {len(seen)} versions seen, {gone} planned on a replaced file")
