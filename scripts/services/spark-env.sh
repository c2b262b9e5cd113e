#!/usr/bin/env bash
# A Python 3.11 venv with PySpark 4.x, for the Spark Structured Streaming side of `npm run bench -- spark`.
#   scripts/services/spark-env.sh [ensure]   create or update the venv; the last line printed is its spark-submit
#   scripts/services/spark-env.sh path       print the venv's spark-submit if it is ready, else exit 1
#   scripts/services/spark-env.sh reset      delete the venv
# Packages come from PyPI, every one pinned in spark-requirements.txt beside this script. The venv lives in
# $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services)/spark-venv; venv-lib.sh builds and stamps it.
# Spark needs Java 17 or newer on PATH (or JAVA_HOME). Jars that --packages fetches from Maven Central
# (spark-sql-kafka, spark-avro) are cached by the bench in $PULSE_SERVICES_CACHE/spark-ivy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name=spark-env
venv="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}/spark-venv"
requirements="$here/spark-requirements.txt"
entry="$venv/bin/spark-submit"

# Fails the build when the pins do not hold together or PySpark cannot load.
verify() {
  "$python" -m pip check --disable-pip-version-check >&2
  "$python" -c 'import pyspark.sql.streaming, pyspark.sql.avro.functions' >&2
}

describe() {
  echo "pyspark $("$python" -c 'from importlib.metadata import version as v; print(v("pyspark"))')"
}

# shellcheck source=venv-lib.sh
. "$here/venv-lib.sh"
venv_main "$@"
