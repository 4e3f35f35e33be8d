#!/usr/bin/env bash
# install-deps.sh - installs what Weft needs to build, test and demo on Debian 12:
# Debian packages (compiler libraries, test tools, chromium, PostgreSQL 15:
# the server for the tests' throwaway cluster, libpq for the backend) and
# the npm packages in package.json.  Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# A minimal Debian 12 (debootstrap --variant=minbase, a container image) lacks
# make, curl, openssl, ps and the CA certificates npm needs: all are listed.
# Node is Debian's 18 (nodejs, npm 9): package.json pins versions that run on
# it (playwright-core ~1.61, the last that accepts Node 18; README "Technology").
PKGS="build-essential make ca-certificates openssl procps pkg-config clang clang-format libclang-rt-14-dev
  libmicrohttpd-dev libgnutls28-dev libjansson-dev libsqlite3-dev sqlite3 libpq-dev libssl-dev libjwt-dev
  libsodium-dev libcmocka-dev libjemalloc-dev python3 python3-hl7 python3-jwt python3-cryptography
  curl wrk valgrind
  chromium postgresql-15 postgresql-client-15 nodejs npm hyperfine prometheus"
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
    # The registry can stall mid-download: bound each fetch and retry the
    # whole install a few times rather than hang.
    npm_cmd=install
    [ -f package-lock.json ] && npm_cmd=ci
    ok=0
    for attempt in 1 2 3; do
      if timeout 600 npm "$npm_cmd" --no-audit --no-fund --loglevel=error \
           --fetch-timeout=60000 --fetch-retries=4; then ok=1; break; fi
      echo "install-deps: npm $npm_cmd failed or stalled (attempt $attempt), retrying" >&2
      sleep 5
    done
    [ $ok -eq 1 ] || { echo "install-deps: npm $npm_cmd failed" >&2; exit 1; }
    touch node_modules
  fi
fi
echo "install-deps: all dependencies present"
