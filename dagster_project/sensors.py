"""Sensors: a mail to the operators when a run fails, and the digest's freshness check."""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from dagster_project.resources.mailer import Mailer

# The partition-true freshness check needs its sensor (see checks.py for why not FreshnessPolicy).
warnings.filterwarnings(
    "ignore", message="Function `build_sensor_for_freshness_checks` is superseded"
)

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
