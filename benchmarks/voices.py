"""Speaker embeddings of the demo shows: numpy's BLAS threads limited to one, or left alone.

The `voices` step embeds every transcript segment: numpy computes the segment's mel filter
bank, then torch's encoder (with its own OpenMP threads) runs at once. This embeds each spoken
line of the demo episodes (their seconds from the demo's manifest; no ffmpeg needed) with the
SpeakerEncoder resource as configured (`blas_threads: 1`) and with BLAS left to its default
(`blas_threads: 0`), in alternating rounds in one process, the encoder loaded first. Prints
the wall time of each, their ratio, and how far apart the two ways' embeddings are.

    .venv/bin/python benchmarks/voices.py [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from reporting import write_report

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "demo" / "shows"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "data/benchmarks/voices-report.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from dagster_project.lib.settings import usable_cores
    from dagster_project.resources.voices import SpeakerEncoder

    manifest = json.loads((SHOWS / "manifest.json").read_text())["episodes"]
    jobs = [
        (SHOWS / e["audio"], [(line["start_s"], line["end_s"]) for line in e["lines"]])
        for e in manifest
    ]
    spans = sum(len(s) for _, s in jobs)
    encoders = {"one BLAS thread": SpeakerEncoder(), "BLAS default": SpeakerEncoder(blas_threads=0)}
    assert encoders["one BLAS thread"].blas_threads == 1, "the resource's default changed"
    encoders["one BLAS thread"]._load()
    wall = dict.fromkeys(encoders, 0.0)
    found: dict[str, list] = {}
    for i in range(args.rounds):
        order = list(encoders) if i % 2 == 0 else list(reversed(encoders))
        for name in order:
            started = time.perf_counter()
            found[name] = [v for audio, s in jobs for v in encoders[name].embed_spans(audio, s)]
            took = time.perf_counter() - started
            wall[name] += took
            print(f"round {i + 1}, {name}: {took:.1f} s", file=sys.stderr)
    ratio = wall["BLAS default"] / wall["one BLAS thread"]
    pairs = [
        (a, b)
        for a, b in zip(found["one BLAS thread"], found["BLAS default"], strict=True)
        if a is not None and b is not None
    ]
    closest = min(float(a @ b) for a, b in pairs)
    cores = usable_cores()
    print(f"\n{len(jobs)} demo episodes, {spans} spans, {args.rounds} rounds, {cores} cores")
    for name in encoders:
        print(f"  {name}: {wall[name]:.1f} s")
    print(f"  speed-up of one BLAS thread: {ratio:.2f}x")
    print(f"  embeddings, the two ways: lowest cosine {closest:.6f} over {len(pairs)} spans")
    report = {
        "episodes": len(jobs),
        "spans": spans,
        "rounds": args.rounds,
        "cores": cores,
        "wall_s": wall,
        "speedup": round(ratio, 3),
        "lowest_cosine": closest,
        "max_abs_diff": max(float(np.abs(a - b).max()) for a, b in pairs),
    }
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
