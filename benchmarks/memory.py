"""Memory and time of the Transcriber against the episode's length: 2 hours vs 10 minutes.

Renders a low-bitrate (16 kbit/s mp3) episode from the demo shows, looped with pauses, to
2 hours, and its first 10 minutes; transcribes each in a fresh process and prints the peak
resident memory and the wall time of each, and their ratios. Decoding and transcribing a window
at a time, the 2-hour episode should take about the memory of the 10-minute one (issue 10 item 6:
before, 6.9 GB), and about 12 times its time.

    .venv/bin/python benchmarks/memory.py [--hours 2] [--reference-min 10] [--unbounded]

`--unbounded` also measures faster-whisper's own whole-file transcription (what the project did
before) on both files, for comparison: that takes gigabytes and several more minutes.
Needs ffmpeg (scripts/benchmark.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "demo" / "shows"


def render(folder: Path, seconds: list[int]) -> list[Path]:
    """The demo episodes back to back with 3 s pauses, looped to each length, 16 kbit/s mp3."""
    manifest = json.loads((SHOWS / "manifest.json").read_text())
    parts = folder / "parts.txt"
    gap = folder / "gap.wav"
    run("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", str(gap))
    lines = []
    for i, e in enumerate(manifest["episodes"]):
        wav = folder / f"part-{i}.wav"  # mp3s concatenated as they are break at every seam
        run("-i", str(SHOWS / e["audio"]), "-ar", "16000", "-ac", "1", str(wav))
        lines += [f"file '{wav}'", f"file '{gap}'"]
    parts.write_text("\n".join(lines) + "\n")
    loop = folder / "loop.wav"
    run("-f", "concat", "-safe", "0", "-i", str(parts), "-ar", "16000", "-ac", "1", str(loop))
    out = []
    for s in seconds:
        path = folder / f"episode-{s}s.mp3"
        run("-stream_loop", "-1", "-i", str(loop), "-t", str(s),
            "-c:a", "libmp3lame", "-b:a", "16k", str(path))  # fmt: skip
        out.append(path)
    return out


def run(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def measure(path: str, unbounded: bool) -> dict:
    """In this (fresh) process: load the model, then transcribe `path`; memory and time."""
    from dagster_project.resources.models import Transcriber, packaged_whisper

    t = Transcriber()
    if unbounded:
        from faster_whisper import WhisperModel

        model = WhisperModel(packaged_whisper(), device="cpu", compute_type="int8")
    else:
        t._load()
    loaded_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if unbounded:
        segments, info = model.transcribe(path, beam_size=1, word_timestamps=True,
                                          language="en", condition_on_previous_text=False,
                                          temperature=0.0)  # fmt: skip
        segments, duration = list(segments), info.duration
    else:
        segments, duration = t.transcribe(path)
    wall = time.perf_counter() - started
    return {
        "audio_s": float(duration),
        "wall_s": wall,
        "segments": len(segments),
        "model_loaded_mb": loaded_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(path: Path, unbounded: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--measure", str(path), *(["--unbounded"] * unbounded)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(name: str, m: dict) -> None:
    print(
        f"  {name:34s} {m['audio_s'] / 60:6.1f} min audio   peak {m['peak_mb']:7.0f} MB "
        f"(model loaded: {m['model_loaded_mb']:.0f} MB)   wall {m['wall_s']:7.1f} s   "
        f"{m['audio_s'] / m['wall_s']:5.1f}x real time   {m['segments']} segments"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--reference-min", type=float, default=10.0)
    parser.add_argument("--unbounded", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.measure:
        sys.path.insert(0, str(REPO))
        print(json.dumps(measure(args.measure, args.unbounded)))
        return 0
    if not shutil.which("ffmpeg"):
        print("ffmpeg renders the long episode: apt-get install ffmpeg", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        short, long = render(Path(tmp), [int(args.reference_min * 60), int(args.hours * 3600)])
        print(
            f"Transcriber on a {args.hours:g} h episode ({long.stat().st_size / 1e6:.1f} MB, "
            f"16 kbit/s mp3) and its first {args.reference_min:g} min, each in a fresh process:"
        )
        ref = child(short)
        show(f"{args.reference_min:g} min", ref)
        big = child(long)
        show(f"{args.hours:g} h", big)
        length = big["audio_s"] / ref["audio_s"]
        print(
            f"  {args.hours:g} h / {args.reference_min:g} min: {length:.1f}x the audio, "
            f"{big['peak_mb'] / ref['peak_mb']:.2f}x the peak memory, "
            f"{big['wall_s'] / ref['wall_s']:.1f}x the wall time "
            f"({big['wall_s'] / ref['wall_s'] / length:.2f} of linear)"
        )
        if args.unbounded:
            print("faster-whisper on the whole file at once (the project before windows):")
            for name, path, windowed in [(f"{args.reference_min:g} min", short, ref),
                                         (f"{args.hours:g} h", long, big)]:  # fmt: skip
                whole = child(path, unbounded=True)
                show(name, whole)
                print(
                    f"  windowed / whole file, {name}: "
                    f"{windowed['peak_mb'] / whole['peak_mb']:.2f}x the peak memory, "
                    f"{windowed['wall_s'] / whole['wall_s']:.2f}x the wall time"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
