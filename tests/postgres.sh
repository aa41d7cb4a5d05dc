#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests: a cluster in a temporary directory, listening on
# 127.0.0.1 only, trust authentication (nothing else can reach it). Installs Debian's
# PostgreSQL first when it is missing. Prints the database URL on its last line; stop the
# cluster with `tests/postgres.sh stop DIR`. Idempotent: starting a cluster that already runs
# in DIR only prints its URL. Works as root (the cluster then belongs to the postgres account,
# as initdb refuses root) and as any other user (the cluster is that user's).
#
#   url=$(bash tests/postgres.sh start /tmp/talkwriter-pg | tail -n1)
#
# The port is 55432, or TALKWRITER_PG_PORT.
set -euo pipefail
cmd=${1:-start}
dir=${2:-/tmp/talkwriter-pg}
port=${TALKWRITER_PG_PORT:-55432}
case "$cmd" in start | stop) ;; *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;; esac

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true; }
# initdb and the server refuse to run as root: as root, they run as the postgres account.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bin=$(find_bin)

if [ "$cmd" = stop ]; then
  [ -n "$bin" ] && [ -f "$dir/data/PG_VERSION" ] || exit 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  exit 0
fi

if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing PostgreSQL (Debian packages postgresql, postgresql-contrib)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >&2
  bin=$(find_bin)
fi

if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  # Only what this script made is removed: DIR itself may be a directory the caller made.
  mkdir -p "$dir"
  rm -rf "$dir/data" "$dir/log"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on" \
    start >/dev/null; then
    echo "PostgreSQL did not start (is port $port taken? set TALKWRITER_PG_PORT); its log:" >&2
    tail -n 20 "$dir/log" >&2 || true
    exit 1
  fi
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
