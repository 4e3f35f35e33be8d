#!/usr/bin/env bash
# identity_feed_cost.sh - what matching costs in the feed path (issue 13's
# budget: no more than 15% of `weft load` and MLLP/CSV throughput), two
# builds side by side in one run, alternating A, B, A, B ... ROUNDS times so
# that the shared machine's load falls on both alike; medians and B/A.
#
#   bench/identity_feed_cost.sh BIN_A BIN_B
#
# BIN_A is usually the same tree built with matching compiled out
# (NOMPI=1 builds one: a copy of this tree at HEAD, with identity.c's call of
# the master person index, its blocking keys and its identity_record write
# removed, in BENCH_TMP/nompi; then BIN_A may be given as "nompi"), BIN_B
# this build.
# Cases, each on a fresh store, CPU = user + sys of the process:
#   csv-nhs     `weft feed run` of a CSV_ROWS-row people extract, every row
#               with a valid NHS number (as bench_feeds.sh);
#   csv-mixed   the same with 35% of rows without an NHS number (the
#               synthetic region's council rate), varied names;
#   csv-alike   35% without, and every name alike (bench_feeds.sh's names:
#               "Family17" normalises to FAMILY; 500 dates of birth): the
#               degenerate blocks a real MPI must not go quadratic on;
#   load        `weft load` of a synthetic region's FHIR NDJSON (weft synth,
#               SYNTH_PEOPLE people, default faults);
#   mllp        the region's HL7 v2 messages (ADT and ORU) pipelined over
#               MLLP to `weft serve` (CPU of the server).
# Env: ROUNDS (3), CSV_ROWS (20000), SYNTH_PEOPLE (5000), CASES, BENCH_TMP.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=${BENCH_TMP:-$(mktemp -d)}/feedcost
ROUNDS=${ROUNDS:-3}; CSV_ROWS=${CSV_ROWS:-20000}; SYNTH_PEOPLE=${SYNTH_PEOPLE:-5000}
CASES=${CASES:-csv-nhs csv-mixed csv-alike load mllp}
mkdir -p "$tmp"
if [ "${1:-}" = nompi ] || [ "${NOMPI:-0}" = 1 ]; then
  # matching compiled out: no candidate read, comparison, decision or
  # identity_record write; everything else the same
  n=$tmp/nompi; rm -rf "$n"; mkdir -p "$n"
  git -C "$here" archive HEAD | tar -x -C "$n"
  python3 - "$n/src/identity/identity.c" <<'PY' || exit 1
import sys
p = sys.argv[1]; s = open(p).read()
a = "if (is_new && !by_local) {"
b = ("if ((rc = mpi_record_put(s, org, source_id, &d, (const char(*)[BLOCK_KEYLEN])keys,\n"
     "                             locals.len ? locals.data : NULL)) != 0)")
k = "    block_keys(&d, keys);\n"
assert a in s and b in s and k in s, "identity.c changed: update identity_feed_cost.sh"
s = s.replace(a, "if (0 && is_new && !by_local) {").replace(b, "if ((rc = 0) != 0)")
s = s.replace(k, "    (void)keys;\n")
open(p, "w").write(s)
PY
  make -C "$n" -s -j2 weft >"$n/build.log" 2>&1 || { tail "$n/build.log"; exit 1; }
  [ "${1:-}" = nompi ] && set -- "$n/weft" "${2:-}"
fi
A=$(realpath "$1"); B=$(realpath "$2")
send=$here/build/rel/bench/bench_feeds_send
[ -x "$send" ] || make -C "$here" -s build/rel/bench/bench_feeds_send >/dev/null || exit 1

# ---- data -------------------------------------------------------------------
gen_csv() { # path rows mode
  python3 - "$@" <<'PY'
import random, sys
path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
FAM = ("SMITH JONES TAYLOR BROWN WILLIAMS WILSON JOHNSON DAVIES ROBINSON WRIGHT THOMPSON EVANS "
       "WALKER WHITE ROBERTS GREEN HALL WOOD JACKSON CLARKE PATEL KHAN OKAFOR NGUYEN MURPHY").split()
GIV = ("OLIVER GEORGE HARRY JACK NOAH LEO ARTHUR OSCAR AMELIA OLIVIA ISLA AVA IVY FREYA LILY "
       "MIA GRACE ALICE PETER PAUL MARY SUSAN JAMES JOHN MARGARET").split()
def nhs(i):
    while True:
        b = "998%06d" % (i % 1000000)
        s = sum(int(d) * w for d, w in zip(b, range(10, 1, -1)))
        c = 11 - s % 11
        if c != 10:
            return b + str(0 if c == 11 else c)
        i += 1
with open(path, "w") as f:
    f.write("person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode,town\n")
    for i in range(n):
        num = nhs(i) if mode == "nhs" or rng.random() >= 0.35 else ""
        if mode == "alike":
            fam, giv = "Family%d" % (i % 5000), "Given Middle"
            dob = "19%02d-%02d-%02d" % (30 + i % 70, 1 + i % 12, 1 + i % 28)
            pc = "CT%d %dAB" % (i % 20, i % 9)
        else:
            fam = rng.choice(FAM) + rng.choice(["", "S", "TON", "LEY", "FORD", "MAN"]) + rng.choice(["", "E", "A"])
            giv = rng.choice(GIV)
            dob = "%04d-%02d-%02d" % (rng.randint(1925, 2024), rng.randint(1, 12), rng.randint(1, 28))
            pc = "CT%d %d%s%s" % (rng.randint(1, 21), rng.randint(1, 9), rng.choice("ABDEFGH"), rng.choice("JLNPQRSTUW"))
        f.write("P%07d,%s,%s,%s,%s,%s,%s,Canterbury\n" % (i, num, fam, giv, dob, "FM"[i % 2], pc))
PY
}
on() { [[ " $CASES " == *" $1 "* ]]; }
for m in nhs mixed alike; do on csv-$m && { [ -s "$tmp/csv-$m.csv" ] || gen_csv "$tmp/csv-$m.csv" "$CSV_ROWS" $m; }; done
if on load || on mllp; then
  if [ ! -s "$tmp/region/manifest.json" ]; then
    rm -rf "$tmp/region"
    "$B" synth --people "$SYNTH_PEOPLE" --seed 1 --out "$tmp/region" --quiet || exit 1
  fi
  rm -rf "$tmp/fhir"; mkdir -p "$tmp/fhir"
  # one transaction Bundle per line: one file each, as `weft load` takes them
  python3 - "$tmp/region/feeds" "$tmp/fhir" <<'PY' || exit 1
import glob, os, sys
n = 0
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*", "fhir", "*.ndjson"))):
    for line in open(f):
        if line.strip():
            open(os.path.join(sys.argv[2], "b%06d.json" % n), "w").write(line)
            n += 1
PY
fi

declare -A V
add() { V[$1/$2/$3]+="$4 "; }
cpu() { awk -v u="$1" -v s="$2" 'BEGIN {printf "%.3f", u + s}'; }
TCK=$(getconf CLK_TCK)
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
setup() { # bin dir: a fresh store with the region's organisations
  rm -rf "$2"; mkdir -p "$2"
  "$1" init --db "$2/w.db" >/dev/null 2>&1 || return 1
}
case_csv() { # side mode
  local bin=${!1} d=$tmp/$1/csv-$2
  setup "$bin" "$d" || exit 1
  "$bin" org add --db "$d/w.db" --ods KENTCC --name "Bench council" --type social-care >/dev/null 2>&1
  "$bin" org agreement --db "$d/w.db" --ods KENTCC --kind jca --from 2020-01-01 >/dev/null 2>&1
  "$bin" feed add --db "$d/w.db" --org KENTCC --kind csv --folder "$d/drop" >/dev/null 2>&1
  mkdir -p "$d/drop"; cp "$tmp/csv-$2.csv" "$d/drop/people.csv"
  /usr/bin/time -f "%e %U %S" -o "$d/t" "$bin" feed run --db "$d/w.db" --min-age 0 >"$d/out" 2>&1 || { cat "$d/out"; exit 1; }
  grep -q "\"rows_loaded\": *$CSV_ROWS" "$d/drop/done/people.csv.report.json" ||
    { echo "$1 csv-$2: not every row loaded"; cat "$d/drop/done/people.csv.report.json"; exit 1; }
  read -r wall user sys < <(tail -1 "$d/t")
  add "csv-$2" "CPU s" "$1" "$(cpu "$user" "$sys")"
  add "csv-$2" "wall s" "$1" "$wall"
}
case_load() { # side
  local bin=${!1} d=$tmp/$1/load
  setup "$bin" "$d" || exit 1
  /usr/bin/time -f "%e %U %S" -o "$d/t" "$bin" load --db "$d/w.db" --org SYNTH01 --quiet "$tmp/fhir" >"$d/out" 2>&1
  # the region's malformed-message fault makes a few bundles invalid JSON: rejected, the rest load
  grep -q " entries in .* stored" "$d/out" || { tail -3 "$d/out"; exit 1; }
  read -r wall user sys < <(tail -1 "$d/t")
  add load "CPU s" "$1" "$(cpu "$user" "$sys")"
  add load "wall s" "$1" "$wall"
}
case_mllp() { # side: the region's HL7 v2 through its registered feeds
  local bin=${!1} d=$tmp/$1/mllp
  setup "$bin" "$d" || exit 1
  "$bin" synth register --db "$d/w.db" --in "$tmp/region" --drop-root "$d/drop" >/dev/null 2>&1 || exit 1
  "$bin" serve --db "$d/w.db" --http 127.0.0.1:0 --mllp 127.0.0.1:0 --mllp-port-file "$d/mllp.port" \
    --drop-interval 3600 --log-level warn >"$d/serve.log" 2>&1 &
  local pid=$!
  wait_file "$d/mllp.port" || { echo "$1: MLLP server did not start"; exit 1; }
  local c0 c1 t0 t1
  c0=$(awk '{print $14 + $15}' /proc/$pid/stat); t0=$(date +%s.%N)
  "$bin" replay-feeds "$tmp/region" --mllp "127.0.0.1:$(cat "$d/mllp.port")" --only hl7v2 --quiet >"$d/replay.out" 2>&1
  # the region's malformed-message fault: a few rejected (AR), none lost
  grep -q "^total: .* 0 errors" "$d/replay.out" || { tail -3 "$d/replay.out"; kill $pid; exit 1; }
  c1=$(awk '{print $14 + $15}' /proc/$pid/stat); t1=$(date +%s.%N)
  kill $pid; wait $pid 2>/dev/null
  add mllp "server CPU s" "$1" "$(awk -v a="$c0" -v b="$c1" -v t="$TCK" 'BEGIN {printf "%.2f", (b - a) / t}')"
  add mllp "wall s" "$1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')"
}
for round in $(seq 1 "$ROUNDS"); do
  order="A B"; [ $((round % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    for m in nhs mixed alike; do on csv-$m && case_csv "$side" $m; done
    on load && case_load "$side"
    on mllp && case_mllp "$side"
  done
  echo "round $round done" >&2
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "A = $A, B = $B; $ROUNDS rounds alternating, medians; CSV_ROWS=$CSV_ROWS SYNTH_PEOPLE=$SYNTH_PEOPLE"
printf '| %-10s | %-13s | %9s | %9s | %6s | %s\n' case measure A B "B/A" "all A ; all B"
printf '|%s|%s|%s|%s|%s|%s\n' ------------ --------------- ----------- ----------- -------- ---
for key in $(printf '%s\n' "${!V[@]}" | sed 's|/[AB]$||' | sort -u | tr ' ' '~'); do
  k=${key//\~/ }
  a=$(echo "${V[$k/A]:-}" | median); b=$(echo "${V[$k/B]:-}" | median)
  printf '| %-10s | %-13s | %9s | %9s | %6s | %s; %s\n' "${k%%/*}" "${k#*/}" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.3f", b / a}')" "${V[$k/A]:-}" "${V[$k/B]:-}"
done
