"""What the UI shows about each asset: owners, tags, code versions, table names and column
schemas from the definitions; row counts and data versions from the warehouse's write path."""

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from dagster_project import catalog
from dagster_project.assets.common import (
    DAILY,
    daily_asset,
    finish,
    partition_day,
    previous_day,
    unchanged,
)
from dagster_project.assets.feeds import episodes, feeds
from dagster_project.definitions import defs
from dagster_project.lib.content_key import code_only, lib_modules, source_version
from dagster_project.lib.schema import TABLES
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse, Warehouse
from dagster_project.resources.web import WebFetcher

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-11-18"  # the demo day: the bundled feeds (file: URLs, offline) have episodes on it


def test_every_asset_has_owners_tags_and_a_code_version():
    graph = defs().resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {"feeds", "episodes", "transcripts", "claims", "topics", "daily_digest"} <= {
        k.to_user_string() for k in keys
    }
    for key in keys:
        node = graph.get(key)
        name = key.to_user_string()
        assert node.owners and all(o.startswith("team:") for o in node.owners), name
        assert node.tags.get("stage") == node.group_name, name
        assert node.code_version, name
        table = catalog.TABLES.get(name)
        if table:
            assert node.tags["table"] == table
            assert node.metadata["dagster/table_name"] == f"warehouse.main.{table}"
            schema = node.metadata["dagster/column_schema"]
            assert [c.name for c in schema.columns] == [c for c, _ in TABLES[table]]
    assert graph.get(dg.AssetKey("transcripts")).tags["model"] == "faster-whisper"


def test_code_versions_follow_the_code_not_its_comments():
    before = "def f(x):\n    '''Doc.'''\n    return x + 1\n"
    reworded = "# a comment\ndef f(x):\n    '''Other words.'''\n\n    return x + 1  # why\n"
    changed = "def f(x):\n    return x + 2\n"
    assert code_only(before) == code_only(reworded)
    assert code_only(before) != code_only(changed)
    digest = source_version("dagster_project.assets.digest")
    assert digest == source_version("dagster_project.assets.digest")
    assert digest != source_version("dagster_project.assets.topics")
    # The lib modules an asset module uses count: the digest's ranking and rendering.
    assert {"dagster_project.lib.ranking", "dagster_project.lib.digest"} <= lib_modules(
        "dagster_project.assets.digest"
    )


@pytest.fixture
def ingest(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    resources = {
        "data_home": DataHome(home=str(tmp_path), feeds_file=str(REPO / "feeds.yaml")),
        "web": WebFetcher(),
        "warehouse": wh,
    }
    assets = catalog.describe([feeds, episodes], wh)

    def run() -> dict[str, dg.AssetMaterialization]:
        result = dg.materialize(assets, partition_key=DAY, resources=resources)
        assert result.success
        return {
            m.asset_key.to_user_string(): m for m in result.asset_materializations_for_node("feeds")
        } | {
            m.asset_key.to_user_string(): m
            for m in result.asset_materializations_for_node("episodes")
        }

    return run, wh


def test_the_write_path_reports_row_counts_and_content_data_versions(ingest):
    run, wh = ingest
    first = run()
    stored = wh.rows("episodes", date.fromisoformat(DAY))
    assert stored, "the demo feeds have episodes on the demo day"
    assert first["episodes"].metadata["dagster/row_count"].value == len(stored)
    fetches = wh.rows("feed_fetches", date.fromisoformat(DAY))
    assert first["feeds"].metadata["dagster/row_count"].value == len(fetches) == 4  # per feed
    assert first["episodes"].tags["dagster/data_version_is_user_provided"] == "true"

    again = run()
    # The same episodes: the same data version, so nothing built on them is stale...
    assert (
        again["episodes"].tags["dagster/data_version"]
        == first["episodes"].tags["dagster/data_version"]
    )
    # ...while the feeds were fetched again (a new fetched_at): a new version.
    assert (
        again["feeds"].tags["dagster/data_version"] != first["feeds"].tags["dagster/data_version"]
    )


def test_a_stage_reading_its_own_earlier_days_reports_its_version_without_a_warning(tmp_path):
    # topics and daily_digest read their own previous day; Dagster compared a data version set
    # during the step with the asset's latest materialization (another day's) and logged
    # "Data version mismatch" in every daily run after the first.
    @daily_asset(deps=[previous_day("chain")])
    def chain(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        day = partition_day(context)
        if done := unchanged(context, warehouse, ["feed_fetches"], "key"):
            return done  # made before: reported as stored, the same version
        warehouse.replace_partition(
            "feed_fetches", day, [{"feed": day.isoformat()}], inputs_key="key"
        )
        return finish(context, {"rows": 1})

    wh = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    versions = []
    for day in ("2026-11-17", "2026-11-18", "2026-11-18"):
        result = dg.materialize(
            [chain], partition_key=day, resources={"warehouse": wh}, instance=instance
        )
        assert result.success
        logs = instance.all_logs(result.run_id)
        assert not [r for r in logs if "Data version mismatch" in (r.user_message or "")], day
        (mat,) = result.asset_materializations_for_node("chain")
        assert mat.tags["dagster/data_version_is_user_provided"] == "true"
        versions.append(mat.tags["dagster/data_version"])
    assert versions[0] != versions[1] == versions[2]  # each day's rows; the same rows again


def test_each_asset_of_a_step_that_writes_for_several_gets_the_version_of_its_rows(tmp_path):
    # The write path hashed each asset's tables into a version and wrote that hash back over the
    # table's own: a step of two assets gave the second a version of the first's version.
    @dg.multi_asset(specs=[dg.AssetSpec("left"), dg.AssetSpec("right")], partitions_def=DAILY)
    def pair(context: dg.AssetExecutionContext, warehouse: Warehouse):
        day = date.fromisoformat(context.partition_key)
        warehouse.replace_partition("feed_fetches", day, [{"feed": "a"}])
        yield dg.MaterializeResult(asset_key="left")
        yield dg.MaterializeResult(asset_key="right")

    wh = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    result = dg.materialize([pair], partition_key=DAY, resources={"warehouse": wh})
    assert result.success
    versions = {
        m.asset_key.to_user_string(): m.tags["dagster/data_version"]
        for m in result.asset_materializations_for_node("pair")
    }
    assert versions["left"] == versions["right"]  # the same rows, written once for both
