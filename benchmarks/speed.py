"""Speed and memory, as ratios measured in one process (these machines are noisy).

1. Transcription: audio seconds per wall second ("x real time") for the default settings and two
   alternatives, each over the same demo episodes.
2. The demo day end to end, then the same day again: the rerun reuses audio and transcripts, so
   its share of the first run's time says what the caches save.
3. Peak resident memory of the process.

    .venv/bin/python benchmarks/speed.py [--episodes 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "demo" / "shows"


def transcription(episodes: int) -> None:
    from dagster_project.resources.models import Transcriber

    manifest = json.loads((SHOWS / "manifest.json").read_text())
    audio = [(SHOWS / e["audio"], e["duration_s"]) for e in manifest["episodes"]][:episodes]
    total = sum(d for _, d in audio)
    variants = {
        "default (beam 1, word times)": Transcriber(),
        "beam 1, no word times": Transcriber(word_timestamps=False),
        "beam 5, word times": Transcriber(beam_size=5),
    }
    variants["default (beam 1, word times)"].transcribe(str(audio[0][0]))  # load + warm up
    print(f"transcription over {len(audio)} episodes, {total:.0f} s of audio:")
    base = None
    for name, t in variants.items():
        started = time.perf_counter()
        for path, _ in audio:
            t.transcribe(str(path))
        wall = time.perf_counter() - started
        base = base or wall
        print(
            f"  {name:30s} {total / wall:6.1f}x real time   {wall / base:5.2f}x the default's time"
        )


def rerun_ratio() -> None:
    import dagster as dg

    home = Path(tempfile.mkdtemp(prefix="speed-"))
    os.environ["PODCAST_INSIGHTS_HOME"] = str(home)
    os.environ.pop("PODCAST_INSIGHTS_FEEDS", None)
    from dagster_project.definitions import defs

    job = defs().resolve_job_def("daily_insights")
    instance = dg.DagsterInstance.ephemeral()
    times = []
    for _ in range(2):
        started = time.perf_counter()
        assert job.execute_in_process(partition_key="2026-11-18", instance=instance).success
        times.append(time.perf_counter() - started)
    print(
        f"demo day: first run {times[0]:.1f} s, rerun {times[1]:.1f} s "
        f"(rerun = {times[1] / times[0]:.2f} of the first run)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transcription(args.episodes)
    rerun_ratio()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
