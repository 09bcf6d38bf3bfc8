#!/usr/bin/env bash
# A private Redis on 127.0.0.1 for integration tests (not the system service), without Docker.
# Installs Debian's redis-server with apt-get if it is missing.
#
# Usage: scripts/redis.sh start|stop|status
# Env:   REDIS_PORT (6379), REDIS_DATA (/tmp/exchange-redis), REDIS_FSYNC (everysec; always|no),
#        REDIS_START_TIMEOUT (30 s), REDIS_STOP_TIMEOUT (30 s)
set -euo pipefail

REDIS_PORT=${REDIS_PORT:-6379}
DATA=${REDIS_DATA:-/tmp/exchange-redis}
FSYNC=${REDIS_FSYNC:-everysec}
PIDFILE=$DATA/redis.pid
LOGFILE=$DATA/redis.log

log() { echo "redis.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
ping_ok() { [[ $(cli ping 2>/dev/null) == PONG ]]; }
# Our instance = the pid in our pid file is a live redis-server (guards against a reused pid).
alive() { grep -qa 'redis-server' "/proc/$1/cmdline" 2>/dev/null; }
# Stopped = no such pid, or only a zombie left (it has closed its files and ports). Its cmdline
# empties while it exits, so alive() alone would report "gone" too early.
running_pid() { local st; read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null && [[ $st != Z ]]; }
pid_of() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) && [[ -n $pid ]] && alive "$pid" && echo "$pid"
}

install_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  [[ $(id -u) == 0 ]] || die "redis-server missing and not root: apt-get install redis-server"
  log "installing redis-server with apt-get"
  # Keep the package from starting the system-wide service (it would take port 6379):
  # a policy-rc.d that answers 101 is honoured by invoke-rc.d and deb-systemd-invoke.
  local policy=/usr/sbin/policy-rc.d added=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  local ok=1
  apt-get update -q >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >&2 || ok=""
  if [[ -n $added ]]; then rm -f "$policy"; fi
  [[ -n $ok ]] || die "apt-get install redis-server failed"
}

start() {
  local pid
  if pid=$(pid_of) && ping_ok; then log "already running (pid $pid, port $REDIS_PORT)"; return 0; fi
  install_redis
  ping_ok && die "port $REDIS_PORT already answers PING: another redis is running there"
  mkdir -p "$DATA"
  # AOF is the persistence (fsync policy from REDIS_FSYNC); RDB snapshots are off so tests
  # see no background-save forks; noeviction makes a full memory an error, never lost keys.
  cat >"$DATA/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
supervised no
pidfile $PIDFILE
logfile $LOGFILE
dir $DATA
appendonly yes
appendfsync $FSYNC
save ""
maxmemory-policy noeviction
EOF
  log "starting redis on 127.0.0.1:$REDIS_PORT (data $DATA, appendfsync $FSYNC)"
  rm -f "$PIDFILE"
  redis-server "$DATA/redis.conf" </dev/null >&2 || die "redis-server failed to start; see $LOGFILE"
  local deadline=$((SECONDS + ${REDIS_START_TIMEOUT:-30}))
  until ping_ok; do
    if ((SECONDS >= deadline)); then
      log "no PONG after ${REDIS_START_TIMEOUT:-30}s; log tail:"; tail -n 20 "$LOGFILE" >&2; exit 1
    fi
    sleep 0.2
  done
  log "ready (pid $(cat "$PIDFILE"))"
}

stop() {
  local pid
  if ! pid=$(pid_of); then log "not running"; rm -f "$PIDFILE"; return 0; fi
  log "stopping redis (pid $pid)"
  # SHUTDOWN flushes the AOF before exiting; SIGTERM then SIGKILL only if it does not go.
  cli shutdown >/dev/null 2>&1 || true
  local deadline=$((SECONDS + ${REDIS_STOP_TIMEOUT:-30}))
  while running_pid "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if running_pid "$pid"; then
    log "still alive; sending SIGTERM, then SIGKILL"; kill -TERM "$pid" 2>/dev/null || true
    sleep 2
    if running_pid "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$PIDFILE"; log "stopped"
}

status() {
  local pid
  if pid=$(pid_of) && ping_ok; then log "running (pid $pid, port $REDIS_PORT)"
  else log "not running"; return 1; fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
