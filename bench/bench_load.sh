#!/usr/bin/env bash
# bench_load.sh - `weft load` throughput on the Synthea R4 set replicated to
# over a million resources, durable on disk, against two baselines in the
# same run:
#   parse   reading + parsing the same files with jansson only
#           (build/rel/bench/bench_jsonparse): the floor for any loader built on it
#   medplum Medplum's FHIR router (@medplum/fhir-router) with its in-memory
#           repository, one POST / transaction per bundle (bench/medplum/medplum_load.mjs).
#           Its npm packages are not in the root package.json (CI installs that
#           on every run): bench/medplum/package.json + lock, installed here with
#           `npm ci` on first use into bench/medplum/node_modules (gitignored).
#           It holds everything in the Node heap, so it runs on a subset of the
#           copies (MEDPLUM_COPIES, default 5 = ~95,000 resources): its rate is
#           compared, not its total time.
# Each is run RUNS times (default 3); the table shows medians.  "resources"
# counts every bundle entry (Claim and ExplanationOfBenefit included: weft
# reads, classifies and reports them as not shareable).  CPU is user+sys
# seconds of the process (the machine is shared: CPU rate is the per-core
# figure, wall rate what a user sees).  Peak RSS from /usr/bin/time.
#
# Env: WEFT_BIN (default ./weft), COPIES (default 65: 61 bundles x 65 = 3,965 bundles, 1,240,980
# entries, 1,009,385 stored resources), RUNS, BENCH_TMP, BENCH_DATA (where the
# replicated bundles are kept between runs; default /tmp/weft-bench-load).
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
data=${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}/synthea-r4
[ -d "$data" ] || { echo "skip: $data not found"; exit 0; }
COPIES=${COPIES:-65}
RUNS=${RUNS:-3}
MEDPLUM_COPIES=${MEDPLUM_COPIES:-5}
tmp=${BENCH_TMP:-$(mktemp -d)}
rep=${BENCH_DATA:-/tmp/weft-bench-load}/c$COPIES
weft=${WEFT_BIN:-$root/weft} # WEFT_BIN: another build, e.g. a before/after comparison
parse="$root/build/rel/bench/bench_jsonparse"
[ -x "$weft" ] || make -s weft >/dev/null
[ -x "$parse" ] || make -s build/rel/bench/bench_jsonparse >/dev/null
if [ ! -d bench/medplum/node_modules/@medplum/fhir-router ]; then
  echo "installing the Medplum peer into bench/medplum/node_modules ..." >&2
  (cd bench/medplum && npm ci --no-audit --no-fund >&2) || { echo "npm ci in bench/medplum failed"; exit 1; }
fi
if [ ! -f "$rep/.done" ]; then
  echo "replicating $COPIES copies into $rep ..." >&2
  rm -rf "$rep" && /usr/bin/python3 bench/replicate.py "$data" "$rep" "$COPIES" >&2 && touch "$rep/.done"
fi
sub="$tmp/medplum-subset"
mkdir -p "$sub"
for f in "$rep"/c00[0-9]_*.json "$rep"/c0[1-9][0-9]_*.json; do
  k=$(basename "$f" | cut -c2-4)
  [ $((10#$k)) -lt "$MEDPLUM_COPIES" ] && ln -sf "$f" "$sub/"
done
bytes=$(du -sb --apparent-size "$rep" | cut -f1)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A R
for run in $(seq 1 "$RUNS"); do
  # weft load, fresh database, durable when the command returns
  db="$tmp/load.db"; rm -f "$db" "$db-wal" "$db-shm"
  "$weft" init --db "$db" >/dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$weft" load --db "$db" --org SYNTH01 --quiet "$rep" >"$tmp/out" 2>&1
  rc=$?
  [ $rc -eq 0 ] || { tail -5 "$tmp/out"; echo "weft load failed ($rc)"; exit 1; }
  n=$(grep -o '[0-9]* entries' "$tmp/out" | head -1 | cut -d' ' -f1)
  stored=$(grep -o '[0-9]* stored' "$tmp/out" | head -1 | cut -d' ' -f1)
  read -r wall user sys rss <"$tmp/t"
  R[weft_wall]+="$wall "; R[weft_cpu]+="$(echo "$user + $sys" | bc) "; R[weft_rss]+="$rss "
  dbsize=$(du -sb "$db"* | awk '{s+=$1} END {print s}')
  # parse only
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$parse" "$rep" >"$tmp/pout"
  read -r pn psecs <"$tmp/pout"
  read -r wall user sys rss <"$tmp/t"
  R[parse_wall]+="$wall "; R[parse_cpu]+="$(echo "$user + $sys" | bc) "
  # medplum, in memory, subset; and weft on the same subset (like for like)
  node bench/medplum/medplum_load.mjs "$sub" >"$tmp/mout" 2>&1 || { cat "$tmp/mout"; echo "medplum failed"; exit 1; }
  read -r mn msecs <"$tmp/mout"
  R[medplum_secs]+="$msecs "
  rm -f "$db" "$db-wal" "$db-shm"
  "$weft" init --db "$db" >/dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$weft" load --db "$db" --org SYNTH01 --quiet "$sub" >"$tmp/out" 2>&1 ||
    { tail -5 "$tmp/out"; echo "weft load (subset) failed"; exit 1; }
  read -r swall user sys rss <"$tmp/t"
  R[sub_wall]+="$swall "; R[sub_cpu]+="$(echo "$user + $sys" | bc) "
  echo "run $run: weft $(echo ${R[weft_wall]} | awk '{print $NF}')s parse $(echo ${R[parse_wall]} | awk '{print $NF}')s medplum $mn in ${msecs}s weft-subset ${swall}s" >&2
done
med() { echo "${R[$1]}" | tr ' ' '\n' | grep . | median; }
ww=$(med weft_wall); wc=$(med weft_cpu); wr=$(med weft_rss)
pw=$(med parse_wall); pc=$(med parse_cpu); ms=$(med medplum_secs)
sw=$(med sub_wall); sc=$(med sub_cpu)
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
wrate=$(rate "$n" "$ww"); wcrate=$(rate "$n" "$wc"); prate=$(rate "$n" "$pw"); pcrate=$(rate "$n" "$pc")
mrate=$(rate "$mn" "$ms"); srate=$(rate "$mn" "$sw"); scrate=$(rate "$mn" "$sc")
printf 'data: %s bundles, %s resources (%s stored, rest not shareable), %.2f GB JSON; %s runs, medians\n' \
  "$(ls "$rep" | grep -c json)" "$n" "$stored" "$(echo "$bytes / 1000000000" | bc -l)" "$RUNS"
printf '%-34s %12s %14s %14s %10s\n' "loader" "resources" "wall res/s" "CPU res/s" "peak RSS"
printf '%-34s %12s %14s %14s %8s MB\n' "weft load (SQLite, durable)" "$n" "$wrate" "$wcrate" "$((wr / 1024))"
printf '%-34s %12s %14s %14s %10s\n' "jansson parse only" "$pn" "$prate" "$pcrate" "-"
printf '%-34s %12s %14s %14s %10s\n' "weft load, Medplum's subset" "$mn" "$srate" "$scrate" "-"
printf '%-34s %12s %14s %14s %10s\n' "medplum fhir-router, in memory" "$mn" "$mrate" "-" "-"
printf 'weft/parse-only (wall): %.2f   weft/medplum on the same subset (wall): %.1fx   database: %.2f GB\n' \
  "$(echo "$wrate / $prate" | bc -l)" "$(echo "$srate / $mrate" | bc -l)" "$(echo "$dbsize / 1000000000" | bc -l)"
