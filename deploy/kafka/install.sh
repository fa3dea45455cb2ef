#!/usr/bin/env bash
# Lay the jars of a Kafka broker into a cache dir outside git and print that dir.
# Maven Central is the only source of Kafka here (no tarball, no Docker), so
# pom.xml lists the broker's artifacts and mvn copies them with their deps.
# Idempotent: a marker holding pom.xml's hash skips the fetch on later runs
# and triggers a refetch when pom.xml changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
home="${MODELBUS_KAFKA_HOME:-$HOME/.cache/modelbus/kafka-$version}"
marker="$home/.installed"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

mkdir -p "$home"
# Two start.sh runs in parallel on a fresh machine must not both write libs/.
exec 9>"$home/.lock"
flock 9

if [[ "$(cat "$marker" 2>/dev/null)" != "$want" ]]; then
  echo "install.sh: fetching Kafka $version jars into $home/libs (mvn)" >&2
  rm -rf "$home/libs.tmp"
  # -B: no colour codes; stdout to stderr so this script's stdout is the dir only.
  mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$home/libs.tmp" >&2
  ls "$home/libs.tmp"/kafka_2.13-"$version".jar >/dev/null  # fail if mvn copied nothing useful
  rm -rf "$home/libs"
  mv "$home/libs.tmp" "$home/libs"   # swap in whole, so libs/ is never half-filled
  echo "$want" >"$marker"
fi

echo "$home"
