#!/usr/bin/env bash
# A Python 3.11 venv with dbt Core and its DuckDB and PostgreSQL adapters, to build analytics/ as dbt does.
#   scripts/services/dbt-env.sh [ensure]   create or update the venv; the last line printed is its dbt
#   scripts/services/dbt-env.sh path       print the venv's dbt if it is ready, else exit 1
#   scripts/services/dbt-env.sh reset      delete the venv
# Packages come from PyPI, every one pinned in dbt-requirements.txt beside this script. The venv lives
# in $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services)/dbt-venv. $PULSE_PYTHON names the
# interpreter to build it from (default: python3.11, else python3 if that is 3.11). Idempotent: a stamp in
# the venv holds the hash of the requirements and of that interpreter; while it matches, nothing is
# installed. When it does not, the venv is built anew, so no package of an older pin set stays behind.
# Concurrent runs wait for each other. Run dbt with DBT_SEND_ANONYMOUS_USAGE_STATS=False.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}"
venv="$cache/dbt-venv"
requirements="$here/dbt-requirements.txt"
stamp="$venv/.pulse-requirements.sha256"
python="$venv/bin/python"
dbt="$venv/bin/dbt"

log() { echo "[dbt-env] $*" >&2; }

base_python() {
  if [ -n "${PULSE_PYTHON:-}" ]; then
    command -v "$PULSE_PYTHON" >/dev/null || { log "PULSE_PYTHON=$PULSE_PYTHON is not an interpreter on PATH"; exit 1; }
    echo "$PULSE_PYTHON"
    return
  fi
  # The pins were resolved on 3.11 (wheels such as pydantic_core and rpds-py are per Python version).
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
      [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "3.11" ]; then
      echo "$candidate"
      return
    fi
  done
  log "needs Python 3.11 on PATH as python3.11 or python3 (or PULSE_PYTHON=/path/to/python)"
  exit 1
}

# The hash the stamp must hold: the requirements file and the exact interpreter the venv is built from.
wanted_stamp() {
  {
    sha256sum <"$requirements"
    "$1" -c 'import sys; print(sys.version); print(sys.executable)'
  } | sha256sum | cut -d' ' -f1
}

ready() {
  [ -x "$dbt" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(wanted_stamp "$1")" ]
}

ensure() {
  local base
  base="$(base_python)"
  mkdir -p "$cache"
  # One builder at a time: a second test process waits here, then finds the stamp in place.
  exec 9>"$cache/dbt-venv.lock"
  flock 9
  if ! ready "$base"; then
    log "building $venv from $base (pins: $requirements)"
    rm -rf "$venv"
    "$base" -m venv "$venv"
    "$python" -m pip install --disable-pip-version-check --no-input --quiet -r "$requirements" >&2
    # Fails the build when a pin set does not hold together or an adapter cannot load.
    "$python" -m pip check --disable-pip-version-check >&2
    "$python" -c 'import dbt.cli.main, dbt.adapters.duckdb, dbt.adapters.postgres' >&2
    # Written last: an interrupted build leaves no stamp, so the next run starts over.
    wanted_stamp "$base" >"$stamp"
    log "ready: dbt-core $("$python" -c 'from importlib.metadata import version as v; print(v("dbt-core"), "with dbt-duckdb", v("dbt-duckdb"), "and dbt-postgres", v("dbt-postgres"))')"
  fi
  echo "$dbt"
}

case "${1:-ensure}" in
  ensure) ensure ;;
  path)
    base="$(base_python)"
    if ready "$base"; then echo "$dbt"; else
      log "the venv is missing or out of date; run $0"
      exit 1
    fi
    ;;
  reset) rm -rf "$venv" ;;
  *) echo "usage: $0 [ensure|path|reset]" >&2; exit 2 ;;
esac
