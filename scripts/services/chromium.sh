#!/usr/bin/env bash
# Debian's Chromium, the browser the dashboard tests drive headless through playwright-core.
#   scripts/services/chromium.sh [ensure]   install it with apt when missing; the last line printed is its path
#   scripts/services/chromium.sh path       print its path if it is installed, else exit 1
# The browser comes from Debian's `chromium` package (apt-get, as root, or through sudo), never from a
# browser download of playwright's own. $PULSE_CHROMIUM names another binary to use instead. Idempotent:
# with the binary in place nothing is installed. Concurrent runs wait for each other.
set -euo pipefail
bin="${PULSE_CHROMIUM:-/usr/bin/chromium}"
lock="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}/chromium.lock"

log() { echo "[chromium] $*" >&2; }

ready() { [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else log "installing needs root: run 'apt-get install -y chromium' as root"; return 1
  fi
}

ensure() {
  if ! ready; then
    if [ -n "${PULSE_CHROMIUM:-}" ]; then
      log "PULSE_CHROMIUM=$bin is not a working browser binary"
      exit 1
    fi
    command -v apt-get >/dev/null || { log "needs apt-get (Debian or Ubuntu) to install chromium, or PULSE_CHROMIUM=/path/to/chromium"; exit 1; }
    mkdir -p "$(dirname "$lock")"
    # One installer at a time: a second run waits here, then finds the binary in place.
    exec 9>"$lock"
    flock 9
    if ! ready; then
      log "installing Debian's chromium package with apt-get"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2
      ready || { log "apt-get installed chromium, but $bin does not run"; exit 1; }
      log "ready: $("$bin" --version)"
    fi
  fi
  echo "$bin"
}

case "${1:-ensure}" in
  ensure) ensure ;;
  path)
    if ready; then echo "$bin"; else
      log "$bin is missing; run $0 to install it"
      exit 1
    fi
    ;;
  *) echo "usage: $0 [ensure|path]" >&2; exit 2 ;;
esac
