#!/usr/bin/env bash
# Soak: pulse up at 5,000 events/s for 30 minutes with short retention; samples RSS, CPU and file sizes
# into bench/soak.csv and bench/soak.svg, and checks that the log, the raw lake and the store stay bounded.
#
#   scripts/soak.sh                      # 30 minutes
#   SOAK_MINUTES=4 scripts/soak.sh       # a short check
#
# Settings: SOAK_MINUTES, SOAK_RATE, SOAK_SAMPLE_SEC, SOAK_LOAD_EVERY_MIN, SOAK_OUT, SOAK_KEEP (see scripts/soak.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/soak.ts "$@"
