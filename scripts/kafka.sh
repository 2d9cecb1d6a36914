#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for development,
# tests and benchmarks. Loopback only.
#
#   bash scripts/kafka.sh fetch                 # jars from Maven Central into the cache (once)
#   bash scripts/kafka.sh up [--port N] [--secure]   # format + start; last stdout line: 127.0.0.1:N
#   bash scripts/kafka.sh down [--port N] [--wipe]
#   bash scripts/kafka.sh status [--port N]     # exit 0 if running, 1 if not
#
# --secure: clients connect over TLS and authenticate with SASL/SCRAM (SCRAM-SHA-256 or -512) on
# the port (listener SASL_SSL); the controller listener stays plaintext on loopback, as without it.
# The first `up --secure` of a data dir makes a private CA and a broker certificate for 127.0.0.1
# and localhost (openssl, in DATA/tls) and the SCRAM user (at format time), and writes
# DATA/client.properties: the client config for `intstream --kafka-config FILE` (and librdkafka
# tools: kcat -F FILE). A data dir is either secure or not for its whole life (wipe to change).
#
# Environment:
#   KAFKA_PORT            broker port (default 9092); the controller listens on port+1
#   KAFKA_DATA            data dir for that broker (default $CACHE/kafka-$VERSION/data-$PORT)
#   INTSTREAM_CACHE       cache root (default $HOME/.cache/intstream)
#   KAFKA_VERSION         Apache Kafka version (default pinned below; must be 4.x)
#   KAFKA_START_TIMEOUT   seconds to wait for the broker to answer (default 60)
#   KAFKA_HEAP_OPTS       JVM heap flags (default -Xms256m -Xmx1g)
#   KAFKA_SASL_USERNAME   --secure: the SCRAM user made at format time (default intstream)
#   KAFKA_SASL_PASSWORD   --secure: its password (default: random, kept in DATA/client.properties)
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
       bash scripts/kafka.sh up     [--port N] [--secure]
       bash scripts/kafka.sh down   [--port N] [--wipe]
       bash scripts/kafka.sh status [--port N]
  --secure   TLS + SASL/SCRAM listener (SASL_SSL) for clients; writes DATA/client.properties
             (user KAFKA_SASL_USERNAME, default intstream; password KAFKA_SASL_PASSWORD or random)
             to pass to intstream --kafka-config. down/status need no flag (they accept it).
EOF
  exit "${1:-2}"
}

# ---- arguments --------------------------------------------------------------------------------
CMD="${1:-}"
[ -n "$CMD" ] || usage
case "$CMD" in -h|--help|help) usage 0 ;; esac
shift
PORT="${KAFKA_PORT:-9092}"
WIPE=0
SECURE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || die "--port needs a value"; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    --wipe) WIPE=1; shift ;;
    --secure) SECURE=1; shift ;;
    -h|--help) usage 0 ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65534 ] \
  || die "port must be a number in 1024..65534 (the controller uses port+1), got '$PORT'"
CONTROLLER_PORT=$((PORT + 1))
DATA="${KAFKA_DATA:-$KAFKA_HOME/data-$PORT}"
PIDFILE="$DATA/kafka.pid"
SERVER_LOG="$DATA/server.log"
TLS_DIR="$DATA/tls"
CLIENT_CONFIG="$DATA/client.properties"

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

# ---- security (--secure) -----------------------------------------------------------------------
# What the data dir was formatted for: PLAINTEXT or SASL_SSL (a dir from before --secure: PLAINTEXT).
data_security() { cat "$DATA/security" 2>/dev/null || echo PLAINTEXT; }
WANT_SECURITY=PLAINTEXT
[ "$SECURE" = 1 ] && WANT_SECURITY=SASL_SSL

check_security() { # a data dir keeps the listener it was formatted with (the SCRAM users are made then)
  [ -f "$DATA/log/meta.properties" ] || return 0
  local was; was="$(data_security)"
  [ "$was" = "$WANT_SECURITY" ] && return 0
  local fix="add --secure"
  [ "$was" = PLAINTEXT ] && fix="run it without --secure"
  die "data dir $DATA was formatted for a $was listener, not $WANT_SECURITY: $fix, use another KAFKA_DATA, or wipe it (bash scripts/kafka.sh down --port $PORT --wipe)"
}

# Sets SASL_USER and SASL_PASS: made once per data dir (DATA/tls/scram), from KAFKA_SASL_USERNAME /
# KAFKA_SASL_PASSWORD or intstream / a random password. The charset keeps them literal in the
# --add-scram argument, the JAAS line and the properties file.
scram_credentials() {
  local f="$TLS_DIR/scram"
  if [ -s "$f" ]; then
    SASL_USER="$(sed -n 1p "$f")"; SASL_PASS="$(sed -n 2p "$f")"
    [ -z "${KAFKA_SASL_USERNAME:-}" ] || [ "$KAFKA_SASL_USERNAME" = "$SASL_USER" ] \
      || die "data dir $DATA has the SCRAM user '$SASL_USER' (made when it was formatted), not KAFKA_SASL_USERNAME='$KAFKA_SASL_USERNAME': unset it or wipe the dir"
    [ -z "${KAFKA_SASL_PASSWORD:-}" ] || [ "$KAFKA_SASL_PASSWORD" = "$SASL_PASS" ] \
      || die "data dir $DATA has another password for '$SASL_USER' than KAFKA_SASL_PASSWORD (it is in $CLIENT_CONFIG): unset it or wipe the dir"
    return 0
  fi
  [ -f "$DATA/log/meta.properties" ] && die "data dir $DATA is formatted but has no $f: wipe it (bash scripts/kafka.sh down --port $PORT --wipe)"
  SASL_USER="${KAFKA_SASL_USERNAME:-intstream}"
  SASL_PASS="${KAFKA_SASL_PASSWORD:-$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)}"
  [[ "$SASL_USER" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "KAFKA_SASL_USERNAME must be 1-64 of A-Z a-z 0-9 . _ -, got '$SASL_USER'"
  [[ "$SASL_PASS" =~ ^[A-Za-z0-9._~@%+-]{8,128}$ ]] || die "KAFKA_SASL_PASSWORD must be 8-128 of A-Z a-z 0-9 . _ ~ @ % + -"
  mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"
  (umask 077; printf '%s\n%s\n' "$SASL_USER" "$SASL_PASS" >"$f")
}

# A private CA and a broker certificate (127.0.0.1, localhost) signed by it, once per data dir:
# DATA/tls/ca.pem (what clients trust), ca.key (to sign more, e.g. client certificates for mTLS),
# broker.pem (the broker's PEM keystore: PKCS#8 key + certificate chain).
make_certs() {
  [ -s "$TLS_DIR/broker.pem" ] && [ -s "$TLS_DIR/ca.pem" ] && return 0
  command -v openssl >/dev/null 2>&1 \
    || die "openssl not found on PATH: --secure makes the broker's certificate with it (Debian: apt-get install openssl)"
  mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"
  local tmp; tmp="$(mktemp -d "$TLS_DIR/new.XXXXXX")"
  if ! (
    set -e
    cd "$tmp"; umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.pem \
      -subj "/CN=intstream kafka.sh dev CA $(date -u +%Y%m%dT%H%M%SZ)" \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout broker.key -out broker.csr -subj '/CN=localhost'
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth,clientAuth' >ext.cnf
    openssl x509 -req -sha256 -days 3650 -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile ext.cnf -out broker.crt
    cat broker.key broker.crt ca.pem >broker.pem
  ) >"$TLS_DIR/openssl.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 10 "$TLS_DIR/openssl.log" >&2
    die "could not make the broker certificate with openssl (log: $TLS_DIR/openssl.log)"
  fi
  mv "$tmp/ca.pem" "$tmp/ca.key" "$tmp/broker.pem" "$TLS_DIR/"
  chmod 644 "$TLS_DIR/ca.pem"
  rm -rf "$tmp"
  log "made a private CA and a certificate for $HOST/localhost in $TLS_DIR"
}

# The client config for intstream --kafka-config (docs/contracts.md; librdkafka reads it too).
write_client_config() {
  (umask 077; cat >"$CLIENT_CONFIG" <<EOF
# written by scripts/kafka.sh up --secure --port $PORT: for intstream --kafka-config $CLIENT_CONFIG
# (or INTSTREAM_KAFKA_CONFIG); bootstrap $HOST:$PORT
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-256
sasl.username=$SASL_USER
sasl.password=$SASL_PASS
ssl.ca.location=$TLS_DIR/ca.pem
ssl.endpoint.identification.algorithm=https
EOF
  )
}

# ---- config -----------------------------------------------------------------------------------
listener_config() {
  if [ "$SECURE" = 1 ]; then
    # Clients and the inter-broker listener: SASL_SSL (the node's own broker connections log in as
    # the SCRAM user too). The controller listener stays PLAINTEXT, on loopback only, as without
    # --secure: only this JVM talks to it.
    cat <<EOF
listeners=SASL_SSL://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SASL_USER" password="$SASL_PASS";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SASL_USER" password="$SASL_PASS";
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.client.auth=none
EOF
  else
    cat <<EOF
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
  fi
}

write_config() {
  mkdir -p "$DATA/log"
  (umask 077; cat >"$DATA/server.properties" <<EOF
# written by scripts/kafka.sh up --port $PORT$([ "$SECURE" = 1 ] && echo ' --secure') (Apache Kafka $KAFKA_VERSION, KRaft single node)
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
$(listener_config)
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
  )
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
  local scram=()
  if [ "$SECURE" = 1 ]; then
    # the SCRAM users go into the bootstrap metadata, so they exist from the broker's first start
    scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASS]"
           --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASS]")
  fi
  log "formatting KRaft storage in $DATA/log (cluster id $cid)"
  if ! java -Dlog4j2.configurationFile="$DATA/log4j2.properties" -cp "$LIBS/*" kafka.tools.StorageTool \
      format --standalone -t "$cid" -c "$DATA/server.properties" "${scram[@]}" >"$DATA/format.log" 2>&1; then
    tail -n 20 "$DATA/format.log" >&2
    die "kafka-storage format failed (log: $DATA/format.log)"
  fi
  echo "$PORT" >"$DATA/port"
  echo "$WANT_SECURITY" >"$DATA/security"
}

announce_secure() { # stderr: what a client needs (stdout keeps only the bootstrap address)
  [ "$SECURE" = 1 ] || return 0
  log "listener SASL_SSL (SCRAM-SHA-256, SCRAM-SHA-512) on $HOST:$PORT"
  log "  user:          $SASL_USER"
  log "  password:      $SASL_PASS"
  log "  CA:            $TLS_DIR/ca.pem"
  log "  client config: $CLIENT_CONFIG (intstream --kafka-config $CLIENT_CONFIG ...)"
}

# ---- up ---------------------------------------------------------------------------------------
cmd_up() {
  local pid
  check_security
  if [ "$SECURE" = 1 ]; then scram_credentials; make_certs; write_client_config; fi
  pid="$(read_pid)"
  if pid_alive "$pid"; then
    if port_answers "$PORT"; then
      log "already running on $HOST:$PORT (pid $pid)"
      announce_secure
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
  announce_secure
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
    local sec=""
    [ "$(data_security)" = SASL_SSL ] && sec=" listener=SASL_SSL config=$CLIENT_CONFIG"
    if port_answers "$PORT"; then
      echo "running $HOST:$PORT pid=$pid kafka=$KAFKA_VERSION data=$DATA$sec"
    else
      echo "starting $HOST:$PORT pid=$pid kafka=$KAFKA_VERSION data=$DATA$sec"
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
