"""transcripts: timed text per episode, the feed's own transcript or cached faster-whisper."""

import hashlib
import json
import time

import dagster as dg

from dagster_project.assets.common import (
    TRANSCRIPTION_POOL,
    Failures,
    daily_asset,
    daily_check,
    finish,
    partition_day,
    validated,
)
from dagster_project.assets.episode_audio import episode_audio, episodes_with_audio
from dagster_project.lib.audio import AudioTooLong
from dagster_project.lib.segments import Segment
from dagster_project.lib.store import write_atomic
from dagster_project.lib.transcript_formats import TranscriptFormatError, parse_transcript
from dagster_project.resources.models import Transcriber
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse
from dagster_project.resources.web import FetchError, WebFetcher


def _published_transcript(
    data_home: DataHome, web: WebFetcher, ep: dict, allow_private: bool
) -> list[Segment]:
    """The feed's own transcript; the copy kept from an earlier run when it can't be fetched."""
    key = hashlib.sha256(ep["transcript_url"].encode()).hexdigest()[:24]
    kept = data_home.path("transcripts", "published", f"{key}.data")
    try:
        data = web.get_bytes(ep["transcript_url"], allow_private)
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
    web: WebFetcher,
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
                segments = _published_transcript(data_home, web, ep, allow_private)
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
        rows.extend(s.to_row(ep["feed"], ep["guid"], i, source) for i, s in enumerate(segments))
    warehouse.replace_partition("transcript_segments", day, rows)
    failed = failures.save(warehouse, day)
    metadata: dict[str, float] = {**counts, "segments": len(rows), "failed": failed}
    if audio_s:
        metadata["speed_x_realtime"] = round(audio_s / whisper_s, 1)
    return finish(context, metadata)


@daily_check(asset=transcripts)
def transcripts_segments_valid(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, data_home: DataHome
):
    """great-expectations suite over the day's segments: times ordered and inside bounds, text."""
    from dagster_project.lib.expectations import validate_segments

    rows = warehouse.rows("transcript_segments", partition_day(context))
    result = validated(data_home, "transcript_segments", rows, validate_segments)
    return dg.AssetCheckResult(passed=result["success"], metadata=result["metadata"])
