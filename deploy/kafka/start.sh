#!/usr/bin/env bash
# Start a single-node Kafka (KRaft: broker+controller in one JVM) on 127.0.0.1.
# usage: start.sh [--port 9092] [--controller-port PORT+1] [--data-dir DIR] [--foreground]
#                 [--scram-file FILE] [--host 127.0.0.1]
# Background (default): pid -> DIR/kafka.pid, log -> DIR/kafka.log, returns once
# the broker serves clients and prints KAFKA_BOOTSTRAP=127.0.0.1:PORT on stdout.
# --foreground: exec the broker (logs on stdout) for supervisors/terminals.
# --scram-file: lines "name=password" ([A-Za-z0-9_-], one line named admin): clients
#   then authenticate with SASL_PLAINTEXT SCRAM-SHA-512, the StandardAuthorizer denies
#   whatever no ACL allows, and admin is the only super user (it creates topics and ACLs:
#   `modelbus kafka provision`). The users are written when DIR is formatted.
# --host: the address to listen on and advertise (default 127.0.0.1; a container's own
#   name under docker-compose). MODELBUS_KAFKA_LIBS: a folder of Kafka's jars to use
#   instead of fetching them (the apache/kafka image's /opt/kafka/libs).
# Storage is formatted only on first use of DIR, so a restart keeps the topics.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port=9092 cport="" fg=0 scram="" host=127.0.0.1
data="${MODELBUS_KAFKA_DATA:-$HOME/.local/share/modelbus/kafka}"   # same default as stop.sh
while (($#)); do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --controller-port) cport="$2"; shift 2 ;;
    --data-dir) data="$2"; shift 2 ;;
    --foreground) fg=1; shift ;;
    --scram-file) scram="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
cport="${cport:-$((port + 1))}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"   # absolute: it goes into server.properties and the pid check
props="$data/server.properties" pidf="$data/kafka.pid" log="$data/kafka.log"

# A pid file may be stale (crash, reboot, pid reused): trust it only if that pid
# is still a Kafka JVM started on this very data dir.
is_ours() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "kafka.Kafka $props"; }
if [[ -f "$pidf" ]] && is_ours "$(cat "$pidf")"; then
  echo "start.sh: broker already running for $data (pid $(cat "$pidf"))" >&2; exit 1
fi
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$cport"; do
  if port_open "$p"; then echo "start.sh: port $p already in use" >&2; exit 1; fi
done

if [[ -n "${MODELBUS_KAFKA_LIBS:-}" ]]; then libs="$MODELBUS_KAFKA_LIBS"; else libs="$(bash "$here/install.sh")/libs"; fi
java=(java -cp "$libs/*" -Djava.awt.headless=true
      -Dlog4j2.configurationFile="$here/log4j2.yaml" -Dkafka.logs.dir="$data")

# Static single-voter quorum (controller.quorum.voters) rather than the 4.x
# dynamic one (--standalone): the voter's endpoint then lives in this file, not
# in the metadata log, so restarting a data dir on other ports just works.
# Every listener is bound and advertised on --host only: 127.0.0.1 unless told
# otherwise, so nothing is reachable from outside the machine. Replication factors are 1 because
# there is one broker (defaults of 3 would leave internal topics uncreatable).
scram_args=() admin_pw=""
if [[ -n "$scram" ]]; then
  while IFS='=' read -r name pw || [[ -n "$name" ]]; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [[ ! "$name" =~ ^[A-Za-z0-9_-]+$ || ! "$pw" =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
      echo "start.sh: $scram: bad line for user '$name' (name and a 16+ character password of [A-Za-z0-9_-])" >&2; exit 2
    fi
    scram_args+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$pw]")
    [[ "$name" == admin ]] && admin_pw="$pw"
  done <"$scram"
  [[ -n "$admin_pw" ]] || { echo "start.sh: $scram names no admin user" >&2; exit 2; }
fi

# The file holds the admin's password when SASL is on: readable by this user only.
umask 077
if [[ -n "$scram" ]]; then
  # Clients: SCRAM-SHA-512; the broker talks to itself as admin. The controller listener
  # cannot use SCRAM (its credentials live in the metadata the controller serves), so it
  # takes PLAIN with admin's password alone: nothing else may reach the controller.
  listeners="listeners=SASL_PLAINTEXT://$host:$port,CONTROLLER://$host:$cport
advertised.listeners=SASL_PLAINTEXT://$host:$port
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$admin_pw\";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$admin_pw\" user_admin=\"$admin_pw\";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin"
else
  listeners="listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport
advertised.listeners=PLAINTEXT://$host:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT"
fi

cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$cport
controller.listener.names=CONTROLLER
$listeners
log.dirs=$data/logs
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS

# Format once: meta.properties marks a formatted dir. Reformatting would give
# the dir a new cluster id and the broker would refuse (or lose) the old logs.
if [[ ! -f "$data/logs/meta.properties" ]]; then
  # last line only: anything log4j prints also lands on stdout before the id
  cid="$("${java[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)"
  [[ "$cid" =~ ^[A-Za-z0-9_-]{22}$ ]] || { echo "start.sh: bad cluster id '$cid'" >&2; exit 1; }
  "${java[@]}" kafka.tools.StorageTool format -t "$cid" -c "$props" --ignore-formatted \
    "${scram_args[@]}" >"$data/format.log"
fi

# Heap kept small: this is a dev/CI broker on a 2-core machine shared with tests.
jvm=("${java[@]}" ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20)

if ((fg)); then
  echo $$ >"$pidf"   # exec keeps the pid, so stop.sh works here too
  exec "${jvm[@]}" kafka.Kafka "$props"
fi

[[ -f "$log" ]] && mv -f "$log" "$log.prev"   # keep the last run's log; grep only this run's
nohup "${jvm[@]}" kafka.Kafka "$props" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidf"
ready=0
trap '((ready)) || { kill -9 "$pid" 2>/dev/null; rm -f "$pidf"; }' EXIT   # no half-started broker left behind

# Ready = port accepts AND KafkaRaftServer logged "Kafka Server started", which
# it does only after the broker registered with the controller and was unfenced,
# i.e. it answers metadata/produce requests.
# A JVM on a loaded 2-core machine can take over a minute to start: wait that long.
timeout_s="${MODELBUS_KAFKA_START_TIMEOUT_S:-180}"
deadline=$((SECONDS + timeout_s))
until port_open "$port" && grep -q 'Kafka Server started' "$log"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start.sh: broker exited; last lines of $log:" >&2; tail -n 40 "$log" >&2; exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "start.sh: broker not ready after $timeout_s s; last lines of $log:" >&2; tail -n 40 "$log" >&2; exit 1
  fi
  sleep 0.5
done
ready=1
echo "KAFKA_BOOTSTRAP=$host:$port"
