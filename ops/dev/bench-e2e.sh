#!/usr/bin/env bash
# End-to-end benchmark (`ops/fulfillment bench e2e`): starts a private embedded stack (its own run dir, ports shifted by
# FULFILLMENT_BENCH_PORT_OFFSET, default 3000, so it runs beside a developer's `up`), drives signed webhooks through it
# with the demo driver's `bench` (webhook in → allocation → Postgres view; prints RESULT name=e2e.* lines), stops it.
# Options go to the driver: --rate N (default 5000) --duration S (default 30) --warmup S; first a step search for the
# highest rate whose p99 stays under 250 ms (--find-max, up to --rate; --no-find-max skips it). The driver gets the
# stack's pid files, postmaster.pid and metrics URLs, so it reports CPU per order per process and where orders waited.
# Needs the Release build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
run=$(mktemp -d /tmp/fulfillment-bench-e2e.XXXXXX)
export FULFILLMENT_RUN_DIR=$run FULFILLMENT_PORT_OFFSET=${FULFILLMENT_BENCH_PORT_OFFSET:-3000}
# Its own Postgres cluster in its run dir: a parent `ops/fulfillment` exports FULFILLMENT_PG_DIR (the default cluster),
# and the bench stack would otherwise share that cluster and its hub database with a developer's stack.
export FULFILLMENT_PG_DIR=$run/postgres
unset FULFILLMENT_PG_PORT FULFILLMENT_PG_DATABASE FULFILLMENT_CHANNEL_API_URL
# `up` turns quick JIT on for a faster start; the bench measures the services as their projects configure them.
export FULFILLMENT_UP_QUICK_JIT=0
dll=$root/ops/Fulfillment.Demo/bin/Release/net10.0/Fulfillment.Demo.dll
[ -f "$dll" ] || { echo "bench-e2e: $dll is missing (build the solution)" >&2; exit 1; }

up_pid=
cleanup() {
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill -INT "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  "$root/ops/fulfillment" down >/dev/null 2>&1 || true
  # The private stack's logs outlive it (the run dir goes): a service that died mid-run must leave its reason behind.
  local keep=$root/.run/bench-e2e-last
  rm -rf "$keep"; mkdir -p "$keep"
  cp -r "$run/logs" "$run/up.out" "$keep/" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `up` in the background starts with SIGINT ignored and re-executes itself with the default disposition, so the
# SIGINT of cleanup stops it as Ctrl-C would.
"$root/ops/fulfillment" up --no-build >"$run/up.out" 2>&1 &
up_pid=$!
for ((i = 0; i < 1200; i++)); do
  grep -q '^Fulfillment.Streams is up.' "$run/up.out" 2>/dev/null && break
  kill -0 "$up_pid" 2>/dev/null || { cat "$run/up.out" >&2; echo "bench-e2e: the stack did not start" >&2; exit 1; }
  sleep 0.5
done
grep -q '^Fulfillment.Streams is up.' "$run/up.out" || { tail -20 "$run/up.out" >&2; echo "bench-e2e: the stack was not up in 10 min" >&2; exit 1; }
echo "bench-e2e: private stack up (run dir $run, port offset $FULFILLMENT_PORT_OFFSET; load $(cut -d' ' -f1-3 /proc/loadavg))"

args=()
find_max=1
for a in "$@"; do
  if [ "$a" = --no-find-max ]; then find_max=0; else args+=("$a"); fi
done
[ "$find_max" = 0 ] || args+=(--find-max)
o=$FULFILLMENT_PORT_OFFSET
mapfile -t hub <"$run/hub.env"
rc=0
env "${hub[@]}" dotnet "$dll" bench "${args[@]}" --pids-dir "$run/pids" --postgres-pid-file "$run/postgres/data/postmaster.pid" \
  --metrics "connector=http://127.0.0.1:$((18110 + o))/metrics,processor=http://127.0.0.1:$((18100 + o))/metrics,views-sink=http://127.0.0.1:$((18105 + o))/metrics" || rc=$?
# Figures from a run in which a service died are not a measurement of the hub: say so, and fail the bench.
if grep -q 'exited unexpectedly' "$run/up.out" 2>/dev/null; then
  echo "bench-e2e: INVALID RUN: a service of the stack died during it (logs kept in $root/.run/bench-e2e-last):" >&2
  grep 'exited unexpectedly' "$run/up.out" | head -5 >&2 || true
  if grep -qs 'Offset out of range' "$run"/logs/*.log; then
    # facts/kafka-dev-broker.md: the development broker keeps 5 MiB per partition and drops the oldest batches silently.
    echo "bench-e2e: a consumer fell so far behind that the development broker had dropped the records it still had to read" >&2
    echo "bench-e2e: (it keeps 5 MiB per partition and drops the oldest); the consumer stops rather than skip them" >&2
  fi
  rc=1
fi
exit "${rc:-0}"
