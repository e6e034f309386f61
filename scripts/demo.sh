#!/usr/bin/env bash
# Set up (first time), materialise the demo day end to end, print the digest.
set -euo pipefail
cd "$(dirname "$0")/.."
DAY=${1:-2026-11-18}
scripts/setup.sh
source scripts/env.sh
log="$DAGSTER_HOME/materialize-$DAY.log"
echo "==> materialising every asset for $DAY (feeds: ${PODCAST_INSIGHTS_FEEDS:-feeds.yaml}; log: $log)"
if ! dagster asset materialize -m dagster_project.definitions --select '*' --partition "$DAY" \
  --config-json '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}' >"$log" 2>&1; then
  python -m dagster_project.cli progress || true
  tail -n 40 "$log" >&2
  exit 1
fi
# One line per stage event, read from the run's events in the instance.
python -m dagster_project.cli progress
python -m dagster_project.cli show "$DAY"
