from datetime import date

import dagster as dg
import pytest

from dagster_project.cli import progress, show
from dagster_project.lib.digest import Digest
from dagster_project.lib.render import to_json, to_markdown


@dg.asset
def feeds(context: dg.AssetExecutionContext) -> None:
    context.log.debug("parsed 4 items")
    context.log.info("done: feeds 4, fetched 4")
    context.log.info("Copying `target/partial_parse.msgpack`")  # dbt's housekeeping


@dg.asset(
    deps=[feeds],
    check_specs=[
        dg.AssetCheckSpec("episode_audio_found", asset="episode_audio"),
        dg.AssetCheckSpec("episode_audio_recent", asset="episode_audio"),
    ],
)
def episode_audio(context: dg.AssetExecutionContext):
    context.log.warning("feed 'x': audio: HTTP 404")
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="episode_audio_found", passed=False)
    yield dg.AssetCheckResult(
        check_name="episode_audio_recent",
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description="We expected partition 2026-11-28 to have arrived",
    )


@dg.asset(deps=[episode_audio])
def transcripts() -> None:
    raise ValueError("the model is missing")


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_progress_keeps_stage_results_and_warnings_only(instance, capsys):
    run = dg.materialize([feeds, episode_audio], instance=instance)
    assert progress(instance, run.run_id) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in out] == ["feeds"] + ["episode_audio"] * 3
    assert "done: feeds 4" in out[0]
    assert "WARNING: feed 'x': audio: HTTP 404" in out[1]
    assert "check episode_audio_found failed" in out[2]
    # a warning-severity check says so, with its reason, and is no failure
    assert "check episode_audio_recent warns: We expected partition 2026-11-28" in out[3]


def test_progress_fails_on_a_failed_step_and_names_its_error(instance, capsys):
    dg.materialize([feeds, episode_audio], instance=instance)
    failed = dg.materialize(
        [feeds, episode_audio, transcripts], instance=instance, raise_on_error=False
    )
    assert progress(instance) == 1  # the latest run
    captured = capsys.readouterr()
    assert (
        "transcripts" in captured.out and "FAILED: ValueError: the model is missing" in captured.out
    )
    assert f"run {failed.run_id} failure" in captured.err
    assert "transcripts: ValueError: the model is missing" in captured.err


def test_progress_without_a_run(instance, capsys):
    assert progress(instance) == 1
    assert "no run at all" in capsys.readouterr().err


def test_show_prints_the_published_digest_and_refuses_what_is_not_one(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PODCAST_INSIGHTS_HOME", str(tmp_path))
    assert show("2026-11-18") == 1
    assert "no digest for 2026-11-18" in capsys.readouterr().err

    digests = tmp_path / "digests"
    digests.mkdir()
    digest = Digest(date=date(2026, 11, 18), note="No new episodes were published.")
    (digests / "2026-11-18.json").write_text(to_json(digest))
    assert show("2026-11-18") == 0
    assert capsys.readouterr().out.startswith(to_markdown(digest))

    (digests / "2026-11-17.json").write_text('{"date": "2026-11-17", "insights": [{"rank": 0}]}')
    assert show("2026-11-17") == 1
    assert "is not a digest" in capsys.readouterr().err
