#!/usr/bin/env bash
# mutation-check.sh - shows the tests can fail: for every failpoint in
# tests/failpoints.txt (a deliberate breakage compiled into the test build
# only, src/core/failpoint.h), runs the tests listed for it with
# WEFT_FAILPOINTS set, and fails unless each of them fails.  Also checks that
# the release binary ./weft holds no failpoint name and no power-loss journal
# (they are compiled into the sanitized build only).
#
#   tests/mutation-check.sh
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bad=0
names=$(sed -n 's/^\([a-z0-9-]*\):.*/\1/p' tests/failpoints.txt)
if [ ! -x ./weft ]; then
  echo "mutation: the release binary ./weft is not built"; exit 1
fi
for n in $names WEFT_FAILPOINTS WEFT_POWERLOG WEFT_POWERCUT; do
  if strings ./weft | grep -q -- "$n"; then
    echo "mutation: FAIL the release binary contains '$n' (failpoints are test-build only)"; bad=1
  fi
  if ! strings build/san/weft | grep -q -- "$n"; then
    echo "mutation: FAIL the test build does not contain '$n'"; bad=1
  fi
done
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  fp=${line%%:*}
  for t in ${line#*:}; do
    out=$(WEFT_FAILPOINTS=$fp WEFT_TEST_BACKEND=sqlite tests/run-tests.sh --bins san "e2e/$t" 2>&1)
    if echo "$out" | grep -q "^FAIL e2e/$t"; then
      echo "mutation: caught  $fp by $t"
    elif echo "$out" | grep -q "^PASS e2e/$t"; then
      echo "mutation: MISSED  $fp: $t passed with the failpoint on"; bad=1
    else
      echo "mutation: MISSED  $fp: $t did not run:"; echo "$out" | tail -3; bad=1
    fi
  done
done < tests/failpoints.txt
if [ $bad -ne 0 ]; then
  echo "mutation check failed"; exit 1
fi
echo "mutation check passed: every failpoint caught by every test listed for it"
