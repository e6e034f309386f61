from datetime import date

from dagster_project.cli import progress, show
from dagster_project.lib.digest import Digest
from dagster_project.lib.render import to_json, to_markdown

LOG = [
    "2026-11-29 05:31:16 +0000 - dagster - DEBUG - daily_insights - "
    "2a8d0a9e-1c77-4d59-9d2c-6a1f7d0c9b11 - 123 - feeds - STEP_START - Started execution",
    "2026-11-29 05:31:17 +0000 - dagster - INFO - daily_insights - "
    "2a8d0a9e-1c77-4d59-9d2c-6a1f7d0c9b11 - feeds - done: feeds 4, fetched 4",
    "2026-11-29 05:31:18 +0000 - dagster - INFO - daily_insights - "
    "2a8d0a9e-1c77-4d59-9d2c-6a1f7d0c9b11 - marts - Copying `target/partial_parse.msgpack`",
    "2026-11-29 05:31:19 +0000 - dagster - WARNING - daily_insights - "
    "2a8d0a9e-1c77-4d59-9d2c-6a1f7d0c9b11 - episode_audio - feed 'x': audio: HTTP 404",
]


def test_progress_keeps_stage_results_and_warnings_only(capsys):
    assert progress(LOG) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in out] == ["feeds", "episode_audio"]
    assert "done: feeds 4" in out[0] and "HTTP 404" in out[1]


def test_progress_fails_on_a_failed_step(capsys):
    failed = LOG[0].replace("DEBUG", "ERROR").replace("STEP_START", "STEP_FAILURE")
    assert progress([*LOG, failed]) == 1


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
