#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft, combined broker+controller) for
# development and tests, without Docker: the broker's jars come from Maven Central
# through scripts/kafka/pom.xml. Everything lives under .cache/kafka/ (git-ignored):
#   libs/         broker classpath (mvn dependency:copy-dependencies; always here, shared)
#   config/       generated server.properties and log4j.properties  ┐
#   data/         KRaft metadata and topic logs (kept between runs;   │ under $KAFKA_DIR
#                 `kafka:down -- --clean` wipes it)                    │ (default .cache/kafka)
#   logs/         server.log (broker log) and kafka.out (JVM output)  │
#   kafka.pid     pid of the broker this script started               ┘
#
# Idempotent: if the broker it started is still running, or anything already listens on
# the broker port, it reports that and exits 0.
#
# Environment:
#   KAFKA_PORT             client listener port on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1 (default 9093)
#   KAFKA_HEAP_OPTS        JVM heap flags (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to serve requests (default 90)
#   KAFKA_DIR              folder of this broker's config, data, logs and pid file (default
#                          .cache/kafka). A second broker (e.g. the fault tests' own, on other
#                          ports) needs its own; the jars in .cache/kafka/libs stay shared.
#   KAFKA_SASL_PORT        with KAFKA_SASL_PLAIN_USERS: also a SASL_PLAINTEXT listener (mechanism
#                          PLAIN) on this port, for tests of SASL clients (off by default)
#   KAFKA_SASL_PLAIN_USERS the PLAIN users of that listener, "name:password" separated by spaces
#   KAFKA_SSL_PORT         also a TLS listener (SSL) on this port (off by default). A test CA, a
#                          broker certificate (127.0.0.1, localhost) and a client certificate are
#                          generated with openssl into $KAFKA_DIR/tls/ (ca.pem, client.pem,
#                          client.key, …; made again when they expire within a day)
#   KAFKA_SSL_CLIENT_AUTH  required (default: clients must show a certificate of that CA),
#                          requested or none
#   KAFKA_SCRAM_PORT       with KAFKA_SCRAM_USERS: also a SASL_PLAINTEXT listener with the
#                          mechanisms SCRAM-SHA-256 and SCRAM-SHA-512 (off by default)
#   KAFKA_SASL_SSL_PORT    with KAFKA_SCRAM_USERS: also a SASL_SSL listener (TLS with the
#                          generated broker certificate, no client certificate, then SCRAM):
#                          what managed Kafka services offer (config/managed-kafka.yaml)
#   KAFKA_SCRAM_USERS      the SCRAM users, "name:password" separated by spaces, each with both
#                          mechanisms (no ',' '[' ']' '=' in passwords). KRaft stores them when
#                          the storage is formatted: other users need `kafka-down.sh --clean`
#   KAFKA_INSTALL_ONLY=1   only install the jars into .cache/kafka/libs (tools such as
#                          kafka.admin.ConfigCommand run from them), start nothing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs"
BROKER_DIR="${KAFKA_DIR:-$CACHE}"
mkdir -p "$BROKER_DIR"
BROKER_DIR="$(cd "$BROKER_DIR" && pwd)"
CONF="$BROKER_DIR/config"
DATA="$BROKER_DIR/data"
LOGS="$BROKER_DIR/logs"
PIDFILE="$BROKER_DIR/kafka.pid"
POM="$ROOT/scripts/kafka/pom.xml"

PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

log() { echo "[kafka-up] $*"; }
die() { echo "[kafka-up] ERROR: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  # Check the command line too: after a reboot the pid may belong to another process.
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

show_log_tail() {
  for f in "$LOGS/server.log" "$LOGS/kafka.out"; do
    if [[ -s "$f" ]]; then
      echo "----- last lines of $f -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

command -v java >/dev/null || die "java not found on PATH (Java 17 is required)"

mkdir -p "$CACHE"
# Serialise concurrent invocations (e.g. two test runs starting at once) of one broker.
exec 9>"$BROKER_DIR/up.lock"
flock -w 600 9 || die "another kafka-up.sh holds $BROKER_DIR/up.lock"

INSTALL_ONLY="${KAFKA_INSTALL_ONLY:-0}"
if [[ "$INSTALL_ONLY" != 1 ]]; then
  if pid="$(running_pid)"; then
    log "broker already running (pid $pid) on 127.0.0.1:$PORT"
    exit 0
  fi
  rm -f "$PIDFILE"
  if port_open "$PORT"; then
    log "something already listens on 127.0.0.1:$PORT (not started by this script); using it as is"
    exit 0
  fi
fi

# --- install ---------------------------------------------------------------------------
# The marker holds a hash of the pom so that a version change reinstalls.
# Brokers with different KAFKA_DIRs share the jars: one install at a time.
exec 8>"$CACHE/install.lock"
flock -w 600 8 || die "another kafka-up.sh holds $CACHE/install.lock"
pom_hash="$(sha256sum "$POM" | cut -d' ' -f1)"
if [[ "$(cat "$LIBS/.installed" 2>/dev/null)" != "$pom_hash" ]]; then
  command -v mvn >/dev/null || die "mvn not found on PATH (Maven fetches the broker jars)"
  log "installing Kafka jars from Maven Central into $LIBS"
  rm -rf "$LIBS.tmp"
  # Maven's output goes to a file (it prints colour codes even with -q); shown on failure.
  if ! mvn -B -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$CACHE/mvn.log" 2>&1; then
    tail -n 40 "$CACHE/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (is Maven Central reachable?); full log in $CACHE/mvn.log"
  fi
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  echo "$pom_hash" >"$LIBS/.installed"
fi
exec 8>&-

if [[ "$INSTALL_ONLY" == 1 ]]; then
  log "jars installed in $LIBS"
  exit 0
fi

# --- configure -------------------------------------------------------------------------
mkdir -p "$CONF" "$DATA" "$LOGS"
LISTENERS="PLAINTEXT://127.0.0.1:$PORT"
PROTOCOLS="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
SECURITY_PROPERTIES=""
add_listener() { # name protocol port
  LISTENERS="$LISTENERS,$1://127.0.0.1:$3"
  PROTOCOLS="$PROTOCOLS,$1:$2"
}
add_properties() { SECURITY_PROPERTIES="$SECURITY_PROPERTIES$1"$'\n'; }

if [[ -n "${KAFKA_SASL_PORT:-}" ]]; then
  [[ -n "${KAFKA_SASL_PLAIN_USERS:-}" ]] || die "KAFKA_SASL_PORT needs KAFKA_SASL_PLAIN_USERS (name:password ...)"
  add_listener SASL_PLAINTEXT SASL_PLAINTEXT "$KAFKA_SASL_PORT"
  jaas="org.apache.kafka.common.security.plain.PlainLoginModule required"
  for user in $KAFKA_SASL_PLAIN_USERS; do jaas="$jaas user_${user%%:*}=\"${user#*:}\""; done
  add_properties "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas;"
fi

# SCRAM listeners: the credentials live in KRaft's metadata (added at format time below).
scram_listener() { # name protocol port
  [[ -n "${KAFKA_SCRAM_USERS:-}" ]] || die "KAFKA_SCRAM_PORT and KAFKA_SASL_SSL_PORT need KAFKA_SCRAM_USERS (name:password ...)"
  add_listener "$1" "$2" "$3"
  local name="${1,,}" login="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  add_properties "listener.name.$name.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.$name.scram-sha-256.sasl.jaas.config=$login
listener.name.$name.scram-sha-512.sasl.jaas.config=$login"
}
[[ -z "${KAFKA_SCRAM_PORT:-}" ]] || scram_listener SCRAM SASL_PLAINTEXT "$KAFKA_SCRAM_PORT"

# A private CA signs the broker's and a client's certificate; the broker reads its key and
# chain from a PKCS12 keystore and trusts the CA's PEM file.
TLS="$BROKER_DIR/tls"
make_certificates() {
  command -v openssl >/dev/null || die "openssl not found on PATH (TLS listeners generate their certificates with it)"
  log "generating a test CA, broker and client certificates in $TLS"
  rm -rf "$TLS.tmp" && mkdir -p "$TLS.tmp"
  (
    cd "$TLS.tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=kafka-up.sh test CA" -keyout ca.key -out ca.pem
    sign() { # name subject extensions
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr"
      openssl x509 -req -days 30 -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -extfile <(printf '%s\n' "$3")
    }
    sign broker "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost"
    sign client "/CN=stream-processor-client" "extendedKeyUsage=clientAuth"
    openssl pkcs12 -export -name broker -in broker.pem -inkey broker.key -certfile ca.pem -passout pass:kafka-up -out broker.p12
    rm -f ./*.csr ca.srl
  ) >"$LOGS/openssl.out" 2>&1 || { cat "$LOGS/openssl.out" >&2; die "generating certificates failed"; }
  rm -rf "$TLS" && mv "$TLS.tmp" "$TLS"
}
if [[ -n "${KAFKA_SSL_PORT:-}" || -n "${KAFKA_SASL_SSL_PORT:-}" ]]; then
  openssl x509 -checkend 86400 -noout -in "$TLS/client.pem" >/dev/null 2>&1 || make_certificates
  add_properties "ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS/broker.p12
ssl.keystore.password=kafka-up
ssl.key.password=kafka-up
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem"
fi
if [[ -n "${KAFKA_SSL_PORT:-}" ]]; then
  add_listener SSL SSL "$KAFKA_SSL_PORT"
  add_properties "listener.name.ssl.ssl.client.auth=${KAFKA_SSL_CLIENT_AUTH:-required}"
fi
if [[ -n "${KAFKA_SASL_SSL_PORT:-}" ]]; then
  scram_listener SASL_SSL SASL_SSL "$KAFKA_SASL_SSL_PORT"
  add_properties "listener.name.sasl_ssl.ssl.client.auth=none"
fi
cat >"$CONF/server.properties" <<EOF
# Generated by scripts/kafka-up.sh; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$LISTENERS,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$LISTENERS
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$PROTOCOLS
${SECURITY_PROPERTIES}log.dirs=$DATA
# One node: every replication factor and ISR minimum is 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer internal partitions than the default 50: much faster first group join / transaction.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=8
# Tests join and leave groups constantly; do not wait 3 s before the first rebalance.
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=true
# Sized for a 2-core development machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF

cat >"$CONF/log4j.properties" <<EOF
# Broker log goes to a size-bounded file, never to the terminal.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOGS/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
# The chattiest loggers: per-request, per-partition state and log-segment detail.
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
log4j.logger.kafka.cluster.Partition=WARN
log4j.logger.kafka.server.ReplicaFetcherManager=WARN
log4j.logger.org.apache.kafka.controller=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.org.apache.kafka.image=WARN
log4j.logger.org.apache.kafka.metadata=WARN
log4j.logger.kafka.coordinator=WARN
log4j.logger.org.apache.kafka.coordinator=WARN
EOF

CLASSPATH="$LIBS/*"
JAVA_LOG_OPTS=(-Dlog4j.configuration="file:$CONF/log4j.properties" -Dkafka.logs.dir="$LOGS")

# --- format KRaft storage (first run only) ----------------------------------------------
# SCRAM credentials are metadata records written by `format --add-scram`; a storage
# formatted earlier keeps the users it was formatted with (checked through a marker).
SCRAM_USERS="${KAFKA_SCRAM_USERS:-}"
SCRAM_MARKER="$DATA/scram-users.sha256"
hash_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
if [[ ! -f "$DATA/meta.properties" ]]; then
  cluster_id="$(java -cp "$CLASSPATH" "${JAVA_LOG_OPTS[@]}" kafka.tools.StorageTool random-uuid)"
  log "formatting KRaft storage in $DATA (cluster id $cluster_id)"
  scram_args=()
  for user in $SCRAM_USERS; do
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram_args+=(--add-scram "$mechanism=[name=${user%%:*},password=${user#*:}]")
    done
  done
  java -cp "$CLASSPATH" "${JAVA_LOG_OPTS[@]}" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$CONF/server.properties" "${scram_args[@]}" >"$LOGS/format.out" 2>&1 \
    || { cat "$LOGS/format.out" >&2; die "formatting KRaft storage failed"; }
  hash_of "$SCRAM_USERS" >"$SCRAM_MARKER"
# (A storage without a marker was formatted before SCRAM users existed: it has none.)
elif [[ "$(cat "$SCRAM_MARKER" 2>/dev/null || hash_of '')" != "$(hash_of "$SCRAM_USERS")" ]]; then
  die "KAFKA_SCRAM_USERS differ from the users $DATA was formatted with; run kafka-down.sh --clean first"
fi

# --- start -----------------------------------------------------------------------------
log "starting broker on 127.0.0.1:$PORT (controller 127.0.0.1:$CONTROLLER_PORT)"
: >"$LOGS/kafka.out"
# A fresh server.log per start: the readiness check below must not see the previous run's lines.
[[ -f "$LOGS/server.log" ]] && mv -f "$LOGS/server.log" "$LOGS/server.log.previous"
# setsid detaches the broker from the caller's process group, so Ctrl-C in a test
# run does not kill it half-way; kafka-down.sh stops it by pid. `9>&-`: the broker must
# not inherit the lock, or the next kafka-up.sh would wait for the broker to exit.
# shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
setsid nohup java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
  "${JAVA_LOG_OPTS[@]}" -cp "$CLASSPATH" kafka.Kafka "$CONF/server.properties" \
  >>"$LOGS/kafka.out" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$PIDFILE"

# Ready means: the listener accepts connections and the server finished its startup
# (it binds the port before it serves requests, so the port alone is not enough).
deadline=$((SECONDS + START_TIMEOUT))
until port_open "$PORT" && grep -q 'Kafka Server started' "$LOGS/server.log" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PIDFILE"
    show_log_tail
    die "broker process exited during startup (see $LOGS)"
  fi
  if ((SECONDS >= deadline)); then
    show_log_tail
    kill "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    die "broker did not become ready within ${START_TIMEOUT}s (stopped it; see $LOGS)"
  fi
  sleep 0.5
done
log "broker ready (pid $pid) on 127.0.0.1:$PORT; logs in $LOGS"
