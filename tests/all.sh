#!/usr/bin/env bash
# The test command: sets the machine up, checks style, builds everything and runs every test:
# Rust unit and in-process router tests, end-to-end tests of the real binaries over HTTP, the
# UI's unit tests, and the desktop app through WebDriver under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
start=$(date +%s)
step() { echo; echo "==> $* ($(( $(date +%s) - start )) s)"; }

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

step "cargo test"
cargo test --workspace --locked

step "all tests passed in $(( $(date +%s) - start )) s"
