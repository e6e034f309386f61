"""marts: the dbt models over the warehouse tables (dbt/), one Dagster asset per model."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from dagster_project.assets.common import DAILY, ONE_DAY_PER_RUN, WAREHOUSE_POOL
from dagster_project.resources.marts import DBT_DIR, DbtMarts, dbt_executable


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
    sources = [
        *DBT_DIR.glob("*.yml"),
        *(p for d in ("models", "macros", "tests") for p in DBT_DIR.glob(f"{d}/**/*")),
    ]
    return any(p.stat().st_mtime > built for p in sources if p.is_file())


def build_marts() -> dg.AssetsDefinition:
    """The dbt assets; parses the dbt project first when its manifest is missing or stale."""
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
    if _manifest_is_stale(project):
        # dagster-dbt's own preparer looks for `dbt` on PATH only; parse with ours.
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()

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
    def marts(context: dg.AssetExecutionContext, config: MartsConfig, dbt_marts: DbtMarts):
        """The day's rows of each mart, rebuilt with dbt (vars: the day, top_k); tests as checks."""
        yield from dbt_marts.build(context, full_refresh=config.full_refresh)

    return marts
