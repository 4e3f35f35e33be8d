#!/usr/bin/env bash
# scale_feeds.sh - feed files through the real feed paths into one
# kept store, as bench_scale.sh's feed step does (issue 12, "Scale": durable
# ingest through the feeds at 10,000 and at 1,000,000 people):
#
#   bench/scale_feeds.sh SIZE BACKEND DB REGION CREDENTIALS WORKDIR [KINDS]
#
# DB is the store (SQLite path or postgres:// URL) with REGION's feeds
# registered (`weft synth register`; CREDENTIALS is the file it wrote);
# REGION a region directory (its manifest.json lists the files to send).
# `weft serve` with HTTP, MLLP and the drop folders, then `weft replay-feeds
# REGION --only KIND` for each KIND (default "hl7v2 csv fhir": HL7 v2 over
# MLLP waiting for each ACK, FHIR bundles POSTed one by one, CSV files dropped
# and their reports awaited).  Prints "SIZE<TAB>BACKEND<TAB>figure<TAB>value"
# lines: items/s (wall), sent/accepted, and the CPU per item of weft serve and,
# on PostgreSQL, of the database's server processes (from /proc: the server
# runs on this machine).  WEFT_BIN as bench_scale.sh's.
set -u
[ $# -ge 6 ] || { echo "usage: scale_feeds.sh SIZE BACKEND DB REGION CREDENTIALS WORKDIR [KINDS]" >&2; exit 2; }
n=$1 b=$2 db=$3 reg=$4 cred=$5 w=$6 kinds=${7:-hl7v2 csv fhir}
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1
weft=${WEFT_BIN:-$root/weft}
mkdir -p "$w"
put() { printf '%s\t%s\t%s\t%s\n' "$n" "$b" "$1" "$2"; }
now() { date +%s.%N; }
calc() { awk "BEGIN {printf \"%.${2:-0}f\", $1}"; }
wait_file() { for _ in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
ticks() { awk '{s += $14 + $15} END {print s + 0}' "$@" 2>/dev/null; }
# CPU ticks of the database's server processes (PostgreSQL): pg_mark
# remembers each backend's ticks, pg_since sums what each backend now alive
# used since (a backend that ended between the two is not counted; weft
# serve keeps its connections)
declare -A pg0
pg_pids() { psql -At "$db" -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database()" 2>/dev/null; }
pg_mark() {
  pg0=()
  [ "$b" = sqlite ] && return
  for p in $(pg_pids); do pg0[$p]=$(ticks /proc/$p/stat); done
}
pg_since() {
  local sum=0 t
  for p in $(pg_pids); do
    t=$(ticks /proc/$p/stat)
    sum=$((sum + t - ${pg0[$p]:-0}))
  done
  echo "$sum"
}
# items per kind in the region's files
items() {
  /usr/bin/python3 - "$reg" "$1" <<'PY'
import json, os, sys
reg, kind = sys.argv[1], sys.argv[2]
n = 0
for o in json.load(open(os.path.join(reg, "manifest.json")))["organisations"]:
    for f in o["feeds"]:
        if f["kind"] != kind:
            continue
        for x in f["files"]:
            data = open(os.path.join(reg, x), "rb").read()
            n += data.count(b"\x1c\r") if kind == "hl7v2" else data.count(b"\n") - (kind == "csv")
print(n)
PY
}
rm -f "$w/port" "$w/mport"
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$w/port" --mllp 127.0.0.1:0 \
  --mllp-port-file "$w/mport" --drop-interval 1 --log-level warn 2>"$w/serve.log" &
spid=$!
trap 'kill -TERM $spid 2>/dev/null; wait $spid 2>/dev/null' EXIT
wait_file "$w/port" && wait_file "$w/mport" || { cat "$w/serve.log" >&2; echo "$b $n: serve did not start" >&2; exit 1; }
hz=$(getconf CLK_TCK)
for k in $kinds; do
  cnt=$(items "$k")
  [ "$cnt" -gt 0 ] || continue
  pg_mark
  s0=$(ticks /proc/$spid/stat) t0=$(now)
  "$weft" replay-feeds "$reg" --http "http://127.0.0.1:$(cat "$w/port")" \
    --mllp "127.0.0.1:$(cat "$w/mport")" --credentials "$cred" --only "$k" \
    --quiet >"$w/replay-$k.out" 2>&1
  secs=$(calc "$(now) - $t0" 3)
  s1=$(ticks /proc/$spid/stat) pg=$(pg_since)
  put "feed $k items/s" "$(calc "$cnt / $secs")"
  put "feed $k sent/accepted" "$(sed -n 's/^total: \([0-9]*\) sent, \([0-9]*\) accepted.*/\1\/\2/p' "$w/replay-$k.out")"
  put "feed $k weft serve CPU ms/item" "$(calc "($s1 - $s0) * 1000 / $hz / $cnt" 3)"
  [ "$b" = sqlite ] || put "feed $k PostgreSQL CPU ms/item" "$(calc "$pg * 1000 / $hz / $cnt" 3)"
done
