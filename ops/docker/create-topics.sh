#!/usr/bin/env bash
# Creates the hub's topics on the compose Kafka cluster (the `topic-init` service). Idempotent.
# Reads topics.txt beside it: `name partitions retention` per line, retention one of forever|time|compacted.
# topics.txt mirrors Fulfillment.Schemas.Topics.TopicCatalog; a test fails when they differ.
set -euo pipefail
bootstrap=${BOOTSTRAP:-kafka-1:29092}
replication=${REPLICATION_FACTOR:-3}
topics_file=${TOPICS_FILE:-$(dirname "$0")/topics.txt}
kt=/opt/kafka/bin/kafka-topics.sh

for i in $(seq 1 60); do
  "$kt" --bootstrap-server "$bootstrap" --list >/dev/null 2>&1 && break
  echo "waiting for kafka at $bootstrap ($i)"; sleep 2
done

while read -r name partitions retention _; do
  case $name in '' | \#*) continue ;; esac
  case $retention in
    forever) config=(--config retention.ms=-1 --config retention.bytes=-1) ;;
    time) config=(--config retention.ms=604800000) ;;
    compacted) config=(--config cleanup.policy=compact) ;;
    *) echo "unknown retention '$retention' for $name" >&2; exit 1 ;;
  esac
  "$kt" --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$replication" --config min.insync.replicas=2 "${config[@]}"
done <"$topics_file"
echo "topics:"; "$kt" --bootstrap-server "$bootstrap" --list
