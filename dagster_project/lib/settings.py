"""Where the project's inputs and outputs live: the one place that reads the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


# The first day partition unless PODCAST_INSIGHTS_START_DATE says otherwise: early enough for the
# demo day (2026-11-18) and the labelled benchmark days (2026-11-20/21), late enough that the UI
# and a backfill over "all" partitions offer only days a user can mean.
DEFAULT_START_DATE = date(2026, 11, 1)
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class FeedsFileError(ValueError):
    """The feeds file is missing or malformed."""


class SettingsError(ValueError):
    """An environment variable with a value the project cannot use; the message names it."""


def start_date_from_env(environ: Mapping[str, str] | None = None) -> date:
    """PODCAST_INSIGHTS_START_DATE, the first day partition (YYYY-MM-DD).

    The one reader of the variable. Dagster needs the partitions definition when the asset
    decorators run, so assets/common.py calls this at import: the value is read once, when the
    code location loads (a changed value takes effect on the next reload).
    """
    env = os.environ if environ is None else environ
    value = env.get("PODCAST_INSIGHTS_START_DATE")
    if value is None or value == "":
        return DEFAULT_START_DATE
    try:
        if not ISO_DAY.fullmatch(value.strip()):
            raise ValueError("not in the form YYYY-MM-DD")
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise SettingsError(
            f"PODCAST_INSIGHTS_START_DATE={value!r} is not a date: give the first day "
            f"partition as YYYY-MM-DD, e.g. 2026-11-01 ({exc})"
        ) from exc


@dataclass(frozen=True)
class Settings:
    feeds_file: Path
    home: Path
    start_date: date = DEFAULT_START_DATE  # the first day partition

    @property
    def duckdb_path(self) -> Path:
        """The DuckDB warehouse; dbt opens the same file (DbtMarts passes it on)."""
        return self.home / "warehouse.duckdb"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        feeds = Path(env.get("PODCAST_INSIGHTS_FEEDS") or PROJECT_ROOT / "feeds.yaml")
        home = Path(env.get("PODCAST_INSIGHTS_HOME") or PROJECT_ROOT / "data")
        return cls(
            feeds_file=feeds.resolve(), home=home.resolve(), start_date=start_date_from_env(env)
        )


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str


@dataclass(frozen=True)
class FeedsConfig:
    feeds: tuple[FeedSpec, ...]
    allow_private_network: bool = False


def _resolve_url(url: str, base_dir: Path) -> str:
    """Absolute http(s) URLs stay; `file:` URLs may be relative to the feeds file's folder."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        if not parsed.netloc:
            raise FeedsFileError(f"feed url {url!r} has no host")
        return url
    if parsed.scheme == "file":
        path = Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path)
        if not path.is_absolute():
            path = base_dir / path
        return path.resolve().as_uri()
    raise FeedsFileError(f"feed url {url!r} must be http(s):// or file:")


def load_feeds_file(path: Path) -> FeedsConfig:
    """Read and validate the feeds file (see README: the contract)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise FeedsFileError(f"feeds file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise FeedsFileError(f"feeds file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise FeedsFileError(f"feeds file {path} needs a top-level 'feeds:' list")
    seen: set[str] = set()
    feeds = []
    for i, item in enumerate(data["feeds"]):
        if not isinstance(item, dict) or not item.get("name") or not item.get("url"):
            raise FeedsFileError(f"feeds file {path}: entry {i} needs 'name' and 'url'")
        name = str(item["name"])
        if not SLUG.fullmatch(name):
            raise FeedsFileError(
                f"feeds file {path}: feed name {name!r} must be a slug (a-z, 0-9, '-')"
            )
        if name in seen:
            raise FeedsFileError(f"feeds file {path}: feed name {name!r} is used twice")
        seen.add(name)
        feeds.append(FeedSpec(name=name, url=_resolve_url(str(item["url"]), Path(path).parent)))
    allow = data.get("allow_private_network", False)
    if not isinstance(allow, bool):
        raise FeedsFileError(f"feeds file {path}: allow_private_network must be true or false")
    return FeedsConfig(feeds=tuple(feeds), allow_private_network=allow)
