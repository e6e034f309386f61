"""voices: who spoke each transcribed segment, as a voice, and a name only on evidence."""

import hashlib
import io
import json
from collections import defaultdict

import dagster as dg
import numpy as np

from dagster_project.assets.common import (
    Failures,
    daily_asset,
    daily_check,
    finish,
    inputs_key,
    partition_day,
    unchanged,
)
from dagster_project.assets.episode_audio import episodes_with_audio
from dagster_project.assets.transcripts import transcripts
from dagster_project.lib import voices as lib
from dagster_project.lib.claims import episode_people
from dagster_project.lib.content_key import source_version
from dagster_project.lib.store import write_atomic
from dagster_project.lib.tuning import VOICE_MARGIN, VOICE_RELIABLE_S, VOICE_SAME_SIMILARITY
from dagster_project.resources.models import Nlp
from dagster_project.resources.storage import DataHome
from dagster_project.resources.voices import SpeakerEncoder
from dagster_project.resources.warehouse import Warehouse


def episode_persons(nlp: Nlp, episode: dict) -> list[dict]:
    """The people the feed says are on an episode ([{"name", "role"}]), most explicit first."""
    text = f"{episode['author'] or ''}. {episode['title']}. {episode['description'] or ''}"
    named = sorted({ent.text for ent in nlp.parse(text).ents if ent.label_ == "PERSON"})
    return episode_people(json.loads(episode["persons"] or "[]"), episode["author"], named)


def _embeddings(
    data_home: DataHome, encoder: SpeakerEncoder, episode: dict, spans: list[tuple[float, float]]
) -> list[np.ndarray | None]:
    """The segments' speaker embeddings, cached by audio, segment times and encoder."""
    key = hashlib.sha256(
        f"{episode['audio_sha256']}|{encoder.settings_key()}|{json.dumps(spans)}".encode()
    ).hexdigest()[:32]
    cache = data_home.path("voices", f"{key}.npz")
    if cache.exists():
        with np.load(cache) as stored:
            vectors, present = stored["vectors"], stored["present"]
        return [v if ok else None for v, ok in zip(vectors, present, strict=True)]
    found = encoder.embed_spans(data_home.audio_file(episode["audio_sha256"]), spans)
    vectors = np.stack([v if v is not None else np.zeros(256, np.float32) for v in found])
    present = np.array([v is not None for v in found])
    buffer = io.BytesIO()
    np.savez(buffer, vectors=vectors, present=present)
    write_atomic(cache, buffer.getvalue())
    return found


@daily_asset(group_name="analysis", deps=[transcripts], kinds={"python"})
def voices(
    context: dg.AssetExecutionContext,
    nlp: Nlp,
    speaker_encoder: SpeakerEncoder,
    data_home: DataHome,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """Each transcribed segment's voice (speaker_1, ...) and, where the feed gives evidence, its
    name: a self-introduction of a listed person, or the one listed host when that voice opens
    and closes the episode. Published transcripts carry their own speakers and are left alone.
    """
    day = partition_day(context)
    key = inputs_key(
        context,
        warehouse,
        [
            ("episodes", day, day),
            ("episode_audio", day, day),
            ("transcript_segments", day, day),
        ],
        nlp.model_dump(),
        speaker_encoder.settings_key(),
        source_version("dagster_project.resources.voices"),
    )
    if done := unchanged(context, warehouse, ["segment_voices"], key):
        return done
    failures = Failures(context, "voices")
    segments: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in warehouse.rows("transcript_segments", day, order_by="segment_index"):
        segments[(r["feed"], r["episode_guid"])].append(r)
    rows, counts = [], {"episodes": 0, "voices": 0, "named_voices": 0, "named_segments": 0}
    for ep in episodes_with_audio(warehouse, day):
        segs = segments.get((ep["feed"], ep["guid"]), [])
        if not segs or not ep["audio_sha256"] or any(s["source"] != "whisper" for s in segs):
            continue
        try:
            found = _embeddings(
                data_home, speaker_encoder, ep, [(s["start_s"], s["end_s"]) for s in segs]
            )
        except Exception as exc:  # an unreadable file or a model error: no voices, day goes on
            failures.add(ep["feed"], f"voices not found: {exc}", episode_guid=ep["guid"])
            continue
        usable = [i for i, v in enumerate(found) if v is not None]
        vectors = np.stack([v for v in found if v is not None]) if usable else np.zeros((0, 256))
        people = episode_persons(nlp, ep)
        reliable = [segs[i]["end_s"] - segs[i]["start_s"] >= VOICE_RELIABLE_S for i in usable]
        labels = lib.cluster(
            vectors,
            VOICE_SAME_SIMILARITY,
            reliable=reliable,
            at_least=len({p["name"] for p in people}),
        )
        sure = lib.confident(vectors, labels, VOICE_MARGIN, reliable=reliable)
        voice_of: dict[int, str] = {i: lib.voice_label(labels[n]) for n, i in enumerate(usable)}
        sure_of = {i: sure[n] for n, i in enumerate(usable)}
        names = lib.name_voices(
            [
                lib.Voiced(s["text"], voice_of.get(i), sure_of.get(i, False))
                for i, s in enumerate(segs)
            ],
            people,
        )
        counts["episodes"] += 1
        counts["voices"] += len(set(labels))
        counts["named_voices"] += len(names)
        for i, s in enumerate(segs):
            voice = voice_of.get(i)
            name = names.get(voice) if voice and sure_of.get(i) else None
            counts["named_segments"] += name is not None
            rows.append(
                {
                    "feed": ep["feed"],
                    "episode_guid": ep["guid"],
                    "segment_index": s["segment_index"],
                    "voice": voice,
                    "speaker": name,
                }
            )
    warehouse.replace_partition("segment_voices", day, rows, inputs_key=key)
    failed = failures.save(warehouse, day)
    return finish(context, {**counts, "segments": len(rows), "failed": failed})


@daily_check(asset=voices)
def voices_match_segments(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Every voice row belongs to a transcript segment of the day."""
    day = partition_day(context)
    bad = warehouse.query(
        "SELECT v.feed, v.episode_guid, v.segment_index FROM segment_voices v "
        "LEFT JOIN transcript_segments t ON t.partition_date = v.partition_date "
        "AND t.feed = v.feed AND t.episode_guid = v.episode_guid "
        "AND t.segment_index = v.segment_index "
        "WHERE v.partition_date = ? AND t.segment_index IS NULL",
        [day],
    )
    return dg.AssetCheckResult(
        passed=not bad, metadata={"orphans": len(bad), "examples": dg.MetadataValue.json(bad[:10])}
    )
