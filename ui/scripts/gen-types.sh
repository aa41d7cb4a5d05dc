#!/usr/bin/env bash
# Regenerates src/lib/api/generated/ from the Rust structs that cross the IPC boundary (ts-rs):
# the provisioning crate's (with its "ts" feature) and the shell's own (always derived).
set -euo pipefail
ui="$(cd "$(dirname "$0")/.." && pwd)"
out="$ui/src/lib/api/generated"
cd "$ui/.."
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
export TS_RS_EXPORT_DIR="$out.tmp"
cargo test -q -p provisioning --features ts --lib export_bindings >/dev/null
cargo test -q -p idp-sim --features ts --lib export_bindings >/dev/null
cargo test -q -p talkwriter-admin --bins export_bindings >/dev/null
# serde_json writes i64 as a JSON number, never a BigInt; counts and ids stay far below 2^53.
sed -i 's/\bbigint\b/number/g' "$out.tmp"/*.ts
rm -rf "$out" && mv "$out.tmp" "$out"
ls "$out"
