#!/usr/bin/env bash
# run-tests.sh - runs every unit test program and every end-to-end test, each
# with a timeout, and ends with "N passed, N failed, N skipped".
#
#   tests/run-tests.sh [--unit-only] [--bins san|release|both] [-j N]
#                      [--backend sqlite|postgres|both] [PATTERN]
#
# -j N (or WEFT_TEST_JOBS) runs N tests at once (default 2: the machines
# have 2 cores and most end-to-end tests wait on sockets and browsers);
# -j 1 runs them one after another as before.  Every test has its own
# WEFT_TMP, free ports and log, so they do not share state.
#
# Unit tests: build/san/tests/unit/**/test_* (cmocka programs).  A program
# that passes but skipped cases (cmocka skip(), e.g. for absent
# ../shared/data) is reported SKIP with the cases it skipped, not PASS.
# End-to-end tests: executable files tests/e2e/*.sh|*.py|*.mjs; exit 0 pass,
# 77 skip (print why), anything else fail.  They run twice (--bins both, the
# default; WEFT_E2E_BINS sets it too): against the sanitized build
# (names e2e/...) and against the release binary ./weft that users run
# (names e2e-release/...).  They get in the environment:
#   WEFT_BIN      the weft binary to start (build/san/weft or ./weft)
#   WEFT_BIN_KIND san or release (the release binary has no failpoints and
#                 no power-loss journal: tests needing them skip there)
#   WEFT_ROOT     the repository root
#   WEFT_DATA     ../shared/data (may be absent: tests needing it skip)
#   WEFT_TMP      a fresh scratch directory for this test (removed on pass)
#   WEFT_ARTIFACTS  test-artifacts/ (screenshots, logs kept for inspection)
# WEFT_FAILPOINTS (docs/TESTING.md), when set, reaches every test and every
# weft they start; tests/mutation-check.sh uses it.
#
# Backends (--backend, or WEFT_TEST_BACKEND; default both when PostgreSQL
# is installed, else sqlite): postgres runs
# the end-to-end tests against PostgreSQL instead - names e2e-pg/... and
# e2e-release-pg/... - and, besides the unit tests on SQLite, the unit tests
# that open their database through unit/testdb.h (testdb_url, testdb_pick, testdb_setup)
# against PostgreSQL (names unit-pg/...); both runs the SQLite passes as
# chosen by --bins plus the PostgreSQL pass with the release binary (the
# sanitizer build stays on SQLite, which keeps the suite's time).  With
# both backends and both binaries, an end-to-end test that runs on
# PostgreSQL runs there with the release binary instead of a second time
# on SQLite: the sanitizer build on SQLite and the release build on
# PostgreSQL (tests not yet ported keep their release run on SQLite).  The
# cluster is WEFT_PG_DIR's (from tests/pg-cluster.sh start; .ci/run makes
# one), else one made for this run and stopped at its end.  Each test gets a
# database of its own:
#   WEFT_TEST_PG_DIR  the cluster folder (tests/e2e/lib/api_harness.py
#                     new_db_url() makes a fresh database in it per call)
#   WEFT_TEST_DB      a fresh empty database URL for this test
# An end-to-end test runs on PostgreSQL only when its file holds the line
# "weft-test-backends: sqlite postgres"; the others are reported SKIP with
# the reason the file gives ("weft-test-postgres-skip: WHY") or "not yet
# ported to PostgreSQL".
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
unit_only=0
pattern=""
bins=${WEFT_E2E_BINS:-both}
jobs=${WEFT_TEST_JOBS:-2}
# default: both backends when PostgreSQL 15 is installed (scripts/install-deps.sh)
if [ -z "${WEFT_TEST_BACKEND:-}" ]; then
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    WEFT_TEST_BACKEND=both
  else
    WEFT_TEST_BACKEND=sqlite
    echo "run-tests.sh: PostgreSQL is not installed: SQLite only (scripts/install-deps.sh installs it)"
  fi
fi
backend=$WEFT_TEST_BACKEND
while [ $# -gt 0 ]; do
  case "$1" in
    --unit-only) unit_only=1 ;;
    -j) shift; jobs=${1:-2} ;;
    -j*) jobs=${1#-j} ;;
    --bins) shift; bins=${1:-both} ;;
    --bins=*) bins=${1#--bins=} ;;
    --backend) shift; backend=${1:-sqlite} ;;
    --backend=*) backend=${1#--backend=} ;;
    *) pattern="$1" ;;
  esac
  shift
done
case "$bins" in san|release|both) ;; *) echo "run-tests.sh: --bins san|release|both" >&2; exit 2 ;; esac
case "$jobs" in ''|*[!0-9]*|0) echo "run-tests.sh: -j takes a positive number" >&2; exit 2 ;; esac
case "$backend" in sqlite|postgres|both) ;; *) echo "run-tests.sh: --backend sqlite|postgres|both" >&2; exit 2 ;; esac
unset WEFT_TEST_DB WEFT_TEST_PG_DIR # the SQLite passes run on SQLite whatever the caller's shell holds
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export WEFT_BIN="$root/build/san/weft"
export WEFT_BIN_KIND=san
export WEFT_ROOT="$root"
# Python tests import their harnesses from tests/e2e/lib: no __pycache__
# written into the repository.
export PYTHONDONTWRITEBYTECODE=1
# ../shared/data beside the repository; from a git worktree one level deeper
# (/work/wt/NAME), ../../shared/data
if [ -z "${WEFT_DATA:-}" ]; then
  WEFT_DATA="$(cd "$root/.." && pwd)/shared/data"
  [ -d "$WEFT_DATA" ] || [ ! -d "$root/../../shared/data" ] || WEFT_DATA="$(cd "$root/../../shared/data" && pwd)"
fi
export WEFT_DATA
export WEFT_ARTIFACTS="$root/test-artifacts"
mkdir -p "$WEFT_ARTIFACTS"
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

logdir="$root/build/test-logs"
mkdir -p "$logdir"
resdir=$(mktemp -d "${TMPDIR:-/tmp}/weft-results.XXXXXX")
trap 'rm -rf "$resdir"' EXIT
seq_no=0

# run_one NAME COMMAND...: runs one test in the background once fewer than
# $jobs are running; its verdict goes to $resdir/NNNN.{pass,fail,skip}.
run_one() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n 2>/dev/null || true; done
  seq_no=$((seq_no+1))
  local id
  id=$(printf '%05d' "$seq_no")
  run_test "$id" "$@" &
}

run_test() { # id, name, command...
  local id=$1 name=$2; shift 2
  local log="$logdir/$(echo "$name" | tr '/' '_').log"
  local start=$(date +%s.%N)
  export WEFT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-test.XXXXXX")
  timeout -k 10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
  local rc=$?
  local secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  # a cmocka program that passed with skipped cases: SKIP, naming them
  local skipped="" out
  if [ $rc -eq 0 ] && [[ "$name" == unit/* || "$name" == unit-pg/* ]]; then
    skipped=$(grep -E '^\[  SKIPPED \] [A-Za-z_0-9]+$' "$log" | awk '{print $4}' | sort -u | tr '\n' ' ')
  fi
  if [ $rc -eq 0 ] && [ -z "$skipped" ]; then
    out=$(printf 'PASS %-50s %6ss' "$name" "$secs"); rm -rf "$WEFT_TMP"
    echo "$name" >"$resdir/$id.pass"
  elif [ $rc -eq 0 ]; then
    out=$(printf 'SKIP %-50s cases skipped: %s(%s)' "$name" "$skipped" \
      "$(grep -m1 -i '^skipped:' "$log" | cut -c1-80)")
    rm -rf "$WEFT_TMP"
    echo "$name" >"$resdir/$id.skip"
  elif [ $rc -eq 77 ]; then
    out=$(printf 'SKIP %-50s %s' "$name" "$(tail -n 1 "$log")"); rm -rf "$WEFT_TMP"
    echo "$name" >"$resdir/$id.skip"
  else
    out=$(printf 'FAIL %-50s %6ss (exit %d, log %s)\n%s' "$name" "$secs" "$rc" "${log#$root/}" \
      "$(tail -n 30 "$log" | sed 's/^/    | /')")
    echo "$name" >"$resdir/$id.fail"
  fi
  # one write per verdict, so lines of tests running together do not mix
  printf '%s\n' "$out"
}

for t in $(find build/san/tests/unit -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
  name=${t#build/san/tests/}
  [ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
  run_one "$name" "$t"
done

run_e2e() { # prefix
  local prefix=$1
  for t in $(find tests/e2e -maxdepth 1 -type f \( -name '*.sh' -o -name '*.py' -o -name '*.mjs' \) 2>/dev/null | sort); do
    name=$prefix/${t#tests/e2e/}
    [ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
    if [ ! -x "$WEFT_BIN" ]; then
      seq_no=$((seq_no+1))
      echo "$prefix" >"$resdir/$(printf '%05d' "$seq_no").fail"
      echo "FAIL $prefix: $WEFT_BIN is not built (make -j2 san weft)"
      return
    fi
    if [ "$prefix" = e2e-release ] && [ "$backend" = both ] && [ "$bins" = both ] &&
      grep -q 'weft-test-backends:.*postgres' "$t"; then
      moved=$((moved+1))
      continue # its release run is e2e-release-pg/ (the matrix above)
    fi
    if [ -n "${WEFT_TEST_PG_DIR:-}" ] && ! grep -q 'weft-test-backends:.*postgres' "$t"; then
      why=$(grep -m1 -o 'weft-test-postgres-skip: .*' "$t" | cut -d' ' -f2-)
      seq_no=$((seq_no+1))
      echo "$name" >"$resdir/$(printf '%05d' "$seq_no").skip"
      printf 'SKIP %-50s not on PostgreSQL: %s\n' "$name" "${why:-not yet ported to PostgreSQL}"
      continue
    fi
    [ -n "${WEFT_TEST_PG_DIR:-}" ] && export WEFT_TEST_DB=$(pg_db)
    case "$t" in
      *.mjs) run_one "$name" node "$t" ;;
      *.py) run_one "$name" /usr/bin/python3 "$t" ;;
      *) run_one "$name" bash "$t" ;;
    esac
  done
}

if [ $unit_only -eq 0 ] && [ "$backend" != postgres ]; then
  if [ "$bins" != release ]; then
    run_e2e e2e
  fi
  if [ "$bins" != san ]; then
    export WEFT_BIN="$root/weft" WEFT_BIN_KIND=release
    moved=0
    run_e2e e2e-release
    [ "$moved" -eq 0 ] || echo "---- $moved release-binary tests run on PostgreSQL (e2e-release-pg/) rather than SQLite"
  fi
fi

# ---- PostgreSQL (--backend postgres|both) ----
pg_db() { # a fresh database in the cluster, its URL on stdout
  "$root/tests/pg-cluster.sh" createdb "$WEFT_TEST_PG_DIR" "t$$_$(date +%s%N)"
}
if [ "$backend" != sqlite ]; then
  if [ -z "${WEFT_PG_DIR:-}" ]; then
    eval "$("$root/tests/pg-cluster.sh" start)" || { echo "FAIL postgres: cannot start a cluster"; exit 1; }
    pg_own=$WEFT_PG_DIR
    trap 'wait; "$root/tests/pg-cluster.sh" stop "$pg_own"; rm -rf "$resdir"' EXIT
  fi
  export WEFT_TEST_PG_DIR=$WEFT_PG_DIR
  for t in $(find build/san/tests/unit -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
    name=unit-pg/${t#build/san/tests/unit/}
    [ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
    grep -qE "WEFT_TEST_DB|testdb_url|testdb_pick|testdb_setup" "tests/unit/${t#build/san/tests/unit/}.c" \
      2>/dev/null || continue
    export WEFT_TEST_DB=$(pg_db)
    run_one "$name" "$t"
  done
  if [ $unit_only -eq 0 ]; then
    if [ "$backend" = postgres ] && [ "$bins" != release ]; then
      export WEFT_BIN="$root/build/san/weft" WEFT_BIN_KIND=san
      run_e2e e2e-pg
    fi
    if [ "$backend" = both ] || [ "$bins" != san ]; then
      export WEFT_BIN="$root/weft" WEFT_BIN_KIND=release
      run_e2e e2e-release-pg
    fi
  fi
fi

wait
pass=$(find "$resdir" -name '*.pass' | wc -l)
skip=$(find "$resdir" -name '*.skip' | wc -l)
fail=$(find "$resdir" -name '*.fail' | wc -l)
echo
if [ "$fail" -gt 0 ]; then
  echo "failed: $(cat $(find "$resdir" -name '*.fail' | sort) | tr '\n' ' ')"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
