#!/usr/bin/env bash
# bench_store_floor.sh - the floor under the MLLP feed: only the SQL statements
# the benchmark's ADT^A01/ORU^R01 mix needs, on Weft's own schema, straight
# through SQLite on one thread (build/rel/bench/bench_store_floor, see its
# header), durable commits (WAL, synchronous=FULL) of BATCH messages.
#   start: the writer's statements per message at the start of the third
#          session; now: after it; lean: the least this schema allows.
# No feed can apply messages faster than its mode's figure through this store
# on this machine.  Env: FLOOR_MSGS (default 120000), FLOOR_BATCHES (default
# "64 256 1024").
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
weft=${WEFT_BIN:-$root/weft}
floor=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_store_floor
tmp=${BENCH_TMP:-$(mktemp -d)}/floor
msgs=${FLOOR_MSGS:-120000}
[ -x "$weft" ] || make -C "$root" -s weft >/dev/null || exit 1
[ -x "$floor" ] || make -C "$root" -s build/rel/bench/bench_store_floor >/dev/null || exit 1
mkdir -p "$tmp"
echo "| commit batch | start (msgs/s, us/msg) | now | lean |"
echo "|-|-|-|-|"
for b in ${FLOOR_BATCHES:-64 256 1024}; do
  row="| $b"
  for mode in start now lean; do
    rm -f "$tmp"/f.db*
    "$weft" init --db "$tmp/f.db" >/dev/null 2>&1 || { echo "weft init failed"; exit 1; }
    line=$("$floor" "$tmp/f.db" "$msgs" "$b" "$mode") || exit 1
    row="$row | $(echo "$line" | awk '{for (i = 1; i <= NF; i++) { if ($i == "msgs_per_s") r = $(i + 1); if ($i == "us_per_msg") u = $(i + 1) } printf "%s, %s", r, u}')"
  done
  echo "$row |"
done
rm -rf "$tmp"
