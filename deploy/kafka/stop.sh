#!/usr/bin/env bash
# Stop the broker that start.sh started on a data dir: SIGTERM (clean shutdown,
# so logs are flushed and the next start skips recovery), then SIGKILL after 20 s.
# usage: stop.sh [--data-dir DIR]   (exits 0 if it is not running)
set -euo pipefail

data="${MODELBUS_KAFKA_DATA:-$HOME/.local/share/modelbus/kafka}"   # same default as start.sh
while (($#)); do
  case "$1" in
    --data-dir) data="$2"; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "stop.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -d "$data" ]] || { echo "stop.sh: no data dir $data, nothing to stop" >&2; exit 0; }
data="$(cd "$data" && pwd)"
pidf="$data/kafka.pid"
pid="$(cat "$pidf" 2>/dev/null || true)"

# Only signal a pid that is still a Kafka JVM on this data dir (the pid may be
# stale and reused); a zombie has an empty cmdline, so it counts as gone.
is_ours() { [[ -n "$pid" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $data/server.properties"; }
if ! is_ours; then
  echo "stop.sh: no broker running for $data" >&2; rm -f "$pidf"; exit 0
fi

kill -TERM "$pid"
for _ in $(seq 40); do is_ours || break; sleep 0.5; done
if is_ours; then
  echo "stop.sh: broker $pid ignored SIGTERM for 20 s, killing" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 10); do is_ours || break; sleep 0.5; done   # ports free before we return
fi
rm -f "$pidf"
echo "stop.sh: stopped broker $pid" >&2
