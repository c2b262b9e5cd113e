#!/usr/bin/env bash
# A Python 3.11 venv with Confluent's confluent-kafka client and its Avro serde, for the interop tests.
#   scripts/services/python-env.sh [ensure]   create or update the venv; the last line printed is its python
#   scripts/services/python-env.sh path       print the venv's python if it is ready, else exit 1
#   scripts/services/python-env.sh reset      delete the venv
# Packages come from PyPI, every one pinned in python-requirements.txt beside this script. The venv lives in
# $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services)/python-venv; venv-lib.sh builds and stamps it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name=python-env
venv="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}/python-venv"
requirements="$here/python-requirements.txt"
entry="$venv/bin/python"

# Fails the build when the serde cannot load (a missing dependency of the extra, a broken wheel).
verify() {
  "$python" -c 'import confluent_kafka, fastavro; from confluent_kafka.schema_registry.avro import AvroSerializer, AvroDeserializer' >&2
}

describe() {
  echo "confluent-kafka $("$python" -c 'import confluent_kafka; print(confluent_kafka.__version__, "with librdkafka", confluent_kafka.libversion()[0])')"
}

# shellcheck source=venv-lib.sh
. "$here/venv-lib.sh"
venv_main "$@"
