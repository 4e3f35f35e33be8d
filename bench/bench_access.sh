#!/usr/bin/env bash
# bench_access.sh - access and audit benchmarks (docs/BENCHMARKS.md, "Access and
# audit"):
#   1. reads of one person's record, plain (no authorisation, no audit) against
#      authorised + audited (a launched nurse: authz scope applied to the query,
#      the returned items audited through the group-commit writer), alternating
#      1-second rounds in the same run; wall-clock throughput and CPU per read;
#   2. audit appends through the group-commit writer;
#   3. `weft audit verify` over a log of BENCH_AUDIT_N entries (default 10
#      million; the log is built with the group-commit writer first).
# Needs ./weft and build/rel/bench/bench_access (make bench builds both).
set -eu
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_access
weft=${WEFT_BIN:-$root/weft}
tmp=${BENCH_TMP:-$(mktemp -d)}/access
mkdir -p "$tmp"
export WEFT_POLICY="$root/policy/default.policy"
n=${BENCH_AUDIT_N:-10000000}
threads=$(nproc)

echo "| benchmark | baseline | with authz + audit | throughput cost | CPU/read plain | CPU/read authz+audit | CPU cost |"
echo "|---|---|---|---|---|---|---|"
for t in 1 "$threads"; do
  "$bin" reads "$tmp/reads.db" 1000 48 ${BENCH_READ_SECONDS:-8} "$t"
  rm -f "$tmp"/reads.db*
done

echo
echo "| benchmark | rate | time |"
echo "|---|---|---|"
"$bin" append "$tmp/append.db" 1000000 "$threads"
rm -f "$tmp"/append.db*
"$bin" append "$tmp/verify.db" "$n" "$threads"
size=$(du -m "$tmp/verify.db" | cut -f1)
for t in 1 2; do
  start=$(date +%s.%N)
  out=$("$weft" audit verify --db "$tmp/verify.db" --threads "$t")
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')
  echo "| weft audit verify, $n entries (${size} MB), $t thread(s) | $(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') entries/s | $secs s |"
  case "$out" in *intact*) ;; *) echo "verify did not report an intact log: $out"; exit 1 ;; esac
done
rm -rf "$tmp"
