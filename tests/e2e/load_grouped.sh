#!/usr/bin/env bash
# load_grouped.sh - `weft load` of a folder sends its bundles' puts to the
# store together (src/fhir/load_int.h, struct load_defer), yet must store
# exactly what loading its bundles one at a time stores.  The synthetic
# region's GP folders (weft synth --people 2000 --seed 1, split as
# bench_load_pg.sh does) are loaded twice into two databases: A, one `weft
# load --org ODS` a folder, as the region is loaded; B, the same commands but
# for the folders where A's batching had to step aside (a bundle that merged
# persons while others were held, a run loaded again) and a folder with two
# bundles refused in the middle of it, whose files B loads one `weft load`
# each (a group of one bundle: nothing held).  Then every table that a load
# writes is compared (bench/region_rows.py: resources with their seqs,
# persons by NHS number, local identifiers, identity records, reviews,
# merges, terms, the search index by (param, value, seq)), and the
# rejections and counts printed.  The refused bundles (and a copy of the
# refused transaction in the second folder): a transaction whose
# Observation names a Patient nobody sent (rejected whole: its Patient not
# stored) and a batch with one such entry (the other stored); the bundles
# after them in the folder stored.
# D: the region in one command again with --jobs 3 (three threads, each with
# its own connection, taking the folders in turn): the same rejections in the
# same order, the same counts, and the same rows as C's but for the order of
# writes (region_rows.py --no-seq: seqs replaced by id and version).  E: a
# store failure in one folder of a --jobs 2 load (a trigger refuses one
# resource): exit 1, the failure and the folders not loaded named, the
# counts printed are what is stored, later folders not loaded.
# weft-test-backends: sqlite postgres
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
root="${WEFT_ROOT:?}"
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }

if [ -n "${WEFT_TEST_DB:-}" ]; then
  dba=$WEFT_TEST_DB
  dbb=$("$root/tests/pg-cluster.sh" createdb "${WEFT_TEST_PG_DIR:?}" "lg_b_$$") || fail "createdb"
  dbc=$("$root/tests/pg-cluster.sh" createdb "${WEFT_TEST_PG_DIR:?}" "lg_c_$$") || fail "createdb"
  dbd=$("$root/tests/pg-cluster.sh" createdb "${WEFT_TEST_PG_DIR:?}" "lg_d_$$") || fail "createdb"
  dbe=$("$root/tests/pg-cluster.sh" createdb "${WEFT_TEST_PG_DIR:?}" "lg_e_$$") || fail "createdb"
else
  dba=$tmp/a.db dbb=$tmp/b.db dbc=$tmp/c.db dbd=$tmp/d.db dbe=$tmp/e.db
fi

"$bin" synth --people 2000 --seed 1 --out "$tmp/region" --quiet 2>/dev/null || fail "synth"
$py "$root/bench/scale_region.py" "$tmp/region" "$tmp/split" >/dev/null || fail "split"
bulk=$tmp/split/bulk
[ "$(ls "$bulk" | wc -l)" -ge 40 ] || fail "expected the region's GP folders in $bulk"

# two refused bundles in the middle of the first folder
crafted=$(ls "$bulk" | head -1)
files=($(ls "$bulk/$crafted"))
[ "${#files[@]}" -ge 10 ] || fail "folder $crafted has ${#files[@]} files"
mid=${files[$((${#files[@]} / 2))]}
mid=${mid%.json}
next=${files[$((${#files[@]} / 2 + 1))]}
cat >"$bulk/$crafted/${mid}a-refused.json" <<'EOF'
{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:lg-refused-p","resource":{"resourceType":"Patient","id":"lg-refused-p",
  "name":[{"family":"Refused","given":["Grouped"]}]},"request":{"method":"POST","url":"Patient"}},
 {"resource":{"resourceType":"Observation","id":"lg-refused-o","status":"final",
  "code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},
  "subject":{"reference":"Patient/lg-nobody"}},"request":{"method":"POST","url":"Observation"}}]}
EOF
cat >"$bulk/$crafted/${mid}b-partial.json" <<'EOF'
{"resourceType":"Bundle","type":"batch","entry":[
 {"resource":{"resourceType":"Observation","id":"lg-partial-bad","status":"final",
  "code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},
  "subject":{"reference":"Patient/lg-nobody"}},"request":{"method":"POST","url":"Observation"}},
 {"fullUrl":"urn:uuid:lg-partial-p","resource":{"resourceType":"Patient","id":"lg-partial-p",
  "name":[{"family":"Partial","given":["Grouped"]}]},"request":{"method":"POST","url":"Patient"}}]}
EOF

# and one in the second folder: --jobs loads the two folders at once, yet
# must list the first folder's rejections first
crafted2=$(ls "$bulk" | sed -n 2p)
sed 's/lg-refused-/lg-refused2-/g' "$bulk/$crafted/${mid}a-refused.json" >"$bulk/$crafted2/0000000-refused2.json"

setup_db() {
  "$bin" init --db "$1" >/dev/null || fail "init $1"
  mkdir -p "$tmp/reg$2"
  "$bin" synth register --db "$1" --in "$tmp/region" --drop-root "$tmp/reg$2/drop" \
    --credentials "$tmp/reg$2/credentials.json" >/dev/null || fail "register $1"
}
# load DB OUT ARGS...: weft load, its rejections and counts appended to OUT
load() {
  local db=$1 out=$2
  shift 2
  "$bin" load --db "$db" --quiet --log-level debug "$@" >"$tmp/o" 2>"$tmp/e"
  grep -q ' entries in ' "$tmp/o" || { cat "$tmp/o" "$tmp/e"; fail "load $*"; }
  grep '^rejected: ' "$tmp/o" | sed 's#//*#/#g' >>"$out.rej"
  grep -o '[0-9]* stored, [0-9]* updated, [0-9]* unchanged, [0-9]* rejected, [0-9]* not shareable; [0-9]* persons linked' \
    "$tmp/o" >>"$out.counts"
}

# A: a command a folder; note the folders where batching stepped aside
setup_db "$dba" a
: >"$tmp/a.rej"
: >"$tmp/a.counts"
: >"$tmp/aside"
for d in "$bulk"/*/; do
  ods=$(basename "$d")
  load "$dba" "$tmp/a" --jobs 1 --org "$ods" "$d"
  line=$(grep -o 'batched puts: .*' "$tmp/e") || fail "no debug line for $ods: $(cat "$tmp/e")"
  case $line in
  *" 0 bundles retried, 0 runs loaded again"*) [ "$ods" = "$crafted" ] || [ "$ods" = "$crafted2" ] && echo "$ods" >>"$tmp/aside" ;;
  *) echo "$ods" >>"$tmp/aside"; echo "$ods: $line" >>"$tmp/aside.why" ;;
  esac
done
[ -s "$tmp/aside.why" ] || fail "no folder merged persons while bundles were held: the test no longer covers that"
grep -q "bundles retried" "$tmp/aside.why" || fail "aside.why"

# B: the same, but the folders of A's aside list a file per command
setup_db "$dbb" b
: >"$tmp/b.rej"
: >"$tmp/b.counts"
for d in "$bulk"/*/; do
  ods=$(basename "$d")
  if grep -qx "$ods" "$tmp/aside"; then
    for f in "$d"*.json; do load "$dbb" "$tmp/b" --jobs 1 --org "$ods" "$f"; done
  else
    load "$dbb" "$tmp/b" --jobs 1 --org "$ods" "$d"
  fi
done

# C: the whole region in one command, each folder as its organisation's
setup_db "$dbc" c
: >"$tmp/c.rej"
: >"$tmp/c.counts"
load "$dbc" "$tmp/c" --org-dirs --jobs 1 "$bulk"/*/
cmp -s "$tmp/a.rej" "$tmp/c.rej" || { diff "$tmp/a.rej" "$tmp/c.rej" | head; fail "--org-dirs: rejections differ"; }
"$bin" load --db "$dbc" --org-dirs "$tmp/region" >"$tmp/o" 2>&1
[ $? -eq 2 ] && grep -q "folder '$tmp/region' is not named by an ODS code" "$tmp/o" || fail "--org-dirs, a folder not named by an ODS code: $(cat "$tmp/o")"
"$bin" load --db "$dbc" --org-dirs --org A81001 "$bulk/$crafted" >"$tmp/o" 2>&1
[ $? -eq 2 ] && grep -q -- "--org and --org-dirs exclude each other" "$tmp/o" || fail "--org with --org-dirs: $(cat "$tmp/o")"

# the same rejections, in the same order, and the same sums
cmp -s "$tmp/a.rej" "$tmp/b.rej" || { diff "$tmp/a.rej" "$tmp/b.rej" | head; fail "rejections differ"; }
sum() { awk '{for (i = 1; i <= NF; i += 2) s[i] += $i} END {for (i = 1; i <= NF; i += 2) printf "%d ", s[i]; print ""}' "$1"; }
[ "$(sum "$tmp/a.counts")" = "$(sum "$tmp/b.counts")" ] ||
  fail "counts differ: A $(sum "$tmp/a.counts") B $(sum "$tmp/b.counts")"
[ "$(sum "$tmp/a.counts")" = "$(sum "$tmp/c.counts")" ] ||
  fail "--org-dirs: counts differ: A $(sum "$tmp/a.counts") C $(sum "$tmp/c.counts")"
grep -q "${mid}a-refused.json: entry 1 (Observation): .*lg-nobody" "$tmp/a.rej" ||
  fail "the refused transaction's reason: $(grep refused "$tmp/a.rej")"
grep -q "${mid}a-refused.json: entry 0 (Patient): not stored: the transaction failed at entry 1" "$tmp/a.rej" ||
  fail "the refused transaction's Patient: $(grep refused "$tmp/a.rej")"
[ "$(grep -c "${mid}b-partial.json" "$tmp/a.rej")" = 1 ] || fail "the partial batch: $(grep partial "$tmp/a.rej")"
[ "$(grep -n "$crafted2/0000000-refused2.json: entry 1 (Observation)" "$tmp/a.rej" | cut -d: -f1)" -gt \
  "$(grep -n "${mid}b-partial.json" "$tmp/a.rej" | cut -d: -f1)" ] ||
  fail "the second folder's refused transaction is not after the first folder's: $(cat "$tmp/a.rej")"

# the same rows
$py "$root/bench/region_rows.py" "$dba" "$tmp/rows-a" >"$tmp/a.sum" || fail "rows A"
$py "$root/bench/region_rows.py" "$dbb" "$tmp/rows-b" >"$tmp/b.sum" || fail "rows B"
$py "$root/bench/region_rows.py" "$dbc" "$tmp/rows-c" >"$tmp/c.sum" || fail "rows C"
for t in "$tmp"/rows-a/*.txt; do
  for x in b c; do
    cmp -s "$t" "$tmp/rows-$x/$(basename "$t")" ||
      { diff "$t" "$tmp/rows-$x/$(basename "$t")" | head -5; fail "$x: $(basename "$t" .txt) differs"; }
  done
done
grep -q "^person_merge  *0 " "$tmp/a.sum" && fail "no persons merged"

# D: --jobs 3 against C (one thread): the same output, the same rows but seqs
setup_db "$dbd" d
: >"$tmp/d.rej"
: >"$tmp/d.counts"
load "$dbd" "$tmp/d" --org-dirs --jobs 3 "$bulk"/*/
cp "$tmp/o" "$tmp/d.out"
"$bin" load --db "$dbc" --quiet --org-dirs --jobs 1 "$bulk"/*/ >"$tmp/c.again" 2>&1
"$bin" load --db "$dbd" --quiet --org-dirs --jobs 3 "$bulk"/*/ >"$tmp/d.again" 2>&1
cmp -s "$tmp/c.rej" "$tmp/d.rej" || { diff "$tmp/c.rej" "$tmp/d.rej" | head; fail "--jobs 3: rejections differ"; }
[ "$(cat "$tmp/c.counts")" = "$(cat "$tmp/d.counts")" ] ||
  fail "--jobs 3: counts differ: C $(cat "$tmp/c.counts") D $(cat "$tmp/d.counts")"
grep -q "${mid}a-refused.json: entry 1 (Observation)" "$tmp/d.rej" ||
  fail "--jobs 3: the refused transaction: $(head -3 "$tmp/d.rej")"
# loading it all again: every entry unchanged, the same summary either way
strip() { sed -e 's/ in [0-9.]* s ([0-9]*\/s)//' "$1"; }
[ "$(strip "$tmp/c.again")" = "$(strip "$tmp/d.again")" ] ||
  { diff <(strip "$tmp/c.again") <(strip "$tmp/d.again") | head; fail "--jobs 3: the reload's output differs"; }
grep -q " 0 stored, 0 updated, " "$tmp/d.again" || fail "--jobs 3 reload stored something: $(tail -1 "$tmp/d.again")"
$py "$root/bench/region_rows.py" --no-seq "$dbc" "$tmp/rows-cn" >/dev/null || fail "rows C --no-seq"
$py "$root/bench/region_rows.py" --no-seq "$dbd" "$tmp/rows-dn" >/dev/null || fail "rows D --no-seq"
for t in "$tmp"/rows-cn/*.txt; do
  cmp -s "$t" "$tmp/rows-dn/$(basename "$t")" ||
    { diff "$t" "$tmp/rows-dn/$(basename "$t")" | head -5; fail "--jobs 3: $(basename "$t" .txt) differs"; }
done

# E: a store failure in one folder (the one at two thirds of the list) stops
# the others taking more: exit 1, the failure and the folders not loaded named
setup_db "$dbe" e
folders=($(ls "$bulk"))
failing=${folders[$((${#folders[@]} * 2 / 3))]}
victim=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["entry"][0]["resource"]["id"])' \
  "$(ls "$bulk/$failing"/*.json | head -1)") || fail "victim"
if [ -n "${WEFT_TEST_DB:-}" ]; then
  psql "$dbe" -XAtq -v ON_ERROR_STOP=1 -c "CREATE FUNCTION lg_fail() RETURNS trigger LANGUAGE plpgsql AS
    \$\$ BEGIN IF NEW.source_id = '$victim' THEN RAISE EXCEPTION 'lg: injected failure'; END IF;
    RETURN NEW; END \$\$;
    CREATE TRIGGER lg_fail BEFORE INSERT ON resource FOR EACH ROW EXECUTE FUNCTION lg_fail()" || fail "trigger"
else
  sqlite3 "$dbe" "CREATE TRIGGER lg_fail BEFORE INSERT ON resource WHEN NEW.source_id = '$victim'
    BEGIN SELECT RAISE(ABORT, 'lg: injected failure'); END" || fail "trigger"
fi
"$bin" load --db "$dbe" --quiet --org-dirs --jobs 2 "$bulk"/*/ >"$tmp/e.out" 2>"$tmp/e.err"
rc=$?
[ $rc = 1 ] || fail "a store failure: exit $rc: $(cat "$tmp/e.out" "$tmp/e.err")"
grep -q "weft load: stopped: .*injected failure" "$tmp/e.err" && grep -q "(loading $bulk/$failing/; " "$tmp/e.err" ||
  fail "the failure not named: $(cat "$tmp/e.err")"
grep -q "weft load: not loaded (not started when the load stopped): [0-9]* of ${#folders[@]} folders: " "$tmp/e.err" ||
  fail "the folders not loaded not named: $(cat "$tmp/e.err")"
last=${folders[$((${#folders[@]} - 1))]}
grep -q " $bulk/$last/" "$tmp/e.err" || fail "the last folder is not among those not loaded: $(cat "$tmp/e.err")"
$py "$root/bench/region_rows.py" --no-seq "$dbe" "$tmp/rows-e" >/dev/null || fail "rows E"
counted=$(grep -o '[0-9]* stored, [0-9]* updated' "$tmp/e.out" | awk '{print $1 + $3}')
[ "$counted" = "$(wc -l <"$tmp/rows-e/resource.txt")" ] ||
  fail "the counts say $counted stored, the store holds $(wc -l <"$tmp/rows-e/resource.txt") versions"
cut -f7 "$tmp/rows-e/resource.txt" | grep -qx "$last" && fail "the last folder was loaded after the failure"
cut -f7 "$tmp/rows-e/resource.txt" | grep -qx "${folders[0]}" || fail "the first folder was not loaded"
# the refused bundle left nothing, the partial one its Patient, the next file all of it
cut -f8 "$tmp/rows-a/resource.txt" >"$tmp/sids"
grep -qx "lg-refused-p" "$tmp/sids" && fail "the refused transaction's Patient was stored"
grep -qx "lg-partial-p" "$tmp/sids" || fail "the partial batch's Patient was not stored"
$py - "$bulk/$crafted/$next" "$tmp/sids" <<'PY' || fail "the file after the refused ones"
import json, sys
b = json.load(open(sys.argv[1]))
want = {e["resource"]["id"] for e in b["entry"]}
have = set(open(sys.argv[2]).read().split())
missing = want - have
assert not missing, f"not stored: {sorted(missing)}"
PY
echo "PASS: --jobs 3 as --jobs 1; a failure in $failing stopped the load: $(grep -o '[0-9]* of [0-9]* folders' "$tmp/e.err");"
echo "PASS: $(ls "$bulk" | wc -l) folders, $(wc -l <"$tmp/aside") loaded a file a command in B ($(wc -l <"$tmp/aside.why") where batching stepped aside), $(wc -l <"$tmp/a.rej") rejections; $(tr '\n' ' ' <"$tmp/a.sum" | tr -s ' ')"
