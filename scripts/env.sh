# Sourced by the scripts: the embedded defaults (SQLite Dagster instance, DuckDB warehouse).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DAGSTER_HOME=${DAGSTER_HOME:-$ROOT/.dagster_home}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DBT_SEND_ANONYMOUS_USAGE_STATS=false
export GX_ANALYTICS_ENABLED=false TOKENIZERS_PARALLELISM=false ORT_DISABLE_TELEMETRY=1
mkdir -p "$DAGSTER_HOME"
if [ ! -f "$DAGSTER_HOME/dagster.yaml" ]; then
  printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"
fi
export PATH="$ROOT/.venv/bin:$PATH"
