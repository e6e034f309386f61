"""transcripts: timed text per episode, the feed's own transcript or cached faster-whisper.

A graph of three kinds of step under the day's partition, so an executor can spread the work:
`plan` lists the audio no transcript is cached for yet, one `transcribe` step per file (in the
transcription pool, on any worker) writes Whisper's segments to the content-addressed store,
and `write`, the day's one warehouse writer, stores every episode's segments from it.
"""

import hashlib
import json
import time
from typing import Any

import dagster as dg

from dagster_project.assets.common import (
    TRANSCRIPTION_POOL,
    WAREHOUSE_POOL,
    Failures,
    daily_check,
    daily_graph_asset,
    partition_day,
    summarise,
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


# The episode's columns whose words Whisper is prompted with.
PROMPTED_BY = ("feed_title", "title", "description")


def _prompt(transcriber: Transcriber, ep: dict) -> str:
    """Whisper's prompt for the episode: the feed's own words about it."""
    return transcriber.prompt([ep.get(k) for k in PROMPTED_BY])


def _cached(data_home: DataHome, transcriber: Transcriber, audio_sha256: str, prompt: str):
    """Where Whisper's segments of this audio, with this model, settings and prompt, are stored.

    A file is transcribed once per prompt: a feed that lists it twice with the same words, once;
    two feeds that carry it, once each (each prompt holds its own show's title).
    """
    name = f"{audio_sha256}.{transcriber.settings_key()}"
    if prompt:
        name += "." + hashlib.sha256(prompt.encode()).hexdigest()[:12]
    return data_home.path("transcripts", f"{name}.json")


def _whisper(
    log: Any, data_home: DataHome, transcriber: Transcriber, ep: dict
) -> tuple[list[Segment], float | None]:
    """Whisper's segments and the seconds of audio transcribed (None: they were stored)."""
    prompt = _prompt(transcriber, ep)
    cache = _cached(data_home, transcriber, ep["audio_sha256"], prompt)
    if cache.exists():
        return [Segment.from_dict(s) for s in json.loads(cache.read_text())], None
    started = time.perf_counter()
    # episode_audio decoded the file to its end: its duration refuses an over-long one at once.
    segments, duration = transcriber.transcribe(
        str(data_home.audio_file(ep["audio_sha256"])),
        duration_s=ep["duration_s"],
        prompt=prompt,
    )
    write_atomic(cache, json.dumps([s.to_dict() for s in segments]))
    log.info(
        f"transcribed {ep['feed']}/{ep['guid']}: {duration:.0f} s of audio in "
        f"{time.perf_counter() - started:.1f} s, {len(segments)} segments"
    )
    return segments, duration


def _attempt(
    log: Any, data_home: DataHome, transcriber: Transcriber, ep: dict
) -> tuple[list[Segment] | None, dict[str, Any]]:
    """Whisper's segments (None on an error) and a summary: `error`, or the `audio_s` and
    `whisper_s` of a transcription made now (empty when the store had it)."""
    started = time.perf_counter()
    try:
        segments, duration = _whisper(log, data_home, transcriber, ep)
    except AudioTooLong as exc:
        return None, {"error": f"not transcribed: {exc}"}
    except Exception as exc:  # a decoder or model error on one file: the day goes on
        return None, {"error": f"transcription failed: {exc}"}
    if duration is None:
        return segments, {}
    return segments, {"audio_s": duration, "whisper_s": time.perf_counter() - started}


@dg.op(
    ins={"audio": dg.In(dg.Nothing)},
    out=dg.DynamicOut(dict),
    pool=WAREHOUSE_POOL,
)
def plan(
    context: dg.OpExecutionContext,
    data_home: DataHome,
    transcriber: Transcriber,
    warehouse: Warehouse,
):
    """One output per stored audio file of the day that Whisper has not transcribed yet (with
    these settings and the episode's prompt). Episodes with a published transcript are left to
    `write`."""
    planned: dict[str, str] = {}  # cache file -> step key
    for ep in episodes_with_audio(warehouse, partition_day(context)):
        sha = ep["audio_sha256"]
        if not sha or ep["transcript_url"]:
            continue
        cache = _cached(data_home, transcriber, sha, _prompt(transcriber, ep))
        if cache.name in planned or cache.exists():
            continue  # a file listed twice with the same words is transcribed once
        key = sha[:16]  # the audio file; its prompt too when two feeds say different things of it
        if key in planned.values():
            key += "_" + hashlib.sha256(cache.name.encode()).hexdigest()[:8]
        planned[cache.name] = key
        episode = {k: ep[k] for k in (*PROMPTED_BY, "feed", "guid", "audio_sha256", "duration_s")}
        yield dg.DynamicOutput(episode, mapping_key=key)


@dg.op(out=dg.Out(dict), pool=TRANSCRIPTION_POOL)
def transcribe(
    context: dg.OpExecutionContext, data_home: DataHome, transcriber: Transcriber, episode: dict
) -> dict:
    """One file through Whisper into the store. An error is returned, not raised: `write`
    records it as the episode's failure and the day goes on."""
    _, summary = _attempt(context.log, data_home, transcriber, episode)
    return {**episode, **summary}


@dg.op(out=dg.Out(dg.Nothing), pool=WAREHOUSE_POOL)
def write(
    context: dg.OpExecutionContext,
    data_home: DataHome,
    web: WebFetcher,
    transcriber: Transcriber,
    warehouse: Warehouse,
    transcribed: list[dict],
) -> None:
    """The day's segments per episode: the feed's own transcript, else Whisper's from the store
    (transcribed here only when a published transcript turned out unusable)."""
    day = partition_day(context)
    allow_private = data_home.feeds().allow_private_network
    failures = Failures(context, "transcripts")
    outcome = {t["audio_sha256"]: t for t in transcribed}
    counts = {"transcribed": 0, "cached": 0, "from_feed": 0}
    audio_s = sum(t.get("audio_s", 0.0) for t in transcribed)
    whisper_s = sum(t.get("whisper_s", 0.0) for t in transcribed)
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
        sha = ep["audio_sha256"]
        if segments is None and sha:
            # From the store; transcribed here only as a published transcript's fallback.
            summary = outcome.get(sha) or {}
            if "error" not in summary:
                segments, now = _attempt(context.log, data_home, transcriber, ep)
                summary = {**summary, **now}
                audio_s += now.get("audio_s", 0.0)
                whisper_s += now.get("whisper_s", 0.0)
            if "error" in summary:
                failures.add(ep["feed"], summary["error"], episode_guid=ep["guid"])
            else:
                counts["transcribed" if "audio_s" in summary else "cached"] += 1
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
    if audio_s and whisper_s:
        metadata["speed_x_realtime"] = round(audio_s / whisper_s, 1)
    summarise(context, metadata)
    context.add_output_metadata(metadata)


@daily_graph_asset(
    group_name="transcription",
    ins={"audio": dg.AssetIn(key=episode_audio.key, dagster_type=dg.Nothing)},
    kinds={"python"},
)
def transcripts(audio):
    """Timed transcript segments per episode: the feed's own transcript, else faster-whisper,
    one step per audio file not transcribed yet."""
    return write(plan(audio=audio).map(transcribe).collect())


@daily_check(asset=transcripts)
def transcripts_segments_valid(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, data_home: DataHome
):
    """great-expectations suite over the day's segments: times ordered and inside bounds, text."""
    from dagster_project.lib.expectations import validate_segments

    rows = warehouse.rows("transcript_segments", partition_day(context))
    result = validated(data_home, "transcript_segments", rows, validate_segments)
    return dg.AssetCheckResult(passed=result["success"], metadata=result["metadata"])
