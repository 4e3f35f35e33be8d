#!/usr/bin/env bash
# bench_deid.sh - de-identification for secondary-use exports alone
# (build/rel/bench/bench_deid, see its header): the tree (parse, walk, dump)
# against the single-pass rewriter on every shared Synthea resource in its
# stored form, best of DEID_ROUNDS (default 5); fails if they differ.
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
prog=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_deid
data=${WEFT_DATA:-$root/../shared/data}/synthea-r4
[ -d "$data" ] || { echo "skip: $data is absent"; exit 0; }
[ -x "$prog" ] || make -C "$root" -s build/rel/bench/bench_deid >/dev/null || exit 1
echo "way resources seconds resources/s MB/s"
"$prog" "$data" "${DEID_ROUNDS:-5}"
