#!/usr/bin/env bash
# Set up (first time), materialise the demo day end to end, print the digest.
set -euo pipefail
cd "$(dirname "$0")/.."
DAY=${1:-2026-11-18}
scripts/setup.sh
source scripts/env.sh
echo "==> materialising every asset for $DAY (feeds: ${PODCAST_INSIGHTS_FEEDS:-feeds.yaml})"
dagster asset materialize -m dagster_project.definitions --select '*' --partition "$DAY" \
  --config-json '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}' 2>&1 \
  | python -m dagster_project.cli progress
python -m dagster_project.cli show "$DAY"
