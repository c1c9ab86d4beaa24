#!/usr/bin/env bash
# Project-local PostgreSQL 15 cluster: its own data dir under .run/, its own port, run as the postgres user
# (initdb refuses root). Idempotent: `start` on a running cluster does nothing; `start` on an existing data dir restarts it.
# Usage: ops/dev/postgres.sh start|stop|status|url [--dir DIR] [--port PORT]
# FULFILLMENT_PG_OPTIONS adds server settings at start, e.g. "-c shared_preload_libraries=pg_stat_statements" to profile.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cmd=${1:-status}; shift || true
dir=${FULFILLMENT_PG_DIR:-$root/.run/postgres}
port=${FULFILLMENT_PG_PORT:-55432}
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) echo "postgres.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bin=/usr/lib/postgresql/15/bin
data=$dir/data
sock=$dir/sock
log=$dir/postgres.log
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
url() { echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"; }

running() { [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

case $cmd in
  start)
    [ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL 15 binaries not found in $bin" >&2; exit 1; }
    if running; then url; exit 0; fi
    mkdir -p "$dir" "$sock"
    if [ "$(id -u)" = 0 ]; then
      chown -R postgres:postgres "$dir"
      # Every parent must be traversable by postgres (facts/local-infra.md).
      p=$dir; while [ "$p" != / ]; do p=$(dirname "$p"); runuser -u postgres -- test -x "$p" || chmod o+x "$p"; done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      # --no-sync: initdb's closing fsync of the new data dir took half its time (2-3 s of a fresh machine's `up`); a
      # development cluster lost to a crash within seconds of its creation is simply created again.
      as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_connections=300 -c fsync=${FULFILLMENT_PG_FSYNC:-on} -c shared_buffers=256MB ${FULFILLMENT_PG_OPTIONS:-}" \
      start >/dev/null || { tail -20 "$log" >&2; exit 1; }
    url ;;
  stop)
    if running; then as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi ;;
  status)
    if running; then echo "postgres: running on 127.0.0.1:$port ($data)"; else echo "postgres: stopped"; exit 1; fi ;;
  url) url ;;
  pid)
    running && head -1 "$data/postmaster.pid" ;;
  *) echo "usage: postgres.sh start|stop|status|url|pid [--dir DIR] [--port PORT]" >&2; exit 2 ;;
esac
