#!/usr/bin/env bash
# load_bad_inputs.sh - each bad input gets a clear error naming the file and
# entry (or line), exit status 1, and loses nothing already stored:
# truncated JSON, a broken reference, a resource without resourceType, a
# 10 MB string field, non-UTF-8 bytes; an invalid NHS number is stored,
# flagged and not linked.  Also: usage errors and a missing database.
# On PostgreSQL too (WEFT_TEST_DB; rows read with api_harness.db_rows: psql).
# weft-test-backends: sqlite postgres
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
root="${WEFT_ROOT:?}"
db="${WEFT_TEST_DB:-$tmp/bad.db}"
fail() { echo "FAIL: $*"; exit 1; }
py=/usr/bin/python3
# python with db_rows (tests/e2e/lib/api_harness.py): the rows from SQLite or PostgreSQL
lib="import sys; sys.path.insert(0, '$root/tests/e2e/lib'); from api_harness import db_rows"

"$bin" init --db "$db" >/dev/null || fail init
"$bin" load --db "$db" --org A81001 "$root/sample/gp-A81001.json" >"$tmp/good.txt" 2>&1 || { cat "$tmp/good.txt"; fail "good load"; }
snapshot() { $py -c "$lib; import hashlib; print(hashlib.sha256(repr(db_rows(sys.argv[1], 'select seq,id,version,json,person_id from resource where seq<=? order by seq',(int(sys.argv[2]),))).encode()).hexdigest())" "$db" "$1"; }
maxseq=$($py -c "$lib; print(db_rows(sys.argv[1], 'select max(seq) from resource')[0][0])" "$db")
[ "$maxseq" -gt 10 ] || fail "sample load stored only $maxseq"
before=$(snapshot "$maxseq")
count() { $py -c "$lib; print(db_rows(sys.argv[1], 'select count(*) from resource')[0][0])" "$db"; }
n0=$(count)

# expect_reject NAME FILE PATTERN...: exit 1 and every pattern in the output
expect_reject() {
  local name=$1 file=$2; shift 2
  "$bin" load --db "$db" --org A81001 "$file" >"$tmp/$name.out" 2>&1
  local rc=$?
  [ $rc -eq 1 ] || { cat "$tmp/$name.out"; fail "$name: exit $rc, want 1"; }
  for pat in "$@"; do
    grep -q -- "$pat" "$tmp/$name.out" || { cat "$tmp/$name.out"; fail "$name: output lacks '$pat'"; }
  done
  grep '^rejected:' "$tmp/$name.out" | head -3
}

# 1. truncated JSON
head -c 3000 "$root/sample/gp-A81001.json" >"$tmp/truncated.json"
expect_reject truncated "$tmp/truncated.json" "truncated.json" "invalid JSON at line"

# 2. a bundle with a broken reference (transaction: nothing from it stored)
cat >"$tmp/broken-ref.json" <<'J'
{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:11111111-0000-4000-8000-000000000001","resource":{"resourceType":"Condition","id":"bad-ref-1","code":{"text":"Asthma"},
  "subject":{"reference":"urn:uuid:99999999-0000-4000-8000-000000000009"}},"request":{"method":"POST","url":"Condition"}},
 {"resource":{"resourceType":"Goal","id":"bad-ref-2","description":{"text":"x"}},"request":{"method":"POST","url":"Goal"}}]}
J
expect_reject broken-ref "$tmp/broken-ref.json" "broken-ref.json: entry 0 (Condition)" \
  "urn:uuid:99999999-0000-4000-8000-000000000009" "entry 1 (Goal): not stored: the transaction failed at entry 0"

# 3. a resource without resourceType
cat >"$tmp/no-type.json" <<'J'
{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"id":"nt-1","status":"final"}}]}
J
expect_reject no-type "$tmp/no-type.json" "no-type.json: entry 0" "no resourceType"

# 4. a 10 MB string field
$py - "$tmp/big.json" <<'PY'
import json, sys
b = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"resourceType": "DocumentReference",
     "id": "big-1", "status": "current", "description": "x" * (10 * 1024 * 1024)}}]}
json.dump(b, open(sys.argv[1], "w"))
PY
expect_reject big "$tmp/big.json" "big.json: entry 0 (DocumentReference)" "MB limit"

# 5. non-UTF-8 bytes
printf '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Goal","id":"u1","description":{"text":"caf\xe9"}}}]}' >"$tmp/latin1.json"
expect_reject latin1 "$tmp/latin1.json" "latin1.json" "invalid JSON" "decode byte"

# 6. NDJSON with one bad line: the others stored, the line named
printf '{"resourceType":"Goal","id":"nd-1"}\n{"resourceType":"Goal","id":\n{"resourceType":"Goal","id":"nd-3"}\n' >"$tmp/lines.ndjson"
expect_reject ndjson "$tmp/lines.ndjson" "lines.ndjson: line 2" "invalid JSON"

# nothing stored before changed; only the two good NDJSON lines were added
after=$(snapshot "$maxseq")
[ "$before" = "$after" ] || fail "stored data changed by rejected input"
n1=$(count)
[ "$n1" -eq $((n0 + 2)) ] || fail "row count $n0 -> $n1, want +2 (the good NDJSON lines)"

# 7. an invalid NHS number: stored, flagged, never linked
cat >"$tmp/nhs.json" <<'J'
{"resourceType":"Bundle","type":"batch","entry":[
 {"resource":{"resourceType":"Patient","id":"typo-1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765918"}],
  "name":[{"family":"Example","given":["Typo"]}]}}]}
J
"$bin" load --db "$db" --org A81001 "$tmp/nhs.json" >"$tmp/nhs.out" 2>&1 || { cat "$tmp/nhs.out"; fail "invalid NHS load exit $?"; }
grep -q "1 invalid NHS numbers" "$tmp/nhs.out" || { cat "$tmp/nhs.out"; fail "invalid NHS number not reported"; }
$py - "$db" "$root" <<'PY' || fail "invalid NHS number check"
import sys, json, hashlib
sys.path.insert(0, sys.argv[2] + "/tests/e2e/lib")
from api_harness import db_rows
db = sys.argv[1]
wid = hashlib.sha256("A81001\x1fPatient\x1ftypo-1".encode()).hexdigest()[:32]
j, person = db_rows(db, "select json, person_id from resource where id=?", (wid,))[0]
r = json.loads(j)
assert r["identifier"][0]["value"] == "9434765918", "number not kept as sent"
assert any(t.get("code") == "invalid-nhs-number" for t in r["meta"]["tag"]), "not flagged"
nhs = db_rows(db, "select nhs from person where id=?", (person,))[0][0]
assert nhs is None, "linked by an invalid NHS number"
assert db_rows(db, "select count(*) from person where nhs='9434765918'")[0][0] == 0
print("invalid NHS number kept, flagged, not linked")
PY

# usage errors: exit 2 and say what is missing
"$bin" load --db "$db" "$tmp/nhs.json" >"$tmp/u1" 2>&1; [ $? -eq 2 ] && grep -q -- "--org" "$tmp/u1" || fail "missing --org"
"$bin" load --db "$db" --org a81001 "$tmp/nhs.json" >"$tmp/u2" 2>&1; [ $? -eq 2 ] && grep -q "ODS" "$tmp/u2" || fail "bad --org"
"$bin" load --db "$tmp/none.db" --org A81001 "$tmp/nhs.json" >"$tmp/u3" 2>&1; [ $? -eq 1 ] && grep -q "none.db" "$tmp/u3" || { cat "$tmp/u3"; fail "missing db"; }
"$bin" load --db "$db" --org A81001 "$tmp/does-not-exist" >"$tmp/u4" 2>&1; [ $? -eq 1 ] && grep -q "does-not-exist" "$tmp/u4" || fail "missing file"
"$bin" load --help | grep -q "usage: weft load" || fail "load --help"
echo "ok"
