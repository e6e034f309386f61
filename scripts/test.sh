#!/usr/bin/env bash
# Set up (first time), then lint and run every test, the slow end-to-end ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "==> starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
ruff check .
ruff format --check .
sqlfluff lint dbt
pytest -m "" -q "$@"
