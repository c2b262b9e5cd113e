#!/usr/bin/env bash
# A Python 3.11 venv with Apache Airflow 3, to run the DAG files `pulse dags export airflow` writes.
#   scripts/services/airflow-env.sh [ensure]   create or update the venv; the last line printed is its airflow
#   scripts/services/airflow-env.sh path       print the venv's airflow if it is ready, else exit 1
#   scripts/services/airflow-env.sh reset      delete the venv
# Packages come from PyPI, every one pinned in airflow-requirements.txt beside this script. The venv lives in
# $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services)/airflow-venv; venv-lib.sh builds and stamps it.
# Run airflow with AIRFLOW_HOME set to a folder of its own (never ~/airflow) and
# AIRFLOW__CORE__LOAD_EXAMPLES=False.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name=airflow-env
venv="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}/airflow-venv"
requirements="$here/airflow-requirements.txt"
entry="$venv/bin/airflow"

# Fails the build when a pin set does not hold together or the parts an exported DAG imports cannot load.
verify() {
  "$python" -m pip check --disable-pip-version-check >&2
  "$python" -c 'import pendulum; from airflow.sdk import DAG; from airflow.providers.standard.operators.bash import BashOperator' >&2
}

describe() {
  echo "apache-airflow $("$python" -c 'from importlib.metadata import version as v; print(v("apache-airflow"), "with apache-airflow-providers-standard", v("apache-airflow-providers-standard"))')"
}

# shellcheck source=venv-lib.sh
. "$here/venv-lib.sh"
venv_main "$@"
