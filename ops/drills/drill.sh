#!/usr/bin/env bash
# Fault drills and the end-to-end benchmark on a stack of their own (issue 6).
#   ops/drills/drill.sh NAME     (ops/fulfillment drill NAME runs this)
# NAME: baseline | kill-inventory-pool | kill-views-sink | kill-connector-webhooks | kill-api | kill-channel-sync
#       | kill-schema-registry | postgres-restart | channel-outage | all | bench-e2e | list
#
# Each drill starts its own complete stack beside anything else on the machine: a project-local Postgres cluster, the
# development broker, our schema registry and every worker, on ports FULFILLMENT_DRILL_PORT_BASE (default 28000) + the
# usual offsets, state under FULFILLMENT_DRILL_RUN_DIR (default .run/drills/NAME). It drives demo traffic
# (ops/Fulfillment.Demo run), injects the fault mid-run, lets the stack recover, then checks:
#   * Fulfillment.Demo verify: every accepted order and cancellation is in the views (eBay orders included: the
#     connector polls them from the demo's channel API stub), one order row per order with order events, on hand =
#     receipts + transfers in − transfers out − shipped = the sum of the processor's stock movements per SKU × location,
#     no operator command refused as a repeat (none reached the inventory twice), and (when the channel-sync worker
#     runs) every failed push retried or dead-lettered;
#   * Fulfillment.Cli replay --verify: the views rebuilt from the topics equal the live ones (zero difference).
# Exit 0 only when every check passes. Needs the Release build (ops/fulfillment builds it; or dotnet build the projects).
# Environment: DRILL_RATE (orders/s, default 40), DRILL_SECONDS (traffic length, default 75), BENCH_RATE (default 5000),
# BENCH_SECONDS (default 30).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
NAME=${1:-help}
BASE=${FULFILLMENT_DRILL_PORT_BASE:-28000}
RATE=${DRILL_RATE:-40}
SECONDS_OF_TRAFFIC=${DRILL_SECONDS:-75}
TFM=net10.0
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

KINDS=(inventory-pool views-sink connector-webhooks api channel-sync)
# baseline: the same traffic and checks with no fault, the control for every other drill. Every process kind gets a
# SIGKILL drill: the workers above (the connector's pollers run inside connector-webhooks) and the schema registry.
DRILLS=(baseline "${KINDS[@]/#/kill-}" kill-schema-registry postgres-restart channel-outage)

PG_PORT=$((BASE + 432))
BROKER_BASE=$((BASE + 92))
REGISTRY_PORT=$((BASE + 81))
STUB_PORT=$((BASE + 190))
declare -A PORT=([inventory-pool]=$((BASE + 100)) [views-sink]=$((BASE + 105)) [api]=$((BASE + 106))
  [connector-webhooks]=$((BASE + 110)) [channel-sync]=$((BASE + 111)) [schema-registry]=$REGISTRY_PORT)
declare -A PROJECT=([inventory-pool]=processors/Fulfillment.Processors.Worker [views-sink]=sinks/Fulfillment.Sinks.Views
  [api]=ops/Fulfillment.Api [connector-webhooks]=connectors/Fulfillment.Connectors.Webhooks
  [channel-sync]=sinks/Fulfillment.Sinks.ChannelSync [schema-registry]=ops/Fulfillment.SchemaRegistry)
declare -A PID=()

say() { printf '[drill %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "ERROR: $*" >&2; exit 2; }
dll() { local p=$1; printf '%s/%s/bin/Release/%s/%s.dll' "$ROOT" "$p" "$TFM" "$(basename "$p")"; }

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "drills: ${DRILLS[*]}"
}

# --- stack ---------------------------------------------------------------------------------------------------------
# The shops, pools and channel-sync targets of the embedded stack (ops/dev/embedded.env, or FULFILLMENT_STACK_CONFIG),
# so the drill stack is configured exactly like `ops/fulfillment up`; secrets generated per drill run.
load_shop_config() {
  local config=${FULFILLMENT_STACK_CONFIG:-$ROOT/ops/dev/embedded.env} line k v pools=() i=0
  [ -f "$config" ] || die "stack configuration $config not found"
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    [[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
    line=${line//\{CHANNEL_API_URL\}/http://127.0.0.1:$STUB_PORT}
    k=${line%%=*}; v=${line#*=}
    export "$k=$v"
    # A key naming an environment variable (secret, token): give that variable a fresh random value.
    [[ $k == *EnvironmentVariable ]] && export "$v=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    [[ $k == Channels__Shops__*__PoolId && " ${pools[*]} " != *" $v "* ]] && pools+=("$v")
  done < <(cat "$config"; drill_extras "$config")
  local key; key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export Api__Tenants__0__KeySha256; Api__Tenants__0__KeySha256=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
  for v in "${pools[@]}"; do export "Api__Tenants__0__Pools__$i=$v"; i=$((i + 1)); done
  export Demo__ApiKey=$key Demo__ApiUrl=http://127.0.0.1:${PORT[api]} Demo__WebhookUrl=http://127.0.0.1:${PORT[connector-webhooks]} \
    Demo__ChannelApiUrl=http://127.0.0.1:$STUB_PORT
}

# What the drills add to the stack configuration: an eBay seller (eBay has no order webhooks: the connector polls
# getOrders, here from the demo's channel API stub, and channel sync pushes its shipments and stock there) when the
# configuration has none, and a 5 s poll interval so polled orders arrive within the drill.
drill_extras() {
  local config=$1 n m
  echo "Connectors__PollInterval=00:00:05"
  grep -qE '^Channels__Shops__[0-9]+__Channel=Ebay' "$config" && return 0
  n=$(( $(grep -oE '^Channels__Shops__[0-9]+' "$config" | grep -oE '[0-9]+$' | sort -n | tail -1) + 1 ))
  m=$(( $(grep -oE '^ChannelSync__Shops__[0-9]+' "$config" | grep -oE '[0-9]+$' | sort -n | tail -1) + 1 ))
  printf '%s\n' "Channels__Shops__${n}__Channel=Ebay" "Channels__Shops__${n}__ShopId=demo-ebay-seller" "Channels__Shops__${n}__PoolId=pool-us" \
    "Channels__Shops__${n}__ApiBaseUrl={CHANNEL_API_URL}" "Channels__Shops__${n}__ApiTokenEnvironmentVariable=FULFILLMENT_DEV_TOKEN_EBAY" \
    "ChannelSync__Shops__${m}__Channel=Ebay" "ChannelSync__Shops__${m}__ShopId=demo-ebay-seller" "ChannelSync__Shops__${m}__BaseUrl={CHANNEL_API_URL}" \
    "ChannelSync__Shops__${m}__TokenEnvironmentVariable=FULFILLMENT_DEV_TOKEN_EBAY"
}

stack_env() {
  # Nothing inherited from a stack this shell may have been started from (ops/fulfillment drill passes its hub.env).
  local v
  for v in $(compgen -e | grep -E '^(Channels|ChannelSync|Api|Demo|Kafka|Postgres|ViewsSink|Connectors|Processor)__' || true); do unset "$v"; done
  export FULFILLMENT_PG_DIR=$RUN/postgres FULFILLMENT_PG_PORT=$PG_PORT
  export Postgres__ConnectionString="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=fulfillment"
  export Kafka__SchemaRegistryUrl=http://127.0.0.1:$REGISTRY_PORT DOTNET_ENVIRONMENT=Production ASPNETCORE_ENVIRONMENT=Production
  load_shop_config
}

start_service() { # start_service NAME [extra args...]
  local name=$1; shift
  local log=$RUN/logs/$name.log
  (exec setsid dotnet "$(dll "${PROJECT[$name]}")" --urls "http://127.0.0.1:${PORT[$name]}" "$@" </dev/null >>"$log" 2>&1) &
  PID[$name]=$!
  local i
  for ((i = 0; i < 600; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${PORT[$name]}/health" 2>/dev/null; then return 0; fi
    kill -0 "${PID[$name]}" 2>/dev/null || { tail -20 "$log" >&2; die "$name exited before it became healthy (log $log)"; }
    sleep 0.2
  done
  tail -20 "$log" >&2; die "$name not healthy after 120 s (log $log)"
}

start_worker() {
  case $1 in
    inventory-pool) start_service inventory-pool --Processor:StateDirectory="$RUN/state/inventory-pool" ;;
    *) start_service "$1" ;;
  esac
}

stack_up() {
  rm -rf "$RUN"; mkdir -p "$RUN/logs" "$RUN/state"
  stack_env
  say "stack: postgres :$PG_PORT, broker :$BROKER_BASE-$((BROKER_BASE + 2)), registry :$REGISTRY_PORT, workers :${PORT[inventory-pool]}-${PORT[channel-sync]}, channel API stub :$STUB_PORT (run dir $RUN)"
  "$ROOT/ops/dev/postgres.sh" start >/dev/null || die "postgres failed to start ($RUN/postgres/postgres.log)"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "create database fulfillment" >/dev/null
  (exec setsid dotnet "$(dll ops/Fulfillment.DevBroker)" --brokers 3 --base-port "$BROKER_BASE" \
    --bootstrap-file "$RUN/kafka.bootstrap" --parent-pid $$ </dev/null >>"$RUN/logs/devbroker.log" 2>&1) &
  PID[devbroker]=$!
  local i
  for ((i = 0; i < 300; i++)); do [ -s "$RUN/kafka.bootstrap" ] && break; sleep 0.2; done
  [ -s "$RUN/kafka.bootstrap" ] || die "development broker did not start ($RUN/logs/devbroker.log)"
  export Kafka__BootstrapServers; Kafka__BootstrapServers=$(tr -d '[:space:]' <"$RUN/kafka.bootstrap")
  start_service schema-registry
  local w
  for w in "${KINDS[@]}"; do start_worker "$w"; done
  say "stack: up"
}

stop_pid() { # SIGTERM the process group, SIGKILL after 15 s
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

stack_down() {
  local n
  [ -n "${DEMO_PID:-}" ] && stop_pid "$DEMO_PID"
  for n in channel-sync connector-webhooks api views-sink inventory-pool schema-registry devbroker; do
    [ -n "${PID[$n]:-}" ] && stop_pid "${PID[$n]}"
  done
  PID=()
  if [ -n "${RUN:-}" ] && [ -d "$RUN/postgres" ]; then FULFILLMENT_PG_DIR=$RUN/postgres FULFILLMENT_PG_PORT=$PG_PORT "$ROOT/ops/dev/postgres.sh" stop >/dev/null 2>&1 || true; fi
}

# --- traffic and checks --------------------------------------------------------------------------------------------
start_demo() {
  : >"$RUN/ledger"
  (exec setsid dotnet "$(dll ops/Fulfillment.Demo)" run --rate "$RATE" --duration "$SECONDS_OF_TRAFFIC" --plain \
    --ledger "$RUN/ledger" --linger </dev/null >"$RUN/logs/demo.log" 2>&1) &
  DEMO_PID=$!
  say "demo: $RATE orders/s for $SECONDS_OF_TRAFFIC s (log $RUN/logs/demo.log)"
}

wait_demo() { # until the traffic is done; the demo keeps serving the channel API stub (pushes retried later need it)
  while ! grep -q '^demo: traffic done' "$RUN/logs/demo.log" 2>/dev/null; do
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
      local rc=0; wait "$DEMO_PID" || rc=$?; DEMO_PID=
      tail -20 "$RUN/logs/demo.log" >&2; die "the demo exited (code $rc) before its traffic was done"
    fi
    sleep 1
  done
  say "demo traffic done; its summary:"
  awk '/— summary/{p=1} /^demo: traffic done/{p=0} p' "$RUN/logs/demo.log" | sed 's/^/    /'
}

check() {
  local failed=0 pushes=()
  say "checks: demo verify (waits until the pipeline is quiet)"
  [ -n "${PID[channel-sync]:-}" ] && pushes=(--pushes)
  local rc=0
  dotnet "$(dll ops/Fulfillment.Demo)" verify --ledger "$RUN/ledger" --timeout 240 "${pushes[@]}" >"$RUN/verify.log" 2>&1 || rc=$?
  sed 's/^/    /' "$RUN/verify.log"
  [ "$rc" = 0 ] || failed=1
  say "checks: replay --verify (views rebuilt from the topics vs live views; full output $RUN/replay.log)"
  rc=0
  dotnet "$(dll ops/Fulfillment.Cli)" replay --verify >"$RUN/replay.log" 2>&1 || rc=$?
  tail -25 "$RUN/replay.log" | cut -c1-400 | sed 's/^/    /'
  [ "$rc" = 0 ] || { say "checks: replay --verify exited $rc"; failed=1; }
  return $failed
}

# A kill only tests recovery when the worker was busy: the views sink writes its first rows and channel sync pushes
# only some time after the traffic starts, which on a loaded machine can be later than the usual fault time. Waits (at
# most 90 s) for the first sign of work.
busy() {
  case $1 in
    channel-sync) curl -fsS --max-time 2 "http://127.0.0.1:$STUB_PORT/_demo/stats" 2>/dev/null | grep -qE '"ok (POST|PUT) ' ;;
    views-sink) [ "$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d fulfillment -Atc 'select count(*) > 0 from views.orders' 2>/dev/null)" = t ] ;;
    *) return 0 ;;
  esac
}
wait_busy() {
  local name=$1 i
  for ((i = 0; i < 90; i++)); do busy "$name" && return 0; sleep 1; done
  say "note: $name showed no work after 90 s more; killing it anyway"
}

kill_and_restart() { # SIGKILL a worker mid-run, then start it again
  local name=$1
  wait_busy "$name"
  say "fault: SIGKILL $name (pid ${PID[$name]})"
  kill -KILL -- "-${PID[$name]}" 2>/dev/null || kill -KILL "${PID[$name]}"
  wait "${PID[$name]}" 2>/dev/null || true
  sleep 3
  say "recovery: restarting $name"
  start_worker "$name"
  say "recovery: $name healthy again"
}

run_drill() {
  local drill=$1
  RUN=${FULFILLMENT_DRILL_RUN_DIR:-$ROOT/.run/drills}/$drill
  local started=$SECONDS
  say "=== $drill ==="
  stack_up
  start_demo
  sleep $((SECONDS_OF_TRAFFIC / 3))
  case $drill in
    baseline) say "fault: none (control run)" ;;
    kill-*) kill_and_restart "${drill#kill-}" ;;
    postgres-restart)
      say "fault: restarting Postgres (fast shutdown, 5 s down)"
      "$ROOT/ops/dev/postgres.sh" stop >/dev/null
      sleep 5
      "$ROOT/ops/dev/postgres.sh" start >/dev/null
      say "recovery: Postgres back" ;;
    channel-outage)
      say "fault: channel APIs answer 503/429 for 60 s"
      curl -fsS -X POST "http://127.0.0.1:$STUB_PORT/_demo/outage?seconds=60" >/dev/null ;;
  esac
  wait_demo
  local rc=0
  check || rc=$?
  stack_down
  local diffs; diffs=$(grep -oE '[0-9]+ difference' "$RUN/replay.log" 2>/dev/null | tail -1 | cut -d' ' -f1)
  diffs="replay ${diffs:-?} difference(s)"
  if [ "$rc" = 0 ]; then say "=== $drill PASSED ($((SECONDS - started)) s; $diffs) ==="; else say "=== $drill FAILED ($((SECONDS - started)) s; $diffs; logs in $RUN/logs) ==="; fi
  return $rc
}

run_bench() {
  RUN=${FULFILLMENT_DRILL_RUN_DIR:-$ROOT/.run/drills}/bench-e2e
  # The embedded shops plus eight Shopify stores in pools of their own: a merchant group's load spreads over pools
  # (partitions), which is how the hub scales; two pools would leave all but two processor tasks idle.
  local base=${FULFILLMENT_STACK_CONFIG:-$ROOT/ops/dev/embedded.env} n next
  mkdir -p "$(dirname "$RUN")"
  next=$(grep -oE '^Channels__Shops__[0-9]+' "$base" | grep -oE '[0-9]+$' | sort -n | tail -1)
  {
    cat "$base"
    for n in 1 2 3 4 5 6 7 8; do
      next=$((next + 1))
      printf 'Channels__Shops__%s__Channel=Shopify\nChannels__Shops__%s__ShopId=bench-%s.myshopify.com\n' "$next" "$next" "$n"
      printf 'Channels__Shops__%s__PoolId=pool-bench-%s\nChannels__Shops__%s__SecretEnvironmentVariable=FULFILLMENT_BENCH_SECRET_%s\n' "$next" "$n" "$next" "$n"
    done
  } >"$RUN.env"
  FULFILLMENT_STACK_CONFIG=$RUN.env stack_up
  say "bench: warming the stack (locations and opening stock through the API)"
  dotnet "$(dll ops/Fulfillment.Demo)" run --rate 5 --duration 10 --plain >"$RUN/logs/demo-setup.log" 2>&1 || true
  say "bench: uptime: $(uptime)"
  local rc=0
  dotnet "$(dll ops/Fulfillment.Demo)" bench --rate "${BENCH_RATE:-5000}" --duration "${BENCH_SECONDS:-30}" || rc=$?
  say "bench: uptime: $(uptime)"
  stack_down
  return $rc
}

trap 'stack_down' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case $NAME in
  help | -h | --help) usage ;;
  list) printf '%s\n' "${DRILLS[@]}" bench-e2e ;;
  bench-e2e) run_bench ;;
  all)
    failed=()
    for d in "${DRILLS[@]}"; do run_drill "$d" || failed+=("$d"); done
    if [ ${#failed[@]} -gt 0 ]; then say "failed drills: ${failed[*]}"; exit 1; fi
    say "all ${#DRILLS[@]} drills passed" ;;
  *)
    [[ " ${DRILLS[*]} " == *" $NAME "* ]] || { usage >&2; exit 2; }
    run_drill "$NAME" ;;
esac
