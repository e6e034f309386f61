"""`podcast-insights`: print a stored digest, or a finished run's stage progress."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

import dagster as dg
from pydantic import ValidationError

from dagster_project.lib.digest import Digest
from dagster_project.lib.render import to_markdown
from dagster_project.lib.settings import Settings

# dbt's housekeeping lines: nothing a person running the day needs to read.
QUIET = ("A dbt subsetted execution", "Copying `", "Running dbt command")


def show(day: str) -> int:
    """Print a day's published digest (its JSON, read as the contract, shown as Markdown)."""
    path = Settings.from_env().home / "digests" / f"{date.fromisoformat(day).isoformat()}.json"
    if not path.exists():
        print(f"no digest for {day} at {path}", file=sys.stderr)
        return 1
    try:
        digest = Digest.model_validate_json(path.read_text())
    except ValidationError as exc:
        print(f"{path} is not a digest: {exc}", file=sys.stderr)
        return 1
    print(to_markdown(digest), end="")
    print(f"\n(files: {path}, .md, .html)")
    return 0


def progress(instance: dg.DagsterInstance, run_id: str | None = None) -> int:
    """One line per stage event worth a person's attention, read from the run's stored events:
    what each step logged (its `done:` summary, warnings), failed checks and failed steps.
    The run is `run_id`, or the instance's latest; 1 when it did not succeed."""
    run = instance.get_run_by_id(run_id) if run_id else next(iter(instance.get_runs(limit=1)), None)
    if run is None:
        print(f"no run {run_id or 'at all'} in the instance", file=sys.stderr)
        return 1
    entries = instance.all_logs(run.run_id)
    started = entries[0].timestamp if entries else 0.0
    errors: list[str] = []
    for entry in entries:
        line = _line(entry)
        if line is None:
            continue
        print(f"[{entry.timestamp - started:6.1f}s] {entry.step_key or '-':<22} {line[:300]}")
        if entry.dagster_event is not None and entry.dagster_event.is_step_failure:
            errors.append(f"{entry.step_key}: {_error(entry.dagster_event)}")
    if run.status != dg.DagsterRunStatus.SUCCESS:
        print(f"run {run.run_id} {run.status.value.lower()}", file=sys.stderr)
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def _line(entry: dg.EventLogEntry) -> str | None:
    """What a person reads of one event, or None when it is Dagster's or dbt's bookkeeping."""
    event = entry.dagster_event
    if event is None:  # a step's own log line
        message = entry.user_message
        level = entry.level if isinstance(entry.level, int) else logging.getLevelName(entry.level)
        if level < logging.INFO or (message.startswith(QUIET) and level < logging.WARNING):
            return None
        return message if level < logging.WARNING else f"{logging.getLevelName(level)}: {message}"
    if event.is_step_failure:
        return f"FAILED: {_error(event)}"
    evaluation = event.event_specific_data
    if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
        if evaluation.severity == dg.AssetCheckSeverity.WARN:  # a warning, not a failure
            return f"check {evaluation.check_name} warns: {evaluation.description or ''}"
        return f"check {evaluation.check_name} failed"
    return None


def _error(event: dg.DagsterEvent) -> str:
    """The user's error behind a failed step, not Dagster's wrapper around it."""
    error = event.step_failure_data.error
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else "(no error)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podcast-insights")
    sub = parser.add_subparsers(dest="command", required=True)
    p_show = sub.add_parser("show", help="print the stored digest of a day")
    p_show.add_argument("day")
    p_progress = sub.add_parser("progress", help="print a finished run's stage progress")
    p_progress.add_argument("run_id", nargs="?", help="the run (default: the latest)")
    args = parser.parse_args(argv)
    if args.command == "show":
        return show(args.day)
    with dg.DagsterInstance.get() as instance:  # $DAGSTER_HOME's, where the run was stored
        return progress(instance, args.run_id)


if __name__ == "__main__":
    sys.exit(main())
