#!/usr/bin/env bash
# PostgreSQL, the warehouse server, from Debian's packages, bound to 127.0.0.1 with trust auth, a superuser and a database `pulse`.
#   scripts/services/postgres.sh start|stop|status|restart|reset
# The server comes from `apt-get install postgresql` (installed when /usr/lib/postgresql/<version>/bin is
# missing; the highest installed version is used), run from those binaries with initdb and pg_ctl: not the
# packaged cluster, which is stopped if installing started it on our port. State (data/, the unix socket
# folder sock/, postgres.log) lives in $PULSE_SERVICES_DIR (default /tmp/pulse-services)/postgres; the port
# is $PULSE_POSTGRES_PORT (default 5432). Connect with postgres://pulse@127.0.0.1:5432/pulse.
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user the package creates
# (the script creates it if it is missing), and the state folder is handed to that user. When that user
# cannot reach the state folder (a parent folder closed to others), or the socket path would be too long
# for a unix socket, the server's files go to a folder of their own under $TMPDIR (default /tmp), with
# links to it in the state folder; reset removes both. Idempotent: start on a running server only waits
# for it to be healthy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${PULSE_SERVICES_DIR:-/tmp/pulse-services}/postgres"
port="${PULSE_POSTGRES_PORT:-5432}"
pidfile="$state/postgres.pid"

name=postgres
# shellcheck source=lib.sh
. "$here/lib.sh"

run_user=postgres
bin=""

# The highest PostgreSQL version installed from Debian's packages.
find_bin() {
  local dir
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then bin="$dir"; return 0; fi
  return 1
}

install() {
  if find_bin; then return; fi
  command -v apt-get >/dev/null || { log "needs PostgreSQL: install it (Debian: apt-get install postgresql)"; exit 1; }
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "needs root or sudo to run apt-get install postgresql"; exit 1; }
    sudo=(sudo)
  fi
  log "installing PostgreSQL from Debian's packages (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2; then
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2
  fi
  find_bin || { log "apt-get installed postgresql, but /usr/lib/postgresql/<version>/bin has no initdb"; exit 1; }
  # The package may have started its own cluster (Debian's "main") on our port: stop it.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header 2>/dev/null | while read -r version cluster cluster_port status _; do
      if [ "$cluster_port" = "$port" ] && [ "$status" = online ]; then
        log "stopping the packaged cluster $version/$cluster, which holds port $port"
        "${sudo[@]}" pg_ctlcluster "$version" "$cluster" stop || true
      fi
    done
  fi
}

# Runs a command as the server's user: the current one, or $run_user when we are root.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$run_user" -- "$@"; else "$@"; fi
}

# Where the server's own files are: the state folder, or the folder under $TMPDIR it links to.
home_dir() {
  if [ -L "$state/data" ]; then dirname "$(readlink "$state/data")"; else echo "$state"; fi
}

prepare() {
  mkdir -p "$state"
  if [ "$(id -u)" -eq 0 ] && ! getent passwd "$run_user" >/dev/null; then
    log "creating the system user $run_user to run the server (PostgreSQL refuses to run as root)"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$run_user"
  fi
  # Links to a folder under $TMPDIR that is gone (a reboot cleared it): start afresh.
  if [ -L "$state/data" ] && [ ! -e "$state/data" ]; then rm -f "$state/data" "$state/postgres.log"; fi
  if [ -e "$state/data" ]; then return; fi
  local home="$state"
  [ "$(id -u)" -eq 0 ] && chown "$run_user:" "$state"
  # 107 bytes is the longest unix socket path Linux takes.
  if ! as_server test -w "$state" || [ "${#state}" -gt 80 ]; then
    home="$(mktemp -d "${TMPDIR:-/tmp}/pulse-postgres.XXXXXX")"
    chmod 755 "$home"
    log "the server's files go to $home ($state is out of reach of user $run_user, or too long a path for a socket)"
    ln -s "$home/data" "$state/data"
    ln -s "$home/postgres.log" "$state/postgres.log"
  fi
  mkdir -p "$home/data" "$home/sock"
  chmod 700 "$home/data"
  touch "$home/postgres.log"
  [ "$(id -u)" -eq 0 ] && chown -R "$run_user:" "$home"
  log "initdb $home/data (superuser pulse, trust auth for local connections)"
  as_server "$bin/initdb" -D "$home/data" -U pulse --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >>"$home/postgres.log" 2>&1 || { tail -n 30 "$home/postgres.log" >&2; rm -rf "$state/data" "$home/data"; exit 1; }
  echo "include_if_exists = 'pulse.conf'" >>"$home/data/postgresql.conf"
}

# Anything answering on the port: a server of ours, or another one.
answers() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 >/dev/null 2>&1 || [ $? -eq 1 ]; }

healthy() {
  PGCONNECT_TIMEOUT=2 "$bin/psql" -X -A -t -q -h 127.0.0.1 -p "$port" -U pulse -d pulse -c 'select 1' \
    >/dev/null 2>&1
}

start() {
  install
  if running; then wait_healthy; return; fi
  if answers; then
    log "127.0.0.1:$port already answers, but not as the server of $state; stop that one or set PULSE_POSTGRES_PORT"
    return 1
  fi
  prepare
  local home; home="$(home_dir)"
  # Written at every start, so a changed PULSE_POSTGRES_PORT takes effect.
  cat >"$home/data/pulse.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$home/sock'
timezone = 'UTC'
CONF
  [ "$(id -u)" -eq 0 ] && chown "$run_user:" "$home/data/pulse.conf"
  log "starting PostgreSQL $("$bin/postgres" --version | awk '{print $3}') ($home/data) on 127.0.0.1:$port"
  if ! as_server "$bin/pg_ctl" start -D "$home/data" -l "$home/postgres.log" -w -t 60 -s >/dev/null; then
    log "the server did not start; last lines of $home/postgres.log:"
    tail -n 30 "$home/postgres.log" >&2
    return 1
  fi
  head -n 1 "$home/data/postmaster.pid" >"$pidfile"
  if ! PGCONNECT_TIMEOUT=5 "$bin/psql" -X -A -t -q -h 127.0.0.1 -p "$port" -U pulse -d postgres \
    -c "select 1 from pg_database where datname = 'pulse'" | grep -q 1; then
    PGCONNECT_TIMEOUT=5 "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U pulse -d postgres -c 'create database pulse'
  fi
  wait_healthy
}

# A fast shutdown (sessions are ended), not lib.sh's SIGTERM, which waits for every client to disconnect.
stop() {
  if ! running; then rm -f "$pidfile"; return; fi
  local pid home; pid="$(cat "$pidfile")"; home="$(home_dir)"
  log "stopping (pid $pid)"
  as_server "$bin/pg_ctl" stop -D "$home/data" -m fast -w -t 60 -s >/dev/null || kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

find_bin || true
if [ "${1:-}" = reset ] || [ "${1:-}" = stop ] || [ "${1:-}" = status ]; then
  # Nothing to stop or ask without the binaries.
  if [ -z "$bin" ]; then
    [ "${1:-}" = status ] && { echo "$name: stopped"; exit 1; }
    [ "${1:-}" = reset ] && rm -rf "$state"
    exit 0
  fi
fi
if [ "${1:-}" = reset ]; then
  stop
  home="$(home_dir)"
  [ "$home" != "$state" ] && rm -rf "$home"
  rm -rf "$state"
  exit 0
fi
service_main "$@"
