#!/usr/bin/env python3
"""Render spoken podcast shows (RSS feeds, MP3 audio, WebVTT transcripts) from a script YAML.

The script lists shows, their episodes and, for each episode, the lines that the host and the
guest say. Every line is ``[speaker, label, text]`` where ``speaker`` is ``host`` or ``guest`` and
``label`` is the theme slug of the line or one of the filler labels (intro, outro, sponsor, banter,
question, noise). For more voices, a show may name a ``cohost`` (speaker ``cohost``, listed as a
second host in the feed) and an episode may list ``guests`` instead of one ``guest`` (speakers
``guest``, ``guest2``, ``guest3``, ... in the order listed). Labels never reach the feeds or the
audio: they are written only to ``manifest.json``, which is the ground truth for tests and
benchmarks. An optional top-level ``pronounce`` mapping respells names for espeak-ng only
(``Eli Lilly: Ee lie Lilly``); the manifest and the VTT transcripts keep the written text.

Output under ``out_dir``::

    feeds/<show>.xml               RSS 2.0 with itunes: and podcast: tags, relative enclosure URLs
    audio/<show>/<episode>.mp3     espeak-ng speech, mono 16 kHz, 32 kbit/s
    transcripts/<show>/<ep>.vtt    WebVTT with <v Speaker> tags, only where ``transcript: vtt``
    manifest.json                  every episode and every line with exact start/end seconds

Only the Python standard library and PyYAML are used; rendering shells out to ``espeak-ng`` and
``ffmpeg``. The output is deterministic: the same script gives the same bytes.

Usage::

    python demo/make_shows.py [--script demo/script.yaml] [--out demo/shows]
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_SCRIPT = HERE / "script.yaml"
DEFAULT_OUT = HERE / "shows"

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"

FILLER_LABELS = frozenset({"intro", "outro", "sponsor", "banter", "question", "noise"})
SPEAKER_ROLES = ("host", "guest")  # plus "cohost" and "guest2", "guest3", ... (see Episode)
GUEST_ROLE_RE = re.compile(r"^guest([2-9])$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

SPEECH_RATE_WPM = 165
LEAD_SILENCE_S = 0.5
GAP_SILENCE_S = 0.6
TAIL_SILENCE_S = 0.5
MP3_ARGS = ["-ac", "1", "-ar", "16000", "-b:a", "32k", "-codec:a", "libmp3lame"]
DEFAULT_LANGUAGE = "en-us"


class ScriptError(ValueError):
    """The script YAML is malformed."""


# --------------------------------------------------------------------------- script parsing


@dataclass(frozen=True)
class Person:
    name: str
    voice: str


@dataclass(frozen=True)
class Line:
    speaker: str  # "host" | "guest" | "cohost" | "guest2", "guest3", ...
    label: str
    text: str


@dataclass(frozen=True)
class Episode:
    slug: str
    title: str
    description: str
    published: dt.datetime  # timezone-aware, UTC
    guest: Person | None
    transcript: str | None  # None | "vtt"
    lines: tuple[Line, ...]
    more_guests: tuple[Person, ...] = ()  # "guest2", "guest3", ... when the episode lists guests


def _voices(show: Show, ep: Episode) -> dict[str, Person]:
    """Every speaker role of an episode and who speaks it."""
    people = {"host": show.host}
    if show.cohost is not None:
        people["cohost"] = show.cohost
    if ep.guest is not None:
        people["guest"] = ep.guest
    for i, person in enumerate(ep.more_guests, start=2):
        people[f"guest{i}"] = person
    return people


@dataclass(frozen=True)
class Show:
    slug: str
    title: str
    description: str
    author: str
    language: str
    host: Person
    episodes: tuple[Episode, ...]
    cohost: Person | None = None


@dataclass(frozen=True)
class Script:
    shows: tuple[Show, ...]
    pronounce: tuple[tuple[str, str], ...]  # (written, spoken): respellings for espeak-ng only

    def spoken(self, text: str) -> str:
        """The text handed to espeak-ng: the written text with the respellings applied."""
        if not self.pronounce:
            return text
        table = dict(self.pronounce)
        alternatives = "|".join(re.escape(written) for written, _ in self.pronounce)
        pattern = rf"(?<!\w)(?:{alternatives})(?!\w)"
        return re.sub(pattern, lambda m: table[m.group(0)], text)


def _req(mapping: dict, key: str, where: str) -> Any:
    if not isinstance(mapping, dict):
        raise ScriptError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    value = mapping.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ScriptError(f"{where}: missing '{key}'")
    return value


def _person(raw: Any, where: str) -> Person:
    name = str(_req(raw, "name", where)).strip()
    voice = str(_req(raw, "voice", where)).strip()
    return Person(name=name, voice=voice)


def _published(raw: Any, where: str) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip().replace("Z", "+00:00")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise ScriptError(f"{where}: bad 'published' {raw!r} (want ISO 8601)") from exc
    else:
        raise ScriptError(f"{where}: bad 'published' {raw!r} (want ISO 8601)")
    if value.tzinfo is None:
        raise ScriptError(f"{where}: 'published' {raw!r} needs a timezone (e.g. a trailing Z)")
    return value.astimezone(dt.UTC)


def _claim_slug(slug: str, taken: set[str], where: str, kind: str) -> None:
    """A well-formed slug, not used before in its scope; records it as used."""
    if not SLUG_RE.match(slug):
        raise ScriptError(f"{where}: slug must match {SLUG_RE.pattern}")
    if slug in taken:
        raise ScriptError(f"{where}: duplicate {kind} slug")
    taken.add(slug)


def load_script(script_path: Path) -> Script:
    """Read and validate a script YAML; raise ScriptError with the offending place."""
    with open(script_path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("shows"), list) or not data["shows"]:
        raise ScriptError(f"{script_path}: expected a top-level 'shows' list")
    raw_pron = data.get("pronounce") or {}
    if not isinstance(raw_pron, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in raw_pron.items()
    ):
        raise ScriptError(f"{script_path}: 'pronounce' must map written text to spoken text")
    # longest first, so "Eli Lilly" wins over a shorter entry inside it
    pronounce = tuple(sorted(raw_pron.items(), key=lambda kv: (-len(kv[0]), kv[0])))

    shows: list[Show] = []
    show_slugs: set[str] = set()
    for si, raw_show in enumerate(data["shows"]):
        where = f"shows[{si}]"
        slug = str(_req(raw_show, "slug", where))
        where = f"show {slug!r}"
        _claim_slug(slug, show_slugs, where, "show")
        title = str(_req(raw_show, "title", where))
        host = _person(_req(raw_show, "host", where), f"{where} host")
        author = str(raw_show.get("author") or host.name)
        description = str(raw_show.get("description") or title)
        language = str(raw_show.get("language") or DEFAULT_LANGUAGE)
        cohost = None
        if raw_show.get("cohost") is not None:
            cohost = _person(raw_show["cohost"], f"{where} cohost")

        raw_eps = _req(raw_show, "episodes", where)
        if not isinstance(raw_eps, list) or not raw_eps:
            raise ScriptError(f"{where}: 'episodes' must be a non-empty list")
        episodes: list[Episode] = []
        ep_slugs: set[str] = set()
        for ei, raw_ep in enumerate(raw_eps):
            ep_slug = str(_req(raw_ep, "slug", f"{where} episodes[{ei}]"))
            ewhere = f"episode {slug}/{ep_slug}"
            _claim_slug(ep_slug, ep_slugs, ewhere, "episode")
            guest = None
            more_guests: list[Person] = []
            if raw_ep.get("guest") is not None and raw_ep.get("guests") is not None:
                raise ScriptError(f"{ewhere}: give 'guest' or 'guests', not both")
            if raw_ep.get("guest") is not None:
                guest = _person(raw_ep["guest"], f"{ewhere} guest")
            elif raw_ep.get("guests") is not None:
                raw_guests = raw_ep["guests"]
                if not isinstance(raw_guests, list) or not 1 <= len(raw_guests) <= 9:
                    raise ScriptError(f"{ewhere}: 'guests' must be a list of 1 to 9 people")
                people = [_person(g, f"{ewhere} guests[{gi}]") for gi, g in enumerate(raw_guests)]
                guest, more_guests = people[0], people[1:]
            transcript = raw_ep.get("transcript")
            if transcript not in (None, "vtt"):
                raise ScriptError(f"{ewhere}: 'transcript' must be 'vtt' or absent")
            raw_lines = _req(raw_ep, "lines", ewhere)
            if not isinstance(raw_lines, list) or not raw_lines:
                raise ScriptError(f"{ewhere}: 'lines' must be a non-empty list")
            lines: list[Line] = []
            for li, raw_line in enumerate(raw_lines):
                lwhere = f"{ewhere} line {li}"
                if not (isinstance(raw_line, list) and len(raw_line) == 3):
                    raise ScriptError(f"{lwhere}: expected [speaker, label, text]")
                speaker, label, text = (str(x).strip() for x in raw_line)
                extra = GUEST_ROLE_RE.match(speaker)
                if speaker not in SPEAKER_ROLES and speaker != "cohost" and not extra:
                    raise ScriptError(f"{lwhere}: speaker must be host or guest, got {speaker!r}")
                if speaker == "guest" and guest is None:
                    raise ScriptError(f"{lwhere}: a guest line but the episode has no guest")
                if speaker == "cohost" and cohost is None:
                    raise ScriptError(f"{lwhere}: a cohost line but the show has no cohost")
                if extra and int(extra.group(1)) - 1 > len(more_guests):
                    raise ScriptError(f"{lwhere}: a {speaker} line but 'guests' has no such guest")
                if not LABEL_RE.match(label):
                    raise ScriptError(f"{lwhere}: bad label {label!r}")
                if not text:
                    raise ScriptError(f"{lwhere}: empty text")
                if text.startswith("-"):
                    raise ScriptError(f"{lwhere}: text must not start with '-'")
                lines.append(Line(speaker=speaker, label=label, text=" ".join(text.split())))
            episodes.append(
                Episode(
                    slug=ep_slug,
                    title=str(_req(raw_ep, "title", ewhere)),
                    description=str(raw_ep.get("description") or raw_ep["title"]),
                    published=_published(_req(raw_ep, "published", ewhere), ewhere),
                    guest=guest,
                    transcript=transcript,
                    lines=tuple(lines),
                    more_guests=tuple(more_guests),
                )
            )
        shows.append(
            Show(
                slug=slug,
                title=title,
                description=description,
                author=author,
                language=language,
                host=host,
                episodes=tuple(episodes),
                cohost=cohost,
            )
        )
    return Script(shows=tuple(shows), pronounce=pronounce)


# --------------------------------------------------------------------------- audio


def _require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"make_shows needs {' and '.join(missing)} on PATH to render audio")


def _speak(text: str, voice: str, wav_path: Path) -> None:
    cmd = ["espeak-ng", "-v", voice, "-s", str(SPEECH_RATE_WPM), "-w", str(wav_path), text]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wav_path.exists():
        raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.strip()}")


def _render_episode_audio(
    script: Script, show: Show, ep: Episode, mp3_path: Path, work: Path
) -> tuple[float, list[tuple[float, float]]]:
    """Speak every line, join them with silences, encode to MP3.

    Returns the exact duration of the joined audio and each line's (start_s, end_s).
    """
    voices = {role: person.voice for role, person in _voices(show, ep).items()}
    params = None
    chunks: list[bytes] = []
    for i, line in enumerate(ep.lines):
        wav_path = work / f"line{i:03d}.wav"
        _speak(script.spoken(line.text), voices[line.speaker], wav_path)
        with wave.open(str(wav_path), "rb") as w:
            p = (w.getnchannels(), w.getsampwidth(), w.getframerate())
            if params is None:
                params = p
            elif p != params:
                raise RuntimeError(
                    f"{show.slug}/{ep.slug}: voice {voices[line.speaker]!r} renders {p}, "
                    f"other lines render {params}; use voices with the same sample format"
                )
            chunks.append(w.readframes(w.getnframes()))
    assert params is not None
    nchannels, sampwidth, rate = params
    frame_bytes = nchannels * sampwidth

    def silence(seconds: float) -> bytes:
        return b"\x00" * (round(seconds * rate) * frame_bytes)

    out = bytearray(silence(LEAD_SILENCE_S))
    spans: list[tuple[float, float]] = []
    for i, chunk in enumerate(chunks):
        if i:
            out += silence(GAP_SILENCE_S)
        start = len(out) // frame_bytes / rate
        out += chunk
        end = len(out) // frame_bytes / rate
        spans.append((round(start, 3), round(end, 3)))
    out += silence(TAIL_SILENCE_S)
    duration = len(out) // frame_bytes / rate

    joined = work / "episode.wav"
    with wave.open(str(joined), "wb") as w:
        w.setnchannels(nchannels)
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        w.writeframes(bytes(out))

    mp3_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-fflags", "+bitexact", "-i", str(joined),
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact",
        *MP3_ARGS, "-id3v2_version", "0",
        str(mp3_path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed for {mp3_path}: {proc.stderr.strip()}")
    return round(duration, 3), spans


# --------------------------------------------------------------------------- text outputs


def _hms(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(lines: list[dict]) -> str:
    out = ["WEBVTT", ""]
    for line in lines:
        out.append(str(line["index"] + 1))
        out.append(f"{_vtt_time(line['start_s'])} --> {_vtt_time(line['end_s'])}")
        out.append(f"<v {_vtt_escape(line['speaker_name'])}>{_vtt_escape(line['text'])}")
        out.append("")
    return "\n".join(out)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def render_feed(show: Show, entries: list[dict]) -> bytes:
    """RSS 2.0 for one show; ``entries`` are manifest episodes of the show, newest first."""
    ET.register_namespace("itunes", ITUNES_NS)
    ET.register_namespace("podcast", PODCAST_NS)
    it = f"{{{ITUNES_NS}}}"
    pc = f"{{{PODCAST_NS}}}"
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", show.title)
    _sub(channel, "link", f"https://example.com/{show.slug}")
    _sub(channel, "description", show.description)
    _sub(channel, "language", show.language)
    if entries:
        _sub(channel, "lastBuildDate", entries[0]["pub_date_rfc2822"])
    _sub(channel, f"{it}author", show.author)
    _sub(channel, f"{it}explicit", "false")
    _sub(channel, f"{pc}person", show.host.name, role="host")
    if show.cohost is not None:
        _sub(channel, f"{pc}person", show.cohost.name, role="host")
    for e in entries:
        item = _sub(channel, "item")
        _sub(item, "title", e["title"])
        _sub(item, "description", e["description"])
        _sub(item, "link", f"https://example.com/{show.slug}/{e['slug']}")
        _sub(item, "guid", e["guid"], isPermaLink="false")
        _sub(item, "pubDate", e["pub_date_rfc2822"])
        _sub(
            item,
            "enclosure",
            url=f"../{e['audio']}",
            length=str(e["audio_bytes"]),
            type="audio/mpeg",
        )
        _sub(item, f"{it}duration", _hms(e["duration_s"]))
        _sub(item, f"{it}author", show.author)
        _sub(item, f"{pc}person", e["host"], role="host")
        if e.get("cohost"):
            _sub(item, f"{pc}person", e["cohost"], role="host")
        for guest in e.get("guests") or ([e["guest"]] if e["guest"] else []):
            _sub(item, f"{pc}person", guest, role="guest")
        if e["transcript"]:
            _sub(item, f"{pc}transcript", url=f"../{e['transcript']}", type="text/vtt")
    ET.indent(rss, space="  ")
    body = ET.tostring(rss, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


# --------------------------------------------------------------------------- render


def _render_one(script: Script, show: Show, ep: Episode, out_dir: Path) -> dict:
    audio_rel = f"audio/{show.slug}/{ep.slug}.mp3"
    mp3_path = out_dir / audio_rel
    with tempfile.TemporaryDirectory(prefix="make_shows_") as tmp:
        duration, spans = _render_episode_audio(script, show, ep, mp3_path, Path(tmp))
    names = {role: person.name for role, person in _voices(show, ep).items()}
    names.setdefault("guest", None)
    lines = [
        {
            "index": i,
            "speaker_role": line.speaker,
            "speaker_name": names[line.speaker],
            "label": line.label,
            "text": line.text,
            "start_s": start,
            "end_s": end,
        }
        for i, (line, (start, end)) in enumerate(zip(ep.lines, spans, strict=True))
    ]
    transcript_rel = None
    if ep.transcript == "vtt":
        transcript_rel = f"transcripts/{show.slug}/{ep.slug}.vtt"
        vtt_path = out_dir / transcript_rel
        vtt_path.parent.mkdir(parents=True, exist_ok=True)
        vtt_path.write_text(render_vtt(lines), encoding="utf-8")
    audio_bytes = mp3_path.read_bytes()
    return {
        "show": show.slug,
        "show_title": show.title,
        "slug": ep.slug,
        "guid": f"{show.slug}/{ep.slug}",
        "title": ep.title,
        "description": ep.description,
        "published": ep.published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pub_date_rfc2822": email.utils.format_datetime(ep.published, usegmt=True),
        "partition_date": ep.published.date().isoformat(),
        "duration_s": duration,
        "audio": audio_rel,
        "audio_bytes": len(audio_bytes),
        "audio_sha256": hashlib.sha256(audio_bytes).hexdigest(),
        "transcript": transcript_rel,
        "host": show.host.name,
        "guest": names["guest"],
        # only for the newer options, so that scripts without them render the same bytes
        **({"cohost": show.cohost.name} if show.cohost else {}),
        **(
            {"guests": [ep.guest.name] + [g.name for g in ep.more_guests]} if ep.more_guests else {}
        ),
        "lines": lines,
    }


def render(script_path: Path, out_dir: Path, jobs: int | None = None) -> dict:
    """Render every show of ``script_path`` into ``out_dir`` and return the manifest.

    ``feeds/``, ``audio/`` and ``transcripts/`` under ``out_dir`` are rebuilt from scratch.
    """
    script_path = Path(script_path)
    out_dir = Path(out_dir)
    script = load_script(script_path)
    shows = script.shows
    _require_tools()
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("feeds", "audio", "transcripts"):
        if (out_dir / sub).is_dir():
            shutil.rmtree(out_dir / sub)

    work = [(show, ep) for show in shows for ep in show.episodes]
    jobs = jobs or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rendered = list(pool.map(lambda se: _render_one(script, se[0], se[1], out_dir), work))

    by_show: dict[str, list[dict]] = {show.slug: [] for show in shows}
    for entry in rendered:
        by_show[entry["show"]].append(entry)

    (out_dir / "feeds").mkdir(parents=True, exist_ok=True)
    manifest_shows = []
    manifest_episodes = []
    for show in shows:
        entries = sorted(
            by_show[show.slug], key=lambda e: (e["published"], e["slug"]), reverse=True
        )
        feed_rel = f"feeds/{show.slug}.xml"
        (out_dir / feed_rel).write_bytes(render_feed(show, entries))
        manifest_shows.append(
            {
                "slug": show.slug,
                "title": show.title,
                "author": show.author,
                "host": show.host.name,
                **({"cohost": show.cohost.name} if show.cohost else {}),
                "feed": feed_rel,
                "episodes": [e["guid"] for e in entries],
            }
        )
        for e in entries:
            manifest_episodes.append({k: v for k, v in e.items() if k != "pub_date_rfc2822"})

    manifest = {
        "script": script_path.name,
        "settings": {
            "speech_rate_wpm": SPEECH_RATE_WPM,
            "lead_silence_s": LEAD_SILENCE_S,
            "gap_silence_s": GAP_SILENCE_S,
            "tail_silence_s": TAIL_SILENCE_S,
            "mp3": "mono 16000 Hz 32 kbit/s",
        },
        "filler_labels": sorted(FILLER_LABELS),
        "shows": manifest_shows,
        "episodes": manifest_episodes,
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def _summary(manifest: dict, out_dir: Path) -> str:
    eps = manifest["episodes"]
    total_s = sum(e["duration_s"] for e in eps)
    total_b = sum(e["audio_bytes"] for e in eps)
    themes: dict[str, set[str]] = {}
    for e in eps:
        for line in e["lines"]:
            if line["label"] not in FILLER_LABELS:
                themes.setdefault(line["label"], set()).add(e["show"])
    parts = [
        f"rendered {len(manifest['shows'])} shows, {len(eps)} episodes into {out_dir}",
        f"audio: {total_s:.1f} s, {total_b / 1e6:.2f} MB",
        "themes: " + ", ".join(f"{t} ({len(s)} shows)" for t, s in sorted(themes.items())),
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, default=DEFAULT_SCRIPT, help="script YAML")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--jobs", type=int, default=None, help="parallel episodes")
    args = parser.parse_args(argv)
    try:
        manifest = render(args.script, args.out, jobs=args.jobs)
    except (ScriptError, RuntimeError, OSError) as exc:
        print(f"make_shows: {exc}", file=sys.stderr)
        return 1
    print(_summary(manifest, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
