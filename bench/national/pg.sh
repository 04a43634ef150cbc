#!/usr/bin/env bash
# The bench's own PostgreSQL, kept between runs so its data is built once:
#   bash bench/national/pg.sh start DIR PORT   a new cluster through .ci/pg (initdb, hwr_test), or the existing one
#                                              in DIR started again; prints the database URL
#   bash bench/national/pg.sh stop DIR         stop it (DIR and its data stay)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:?start|stop}
dir=${2:?data directory}
port=${3:-55433}
if [ "$port" = 55432 ]; then echo "port 55432 belongs to the test suite; pick another" >&2; exit 2; fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$(dirname "$dir")"
      bash "$here/.ci/pg" start "$dir" "$port"
    else
      if [ ! -f "$dir/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w -t 60 \
          -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
          start >/dev/null
      fi
      echo "postgresql+psycopg://postgres@127.0.0.1:$port/hwr_test"
    fi
    ;;
  stop)
    bash "$here/.ci/pg" stop "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
