"""marts: the dbt models over the warehouse tables (dbt/), one Dagster asset per model."""

import json
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtProject,
    dbt_assets,
)

from dagster_project.assets.common import DAILY, ONE_DAY_PER_RUN, WAREHOUSE_POOL
from dagster_project.lib.content_key import content_key
from dagster_project.lib.store import write_atomic
from dagster_project.resources.marts import (
    DBT_DIR,
    DbtMarts,
    dbt_cli,
    project_files,
    project_files_key,
    source_tables,
)
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse


class Translator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts"

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        # A run tests its own days only (dbt/macros/get_where_subquery.sql): each result
        # belongs to the day's partition, so the UI shows which day failed.
        return spec._replace(partitions_def=DAILY) if spec is not None else None


class MartsConfig(dg.Config):
    # Rebuild every day from scratch (after a model's columns change, dbt refuses to mix old and
    # new rows and says so); the partition chosen only names the run.
    full_refresh: bool = False


def _manifest_is_stale(project: DbtProject) -> bool:
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    return any(p.stat().st_mtime > built for p in project_files())


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata a stored result keeps: plain numbers, text and flags (row counts are
    counted afresh: the topic dimension spans days, and later days add to it)."""
    found = {}
    for k, v in metadata.items():
        if k == "dagster/row_count":
            continue
        value = getattr(v, "value", v)
        if isinstance(value, (str, int, float, bool)):
            found[k] = value
    return found


def _count(warehouse: Warehouse, table: str, days: list[str] | None) -> int | None:
    """The model's rows on the run's days; all its rows if it has no days; None if it is not
    there (a model that failed to build)."""
    queries = [(f"SELECT COUNT(*) AS n FROM {table}", [])]
    if days:
        queries.insert(0, (f"{queries[0][0]} WHERE partition_date BETWEEN ? AND ?", days))
    for sql, params in queries:
        try:
            return warehouse.query(sql, params)[0]["n"]
        except Exception:  # no partition_date column (the topic dimension), or no table
            continue
    return None


def with_row_counts(
    context: dg.AssetExecutionContext, warehouse: Warehouse, events: list[Any], dbt_vars: dict
) -> list[Any]:
    """Each built model's `dagster/row_count`: its rows on the run's days (all, for a model
    without days), counted after dbt let go of the warehouse."""
    days = [dbt_vars["min_date"], dbt_vars["max_date"]] if "min_date" in dbt_vars else None
    counted = []
    for event in events:
        if isinstance(event, dg.Output):
            key = context.assets_def.keys_by_output_name[event.output_name]
            table = ".".join(f'"{part}"' for part in warehouse.qualified(key.path[-1]).split("."))
            found = _count(warehouse, table, days)
            if found is not None:
                event = event.with_metadata({**event.metadata, "dagster/row_count": found})
        counted.append(event)
    return counted


def recorded(events: list[Any]) -> list[dict[str, Any]]:
    """dbt's results as stored beside their key, to be reported again by a run that skips."""
    stored = []
    for event in events:
        if isinstance(event, dg.Output):
            stored.append({"output": event.output_name, "metadata": _plain(event.metadata)})
        elif isinstance(event, dg.AssetCheckResult):
            stored.append(
                {
                    "check": event.check_name,
                    "asset_key": list(event.asset_key.path) if event.asset_key else None,
                    "passed": event.passed,
                    "severity": event.severity.value,
                    "metadata": _plain(event.metadata),
                }
            )
    return stored


def replay(stored: list[dict[str, Any]], key: str) -> Iterator[Any]:
    """The stored results of the dbt build these sources, project and vars had."""
    for item in stored:
        metadata = {**item["metadata"], "unchanged": True, "inputs_key": key}
        if "output" in item:
            yield dg.Output(None, output_name=item["output"], metadata=metadata)
        else:
            yield dg.AssetCheckResult(
                check_name=item["check"],
                asset_key=dg.AssetKey(item["asset_key"]) if item["asset_key"] else None,
                passed=item["passed"],
                severity=dg.AssetCheckSeverity(item["severity"]),
                metadata=metadata,
            )


def build_marts() -> dg.AssetsDefinition:
    """The dbt assets; parses the dbt project first when its manifest is missing or stale."""
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
    if _manifest_is_stale(project):
        # dagster-dbt's own preparer looks for `dbt` on PATH only; parse with ours.
        dbt_cli().cli(["parse", "--quiet"], target_path=project.target_path).wait()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        partitions_def=DAILY,
        backfill_policy=ONE_DAY_PER_RUN,
        # `topics` writes two tables (topics, claim_topics): two dbt sources, one asset.
        dagster_dbt_translator=Translator(
            DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True)
        ),
        name="marts",
        pool=WAREHOUSE_POOL,  # dbt opens the DuckDB file for the whole build, lock or not
    )
    def marts(
        context: dg.AssetExecutionContext,
        config: MartsConfig,
        dbt_marts: DbtMarts,
        data_home: DataHome,
        warehouse: Warehouse,
    ):
        """The day's rows of each mart, rebuilt with dbt (vars: the day, top_k); tests as checks.

        dbt runs only when what it reads changed: the key of its sources' rows (every day, as
        the topic dimension spans days), the dbt project's files and the vars. A run with a
        stored key reports the stored test outcomes, and counts the rows, without dbt.
        """
        dbt_vars = dbt_marts.dbt_vars(context, all_days=config.full_refresh)
        key = content_key(
            dbt_vars,
            project_files_key(),
            warehouse.versions([(t, date.min, date.max) for t in source_tables()]),
        )
        stored = data_home.path("marts", f"{key}.json")
        if stored.exists() and not config.full_refresh:
            context.log.info(f"dbt skipped: its sources, project and vars are those of {key}")
            yield from with_row_counts(
                context, warehouse, list(replay(json.loads(stored.read_text()), key)), dbt_vars
            )
            return
        events, failed = [], None
        try:
            for event in dbt_marts.build(context, full_refresh=config.full_refresh):
                events.append(event)
        except Exception as exc:  # a failing model or blocking test: report what dbt found
            failed = exc
        yield from with_row_counts(context, warehouse, events, dbt_vars)
        if failed is not None:
            raise failed
        write_atomic(stored, json.dumps(recorded(events)))

    return marts
