"""episode_audio and transcripts: content-addressed audio, cached Whisper or published text."""

import hashlib
import json
import time
from datetime import date
from typing import Any

import dagster as dg

from dagster_project.assets.common import (
    TRANSCRIPTION_POOL,
    Failures,
    daily_asset,
    daily_check,
    finish,
    partition_day,
)
from dagster_project.assets.feeds import episodes
from dagster_project.lib.audio import AudioError, AudioTooLong, decoded_duration, suffix_for
from dagster_project.lib.store import move_into_store, read_json, update_json, write_atomic
from dagster_project.lib.transcript_formats import (
    Segment,
    TranscriptFormatError,
    parse_transcript,
)
from dagster_project.resources.http import FeedClient, FetchError
from dagster_project.resources.models import Transcriber
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse

TRUNCATED_RATIO = 0.5  # decoded audio shorter than this share of the declared duration


@daily_asset(
    group_name="ingest",
    deps=[episodes],
    kinds={"python"},
)
def episode_audio(
    context: dg.AssetExecutionContext, data_home: DataHome, http: FeedClient, warehouse: Warehouse
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
            dl = http.download(
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
    results = http.map_by_host(fetch, list(first_of_url.values()), lambda r: r["audio_url"])
    outcomes = dict(zip(first_of_url, results, strict=True))
    fetched: set[str] = set()
    stored = []
    for row in rows:
        url = row["audio_url"]
        outcome, found = outcomes[url]
        if outcome == "failed":
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


def _published_transcript(
    data_home: DataHome, http: FeedClient, ep: dict, allow_private: bool
) -> list[Segment]:
    """The feed's own transcript; the copy kept from an earlier run when it can't be fetched."""
    key = hashlib.sha256(ep["transcript_url"].encode()).hexdigest()[:24]
    kept = data_home.path("transcripts", "published", f"{key}.data")
    try:
        data = http.get_bytes(ep["transcript_url"], allow_private)
        segments = parse_transcript(data, ep["transcript_type"])
    except (FetchError, TranscriptFormatError):
        if not kept.exists():
            raise
        return parse_transcript(kept.read_bytes(), ep["transcript_type"])
    write_atomic(kept, data)
    return segments


def _whisper(
    context: dg.AssetExecutionContext, data_home: DataHome, transcriber: Transcriber, ep: dict
) -> tuple[list[Segment], float | None]:
    """Whisper's segments, from the cache keyed by (audio hash, model, settings) when there."""
    cache = data_home.path("transcripts", f"{ep['audio_sha256']}.{transcriber.settings_key()}.json")
    if cache.exists():
        return [Segment.from_dict(s) for s in json.loads(cache.read_text())], None
    started = time.perf_counter()
    # episode_audio decoded the file to its end: its duration refuses an over-long one at once.
    segments, duration = transcriber.transcribe(
        str(data_home.audio_file(ep["audio_sha256"])), duration_s=ep["duration_s"]
    )
    write_atomic(cache, json.dumps([s.to_dict() for s in segments]))
    context.log.info(
        f"transcribed {ep['feed']}/{ep['guid']}: {duration:.0f} s of audio in "
        f"{time.perf_counter() - started:.1f} s, {len(segments)} segments"
    )
    return segments, duration


@daily_asset(
    group_name="transcription",
    deps=[episode_audio],
    kinds={"python"},
    # Limit it to the machine's cores: a backfill then never runs more transcriptions at once.
    # Its warehouse reads and its one write are short and wait for the file's lock.
    pool=TRANSCRIPTION_POOL,
)
def transcripts(
    context: dg.AssetExecutionContext,
    data_home: DataHome,
    http: FeedClient,
    transcriber: Transcriber,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """Timed transcript segments per episode: the feed's own transcript, else faster-whisper."""
    day = partition_day(context)
    allow_private = data_home.feeds().allow_private_network
    failures = Failures(context, "transcripts")
    counts = {"transcribed": 0, "cached": 0, "from_feed": 0}
    audio_s = whisper_s = 0.0
    stored: dict[tuple[str, str], list[dict]] = {}
    for r in warehouse.rows("transcript_segments", day, order_by="segment_index"):
        stored.setdefault((r["feed"], r["episode_guid"]), []).append(r)
    rows = []
    for ep in episodes_with_audio(warehouse, day):
        key = (ep["feed"], ep["guid"])
        segments: list[Segment] | None = None
        source = "whisper"
        if ep["transcript_url"]:
            try:
                segments = _published_transcript(data_home, http, ep, allow_private)
                source = "feed"
                counts["from_feed"] += 1
            except (FetchError, TranscriptFormatError) as exc:
                failures.add(
                    ep["feed"],
                    f"published transcript unusable, transcribing instead: {exc}",
                    episode_guid=ep["guid"],
                    url=ep["transcript_url"],
                )
        if segments is None and ep["audio_sha256"]:
            try:
                started = time.perf_counter()
                segments, duration = _whisper(context, data_home, transcriber, ep)
            except AudioTooLong as exc:
                failures.add(ep["feed"], f"not transcribed: {exc}", episode_guid=ep["guid"])
                segments = None
            except Exception as exc:  # a decoder or model error on one file: the day goes on
                failures.add(ep["feed"], f"transcription failed: {exc}", episode_guid=ep["guid"])
                segments = None
            else:
                if duration is None:
                    counts["cached"] += 1
                else:
                    counts["transcribed"] += 1
                    audio_s += duration
                    whisper_s += time.perf_counter() - started
        if segments is None:
            # Nothing new: what an earlier run stored for the episode stays.
            rows.extend(
                {k: v for k, v in r.items() if k != "partition_date"} for r in stored.get(key, [])
            )
            continue
        if not segments:
            failures.add(ep["feed"], "no speech found in the audio", episode_guid=ep["guid"])
            continue
        for i, s in enumerate(segments):
            rows.append(
                {
                    "feed": ep["feed"],
                    "episode_guid": ep["guid"],
                    "segment_index": i,
                    "start_s": round(s.start_s, 3),
                    "end_s": round(s.end_s, 3),
                    "text": s.text,
                    "source": source,
                    "speaker": s.speaker,
                    "words": json.dumps(s.words) if s.words else None,
                }
            )
    warehouse.replace_partition("transcript_segments", day, rows)
    failed = failures.save(warehouse, day)
    metadata = {**counts, "segments": len(rows), "failed": failed}
    if audio_s:
        metadata["speed_x_realtime"] = round(audio_s / whisper_s, 1)
    return finish(context, metadata)


@daily_check(asset=transcripts)
def transcripts_segments_valid(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """great-expectations suite over the day's segments: times ordered and inside bounds, text."""
    from dagster_project.lib.expectations import validate_segments

    result = validate_segments(warehouse.rows("transcript_segments", partition_day(context)))
    return dg.AssetCheckResult(passed=result["success"], metadata=result["metadata"])
