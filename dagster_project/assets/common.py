"""What the stages share: the daily partitions and the failures table."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from dagster_project.lib.content_key import content_key, rows_hash, source_version
from dagster_project.lib.preview import (
    BACKFILL_POLICY,
    CHECK_PARTITIONS,
    NONEXISTENT_UPSTREAM,
    on_purpose,
)
from dagster_project.lib.settings import start_date_from_env
from dagster_project.lib.store import write_atomic
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse, own_days_version

# The asset decorators need the partitions when this module is imported, so the first day is
# read from the environment here, once, when the code location loads (lib/settings.py).
DAILY = dg.DailyPartitionsDefinition(start_date=start_date_from_env().isoformat(), timezone="UTC")


# One run per day: a day's topics and novelty build on the days before it.
ONE_DAY_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

# Concurrency pools: the instance's limits apply when steps run in parallel (Celery workers, a
# backfill's runs side by side); a pool without a limit, as in the default instance, holds no one.
# DuckDB lets one process write a file at a time: steps that write tables share `warehouse`
# (limit 1 for DuckDB). Transcription, the long step, has its own (limit: the cores).
WAREHOUSE_POOL = "warehouse"
TRANSCRIPTION_POOL = "transcription"


def daily_asset(**kwargs: Any) -> Any:
    """@dg.asset, partitioned by day, one day per run, in the warehouse pool unless told."""
    kwargs.setdefault("pool", WAREHOUSE_POOL)
    with on_purpose(BACKFILL_POLICY):
        return dg.asset(partitions_def=DAILY, backfill_policy=ONE_DAY_PER_RUN, **kwargs)


def daily_graph_asset(**kwargs: Any) -> Any:
    """@dg.graph_asset, partitioned by day, one day per run: a stage whose work fans out into
    steps (each op names its own pool)."""
    with on_purpose(BACKFILL_POLICY):
        return dg.graph_asset(partitions_def=DAILY, backfill_policy=ONE_DAY_PER_RUN, **kwargs)


def daily_check(**kwargs: Any) -> Callable[[Callable[..., Any]], dg.AssetChecksDefinition]:
    """@dg.asset_check on the day partition its asset just wrote."""
    make = dg.asset_check(partitions_def=DAILY, **kwargs)

    def decorate(fn: Callable[..., Any]) -> dg.AssetChecksDefinition:
        with on_purpose(CHECK_PARTITIONS):
            return make(fn)

    return decorate


def previous_day(asset: str) -> dg.AssetDep:
    """A dependency on the asset's own previous partition, so backfills run in date order."""
    with on_purpose(NONEXISTENT_UPSTREAM):
        mapping = dg.TimeWindowPartitionMapping(
            start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
        )
    return dg.AssetDep(asset, partition_mapping=mapping)


# A step's context: an asset's, or an op's inside a graph-backed asset.
StepContext = dg.AssetExecutionContext | dg.OpExecutionContext


def partition_day(context: StepContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


class Failures:
    """Collects a stage's bad inputs: logged with the feed or episode named, then stored.

    The stage's rows for the day are replaced as a whole, so a rerun that succeeds clears them.
    """

    def __init__(self, context: StepContext, stage: str) -> None:
        self.context = context
        self.stage = stage
        self.rows: list[dict[str, Any]] = []

    def add(self, feed: str, error: str, episode_guid: str | None = None, url: str | None = None):
        where = f"feed {feed!r}" + (f", episode {episode_guid!r}" if episode_guid else "")
        self.context.log.warning(f"[{self.stage}] {where}: {error}")
        self.rows.append(
            {
                "stage": self.stage,
                "feed": feed,
                "episode_guid": episode_guid,
                "url": url,
                "error": error,
                "recorded_at": datetime.now(UTC).replace(tzinfo=None),
            }
        )

    def save(self, warehouse: Warehouse, day: date) -> int:
        warehouse.replace_partition("failures", day, self.rows, where={"stage": self.stage})
        return len(self.rows)


def inputs_key(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    spans: list[tuple[str, date, date]],
    *settings: Any,
) -> str:
    """The key of what this step would make: the days of the tables it reads (by content),
    its settings, and its code (the asset's code version; pass models' modules in `settings`)."""
    spec = context.assets_def.specs_by_key[context.asset_key]
    return content_key(spec.code_version, settings, warehouse.versions(spans))


def unchanged(
    context: dg.AssetExecutionContext, warehouse: Warehouse, tables: list[str], key: str
) -> dg.MaterializeResult | None:
    """The step's result when its tables were already made from inputs with this key."""
    if not warehouse.unchanged(tables, partition_day(context), key):
        return None
    context.log.info(f"done: unchanged, its inputs, settings and code are those of {key}")
    return dg.MaterializeResult(
        metadata={"unchanged": True, "inputs_key": key}, data_version=own_days_version(context)
    )


def validated(
    data_home: DataHome, suite: str, rows: list[dict], validate: Callable[[list[dict]], dict]
) -> dict[str, Any]:
    """A great-expectations suite's result for these rows, kept by their content: a rerun over
    the same rows reports the stored result without loading great-expectations."""
    from dagster_project.lib import expectations

    key = content_key(suite, rows_hash(rows), source_version(expectations.__name__))
    stored = data_home.path("checks", f"{suite}.{key}.json")
    if stored.exists():
        return json.loads(stored.read_text())
    result = validate(rows)
    write_atomic(stored, json.dumps(result, default=str))
    return result


def finish(context: dg.AssetExecutionContext, metadata: dict[str, Any]) -> dg.MaterializeResult:
    """The stage's result, and one log line of its numbers: the progress a person follows."""
    summarise(context, metadata)
    return dg.MaterializeResult(metadata=metadata, data_version=own_days_version(context))


def summarise(context: StepContext, metadata: dict[str, Any]) -> None:
    """One log line of a step's numbers (`done: ...`)."""
    numbers = ", ".join(
        f"{k.replace('_', ' ')} {v}"
        for k, v in metadata.items()
        if isinstance(v, (int, float, str)) and not isinstance(v, bool)
    )
    context.log.info(f"done: {numbers}")
