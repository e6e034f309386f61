"""The Dagster code location: wiring only."""

import dagster as dg

from dagster_project import catalog, checks, sensors
from dagster_project.assets import (
    claims,
    digest,
    episode_audio,
    feeds,
    topics,
    transcripts,
    voices,
)
from dagster_project.assets.marts import build_marts
from dagster_project.resources.environment import build_resources, in_process_or_celery

STAGES = [feeds, episode_audio, transcripts, voices, claims, topics, digest]

DIGEST_FRESHNESS = checks.digest_freshness(digest.daily_digest)

daily_insights = dg.define_asset_job(
    "daily_insights",
    # The day's assets and their checks; freshness is judged on its own schedule, not per day.
    # Partitioned by day like every asset it selects (Dagster infers it from them).
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*DIGEST_FRESHNESS),
)


@dg.definitions
def defs() -> dg.Definitions:
    resources = build_resources()
    # Owners, tags, code versions and table schemas on every asset (catalog.py).
    assets = catalog.describe(
        [*dg.load_assets_from_modules(STAGES), build_marts()], resources["warehouse"]
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=[
            *checks.graded(dg.load_asset_checks_from_modules(STAGES)),
            *DIGEST_FRESHNESS,
        ],
        jobs=[daily_insights],
        schedules=[
            dg.build_schedule_from_partitioned_job(daily_insights, hour_of_day=6, minute_of_hour=0)
        ],
        sensors=[
            sensors.run_failure_alerts,
            sensors.freshness_sensor(DIGEST_FRESHNESS),
            sensors.later_days_sensor(assets),
        ],
        resources=resources,
        # One process per run by default (the models load once); on Celery workers with the run
        # config in deploy/celery/, where pools keep warehouse writers and transcriptions apart.
        executor=in_process_or_celery,
    )
