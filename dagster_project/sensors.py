"""Sensors: a mail to the operators when a run fails, and the digest's freshness check."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from dagster_project.lib.preview import FRESHNESS_SENSOR, on_purpose
from dagster_project.resources.mailer import Mailer

PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"


def failure_message(
    run: dg.DagsterRun, error: str | None, steps: Sequence[tuple[str, str]], when: datetime
) -> tuple[str, str]:
    """The alert's subject and plain text: which run, which day, which steps, and why."""
    day = run.tags.get(PARTITION_TAG)
    what = _what(run, [step for step, _ in steps])
    subject = f"[Podcast Insights] run failed: {what}" + (f" for {day}" if day else "")
    lines = [
        f"The run {run.run_id} ({what}) failed at {when:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Day (partition): {day or '(none)'}",
    ]
    if run.tags.get(BACKFILL_TAG):
        lines.append(f"Backfill: {run.tags[BACKFILL_TAG]}")
    if steps:
        lines += ["", "Failed steps:"]
        lines += [f"- {step}: {message}" for step, message in steps]
    if error:
        lines += ["", f"Run error: {error}"]
    lines += [
        "",
        "Open the run in the Dagster UI (Runs, then the run id) for its logs; re-execute it "
        "from failure there once the cause is fixed.",
    ]
    return subject, "\n".join(lines)


def freshness_sensor(freshness_checks: Sequence[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    """Runs the freshness checks when they are due (the digest's: each day at 07:00 UTC)."""
    with on_purpose(FRESHNESS_SENSOR):  # the partition-true freshness check needs its sensor
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=freshness_checks,
            name="daily_digest_freshness",
            default_status=dg.DefaultSensorStatus.RUNNING,
        )


def _what(run: dg.DagsterRun, failed_steps: Sequence[str]) -> str:
    """The job's name; for a materialization launched from the UI (an implicit job), its assets
    (or, where the run does not say, the steps that failed)."""
    if not run.job_name.startswith("__"):
        return run.job_name
    keys = sorted(k.to_user_string() for k in run.asset_selection or ()) or list(failed_steps)
    if not keys:
        return run.job_name
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


@dg.run_failure_sensor(
    name="run_failure_alerts",
    description="Mails the operators (PODCAST_INSIGHTS_ALERTS_TO) when any run fails.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alert_mailer: Mailer) -> None:
    """A failed run (a failed step, a blocking check, a crashed worker) mails the operators."""
    run = context.dagster_run
    if not alert_mailer.enabled:
        context.log.info(f"run {run.run_id} failed; no alert recipients configured")
        return
    steps = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:  # the user's error, not Dagster's
            error = error.cause
        steps.append((event.step_key or "?", error.message.strip() if error else "(no error)"))
    subject, text = failure_message(
        run, context.failure_event.message, steps, datetime.now(UTC).replace(tzinfo=None)
    )
    alert_mailer.send(
        subject,
        text,
        f'<pre style="white-space:pre-wrap;font-family:monospace">{html.escape(text)}</pre>',
        idstring=f"run-failure.{run.run_id}",
        on_retry=context.log.warning,
    )
    context.log.info(f"alert for run {run.run_id} sent to {len(alert_mailer.recipients)}")


# ---- later days ------------------------------------------------------------------------

DATA_VERSION_TAG = "dagster/data_version"
RERUN_TAG = "podcast_insights/rerun_because"
NOT_FINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def self_dependent(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """The assets whose day depends on their own earlier day (`topics`, `daily_digest`)."""
    return sorted(
        {
            spec.key
            for a in assets
            for spec in a.specs
            for dep in spec.deps
            if dep.asset_key == spec.key
        },
        key=lambda k: k.to_user_string(),
    )


def stale_later_days(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partitions_def: dg.TimeWindowPartitionsDefinition,
) -> list[tuple[str, str, int]]:
    """The later days of `key` built on an earlier day since rematerialised with other data:
    (later day, earlier day, the storage id of the earlier day's newest materialization).

    "Other data": the earlier day's data version now differs from the one it had when the
    later day was built (the same rows give the same version, so a rerun that changed nothing
    marks nothing); an earlier day that did not exist then counts as changed.
    """
    latest = instance.get_latest_storage_id_by_partition(
        key, dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    stale = []
    for earlier, earlier_id in sorted(latest.items()):
        later = partitions_def.get_next_partition_key(earlier)
        if later is None or later not in latest or latest[later] > earlier_id:
            continue  # no later day, never built, or built after this one
        (now,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, storage_ids=[earlier_id]), limit=1
        ).records
        then = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=key, asset_partitions=[earlier], before_storage_id=latest[later]
            ),
            limit=1,
        ).records
        if not then or _data_version(then[0]) != _data_version(now) or _data_version(now) is None:
            stale.append((later, earlier, earlier_id))
    return stale


def _data_version(record: Any) -> str | None:
    materialization = record.asset_materialization
    return (materialization.tags or {}).get(DATA_VERSION_TAG) if materialization else None


def later_days_sensor(assets: Sequence[dg.AssetsDefinition]) -> dg.SensorDefinition:
    """Re-runs, in date order, the later days built on an earlier day that was rematerialised."""
    keys = self_dependent(assets)

    @dg.sensor(
        name="later_days_rerun",
        description=(
            "When an earlier day of topics or daily_digest is rematerialised with other data, "
            "the next day built on it is stale: rerun it (and what follows from it that day), "
            "one day at a time, in date order, while no other run or backfill is going."
        ),
        target=dg.AssetSelection.assets(*keys).downstream(),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def later_days_rerun(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

        instance = context.instance
        if instance.get_run_records(dg.RunsFilter(statuses=NOT_FINISHED), limit=1):
            return dg.SkipReason("a run is queued or in progress; later days wait for it")
        if instance.get_backfills(
            filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]), limit=1
        ):
            return dg.SkipReason("a backfill is in progress; later days wait for it")
        assert context.repository_def is not None  # a sensor always runs in its code location
        graph = context.repository_def.asset_graph
        stale: dict[str, list[tuple[dg.AssetKey, str, int]]] = {}
        for key in keys:
            partitions_def = graph.get(key).partitions_def
            if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
                continue  # only day partitions have a later day
            for later, earlier, event in stale_later_days(instance, key, partitions_def):
                stale.setdefault(later, []).append((key, earlier, event))
        if not stale:
            return dg.SkipReason("no later day is stale")
        day = min(stale)  # the earliest first: each day builds on the one before
        because = ", ".join(f"{k.to_user_string()} {earlier}" for k, earlier, _ in stale[day])
        events = ",".join(str(event) for _, _, event in stale[day])
        selection = dg.AssetSelection.assets(*(k for k, _, _ in stale[day])).downstream()
        partitions_def = graph.get(stale[day][0][0]).partitions_def
        targets = sorted(
            (k for k in selection.resolve(graph) if graph.get(k).partitions_def == partitions_def),
            key=lambda k: k.to_user_string(),
        )
        context.log.info(f"{day} is stale: built on {because} before it was rematerialised")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{day} after {events}",  # once per rematerialisation
                    partition_key=day,
                    asset_selection=targets,
                    tags={RERUN_TAG: f"rematerialised: {because}"},
                )
            ],
        )

    return later_days_rerun
