"""Digest quality on three labelled sets of spoken shows: tuning, development and held-out.

For each set, renders the script (espeak-ng + ffmpeg) into a cache folder, runs the real pipeline
(Whisper, spaCy, MiniLM, BERTopic) day by day through the Definitions, and scores the stored
claims and each digest against the script's labels. The pipeline sees only the feeds and the
audio; the labels and the speakers' names stay in manifest.json, read here and nowhere else.

    .venv/bin/python benchmarks/quality.py                     # every set, side by side
    .venv/bin/python benchmarks/quality.py --set development --quick --keep  # one, daily runs
    .venv/bin/python benchmarks/quality.py --json report.json  # also write the report as JSON
    .venv/bin/python benchmarks/quality.py --quick --seeds 1,2,3  # and cluster with other seeds
    .venv/bin/python benchmarks/quality.py --quick --reuse report.json  # from a --keep run's data

The sets:
  tuning       benchmarks/labelled_shows.yaml: what the pipeline was built and tuned on.
  development  benchmarks/development_shows.yaml: written apart from the pipeline as a held-out
               set; its failures have since been studied and fixed, so it is no longer held out.
  held-out     benchmarks/blind_shows.yaml: written by someone who never read the pipeline's
               code; nobody tunes on it. A change that helps only the first two is tuning.

Per set and day: recall of the themes two or more shows discussed; insights vs the themes
available (min(5, themes with at least one true claim)); duplicate and junk insights; citation
accuracy (a citation's seconds overlap a line of its insight's theme); claim precision (a stored
claim is true when its seconds overlap theme lines more than filler lines) and claim recall
(theme lines at least half covered by stored claims; how many of them the transcript has at
all is shown beside it, to tell transcription losses from claim filtering); the transcripts'
word error rate against the script (the limit every later stage works within); attribution precision
and share (a claim's non-null speaker must be the name of the voice that spoke the line it
overlaps most; voice labels like "speaker_1" are not names); wrong names in headlines; the word
error rate of the quotes the headlines were written from, against the part of their script
lines they say (numbers count as said whether spelled or in digits: how legible the headlines
are); and whether a rerun and a backfill give the same digests.

Targets (exit code 1 when one is missed):
  tuning    recall 1.0 (every day), 0 duplicates, 0 junk, citation accuracy >= 0.95, the same
            digests on a rerun and on a backfill.
  development and held-out, every day: recall >= 0.9, insights >= min(5, themes with claims),
            0 duplicates, 0 junk, citation accuracy >= 0.95, claim precision and recall >= 0.9,
            attribution precision 1.0 (rerun and backfill are reported, not targets).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "demo"))
FILLER = {"intro", "outro", "sponsor", "banter", "question", "noise"}
SETS = {
    "tuning": REPO / "benchmarks/labelled_shows.yaml",
    "development": REPO / "benchmarks/development_shows.yaml",
    "held-out": REPO / "benchmarks/blind_shows.yaml",
}
VOICE_LABEL_RE = re.compile(r"^speaker[_ ]?\d+$", re.IGNORECASE)  # a diarized voice, not a name
LINE_COVERED = 0.5  # a theme line "became a claim" when stored claims cover this share of it


# --------------------------------------------------------------------------- rendering and runs


def render_shows(script: Path, cache: Path) -> dict:
    """Render once per script content; reuse the cached rendering after that."""
    import hashlib

    from make_shows import render

    key = hashlib.sha256(script.read_bytes() + (REPO / "demo/make_shows.py").read_bytes())
    out = cache / key.hexdigest()[:16]
    if not (out / "manifest.json").exists():
        tmp = Path(tempfile.mkdtemp(dir=cache))
        render(script, tmp)
        tmp.rename(out)
    return json.loads((out / "manifest.json").read_text()) | {"dir": str(out)}


def run_days(
    shows_dir: Path, home: Path, days: list[str], seed: int | None = None
) -> dict[str, dict]:
    """Materialise each day in order through the real job; return the digests.

    `seed`: cluster with this seed (the topic model's `seed`) instead of the configured one.
    """
    import dagster as dg

    feeds = home / "feeds.yaml"
    home.mkdir(parents=True, exist_ok=True)
    names = sorted(p.stem for p in (shows_dir / "feeds").glob("*.xml"))
    feeds.write_text(
        "feeds:\n"
        + "".join(
            f"  - {{name: {n}, url: '{(shows_dir / 'feeds' / n).as_uri()}.xml'}}\n" for n in names
        )
    )
    os.environ["PODCAST_INSIGHTS_FEEDS"] = str(feeds)
    os.environ["PODCAST_INSIGHTS_HOME"] = str(home / "data")
    from dagster_project.definitions import defs

    job = defs().resolve_job_def("daily_insights")
    instance = dg.DagsterInstance.ephemeral()
    config = {} if seed is None else {"resources": {"topic_model": {"config": {"seed": seed}}}}
    digests = {}
    for day in days:
        with contextlib.redirect_stdout(sys.stderr):  # dbt's log; the report owns stdout
            result = job.execute_in_process(partition_key=day, instance=instance, run_config=config)
        assert result.success, f"run for {day} failed"
        digests[day] = json.loads((home / "data" / "digests" / f"{day}.json").read_text())
    return digests


def stored_rows(home: Path, table: str) -> dict[str, list[dict]]:
    """Spans of a run's DuckDB warehouse table (claims, transcript_segments), by partition day."""
    import duckdb

    from dagster_project.lib.settings import Settings

    warehouse = Settings.from_env({"PODCAST_INSIGHTS_HOME": str(home / "data")}).duckdb_path
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(
            "SELECT CAST(partition_date AS VARCHAR), feed, episode_guid, start_s, end_s, text,"
            f" speaker FROM {table} ORDER BY partition_date, episode_guid, start_s"
        )
        cols = ["day", "feed", "episode_guid", "start_s", "end_s", "text", "speaker"]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    by_day: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row["day"][:10]].append(row)
    return by_day


def lines_covered(theme_lines: list[tuple[str, dict]], spans: list[dict]) -> list[bool]:
    """For each (episode guid, line): do the spans cover at least LINE_COVERED of it?"""
    covered: dict[tuple[str, int], float] = defaultdict(float)
    by_episode: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        by_episode[span["episode_guid"]].append(span)
    for guid, line in theme_lines:
        for span in by_episode[guid]:
            covered[(guid, line["index"])] += _overlap(
                line, float(span["start_s"]), float(span["end_s"])
            )
    return [
        covered[(guid, line["index"])] >= LINE_COVERED * (line["end_s"] - line["start_s"])
        for guid, line in theme_lines
    ]


# --------------------------------------------------------------------------- scoring


def _overlap(line: dict, start_s: float, end_s: float) -> float:
    return max(0.0, min(line["end_s"], end_s) - max(line["start_s"], start_s))


def best_line(lines: list[dict], start_s: float, end_s: float) -> dict | None:
    """The line that a span of audio overlaps most (None when it overlaps none)."""
    best, most = None, 0.0
    for line in lines:
        o = _overlap(line, start_s, end_s)
        if o > most:
            best, most = line, o
    return best


def line_label(lines: list[dict], start_s: float, end_s: float) -> str | None:
    line = best_line(lines, start_s, end_s)
    return line["label"] if line else None


def overlaps_theme(lines: list[dict], start_s: float, end_s: float, theme: str) -> bool:
    return any(line["label"] == theme and _overlap(line, start_s, end_s) > 0 for line in lines)


def is_true_claim(lines: list[dict], start_s: float, end_s: float) -> bool:
    """True when the span overlaps theme lines more than filler lines."""
    theme = sum(_overlap(x, start_s, end_s) for x in lines if x["label"] not in FILLER)
    filler = sum(_overlap(x, start_s, end_s) for x in lines if x["label"] in FILLER)
    return theme > 0 and theme > filler


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def word_errors(reference: list[str], hypothesis: list[str], *, fitted: bool = False) -> int:
    """Word-level edit distance (substitutions, insertions, deletions). `fitted`: against the
    part of the reference the hypothesis matches best, so a quote of half a line is not wrong
    for leaving out the other half (it may start and end anywhere in the reference)."""
    row = [0] * (len(reference) + 1) if fitted else list(range(len(reference) + 1))
    for i, word in enumerate(hypothesis, 1):
        diagonal, row[0] = row[0], i
        for j, ref in enumerate(reference, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != word))
    return min(row) if fitted else row[-1]


def transcript_errors(day_eps: dict[str, dict], segments: list[dict]) -> tuple[int, int]:
    """(word errors, words spoken) of the day's stored transcripts against the script's lines.

    Words are lower-cased runs of letters, digits and apostrophes, so a number written in
    digits where the script spells it out counts as an error: compare rates of one set only.
    """
    heard: dict[str, list[dict]] = defaultdict(list)
    for seg in segments:
        heard[seg["episode_guid"]].append(seg)
    errors = spoken = 0
    for guid, ep in day_eps.items():
        reference = _tokens(" ".join(line["text"] for line in ep["lines"]))
        said = sorted(heard[guid], key=lambda s: float(s["start_s"]))
        errors += word_errors(reference, _tokens(" ".join(s["text"] for s in said)))
        spoken += len(reference)
    return errors, spoken


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace(",", ""))


def headline_source(insight: dict, episodes: dict[str, dict]) -> tuple[dict, dict | None] | None:
    """(the citation the headline was written from, the script line it overlaps most)."""
    if not insight["citations"]:
        return None
    head = _words(insight["headline"])
    source = max(insight["citations"], key=lambda c: len(head & _words(c.get("quote") or "")))
    ep = episodes.get(source["episode_guid"])
    return source, best_line(ep["lines"], source["start_s"], source["end_s"]) if ep else None


_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million billion trillion point percent"
)
NUMBER_WORDS = set(_NUMBERS.split())


def _said(text: str) -> list[str]:
    """A text's words with every run of number words or digits as one "<n>": the scripts spell
    numbers out ("twelve percent") where Whisper writes digits ("12%"), which is not an error
    a reader sees."""
    out: list[str] = []
    for token in _tokens(text.replace("%", " percent")):
        number = token in NUMBER_WORDS or any(ch.isdigit() for ch in token)
        if not (number and out and out[-1] == "<n>"):
            out.append("<n>" if number else token)
    return out


def headline_errors(source: tuple[dict, dict | None] | None) -> tuple[int, int]:
    """(word errors, words) of the quote a headline was written from (`headline_source`),
    against the part of its script line it says: how legible the digest's headlines are."""
    if not source or not source[1]:
        return 0, 0
    quote = _said(source[0].get("quote") or "")
    return word_errors(_said(source[1]["text"]), quote, fitted=True), len(quote)


def headline_name_errors(
    insight: dict, source: tuple[dict, dict | None] | None, people: set[str]
) -> list[str]:
    """Names in a headline that are not the speaker of the cited line the headline comes from
    (`headline_source`)."""
    named = [p for p in people if p.lower() in insight["headline"].lower()]
    if not named or not source:
        return []
    line = source[1]
    spoken_by = line["speaker_name"] if line else None
    return [
        f"{p!r} in {insight['headline']!r} (said by {spoken_by})" for p in named if p != spoken_by
    ]


def score_day(
    digest: dict,
    episodes: dict[str, dict],
    day: str,
    claims: list[dict],
    people: set[str],
    segments: list[dict] | None = None,
) -> dict:
    day_eps = {g: e for g, e in episodes.items() if e["partition_date"] == day}
    shows_per_theme: dict[str, set[str]] = defaultdict(set)
    theme_lines = []
    for ep in day_eps.values():
        for line in ep["lines"]:
            if line["label"] not in FILLER:
                shows_per_theme[line["label"]].add(ep["show"])
                theme_lines.append((ep["guid"], line))
    multi = {t for t, shows in shows_per_theme.items() if len(shows) >= 2}

    # --- the digest
    themes, cited, accurate, named_wrong = [], 0, 0, []
    head_errors = head_words = 0
    for insight in digest["insights"]:
        labels = [
            line_label(episodes[c["episode_guid"]]["lines"], c["start_s"], c["end_s"])
            if c["episode_guid"] in episodes
            else None
            for c in insight["citations"]
        ]
        theme = Counter(labels).most_common(1)[0][0] if labels else None
        themes.append(theme)
        for c in insight["citations"]:
            cited += 1
            accurate += c["episode_guid"] in episodes and overlaps_theme(
                episodes[c["episode_guid"]]["lines"], c["start_s"], c["end_s"], theme
            )
        source = headline_source(insight, episodes)
        named_wrong += headline_name_errors(insight, source, people)
        errs, words = headline_errors(source)
        head_errors, head_words = head_errors + errs, head_words + words
    found = multi & set(themes)

    # --- the stored claims
    n_true = n_false = attributed = correct = voice_labels = 0
    wrong_speakers: list[str] = []
    false_claims: list[str] = []
    themes_with_claims: set[str] = set()
    for claim in claims:
        ep = episodes.get(claim["episode_guid"])
        lines = ep["lines"] if ep else []
        s, e = float(claim["start_s"]), float(claim["end_s"])
        if is_true_claim(lines, s, e):
            n_true += 1
            themes_with_claims.add(best_line(lines, s, e)["label"])
        else:
            n_false += 1
            false_claims.append(claim["text"])
        speaker = (claim["speaker"] or "").strip()
        if speaker and VOICE_LABEL_RE.match(speaker):
            voice_labels += 1
        elif speaker:
            attributed += 1
            line = best_line(lines, s, e)
            if line and line["speaker_name"] == speaker:
                correct += 1
            else:
                said_by = line["speaker_name"] if line else "nobody"
                wrong_speakers.append(f"{speaker!r} for {claim['text']!r} (said by {said_by})")
    themes_with_claims -= FILLER
    errors, spoken = transcript_errors(day_eps, segments) if segments is not None else (0, 0)
    claimed = lines_covered(theme_lines, claims)
    transcribed = lines_covered(theme_lines, segments) if segments is not None else claimed
    missed_lines = [
        f"{guid}: {line['text']}" + ("" if heard else "  [not in the transcript]")
        for (guid, line), ok, heard in zip(theme_lines, claimed, transcribed, strict=True)
        if not ok
    ]
    n_claims = n_true + n_false
    return {
        "day": day,
        "episodes": len(day_eps),
        "themes": sorted(shows_per_theme),
        "multi_show_themes": sorted(multi),
        "themes_with_claims": sorted(themes_with_claims),
        "insights": len(digest["insights"]),
        "expected_insights": min(5, len(themes_with_claims)),
        "insight_themes": themes,
        "headlines": [i["headline"] for i in digest["insights"]],
        "recall": len(found) / len(multi) if multi else 1.0,
        "missed": sorted(multi - found),
        "duplicates": len(themes) - len(set(themes)),
        "junk": sum(1 for t in themes if t in FILLER or t is None),
        "citations": cited,
        "citation_accuracy": accurate / cited if cited else 1.0,
        "claims": n_claims,
        "true_claims": n_true,
        "claim_precision": n_true / n_claims if n_claims else 1.0,
        "theme_lines": len(theme_lines),
        "theme_lines_claimed": sum(claimed),
        "claim_recall": sum(claimed) / len(theme_lines) if theme_lines else 1.0,
        "theme_lines_transcribed": sum(transcribed),
        "words_spoken": spoken,
        "word_errors": errors,
        "word_error_rate": errors / spoken if spoken else 0.0,
        "attributed": attributed,
        "attributed_correct": correct,
        "attribution_precision": correct / attributed if attributed else 1.0,
        "attribution_share": attributed / n_claims if n_claims else 0.0,
        "voice_labels_only": voice_labels,
        "headline_names_wrong": len(named_wrong),
        "headline_words": head_words,
        "headline_word_errors": head_errors,
        "headline_word_error_rate": head_errors / head_words if head_words else 0.0,
        "examples": {
            "false_claims": false_claims[:8],
            "theme_lines_not_claimed": missed_lines[:8],
            "wrong_speakers": wrong_speakers[:8],
            "wrong_headline_names": named_wrong[:8],
        },
    }


def summarise(days: list[dict]) -> dict:
    """The set's totals: sums of counts, minimum recall over days, ratios over all items."""

    def ratio(num: str, den: str, default: float) -> float:
        d = sum(r[den] for r in days)
        return sum(r[num] for r in days) / d if d else default

    return {
        "insights": sum(r["insights"] for r in days),
        "expected_insights": sum(r["expected_insights"] for r in days),
        "recall": min(r["recall"] for r in days),
        "duplicates": sum(r["duplicates"] for r in days),
        "junk": sum(r["junk"] for r in days),
        "citations": sum(r["citations"] for r in days),
        "citation_accuracy": (
            sum(r["citation_accuracy"] * r["citations"] for r in days)
            / sum(r["citations"] for r in days)
            if sum(r["citations"] for r in days)
            else 1.0
        ),
        "claims": sum(r["claims"] for r in days),
        "claim_precision": ratio("true_claims", "claims", 1.0),
        "claim_recall": ratio("theme_lines_claimed", "theme_lines", 1.0),
        "theme_lines": sum(r["theme_lines"] for r in days),
        "theme_lines_transcribed": sum(r["theme_lines_transcribed"] for r in days),
        "words_spoken": sum(r["words_spoken"] for r in days),
        "word_error_rate": ratio("word_errors", "words_spoken", 0.0),
        "attributed": sum(r["attributed"] for r in days),
        "attribution_precision": ratio("attributed_correct", "attributed", 1.0),
        "attribution_share": ratio("attributed", "claims", 0.0),
        "headline_names_wrong": sum(r["headline_names_wrong"] for r in days),
        "headline_words": sum(r["headline_words"] for r in days),
        "headline_word_error_rate": ratio("headline_word_errors", "headline_words", 0.0),
    }


def targets_for(
    kind: str, days: list[dict], same_rerun: bool | None, same_backfill: bool | None
) -> dict:
    """Each target of the set: {name: met}. A quick run (None) checks no rerun or backfill."""
    if kind == "tuning":
        s = summarise(days)
        targets = {
            "recall 1.0 every day": s["recall"] >= 1.0,
            "0 duplicates": s["duplicates"] == 0,
            "0 junk": s["junk"] == 0,
            "citation accuracy >= 0.95": s["citation_accuracy"] >= 0.95,
            "same digest on rerun": same_rerun,
            "same digest on backfill": same_backfill,
        }
        return {k: v for k, v in targets.items() if v is not None}
    every = lambda test: all(test(r) for r in days)  # noqa: E731
    return {
        "recall >= 0.9 every day": every(lambda r: r["recall"] >= 0.9),
        "min(5, themes) insights every day": every(
            lambda r: r["insights"] >= r["expected_insights"]
        ),
        "0 duplicates": every(lambda r: r["duplicates"] == 0),
        "0 junk": every(lambda r: r["junk"] == 0),
        "citation accuracy >= 0.95 every day": every(lambda r: r["citation_accuracy"] >= 0.95),
        "claim precision >= 0.9 every day": every(lambda r: r["claim_precision"] >= 0.9),
        "claim recall >= 0.9 every day": every(lambda r: r["claim_recall"] >= 0.9),
        "attribution precision 1.0 every day": every(lambda r: r["attribution_precision"] >= 1.0),
    }


# --------------------------------------------------------------------------- one set


def run_set(
    name: str,
    kind: str,
    script: Path,
    cache: Path,
    keep: bool,
    quick: bool,
    seeds: tuple[int, ...] = (),
    reuse: Path | None = None,
) -> dict:
    """One set's runs and scores. `reuse`: a kept run's folder of daily runs to start from;
    only the stages whose inputs, settings or code changed since run again."""
    started = time.perf_counter()
    manifest = render_shows(script, cache)
    shows_dir = Path(manifest["dir"])
    episodes = {e["guid"]: e for e in manifest["episodes"]}
    people = {line["speaker_name"] for e in episodes.values() for line in e["lines"]}
    days = sorted({e["partition_date"] for e in manifest["episodes"]})
    work = Path(tempfile.mkdtemp(prefix="quality-", dir=cache))
    print(f"==> {name}: {script.name}, {len(days)} days, {len(episodes)} episodes", file=sys.stderr)
    try:
        if reuse is not None:
            shutil.copytree(reuse, work / "daily")
        daily = run_days(shows_dir, work / "daily", days)
        claims = stored_rows(work / "daily", "claims")
        segments = stored_rows(work / "daily", "transcript_segments")
        # The same claims clustered with other seeds: a copy of the daily runs' data, so the
        # transcripts and claims are reused and the topics onward run again.
        reseeded = {}
        for seed in seeds:
            shutil.copytree(work / "daily", work / f"seed-{seed}")
            reseeded[seed] = run_days(shows_dir, work / f"seed-{seed}", days, seed=seed)
        if quick:
            rerun, backfill = daily, daily
        else:
            rerun = run_days(shows_dir, work / "daily", days[-1:])
            # A backfill of the whole range into a new data folder, with the transcript cache
            # kept (cached work is part of a backfill); everything after transcription runs again.
            (work / "backfill" / "data").mkdir(parents=True)
            shutil.copytree(work / "daily/data/transcripts", work / "backfill/data/transcripts")
            backfill = run_days(shows_dir, work / "backfill", days)
    finally:
        elapsed = time.perf_counter() - started
        if not keep:
            shutil.rmtree(work, ignore_errors=True)

    def scored(digests: dict[str, dict]) -> list[dict]:
        """Each day's digest scored against the labels (the claims are the same in every run)."""
        return [
            score_day(digests[d], episodes, d, claims.get(d, []), people, segments.get(d, []))
            for d in days
        ]

    reports = scored(daily)
    by_seed = {}
    for seed, digests in reseeded.items():
        seed_days = scored(digests)
        by_seed[seed] = {
            "days": seed_days,
            "summary": summarise(seed_days),
            "targets": targets_for(kind, seed_days, None, None),
        }
    same_rerun = None if quick else rerun[days[-1]] == daily[days[-1]]
    same_backfill = None if quick else all(backfill[d] == daily[d] for d in days)
    return {
        "name": name,
        "kind": kind,
        "script": str(script.relative_to(REPO) if script.is_relative_to(REPO) else script),
        "episodes": len(episodes),
        "audio_s": round(sum(e["duration_s"] for e in episodes.values()), 1),
        "days": reports,
        "summary": summarise(reports),
        "same_digest_on_rerun": same_rerun,
        "same_digest_on_backfill": same_backfill,
        "targets": targets_for(kind, reports, same_rerun, same_backfill),
        "seeds": by_seed,
        "elapsed_s": round(elapsed, 1),
        "data": str(work) if keep else None,
        "reused": str(reuse) if reuse else None,
    }


# --------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{x:.3f}"


ROWS: list[tuple[str, Any]] = [
    ("episodes", lambda r: str(r["episodes"])),
    ("themes (multi-show / all)", lambda r: f"{len(r['multi_show_themes'])}/{len(r['themes'])}"),
    ("insights / min(5, themes w/ claims)", lambda r: f"{r['insights']}/{r['expected_insights']}"),
    ("recall, multi-show themes", lambda r: _pct(r["recall"])),
    ("duplicates", lambda r: str(r["duplicates"])),
    ("junk insights", lambda r: str(r["junk"])),
    ("citation accuracy", lambda r: f"{_pct(r['citation_accuracy'])} ({r['citations']})"),
    ("claim precision", lambda r: f"{_pct(r['claim_precision'])} ({r['claims']})"),
    ("claim recall", lambda r: f"{_pct(r['claim_recall'])} ({r['theme_lines']})"),
    (
        "  theme lines in the transcript",
        lambda r: f"{r['theme_lines_transcribed']}/{r['theme_lines']}",
    ),
    ("transcript word error rate", lambda r: f"{_pct(r['word_error_rate'])} ({r['words_spoken']})"),
    ("attribution precision", lambda r: f"{_pct(r['attribution_precision'])} ({r['attributed']})"),
    ("attribution share", lambda r: _pct(r["attribution_share"])),
    ("wrong names in headlines", lambda r: str(r["headline_names_wrong"])),
    (
        "headline quotes' word error rate",
        lambda r: f"{_pct(r['headline_word_error_rate'])} ({r['headline_words']})",
    ),
]
SUMMARY_ROWS: dict[str, Any] = {
    "episodes": lambda s, rep: str(rep["episodes"]),
    "themes (multi-show / all)": lambda s, rep: "",
    "insights / min(5, themes w/ claims)": lambda s, rep: (
        f"{s['insights']}/{s['expected_insights']}"
    ),
    "recall, multi-show themes": lambda s, rep: f"min {_pct(s['recall'])}",
    "duplicates": lambda s, rep: str(s["duplicates"]),
    "junk insights": lambda s, rep: str(s["junk"]),
    "citation accuracy": lambda s, rep: f"{_pct(s['citation_accuracy'])} ({s['citations']})",
    "claim precision": lambda s, rep: f"{_pct(s['claim_precision'])} ({s['claims']})",
    "claim recall": lambda s, rep: f"{_pct(s['claim_recall'])} ({s['theme_lines']})",
    "  theme lines in the transcript": lambda s, rep: (
        f"{s['theme_lines_transcribed']}/{s['theme_lines']}"
    ),
    "transcript word error rate": lambda s, rep: (
        f"{_pct(s['word_error_rate'])} ({s['words_spoken']})"
    ),
    "attribution precision": lambda s, rep: (
        f"{_pct(s['attribution_precision'])} ({s['attributed']})"
    ),
    "attribution share": lambda s, rep: _pct(s["attribution_share"]),
    "wrong names in headlines": lambda s, rep: str(s["headline_names_wrong"]),
    "headline quotes' word error rate": lambda s, rep: (
        f"{_pct(s['headline_word_error_rate'])} ({s['headline_words']})"
    ),
}


def print_details(rep: dict) -> None:
    print(f"\n#### {rep['name']} ({rep['script']}): {rep['episodes']} episodes, {rep['audio_s']} s")
    if rep.get("reused"):
        print(f"  (started from the kept runs in {rep['reused']})")
    for r in rep["days"]:
        print(f"\n== {r['day']}: {r['insights']} insights ({r['episodes']} episodes)")
        for theme, headline in zip(r["insight_themes"], r["headlines"], strict=True):
            print(f"  [{theme}] {headline}")
        print(f"  multi-show themes: {', '.join(r['multi_show_themes'])}")
        print(f"  themes with claims: {', '.join(r['themes_with_claims'])}")
        if r["missed"]:
            print(f"  missed: {', '.join(r['missed'])}")
        for key, items in r["examples"].items():
            if items:
                print(f"  {key.replace('_', ' ')}:")
                for item in items:
                    print(f"    - {item[:160]}")


def print_table(reps: list[dict]) -> None:
    cols: list[tuple[str, list[str]]] = []
    for rep in reps:
        for r in rep["days"]:
            cols.append((f"{rep['name']} {r['day'][5:]}", [fn(r) for _, fn in ROWS]))
        s = rep["summary"]
        cols.append((f"{rep['name']} all", [SUMMARY_ROWS[label](s, rep) for label, _ in ROWS]))
    extra = [
        ("same digest on rerun", "same_digest_on_rerun"),
        ("same digest on backfill", "same_digest_on_backfill"),
    ]
    label_w = max(len(label) for label, _ in ROWS + extra)
    widths = [max(len(h), *(len(v) for v in vals)) for h, vals in cols]
    print("\n== side by side (per day; 'all' = totals, minimum recall; (n) = how many counted)")
    print(
        f"  {'':{label_w}}  "
        + "  ".join(f"{h:>{w}}" for (h, _), w in zip(cols, widths, strict=True))
    )
    for i, (label, _) in enumerate(ROWS):
        cells = "  ".join(f"{vals[i]:>{w}}" for (_, vals), w in zip(cols, widths, strict=True))
        print(f"  {label:{label_w}}  {cells}")
    for label, key in extra:
        cells = []
        for rep in reps:
            n = len(rep["days"])
            cells += [""] * n + [str(rep[key])]
        print(
            f"  {label:{label_w}}  "
            + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        )


def print_seeds(reps: list[dict]) -> None:
    """The digest's figures per day under each seed: how much of a figure is the seed's luck."""
    from dagster_project.resources.models import TopicModeler

    for rep in reps:
        if not rep["seeds"]:
            continue
        print(f"\n== {rep['name']}, the same claims clustered with other seeds (per day)")
        runs = [(f"{TopicModeler().seed} (configured)", rep)]
        runs += [(str(seed), run) for seed, run in rep["seeds"].items()]
        for label, run in runs:
            d = run["days"]
            print(
                f"  seed {label:>15}: recall {_per_day(d, 'recall', '{:.2f}')}, "
                f"insights {_per_day(d, 'insights')}, duplicates {_per_day(d, 'duplicates')}, "
                f"junk {_per_day(d, 'junk')}, "
                f"citation accuracy {_pct(run['summary']['citation_accuracy'])} "
                f"({_per_day(d, 'citation_accuracy', '{:.2f}')})"
            )


def _per_day(days: list[dict], key: str, fmt: str = "{}") -> str:
    """A figure of each day, in order: 1.00/0.80/1.00."""
    return "/".join(fmt.format(r[key]) for r in days)


def print_targets(reps: list[dict]) -> None:
    for rep in reps:
        met = sum(rep["targets"].values())
        print(f"\n== {rep['name']} targets: {met}/{len(rep['targets'])} met ({rep['elapsed_s']} s)")
        seeds = list(rep["seeds"].values())
        for target, ok in rep["targets"].items():
            also = ""
            if seeds and target in seeds[0]["targets"]:
                n = sum(bool(run["targets"][target]) for run in seeds)
                also = f"  (other seeds: met at {n} of {len(seeds)})"
            print(f"  {'ok    ' if ok else 'MISSED'}  {target}{also}")
        if rep["data"]:
            print(f"  data kept in {rep['data']}")


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _kept(sets: dict[str, dict], name: str) -> Path | None:
    """The daily runs' folder a kept report holds for this set, if it holds one."""
    data = sets.get(name, {}).get("data")
    if not data:
        print(f"--reuse: no kept runs of the {name} set; it runs from the start", file=sys.stderr)
        return None
    daily = Path(data) / "daily"
    if not daily.is_dir():
        raise SystemExit(f"--reuse: {daily} (the {name} set's kept runs) is gone")
    return daily


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=tuple(SETS), action="append", help="only these sets")
    parser.add_argument("--script", type=Path, help="run this script alone, as a held-out set")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="daily runs only: no rerun and no backfill (their targets are not checked)",
    )
    parser.add_argument("--cache", type=Path, default=REPO / "data/benchmarks")
    parser.add_argument(
        "--json",
        type=Path,
        help="write the report as JSON to this path (default: <cache>/quality-report.json)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the runs' data folders")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a report of a run made with --keep: each set starts from that run's data, and "
        "only the stages whose inputs, settings or code changed run again (a clustering or "
        "ranking change is measured without transcribing again; its first pass is then itself "
        "a rerun, so use it with --quick)",
    )
    parser.add_argument(
        "--seeds",
        type=lambda text: tuple(int(x) for x in text.split(",") if x),
        default=(),
        help="also cluster the same claims with these seeds, e.g. 1,2,3 (reported beside the "
        "configured seed's figures; the targets are the configured seed's)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The benchmark owns its data folders: a DuckDB warehouse in each, and no email.
    for var in ("PODCAST_INSIGHTS_WAREHOUSE_URL", "PODCAST_INSIGHTS_SMTP_HOST"):
        os.environ.pop(var, None)
    args.cache.mkdir(parents=True, exist_ok=True)
    # the code measured is the code at the start (others may commit while this runs)
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head, dirty = _git("rev-parse", "HEAD"), bool(_git("status", "--porcelain"))

    if args.script:
        plan = [(args.script.stem, "held-out", args.script.resolve())]
    else:
        plan = [(n, n, p) for n, p in SETS.items() if not args.set or n in args.set]
    out = args.json or args.cache / "quality-report.json"
    reuse: dict[str, Path | None] = {}
    if args.reuse:
        if out.resolve() == args.reuse.resolve():
            raise SystemExit("--reuse: name another --json, or the report reused is overwritten")
        kept = json.loads(args.reuse.read_text())["sets"]
        reuse = {name: _kept(kept, name) for name, _, _ in plan}  # every folder checked first
    reps = [
        run_set(name, kind, script, args.cache, args.keep, args.quick, args.seeds, reuse.get(name))
        for name, kind, script in plan
    ]

    for rep in reps:
        print_details(rep)
    print_table(reps)
    print_seeds(reps)
    print_targets(reps)
    ok = all(all(rep["targets"].values()) for rep in reps)
    report = {
        "started_at": started_at,
        "git_head": head,
        "git_dirty": dirty,
        "ok": ok,
        "sets": {rep["name"]: rep for rep in reps},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nreport written to {out}")
    print(f"\n{'all targets met' if ok else 'targets missed'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
