from pathlib import Path

import pytest

from dagster_project.lib.settings import FeedsFileError, Settings, load_feeds_file


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "feeds.yaml"
    p.write_text(text)
    return p


def test_relative_file_urls_resolve_against_the_feeds_file(tmp_path):
    cfg = load_feeds_file(write(tmp_path, "feeds:\n  - {name: a, url: 'file:shows/a.xml'}\n"))
    assert cfg.feeds[0].url == (tmp_path / "shows" / "a.xml").as_uri()
    assert cfg.allow_private_network is False


@pytest.mark.parametrize(
    "text, message",
    [
        ("feeds:\n  - {name: a, url: 'ftp://x/y'}\n", "http"),
        ("feeds:\n  - {name: a, url: 'http://x/1'}\n  - {name: a, url: 'http://x/2'}\n", "twice"),
        ("feeds:\n  - {name: a}\n", "needs 'name' and 'url'"),
        ("nothing: here\n", "'feeds:' list"),
        ("feeds: [\n", "not valid YAML"),
        ("allow_private_network: maybe\nfeeds: []\n", "true or false"),
        ("feeds:\n  - {name: ../../etc, url: 'http://x/1'}\n", "must be a slug"),
    ],
)
def test_bad_feeds_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(FeedsFileError, match=message):
        load_feeds_file(write(tmp_path, text))


def test_settings_read_the_environment_when_asked(tmp_path):
    s = Settings.from_env(
        {"PODCAST_INSIGHTS_FEEDS": str(tmp_path / "f.yaml"), "PODCAST_INSIGHTS_HOME": str(tmp_path)}
    )
    assert s.feeds_file == tmp_path / "f.yaml"
    assert s.home == tmp_path
    assert Settings.from_env({}).feeds_file.name == "feeds.yaml"


def test_the_first_partition_defaults_to_a_day_before_the_demo_and_benchmark_days():
    from datetime import date

    start = Settings.from_env({}).start_date
    assert start <= date(2026, 11, 18)  # the demo day
    assert start <= date(2026, 11, 20)  # the labelled benchmark's first day
    assert Settings.from_env({"PODCAST_INSIGHTS_START_DATE": "2024-02-29"}).start_date == date(
        2024, 2, 29
    )


@pytest.mark.parametrize("value", ["2026-13-01", "01/11/2026", "20261101", "yesterday", " "])
def test_an_invalid_start_date_names_the_variable_and_the_format(value):
    from dagster_project.lib.settings import SettingsError

    with pytest.raises(SettingsError, match=r"PODCAST_INSIGHTS_START_DATE.*YYYY-MM-DD"):
        Settings.from_env({"PODCAST_INSIGHTS_START_DATE": value})


def test_the_partitions_start_on_the_configured_day():
    """DAILY is built when the code location loads; a fresh interpreter shows what it read."""
    import os
    import subprocess
    import sys

    code = "from dagster_project.assets.common import DAILY; print(DAILY.start.date())"
    env = {**os.environ, "PODCAST_INSIGHTS_START_DATE": "2019-06-01"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "2019-06-01"
