#!/usr/bin/env bash
# The test command: sets the machine up, checks style, builds everything and runs every test:
# Rust unit and in-process router tests, end-to-end tests of the real binaries over HTTP, the
# UI's unit tests, and the desktop app through WebDriver under Xvfb; then the store's and the
# router's suites again on PostgreSQL, and two servers sharing one PostgreSQL database.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
start=$(date +%s)
step() { echo; echo "==> $* ($(( $(date +%s) - start )) s)"; }
# Runs a command with an upper bound (each is several times what it takes), so that a hang
# fails its step by name instead of holding CI until CI's own limit (docs/decisions/0024).
bounded() {
  local limit=$1 rc=0
  shift
  timeout --kill-after=30s "$limit" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "!! still running after $limit, stopped: $*" >&2; fi
  return "$rc"
}

step "bootstrap"
bash tests/bootstrap.sh

step "cargo fmt --check"
cargo fmt --all -- --check

if [ -f ui/package.json ]; then
  step "ui: svelte-check, prettier, vitest"
  (cd ui && npm run check --silent && npm run format:check --silent && npm test --silent)
fi

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (all binaries)"
cargo build --workspace --locked

# A throwaway PostgreSQL (installed when missing) for the second run, on a free port so a
# cluster already running elsewhere on the machine is left alone; stopped however this ends.
step "PostgreSQL for the PostgreSQL run"
pgdir=$(mktemp -d)
benchdir=$(mktemp -d)
trap 'bash tests/postgres.sh stop "$pgdir"; rm -rf "$pgdir" "$benchdir"' EXIT
pgport=${TALKWRITER_PG_PORT:-}
if [ -z "$pgport" ]; then
  for p in $(seq 55440 55540); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then pgport=$p; break; fi
  done
fi
TALKWRITER_TEST_DATABASE_URL=$(TALKWRITER_PG_PORT=$pgport bash tests/postgres.sh start "$pgdir" | tail -n1)
export TALKWRITER_TEST_DATABASE_URL
echo "$TALKWRITER_TEST_DATABASE_URL"

# Every test on SQLite, the default store: without the variable, which would send the store
# tests to PostgreSQL.
step "cargo test (SQLite)"
bounded 25m env -u TALKWRITER_TEST_DATABASE_URL cargo test --workspace --locked

# The engine's integration suites again, each test on a fresh PostgreSQL database; the
# end-to-end tests that take their database from the variable; two servers sharing one.
step "cargo test (PostgreSQL): provisioning, scim-http"
bounded 10m cargo test --locked -p provisioning -p scim-http

step "cargo test (PostgreSQL): the real binary, and two instances on one database"
bounded 10m cargo test --locked -p e2e --test scenarios --test simulator --test two_instances

# The benchmarks, small and once each, to prove they still run. Nothing here is timed against
# a target: the figures live in BENCHMARKS.md, measured on release builds.
step "benchmarks, quick mode: criterion (each once), loadgen on SQLite and on two PostgreSQL instances, the app"
bounded 10m env -u TALKWRITER_TEST_DATABASE_URL cargo test --locked -p scim-protocol --bench protocol
SYNC_LOG_EVENTS=20000 bounded 10m env -u TALKWRITER_TEST_DATABASE_URL cargo test --locked -p scim-http --bench sync_log
bounded 10m cargo run --locked -q -p loadgen -- --quick --work-dir "$benchdir"
bounded 10m cargo run --locked -q -p loadgen -- --quick --work-dir "$benchdir" --db "$TALKWRITER_TEST_DATABASE_URL" --instances 2
bounded 10m cargo test --locked -p e2e --bench app -- --quick

step "all tests passed in $(( $(date +%s) - start )) s"
