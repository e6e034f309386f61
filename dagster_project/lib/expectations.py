"""great-expectations suites for the warehouse tables (run by Dagster asset checks)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _validate(name: str, df: pd.DataFrame, expectations: list) -> dict[str, Any]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(name)
    batch = (
        source.add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("day")
        .get_batch(batch_parameters={"dataframe": df})
    )
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    result = batch.validate(suite)
    failed = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column")
            or r.expectation_config.kwargs.get("column_A"),
            "unexpected": r.result.get("unexpected_count"),
            "examples": [str(x) for x in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        for r in result.results
        if not r.success
    ]
    return {
        "success": bool(result.success),
        "metadata": {
            "rows": len(df),
            "expectations": len(result.results),
            "failed": failed,
        },
    }


def validate_segments(rows: list[dict]) -> dict[str, Any]:
    """Every segment has text, starts at or after 0 and ends no earlier than it starts."""
    import great_expectations as gx

    if not rows:
        return {"success": True, "metadata": {"rows": 0, "expectations": 0, "failed": []}}
    df = pd.DataFrame(rows)[["feed", "episode_guid", "segment_index", "start_s", "end_s", "text"]]
    return _validate(
        "transcript_segments",
        df,
        [
            gx.expectations.ExpectColumnValuesToNotBeNull(column="text"),
            gx.expectations.ExpectColumnValuesToNotBeNull(column="start_s"),
            gx.expectations.ExpectColumnValuesToBeBetween(column="start_s", min_value=0),
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="end_s", column_B="start_s", or_equal=True
            ),
            gx.expectations.ExpectCompoundColumnsToBeUnique(
                column_list=["feed", "episode_guid", "segment_index"]
            ),
        ],
    )


def validate_claims(rows: list[dict]) -> dict[str, Any]:
    """Claims have ids that are unique, text, a score in 0..1 and ordered times."""
    import great_expectations as gx

    if not rows:
        return {"success": True, "metadata": {"rows": 0, "expectations": 0, "failed": []}}
    df = pd.DataFrame(rows)[["claim_id", "text", "score", "start_s", "end_s"]]
    return _validate(
        "claims",
        df,
        [
            gx.expectations.ExpectColumnValuesToBeUnique(column="claim_id"),
            gx.expectations.ExpectColumnValuesToNotBeNull(column="text"),
            gx.expectations.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="end_s", column_B="start_s", or_equal=True
            ),
        ],
    )
