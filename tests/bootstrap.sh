#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, run and test TalkWriter Admin, then
# builds the UI. Idempotent: a machine that has everything only pays for the checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build the desktop app
  libwebkit2gtk-4.1-dev pkg-config build-essential libssl-dev
  # drive the real window in tests, and look at it
  xvfb xauth webkit2gtk-driver fonts-dejavu-core imagemagick
  # the UI toolchain, where the machine has no Node.js
  nodejs npm
  # inspect databases by hand
  sqlite3
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if [ "$p" = nodejs ] || [ "$p" = npm ]; then
    command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "==> cargo install tauri-driver"
  cargo install tauri-driver --locked --quiet
fi

if [ -f ui/package.json ]; then
  echo "==> npm ci (ui)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  echo "==> vite build (ui)"
  (cd ui && npm run build --silent)
fi
