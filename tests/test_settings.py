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
