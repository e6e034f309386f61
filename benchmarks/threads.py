"""Transcriptions at once on one machine: every core each (the default) or one thread each.

Under Celery (or any executor that runs steps side by side) as many `transcribe` steps run at
once as the `transcription` pool and the worker's concurrency allow, and each Transcriber asks
for every core by default (`cpu_threads: 0`). This measures whether that oversubscription costs
anything: as many processes as cores, started together, each transcribing the demo shows'
episodes (no ffmpeg needed), once with `cpu_threads: 0` and once with `cpu_threads: 1`, in
alternation (rounds), the model loaded and warmed up before the clock starts. Prints the wall
time of each setting's rounds and their ratio, and whether both settings wrote the same words.

    .venv/bin/python benchmarks/threads.py [--rounds 2] [--processes N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

from reporting import write_report

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "demo" / "shows"


def _worker(threads: int, files: list[str], ready: Any, out: Any) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from dagster_project.resources.models import Transcriber

    transcriber = Transcriber(cpu_threads=threads)
    transcriber.transcribe(files[0])  # load and warm up before the clock
    ready.wait()
    started = time.perf_counter()
    text = [" ".join(s.text for s in transcriber.transcribe(f)[0]) for f in files]
    out.put((time.perf_counter() - started, transcriber.threads, text))


def at_once(threads: int, processes: int, files: list[str]) -> dict:
    """`processes` transcribers side by side, each over every file: the slowest one's wall."""
    ctx = mp.get_context("spawn")
    ready, out = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(threads, files, ready, out)) for _ in range(processes)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"a transcription process failed (exit {p.exitcode})")
    return {
        "wall_s": max(r[0] for r in results),
        "threads_each": results[0][1],
        "texts": [r[2] for r in results],
    }


def main(argv: list[str] | None = None) -> int:
    from dagster_project.lib.settings import usable_cores

    cores = usable_cores()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=cores)
    parser.add_argument("--json", type=Path, default=REPO / "data/benchmarks/threads-report.json")
    args = parser.parse_args(argv)
    manifest = json.loads((SHOWS / "manifest.json").read_text())
    files = [str(SHOWS / e["audio"]) for e in manifest["episodes"]]
    settings = {"every core each": 0, "one thread each": 1}
    wall = dict.fromkeys(settings, 0.0)
    texts: dict[str, list] = {}
    threads_each: dict[str, int] = {}
    for i in range(args.rounds):
        order = list(settings) if i % 2 == 0 else list(reversed(settings))
        for name in order:
            r = at_once(settings[name], args.processes, files)
            wall[name] += r["wall_s"]
            texts[name] = r["texts"]
            threads_each[name] = r["threads_each"]
            print(f"round {i + 1}, {name}: {r['wall_s']:.1f} s", file=sys.stderr)
    ratio = wall["one thread each"] / wall["every core each"]
    same = texts["every core each"] == texts["one thread each"]
    print(
        f"\n{args.processes} transcriptions at once on {cores} cores, {len(files)} demo episodes"
        f" each, {args.rounds} rounds"
    )
    for name in settings:
        print(f"  {name} ({threads_each[name]} threads): {wall[name]:.1f} s")
    print(f"  one thread each / every core each: {ratio:.2f} (below 1: oversubscription costs)")
    print(f"  same words both ways: {same}")
    report = {
        "processes": args.processes,
        "cores": cores,
        "episodes": len(files),
        "rounds": args.rounds,
        "wall_s": wall,
        "threads_each": threads_each,
        "one_thread_vs_every_core": round(ratio, 3),
        "same_words": same,
    }
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
