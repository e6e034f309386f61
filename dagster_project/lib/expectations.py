"""great-expectations suites for the warehouse tables (run by Dagster asset checks).

One in-memory context per process, built on first use with its suites and batch definitions,
and used by every check after it (building one costs seconds; a day runs several checks).
A failed expectation names the rows that broke it by their ids (a claim's `claim_id`, a
segment's feed, episode and index) with the offending values, as plain JSON.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

MAX_ROWS = 20  # offending rows listed per failed expectation; the count says how many in all

_lock = threading.Lock()
_batches: dict[str, tuple[Any, Any]] = {}  # suite name -> (batch definition, suite)
_context: Any = None


def _gx_context() -> Any:
    """The process's ephemeral context: in memory, no analytics, no progress bars."""
    global _context
    if _context is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        _context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
    return _context


def _batch_and_suite(name: str, expectations: Callable[[], list]) -> tuple[Any, Any]:
    """The suite `name` and a batch definition for a DataFrame, made once per process."""
    with _lock:
        if name not in _batches:
            import great_expectations as gx

            context = _gx_context()
            batch = (
                context.data_sources.add_pandas(name)
                .add_dataframe_asset(name)
                .add_batch_definition_whole_dataframe("day")
            )
            suite = gx.ExpectationSuite(name=name)
            for expectation in expectations():
                suite.add_expectation(expectation)
            _batches[name] = (batch, suite)
        return _batches[name]


def plain(value: Any) -> Any:
    """A value as JSON shows it: numpy scalars as numbers, NaN as null."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def offending_rows(result: dict[str, Any], id_columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows an expectation failed on: ids first, then the values it judged; each once."""
    rows, seen = [], set()
    for found in result.get("unexpected_index_list") or []:
        row = {c: plain(found[c]) for c in id_columns if c in found}
        row.update({k: plain(v) for k, v in found.items() if k not in row})
        key = repr(sorted(row.items()))
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def _validate(
    name: str, df: pd.DataFrame, id_columns: Sequence[str], expectations: Callable[[], list]
) -> dict[str, Any]:
    batch_definition, suite = _batch_and_suite(name, expectations)
    result = batch_definition.get_batch(batch_parameters={"dataframe": df}).validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": list(id_columns),
            "return_unexpected_index_query": False,
        },
    )
    failed = []
    for r in result.results:
        if r.success:
            continue
        kwargs = r.expectation_config.kwargs
        rows = offending_rows(r.result, id_columns)
        failed.append(
            {
                "expectation": r.expectation_config.type,
                "column": kwargs.get("column")
                or kwargs.get("column_A")
                or ", ".join(kwargs.get("column_list") or []),
                "unexpected": plain(r.result.get("unexpected_count")),
                "rows": rows[:MAX_ROWS],
            }
        )
    return {
        "success": bool(result.success),
        "metadata": {"rows": len(df), "expectations": len(result.results), "failed": failed},
    }


def _nothing() -> dict[str, Any]:
    return {"success": True, "metadata": {"rows": 0, "expectations": 0, "failed": []}}


SEGMENT_IDS = ["feed", "episode_guid", "segment_index"]


def _segment_expectations() -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToNotBeNull(column="text"),  # pyright: ignore[reportPrivateImportUsage]
        gx.expectations.ExpectColumnValuesToNotBeNull(column="start_s"),  # pyright: ignore[reportPrivateImportUsage]
        gx.expectations.ExpectColumnValuesToBeBetween(column="start_s", min_value=0),  # pyright: ignore[reportPrivateImportUsage]
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(  # pyright: ignore[reportPrivateImportUsage]
            column_A="end_s", column_B="start_s", or_equal=True
        ),
        gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=SEGMENT_IDS),  # pyright: ignore[reportPrivateImportUsage]
    ]


def validate_segments(rows: list[dict]) -> dict[str, Any]:
    """Every segment has text, starts at or after 0 and ends no earlier than it starts."""
    if not rows:
        return _nothing()
    columns = [*SEGMENT_IDS, "start_s", "end_s", "text"]
    df = pd.DataFrame([{c: r[c] for c in columns} for r in rows])
    return _validate("transcript_segments", df, SEGMENT_IDS, _segment_expectations)


CLAIM_IDS = ["claim_id", "feed", "episode_guid"]


def _claim_expectations() -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToBeUnique(column="claim_id"),  # pyright: ignore[reportPrivateImportUsage]
        gx.expectations.ExpectColumnValuesToNotBeNull(column="text"),  # pyright: ignore[reportPrivateImportUsage]
        gx.expectations.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),  # pyright: ignore[reportPrivateImportUsage]
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(  # pyright: ignore[reportPrivateImportUsage]
            column_A="end_s", column_B="start_s", or_equal=True
        ),
    ]


def validate_claims(rows: list[dict]) -> dict[str, Any]:
    """Claims have ids that are unique, text, a score in 0..1 and ordered times."""
    if not rows:
        return _nothing()
    columns = [*CLAIM_IDS, "text", "score", "start_s", "end_s"]
    df = pd.DataFrame([{c: r[c] for c in columns} for r in rows])
    return _validate("claims", df, CLAIM_IDS, _claim_expectations)
