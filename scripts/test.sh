#!/usr/bin/env bash
# Set up (first time), then lint and run every test, the slow end-to-end ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# chromium: tests/test_page_screenshot.py renders the page; ffmpeg: tests/test_transcriber.py
# makes its long audio
scripts/need.sh "the tests" chromium ffmpeg
source scripts/env.sh
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "==> starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "==> starting Redis (the Celery broker of tests/test_celery.py)"
  service redis-server start >/dev/null 2>&1 \
    || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' >/dev/null || true
fi
ruff check .
ruff format --check .
sqlfluff lint dbt
pyright  # standard mode over dagster_project ([tool.pyright] in pyproject.toml)
# On every core (at most 4: each worker loads the models), a test file to a worker (a file's
# tests share its fixtures); the slowest tests at the end: CI has to stay well under 30 minutes
# on a 2-core machine.
workers=$(( $(nproc) < 4 ? $(nproc) : 4 ))
pytest -m "" -q -n "$workers" --dist loadfile --durations=15 "$@"
