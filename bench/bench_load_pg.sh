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
# On the synthea set the first load's CPU per entry is printed too, and on
# the region set with WEFT_BIN_BASE: Weft's command and, on PostgreSQL, the
# cluster's processes (its backends, live and reaped, from /proc; the
# cluster should serve nothing else meanwhile).
#
# Two data sets (LOAD_SET):
#   synthea  (default) the Synthea R4 set replicated COPIES times: ~300-entry
#            bundles, one `weft load` of the folder.
#   region   `weft synth --people PEOPLE --seed 1`, split as bench_scale.sh
#            does (bench/scale_region.py): every GP FHIR file after the first
#            batch, one transaction Bundle per file (about 6 entries each), one
#            `weft load --org ODS` per GP, after `weft synth register` (so the
#            persons, feeds and organisations exist): entries/s is all the
#            entries over the wall time of all the commands.  No reload.
# WEFT_BIN_BASE=PATH also runs another build (e.g. main's) on the same data
# in the same run and prints the ratio: alternating with WEFT_BIN run by run
# (synthea), or command by command into two databases (region: each build's
# rate from its own summed wall time, and its CPU per entry), so the shared
# machine's load changes hit both alike.
#
# REGION_ONE=1 (region set with WEFT_BIN_BASE) also loads the region with
# WEFT_BIN in one command, `weft load --org-dirs` of every GP folder, into a
# third database after each A/B run (its row: "(new, one command)"): what the
# connection and process per GP command cost.
#
# JOBS="1 2 3 4" (region set) loads the region with WEFT_BIN in one command,
# `weft load --org-dirs --jobs J` of every GP folder, for each J of JOBS, each
# into a fresh database, the order of JOBS reversed every other run so the
# machine's load changes hit them alike; a row per J ("store (jobs J)"), with
# Weft's CPU and the cluster's per entry, and the load average at each run's
# end.
#
# Env: LOAD_SET, COPIES (default 3: 183 bundles, 57,276 entries, 46,371
# stored), PEOPLE (default 10000: 72,243 bulk entries), RUNS, WEFT_BIN_BASE,
# BENCH_TMP, BENCH_DATA (replicated bundles kept between runs), WEFT_PG_DIR
# (use that running cluster instead of making one), STORES (default
# "sqlite pg_tcp pg_socket").
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
data=${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}/synthea-r4
[ -d "$data" ] || { echo "skip: $data not found"; exit 0; }
COPIES=${COPIES:-3}
RUNS=${RUNS:-1}
LOAD_SET=${LOAD_SET:-synthea}
PEOPLE=${PEOPLE:-10000}
STORES=${STORES:-sqlite pg_tcp pg_socket}
tmp=${BENCH_TMP:-$(mktemp -d)}
weft=${WEFT_BIN:-$root/weft}
base=${WEFT_BIN_BASE:-}
[ -x "$weft" ] || make -s weft >/dev/null
if [ "$LOAD_SET" = region ]; then
  reg=$tmp/region-$PEOPLE split=$tmp/split-$PEOPLE
  if [ ! -d "$split/bulk" ]; then
    rm -rf "$reg" "$split"
    "$weft" synth --people "$PEOPLE" --seed 1 --out "$reg" --quiet || { echo "weft synth failed"; exit 1; }
    /usr/bin/python3 bench/scale_region.py "$reg" "$split" >"$tmp/split.json" || { echo "split failed"; exit 1; }
  fi
  entries=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bulk_entries"])' "$tmp/split.json")
else
  rep=${BENCH_DATA:-/tmp/weft-bench-load}/c$COPIES
  if [ ! -f "$rep/.done" ]; then
    echo "replicating $COPIES copies into $rep ..." >&2
    rm -rf "$rep" && /usr/bin/python3 bench/replicate.py "$data" "$rep" "$COPIES" >&2 && touch "$rep/.done"
  fi
fi
own=""
if [ -z "${WEFT_PG_DIR:-}" ]; then
  eval "$(tests/pg-cluster.sh start)" || { echo "cannot start a PostgreSQL cluster"; exit 1; }
  own=$WEFT_PG_DIR
  trap 'tests/pg-cluster.sh stop "$own"' EXIT
fi
port=$(cat "$WEFT_PG_DIR/port")

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { grep -o 'entries in [0-9.]* s ([0-9]*/s)' | grep -o '([0-9]*' | tr -d '('; }
. "$root/bench/lib_cpu.sh"
pg_ticks() { pg_cluster_ticks "$WEFT_PG_DIR"; }
# load_twice BIN DB: prints "first_entries_per_s reload_entries_per_s
# weft_us_per_entry pg_us_per_entry" (synthea; the CPU of the first load:
# Weft's command, and on PostgreSQL the cluster's, read a second after the
# command so that its backend has been reaped; "-" on SQLite)
load_twice() {
  local bin=$1 db=$2 a b out p0=0 p1=0 pg=-
  "$bin" init --db "$db" >/dev/null || return 1
  [[ "$db" == /* ]] || p0=$(pg_ticks)
  out=$({ /usr/bin/time -f 'weft_cpu_s %U %S' "$bin" load --db "$db" --org SYNTH01 --quiet "$rep"; } 2>&1)
  [[ "$db" == /* ]] || { sleep 1; p1=$(pg_ticks); }
  a=$(echo "$out" | rate)
  local entries
  entries=$(echo "$out" | grep -o '[0-9]* entries in' | head -1 | grep -o '^[0-9]*')
  [ -n "$entries" ] || entries=1
  [[ "$db" == /* ]] || pg=$(awk -v a="$p0" -v b="$p1" -v t="$tck" -v n="$entries" 'BEGIN {printf "%.1f", (b - a) / t * 1e6 / n}')
  b=$("$bin" load --db "$db" --org SYNTH01 --quiet "$rep" 2>&1 | rate)
  echo "$a $b $(echo "$out" | awk -v n="$entries" '/^weft_cpu_s/ {printf "%.1f", ($2 + $3) * 1e6 / n}') $pg"
}
# load_region BIN DB: prints "entries_per_s -" (wall time of every GP's command)
load_region() {
  local bin=$1 db=$2 w=$tmp/w.$$ t0 t1 d
  rm -rf "$w" && mkdir -p "$w"
  "$bin" init --db "$db" >/dev/null || return 1
  "$bin" synth register --db "$db" --in "$reg" --drop-root "$w/drop" \
    --credentials "$w/credentials.json" >/dev/null || return 1
  t0=$(date +%s.%N)
  for d in "$split"/bulk/*/; do
    # exit status 1 when a bundle was rejected (the generator's malformed fault)
    "$bin" load --db "$db" --org "$(basename "$d")" --quiet "$d" >"$w/load.log" 2>&1
    grep -q ' entries in ' "$w/load.log" || { tail -3 "$w/load.log" >&2; return 1; }
  done
  t1=$(date +%s.%N)
  rm -rf "$w"
  echo "$(awk "BEGIN {printf \"%.0f\", $entries / ($t1 - $t0)}") -"
}
# load_region_ab BIN1 DB1 BIN2 DB2: the region into two databases, GP by GP,
# the two builds alternating (which goes first alternates too), so that a
# shared machine's load changes hit both alike; prints "rate1 rate2 weft1
# weft2 pg1 pg2": entries/s from each build's own summed wall time, and
# each build's CPU per entry: its commands' (user + system), and on
# PostgreSQL the cluster's from the start of each of its commands to the
# start of the next command (so that its backend has been reaped; "-" on
# SQLite).
load_region_ab() {
  local w=$tmp/w.$$ d i=0 t0 t1 ta=0 tb=0 x ca=0 cb=0 pa=0 pb=0 p0 pl="" xl=""
  rm -rf "$w" && mkdir -p "$w"
  for x in 1 2; do
    local bin db
    if [ $x = 1 ]; then bin=$1 db=$2; else bin=$3 db=$4; fi
    "$bin" init --db "$db" >/dev/null || return 1
    "$bin" synth register --db "$db" --in "$reg" --drop-root "$w/drop$x" \
      --credentials "$w/credentials$x.json" >/dev/null || return 1
  done
  for d in "$split"/bulk/*/; do
    i=$((i + 1))
    for x in $([ $((i % 2)) = 0 ] && echo 1 2 || echo 2 1); do
      local bin db
      if [ $x = 1 ]; then bin=$1 db=$2; else bin=$3 db=$4; fi
      if [[ "$db" != /* ]]; then
        p0=$(pg_ticks)
        if [ -n "$xl" ]; then
          if [ "$xl" = 1 ]; then pa=$((pa + p0 - pl)); else pb=$((pb + p0 - pl)); fi
        fi
        pl=$p0 xl=$x
      fi
      t0=$(date +%s.%N)
      /usr/bin/time -o "$w/cpu" -f '%U %S' "$bin" load --db "$db" --org "$(basename "$d")" --quiet "$d" >"$w/load.log" 2>&1
      t1=$(date +%s.%N)
      grep -q ' entries in ' "$w/load.log" || { tail -3 "$w/load.log" >&2; return 1; }
      local c
      c=$(awk '{print $1 + $2}' "$w/cpu" | tail -1)
      if [ $x = 1 ]; then
        ta=$(awk "BEGIN {print $ta + $t1 - $t0}") ca=$(awk "BEGIN {print $ca + $c}")
      else
        tb=$(awk "BEGIN {print $tb + $t1 - $t0}") cb=$(awk "BEGIN {print $cb + $c}")
      fi
    done
  done
  if [ -n "$xl" ]; then
    sleep 1
    p0=$(pg_ticks)
    if [ "$xl" = 1 ]; then pa=$((pa + p0 - pl)); else pb=$((pb + p0 - pl)); fi
  fi
  rm -rf "$w"
  local pga=- pgb=-
  if [ -n "$xl" ]; then
    pga=$(awk -v t="$pa" -v k="$tck" -v n="$entries" 'BEGIN {printf "%.1f", t / k * 1e6 / n}')
    pgb=$(awk -v t="$pb" -v k="$tck" -v n="$entries" 'BEGIN {printf "%.1f", t / k * 1e6 / n}')
  fi
  echo "$(awk "BEGIN {printf \"%.0f\", $entries / $ta}") $(awk "BEGIN {printf \"%.0f\", $entries / $tb}")" \
    "$(awk "BEGIN {printf \"%.1f\", $ca * 1e6 / $entries}") $(awk "BEGIN {printf \"%.1f\", $cb * 1e6 / $entries}")" \
    "$pga $pgb"
}
# load_region_one BIN DB: the region in one `weft load --org-dirs`; prints
# "entries_per_s weft_us_per_entry pg_us_per_entry" (as load_region_ab's)
load_region_one() {
  local bin=$1 db=$2 w=$tmp/w1.$$ t0 t1 p0=0 p1=0 pg=- c jobs=()
  [ -n "${3:-}" ] && jobs=(--jobs "$3")
  rm -rf "$w" && mkdir -p "$w"
  "$bin" init --db "$db" >/dev/null || return 1
  "$bin" synth register --db "$db" --in "$reg" --drop-root "$w/drop" \
    --credentials "$w/credentials.json" >/dev/null || return 1
  [[ "$db" == /* ]] || p0=$(pg_ticks)
  t0=$(date +%s.%N)
  /usr/bin/time -o "$w/cpu" -f '%U %S' "$bin" load --db "$db" --org-dirs "${jobs[@]}" --quiet "$split"/bulk/*/ >"$w/load.log" 2>&1
  t1=$(date +%s.%N)
  grep -q ' entries in ' "$w/load.log" || { tail -3 "$w/load.log" >&2; return 1; }
  [[ "$db" == /* ]] || { sleep 1; p1=$(pg_ticks); }
  c=$(awk '{print $1 + $2}' "$w/cpu" | tail -1)
  [[ "$db" == /* ]] || pg=$(awk -v a="$p0" -v b="$p1" -v t="$tck" -v n="$entries" 'BEGIN {printf "%.1f", (b - a) / t * 1e6 / n}')
  rm -rf "$w"
  echo "$(awk "BEGIN {printf \"%.0f\", $entries / ($t1 - $t0)}") $(awk "BEGIN {printf \"%.1f\", $c * 1e6 / $entries}") $pg"
}
db_for() { # db_for STORE N: a fresh database of that kind
  case $1 in
  sqlite) rm -f "$tmp/load-$2.db"*; echo "$tmp/load-$2.db" ;;
  pg_tcp) tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "bench_tcp_${2}_$$" ;;
  pg_socket)
    tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "bench_sock_${2}_$$" >/dev/null
    echo "host=$WEFT_PG_DIR port=$port dbname=bench_sock_${2}_$$ user=weft" ;;
  esac
}
one() { # one BIN STORE RUN: "first reload"
  local bin=$1 k=$2 f=load_twice db
  [ "$LOAD_SET" = region ] && f=load_region
  case $k in
  sqlite) db="$tmp/load-pg.db"; rm -f "$db" "$db-wal" "$db-shm"; $f "$bin" "$db"; rm -f "$db" "$db-wal" "$db-shm" ;;
  pg_tcp) $f "$bin" "$(tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "bench_tcp_${3}_$$")" ;;
  pg_socket)
    tests/pg-cluster.sh createdb "$WEFT_PG_DIR" "bench_sock_${3}_$$" >/dev/null
    $f "$bin" "host=$WEFT_PG_DIR port=$port dbname=bench_sock_${3}_$$ user=weft" ;;
  esac
}
declare -A first reload wcpu pcpu
bins="new"
[ -n "$base" ] && bins="base new"
[ -n "$base" ] && [ "$LOAD_SET" = region ] && [ "${REGION_ONE:-0}" = 1 ] && bins="base new one"
JOBS=${JOBS:-}
[ "$LOAD_SET" = region ] || JOBS=
[ -n "$JOBS" ] && bins=$(for j in $JOBS; do printf 'j%s ' "$j"; done)
loads=""
n=0
for run in $(seq 1 "$RUNS"); do
  for k in $STORES; do
    if [ -n "$JOBS" ]; then
      order=$JOBS
      [ $((run % 2)) = 0 ] && order=$(echo "$JOBS" | tr ' ' '\n' | grep . | tac | tr '\n' ' ')
      for j in $order; do
        n=$((n + 1))
        read -r a wa pa < <(load_region_one "$weft" "$(db_for "$k" "$n")" "$j")
        rm -f "$tmp"/load-*.db*
        first[j$j.$k]+="${a:-} "; reload[j$j.$k]+="- "; wcpu[j$j.$k]+="${wa:-} "; pcpu[j$j.$k]+="${pa:-} "
        echo "run $run $k jobs $j: ${a:-failed} entries/s, weft ${wa:-} us, pg ${pa:-} us, load $(cut -d' ' -f1 /proc/loadavg)" >&2
      done
      loads+="$(cut -d' ' -f1 /proc/loadavg) "
      continue
    fi
    if [ "$LOAD_SET" = region ] && [ -n "$base" ]; then
      read -r a r wa wb pa pb < <(load_region_ab "$base" "$(db_for "$k" $((n + 1)))" "$weft" "$(db_for "$k" $((n + 2)))")
      n=$((n + 2))
      rm -f "$tmp"/load-*.db*
      first[base.$k]+="$a "; first[new.$k]+="$r "; reload[base.$k]+="- "; reload[new.$k]+="- "
      wcpu[base.$k]+="${wa:-} "; wcpu[new.$k]+="${wb:-} "; pcpu[base.$k]+="${pa:-} "; pcpu[new.$k]+="${pb:-} "
      if [ "${REGION_ONE:-0}" = 1 ]; then
        read -r a wa pa < <(load_region_one "$weft" "$(db_for "$k" $((n + 1)))")
        n=$((n + 1))
        rm -f "$tmp"/load-*.db*
        first[one.$k]+="$a "; reload[one.$k]+="- "; wcpu[one.$k]+="${wa:-} "; pcpu[one.$k]+="${pa:-} "
      fi
      continue
    fi
    for v in $bins; do
      b=$weft
      [ "$v" = base ] && b=$base
      n=$((n + 1))
      read -r a r wc pc < <(one "$b" "$k" "$n")
      first[$v.$k]+="$a "
      reload[$v.$k]+="$r "
      wcpu[$v.$k]+="${wc:-} "
      pcpu[$v.$k]+="${pc:-} "
    done
  done
done
if [ "$LOAD_SET" = region ]; then
  printf '%s people, %s bulk entries in %s GP commands, load average %s\n' "$PEOPLE" "$entries" \
    "$(ls -d "$split"/bulk/*/ | wc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
else
  printf '%s bundles (%s copies), load average %s\n' "$(ls "$rep"/*.json | wc -l)" "$COPIES" "$(cut -d' ' -f1-3 /proc/loadavg)"
fi
printf '%-28s %14s %16s %14s %14s %s\n' "store" "load entries/s" "reload entries/s" "weft us/entry" "pg us/entry" "(medians of $RUNS; CPU of the first load)"
for k in $STORES; do
  for v in $bins; do
    f=$(echo "${first[$v.$k]}" | tr ' ' '\n' | grep . | median)
    r=$(echo "${reload[$v.$k]}" | tr ' ' '\n' | grep . | median)
    label=$k
    [ -n "$base" ] && label="$k ($v)"
    [ "$v" = one ] && label="$k (new, one command)"
    [ -n "$JOBS" ] && label="$k (jobs ${v#j})"
    wc=$(echo "${wcpu[$v.$k]:-}" | tr ' ' '\n' | grep . | grep -v -- - | median)
    pc=$(echo "${pcpu[$v.$k]:-}" | tr ' ' '\n' | grep . | grep -v -- - | median)
    printf '%-28s %14s %16s %14s %14s\n' "$label" "${f:-failed}" "${r:-failed}" "${wc:--}" "${pc:--}"
  done
  if [ -n "$base" ]; then
    fb=$(echo "${first[base.$k]}" | tr ' ' '\n' | grep . | median)
    fn=$(echo "${first[new.$k]}" | tr ' ' '\n' | grep . | median)
    [ -n "$fb" ] && [ -n "$fn" ] && [ "$fb" != - ] &&
      printf '%-28s %14s\n' "$k new/base" "$(awk "BEGIN {printf \"%.2fx\", $fn / $fb}")"
    fo=$(echo "${first[one.$k]:-}" | tr ' ' '\n' | grep . | median)
    [ -n "$fb" ] && [ -n "$fo" ] && [ "$fb" != - ] &&
      printf '%-28s %14s\n' "$k one command/base" "$(awk "BEGIN {printf \"%.2fx\", $fo / $fb}")"
  fi
done
[ -n "$JOBS" ] && echo "load average (1 min) at each run's end: $loads"
