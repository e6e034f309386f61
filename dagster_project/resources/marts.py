"""dbt over the warehouse: the marts analysts read, built after each day's tables."""

import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import dagster as dg
import yaml
from dagster_dbt import DbtCliResource
from packaging import version

from dagster_project.lib import tuning
from dagster_project.lib.content_key import content_key
from dagster_project.lib.settings import PROJECT_ROOT
from dagster_project.resources.secrets import resolved

DBT_DIR = PROJECT_ROOT / "dbt"


def source_tables() -> list[str]:
    """The warehouse tables dbt reads (its sources, dbt/models/staging/sources.yml)."""
    spec = yaml.safe_load((DBT_DIR / "models" / "staging" / "sources.yml").read_text())
    return sorted(t["name"] for source in spec["sources"] for t in source["tables"])


def project_files() -> list[Path]:
    """The dbt project's own files: its settings, models, macros and tests."""
    files = [
        *DBT_DIR.glob("*.yml"),
        *(p for d in ("models", "macros", "tests") for p in DBT_DIR.glob(f"{d}/**/*")),
    ]
    return sorted(p for p in files if p.is_file())


def project_files_key() -> str:
    """The content of the dbt project's files: a changed model or test builds again."""
    return content_key([(str(p.relative_to(DBT_DIR)), p.read_text()) for p in project_files()])


def dbt_executable() -> str:
    """The dbt installed beside the interpreter running Dagster.

    Cron and systemd start `.venv/bin/dagster` with the system PATH, which has no `dbt`; the
    one that belongs to this environment sits next to `sys.executable`.
    """
    beside = Path(sys.executable).parent / "dbt"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise FileNotFoundError(f"no dbt executable beside {sys.executable} or on PATH")
    return found


class DbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two things it does at every call that the marts
    do not need.

    - dbt's version: dagster-dbt runs `dbt --version`, which asks PyPI for the latest release
      (a network request at run time, about 2 s). The dbt beside this interpreter is the
      dbt-core installed with it, whose version is known here; any other dbt is still asked.
    - a dbt adapter opened in this process (about 3 s): dagster-dbt uses it only to fetch
      column metadata and row counts, which the marts do not ask for (they count their rows
      once dbt has let go of the warehouse).
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            from dbt.version import __version__

            return version.parse(__version__)
        return DbtCliResource._cli_version.func(self)  # pyright: ignore[reportAttributeAccessIssue]

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:
        return None


def dbt_cli() -> DbtCli:
    """The dbt project's CLI, run by the dbt beside this interpreter."""
    return DbtCli(
        project_dir=str(DBT_DIR), profiles_dir=str(DBT_DIR), dbt_executable=dbt_executable()
    )


class DbtMarts(dg.ConfigurableResource):
    """Runs `dbt build` against the same warehouse the pipeline writes (DuckDB or PostgreSQL)."""

    duckdb_path: str = ""  # the DuckDB warehouse file; unused when postgres_url is set
    postgres_url: str = ""
    postgres_schema: str = "podcast_insights"

    def _env(self) -> dict[str, str]:
        env = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        if self.postgres_url:
            url = urlparse(resolved(self.postgres_url))
            env.update(
                PODCAST_INSIGHTS_DBT_TARGET="postgres",
                PODCAST_INSIGHTS_PG_HOST=url.hostname or "127.0.0.1",
                PODCAST_INSIGHTS_PG_PORT=str(url.port or 5432),
                PODCAST_INSIGHTS_PG_USER=unquote(url.username or "postgres"),
                PODCAST_INSIGHTS_PG_PASSWORD=unquote(url.password or ""),
                PODCAST_INSIGHTS_PG_DB=url.path.lstrip("/") or "postgres",
                PODCAST_INSIGHTS_WAREHOUSE_SCHEMA=self.postgres_schema,
            )
        else:
            env.update(
                PODCAST_INSIGHTS_DBT_TARGET="duckdb",
                PODCAST_INSIGHTS_DUCKDB_PATH=os.path.abspath(self.duckdb_path),
            )
        return env

    @contextmanager
    def _environment(self) -> Iterator[None]:
        """dbt reads its connection from the environment (profiles.yml); set it for the call."""
        saved = {k: os.environ.get(k) for k in self._env()}
        os.environ.update(self._env())
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def dbt_vars(self, context: dg.AssetExecutionContext | None, all_days: bool = False) -> dict:
        """The run's vars: its days (min_date..max_date, inclusive) and the digest's top_k.

        Without days (`all_days`, or an unpartitioned run) dbt rebuilds every day.
        """
        found: dict[str, Any] = {"top_k": tuning.TOP_K}
        partitioned = context is not None and (
            context.has_partition_key or context.has_partition_key_range
        )
        if context is not None and partitioned and not all_days:
            window = context.partition_time_window
            # The window's end is exclusive: the last day is the one before it.
            found["min_date"] = window.start.date().isoformat()
            found["max_date"] = (window.end - timedelta(days=1)).date().isoformat()
        return found

    def build(self, context: dg.AssetExecutionContext, full_refresh: bool = False) -> Iterator[Any]:
        """`dbt build` of the run's days; `full_refresh` rebuilds every day from scratch."""
        dbt_vars = self.dbt_vars(context, all_days=full_refresh)
        args = ["build", "--vars", json.dumps(dbt_vars)]
        if full_refresh:
            args.append("--full-refresh")
        context.log.info(f"dbt {' '.join(args)}")
        with self._environment():
            yield from dbt_cli().cli(args, context=context).stream()

    def run(self, args: list[str]) -> dict[str, Any]:
        """Any dbt command outside a Dagster run (source freshness, a whole rebuild by hand).

        Returns dbt's run results (run_results.json, or sources.json for `source freshness`).
        """
        with self._environment():
            invocation = dbt_cli().cli(args, raise_on_error=False).wait()
        artifact = "sources.json" if args[:2] == ["source", "freshness"] else "run_results.json"
        results = invocation.get_artifact(artifact)
        return {"success": invocation.is_successful(), **results}
