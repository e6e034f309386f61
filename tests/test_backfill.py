"""A three-day backfill as a data engineer launches it from the UI, under the deployed limits.

A real instance made from deploy/dagster.yaml.example, a real `dagster-daemon run` on the
project's workspace, and the backfill submitted through the UI's GraphQL mutation. It backfills
the dbt marts over a warehouse seeded like tests/test_marts.py (no models), so it is quick, and
proves what the example promises: the runs queue and run one at a time, the `warehouse` pool
holds one step at a time, and each day's run builds that day's rows and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus

from dagster_project.resources.warehouse import DuckDBWarehouse
from tests.conftest import stop_group
from tests.test_marts import (
    MARTS,
    MON,
    SHOWS,
    TUE,
    WED,
    expected_weekly,
    mart_rows,
    seed_day,
    seed_days,
    weekly,
)

REPO = Path(__file__).resolve().parents[1]
DAYS = [MON, TUE, WED]
THU = WED.fromordinal(WED.toordinal() + 1)  # seeded, not backfilled: no run may build it
TIMEOUT_S = 600  # the whole backfill; a day's run takes 30-60 s on two busy cores

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""


def marts_keys() -> list[dg.AssetKey]:
    """The dbt models' asset keys: the node `marts` of the project's definitions."""
    from dagster_project.definitions import defs

    (marts,) = [a for a in defs().assets if a.node_def.name == "marts"]
    return sorted(marts.keys)


def launch_from_the_ui(
    instance: dg.DagsterInstance, workspace: Path, keys: set[dg.AssetKey], days: list[str]
) -> str:
    """What the UI does: turn the automation off (no sensor run between the backfill's runs),
    then *Materialize* the marts over a range of days, which launches a backfill."""
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    with define_out_of_process_context(str(workspace), None, instance) as context:
        for location in context.code_locations:
            for repo in location.get_repositories().values():
                for sensor in repo.get_sensors():
                    origin = sensor.get_remote_origin_id()
                    instance.stop_sensor(origin, sensor.selector_id, sensor)
        params = {
            "assetSelection": [{"path": k.path} for k in keys],
            "partitionNames": days,
            "title": "three days of marts",
        }
        result = execute_dagster_graphql(context, LAUNCH, {"params": params})
    launched = result.data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def day_of(run: dg.DagsterRun) -> str | None:
    """The run's day: a one-day run of a multi-run backfill carries it as a range of one."""
    tags = run.tags
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    if start is not None and start == end:
        return start
    return tags.get("dagster/partition")


def tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """The example instance in tmp_path, the data home and feeds file there too."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml.example").read_text())
    data = tmp_path / "data"
    data.mkdir()
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    settings = {"PODCAST_INSIGHTS_HOME": str(data), "PODCAST_INSIGHTS_FEEDS": str(feeds)}
    for name in [k for k in os.environ if k.startswith("PODCAST_INSIGHTS_")]:
        monkeypatch.delenv(name)  # the defaults (DuckDB, the first day), not the shell's
    for name, value in settings.items():
        monkeypatch.setenv(name, value)  # the code server the test's GraphQL context starts
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)  # loading the definitions sets it
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {"home": home, "data": data, "env": env, "log": tmp_path / "daemon.log"}


def wait_for_backfill(instance, backfill_id: str, daemon: subprocess.Popen, log: Path):
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        backfill = instance.get_backfill(backfill_id)
        if backfill.status in BULK_ACTION_TERMINAL_STATUSES:
            return backfill
        if daemon.poll() is not None:
            pytest.fail(f"dagster-daemon exited ({daemon.returncode}):\n{tail(log)}")
        if time.monotonic() > deadline:
            runs = [(day_of(r), r.status.value) for r in instance.get_runs()]
            pytest.fail(f"backfill still {backfill.status.value} after {TIMEOUT_S} s; "
                        f"runs {runs}; daemon log:\n{tail(log)}")  # fmt: skip
        time.sleep(1)


def step_window(instance, run_id: str, step: str) -> tuple[float, float]:
    types = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
             dg.DagsterEventType.STEP_FAILURE}  # fmt: skip
    events = [e for e in instance.all_logs(run_id, of_type=types) if e.step_key == step]
    assert [e.dagster_event_type for e in events] == [
        dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS], run_id  # fmt: skip
    return events[0].timestamp, events[1].timestamp


def no_two_at_once(windows: dict[str, tuple[float, float]]) -> None:
    ordered = sorted(windows.items(), key=lambda kv: kv[1][0])
    for (first, (_, ended)), (then, (started, _)) in pairwise(ordered):
        assert started >= ended, f"{then} started {ended - started:.2f} s before {first} ended"


@pytest.mark.slow
def test_a_backfill_of_three_days_runs_one_day_at_a_time_under_the_pool_limit(deployment):
    wh = DuckDBWarehouse(path=str(deployment["data"] / "warehouse.duckdb"))
    seed_days(wh, DAYS)
    seed_day(wh, THU, [("gamma", "t-rates", 3)])
    days = [d.isoformat() for d in DAYS]
    keys = set(marts_keys())

    with dg.DagsterInstance.from_config(str(deployment["home"])) as instance:
        assert instance.event_log_storage.get_pool_limits() == []  # no pool used yet
        backfill_id = launch_from_the_ui(instance, REPO / "workspace.yaml", keys, days)

        log = deployment["log"].open("w")
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run",
             "-w", str(REPO / "workspace.yaml")],
            env=deployment["env"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the daemon and its children
        )  # fmt: skip
        try:
            backfill = wait_for_backfill(instance, backfill_id, daemon, deployment["log"])
        finally:
            stop_group(daemon, timeout=60)
            log.close()

        # Every run succeeded: one a day, all of them the backfill's.
        records = instance.get_run_records()
        summary = {day_of(r.dagster_run): r.dagster_run.status.value for r in records}
        assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, summary
        assert summary == dict.fromkeys(days, "SUCCESS"), tail(deployment["log"])
        assert {r.dagster_run.tags["dagster/backfill"] for r in records} == {backfill_id}

        # They were queued together, and yet never two in progress at once.
        runs = {day_of(r.dagster_run): r for r in records}
        first_end = min(r.end_time for r in records)
        assert all(r.create_timestamp.timestamp() < first_end for r in records), (
            "the backfill did not queue its runs together: the run limit was never tested"
        )
        no_two_at_once({day: (r.start_time, r.end_time) for day, r in runs.items()})

        # The dbt step ran in the `warehouse` pool, limit 1, and never beside another.
        pools = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
        assert pools == {"warehouse": 1}
        no_two_at_once({day: step_window(instance, r.dagster_run.run_id, "marts")
                        for day, r in runs.items()})  # fmt: skip

        # Each day's run built that day: dbt got the day as its window and materialised that
        # day's partition only; dbt's tests of the day passed.
        for day, record in runs.items():
            run_id = record.dagster_run.run_id
            logs = [e.user_message for e in instance.all_logs(run_id)]
            window = json.dumps({"min_date": day, "max_date": day})[1:-1]
            assert any(m.startswith("dbt build --vars") and window in m for m in logs), day
            materialized = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)  # noqa: E501  # fmt: skip
            assert {e.dagster_event.partition for e in materialized} == {day}
            assert {e.dagster_event.asset_key for e in materialized} == keys
            checks = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
            evaluations = [e.dagster_event.event_specific_data for e in checks]
            # (Dagster gives a check result a partition only in a run of one partition key; a
            # backfill's one-day runs carry a range of one, so these have none.)
            assert evaluations and all(c.passed for c in evaluations), day

    # And the warehouse holds those three days' marts, right, and no row of the fourth day,
    # whose source rows are there for any run that built more than its own day.
    assert wh.rows("topics", THU) and wh.rows("claims", THU)
    for table in MARTS:
        assert {r["partition_date"] for r in mart_rows(wh, table)} == set(DAYS), table
    for feed in SHOWS:
        assert weekly(wh, feed, MON) == expected_weekly(feed, DAYS)
