"""Transcripts that feeds publish (podcast:transcript): WebVTT, SRT and the JSON format."""

from __future__ import annotations

import json
import re

from dagster_project.lib.segments import Segment


class TranscriptFormatError(ValueError):
    pass


_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_VOICE = re.compile(r"<v(?:\.[^ >]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")


def _seconds(stamp: str) -> float:
    m = _TIME.fullmatch(stamp.strip())
    if not m:
        raise TranscriptFormatError(f"bad timestamp {stamp!r}")
    h, mnt, sec, frac = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(sec) + int(frac.ljust(3, "0")) / 1000


def _cues(text: str) -> list[Segment]:
    """Cues of VTT or SRT: a 'start --> end' line, then text lines up to a blank line."""
    segments: list[Segment] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "-->" in line:
            start, _, rest = line.partition("-->")
            end = rest.strip().split()[0] if rest.strip() else ""
            body = []
            i += 1
            while i < len(lines) and lines[i].strip():
                body.append(lines[i].strip())
                i += 1
            raw = " ".join(body)
            voice = _VOICE.search(raw)
            clean = _TAG.sub("", raw).strip()
            if clean:
                segments.append(
                    Segment(
                        start_s=_seconds(start),
                        end_s=_seconds(end),
                        text=clean,
                        speaker=voice.group(1).strip() if voice else None,
                    )
                )
        i += 1
    return segments


def parse_transcript(data: bytes, content_type: str) -> list[Segment]:
    """Segments of a published transcript; raises TranscriptFormatError when unusable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptFormatError("transcript is not UTF-8 text") from exc
    if content_type == "application/json":
        try:
            doc = json.loads(text)
            segments = [
                Segment(
                    start_s=float(s["startTime"]),
                    end_s=float(s["endTime"]),
                    text=str(s["body"]).strip(),
                    speaker=s.get("speaker"),
                )
                for s in doc["segments"]
                if str(s.get("body", "")).strip()
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise TranscriptFormatError(f"bad JSON transcript: {exc}") from exc
    else:
        segments = _cues(text)
    if not segments:
        raise TranscriptFormatError("transcript has no cues")
    if any(s.end_s < s.start_s for s in segments):
        raise TranscriptFormatError("transcript has a cue that ends before it starts")
    return segments
