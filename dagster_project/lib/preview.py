"""Dagster's preview, beta and superseded APIs this project uses on purpose, and why.

Their warnings are silenced around the one call that uses each (`on_purpose`), never for the
whole process: a new warning from the same API elsewhere still shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Checks validate the partition just written, so they are partitioned like their asset.
CHECK_PARTITIONS = "Specifying a partitions_def on an AssetCheckSpec"
# Backfills run one day at a time: a day's topics and novelty build on the days before it.
BACKFILL_POLICY = "Parameter `backfill_policy` of function `"  # asset, graph_asset
# The first day has no day before it.
NONEXISTENT_UPSTREAM = "Parameter `allow_nonexistent_upstream_partitions`"
# Dagster suggests `FreshnessPolicy` instead; that judges when any partition was last updated,
# and a backfill of an old day would pass it. The digest's question is about one day.
FRESHNESS_CHECKS = "Function `build_time_partition_freshness_checks` is superseded"
FRESHNESS_SENSOR = "Function `build_sensor_for_freshness_checks` is superseded"


@contextmanager
def on_purpose(*messages: str) -> Iterator[None]:
    """The warnings whose messages start with `messages`, silenced inside the block only."""
    with warnings.catch_warnings():
        for message in messages:
            warnings.filterwarnings("ignore", message=message)
        yield
