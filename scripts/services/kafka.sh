#!/usr/bin/env bash
# Apache Kafka 4.x, single node in KRaft mode, bound to 127.0.0.1.
#   scripts/services/kafka.sh start|stop|status|restart
# Jars come from Maven Central (kafka/pom.xml, mvn dependency:copy-dependencies) and are cached in
# $PULSE_SERVICES_CACHE (default ~/.cache/pulse-services). State lives in $PULSE_SERVICES_DIR
# (default /tmp/pulse-services). Idempotent: start on a running broker only waits for it to be healthy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${PULSE_SERVICES_CACHE:-$HOME/.cache/pulse-services}"
state="${PULSE_SERVICES_DIR:-/tmp/pulse-services}/kafka"
port="${PULSE_KAFKA_PORT:-9092}"
controller_port="${PULSE_KAFKA_CONTROLLER_PORT:-9093}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")"
libs="$cache/kafka-$version/libs"
pidfile="$state/kafka.pid"

name=kafka
# shellcheck source=lib.sh
. "$here/lib.sh"


fetch() {
  if [ -f "$libs/.complete" ]; then return; fi
  log "fetching Kafka $version jars from Maven Central into $libs"
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
}

configure() {
  mkdir -p "$state/data"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.check.interval.ms=5000
PROPS
  cat > "$state/log4j2.yaml" <<'LOG'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: kafka.server.BrokerServer
        level: INFO
LOG
  if [ ! -f "$state/data/meta.properties" ]; then
    log "formatting storage in $state/data"
    java -cp "$libs/*" kafka.tools.StorageTool format \
      --cluster-id "$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid)" \
      --config "$state/server.properties" --ignore-formatted >/dev/null
  fi
}

healthy() {
  # The broker answers a metadata request: the Node client in the repository does the asking.
  node --input-type=module -e "
    import { Admin } from '@platformatic/kafka';
    const admin = new Admin({ clientId: 'pulse-health', bootstrapBrokers: ['127.0.0.1:$port'], timeout: 2000, retries: 0 });
    try { await admin.metadata({ topics: [] }); process.exit(0); } catch { process.exit(1); } finally { await admin.close().catch(() => {}); }
  " 2>/dev/null
}


start() {
  if running; then wait_healthy; return; fi
  fetch
  configure
  log "starting Kafka $version (KRaft) on 127.0.0.1:$port"
  (
    cd "$state"
    nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$state/log4j2.yaml" \
      -cp "$libs/*" kafka.Kafka "$state/server.properties" >"$state/kafka.log" 2>&1 &
    echo $! >"$pidfile"
  )
  wait_healthy
}


service_main "$@"
