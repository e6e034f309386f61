"""feeds and episodes: fetch each configured feed, keep its raw XML, list the day's episodes."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from dagster_project.assets.common import DAILY, ONE_DAY_PER_RUN, Failures, finish, partition_day
from dagster_project.lib.rss import FeedError, content_hash, parse_feed
from dagster_project.resources.http import FeedClient, FetchError
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse


def _load_state(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@dg.asset(
    partitions_def=DAILY, backfill_policy=ONE_DAY_PER_RUN, group_name="ingest", kinds={"python"}
)
def feeds(
    context: dg.AssetExecutionContext, data_home: DataHome, http: FeedClient, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Each configured feed, fetched with a conditional GET; its raw XML kept by sha256."""
    day = partition_day(context)
    config = data_home.feeds()
    state_path = data_home.path("feeds", "state.json")
    state = _load_state(state_path)
    failures = Failures(context, "feeds")
    rows = []
    for spec in config.feeds:
        prev = state.get(spec.name, {})
        row = {"feed": spec.name, "url": spec.url, "raw_sha256": prev.get("sha256")}
        row["fetched_at"] = datetime.now(UTC).replace(tzinfo=None)
        try:
            response = http.fetch_feed(
                spec.url,
                config.allow_private_network,
                etag=prev.get("etag") if prev.get("url") == spec.url else None,
                last_modified=prev.get("last_modified") if prev.get("url") == spec.url else None,
            )
            if response.status == 304:
                body = data_home.path("feeds", spec.name, f"{prev['sha256']}.xml").read_bytes()
                status = "not_modified"
            else:
                body = response.body
                status = "fetched"
            parsed = parse_feed(body, spec.name, response.url)
            sha = content_hash(body)
            raw_path = data_home.path("feeds", spec.name, f"{sha}.xml")
            if not raw_path.exists():
                _write_atomic(raw_path, body)
            state[spec.name] = {
                "url": spec.url,
                "final_url": response.url,
                "sha256": sha,
                "etag": response.etag,
                "last_modified": response.last_modified,
            }
            row.update(
                status="blocked" if parsed.blocked else status,
                http_status=response.status,
                raw_sha256=sha,
                title=parsed.title,
                items=len(parsed.episodes),
            )
            if parsed.blocked:
                context.log.info(f"feed {spec.name!r} asks not to be indexed (podcast:block)")
        except (FetchError, FeedError, OSError) as exc:
            # The last good copy (raw_sha256 from state) stays in use: nothing stored is lost.
            row.update(status="failed", error=str(exc))
            failures.add(spec.name, str(exc), url=spec.url)
        rows.append(row)
    _write_atomic(state_path, json.dumps(state, indent=2, sort_keys=True).encode())
    warehouse.replace_partition("feed_fetches", day, rows)
    failed = failures.save(warehouse, day)
    return finish(
        context,
        {
            "feeds": len(rows),
            "fetched": sum(r["status"] == "fetched" for r in rows),
            "not_modified": sum(r["status"] == "not_modified" for r in rows),
            "blocked": sum(r["status"] == "blocked" for r in rows),
            "failed": failed,
        },
    )


@dg.asset(
    partitions_def=DAILY,
    backfill_policy=ONE_DAY_PER_RUN,
    group_name="ingest",
    deps=[feeds],
    kinds={"python"},
)
def episodes(
    context: dg.AssetExecutionContext, data_home: DataHome, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The day's episodes (UTC date of pubDate), one row per feed + GUID."""
    day = partition_day(context)
    failures = Failures(context, "episodes")
    fetched = warehouse.rows("feed_fetches", day)
    blocked = {r["feed"] for r in fetched if r["status"] == "blocked"}
    stored = {(r["feed"], r["guid"]): r for r in warehouse.rows("episodes", day)}
    found: dict[tuple[str, str], dict] = {}
    for fetch in fetched:
        if fetch["feed"] in blocked or not fetch["raw_sha256"]:
            continue
        raw = data_home.path("feeds", fetch["feed"], f"{fetch['raw_sha256']}.xml").read_bytes()
        try:
            parsed = parse_feed(raw, fetch["feed"], fetch["url"])
        except FeedError as exc:
            failures.add(fetch["feed"], str(exc), url=fetch["url"])
            continue
        for guid_or_title, why, item_day in parsed.skipped:
            if item_day in (day, None):
                failures.add(fetch["feed"], f"item left out: {why}", episode_guid=guid_or_title)
        for ep in parsed.episodes:
            if ep.partition_date != day:
                continue
            old = stored.get((ep.feed, ep.guid), {})
            same_audio = old.get("audio_url") == ep.audio_url
            found[(ep.feed, ep.guid)] = {
                "feed": ep.feed,
                "guid": ep.guid,
                "title": ep.title,
                "published_at": ep.published_at,
                "audio_url": ep.audio_url,
                "audio_sha256": old.get("audio_sha256") if same_audio else None,
                "audio_bytes": old.get("audio_bytes") if same_audio else None,
                "duration_s": (old.get("duration_s") if same_audio else None) or ep.duration_s,
                "audio_type": ep.audio_type,
                "description": ep.description,
                "author": ep.author,
                "link": ep.link,
                "persons": json.dumps([p.__dict__ for p in ep.persons]),
                "transcript_url": ep.transcript_url,
                "transcript_type": ep.transcript_type,
                "feed_title": fetch["title"] or ep.feed,
            }
    # Episodes stored earlier but gone from the feed now (feeds keep only recent items) stay.
    kept = {k: v for k, v in stored.items() if k not in found and k[0] not in blocked}
    rows = sorted([*found.values(), *kept.values()], key=lambda r: (r["feed"], r["guid"]))
    warehouse.replace_partition("episodes", day, rows)
    failures.save(warehouse, day)
    per_feed: dict[str, int] = {}
    for r in rows:
        per_feed[r["feed"]] = per_feed.get(r["feed"], 0) + 1
    return finish(
        context,
        {
            "episodes": len(rows),
            "kept_from_earlier_runs": len(kept),
            "per_feed": dg.MetadataValue.json(per_feed),
        },
    )


@dg.asset_check(asset=episodes, blocking=True, partitions_def=DAILY)
def episodes_unique(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """No feed + GUID appears twice in a day."""
    day = partition_day(context)
    dupes = warehouse.query(
        "SELECT feed, guid, COUNT(*) AS n FROM episodes WHERE partition_date = ? "
        "GROUP BY feed, guid HAVING COUNT(*) > 1",
        [day],
    )
    return dg.AssetCheckResult(
        passed=not dupes, metadata={"duplicates": dg.MetadataValue.json(dupes[:20])}
    )
