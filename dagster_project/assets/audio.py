"""episode_audio and transcripts: content-addressed audio, cached Whisper or published text."""

import json
import os
import time
from pathlib import Path

import dagster as dg

from dagster_project.assets.common import DAILY, ONE_DAY_PER_RUN, Failures, finish, partition_day
from dagster_project.assets.feeds import episodes
from dagster_project.lib.audio import AudioError, decoded_duration, suffix_for
from dagster_project.lib.transcript_formats import (
    Segment,
    TranscriptFormatError,
    parse_transcript,
)
from dagster_project.resources.http import FeedClient, FetchError, move_into_store
from dagster_project.resources.models import Transcriber
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse

TRUNCATED_RATIO = 0.5  # decoded audio shorter than this share of the declared duration


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


@dg.asset(
    partitions_def=DAILY,
    backfill_policy=ONE_DAY_PER_RUN,
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
    for row in rows:
        url = row["audio_url"]
        index = json.loads(index_path.read_text()) if index_path.exists() else {}
        known = index.get(url)
        if known and data_home.path("audio", known["file"]).exists():
            cached += 1
            row.update(audio_sha256=known["sha256"], audio_bytes=known["bytes"])
            row["duration_s"] = known["duration_s"]
            continue
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
                dl, data_home.root / "audio", suffix_for(row["audio_type"], url)
            )
        except (FetchError, AudioError, OSError) as exc:
            failures.add(row["feed"], f"audio: {exc}", episode_guid=row["guid"], url=url)
            continue
        downloaded += 1
        index[url] = {
            "sha256": dl.sha256,
            "bytes": dl.size,
            "duration_s": round(seconds, 2),
            "file": str(stored.relative_to(data_home.root / "audio")),
        }
        _write_json(index_path, index)
        row.update(audio_sha256=dl.sha256, audio_bytes=dl.size, duration_s=round(seconds, 2))
    warehouse.replace_partition("episodes", day, rows)
    failed = failures.save(warehouse, day)
    return finish(context, {"downloaded": downloaded, "cached": cached, "failed": failed})


def _audio_file(data_home: DataHome, url: str) -> Path:
    index = json.loads(data_home.path("audio", "index.json").read_text())
    return data_home.path("audio", index[url]["file"])


@dg.asset(
    partitions_def=DAILY,
    backfill_policy=ONE_DAY_PER_RUN,
    group_name="transcription",
    deps=[episode_audio],
    kinds={"python"},
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
    rows = []
    for ep in warehouse.rows("episodes", day, order_by="feed, guid"):
        if not ep["audio_sha256"]:
            continue
        segments: list[Segment] | None = None
        source = "whisper"
        if ep["transcript_url"]:
            try:
                data = http.get_bytes(ep["transcript_url"], allow_private)
                segments = parse_transcript(data, ep["transcript_type"])
                source = "feed"
                counts["from_feed"] += 1
            except (FetchError, TranscriptFormatError) as exc:
                failures.add(
                    ep["feed"],
                    f"published transcript unusable, transcribing instead: {exc}",
                    episode_guid=ep["guid"],
                    url=ep["transcript_url"],
                )
        if segments is None:
            cache = data_home.path(
                "transcripts", f"{ep['audio_sha256']}.{transcriber.settings_key()}.json"
            )
            if cache.exists():
                segments = [Segment.from_dict(s) for s in json.loads(cache.read_text())]
                counts["cached"] += 1
            else:
                started = time.perf_counter()
                segments, duration = transcriber.transcribe(
                    str(_audio_file(data_home, ep["audio_url"]))
                )
                whisper_s += time.perf_counter() - started
                audio_s += duration
                _write_json(cache, [s.to_dict() for s in segments])
                counts["transcribed"] += 1
                context.log.info(
                    f"transcribed {ep['feed']}/{ep['guid']}: {duration:.0f} s of audio, "
                    f"{len(segments)} segments"
                )
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


@dg.asset_check(asset=transcripts, partitions_def=DAILY)
def transcripts_segments_valid(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """great-expectations suite over the day's segments: times ordered and inside bounds, text."""
    from dagster_project.lib.expectations import validate_segments

    result = validate_segments(warehouse.rows("transcript_segments", partition_day(context)))
    return dg.AssetCheckResult(passed=result["success"], metadata=result["metadata"])
