#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server on loopback for the tests (Debian's postgresql
# package). Usage:
#   scripts/pg.sh start DIR   initdb into DIR (created, empty), start on 127.0.0.1 on a free port,
#                             create database drivegate_test; print its URL (postgres://...) on stdout
#   scripts/pg.sh stop DIR    stop the server (fast shutdown) and remove DIR
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` user.
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: scripts/pg.sh start|stop DIR" >&2; exit 2; fi
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres; apt-get install postgresql)" >&2; exit 3
fi
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 3; }
    port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=50 -c shared_buffers=32MB" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 3; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres drivegate_test
    echo "postgres://postgres@127.0.0.1:$port/drivegate_test"
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: scripts/pg.sh start|stop DIR" >&2; exit 2 ;;
esac
