"""Checks, alerts and retries as an operator meets them: graded checks, a blocking check that
stops delivery, the digest's freshness, a mail for a failed run read back from a real SMTP
server, and a step retried while another process holds the warehouse."""

import email
import json
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from email import policy

import dagster as dg
import pytest

from dagster_project import checks, sensors
from dagster_project.assets.common import DAILY
from dagster_project.assets.digest import daily_digest
from dagster_project.assets.feeds import episodes_unique
from dagster_project.definitions import DIGEST_FRESHNESS, STAGES, defs
from dagster_project.resources.mailer import Mailer
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse, WarehouseUnavailable
from tests.test_warehouse import hold_lock

DAY = "2026-11-18"


@pytest.fixture
def smtp():
    """A real aiosmtpd server on 127.0.0.1; yields (port, list of received messages)."""
    from aiosmtpd.controller import Controller

    received: list[email.message.EmailMessage] = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


# ---- severities ------------------------------------------------------------------------


def test_every_check_is_graded_on_purpose():
    """Blocking checks stop delivery (ERROR); every other check of the stages warns."""
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    stage_assets = {k for a in dg.load_assets_from_modules(STAGES) for k in a.keys}
    specs = {s.name: s for c in loaded.asset_checks for s in c.check_specs}
    ours = {name for name, s in specs.items() if s.asset_key in stage_assets}  # not dbt's tests
    blocking = {name for name in ours if specs[name].blocking}
    assert blocking == {"episodes_unique", "daily_digest_well_formed"}
    assert ours - blocking == checks.WARN_ONLY | {"freshness_check"}
    assert {s.name for s in loaded.sensors} == {
        "run_failure_alerts", "daily_digest_freshness", "later_days_rerun"}  # fmt: skip


def test_a_warn_check_on_a_bad_table_warns_and_the_run_goes_on(tmp_path):
    (claims_valid,) = [
        c
        for c in checks.graded(dg.load_asset_checks_from_modules(STAGES))
        if {s.name for s in c.check_specs} == {"claims_valid"}
    ]
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    bad = {"feed": "f", "episode_guid": "g", "start_s": 1.0, "end_s": 2.0, "text": "x"}
    rows = [{**bad, "claim_id": "c1", "score": 1.5}, {**bad, "claim_id": "c2", "score": 0.5}]
    wh.replace_partition("claims", date.fromisoformat(DAY), rows)

    @dg.asset(name="claims", partitions_def=DAILY)
    def stored_claims() -> None:
        """The day's claims, already in the warehouse."""

    home = DataHome(home=str(tmp_path / "data"), feeds_file=str(tmp_path / "feeds.yaml"))
    resources = {"warehouse": wh, "data_home": home}
    result = dg.materialize([stored_claims, claims_valid], partition_key=DAY, resources=resources)
    assert result.success
    evaluation = check_results(result)["claims_valid"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    failed = evaluation.metadata["failed"].value

    # The same rows again: the stored result, the offending row named as before; rows
    # mended: validated afresh.
    again = dg.materialize([stored_claims, claims_valid], partition_key=DAY, resources=resources)
    assert check_results(again)["claims_valid"].metadata["failed"].value == failed
    assert not check_results(again)["claims_valid"].passed
    assert "c1" in json.dumps(failed)
    wh.replace_partition("claims", date.fromisoformat(DAY), [rows[1]])
    mended = dg.materialize([stored_claims, claims_valid], partition_key=DAY, resources=resources)
    assert check_results(mended)["claims_valid"].passed


def test_a_blocking_check_stops_delivery_and_fails_the_run(tmp_path):
    """Two rows for one feed + GUID: episodes_unique fails (ERROR) and nothing after it runs."""
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    ran = []

    @dg.asset(name="episodes", partitions_def=DAILY)
    def stand_in_episodes(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse):
        row = {"feed": "f", "guid": "g1", "title": "t"}
        warehouse.replace_partition(
            "episodes", date.fromisoformat(context.partition_key), [row, row]
        )

    @dg.asset(name="episode_audio", partitions_def=DAILY, deps=["episodes"])
    def downstream(context):
        ran.append(context.partition_key)

    result = dg.materialize(
        [stand_in_episodes, downstream, episodes_unique],
        partition_key=DAY,
        resources={"warehouse": wh},
        raise_on_error=False,
    )
    assert not result.success
    evaluation = check_results(result)["episodes_unique"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["duplicates"].value == [{"feed": "f", "guid": "g1", "n": 2}]
    assert ran == []  # the blocking check held the next step back


# ---- freshness -------------------------------------------------------------------------


def freshness(instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [daily_digest, *DIGEST_FRESHNESS],
        selection=dg.AssetSelection.checks(*DIGEST_FRESHNESS),
        instance=instance,
        resources={"warehouse": DuckDBWarehouse(path=":memory:")},
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_the_digest_is_fresh_once_yesterdays_exists():
    """Before the deadline today the day before yesterday is due, after it yesterday: both."""
    today = datetime.now(UTC).date()
    with dg.instance_for_test() as instance:
        old = (today - timedelta(days=4)).isoformat()
        instance.report_runless_asset_event(dg.AssetMaterialization("daily_digest", partition=old))
        late = freshness(instance)
        assert not late.passed
        assert late.severity == dg.AssetCheckSeverity.WARN
        assert "overdue" in late.description
        for days in (1, 2):
            day = (today - timedelta(days=days)).isoformat()
            instance.report_runless_asset_event(
                dg.AssetMaterialization("daily_digest", partition=day)
            )
        assert freshness(instance).passed


# ---- alerts ----------------------------------------------------------------------------


def test_a_failed_run_mails_the_operators(smtp):
    port, received = smtp

    @dg.asset(partitions_def=DAILY)
    def transcripts():
        raise ValueError("feed 'signal-and-noise', episode 'sn/1': audio decoder crashed")

    with dg.instance_for_test() as instance:
        result = dg.materialize(  # as the UI launches it: the selected assets
            [transcripts],
            selection=[transcripts],
            partition_key=DAY,
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        mailer = Mailer(host="127.0.0.1", port=port, sender="Insights <ops@example.org>",
                        recipients=["oncall@example.org"])  # fmt: skip
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure.dagster_event,
            resources={"alert_mailer": mailer},
        ).for_run_failure()
        sensors.run_failure_alerts(context)

    (msg,) = received
    assert msg["To"] == "oncall@example.org"
    assert msg["Subject"] == f"[Podcast Insights] run failed: transcripts for {DAY}"
    text = msg.get_body(("plain",)).get_content()
    assert result.run_id in text
    assert "- transcripts: ValueError: feed 'signal-and-noise', episode 'sn/1'" in text
    assert msg["Message-ID"].endswith("@example.org>")


def test_no_alert_recipients_no_mail(smtp):
    port, received = smtp
    with dg.instance_for_test() as instance:

        @dg.asset
        def broken():
            raise RuntimeError("boom")

        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=failure.dagster_event,
            resources={"alert_mailer": Mailer(host="127.0.0.1", port=port)},
        ).for_run_failure()
        sensors.run_failure_alerts(context)
    assert received == []


# ---- retries ---------------------------------------------------------------------------


def test_a_step_that_meets_a_locked_warehouse_is_retried(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path=str(path), lock_timeout_s=0.5, retry_wait_s=1.0, retries=5)
    wh.ensure_schema()

    writing = threading.Event()

    @dg.asset(partitions_def=DAILY)
    def topics(context: dg.AssetExecutionContext, warehouse: DuckDBWarehouse):
        writing.set()
        day = date.fromisoformat(context.partition_key)
        warehouse.replace_partition("topics", day, [{"topic_id": "t1", "label": "x"}])

    holder = hold_lock(path, 2.5, after=writing)
    try:
        result = dg.materialize([topics], partition_key=DAY, resources={"warehouse": wh})
    finally:
        holder.wait(10)
    assert result.success
    retried = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert retried, "the step should have been put up for retry"
    assert [r["topic_id"] for r in wh.rows("topics", date.fromisoformat(DAY))] == ["t1"]


def test_outside_a_step_a_locked_warehouse_is_a_clear_error(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path=str(path), lock_timeout_s=0.5)
    wh.ensure_schema()
    holder = hold_lock(path, 3)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseUnavailable, match="stayed locked by another writer"):
            wh.rows("topics", date.fromisoformat(DAY))
        assert time.monotonic() - started < 2.5
    finally:
        holder.wait(10)


# ---- later days ------------------------------------------------------------------------

DAYS = ["2026-11-16", "2026-11-17", "2026-11-18"]


class Days:
    """Stand-ins shaped like the pipeline's day-on-day assets: topics and daily_digest build on
    their own previous day, digest_delivery on the day's digest. `content[day]` is what a day's
    topics hold: its data version, as the warehouse reports one for the rows it wrote."""

    def __init__(self, instance: dg.DagsterInstance):
        from dagster_project.assets.common import previous_day

        self.instance = instance
        self.content = dict.fromkeys(DAYS, "v1")
        content = self.content

        @dg.asset(name="topics", partitions_def=DAILY, deps=[previous_day("topics")])
        def topics(context: dg.AssetExecutionContext):
            return dg.MaterializeResult(data_version=dg.DataVersion(content[context.partition_key]))

        @dg.asset(partitions_def=DAILY, deps=[topics, previous_day("daily_digest")])
        def daily_digest(context: dg.AssetExecutionContext):
            return dg.MaterializeResult(data_version=dg.DataVersion(content[context.partition_key]))

        @dg.asset(partitions_def=DAILY, deps=[daily_digest])
        def digest_delivery():
            pass

        self.assets = [topics, daily_digest, digest_delivery]
        self.sensor = sensors.later_days_sensor(self.assets)
        self.defs = dg.Definitions(assets=self.assets, sensors=[self.sensor])

    def run(self, day: str, selection=None, tags=None) -> None:
        result = dg.materialize(self.assets, selection=selection, partition_key=day,
                                instance=self.instance, tags=tags)  # fmt: skip
        assert result.success

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(
            instance=self.instance, repository_def=self.defs.get_repository_def()
        )
        result = self.sensor(context)
        return [] if isinstance(result, dg.SkipReason) else list(result.run_requests or [])

    def stale(self, key: str, day: str) -> bool:
        """What the UI shows for the day (Dagster's own staleness, under 100 partitions)."""
        from dagster._core.definitions.data_version import StaleStatus
        from dagster._utils.test.data_versions import get_stale_status_resolver

        resolver = get_stale_status_resolver(self.instance, self.assets)
        return resolver.get_status(dg.AssetKey(key), day) == StaleStatus.STALE


def test_a_rerun_of_an_earlier_day_marks_later_days_and_reruns_them_in_order():
    with dg.instance_for_test() as instance:
        days = Days(instance)
        for day in DAYS:
            days.run(day)
        assert days.tick() == []  # built in order: nothing is stale

        days.content["2026-11-16"] = "v2"  # the earlier day's topics change on a rerun
        days.run("2026-11-16")
        assert days.stale("topics", "2026-11-17") and days.stale("daily_digest", "2026-11-17")

        (request,) = days.tick()
        assert request.partition_key == "2026-11-17"
        assert {k.to_user_string() for k in request.asset_selection} == {
            "topics", "daily_digest", "digest_delivery"}  # fmt: skip
        assert "topics 2026-11-16" in request.tags[sensors.RERUN_TAG]
        assert days.tick()[0].run_key == request.run_key  # asked again, deduplicated by key

        days.content["2026-11-17"] = "v2"
        days.run(request.partition_key, request.asset_selection, request.tags)
        assert not days.stale("topics", "2026-11-17")
        (request,) = days.tick()
        assert request.partition_key == "2026-11-18"  # then the day after, in order

        days.run(request.partition_key, request.asset_selection, request.tags)
        assert days.tick() == []


def test_a_rerun_that_changes_nothing_marks_nothing():
    with dg.instance_for_test() as instance:
        days = Days(instance)
        for day in DAYS:
            days.run(day)
        days.run("2026-11-16")  # the same inputs give the same rows: the same data version
        assert days.tick() == []
        assert not days.stale("topics", "2026-11-17")


def test_later_days_wait_while_a_run_is_going():
    with dg.instance_for_test() as instance:
        days = Days(instance)
        for day in DAYS[:2]:
            days.run(day)
        days.content["2026-11-16"] = "v2"
        days.run("2026-11-16")
        job = days.defs.resolve_implicit_global_asset_job_def()
        waiting = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED)
        assert days.tick() == []
        instance.report_run_canceled(waiting)
        assert [r.partition_key for r in days.tick()] == ["2026-11-17"]


def test_the_pipeline_reruns_its_day_on_day_assets():
    assert sensors.self_dependent(dg.load_assets_from_modules(STAGES)) == [
        dg.AssetKey("daily_digest"),
        dg.AssetKey("topics"),
    ]


# ---- the instance ----------------------------------------------------------------------


def test_the_instance_example_queues_one_run_at_a_time(tmp_path):
    """deploy/dagster.yaml.example, loaded as Dagster loads $DAGSTER_HOME/dagster.yaml."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml.example"
    (tmp_path / "dagster.yaml").write_text(example.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()  # what the run queue daemon reads
        assert config.run_queue_config.max_concurrent_runs == 1
        assert config.pool_config.default_pool_limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert not instance.telemetry_enabled
