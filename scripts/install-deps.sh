#!/usr/bin/env bash
# install-deps.sh - installs what Weft needs to build, test and demo on Debian 12:
# Debian packages (compiler libraries, test tools, chromium, postgresql) and
# the npm packages in package.json.  Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="build-essential pkg-config clang clang-format libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libpq-dev libssl-dev libjwt-dev
  libsodium-dev libcmocka-dev python3 python3-hl7 curl wrk valgrind
  chromium postgresql nodejs npm hyperfine"
missing=""
for p in $PKGS; do
  # nodejs may come from another repository with npm bundled: accept a working npm.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: these Debian packages are missing:$missing" >&2
    echo "install-deps: run as root (or: sudo apt-get install -y$missing)" >&2
    exit 1
  fi
  echo "install-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package.json -nt node_modules ] || \
     { [ -f package-lock.json ] && [ package-lock.json -nt node_modules ]; }; then
    echo "install-deps: installing npm packages"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error
    else npm install --no-audit --no-fund --loglevel=error; fi
    touch node_modules
  fi
fi
echo "install-deps: all dependencies present"
