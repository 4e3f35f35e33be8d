#!/usr/bin/env bash
# valgrind.sh - runs each unit test program given (built without sanitizers by
# `make valgrind`) under valgrind memcheck: any memory error or definite /
# indirect leak fails it.  Same environment as tests/run-tests.sh.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
export WEFT_ROOT="$root"
export WEFT_DATA="${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
pass=0 fail=0
mkdir -p "$root/build/test-logs"
for t in "$@"; do
  name=${t#build/vg/tests/}
  log="$root/build/test-logs/vg-$(echo "$name" | tr / _).log"
  export WEFT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-vg.XXXXXX")
  start=$(date +%s)
  if valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --show-leak-kinds=definite,indirect "$t" >"$log" 2>&1; then
    pass=$((pass+1)); printf 'PASS %-50s %6ss\n' "$name" "$(( $(date +%s) - start ))"
  else
    fail=$((fail+1)); printf 'FAIL %-50s (log: %s)\n' "$name" "$log"; tail -n 30 "$log"
  fi
  rm -rf "$WEFT_TMP"
done
echo
echo "$pass passed, $fail failed (valgrind)"
[ "$fail" -eq 0 ]
