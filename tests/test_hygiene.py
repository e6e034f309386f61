"""What the code location does when it loads: nothing to the process's environment or warnings,
no secret in the resources' configuration, no SQL detail offered as configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg

from dagster_project.lib.preview import (
    BACKFILL_POLICY,
    CHECK_PARTITIONS,
    FRESHNESS_CHECKS,
    FRESHNESS_SENSOR,
    NONEXISTENT_UPSTREAM,
)
from dagster_project.resources.environment import build_resources
from dagster_project.resources.models import OFFLINE, offline_hub
from dagster_project.resources.warehouse import DuckDBWarehouse, PostgresWarehouse

ON_PURPOSE = [
    CHECK_PARTITIONS,
    BACKFILL_POLICY,
    NONEXISTENT_UPSTREAM,
    FRESHNESS_CHECKS,
    FRESHNESS_SENSOR,
]

LOAD = """
import json, os, warnings
before = dict(os.environ)
filters = list(warnings.filters)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import dagster_project.resources.models
    models_env = {k: v for k, v in os.environ.items() if before.get(k) != v}
    import dagster_project.definitions
print(json.dumps({
    "models_env": models_env,
    "new_filters": [str(f[1].pattern) for f in warnings.filters if f not in filters and f[1]],
    "caught": [str(w.message) for w in caught],
}))
"""


def _load_in_a_fresh_process(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE}
    env["PODCAST_INSIGHTS_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loading_sets_no_environment_variable_and_no_global_warning_filter(tmp_path):
    loaded = _load_in_a_fresh_process(tmp_path)
    assert loaded["models_env"] == {}
    assert loaded["new_filters"] == []
    # The preview APIs used on purpose are silenced around their calls, and only there.
    assert [m for m in loaded["caught"] if m.startswith(tuple(ON_PURPOSE))] == []


def test_models_load_with_the_hub_offline(monkeypatch):
    for name in OFFLINE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # a value already set wins
    offline_hub()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_secrets_reach_the_resources_as_variable_names_only(monkeypatch, tmp_path):
    monkeypatch.setenv("PODCAST_INSIGHTS_HOME", str(tmp_path))
    monkeypatch.setenv("PODCAST_INSIGHTS_WAREHOUSE_URL", "postgresql://u:db-s3cret@127.0.0.1/x")
    monkeypatch.setenv("PODCAST_INSIGHTS_SMTP_PASSWORD", "smtp-s3cret")
    resources = build_resources()
    config = json.dumps(
        {
            key: r.model_dump()
            for key, r in resources.items()
            if isinstance(r, dg.ConfigurableResource)
        }
    )
    assert "s3cret" not in config
    assert isinstance(resources["warehouse"].url, dg.EnvVar)
    assert isinstance(resources["mailer"].password, dg.EnvVar)
    assert isinstance(resources["dbt_marts"].postgres_url, dg.EnvVar)


def test_the_sql_placeholder_is_no_configuration(tmp_path):
    for warehouse in (
        DuckDBWarehouse(path=str(tmp_path / "w.duckdb")),
        PostgresWarehouse(url="postgresql://127.0.0.1/x"),
    ):
        assert "placeholder" not in warehouse.model_dump()
    assert (DuckDBWarehouse.placeholder, PostgresWarehouse.placeholder) == ("?", "%s")
