"""episode_audio: each episode's audio, content-addressed, fetched once per URL."""

from datetime import date
from typing import Any

import dagster as dg

from dagster_project.assets.common import Failures, daily_asset, finish, partition_day
from dagster_project.assets.feeds import episodes
from dagster_project.lib.audio import AudioError, decoded_duration, suffix_for
from dagster_project.lib.store import move_into_store, read_json, update_json
from dagster_project.lib.tuning import TRUNCATED_RATIO
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse
from dagster_project.resources.web import FetchError, WebFetcher


@daily_asset(
    group_name="ingest",
    deps=[episodes],
    kinds={"python"},
)
def episode_audio(
    context: dg.AssetExecutionContext, data_home: DataHome, web: WebFetcher, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Each episode's audio in a sha256-addressed store; a URL once fetched is never refetched."""
    day = partition_day(context)
    allow_private = data_home.feeds().allow_private_network
    failures = Failures(context, "episode_audio")
    index_path = data_home.path("audio", "index.json")
    rows = warehouse.rows("episodes", day, order_by="feed, guid")
    downloaded = cached = 0

    def fetch(row: dict) -> tuple[str, dict | Exception]:
        """("cached" | "downloaded", the index entry) or ("failed", why). In a worker thread."""
        url = row["audio_url"]
        known = read_json(index_path).get(url)
        if known and data_home.path("audio", known["file"]).exists():
            return "cached", known
        try:
            dl = web.download(
                url, allow_private, data_home.max_audio_bytes, data_home.root / "audio" / "tmp"
            )
            try:
                seconds = decoded_duration(dl.path)
            except AudioError:
                dl.path.unlink(missing_ok=True)
                raise
            declared = row["duration_s"]
            if declared and seconds < TRUNCATED_RATIO * declared:
                dl.path.unlink(missing_ok=True)
                raise AudioError(
                    f"truncated: {seconds:.0f} s decode of the {declared:.0f} s the feed declares"
                )
            stored = move_into_store(
                dl.path, dl.sha256, data_home.root / "audio", suffix_for(row["audio_type"], url)
            )
        except (FetchError, AudioError, OSError) as exc:
            return "failed", exc
        entry = {
            "sha256": dl.sha256,
            "bytes": dl.size,
            "duration_s": round(seconds, 2),
            "file": str(stored.relative_to(data_home.root / "audio")),
        }
        update_json(index_path, lambda index, u=url, e=entry: index.__setitem__(u, e))
        return "downloaded", entry

    # Side by side, a few downloads per host at most: a slow host delays only its own episodes.
    # One fetch per URL: episodes sharing an enclosure share its download.
    first_of_url: dict[str, dict] = {}
    for row in rows:
        first_of_url.setdefault(row["audio_url"], row)
    results = web.map_by_host(fetch, list(first_of_url.values()), lambda r: r["audio_url"])
    outcomes = dict(zip(first_of_url, results, strict=True))
    fetched: set[str] = set()
    stored = []
    for row in rows:
        url = row["audio_url"]
        outcome, found = outcomes[url]
        if isinstance(found, Exception):  # outcome "failed"
            failures.add(row["feed"], f"audio: {found}", episode_guid=row["guid"], url=url)
            continue
        if outcome == "downloaded" and url not in fetched:
            downloaded += 1
        else:
            cached += 1
        fetched.add(url)
        stored.append(
            {
                "feed": row["feed"],
                "episode_guid": row["guid"],
                "audio_url": url,
                "audio_sha256": found["sha256"],
                "audio_bytes": found["bytes"],
                "duration_s": found["duration_s"],
            }
        )
    warehouse.replace_partition("episode_audio", day, stored)
    failed = failures.save(warehouse, day)
    return finish(context, {"downloaded": downloaded, "cached": cached, "failed": failed})


def episodes_with_audio(warehouse: Warehouse, day: date) -> list[dict[str, Any]]:
    """The day's episodes, each with its stored audio: `audio_sha256` (None when not stored)
    and `duration_s`, the decoded length once stored, else the feed's."""
    audio = {(a["feed"], a["episode_guid"]): a for a in warehouse.rows("episode_audio", day)}
    episodes = warehouse.rows("episodes", day, order_by="feed, guid")
    for ep in episodes:
        stored = audio.get((ep["feed"], ep["guid"]))
        if stored is not None and stored["audio_url"] != ep["audio_url"]:
            stored = None  # the feed changed the enclosure since: that audio is not this one
        ep["audio_sha256"] = stored["audio_sha256"] if stored else None
        if stored:
            ep["duration_s"] = stored["duration_s"]
    return episodes
