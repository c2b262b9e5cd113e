#!/usr/bin/env bash
# FerretDB 1.x, the MongoDB-protocol server for the MongoDB live store, on its SQLite backend, bound to 127.0.0.1.
#   scripts/services/ferretdb.sh start|stop|status|restart|reset
# The binary is built from the Go module proxy (github.com/FerretDB/FerretDB@$version) and cached in
# $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services). State lives in $PULSE_SERVICES_DIR
# (default /tmp/pulse-services). Telemetry is off and the debug/metrics listener is disabled, so the
# only socket is the MongoDB port. Idempotent: start on a running server only waits for it to be healthy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}"
state="${PULSE_SERVICES_DIR:-/tmp/pulse-services}/ferretdb"
port="${PULSE_FERRETDB_PORT:-27017}"
version="v1.24.2"
module="github.com/FerretDB/FerretDB"
bin="$cache/ferretdb-$version/bin"
pidfile="$state/ferretdb.pid"

name=ferretdb
# shellcheck source=lib.sh
. "$here/lib.sh"


# `go install $module/cmd/ferretdb@$version` alone builds a binary that panics at start: FerretDB reads its
# version from build/version/version.txt, a file its release tooling generates and the module zip does not
# hold. So the module source comes from the proxy as usual (go mod download) and is installed from a copy
# that has the file written; the code is exactly the tagged module's.
build() {
  if [ -x "$bin/ferretdb" ]; then return; fi
  command -v go >/dev/null || { log "needs Go (https://go.dev/dl) to build FerretDB $version"; exit 1; }
  log "building FerretDB $version from the Go module proxy into $bin"
  (
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    dir="$(cd "$work" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then log "go mod download $module@$version gave no source folder"; exit 1; fi
    cp -R "$dir/." "$work/src"
    chmod -R u+w "$work/src"
    echo "$version" >"$work/src/build/version/version.txt"
    mkdir -p "$bin"
    (cd "$work/src" && GOBIN="$bin" GOFLAGS=-buildvcs=false go install -trimpath ./cmd/ferretdb)
  )
  log "built $("$bin/ferretdb" --version | head -n 1)"
}

healthy() {
  # The server answers a ping through the MongoDB driver in the repository.
  (cd "$repo" && node --input-type=module -e "
    import { MongoClient } from 'mongodb';
    const client = new MongoClient('mongodb://127.0.0.1:$port/', { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
    try { await client.db('admin').command({ ping: 1 }); process.exit(0); } catch { process.exit(1); } finally { await client.close().catch(() => {}); }
  " 2>/dev/null)
}


start() {
  if running; then wait_healthy; return; fi
  if healthy; then
    log "127.0.0.1:$port already answers, but not as the server of $state; stop that one or set PULSE_FERRETDB_PORT"
    return 1
  fi
  build
  mkdir -p "$state/data"
  log "starting FerretDB $version (SQLite backend, $state/data) on 127.0.0.1:$port"
  (
    cd "$state"
    nohup "$bin/ferretdb" \
      --handler=sqlite \
      --sqlite-url="file:$state/data/" \
      --state-dir="$state" \
      --listen-addr="127.0.0.1:$port" \
      --debug-addr=- \
      --telemetry=disable \
      --log-level=warn \
      --log-format=text >"$state/ferretdb.log" 2>&1 &
    echo $! >"$pidfile"
  )
  wait_healthy
}


service_main "$@"
