"""Speed and scale, as ratios measured in one run (these machines are shared and noisy).

Builds a long day: distinct episodes of about 3.5 minutes (each two demo episodes back to back,
re-encoded), published on one day by two feeds served over HTTP on 127.0.0.1. Then:

1. The Transcriber resource against raw batched faster-whisper (tiny.en int8,
   BatchedInferencePipeline, batch 8, beam 1, its defaults otherwise: text only, no word times)
   on the same files, file by file in alternation; also raw with word times (like for like).
   Target: resource speed >= 0.95 of raw.
2. The whole day (the contract's command, in a fresh process, everything from feeds to dbt)
   against the raw batched transcription of its audio. Target: >= 0.8. Once in a new data
   home, once in one that kept a run's compiled functions and model caches (a later day).
3. The same day again, everything cached, against its first run. Target: <= 0.05.
4. The peak resident memory of the day's run (its largest process). Target: < 3 GB.
5. Scaling: days of 1, 2, 4 and 8 of the episodes, each from scratch: wall time against audio
   minutes, a straight line fitted through them (fixed cost + cost per audio minute).

    .venv/bin/python benchmarks/speed.py [--episodes 1,2,4,8] [--json FILE]

Needs ffmpeg (scripts/benchmark.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from reporting import write_report

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "demo" / "shows"
DAY = "2026-11-25"
FEEDS = ("bench-a", "bench-b")
TARGETS = {
    "resource_vs_raw": (">=", 0.95),
    "day_vs_raw": (">=", 0.8),
    "rerun_vs_first": ("<=", 0.05),
    "peak_gb": ("<", 3.0),
}


# --------------------------------------------------------------------------- the long day


def render_episodes(folder: Path, n: int) -> list[tuple[Path, float, int]]:
    """n distinct episodes: demo episode i, a 2 s pause, demo episode i+5, as 32 kbit/s mp3;
    with each its seconds and the number of words spoken in it (from the demo's manifest)."""
    from faster_whisper.audio import decode_audio

    manifest = json.loads((SHOWS / "manifest.json").read_text())["episodes"]
    spoken = [sum(len(line["text"].split()) for line in e["lines"]) for e in manifest]
    demo = [SHOWS / e["audio"] for e in manifest]
    out = []
    for i in range(n):
        a, b = i % len(demo), (i + 5) % len(demo)
        first, second = demo[a], demo[b]
        path = folder / f"ep-{i:02d}.mp3"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(first), "-f", "lavfi", "-t", "2",
             "-i", "anullsrc=r=16000:cl=mono", "-i", str(second), "-filter_complex",
             "[0:a][1:a][2:a]concat=n=3:v=0:a=1", "-ar", "16000", "-ac", "1",
             "-c:a", "libmp3lame", "-b:a", "32k", str(path)],
            check=True,
        )  # fmt: skip
        out.append((path, len(decode_audio(str(path))) / 16000, spoken[a] + spoken[b]))
    return out


def publish(site: Path, episodes: list[tuple[Path, float, int]]) -> Path:
    """Two feeds (alternate episodes) in `site`, every item on DAY; the feeds file for them."""
    for show in FEEDS:
        items = ""
        for i, (path, seconds, _) in enumerate(episodes):
            if FEEDS[i % 2] != show:
                continue
            items += (
                f"<item><title>Episode {i}</title><guid>{show}-{i}</guid>"
                f"<pubDate>Wed, 25 Nov 2026 {6 + i:02d}:00:00 GMT</pubDate>"
                f'<enclosure url="{path.name}" type="audio/mpeg" length="{path.stat().st_size}"/>'
                f"<itunes:duration>{int(seconds)}</itunes:duration></item>"
            )
        (site / f"{show}.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
            f"<title>{show}</title>{items}</channel></rss>"
        )
    return site


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


# --------------------------------------------------------------------------- measurements


def transcription(files: list[Path]) -> dict:
    """Wall seconds of raw batched faster-whisper (two ways) and of the Transcriber, same files.

    All three share the model's threads setting (one per core, the resource's default) and
    are warmed up first; they take turns file by file, so load on the machine hits them alike.
    """
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from dagster_project.resources.models import Transcriber, packaged_whisper

    transcriber = Transcriber()
    raw = BatchedInferencePipeline(
        WhisperModel(
            packaged_whisper(), device="cpu", compute_type="int8", cpu_threads=transcriber.threads
        )
    )

    def raw_text(path: Path) -> int:
        segments, _ = raw.transcribe(str(path), batch_size=8, beam_size=1, language="en")
        return sum(len(s.text.split()) for s in segments)

    def raw_words(path: Path) -> int:
        segments, _ = raw.transcribe(
            str(path), batch_size=8, beam_size=1, language="en", word_timestamps=True
        )
        return sum(len(s.words or []) for s in segments)

    def resource(path: Path) -> int:
        return sum(len(s.words or []) for s in transcriber.transcribe(str(path))[0])

    runners = {"raw": raw_text, "raw_words": raw_words, "resource": resource}
    for run in runners.values():
        run(files[0])  # load, warm up
    wall = dict.fromkeys(runners, 0.0)
    words = dict.fromkeys(runners, 0)
    for i, path in enumerate(files):
        order = list(runners) if i % 2 == 0 else list(reversed(runners))
        for name in order:
            started = time.perf_counter()
            words[name] += runners[name](path)
            wall[name] += time.perf_counter() - started
    return {"wall_s": wall, "words": words}


def step_seconds(dagster_home: str) -> dict[str, float]:
    """Seconds each step of the instance's latest run took (start to success)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(dagster_home) as instance:
        record = max(instance.get_run_records(), key=lambda r: r.create_timestamp)
        started: dict[str, float] = {}
        took: dict[str, float] = {}
        for e in instance.all_logs(record.dagster_run.run_id):
            if e.dagster_event_type == dg.DagsterEventType.STEP_START:
                started[e.step_key] = e.timestamp
            elif e.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS:
                took[e.step_key] = e.timestamp - started.get(e.step_key, e.timestamp)
    return took


def run_day(env: dict[str, str]) -> dict:
    """The contract's command in a fresh process: its wall time, its peak resident memory, and
    the seconds of each step."""
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "asset", "materialize", "-m", "dagster_project.definitions",
               "--select", "*", "--partition", DAY]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    stderr_tail: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        stderr_tail = [*stderr_tail[-40:], line]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError("the day's run failed:\n" + "".join(stderr_tail))
    return {
        "wall_s": wall,
        "peak_mb": usage.ru_maxrss / 1024,
        "steps_s": step_seconds(env["DAGSTER_HOME"]),
    }


def day_env(work: Path, feeds_url: str, name: str) -> dict[str, str]:
    """A fresh DAGSTER_HOME and data home, the feeds file, nothing else from outside."""
    home = work / name
    (home / "dagster_home").mkdir(parents=True)
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    feeds = home / "feeds.yaml"
    feeds.write_text(
        "allow_private_network: true\nfeeds:\n"
        + "".join(f"  - {{name: {s}, url: '{feeds_url}/{s}.xml'}}\n" for s in FEEDS)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODCAST_INSIGHTS_")}
    env.update(
        DAGSTER_HOME=str(home / "dagster_home"),
        PODCAST_INSIGHTS_HOME=str(home / "data"),
        PODCAST_INSIGHTS_FEEDS=str(feeds),
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least squares wall = fixed + per_min * minutes: (fixed, per_min, largest deviation)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    fixed = my - slope * mx
    worst = max(abs(y - (fixed + slope * x)) / y for x, y in points)
    return fixed, slope, worst


def verdict(name: str, value: float) -> str:
    op, target = TARGETS[name]
    ok = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return f"(target {op} {target}: {'met' if ok else 'MISSED'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", default="1,2,4,8", help="day sizes for the scaling runs")
    parser.add_argument("--json", type=Path, default=REPO / "data/benchmarks/speed-report.json")
    args = parser.parse_args(argv)
    sizes = sorted({int(n) for n in args.episodes.split(",")})
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    if not shutil.which("ffmpeg"):
        print("ffmpeg renders the episodes: apt-get install ffmpeg", file=sys.stderr)
        return 2
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="speed-") as tmp:
        work = Path(tmp)
        site = work / "site"
        site.mkdir()
        episodes = render_episodes(site, max(sizes))
        audio_s = sum(s for _, s, _ in episodes)
        spoken = sum(w for _, _, w in episodes)
        print(
            f"the long day: {len(episodes)} episodes, {audio_s:.0f} s of audio, "
            f"{spoken} words spoken ({DAY})"
        )

        t = transcription([p for p, _, _ in episodes])
        wall = t["wall_s"]
        report["transcription"] = t
        report["resource_vs_raw"] = wall["raw"] / wall["resource"]
        print("1. transcription of the same files (speed against raw batched faster-whisper):")
        for name, label in [("raw", "raw batched, text only (defaults)"),
                            ("raw_words", "raw batched, word times"),
                            ("resource", "Transcriber resource")]:  # fmt: skip
            print(
                f"   {label:34s} {wall[name]:6.1f} s  {audio_s / wall[name]:5.1f}x real time  "
                f"{t['words'][name]:5d} words ({t['words'][name] / spoken:.0%} of those spoken)  "
                f"speed {wall['raw'] / wall[name]:.2f} of raw"
            )
        per_word = (t["words"]["resource"] / wall["resource"]) / (t["words"]["raw"] / wall["raw"])
        print(
            f"   resource / raw = {report['resource_vs_raw']:.2f} "
            f"{verdict('resource_vs_raw', report['resource_vs_raw'])}; against raw with word "
            f"times {wall['raw_words'] / wall['resource']:.2f}; words per second {per_word:.2f}"
        )

        httpd, url = serve(site)
        try:
            publish(site, episodes)
            runs = {}
            for n in sizes:
                publish(site, episodes[:n])
                env = day_env(work, url, f"day-{n}")
                runs[n] = run_day(env)
                if n == max(sizes):
                    runs["rerun"] = run_day(env)
                    # A new day on a deployment that has run before: nothing of the day is
                    # stored, but numba's compiled functions and the claim classifier's example
                    # embeddings (one-time work of a new data home) are.
                    warm = day_env(work, url, "day-warm")
                    for kept in ("cache", "models"):
                        shutil.copytree(Path(env["PODCAST_INSIGHTS_HOME"]) / kept,
                                        Path(warm["PODCAST_INSIGHTS_HOME"]) / kept)  # fmt: skip
                    runs["warm"] = run_day(warm)
        finally:
            httpd.shutdown()
        first, rerun = runs[max(sizes)], runs["rerun"]
        report["runs"] = {str(k): v for k, v in runs.items()}
        report["day_vs_raw"] = wall["raw"] / first["wall_s"]
        report["warm_day_vs_raw"] = wall["raw"] / runs["warm"]["wall_s"]
        report["rerun_vs_first"] = rerun["wall_s"] / first["wall_s"]
        report["peak_gb"] = max(r["peak_mb"] for r in runs.values()) / 1024
        day, again, peak = report["day_vs_raw"], report["rerun_vs_first"], report["peak_gb"]
        print(
            f"2. the whole day, first run: {first['wall_s']:.1f} s against raw batched "
            f"transcription of its audio {wall['raw']:.1f} s: {day:.2f} "
            f"{verdict('day_vs_raw', day)}"
        )
        print(
            f"   the same day on a deployment that has run before (compiled functions and "
            f"example embeddings kept): {runs['warm']['wall_s']:.1f} s: "
            f"{report['warm_day_vs_raw']:.2f}"
        )
        print(
            f"3. the same day again: {rerun['wall_s']:.1f} s = {again:.2f} of the first run "
            f"{verdict('rerun_vs_first', again)}"
        )
        # Steps run one after another (in-process executor): what is not in a step is the
        # process starting, the code location loading, the run being created and recorded,
        # and Dagster's work between steps. No step can make the rerun shorter than that.
        inside = sum(rerun["steps_s"].values())
        report["rerun_outside_steps_s"] = rerun["wall_s"] - inside
        print(
            f"   of it in its {len(rerun['steps_s'])} steps {inside:.1f} s; outside them "
            f"{rerun['wall_s'] - inside:.1f} s = {(rerun['wall_s'] - inside) / first['wall_s']:.2f}"
            " of the first run (the process starting, the code location loading, the run "
            "created and recorded, Dagster between steps)"
        )
        named = (("first run", first), ("warm deployment", runs["warm"]), ("rerun", rerun))
        for name, run in named:
            steps = sorted(run["steps_s"].items(), key=lambda kv: -kv[1])
            print(f"   {name}, seconds by step: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps))
        print(f"4. peak resident memory of a day's run: {peak:.2f} GB {verdict('peak_gb', peak)}")
        points = []
        print("5. scaling, each day from scratch:")
        for n in sizes:
            minutes = sum(s for _, s, _ in episodes[:n]) / 60
            points.append((minutes, runs[n]["wall_s"]))
            print(
                f"   {n} episode(s) {minutes:5.1f} audio min  {runs[n]['wall_s']:6.1f} s  "
                f"{runs[n]['wall_s'] / minutes:5.1f} s per audio min  "
                f"peak {runs[n]['peak_mb']:.0f} MB"
            )
        if len(points) >= 2:
            fixed, per_min, worst = fit(points)
            report["scaling"] = {"fixed_s": fixed, "per_audio_min_s": per_min, "worst_dev": worst}
            print(
                f"   line: {fixed:.1f} s fixed + {per_min:.1f} s per audio minute; every day "
                f"within {100 * worst:.0f}% of the line"
            )
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
