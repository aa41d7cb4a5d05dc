#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests: a cluster in a temporary directory, listening on
# 127.0.0.1 only, trust authentication (nothing else can reach it). Installs Debian's
# PostgreSQL first when it is missing. Prints the database URL on its last line; stop the
# cluster with `tests/postgres.sh stop DIR`.
#
#   url=$(bash tests/postgres.sh start /tmp/talkwriter-pg | tail -n1)
set -euo pipefail
cmd=${1:-start}
dir=${2:-/tmp/talkwriter-pg}
port=${TALKWRITER_PG_PORT:-55432}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ "$cmd" = stop ]; then
  [ -n "$bin" ] && [ -f "$dir/data/PG_VERSION" ] || exit 0
  as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi

if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing PostgreSQL (Debian packages postgresql, postgresql-contrib)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi

# initdb refuses to run as root: the cluster belongs to the postgres account then.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on" \
    start >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
