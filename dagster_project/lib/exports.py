"""Each day's warehouse tables as Parquet, the way analysts take them.

Layout (hive partitioning, so DuckDB, pandas, Spark or Polars read a whole table as one):

    <root>/<table>/partition_date=YYYY-MM-DD/data-<version>.parquet

The day lives in the folder name, not in the file: a reader that asks for hive partitioning
gets a `partition_date` column back. One file per day, written whole: a rerun of a day replaces
its folder in one step, so a reader sees the old day or the new one, never a mix or half a file.
Each version of a day has a file name of its own: a query that planned on the old file and opens
it again after the swap (DuckDB reads a file's footer, then its data) finds it gone and fails,
where a file replaced under the same name would hand it another file's bytes.
Every file of a table has the same schema (from `lib/schema.py`), so a folder of days reads as
one table even where a day has no rows or a column only nulls.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PARTITION_COLUMN = "partition_date"
FILE_GLOB = "data-*.parquet"
STAGING = ".staging"  # beside the tables, never inside one: readers' globs do not meet it

ARROW_TYPES: dict[str, pa.DataType] = {
    "DATE": pa.date32(),
    "TEXT": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE PRECISION": pa.float64(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}


def arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    """The file schema of a table: its columns but the partition column, typed as in SQL."""
    return pa.schema(
        [(name, ARROW_TYPES[sql_type]) for name, sql_type in columns if name != PARTITION_COLUMN]
    )


def partition_dir(root: Path, table: str, day: date) -> Path:
    return Path(root) / table / f"{PARTITION_COLUMN}={day.isoformat()}"


def write_partition(
    root: Path,
    table: str,
    day: date,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Mapping[str, Any]],
) -> Path:
    """Replace the day's Parquet file of `table` with `rows`; returns the day's folder.

    Written into a staging folder first, then swapped in with one rename.
    """
    root = Path(root)
    schema = arrow_schema(columns)
    staging = root / STAGING / f"{table}.{day.isoformat()}.{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        data = pa.Table.from_pylist(
            [{name: row.get(name) for name in schema.names} for row in rows], schema=schema
        )
        pq.write_table(data, staging / f"data-{uuid.uuid4().hex[:12]}.parquet")
        target = partition_dir(root, table, day)
        target.parent.mkdir(parents=True, exist_ok=True)
        _swap_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the old day, after a swap; or a failed write
    return target


def _swap_into_place(new: Path, target: Path) -> None:
    """Move `new` to `target`; an existing `target` ends up at `new` (the caller removes it)."""
    for _ in range(5):
        try:
            os.rename(new, target)  # no day there yet: one atomic step
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if _exchange(new, target):
            return
        # No atomic exchange on this system or file system: move the old day aside, then in.
        # A reader in between sees the day missing for a moment, never a mix of two.
        aside = new.with_name(new.name + ".old")
        try:
            os.rename(target, aside)
        except FileNotFoundError:  # another writer moved it first: try again
            continue
        os.rename(new, target)
        os.rename(aside, new)
        return
    raise OSError(f"could not replace {target}: other writers kept changing it")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    if not done and ctypes.get_errno() not in (
        errno.EINVAL,
        errno.ENOSYS,
        errno.EXDEV,
        errno.ENOENT,
    ):
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
    return done
