"""The analysts' warehouse: DuckDB by default, PostgreSQL in production, one interface."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlparse

import dagster as dg
from pydantic import PrivateAttr

from dagster_project.lib import exports
from dagster_project.lib.content_key import content_key, rows_hash
from dagster_project.lib.schema import (
    TABLES,
    add_column_statements,
    columns,
    create_statements,
)
from dagster_project.resources.secrets import resolved


def plain(value: Any) -> Any:
    """A value as the database drivers take it: numpy scalars become Python ones.

    faster-whisper and numpy hand out `np.float64`; psycopg2 writes those as the SQL text
    `np.float64(1.2)`, which PostgreSQL reads as a function in schema "np".
    """
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return item()
    return value


# Bookkeeping tables: a step's record of its own run (timestamps, errors), not the data it made.
NOT_DATA = {"failures", "deliveries", "table_versions"}
# (run, asset) -> the data version of what the step of a stage that reads its own earlier days
# wrote, for its result to carry (own_days_version).
_OWN_DAYS_VERSIONS: dict[tuple[str, dg.AssetKey], dg.DataVersion] = {}


def own_days_version(context: dg.AssetExecutionContext) -> dg.DataVersion | None:
    """The data version of the rows this step wrote, for a stage that reads its own earlier
    days (None for any other: its version was set as it wrote)."""
    return _OWN_DAYS_VERSIONS.pop((context.run.run_id, context.asset_key), None)


class WarehouseUnavailable(Exception):
    """The warehouse stayed locked by another writer, or could not be reached: a passing fault."""


class Warehouse(dg.ConfigurableResource):
    """Tables partitioned by day; every write replaces one partition's rows in one transaction.

    With `exports_dir` set, every write also replaces the day's Parquet file of the table under
    `<exports_dir>/<table>/partition_date=YYYY-MM-DD/` (lib/exports.py): the analysts' copy.
    """

    @abstractmethod
    @contextmanager
    def _connect(self) -> Iterator[Any]: ...

    # The driver's parameter marker (an SQL dialect detail, not configuration).
    placeholder: ClassVar[str] = "?"
    exports_dir: str | None = None
    # A step that meets an unavailable warehouse runs again later, this many times at most.
    retries: int = 2
    retry_wait_s: float = 30.0
    _schema_ready: bool = PrivateAttr(default=False)
    # (run, asset) -> {table: hash of the rows its step wrote}: a step may write several tables.
    _step_writes: dict[tuple[str, dg.AssetKey], dict[str, str]] = PrivateAttr(default_factory=dict)

    def qualified(self, table: str) -> str:
        """The table's name as dbt and analysts' tools show it: database.schema.table."""
        return f"main.{table}"

    def _unavailable(self, error: WarehouseUnavailable) -> NoReturn:
        """Inside a step, Dagster runs the step again in `retry_wait_s` (the step's retry
        policy for this fault, and only this one); elsewhere (a script, a sensor) it raises."""
        try:
            context = dg.OpExecutionContext.get()
        except dg.DagsterInvariantViolationError:
            raise error from error.__cause__
        context.log.warning(
            f"{error}; the step runs again in {self.retry_wait_s:g} s "
            f"(at most {self.retries} more times)"
        )
        raise dg.RetryRequested(
            max_retries=self.retries, seconds_to_wait=self.retry_wait_s
        ) from error

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._connect() as con:
            cur = con.cursor()
            for stmt in create_statements() + add_column_statements():
                cur.execute(stmt)
            con.commit()
        self._schema_ready = True

    def replace_partition(
        self,
        table: str,
        partition_date: date,
        rows: Sequence[Mapping[str, Any]],
        where: Mapping[str, Any] | None = None,
        inputs_key: str | None = None,
    ) -> int:
        """Delete the partition's rows (narrowed by `where`), insert `rows`: idempotent.

        A whole day of a data table is recorded in `table_versions` in the same transaction:
        the hash of its rows and `inputs_key`, the key of what the rows were made from.
        """
        cols = columns(table)
        conds = ["partition_date = ?", *[f"{k} = ?" for k in (where or {})]]
        params = [plain(v) for v in [partition_date, *(where or {}).values()]]
        insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        values = [
            tuple(plain({**r, "partition_date": partition_date}.get(c)) for c in cols) for r in rows
        ]
        self.ensure_schema()
        with self._connect() as con:
            cur = con.cursor()
            cur.execute(self._sql(f"DELETE FROM {table} WHERE {' AND '.join(conds)}"), params)
            if values:
                cur.executemany(self._sql(insert), values)
            version = rows_hash(values)
            if where is None and table not in NOT_DATA:
                self._record_version(cur, table, partition_date, version, len(values), inputs_key)
            # The whole day as stored (a `where` write replaced only part of it), read in the
            # same transaction, exported while this connection still keeps other writers out.
            day = self._partition(cur, table, partition_date) if self.exports_dir else None
            con.commit()
            if day is not None:
                self._export(table, partition_date, day)
        self._report_write(table, len(values), version)
        return len(values)

    def _record_version(
        self,
        cur: Any,
        table: str,
        partition_date: date,
        version: str,
        count: int,
        inputs_key: str | None,
    ) -> None:
        cur.execute(
            self._sql("DELETE FROM table_versions WHERE partition_date = ? AND table_name = ?"),
            [partition_date, table],
        )
        now = datetime.now(UTC).replace(tzinfo=None)  # UTC, naive, like every timestamp stored
        cur.execute(
            self._sql(
                "INSERT INTO table_versions (partition_date, table_name, rows_sha256, row_count,"
                " inputs_key, written_at) VALUES (?, ?, ?, ?, ?, ?)"
            ),
            [partition_date, table, version, count, inputs_key, now],
        )

    def versions(self, spans: Sequence[tuple[str, date, date]]) -> str:
        """One key for the content of days start..end (inclusive) of each table named."""
        found = []
        for table, start, end in spans:
            found.append(
                [
                    (str(r["partition_date"]), r["rows_sha256"])
                    for r in self.query(
                        "SELECT partition_date, rows_sha256 FROM table_versions "
                        "WHERE table_name = ? AND partition_date BETWEEN ? AND ? "
                        "ORDER BY partition_date",
                        [table, start, end],
                    )
                ]
            )
        return content_key(found)

    def unchanged(self, tables: Sequence[str], partition_date: date, inputs_key: str) -> bool:
        """True when every table's day was written from inputs with this key: nothing to do.

        The step then reports the stored rows as its own (row count, data version), as if it
        had written them again.
        """
        stored = {
            r["table_name"]: r
            for r in self.query(
                "SELECT table_name, rows_sha256, row_count, inputs_key FROM table_versions "
                "WHERE partition_date = ?",
                [partition_date],
            )
        }
        if any(stored.get(t, {}).get("inputs_key") != inputs_key for t in tables):
            return False
        for t in tables:
            self._report_write(t, stored[t]["row_count"], stored[t]["rows_sha256"])
        return True

    def export_partition(self, table: str, partition_date: date) -> Path | None:
        """Write the day's Parquet file of `table` from the warehouse (e.g. for older days)."""
        if not self.exports_dir:
            return None
        self.ensure_schema()
        with self._connect() as con:
            return self._export(
                table, partition_date, self._partition(con.cursor(), table, partition_date)
            )

    def _partition(self, cur: Any, table: str, partition_date: date) -> list[dict[str, Any]]:
        cols = columns(table)
        cur.execute(
            self._sql(f"SELECT {', '.join(cols)} FROM {table} WHERE partition_date = ?"),
            [partition_date],
        )
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def _export(self, table: str, partition_date: date, rows: list[dict[str, Any]]) -> Path:
        assert self.exports_dir
        return exports.write_partition(
            Path(self.exports_dir), table, partition_date, TABLES[table], rows
        )

    def _report_write(self, table: str, count: int, version: str) -> None:
        """Inside an asset's step, what a write tells Dagster about the asset.

        The rows written to the asset's own table (the `dagster/table_name` on its spec) are
        its `dagster/row_count`. Its data version is a hash of every row the step wrote to a
        data table: the same rows give the same version, so a rerun that changed nothing
        leaves the days built on it current, and one that changed something makes them stale.
        """
        try:
            context = dg.AssetExecutionContext.get()
        except dg.DagsterInvariantViolationError:
            return  # a script, a test, a sensor, an asset check: nothing to report
        if table in NOT_DATA:
            return
        for key in context.selected_asset_keys:
            spec = context.assets_def.specs_by_key[key]
            if spec.metadata.get("dagster/table_name") == self.qualified(table):
                context.add_asset_metadata({"dagster/row_count": count}, asset_key=key)
            written = self._step_writes.setdefault((context.run.run_id, key), {})
            written[table] = version
            combined = hashlib.sha256(json.dumps(sorted(written.items())).encode()).hexdigest()
            if key in context.assets_def.asset_deps.get(key, ()):
                # A stage that reads its own earlier days (topics, the digest): Dagster checks
                # a version set during the step against the asset's latest materialization,
                # another day's, and warns of a mismatch. Its result carries it (finish).
                _OWN_DAYS_VERSIONS[(context.run.run_id, key)] = dg.DataVersion(combined[:16])
            else:
                context.set_data_version(key, dg.DataVersion(combined[:16]))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.ensure_schema()
        with self._connect() as con:
            cur = con.cursor()
            cur.execute(self._sql(sql), [plain(p) for p in params])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def rows(
        self, table: str, start: date, end: date | None = None, order_by: str | None = None
    ) -> list[dict[str, Any]]:
        """All rows of partitions start..end (inclusive)."""
        assert table in TABLES, table
        order = f" ORDER BY {order_by}" if order_by else ""
        return self.query(
            f"SELECT * FROM {table} WHERE partition_date BETWEEN ? AND ?{order}",
            [start, end or start],
        )


def table_metadata(warehouse: Warehouse, table: str) -> dict[str, Any]:
    """An asset's definition metadata for the table it writes: name and column schema."""
    return {
        "dagster/table_name": warehouse.qualified(table),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, sql_type.lower()) for name, sql_type in TABLES[table]]
        ),
    }


class DuckDBWarehouse(Warehouse):
    """A DuckDB file; one writer at a time, so a locked file is waited for, not failed on.

    A wait is logged when it starts (naming the process that holds the lock) and when it ends
    (how long it took), in the run's log when inside a step.
    """

    path: str
    lock_timeout_s: float = 120.0

    def qualified(self, table: str) -> str:
        return f"{Path(self.path).stem}.main.{table}"

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        waited = False
        while True:
            try:
                con = duckdb.connect(self.path)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if not waited:
                    waited = True
                    _log().info(
                        f"warehouse {self.path} is locked by another writer ({_holder(exc)}); "
                        f"waiting for it, up to {self.lock_timeout_s:g} s"
                    )
                if time.monotonic() - started > self.lock_timeout_s:
                    error = WarehouseUnavailable(
                        f"{self.path} stayed locked by another writer ({_holder(exc)}) for "
                        f"{self.lock_timeout_s:g} s"
                    )
                    error.__cause__ = exc
                    self._unavailable(error)
                time.sleep(0.5)
        if waited:
            _log().info(
                f"warehouse {self.path}: got the lock after waiting "
                f"{time.monotonic() - started:.1f} s"
            )
        try:
            con.begin()
            yield _OneCursor(con)
        finally:
            con.close()


def _holder(exc: Exception) -> str:
    """Who holds a DuckDB lock, from its error: "held by PID 1234 (python3.11)"."""
    found = re.search(r"lock is held in (\S+) \(PID (\d+)\)", str(exc))
    return f"held by PID {found[2]} ({Path(found[1]).name})" if found else "holder unknown"


def _log() -> logging.Logger | dg.DagsterLogManager:
    """The run's log inside a step (the UI shows it); the `warehouse` logger elsewhere."""
    try:
        return dg.OpExecutionContext.get().log
    except dg.DagsterInvariantViolationError:
        return logging.getLogger("dagster_project.warehouse")


class _OneCursor:
    """DuckDB's cursor() opens a second connection; keep one transaction on one connection."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def cursor(self) -> Any:
        return self._con

    def commit(self) -> None:
        self._con.commit()


class PostgresWarehouse(Warehouse):
    """A PostgreSQL schema (created when missing)."""

    url: str
    db_schema: str = "podcast_insights"
    placeholder: ClassVar[str] = "%s"

    def qualified(self, table: str) -> str:
        database = urlparse(resolved(self.url)).path.strip("/")  # the name, never the password
        return ".".join(p for p in (database, self.db_schema, table) if p)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg2

        try:
            con = psycopg2.connect(resolved(self.url))
        except psycopg2.OperationalError as exc:  # down, restarting, out of connections
            error = WarehouseUnavailable(f"PostgreSQL warehouse unreachable: {exc}".strip())
            error.__cause__ = exc
            self._unavailable(error)
        try:
            cur = con.cursor()
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.db_schema}"')
            cur.execute(f'SET search_path TO "{self.db_schema}"')
            yield con
        finally:
            con.close()
