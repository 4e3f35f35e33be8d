#!/usr/bin/env bash
# run.sh - `make bench`: runs every benchmark script bench/bench_*.sh (each
# builds on ./weft and build/rel/bench/* programs) and prints their result
# tables.  Set BENCH=NAME to run only the scripts whose name contains NAME.
# Results are recorded by hand, with method and machine, in docs/BENCHMARKS.md.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export WEFT_ROOT="$root" WEFT_BIN="$root/weft" BENCH_BIN_DIR="$root/build/rel/bench"
export WEFT_DATA="${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}"
export BENCH_TMP=${BENCH_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/weft-bench.XXXXXX")}
echo "# weft benchmarks $(date -u +%FT%TZ) on $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
status=0
for s in $(ls bench/bench_*.sh 2>/dev/null | sort); do
  [ -n "${BENCH:-}" ] && [[ "$s" != *"$BENCH"* ]] && continue
  echo
  echo "## $(basename "$s" .sh)"
  bash "$s" || { echo "benchmark $s failed"; status=1; }
done
rm -rf "$BENCH_TMP"
exit $status
