#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for development,
# tests and benchmarks. Loopback only.
#
#   bash scripts/kafka.sh fetch                 # jars from Maven Central into the cache (once)
#   bash scripts/kafka.sh up [--port N]         # format + start; last stdout line: 127.0.0.1:N
#   bash scripts/kafka.sh down [--port N] [--wipe]
#   bash scripts/kafka.sh status [--port N]     # exit 0 if running, 1 if not
#
# Environment:
#   KAFKA_PORT            broker port (default 9092); the controller listens on port+1
#   KAFKA_DATA            data dir for that broker (default $CACHE/kafka-$VERSION/data-$PORT)
#   INTSTREAM_CACHE       cache root (default $HOME/.cache/intstream)
#   KAFKA_VERSION         Apache Kafka version (default pinned below; must be 4.x)
#   KAFKA_START_TIMEOUT   seconds to wait for the broker to answer (default 60)
#   KAFKA_HEAP_OPTS       JVM heap flags (default -Xms256m -Xmx1g)
#
# Everything informational goes to stderr; stdout carries only the bootstrap address (up) or
# the status line (status), so callers can take the last stdout line.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.2.2}"   # pinned; log4j pinned in scripts/kafka/pom.xml
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"
CACHE_ROOT="${INTSTREAM_CACHE:-${HOME:-/tmp}/.cache/intstream}"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
MARKER="$LIBS/.fetched"
HOST=127.0.0.1

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
usage: bash scripts/kafka.sh fetch
       bash scripts/kafka.sh up     [--port N]
       bash scripts/kafka.sh down   [--port N] [--wipe]
       bash scripts/kafka.sh status [--port N]
EOF
  exit 2
}

# ---- arguments --------------------------------------------------------------------------------
CMD="${1:-}"
[ -n "$CMD" ] || usage
shift
PORT="${KAFKA_PORT:-9092}"
WIPE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || die "--port needs a value"; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    --wipe) WIPE=1; shift ;;
    -h|--help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65534 ] \
  || die "port must be a number in 1024..65534 (the controller uses port+1), got '$PORT'"
CONTROLLER_PORT=$((PORT + 1))
DATA="${KAFKA_DATA:-$KAFKA_HOME/data-$PORT}"
PIDFILE="$DATA/kafka.pid"
SERVER_LOG="$DATA/server.log"

# ---- helpers ----------------------------------------------------------------------------------
need_java() {
  command -v java >/dev/null 2>&1 \
    || die "java not found on PATH: Apache Kafka $KAFKA_VERSION needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
  local line major
  line="$(java -version 2>&1 | head -n 1)"
  major="$(sed -E 's/.*version "([0-9]+)(\.[0-9]+)?.*/\1/' <<<"$line")"
  [ "$major" = 1 ] && major="$(sed -E 's/.*version "1\.([0-9]+).*/\1/' <<<"$line")"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Java version from: $line"
  [ "$major" -ge 17 ] || die "Apache Kafka $KAFKA_VERSION needs Java 17+, found: $line"
}

port_answers() { # port_answers PORT -> 0 when something accepts TCP on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" >/dev/null 2>&1
}

pid_alive() { # pid_alive PID -> 0 when PID is a running kafka.Kafka
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # a zombie or an unrelated process that reused the pid does not count
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'
}

read_pid() { [ -f "$PIDFILE" ] && tr -dc '0-9' <"$PIDFILE" || true; }

is_fetched() { [ -f "$MARKER" ] && [ "$(head -n 1 "$MARKER")" = "kafka $KAFKA_VERSION" ]; }

# ---- fetch ------------------------------------------------------------------------------------
cmd_fetch() {
  if is_fetched; then
    log "Apache Kafka $KAFKA_VERSION already in $LIBS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 \
    || die "mvn not found on PATH: needed once to fetch the Apache Kafka $KAFKA_VERSION jars from Maven Central (Debian: apt-get install maven)"
  [ -f "$POM" ] || die "missing $POM"
  mkdir -p "$KAFKA_HOME"
  # one fetch at a time per version (tests may start brokers in parallel)
  exec 8>"$KAFKA_HOME/.fetch.lock"
  flock 8
  if is_fetched; then exec 8>&-; log "Apache Kafka $KAFKA_VERSION already in $LIBS"; return 0; fi
  local tmp mvnlog rc start
  tmp="$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")"
  mvnlog="$KAFKA_HOME/mvn-fetch.log"
  start=$(date +%s)
  log "fetching Apache Kafka $KAFKA_VERSION jars with mvn into $LIBS (log: $mvnlog)"
  set +e
  mvn -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$mvnlog" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    rm -rf "$tmp"
    log "mvn dependency:copy-dependencies failed (exit $rc); from $mvnlog:"
    # the [ERROR] lines that say what failed (without Maven's help boilerplate), else the tail
    if grep -q '^\[ERROR\] [A-Z]' "$mvnlog"; then
      grep '^\[ERROR\] [A-Z]' "$mvnlog" | grep -v -e 'Re-run Maven' -e 'To see the full stack' -e 'For more information' -e '\[Help 1\] http' | tail -n 10 >&2
    else
      tail -n 25 "$mvnlog" >&2
    fi
    die "could not fetch Apache Kafka $KAFKA_VERSION from Maven Central"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "mvn succeeded but kafka_2.13-$KAFKA_VERSION.jar is not in its output (see $mvnlog)"; }
  { echo "kafka $KAFKA_VERSION"; (cd "$tmp" && ls -1 *.jar); } >"$tmp/.fetched"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  exec 8>&-  # release the lock (the broker started next must not inherit it)
  log "fetched $(ls -1 "$LIBS"/*.jar | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $(( $(date +%s) - start )) s"
}

# ---- config -----------------------------------------------------------------------------------
write_config() {
  mkdir -p "$DATA/log"
  cat >"$DATA/server.properties" <<EOF
# written by scripts/kafka.sh up --port $PORT (Apache Kafka $KAFKA_VERSION, KRaft single node)
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/log
num.partitions=4
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=268435456
EOF
  cat >"$DATA/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

new_cluster_id() { # Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [ "${id:0:1}" != "-" ] && [ ${#id} -eq 22 ] && { echo "$id"; return; }
  done
}

format_storage() {
  if [ -f "$DATA/log/meta.properties" ]; then
    # the KRaft voter set recorded at format time names the controller port: it must not change
    local was; was="$(cat "$DATA/port" 2>/dev/null || true)"
    [ -z "$was" ] || [ "$was" = "$PORT" ] \
      || die "data dir $DATA was formatted for port $was, not $PORT: use --port $was, another KAFKA_DATA, or wipe it (bash scripts/kafka.sh down --port $was --wipe)"
    return 0
  fi
  local cid; cid="$(new_cluster_id)"
  log "formatting KRaft storage in $DATA/log (cluster id $cid)"
  if ! java -Dlog4j2.configurationFile="$DATA/log4j2.properties" -cp "$LIBS/*" kafka.tools.StorageTool \
      format --standalone -t "$cid" -c "$DATA/server.properties" >"$DATA/format.log" 2>&1; then
    tail -n 20 "$DATA/format.log" >&2
    die "kafka-storage format failed (log: $DATA/format.log)"
  fi
  echo "$PORT" >"$DATA/port"
}

# ---- up ---------------------------------------------------------------------------------------
cmd_up() {
  local pid
  pid="$(read_pid)"
  if pid_alive "$pid"; then
    if port_answers "$PORT"; then
      log "already running on $HOST:$PORT (pid $pid)"
      echo "$HOST:$PORT"
      return 0
    fi
    log "broker pid $pid is starting; waiting"
  else
    need_java
    cmd_fetch
    port_answers "$PORT" && die "port $PORT on $HOST is already in use by another process (not a broker started by kafka.sh with data dir $DATA)"
    port_answers "$CONTROLLER_PORT" && die "controller port $CONTROLLER_PORT (port+1) on $HOST is already in use by another process"
    write_config
    format_storage
    log "starting Apache Kafka $KAFKA_VERSION on $HOST:$PORT (controller $CONTROLLER_PORT), log: $SERVER_LOG"
    # a broker that was killed leaves its pid file: the wait below must see the new pid, not that one
    rm -f "$PIDFILE"
    echo "---- start $(date -Is) ----" >>"$SERVER_LOG"
    # setsid: the broker outlives this script and the caller's process group; all fds go to the log
    # so a caller reading our stdout is not held open by the JVM.
    # shellcheck disable=SC2086
    DATA="$DATA" LIBS="$LIBS" HEAP="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}" \
      setsid bash -c 'echo $$ >"$DATA/kafka.pid"; exec java $HEAP -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DATA/log4j2.properties" -cp "$LIBS/*" kafka.Kafka "$DATA/server.properties"' \
      </dev/null >>"$SERVER_LOG" 2>&1 &
    local i=0
    while [ ! -s "$PIDFILE" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    pid="$(read_pid)"
    [ -n "$pid" ] || die "the broker did not write its pid file $PIDFILE"
  fi

  local timeout="${KAFKA_START_TIMEOUT:-60}" start now since
  start=$(date +%s)
  # only this start's lines count (an earlier run's "Kafka Server started" is in the same log)
  since=$(grep -n -- '^---- start ' "$SERVER_LOG" 2>/dev/null | tail -n 1 | cut -d: -f1)
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the broker (pid $pid) exited during startup; last lines of $SERVER_LOG:"
      tail -n 30 "$SERVER_LOG" >&2
      rm -f "$PIDFILE"
      die "Apache Kafka did not start on $HOST:$PORT"
    fi
    if port_answers "$PORT" && tail -n +"${since:-1}" "$SERVER_LOG" | grep -q 'Kafka Server started'; then break; fi
    now=$(date +%s)
    if [ $((now - start)) -ge "$timeout" ]; then
      log "the broker (pid $pid) did not answer on $HOST:$PORT within ${timeout}s; last lines of $SERVER_LOG:"
      tail -n 30 "$SERVER_LOG" >&2
      die "Apache Kafka start timed out (it is left running: bash scripts/kafka.sh down --port $PORT)"
    fi
    sleep 0.25
  done
  log "up in $(( $(date +%s) - start )) s (pid $pid)"
  echo "$HOST:$PORT"
}

# ---- down -------------------------------------------------------------------------------------
cmd_down() {
  local pid
  pid="$(read_pid)"
  if pid_alive "$pid"; then
    log "stopping broker pid $pid on $HOST:$PORT"
    kill -TERM "$pid" 2>/dev/null || true
    local i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker pid $pid still running after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    kill -0 "$pid" 2>/dev/null && die "could not stop broker pid $pid"
    log "stopped"
  else
    log "no broker running for port $PORT (data dir $DATA)"
  fi
  rm -f "$PIDFILE"
  if [ "$WIPE" = 1 ] && [ -d "$DATA" ]; then
    # only wipe what looks like one of our data dirs
    if [ -f "$DATA/server.properties" ] && grep -q '^# written by scripts/kafka.sh' "$DATA/server.properties"; then
      rm -rf "$DATA"
      log "wiped $DATA"
    else
      die "refusing to wipe $DATA: it has no server.properties written by kafka.sh"
    fi
  fi
}

# ---- status -----------------------------------------------------------------------------------
cmd_status() {
  local pid
  pid="$(read_pid)"
  if pid_alive "$pid"; then
    if port_answers "$PORT"; then
      echo "running $HOST:$PORT pid=$pid kafka=$KAFKA_VERSION data=$DATA"
    else
      echo "starting $HOST:$PORT pid=$pid kafka=$KAFKA_VERSION data=$DATA"
    fi
    return 0
  fi
  local fetched=no; is_fetched && fetched=yes
  echo "stopped $HOST:$PORT kafka=$KAFKA_VERSION fetched=$fetched data=$DATA"
  return 1
}

case "$CMD" in
  fetch) cmd_fetch ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) log "unknown subcommand: $CMD"; usage ;;
esac
