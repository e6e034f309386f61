"""Production storage on the real PostgreSQL: the Dagster instance (dagster-postgres, through the
dagster.yaml the README documents) and the warehouse, chosen by the environment."""

import json
import uuid

import dagster as dg
import pytest

from dagster_project.assets.feeds import episodes, feeds
from dagster_project.resources.environment import build_resources
from dagster_project.resources.warehouse import DuckDBWarehouse, PostgresWarehouse
from tests.conftest import DEMO_SHOWS, REPO
from tests.leaks import leaked, stored_bytes

pytestmark = pytest.mark.postgres
SERVER = "postgresql://postgres@127.0.0.1:5432"


def test_environment_picks_the_warehouse(monkeypatch):
    monkeypatch.setenv("PODCAST_INSIGHTS_WAREHOUSE_URL", f"{SERVER}/test")
    pg = build_resources()["warehouse"]
    assert isinstance(pg, PostgresWarehouse)
    assert pg.query("SELECT current_database() AS db") == [{"db": "test"}]
    monkeypatch.delenv("PODCAST_INSIGHTS_WAREHOUSE_URL")
    assert isinstance(build_resources()["warehouse"], DuckDBWarehouse)


def test_a_run_on_a_postgres_instance_and_warehouse(tmp_path, database, monkeypatch):
    import psycopg2

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: 127.0.0.1\n      port: 5432\n      username: postgres\n"
        f"      db_name: {database}\n"
    )
    monkeypatch.setenv("PODCAST_INSIGHTS_FEEDS", str(REPO / "feeds.yaml"))
    monkeypatch.setenv("PODCAST_INSIGHTS_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PODCAST_INSIGHTS_WAREHOUSE_URL", f"{SERVER}/{database}")
    resources = build_resources()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            [feeds, episodes],
            partition_key="2026-11-18",
            resources={k: resources[k] for k in ("data_home", "web", "warehouse")},
            instance=instance,
        )
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success
    manifest = json.loads((DEMO_SHOWS / "manifest.json").read_text())
    expected = {e["guid"] for e in manifest["episodes"] if e["partition_date"] == "2026-11-18"}
    con = psycopg2.connect(f"{SERVER}/{database}")
    cur = con.cursor()
    cur.execute("SELECT COUNT(*) FROM runs")
    assert cur.fetchone()[0] == 1  # the run is stored by dagster-postgres
    cur.execute("SELECT guid FROM podcast_insights.episodes WHERE partition_date = '2026-11-18'")
    assert {r[0] for r in cur.fetchall()} == expected
    con.close()


def test_secrets_stay_out_of_the_instance(tmp_path, database, monkeypatch):
    """The warehouse URL's password and the SMTP password reach resources as EnvVar names."""
    db_secret, smtp_secret = f"db-{uuid.uuid4().hex}", f"smtp-{uuid.uuid4().hex}"
    monkeypatch.setenv("PODCAST_INSIGHTS_FEEDS", str(REPO / "feeds.yaml"))
    monkeypatch.setenv("PODCAST_INSIGHTS_HOME", str(tmp_path / "data"))
    # trust auth on the test server ignores the password; it only has to be carried
    monkeypatch.setenv(
        "PODCAST_INSIGHTS_WAREHOUSE_URL", f"postgresql://postgres:{db_secret}@127.0.0.1/{database}"
    )
    monkeypatch.setenv("PODCAST_INSIGHTS_SMTP_PASSWORD", smtp_secret)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            [feeds], partition_key="2026-11-18", resources=build_resources(), instance=instance
        )
        assert result.success
    assert list(stored_bytes(home))
    assert leaked([tmp_path], [db_secret, smtp_secret]) == []
