"""Digest quality on labelled shows: recall, duplicates, junk, citation accuracy, repeatability.

Renders benchmarks/labelled_shows.yaml (espeak-ng + ffmpeg) into a cache folder, runs the real
pipeline (Whisper, spaCy, MiniLM, BERTopic) day by day through the Definitions, and scores each
digest against the script's labels. The pipeline sees only the feeds and the audio; the labels
stay in manifest.json, read here and nowhere else.

    .venv/bin/python benchmarks/quality.py [--script benchmarks/labelled_shows.yaml]

Targets: recall 1.0 of themes discussed by two or more shows, 0 duplicates, 0 junk, citation
accuracy >= 0.95, the same digests on a rerun and on a backfill. Exit code 1 when one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "demo"))
FILLER = {"intro", "outro", "sponsor", "banter", "question", "noise"}


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


def line_label(lines: list[dict], start_s: float, end_s: float) -> str | None:
    best, overlap = None, 0.0
    for line in lines:
        o = min(line["end_s"], end_s) - max(line["start_s"], start_s)
        if o > overlap:
            best, overlap = line["label"], o
    return best


def overlaps_theme(lines: list[dict], start_s: float, end_s: float, theme: str) -> bool:
    return any(
        line["label"] == theme and min(line["end_s"], end_s) > max(line["start_s"], start_s)
        for line in lines
    )


def score_day(digest: dict, episodes: dict[str, dict], day: str) -> dict:
    shows_per_theme: dict[str, set[str]] = defaultdict(set)
    for ep in episodes.values():
        if ep["published"].startswith(day):
            for line in ep["lines"]:
                if line["label"] not in FILLER:
                    shows_per_theme[line["label"]].add(ep["show"])
    multi = {t for t, shows in shows_per_theme.items() if len(shows) >= 2}
    themes, cited, accurate = [], 0, 0
    for insight in digest["insights"]:
        labels = [
            line_label(episodes[c["episode_guid"]]["lines"], c["start_s"], c["end_s"])
            for c in insight["citations"]
        ]
        theme = Counter(labels).most_common(1)[0][0]
        themes.append(theme)
        for c in insight["citations"]:
            cited += 1
            accurate += overlaps_theme(
                episodes[c["episode_guid"]]["lines"], c["start_s"], c["end_s"], theme
            )
    found = multi & set(themes)
    return {
        "day": day,
        "multi_show_themes": sorted(multi),
        "insight_themes": themes,
        "recall": len(found) / len(multi) if multi else 1.0,
        "missed": sorted(multi - found),
        "duplicates": len(themes) - len(set(themes)),
        "junk": sum(1 for t in themes if t in FILLER or t is None),
        "citations": cited,
        "citation_accuracy": accurate / cited if cited else 1.0,
        "headlines": [i["headline"] for i in digest["insights"]],
    }


def run_days(shows_dir: Path, home: Path, days: list[str]) -> dict[str, dict]:
    """Materialise each day in order through the real job; return the digests."""
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
    digests = {}
    for day in days:
        with contextlib.redirect_stdout(sys.stderr):  # dbt's log; the report owns stdout
            result = job.execute_in_process(partition_key=day, instance=instance)
        assert result.success, f"run for {day} failed"
        digests[day] = json.loads((home / "data" / "digests" / f"{day}.json").read_text())
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--script", type=Path, default=REPO / "benchmarks/labelled_shows.yaml")
    parser.add_argument("--cache", type=Path, default=REPO / "data/benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the runs' data folders")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.cache.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    manifest = render_shows(args.script, args.cache)
    shows_dir = Path(manifest["dir"])
    episodes = {e["guid"]: e for e in manifest["episodes"]}
    days = sorted({e["published"][:10] for e in manifest["episodes"]})
    work = Path(tempfile.mkdtemp(prefix="quality-", dir=args.cache))
    try:
        daily = run_days(shows_dir, work / "daily", days)
        rerun = run_days(shows_dir, work / "daily", days[-1:])
        # A backfill of the whole range into a new data folder, with the transcript cache kept
        # (cached work is part of a backfill); everything after transcription runs again.
        (work / "backfill" / "data").mkdir(parents=True)
        shutil.copytree(work / "daily/data/transcripts", work / "backfill/data/transcripts")
        backfill = run_days(shows_dir, work / "backfill", days)
    finally:
        elapsed = time.perf_counter() - started
    reports = [score_day(daily[d], episodes, d) for d in days]
    same_rerun = rerun[days[-1]] == daily[days[-1]]
    same_backfill = all(backfill[d] == daily[d] for d in days)
    for r in reports:
        print(f"\n== {r['day']}: {len(r['insight_themes'])} insights")
        for theme, headline in zip(r["insight_themes"], r["headlines"], strict=True):
            print(f"  [{theme}] {headline}")
        print(f"  multi-show themes: {', '.join(r['multi_show_themes'])}")
        if r["missed"]:
            print(f"  missed: {', '.join(r['missed'])}")
    total_cited = sum(r["citations"] for r in reports)
    summary = {
        "recall_multi_show_themes": min(r["recall"] for r in reports),
        "duplicates": sum(r["duplicates"] for r in reports),
        "junk_insights": sum(r["junk"] for r in reports),
        "citation_accuracy": (
            sum(r["citation_accuracy"] * r["citations"] for r in reports) / total_cited
            if total_cited
            else 1.0
        ),
        "same_digest_on_rerun": same_rerun,
        "same_digest_on_backfill": same_backfill,
    }
    targets = {
        "recall_multi_show_themes": summary["recall_multi_show_themes"] >= 1.0,
        "duplicates": summary["duplicates"] == 0,
        "junk_insights": summary["junk_insights"] == 0,
        "citation_accuracy": summary["citation_accuracy"] >= 0.95,
        "same_digest_on_rerun": same_rerun,
        "same_digest_on_backfill": same_backfill,
    }
    print("\n== summary (minimum recall over days; totals otherwise)")
    for key, value in summary.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"  {key:28s} {shown!s:>8}  {'ok' if targets[key] else 'MISSED'}")
    print(f"  ({len(days)} days, {len(episodes)} episodes, {elapsed:.0f} s)")
    if args.keep:
        print(f"  data kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
