#!/usr/bin/env bash
# bench_scale.sh - SQLite and PostgreSQL side by side as the region grows
# (issue 12, "Scale"; figures in docs/BENCHMARKS.md under the PostgreSQL
# section).  For each size in SCALE_SIZES (people, more than 1,000; default "2000 5000", small
# enough for `make bench`; the issue's sizes are "10000 1000000") and each
# backend in SCALE_BACKENDS (default "sqlite postgres"):
#
#   1. `weft synth --people N --seed 1`; bench/scale_region.py splits it: the
#      first feed file of every feed (batch 0, the first 1,000 people, all
#      three kinds) is the feed sample, every later FHIR feed file's bundles
#      are the bulk set (one .json file per transaction Bundle).
#   2. a fresh database (SQLite file; PostgreSQL database in a throwaway
#      cluster, tests/pg-cluster.sh, fsync on), `weft synth register`, then the
#      bulk set with `weft load --org ODS` per GP (durable when each command
#      returns): resources/s = bundle entries / wall time of all the loads.
#   3. `weft serve` with HTTP, MLLP and the drop folders; the sample sent by
#      `weft replay-feeds --only KIND` one kind at a time (what `weft synth`'s
#      send path does: MLLP waiting for each ACK, FHIR bundles POSTed, CSV
#      files dropped and their reports awaited): items/s per kind.
#   4. disk: the database's size (SQLite: file + WAL after the server's
#      checkpoint; PostgreSQL: pg_database_size) per million resource versions.
#   5. bench/bench_api.sh against that database (API_DB): read by id and the
#      patient-scoped search (median and largest patient) with wrk, several
#      connections, RUNS runs, medians; $everything of the largest patient;
#      peak RSS of `weft serve` after those reads.
#   6. bench/bench_web.sh against that database (WEB_DB): the summary page of
#      the largest patient after a launch, wrk with the session's cookie.
#
# The largest patient is the bulk-loaded GP patient with the most entries
# (with an NHS number, so the launch finds it), the median likewise.  At the
# end a table of every figure per backend and size, and for each latency the
# ratio of the largest size to the smallest (the issue's target: p99 at
# 1,000,000 people within 1.5x of p99 at 10,000).
# Env: SCALE_SIZES, SCALE_BACKENDS, RUNS (default 3), WRK_CONN (8), WRK_SECS
# (5), BENCH_WEB_SECONDS (5), BENCH_TMP, WEFT_PG_DIR (a running cluster to
# use), SCALE_KEEP=1 keeps regions and databases, SCALE_REUSE=1 uses a region
# and split already under BENCH_TMP (kept by SCALE_KEEP; its split's info.json)
# instead of generating them again, SCALE_LOAD_JOBS=N runs N GP loads at once
# (default 1; as N practices' extracts arriving together: on SQLite they take
# the write lock in turn, on PostgreSQL they run side by side).  Needs wrk,
# node, psql.
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1
weft=${WEFT_BIN:-$root/weft}
[ -x "$weft" ] || make -s weft >/dev/null
command -v wrk >/dev/null || { echo "skip: wrk not installed"; exit 0; }
command -v node >/dev/null || { echo "skip: node not installed"; exit 0; }
sizes=${SCALE_SIZES:-2000 5000}
backends=${SCALE_BACKENDS:-sqlite postgres}
export RUNS=${RUNS:-3} WRK_CONN=${WRK_CONN:-8} WRK_SECS=${WRK_SECS:-5}
export BENCH_WEB_SECONDS=${BENCH_WEB_SECONDS:-5} WEFT_BIN=$weft
tmp=${BENCH_TMP:-$(mktemp -d)}/scale
mkdir -p "$tmp"
res=$tmp/results.tsv
: >"$res"
own=""
stop_pg() { [ -z "$own" ] || tests/pg-cluster.sh stop "$own" >/dev/null 2>&1; }
trap 'stop_pg' EXIT
if [[ " $backends " == *" postgres "* ]] && [ -z "${WEFT_PG_DIR:-}" ]; then
  command -v psql >/dev/null || { echo "skip: psql not installed"; exit 0; }
  eval "$(tests/pg-cluster.sh start)" || { echo "cannot start a PostgreSQL cluster"; exit 1; }
  own=$WEFT_PG_DIR
fi

now() { date +%s.%N; }
calc() { awk "BEGIN {printf \"%.${2:-0}f\", $1}"; } # calc EXPR [DECIMALS]
put() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$res"; } # size backend metric value
loadavg() { cut -d' ' -f1 /proc/loadavg; }

for n in $sizes; do
  reg=$tmp/region-$n split=$tmp/split-$n
  if [ -n "${SCALE_REUSE:-}" ] && [ -s "$split/info.json" ]; then
    info=$(cat "$split/info.json")
    echo "== $n people: the region and split kept in $tmp: $info" >&2
  else
    rm -rf "$reg" "$split"
    t0=$(now)
    "$weft" synth --people "$n" --seed 1 --out "$reg" --quiet || { echo "weft synth failed"; exit 1; }
    info=$(/usr/bin/python3 bench/scale_region.py "$reg" "$split") || { echo "split failed"; exit 1; }
    echo "$info" >"$split/info.json"
    echo "== $n people: generated and split in $(calc "$(now) - $t0" 1) s: $info" >&2
  fi
  js() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$info" "$1"; }
  entries=$(js bulk_entries)
  [ "$entries" -gt 0 ] || { echo "SCALE_SIZES: $n people leave no bulk set (more than 1,000 needed)"; exit 1; }
  for b in $backends; do
    w=$tmp/$b-$n
    rm -rf "$w" && mkdir -p "$w"
    if [ "$b" = sqlite ]; then
      db=$w/weft.db
    else
      dbname="scale_${n}_$$"
      db=$(tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "$dbname") || exit 1
    fi
    "$weft" init --db "$db" >/dev/null || { echo "$b: weft init failed"; exit 1; }
    "$weft" synth register --db "$db" --in "$reg" --drop-root "$w/drop" \
      --credentials "$w/credentials.json" >/dev/null || { echo "$b: register failed"; exit 1; }
    # durable weft load of the bulk set, one command per GP
    la=$(loadavg)
    t0=$(now)
    # exit status 1 when a bundle was rejected (the generator's malformed
    # fault, e.g. Bundle.type 'transactoin'): counted, not fatal; a load
    # whose log has no summary line failed
    jobs=${SCALE_LOAD_JOBS:-1}
    mkdir -p "$w/loadlogs"
    ls -d "$split"/bulk/*/ | xargs -P "$jobs" -I{} sh -c \
      'o=$(basename "$1"); "$2" load --db "$3" --org "$o" --quiet "$1" >"$4/$o.log" 2>&1; exit 0' \
      sh {} "$weft" "$db" "$w/loadlogs"
    cat "$w"/loadlogs/*.log >"$w/load.log"
    for f in "$w"/loadlogs/*.log; do
      grep -q ' entries in ' "$f" || { tail -3 "$f"; echo "$b: load failed"; exit 1; }
    done
    secs=$(calc "$(now) - $t0" 1)
    put "$n" "$b" "load resources/s" "$(calc "$entries / $secs")"
    put "$n" "$b" "load average (load)" "$la"
    put "$n" "$b" "load commands at once" "$jobs"
    put "$n" "$b" "load rejected bundles" "$(awk '/ rejected,/ {for (i = 1; i < NF; i++) if ($(i+1) == "rejected,") r += $i} END {print r + 0}' "$w/load.log")"
    echo "$b $n: loaded $entries entries in $secs s" >&2
    # the feed sample through the real feed paths (bench/scale_feeds.sh)
    bench/scale_feeds.sh "$n" "$b" "$db" "$split/sample" "$w/credentials.json" "$w" >>"$res" ||
      { echo "$b: feeds failed"; exit 1; }
    if [ "$b" = sqlite ]; then
      bytes=$(($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)))
      rows=$(sqlite3 "$db" 'SELECT count(*) FROM resource')
    else
      bytes=$(psql -At "$db" -c 'SELECT pg_database_size(current_database())')
      rows=$(psql -At "$db" -c 'SELECT count(*) FROM resource')
    fi
    put "$n" "$b" "resource versions" "$rows"
    put "$n" "$b" "disk MB per million resources" "$(calc "$bytes / 1048576 / ($rows / 1000000)")"
    # reads (bench/scale_reads.sh: the same figures for any kept database)
    bench/scale_reads.sh "$n" "$b" "$db" "$(js largest.ods)" "$(js largest.nhs)" \
      "$(js median.nhs)" "$w" >>"$res" || { echo "$b: reads failed"; exit 1; }
    echo "$b $n: done ($(grep -c . "$res") figures so far)" >&2
    if [ -z "${SCALE_KEEP:-}" ]; then
      if [ "$b" = sqlite ]; then rm -f "$db" "$db-wal" "$db-shm"; else
        psql -q "$(dirname "$db")/postgres" -c "DROP DATABASE $dbname" >/dev/null 2>&1 || true; fi
      rm -rf "$w/drop"
    fi
  done
  [ -n "${SCALE_KEEP:-}" ] || rm -rf "$reg" "$split"
done

echo "scale: sizes $sizes, backends $backends; wrk -c$WRK_CONN -d${WRK_SECS}s x$RUNS (medians); $(nproc) cores"
/usr/bin/python3 bench/scale_table.py "$res"
