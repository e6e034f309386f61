"""feeds and episodes: fetch each configured feed, keep its raw XML, list the day's episodes."""

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from dagster_project.assets.common import Failures, daily_asset, daily_check, finish, partition_day
from dagster_project.lib.rss import FeedError, content_hash, parse_feed
from dagster_project.lib.store import read_json, update_json, write_atomic
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse
from dagster_project.resources.web import FetchError, WebFetcher


def _fetch(web: WebFetcher, data_home: DataHome, url: str, allow: bool, prev: dict):
    """The feed's current XML: a conditional GET, or a plain one when no stored copy is left."""
    stored = data_home.path("feeds", prev.get("name", ""), f"{prev.get('sha256')}.xml")
    conditional = prev.get("url") == url and prev.get("sha256") and stored.exists()
    response = web.fetch_feed(
        url,
        allow,
        etag=prev.get("etag") if conditional else None,
        last_modified=prev.get("last_modified") if conditional else None,
    )
    if response.status == 304:
        if not conditional:
            raise FetchError(f"{url}: 304 Not Modified to an unconditional request")
        return response, stored.read_bytes(), "not_modified"
    return response, response.body, "fetched"


@daily_asset(group_name="ingest", kinds={"python"})
def feeds(
    context: dg.AssetExecutionContext, data_home: DataHome, web: WebFetcher, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Each configured feed, fetched with a conditional GET; its raw XML kept by sha256."""
    day = partition_day(context)
    config = data_home.feeds()
    state_path = data_home.path("feeds", "state.json")
    state = read_json(state_path)
    failures = Failures(context, "feeds")

    def fetch_one(spec) -> tuple[dict, str | None]:
        """The feed's feed_fetches row and its error, if any. Runs in a worker thread."""
        prev = {**state.get(spec.name, {}), "name": spec.name}
        row = {"feed": spec.name, "url": spec.url, "raw_sha256": prev.get("sha256")}
        row["fetched_at"] = datetime.now(UTC).replace(tzinfo=None)
        row["title"] = prev.get("title")
        try:
            response, body, status = _fetch(
                web, data_home, spec.url, config.allow_private_network, prev
            )
            parsed = parse_feed(body, spec.name, response.url)
            sha = content_hash(body)
            raw_path = data_home.path("feeds", spec.name, f"{sha}.xml")
            if not raw_path.exists():
                write_atomic(raw_path, body)
            entry = {
                "url": spec.url,
                "final_url": response.url,
                "sha256": sha,
                "etag": response.etag,
                "last_modified": response.last_modified,
                "title": parsed.title,
            }
            update_json(state_path, lambda st, n=spec.name, e=entry: st.__setitem__(n, e))
            row.update(
                status="blocked" if parsed.blocked else status,
                http_status=response.status,
                raw_sha256=sha,
                title=parsed.title,
                items=len(parsed.episodes),
            )
        except (FetchError, FeedError, OSError) as exc:
            # The last good copy (raw_sha256 from state) stays in use: nothing stored is lost.
            row.update(status="failed", error=str(exc))
            return row, str(exc)
        return row, None

    # Side by side, a few requests per host at most: a slow host delays only its own feeds.
    rows = []
    for spec, (row, error) in zip(
        config.feeds, web.map_by_host(fetch_one, config.feeds, lambda f: f.url), strict=True
    ):
        if error:
            failures.add(spec.name, error, url=spec.url)
        elif row["status"] == "blocked":
            context.log.info(f"feed {spec.name!r} asks not to be indexed (podcast:block)")
        rows.append(row)
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


def _beyond(item_day: date, why: str | None = None) -> str:
    """An item in a day partition that no run reaches yet (the schedule runs yesterday's)."""
    error = f"item dated {item_day.isoformat()}, beyond tomorrow (UTC)"
    return f"{error}; left out: {why}" if why else f"{error}: no run ingests it before that day"


def _first_reports(
    data_home: DataHome, day: date, unplaced: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The unplaced items to report on this day: those never reported, and those first
    reported on this very day (its failures rows are rewritten on a rerun, so they come again).

    Every day's run sees an undated item in the feed; without this record each day would add
    the same failures row.
    """
    if not unplaced:
        return []
    chosen = []

    def claim(record: dict) -> None:
        for feed, item, error in unplaced:
            key = f"{item}\n{error}"  # a changed date or reason is news
            if record.setdefault(feed, {}).setdefault(key, day.isoformat()) == day.isoformat():
                chosen.append((feed, item, error))

    update_json(data_home.path("feeds", "reported.json"), claim)
    return chosen


@daily_asset(
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
    # Items whose day is no partition that runs (undated, or dated past tomorrow): reported once.
    unplaced: list[tuple[str, str, str]] = []  # (feed, item, error)
    latest = datetime.now(UTC).date() + timedelta(days=1)
    stored = {(r["feed"], r["guid"]): r for r in warehouse.rows("episodes", day)}
    found: dict[tuple[str, str], dict] = {}
    dropped: set[tuple[str, str]] = set()  # blocked now: stored copies go too
    blocked: set[str] = set()
    for fetch in warehouse.rows("feed_fetches", day):
        if not fetch["raw_sha256"]:
            continue
        try:
            raw = data_home.path("feeds", fetch["feed"], f"{fetch['raw_sha256']}.xml").read_bytes()
            parsed = parse_feed(raw, fetch["feed"], fetch["url"])
        except (FeedError, OSError) as exc:
            failures.add(fetch["feed"], f"stored feed unusable: {exc}", url=fetch["url"])
            continue
        if parsed.blocked:  # also when today's fetch failed and the last copy says so
            blocked.add(fetch["feed"])
            continue
        for guid_or_title, why, item_day in parsed.skipped:
            if why == "podcast:block":
                dropped.add((fetch["feed"], guid_or_title))
            if item_day is None:
                unplaced.append((fetch["feed"], guid_or_title, f"item left out: {why}"))
            elif item_day > latest:
                unplaced.append((fetch["feed"], guid_or_title, _beyond(item_day, why)))
            elif item_day == day:
                failures.add(fetch["feed"], f"item left out: {why}", episode_guid=guid_or_title)
        for ep in parsed.episodes:
            if ep.partition_date > latest:
                unplaced.append((ep.feed, ep.guid, _beyond(ep.partition_date)))
            if ep.partition_date != day:
                continue
            found[(ep.feed, ep.guid)] = {
                "feed": ep.feed,
                "guid": ep.guid,
                "title": ep.title,
                "published_at": ep.published_at,
                "audio_url": ep.audio_url,
                "duration_s": ep.duration_s,
                "audio_type": ep.audio_type,
                "description": ep.description,
                "author": ep.author,
                "link": ep.link,
                "persons": json.dumps([p.__dict__ for p in ep.persons]),
                "transcript_url": ep.transcript_url,
                "transcript_type": ep.transcript_type,
                "feed_title": parsed.title,
            }
    # Episodes stored earlier but gone from the feed now (feeds keep only recent items) stay,
    # unless their publisher has since blocked them.
    kept = {
        k: v
        for k, v in stored.items()
        if k not in found and k[0] not in blocked and k not in dropped
    }
    rows = sorted([*found.values(), *kept.values()], key=lambda r: (r["feed"], r["guid"]))
    for feed, item, error in _first_reports(data_home, day, unplaced):
        failures.add(feed, error, episode_guid=item)
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


@daily_check(asset=episodes, blocking=True)
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
