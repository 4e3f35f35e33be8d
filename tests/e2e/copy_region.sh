#!/usr/bin/env bash
# copy_region.sh - weft copy: a loaded region (resources with version
# histories, persons, a person merge, feeds, clients, a launcher, the audit
# log, a national data opt-out list and a secondary output) copied from SQLite into another store - PostgreSQL when the run has
# one (WEFT_TEST_DB), else a second SQLite file - and back into SQLite:
# every table compared equal (rows and content digest), `weft audit verify`
# passing on each copy, the same files loaded again into the copy all
# "unchanged" (same ids, same content digests), new data loaded into the
# copy (its sequences moved past the copied rows), a non-empty target and
# bad options refused.
# weft-test-backends: sqlite postgres
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
root="${WEFT_ROOT:?}"
fail() { echo "FAIL: $*"; exit 1; }

src="sqlite:$tmp/src.db"
if [ -n "${WEFT_TEST_DB:-}" ]; then mid=$WEFT_TEST_DB; else mid="sqlite:$tmp/mid.db"; fi
back="sqlite:$tmp/back.db"

"$bin" copy --help | grep -q "usage: weft copy --from URL --to URL" || fail "copy --help"
"$bin" --help | grep -q "^  copy " || fail "weft --help does not list copy"
"$bin" copy --from "$src" >"$tmp/o" 2>&1; [ $? -eq 2 ] && grep -q -- "--to URL is required" "$tmp/o" || fail "copy without --to"

"$bin" init --db "$src" >/dev/null || fail "init source"
for f in gp-A81001 gp-A81002 hospital-RVV; do
  org=${f#*-}
  "$bin" load --db "$src" --org "$org" --quiet "$root/sample/$f.json" >/dev/null || fail "load $f"
done
# a second version of some resources: the same files with one change each
/usr/bin/python3 - "$root/sample/gp-A81001.json" "$tmp/v2.json" <<'PY' || fail "make v2"
import json, sys
b = json.load(open(sys.argv[1]))
n = 0
for e in b["entry"]:
    r = e["resource"]
    if r["resourceType"] in ("Observation", "Condition") and n < 5:
        r.setdefault("note", []).append({"text": "amended"})
        n += 1
json.dump(b, open(sys.argv[2], "w"))
PY
"$bin" load --db "$src" --org A81001 --quiet "$tmp/v2.json" | grep -q " 5 updated" || fail "second versions"
for o in A81001 A81002 RVV; do
  "$bin" org add --db "$src" --ods $o --name "Org $o" --type gp >/dev/null 2>&1 || fail "org add $o"
done
"$bin" org agreement --db "$src" --ods A81001 --kind dpa --from 2020-01-01 >/dev/null 2>&1 || fail "agreement"
"$bin" client add --db "$src" --name "GP system" --org A81001 >/dev/null 2>&1 || fail "client add"
"$bin" feed add --db "$src" --org RVV --kind hl7v2 --facility RVV_PAS >/dev/null 2>&1 || fail "feed add hl7v2"
"$bin" feed add --db "$src" --org A81002 --kind fhir >/dev/null 2>&1 || fail "feed add fhir"
head -c 48 /dev/urandom | base64 >"$tmp/secret"
"$bin" launcher add --db "$src" --name emis --org A81001 --issuer https://emis.example \
  --alg HS256 --secret-file "$tmp/secret" >/dev/null 2>&1 || fail "launcher add"
"$bin" person export --db "$src" >"$tmp/persons.csv" 2>/dev/null || true
# a national data opt-out list and a secondary output counted against it
# (its counted set is a blob: bytea on PostgreSQL)
/usr/bin/python3 - "$root/sample/gp-A81001.json" "$tmp/cleared.txt" <<'PY' || fail "make cleared list"
import json, sys
b = json.load(open(sys.argv[1]))
nums = [i["value"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient"
        for i in e["resource"].get("identifier", []) if "nhs-number" in i.get("system", "")]
open(sys.argv[2], "w").write("\n".join(nums) + "\n")
PY
"$bin" optout import --db "$src" --cleared "$tmp/cleared.txt" --checked "$(date -u +%F)" >/dev/null 2>&1 \
  || fail "optout import"
"$bin" analytics secondary --db "$src" --output population >/dev/null 2>"$tmp/o" || { cat "$tmp/o"; fail "secondary output"; }

"$bin" init --db "$mid" >/dev/null || fail "init target"
"$bin" copy --from "$src" --to "$mid" >"$tmp/copy1" 2>&1 || { cat "$tmp/copy1"; fail "copy exit $?"; }
grep -q "all the same" "$tmp/copy1" || { cat "$tmp/copy1"; fail "copy did not compare equal"; }
grep -q "DIFFERENT" "$tmp/copy1" && fail "a table differs"
for t in resource resource_term person person_local org agreement feed client launcher audit_entry policy_version \
  optout_list optout_cleared analytics_output; do
  line=$(grep "^$t " "$tmp/copy1") || fail "no line for $t"
  set -- $line
  [ "$2" = "$3" ] || fail "$t: $2 rows from, $3 to"
  [ "$4" = "$5" ] || fail "$t: digests $4 $5"
  case $t in resource|person|org|agreement|feed|client|launcher|audit_entry|optout_*|analytics_output) [ "$2" -gt 0 ] || fail "$t copied nothing";; esac
done
"$bin" audit verify --db "$mid" >"$tmp/av" 2>&1 || { cat "$tmp/av"; fail "audit verify on the copy"; }
grep -q "audit log intact" "$tmp/av" || fail "audit verify output"
grep -q "copy from" <("$bin" audit list --db "$mid" --limit 5 2>/dev/null) || echo "note: copy entry not shown by audit list"
"$bin" feed list --db "$mid" | grep -q RVV_PAS || fail "feed not on the copy"
"$bin" launcher list --db "$mid" | grep -q emis || fail "launcher not on the copy"
# the opt-out list and the output's counted set arrived whole: the compliance
# report reads both and finds nobody counted outside the list
"$bin" analytics compliance --db "$mid" >"$tmp/comp" 2>&1 || { cat "$tmp/comp"; fail "compliance on the copy"; }
tail -1 "$tmp/comp" | grep -qE ",population,.*,0$" || { cat "$tmp/comp"; fail "compliance row on the copy"; }

# the same files again: nothing new (same ids, same digests)
out=$("$bin" load --db "$mid" --org A81002 --quiet "$root/sample/gp-A81002.json") || fail "reload"
echo "$out" | grep -q " 0 stored, 0 updated" || fail "reload into the copy stored something: $out"
# new data: new rows get new sequence numbers and ids
out=$("$bin" load --db "$mid" --org A81003 --quiet "$root/sample/gp-A81003.json") || fail "new load into the copy: $out"
echo "$out" | grep -qE " [1-9][0-9]* stored" || fail "new load stored nothing: $out"
"$bin" audit verify --db "$mid" >/dev/null 2>&1 || fail "audit verify after writing to the copy"

# weft backup makes SQLite files: on PostgreSQL it refuses and names PostgreSQL's tools
if [ -n "${WEFT_TEST_DB:-}" ]; then
  "$bin" backup --db "$mid" --out "$tmp/pg.bak" >"$tmp/o" 2>&1; [ $? -eq 1 ] || fail "backup of PostgreSQL exit"
  grep -q "pg_basebackup" "$tmp/o" || { cat "$tmp/o"; fail "backup refusal does not name pg_basebackup"; }
  [ ! -e "$tmp/pg.bak" ] || fail "backup of PostgreSQL wrote a file"
fi

# a non-empty target is refused, and nothing is written
"$bin" copy --from "$src" --to "$mid" >"$tmp/o" 2>&1; [ $? -eq 1 ] || fail "copy into a non-empty store exit"
grep -q "the target is not empty" "$tmp/o" || { cat "$tmp/o"; fail "non-empty message"; }

# and back into SQLite
"$bin" init --db "$back" >/dev/null || fail "init back"
"$bin" copy --from "$mid" --to "$back" >"$tmp/copy2" 2>&1 || { cat "$tmp/copy2"; fail "copy back"; }
grep -q "all the same" "$tmp/copy2" || fail "copy back not equal"
"$bin" audit verify --db "$back" >/dev/null 2>&1 || fail "audit verify on the copy back"
# the copy back holds the source's versions plus what was loaded into the copy
r1=$(grep "^resource " "$tmp/copy1" | awk '{print $2}'); r2=$(grep "^resource " "$tmp/copy2" | awk '{print $3}')
added=$(echo "$out" | grep -oE " [0-9]+ stored" | grep -oE "[0-9]+")
[ "$r2" -eq $((r1 + added)) ] || fail "copy back: $r2 versions, want $r1 + $added"
# the search index's posting lists (SQLite: varint bytes; PostgreSQL: an
# array) arrive as the same lists: every list of the source is in the copy
# back byte for byte, lists of several seqs among them
if command -v sqlite3 >/dev/null; then
  q="ATTACH '${src#sqlite:}' AS s; ATTACH '${back#sqlite:}' AS b;"
  multi=$(sqlite3 ":memory:" "$q SELECT count(*) FROM s.search_index WHERE length(seqs) > 0")
  lost=$(sqlite3 ":memory:" "$q SELECT count(*) FROM (SELECT param, value, first_seq, seqs
    FROM s.search_index EXCEPT SELECT param, value, first_seq, seqs FROM b.search_index)")
  [ "${multi:-0}" -gt 0 ] || fail "the source has no posting list of several seqs to copy"
  [ "$lost" = 0 ] || fail "$lost posting lists of the source differ in the copy back"
fi
echo "PASS copy_region"
