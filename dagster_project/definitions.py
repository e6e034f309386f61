"""The Dagster code location: wiring only."""

import dagster as dg

from dagster_project.assets import audio, claims, digest, feeds, topics
from dagster_project.assets.common import DAILY
from dagster_project.assets.marts import build_marts
from dagster_project.resources.environment import build_resources, in_process_or_celery

STAGES = [feeds, audio, claims, topics, digest]

daily_insights = dg.define_asset_job(
    "daily_insights", selection=dg.AssetSelection.all(), partitions_def=DAILY
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules(STAGES), build_marts()],
        asset_checks=dg.load_asset_checks_from_modules(STAGES),
        jobs=[daily_insights],
        schedules=[
            dg.build_schedule_from_partitioned_job(daily_insights, hour_of_day=6, minute_of_hour=0)
        ],
        resources=build_resources(),
        # One process per run by default (the models load once); on Celery workers with the run
        # config in deploy/celery/, where pools keep warehouse writers and transcriptions apart.
        executor=in_process_or_celery,
    )
