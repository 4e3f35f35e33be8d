#!/usr/bin/env bash
# compare_builds.sh - two builds side by side in one run (docs/BENCHMARKS.md,
# "Architecture work, side by side"): load, FHIR API, feeds (MLLP end to end
# and HL7 parse+map) and the clinician's pages, each case run ROUNDS times
# alternating A, B, A, B ... so that the shared machine's load falls on both
# alike; medians and B/A ratios printed.
#
#   bench/compare_builds.sh ROOT_A ROOT_B
#
# Each ROOT is a worktree with ./weft and build/rel/bench/{bench_web,
# bench_hl7_parse,bench_feeds_send} built (make weft build/rel/bench/...), or
# a copy of those with policy/ (and the commit in ROOT/COMMIT), so that a
# worktree can go on changing while the comparison runs.
# Besides wall-clock rates, every case reports the CPU time the measured
# process spent per unit of work (user+sys, from /usr/bin/time or from
# /proc/PID/stat of the server around a fixed amount of work): on a machine
# shared with other jobs that is the steadier figure.  (Hardware instruction
# counters are not available in this VM: perf stat reports them as not
# supported; CALLGRIND=1 adds instructions counted by valgrind for one load
# of the Synthea set per build.)
#
# Env: ROUNDS (5), LOAD_COPIES (3: the 61 Synthea bundles x 3, 57,276
# entries), API_SECS (3), FEEDS_MSGS (8000), WEB_RUNS (60), HL7_SECS (1),
# CALLGRIND (0), CASES ("load api feeds hl7 web": which to run), BENCH_TMP.
set -u
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd)
ROUNDS=${ROUNDS:-5}; LOAD_COPIES=${LOAD_COPIES:-3}; API_SECS=${API_SECS:-3}
FEEDS_MSGS=${FEEDS_MSGS:-8000}; WEB_RUNS=${WEB_RUNS:-60}; HL7_SECS=${HL7_SECS:-1}
CASES=${CASES:-load api feeds hl7 web}
here=$(cd "$(dirname "$0")/.." && pwd)
data=${WEFT_DATA:-$here/../shared/data}
tmp=${BENCH_TMP:-$(mktemp -d)}/compare
rm -rf "$tmp"; mkdir -p "$tmp"
TCK=$(getconf CLK_TCK)
for r in "$A" "$B"; do
  for f in weft build/rel/bench/bench_web build/rel/bench/bench_hl7_parse build/rel/bench/bench_feeds_send; do
    [ -x "$r/$f" ] || { echo "missing $r/$f (build it first)"; exit 1; }
  done
done
declare -A V # V[case/metric/A|B] = "v1 v2 ..."
add() { V[$1/$2/$3]+="$4 "; }
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks() { awk -v a="$1" -v b="$2" -v t="$TCK" 'BEGIN {printf "%.3f", (b - a) / t}'; }
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# ---- data -------------------------------------------------------------------
rep=$tmp/load-data
/usr/bin/python3 "$here/bench/replicate.py" "$data/synthea-r4" "$rep" "$LOAD_COPIES" >/dev/null

# ---- setup per build: API server, feeds server, web patient ----------------
read -r webfile _ < <(node -e '
  const fs=require("fs"),p=require("path"),d=process.argv[1];let best=["",-1];
  for(const f of fs.readdirSync(d).filter(f=>f.endsWith(".json"))){
    const n=JSON.parse(fs.readFileSync(p.join(d,f))).entry.length; if(n>best[1]) best=[f,n];}
  console.log(best[0]+" "+best[1]);' "$data/synthea-r4")
node -e '
  const fs=require("fs");const b=JSON.parse(fs.readFileSync(process.argv[1]));
  for(const e of b.entry) if(e.resource.resourceType==="Patient")
    (e.resource.identifier=e.resource.identifier||[]).push({system:"https://fhir.nhs.uk/Id/nhs-number",value:"9991234578"});
  fs.writeFileSync(process.argv[2], JSON.stringify(b));' "$data/synthea-r4/$webfile" "$tmp/patient.json"

declare -A PID PORT TOKEN OBS MID MPID MPORT
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null' EXIT
for side in A B; do
  r=${!side}; d=$tmp/$side; mkdir -p "$d"
  w() { "$r/weft" "$@" >/dev/null 2>&1 || { echo "$side: weft $* failed"; exit 1; }; }
  # API
  w init --db "$d/api.db"
  w org add --db "$d/api.db" --ods SYN01 --name "Bench organisation" --type acute
  w org agreement --db "$d/api.db" --ods SYN01 --kind jca --from 2020-01-01
  TOKEN[$side]=$("$r/weft" client add --db "$d/api.db" --name bench --org SYN01 --write 2>/dev/null)
  w load --db "$d/api.db" --org SYN01 --quiet "$data/synthea-r4"
  "$r/weft" serve --db "$d/api.db" --http 127.0.0.1:0 --port-file "$d/api.port" --log-level warn 2>"$d/api.log" &
  PID[$side]=$!; pids+=($!)
  wait_file "$d/api.port" || { echo "$side: API server did not start"; exit 1; }
  PORT[$side]=$(cat "$d/api.port")
done
# the same Observation and patient on both sides (derived ids are the same)
read -r OBSID MIDPAT <<<"$(/usr/bin/python3 - "${PORT[A]}" "${TOKEN[A]}" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
H = {"Authorization": "Bearer " + sys.argv[2]}
def get(p):
    c.request("GET", p, headers=H)
    return json.loads(c.getresponse().read())
ids = [e["resource"]["id"] for e in get("/fhir/Patient?_count=1000")["entry"] if e["search"]["mode"] == "match"]
tot = {i: get("/fhir/Observation?patient=%s&_count=0" % i)["total"] for i in ids}
mid = sorted(tot, key=tot.get)[len(tot) // 2]
o = get("/fhir/Observation?patient=%s&_count=1" % mid)["entry"][0]["resource"]["id"]
print(o, mid)
PY
)"
[ -n "$OBSID" ] || { echo "no Observation found"; exit 1; }

# ---- the cases ----------------------------------------------------------------
case_load() { # side
  local r=${!1} d=$tmp/$1 db=$tmp/$1/load.db
  rm -f "$db"*; "$r/weft" init --db "$db" >/dev/null 2>&1
  /usr/bin/time -f "%e %U %S" -o "$d/t" "$r/weft" load --db "$db" --org SYNTH01 --quiet "$rep" >"$d/load.out" 2>&1 ||
    { tail -3 "$d/load.out"; echo "$1: load failed"; exit 1; }
  local n; n=$(grep -o '[0-9]* entries' "$d/load.out" | head -1 | cut -d' ' -f1)
  read -r wall user sys <"$d/t"
  add load "entries/s wall" "$1" "$(awk -v n="$n" -v s="$wall" 'BEGIN {printf "%.0f", n / s}')"
  add load "CPU us/entry" "$1" "$(awk -v n="$n" -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", (u + s) * 1e6 / n}')"
}
case_api() { # side path name
  local c0 c1 out n
  c0=$(cpu_of "${PID[$1]}")
  out=$(wrk -t1 -c8 -d"${API_SECS}s" -H "Authorization: Bearer ${TOKEN[$1]}" "http://127.0.0.1:${PORT[$1]}$2")
  c1=$(cpu_of "${PID[$1]}")
  echo "$out" | grep -q "Non-2xx" && { echo "$1 $3: non-2xx answers"; echo "$out"; exit 1; }
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  add "api $3" "requests/s" "$1" "$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')"
  add "api $3" "server CPU us/request" "$1" "$(awk -v c="$(ticks "$c0" "$c1")" -v n="$n" 'BEGIN {printf "%.1f", c * 1e6 / n}')"
}
case_feeds() { # side: a fresh store, pipelined ADT+ORU over MLLP, every ACK AA
  local r=${!1} d=$tmp/$1/feeds; rm -rf "$d"; mkdir -p "$d"
  local db=$d/feeds.db
  "$r/weft" init --db "$db" >/dev/null 2>&1
  "$r/weft" org add --db "$db" --ods RVV --name "Bench acute" --type acute >/dev/null 2>&1
  "$r/weft" org agreement --db "$db" --ods RVV --kind jca --from 2020-01-01 >/dev/null 2>&1
  "$r/weft" feed add --db "$db" --org RVV --kind hl7v2 --facility BENCHPAS >/dev/null 2>&1
  "$r/weft" serve --db "$db" --http 127.0.0.1:0 --mllp 127.0.0.1:0 --mllp-port-file "$d/mllp.port" \
    --drop-interval 0 --log-level warn >"$d/serve.log" 2>&1 &
  local pid=$!
  wait_file "$d/mllp.port" || { echo "$1: MLLP server did not start"; exit 1; }
  local c0 c1 t0 t1 line
  c0=$(cpu_of $pid); t0=$(date +%s.%N)
  line=$("$B/build/rel/bench/bench_feeds_send" 127.0.0.1 "$(cat "$d/mllp.port")" 8 64 "$FEEDS_MSGS" BENCHPAS 10000 "R$RANDOM" original)
  c1=$(cpu_of $pid); t1=$(date +%s.%N)
  kill $pid; wait $pid 2>/dev/null
  echo "$line" | grep -q "^messages $FEEDS_MSGS aa $FEEDS_MSGS " || { echo "$1 feeds: not every ACK AA: $line"; exit 1; }
  add feeds "msgs/s wall" "$1" "$(awk -v a="$t0" -v b="$t1" -v n="$FEEDS_MSGS" 'BEGIN {printf "%.0f", n / (b - a)}')"
  add feeds "server CPU us/msg" "$1" "$(awk -v c="$(ticks "$c0" "$c1")" -v n="$FEEDS_MSGS" 'BEGIN {printf "%.1f", c * 1e6 / n}')"
  echo "$1 feeds: $line" >>"$tmp/feeds.lines"
}
case_hl7() { # side: parse + map, one core
  local r=${!1} out
  out=$("$r/build/rel/bench/bench_hl7_parse" "$data/hl7v2" "$HL7_SECS" 3 2>&1)
  add hl7 "parse+map msgs/s" "$1" "$(echo "$out" | awk '/^median parse_map / {split($3, a, "="); print a[2]}')"
}
case_web() { # side: server time per page view, in process (cold and cached)
  local r=${!1} d=$tmp/$1 out
  rm -f "$d"/render.db*
  /usr/bin/time -f "%U %S" -o "$d/wt" env WEFT_ROOT="$r" "$r/build/rel/bench/bench_web" --file "$tmp/patient.json" --runs "$WEB_RUNS" --db "$d/render.db" >"$d/web.out" 2>&1 ||
    { cat "$d/web.out"; echo "$1: bench_web failed"; exit 1; }
  echo "$1" >>"$tmp/web.outs"; cat "$d/web.out" >>"$tmp/web.outs"
  # per page: median wall and median CPU of a view with the page cache off; summed over the pages
  add web "cold view ms, sum over pages" "$1" "$(awk 'h && NF >= 8 {s += $2} /^page / {h = 1} END {printf "%.2f", s}' "$d/web.out")"
  add web "cold view CPU ms, sum over pages" "$1" "$(awk 'h && NF >= 8 {s += $5} /^page / {h = 1} END {printf "%.2f", s}' "$d/web.out")"
  read -r u s <"$d/wt"
  add web "process CPU s" "$1" "$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')"
}

on() { [[ " $CASES " == *" $1 "* ]]; }
for round in $(seq 1 "$ROUNDS"); do
  order="A B"; [ $((round % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    on load && case_load "$side"
    on api && case_api "$side" "/fhir/Observation/$OBSID" read
    on api && case_api "$side" "/fhir/Observation?patient=$MIDPAT&_count=10" search
    on feeds && case_feeds "$side"
    on hl7 && case_hl7 "$side"
    on web && case_web "$side"
  done
  echo "round $round done" >&2
done

if [ "${CALLGRIND:-0}" = 1 ] && command -v valgrind >/dev/null; then
  one=$tmp/one-copy; mkdir -p "$one"; cp "$data"/synthea-r4/*.json "$one/"
  for side in A B; do
    r=${!side}; db=$tmp/$side/cg.db; rm -f "$db"*
    "$r/weft" init --db "$db" >/dev/null 2>&1
    valgrind --tool=callgrind --callgrind-out-file="$tmp/$side/cg.out" "$r/weft" load --db "$db" --org SYNTH01 --quiet "$one" >/dev/null 2>"$tmp/$side/cg.log"
    add "load, 1 copy, callgrind" "instructions (M)" "$side" "$(awk '/^summary:/ {printf "%.0f", $2 / 1e6}' "$tmp/$side/cg.out")"
  done
fi

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo
rev() { git -C "$1" rev-parse --short HEAD 2>/dev/null || cat "$1/COMMIT" 2>/dev/null; }
echo "A = $A ($(rev "$A")), B = $B ($(rev "$B")); $ROUNDS rounds alternating, medians"
printf '| %-28s | %-34s | %12s | %12s | %7s | %s\n' case measure A B "B/A" "all A ; all B"
printf '|%s|%s|%s|%s|%s|%s\n' ------------------------------ ------------------------------------ -------------- -------------- --------- ---
for key in $(printf '%s\n' "${!V[@]}" | sed 's|/[AB]$||' | sort -u | tr ' ' '~'); do
  k=${key//\~/ }
  a=$(echo "${V[$k/A]:-}" | median); b=$(echo "${V[$k/B]:-}" | median)
  c=${k%%/*}; m=${k#*/}
  printf '| %-28s | %-34s | %12s | %12s | %7s | %s; %s\n' "$c" "$m" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.3f", b / a}')" "${V[$k/A]:-}" "${V[$k/B]:-}"
done
