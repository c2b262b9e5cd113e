# Shared by the Python venv scripts (python-env.sh, dbt-env.sh, airflow-env.sh, spark-env.sh): a pinned venv built once and cached.
# Each script sets name, venv (its folder), requirements (its pins), entry (the executable it prints),
# defines verify() (fails when the built venv is broken) and describe() (one line: what is ready), sources
# this file, then calls `venv_main "$@"`. The stamp in the venv holds the hash of the requirements and of
# the interpreter; while it matches, nothing is installed. When it does not, the venv is built anew, so no
# package of an older pin set stays behind. Concurrent runs wait for each other (flock).

cache="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}"
stamp="$venv/.pulse-requirements.sha256"
python="$venv/bin/python"

log() { echo "[$name] $*" >&2; }

# The interpreter to build from: $PULSE_PYTHON, else python3.11, else python3 if that is 3.11 (the pins
# were resolved on 3.11: several wheels are per Python version).
base_python() {
  if [ -n "${PULSE_PYTHON:-}" ]; then
    command -v "$PULSE_PYTHON" >/dev/null || { log "PULSE_PYTHON=$PULSE_PYTHON is not an interpreter on PATH"; exit 1; }
    echo "$PULSE_PYTHON"
    return
  fi
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
  [ -x "$entry" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(wanted_stamp "$1")" ]
}

ensure() {
  local base
  base="$(base_python)"
  mkdir -p "$cache"
  # One builder at a time: a second test process waits here, then finds the stamp in place.
  exec 9>"$venv.lock"
  flock 9
  if ! ready "$base"; then
    log "building $venv from $base (pins: $requirements)"
    rm -rf "$venv"
    "$base" -m venv "$venv"
    "$python" -m pip install --disable-pip-version-check --no-input --quiet -r "$requirements" >&2
    verify
    # Written last: an interrupted build leaves no stamp, so the next run starts over.
    wanted_stamp "$base" >"$stamp"
    log "ready: $(describe)"
  fi
  echo "$entry"
}

venv_main() {
  case "${1:-ensure}" in
    ensure) ensure ;;
    path)
      if ready "$(base_python)"; then echo "$entry"; else
        log "the venv is missing or out of date; run $0"
        exit 1
      fi
      ;;
    reset) rm -rf "$venv" ;;
    *) echo "usage: $0 [ensure|path|reset]" >&2; exit 2 ;;
  esac
}
