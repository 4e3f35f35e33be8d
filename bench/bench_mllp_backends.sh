#!/usr/bin/env bash
# bench_mllp_backends.sh - HL7 v2 over MLLP, original acknowledgement mode
# (every message stored and committed before its AA), into SQLite and into
# PostgreSQL side by side in one run, with where the CPU goes per message.
#
# Per store, a fresh database (SQLite: a file in the temporary folder;
# PostgreSQL: a new database in MLLP_PG_DIR's (or WEFT_PG_DIR's) cluster
# from tests/pg-cluster.sh, or in a throwaway cluster started for the run)
# with one acute organisation and its hl7v2 feed; `weft serve
# --mllp --mllp-ack-mode auto` (its defaults: one writer with group commit;
# on PostgreSQL with the --mllp-journal a node needs there); then
# build/rel/bench/bench_feeds_send: 8 senders, MLLP_WINDOW (64) messages in
# flight each, MLLP_MSGS (4000) messages of the ADT^A01 / ORU^R01 mix of
# bench_feeds.sh.  The run fails unless every ACK is AA.  Reported: msgs/s,
# the Weft server's CPU per message, and on PostgreSQL the server's CPU per
# message (its backends, live and exited, from /proc: the postmaster's
# reaped children plus the live ones).  RUNS (2) runs per store, alternating.
# MLLP_STORES: "sqlite postgres" (default).  MLLP_SERVE_ARGS: extra `weft serve`
# options (e.g. "--mllp-writers 2", PostgreSQL only).
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
weft=${WEFT_BIN:-$root/weft}
send=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_feeds_send
msgs=${MLLP_MSGS:-4000}
window=${MLLP_WINDOW:-64}
runs=${RUNS:-2}
stores=${MLLP_STORES:-sqlite postgres}
pgdir=${MLLP_PG_DIR:-${WEFT_PG_DIR:-}}
tmp=${BENCH_TMP:-$(mktemp -d)}/mllp-backends
if [[ " $stores " == *" postgres "* ]] && [ -z "$pgdir" ]; then
  # no cluster given: a throwaway one for this run, stopped at the end
  eval "$("$root/tests/pg-cluster.sh" start)" || { echo "cannot start a PostgreSQL cluster"; exit 1; }
  pgdir=$WEFT_PG_DIR
  trap '"$root/tests/pg-cluster.sh" stop "$pgdir"' EXIT
fi
[ -x "$weft" ] || make -C "$root" -s weft >/dev/null || exit 1
[ -x "$send" ] || make -C "$root" -s build/rel/bench/bench_feeds_send >/dev/null || exit 1
mkdir -p "$tmp"
. "$root/bench/lib_cpu.sh"
pg_ticks() { pg_cluster_ticks "$pgdir"; }
one() { # store run
  local store=$1 n=$2 db
  if [ "$store" = postgres ]; then
    db=$("$root/tests/pg-cluster.sh" createdb "$pgdir" "mllp_$$_$n")
  else
    db=$tmp/mllp-$n.db
    rm -f "$db" "$db-wal" "$db-shm"
  fi
  local q
  for q in "init --db $db" "org add --db $db --ods RVV --name Bench --type acute" \
    "org agreement --db $db --ods RVV --kind jca --from 2020-01-01" \
    "feed add --db $db --org RVV --kind hl7v2 --facility BENCHPAS"; do
    # shellcheck disable=SC2086
    "$weft" $q >/dev/null 2>&1 || { echo "weft $q failed"; return 1; }
  done
  rm -f "$tmp/port"
  # on PostgreSQL a node keeps its enhanced-mode accept journal on its own
  # disk (original-mode messages, the ones sent here, do not use it)
  local journal=()
  [ "$store" = postgres ] && journal=(--mllp-journal "$tmp/journal-$n-$$")
  "$weft" serve --db "$db" --http 127.0.0.1:0 --mllp 127.0.0.1:0 --mllp-port-file "$tmp/port" \
    --mllp-ack-mode auto "${journal[@]}" ${MLLP_SERVE_ARGS:-} --drop-interval 0 --log-level warn >"$tmp/serve-$store-$n.log" 2>&1 &
  local pid=$! port w0 w1 p0=0 p1=0 t0 t1 line
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { echo "$store: weft serve did not start:"; cat "$tmp/serve-$store-$n.log"; return 1; }
  port=$(cat "$tmp/port")
  w0=$(ticks $pid)
  [ "$store" = postgres ] && p0=$(pg_ticks)
  t0=$(date +%s.%N)
  line=$("$send" 127.0.0.1 "$port" 8 "$window" "$msgs" BENCHPAS 10000 "R$n" original)
  t1=$(date +%s.%N)
  w1=$(ticks $pid)
  [ "$store" = postgres ] && p1=$(pg_ticks)
  kill -TERM $pid
  wait $pid
  echo "$store run $n: $line | weft_cpu_ms_per_msg $(awk -v a="$w0" -v b="$w1" -v t="$tck" -v m="$msgs" 'BEGIN{printf "%.3f", (b-a)/t*1000/m}') pg_cpu_ms_per_msg $(awk -v a="$p0" -v b="$p1" -v t="$tck" -v m="$msgs" 'BEGIN{printf "%.3f", (b-a)/t*1000/m}') wall_s $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') load $(cut -d' ' -f1 /proc/loadavg)"
}
for n in $(seq 1 "$runs"); do
  for store in $stores; do one "$store" "$n" || exit 1; done
done
