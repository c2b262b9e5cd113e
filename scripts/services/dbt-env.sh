#!/usr/bin/env bash
# A Python 3.11 venv with dbt Core and its DuckDB and PostgreSQL adapters, to build analytics/ as dbt does.
#   scripts/services/dbt-env.sh [ensure]   create or update the venv; the last line printed is its dbt
#   scripts/services/dbt-env.sh path       print the venv's dbt if it is ready, else exit 1
#   scripts/services/dbt-env.sh reset      delete the venv
# Packages come from PyPI, every one pinned in dbt-requirements.txt beside this script. The venv lives in
# $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services)/dbt-venv; venv-lib.sh builds and stamps it.
# Run dbt with DBT_SEND_ANONYMOUS_USAGE_STATS=False.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name=dbt-env
venv="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}/dbt-venv"
requirements="$here/dbt-requirements.txt"
entry="$venv/bin/dbt"

# Fails the build when a pin set does not hold together or an adapter cannot load.
verify() {
  "$python" -m pip check --disable-pip-version-check >&2
  "$python" -c 'import dbt.cli.main, dbt.adapters.duckdb, dbt.adapters.postgres' >&2
}

describe() {
  echo "dbt-core $("$python" -c 'from importlib.metadata import version as v; print(v("dbt-core"), "with dbt-duckdb", v("dbt-duckdb"), "and dbt-postgres", v("dbt-postgres"))')"
}

# shellcheck source=venv-lib.sh
. "$here/venv-lib.sh"
venv_main "$@"
