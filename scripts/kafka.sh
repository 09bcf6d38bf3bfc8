#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft: one process is broker + controller) on 127.0.0.1
# for integration tests, without Docker. The release tarball cannot be fetched here, so the
# broker's jars come from Maven Central through mvn and are cached.
#
# Usage: scripts/kafka.sh start|stop|status      Env: KAFKA_PORT (9092; controller on +1),
#   KAFKA_DATA (/tmp/exchange-kafka), EXCHANGE_CACHE (~/.cache/exchange), KAFKA_START_TIMEOUT (120 s), KAFKA_STOP_TIMEOUT (30 s)
set -euo pipefail

KAFKA_VERSION=4.1.2          # org.apache.kafka:kafka_2.13, needs Java 17
LOG4J_VERSION=2.24.3         # log4j2 backend: the kafka_2.13 pom does not bring one
DEP_PLUGIN_VERSION=3.8.1     # maven-dependency-plugin, pinned for reproducible resolution
KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=$((KAFKA_PORT + 1))
DATA=${KAFKA_DATA:-/tmp/exchange-kafka}
LIBS=${EXCHANGE_CACHE:-$HOME/.cache/exchange}/kafka-$KAFKA_VERSION/libs
PIDFILE=$DATA/kafka.pid
LOGFILE=$DATA/kafka.log

log() { echo "kafka.sh: $*" >&2; }
# On failure show the root causes (a stack trace alone fills the tail) and the log's end.
show_log() { { grep -E ' (ERROR|FATAL) |^Caused by' "$LOGFILE" || true; } | tail -n 8 >&2; tail -n 15 "$LOGFILE" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Running = the pid file names a live kafka.Kafka process (not a reused pid, not a zombie).
alive() { grep -qa 'kafka\.Kafka' "/proc/$1/cmdline" 2>/dev/null; }
# Stopped = no such pid or only a zombie (ports closed); the cmdline empties earlier, while it exits.
running_pid() { local st; read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null && [[ $st != Z ]]; }
pid_of() { local pid; pid=$(cat "$PIDFILE" 2>/dev/null) && [[ -n $pid ]] && alive "$pid" && echo "$pid"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Resolve the broker + logging jars once; later starts use the cache and never call Maven.
fetch_jars() {
  [[ -f $LIBS/.complete ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars)"
  log "resolving kafka_2.13:$KAFKA_VERSION from Maven Central into $LIBS"
  local tmp dep deps="" g a v
  tmp=$(mktemp -d)
  for dep in org.apache.kafka:kafka_2.13:$KAFKA_VERSION org.slf4j:slf4j-api:1.7.36 \
      org.apache.logging.log4j:{log4j-api,log4j-core,log4j-slf4j-impl,log4j-1.2-api}:$LOG4J_VERSION; do
    IFS=: read -r g a v <<<"$dep"
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>exchange</groupId><artifactId>kafka-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>$deps</dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId><version>$DEP_PLUGIN_VERSION</version></plugin></plugins></build>
</project>
EOF
  # Copy into a temporary dir and rename, so an interrupted download never looks complete.
  rm -rf "$LIBS.tmp" && mkdir -p "$LIBS.tmp"
  # Maven's output (only colour resets with -q) is shown only when it fails.
  (cd "$tmp" && mvn -B -q -ntp dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$LIBS.tmp" >"$tmp/mvn.log" 2>&1) ||
    { cat "$tmp/mvn.log" >&2; die "mvn could not resolve the Kafka jars"; }
  rm -rf "$tmp" "$LIBS" && mv "$LIBS.tmp" "$LIBS" && touch "$LIBS/.complete"
}

write_config() {
  mkdir -p "$DATA/logs"
  # Console appender (stdout goes to $LOGFILE); WARN overall, but KafkaRaftServer at INFO
  # so the "Kafka Server started" line we wait for is logged.
  cat >"$DATA/log4j2.properties" <<'EOF'
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
EOF
  # Single combined node; the *.replication.factor / min.isr = 1 lines are required on one
  # broker, or the offsets / transaction / share coordinators never come up.
  cat >"$DATA/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/logs
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

# KRaft storage is formatted once with a cluster id kept beside it; --ignore-formatted makes
# a re-run a no-op. A static controller.quorum.voters means no --standalone.
format_storage() {
  local id
  # Cluster id: 16 random bytes, unpadded base64url (22 chars); Kafka rejects ids starting with '-'.
  until [[ -s $DATA/cluster.id ]]; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=') && [[ $id != -* ]] && echo "$id" >"$DATA/cluster.id"
  done
  [[ -f $DATA/logs/meta.properties ]] && return 0
  log "formatting KRaft storage in $DATA/logs"
  java -Xmx256m -Dlog4j2.configurationFile="$DATA/log4j2.properties" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$(cat "$DATA/cluster.id")" -c "$DATA/server.properties" \
    --ignore-formatted >&2 || die "kafka storage format failed"
}

start() {
  local pid
  if pid=$(pid_of); then log "already running (pid $pid, port $KAFKA_PORT)"; return 0; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is in use by another process"
  command -v java >/dev/null || die "java (17+) not found"
  fetch_jars; write_config; format_storage
  [[ -f $LOGFILE ]] && mv "$LOGFILE" "$LOGFILE.prev"
  rm -f "$PIDFILE"
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (data $DATA, log $LOGFILE)"
  # setsid: own session, so the caller's Ctrl-C / process group does not hit the broker;
  # the inner shell records its pid, then execs java under that same pid.
  # shellcheck disable=SC2016  # $$ and $1 are for the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    java -Xms256m -Xmx1g -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DATA/log4j2.properties" -cp "$LIBS/*" \
    kafka.Kafka "$DATA/server.properties" </dev/null >"$LOGFILE" 2>&1 &
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  while ((SECONDS < deadline)); do
    sleep 0.5
    if ! pid_of >/dev/null && [[ -s $PIDFILE ]]; then
      log "kafka exited during startup ($LOGFILE):"; show_log; exit 1
    fi
    if port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOGFILE"; then
      log "ready (pid $(pid_of)) after ${SECONDS}s"; return 0
    fi
  done
  log "not ready after ${KAFKA_START_TIMEOUT:-120}s ($LOGFILE):"; show_log
  stop; exit 1
}

stop() {
  local pid
  if ! pid=$(pid_of); then log "not running"; rm -f "$PIDFILE"; return 0; fi
  log "stopping kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
  while running_pid "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if running_pid "$pid"; then
    log "still alive after SIGTERM; sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while running_pid "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  rm -f "$PIDFILE"; log "stopped"
}

status() { local pid; pid=$(pid_of) || { log "not running"; return 1; }; log "running (pid $pid, port $KAFKA_PORT)"; }

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
