#!/usr/bin/env bash
# bench_load_pg.sh - durable `weft load` into PostgreSQL and into SQLite,
# side by side in one run, on the same replicated Synthea R4 set.
#
# PostgreSQL is a throwaway cluster made for the run (tests/pg-cluster.sh:
# same machine, default settings but for shared_buffers=128MB, fsync on),
# reached over TCP on 127.0.0.1 and over its Unix socket.  Each load goes
# into a fresh database and is durable when the command returns (store_bulk
# off: SQLite checkpoints, PostgreSQL makes one synchronous commit after the
# asynchronous ones).  A second load of the same files measures the
# content-hash no-op path (every resource unchanged).  RUNS runs (default 1),
# medians.  "entries/s" counts every bundle entry, as bench_load.sh does.
#
# Env: COPIES (default 3: 183 bundles, 57,276 entries, 46,371 stored), RUNS,
# BENCH_TMP, BENCH_DATA (replicated bundles kept between runs), WEFT_PG_DIR
# (use that running cluster instead of making one).
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
data=${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}/synthea-r4
[ -d "$data" ] || { echo "skip: $data not found"; exit 0; }
COPIES=${COPIES:-3}
RUNS=${RUNS:-1}
tmp=${BENCH_TMP:-$(mktemp -d)}
rep=${BENCH_DATA:-/tmp/weft-bench-load}/c$COPIES
weft=${WEFT_BIN:-$root/weft}
[ -x "$weft" ] || make -s weft >/dev/null
if [ ! -f "$rep/.done" ]; then
  echo "replicating $COPIES copies into $rep ..." >&2
  rm -rf "$rep" && /usr/bin/python3 bench/replicate.py "$data" "$rep" "$COPIES" >&2 && touch "$rep/.done"
fi
own=""
if [ -z "${WEFT_PG_DIR:-}" ]; then
  eval "$(tests/pg-cluster.sh start)" || { echo "cannot start a PostgreSQL cluster"; exit 1; }
  own=$WEFT_PG_DIR
  trap 'tests/pg-cluster.sh stop "$own"' EXIT
fi
port=$(cat "$WEFT_PG_DIR/port")

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# load TARGET-KIND DB: prints "first_entries_per_s reload_entries_per_s stored"
load_twice() {
  local db=$1 a b
  "$weft" init --db "$db" >/dev/null || return 1
  a=$("$weft" load --db "$db" --org SYNTH01 --quiet "$rep" 2>&1 | grep -o 'entries in [0-9.]* s ([0-9]*/s)' | grep -o '([0-9]*' | tr -d '(')
  b=$("$weft" load --db "$db" --org SYNTH01 --quiet "$rep" 2>&1 | grep -o 'entries in [0-9.]* s ([0-9]*/s)' | grep -o '([0-9]*' | tr -d '(')
  echo "$a $b"
}
declare -A first reload
for run in $(seq 1 "$RUNS"); do
  db="$tmp/load-pg.db"; rm -f "$db" "$db-wal" "$db-shm"
  read -r a b < <(load_twice "$db"); first[sqlite]+="$a "; reload[sqlite]+="$b "
  rm -f "$db" "$db-wal" "$db-shm"
  u=$(tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "bench_tcp_${run}_$$")
  read -r a b < <(load_twice "$u"); first[pg_tcp]+="$a "; reload[pg_tcp]+="$b "
  tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "bench_sock_${run}_$$" >/dev/null
  read -r a b < <(load_twice "host=$WEFT_PG_DIR port=$port dbname=bench_sock_${run}_$$ user=weft")
  first[pg_socket]+="$a "; reload[pg_socket]+="$b "
done
entries=$(ls "$rep"/*.json | wc -l)
printf '%s bundles (%s copies), load average %s\n' "$entries" "$COPIES" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %14s %16s\n' "store" "load entries/s" "reload entries/s"
for k in sqlite pg_tcp pg_socket; do
  f=$(echo "${first[$k]}" | tr ' ' '\n' | grep . | median)
  r=$(echo "${reload[$k]}" | tr ' ' '\n' | grep . | median)
  printf '%-22s %14s %16s\n' "$k" "${f:-failed}" "${r:-failed}"
done
