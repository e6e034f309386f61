"""The one place that decides the environment: which warehouse, which mail server, which paths,
and where a run's steps execute (in the run's own process, or on Celery workers).

Secrets (the warehouse URL, which may carry a password, and the SMTP password) reach resources as
`dg.EnvVar`: Dagster resolves them when a run starts, so run snapshots in the instance and the
UI's config view show the variable's name, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

import dagster as dg
from dagster_celery import celery_executor

from dagster_project.lib.settings import Settings
from dagster_project.resources.mailer import Mailer
from dagster_project.resources.marts import DbtMarts
from dagster_project.resources.models import Nlp, TopicModeler, Transcriber
from dagster_project.resources.storage import DataHome
from dagster_project.resources.voices import SpeakerEncoder
from dagster_project.resources.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse
from dagster_project.resources.web import WebFetcher

WAREHOUSE_URL = "PODCAST_INSIGHTS_WAREHOUSE_URL"
SMTP_PASSWORD = "PODCAST_INSIGHTS_SMTP_PASSWORD"


def warehouse_for(settings: Settings, environ: Mapping[str, str]) -> Warehouse:
    """PostgreSQL when PODCAST_INSIGHTS_WAREHOUSE_URL names one, else DuckDB in the data folder."""
    url = environ.get(WAREHOUSE_URL, "")
    exports_dir = str(settings.home / "exports")  # each day's tables as Parquet, for analysts
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresWarehouse(
            url=dg.EnvVar(WAREHOUSE_URL),
            db_schema=environ.get("PODCAST_INSIGHTS_WAREHOUSE_SCHEMA", "podcast_insights"),
            exports_dir=exports_dir,
        )
    return DuckDBWarehouse(path=str(settings.duckdb_path), exports_dir=exports_dir)


def mailer_for(environ: Mapping[str, str], to: str = "PODCAST_INSIGHTS_SMTP_TO") -> Mailer:
    """The SMTP server; `to` names the variable with the recipients (the digest's, or alerts')."""
    recipients = [r.strip() for r in environ.get(to, "").split(",")]
    return Mailer(
        host=environ.get("PODCAST_INSIGHTS_SMTP_HOST", "localhost"),
        port=int(environ.get("PODCAST_INSIGHTS_SMTP_PORT", "25")),
        sender=environ.get("PODCAST_INSIGHTS_SMTP_FROM", "Podcast Insights <insights@localhost>"),
        recipients=[r for r in recipients if r],
        username=environ.get("PODCAST_INSIGHTS_SMTP_USER") or None,
        password=dg.EnvVar(SMTP_PASSWORD) if environ.get(SMTP_PASSWORD) else None,
        starttls=environ.get("PODCAST_INSIGHTS_SMTP_STARTTLS", "") == "1",
        # Where the digest pages are published: the email's and the RSS feed's links.
        site_url=environ.get("PODCAST_INSIGHTS_SITE_URL") or None,
        unsubscribe_mailto=environ.get("PODCAST_INSIGHTS_UNSUBSCRIBE_MAILTO") or None,
        unsubscribe_url=environ.get("PODCAST_INSIGHTS_UNSUBSCRIBE_URL") or None,
    )


def cache_numba(settings: Settings, environ: MutableMapping[str, str]) -> None:
    """numba's compiled functions (UMAP, HDBSCAN, pynndescent) kept on disk under the data home.

    numba reads NUMBA_CACHE_DIR when it is first imported, which the topic model does lazily,
    after the definitions have loaded: set here, every process that runs a step (in-process,
    a Celery worker, a pod) compiles once per data home instead of once per process, and needs
    no writable site-packages. A value already in the environment wins.
    """
    environ.setdefault("NUMBA_CACHE_DIR", str(settings.home / "cache" / "numba"))


def build_resources() -> dict[str, Any]:
    """The resources for this process's environment (read when the definitions load)."""
    env = os.environ
    settings = Settings.from_env(dict(env))
    cache_numba(settings, env)
    warehouse = warehouse_for(settings, env)
    return {
        "data_home": DataHome(home=str(settings.home), feeds_file=str(settings.feeds_file)),
        "web": WebFetcher(),
        "transcriber": Transcriber(),
        "nlp": Nlp(),
        "topic_model": TopicModeler(),
        "speaker_encoder": SpeakerEncoder(),
        "warehouse": warehouse,
        "mailer": mailer_for(env),
        # Operators, not readers: failed runs are mailed here (sensors.run_failure_alerts).
        "alert_mailer": mailer_for(env, to="PODCAST_INSIGHTS_ALERTS_TO"),
        "dbt_marts": (
            DbtMarts(postgres_url=dg.EnvVar(WAREHOUSE_URL), postgres_schema=warehouse.db_schema)
            if isinstance(warehouse, PostgresWarehouse)
            else DbtMarts(duckdb_path=warehouse.path)
        ),
    }


def _delegate(
    init_context: dg.InitExecutorContext, executor_def: dg.ExecutorDefinition, config: Any
) -> dg.Executor:
    create = executor_def.executor_creation_fn
    assert create is not None  # both executors delegated to are made by a function
    return create(
        dg.InitExecutorContext(
            job=init_context.job,
            executor_def=executor_def,
            executor_config=config,
            instance=init_context.instance,
        )
    )


@dg.executor(
    name="in_process_or_celery",
    config_schema=dg.Field(
        dg.Selector(
            {
                "in_process": dg.in_process_executor.config_schema.as_field(),
                "celery": celery_executor.config_schema.as_field(),
            }
        ),
        default_value={"in_process": {}},
    ),
    requirements=lambda config: (
        dg.multiple_process_executor_requirements() if "celery" in config else []
    ),
)
def in_process_or_celery(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Every step in the run's process (the default: models load once, nothing to set up), or,
    with `execution: {config: {celery: {broker: ...}}}` in the run config (deploy/celery/), each
    step as a Celery task that any worker on the broker picks up."""
    config: dict[str, Any] = dict(init_context.executor_config)
    if "celery" in config:
        return _delegate(init_context, celery_executor, config["celery"])
    return _delegate(init_context, dg.in_process_executor, config["in_process"])
