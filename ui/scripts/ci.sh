#!/usr/bin/env bash
# The UI's whole check, as CI runs it: install exactly, type-check, format, unit tests, build.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run check
npm run format:check
npm test
npm run build
