#!/usr/bin/env bash
# Quality benchmark on the tuning and held-out labelled spoken shows (renders them with
# espeak-ng + ffmpeg), speed and scale (ffmpeg), memory against an episode's length (ffmpeg),
# transcriptions side by side (threads), speaker embeddings' BLAS threads (voices), or the
# marts' dbt calls against dagster-dbt's own (dbt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/need.sh "the benchmarks (rendering the labelled shows)" espeak-ng ffmpeg
source scripts/env.sh
case "${1:-quality}" in
  quality) python benchmarks/quality.py "${@:2}" ;;  # e.g. --script FILE, --json FILE
  speed) python benchmarks/speed.py "${@:2}" ;;  # e.g. --episodes 1,2,4,8, --json FILE
  memory) python benchmarks/memory.py "${@:2}" ;;  # e.g. --hours 2
  threads) python benchmarks/threads.py "${@:2}" ;;  # e.g. --rounds 4
  voices) python benchmarks/voices.py "${@:2}" ;;  # e.g. --rounds 5
  dbt) python benchmarks/dbt_calls.py "${@:2}" ;;  # e.g. --rounds 5
  *) echo "usage: scripts/benchmark.sh [quality [--script FILE] [--json FILE]|speed [--episodes 1,2,4,8]|memory|threads|voices|dbt]" >&2; exit 2 ;;
esac
