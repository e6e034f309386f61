"""marts: the dbt models over the warehouse tables (dbt/), one Dagster asset per model."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from dagster_project.assets.common import DAILY, ONE_DAY_PER_RUN, WAREHOUSE_POOL
from dagster_project.resources.marts import DBT_DIR, DbtMarts, dbt_executable


class Translator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts"


def _manifest_is_stale(project: DbtProject) -> bool:
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    sources = [*DBT_DIR.glob("*.yml"), *DBT_DIR.glob("models/**/*")]
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
        dagster_dbt_translator=Translator(),
        name="marts",
        pool=WAREHOUSE_POOL,  # dbt opens the DuckDB file for the whole build, lock or not
    )
    def marts(context: dg.AssetExecutionContext, dbt_marts: DbtMarts):
        """Rebuilt from the whole warehouse after each day, with dbt's tests as asset checks."""
        yield from dbt_marts.build(context)

    return marts
