# Shared by the service scripts. Each script sets name, state, port and pidfile, defines healthy() and
# start(), sources this file, then calls `service_main "$@"`.

log() { echo "[$name] $*" >&2; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# Waits up to 60 s for healthy(); shows the tail of the server's log if it exits meanwhile.
wait_healthy() {
  for _ in $(seq 1 120); do
    if healthy; then log "ready on 127.0.0.1:$port"; return 0; fi
    if ! running; then log "the server exited; last lines of $state/$name.log:"; tail -n 30 "$state/$name.log" >&2; return 1; fi
    sleep 0.5
  done
  log "not healthy after 60 s; see $state/$name.log"
  return 1
}

# SIGTERM, then SIGKILL after 30 s.
stop() {
  if ! running; then rm -f "$pidfile"; return; fi
  local pid; pid="$(cat "$pidfile")"
  log "stopping (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

service_main() {
  case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) if running && healthy; then echo "$name: running on 127.0.0.1:$port"; else echo "$name: stopped"; exit 1; fi ;;
    reset) stop; rm -rf "$state" ;;
    *) echo "usage: $0 start|stop|restart|status|reset" >&2; exit 2 ;;
  esac
}
