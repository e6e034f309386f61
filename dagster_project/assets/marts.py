"""marts: the dbt models over the warehouse tables (dbt/), one Dagster asset per model."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets

from dagster_project.assets.common import DAILY, ONE_DAY_PER_RUN
from dagster_project.resources.marts import DBT_DIR, DbtMarts


class Translator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts"


def build_marts() -> dg.AssetsDefinition:
    """The dbt assets; parses the dbt project first when its manifest is missing."""
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
    if not project.manifest_path.exists():
        project.preparer.prepare(project)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        partitions_def=DAILY,
        backfill_policy=ONE_DAY_PER_RUN,
        dagster_dbt_translator=Translator(),
        name="marts",
    )
    def marts(context: dg.AssetExecutionContext, dbt_marts: DbtMarts):
        """Rebuilt from the whole warehouse after each day, with dbt's tests as asset checks."""
        yield from dbt_marts.build(context)

    return marts
