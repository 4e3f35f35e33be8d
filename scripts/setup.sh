#!/bin/sh
# setup.sh - the first command on a fresh Debian 12 machine, which has no make
# (nor git or curl): installs what Weft needs - Debian packages, make among
# them, and the npm packages (scripts/install-deps.sh) - then runs make with
# the given targets.
#
#   sh scripts/setup.sh demo     # = make demo, on a machine that has nothing yet
#   sh scripts/setup.sh test     # = make test
#
# Run it as root (or with sudo); as another user install-deps.sh prints the
# apt-get line to run and stops.  POSIX sh on purpose: it must run before
# anything is installed (bash is Essential in Debian, so install-deps.sh may
# use it).
set -e
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  echo "usage: sh scripts/setup.sh demo|test|MAKE-TARGET..." >&2
  exit 2
fi
bash scripts/install-deps.sh
mkdir -p build
touch build/.deps-ok
exec make "$@"
