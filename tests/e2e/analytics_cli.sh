#!/usr/bin/env bash
# weft-test-backends: sqlite postgres
# analytics_cli.sh - secondary uses from the command line (docs/ANALYTICS.md):
# no output without an opt-out list; a bad list refused whole, naming lines;
# only cleared people counted, small numbers suppressed; an expired list
# stops every output, saying why; the compliance report; the analyst role.
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
fail() { echo "FAIL: $*"; exit 1; }
db=${WEFT_TEST_DB:-$tmp/a.db} # a fresh PostgreSQL database under --backend postgres
case "$db" in
postgres*) sql() { psql "$db" -XAtq -v ON_ERROR_STOP=1 -c "$1"; } ;;
*) sql() { sqlite3 "$db" "$1"; } ;;
esac
"$bin" init --db "$db" >/dev/null || fail "init"

# 40 people of practice G1, all 70 years old on 2026-11-01; 30 of them cleared
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
def nhs(k):
    base = 450000000 + k * 13
    while True:
        d = "%09d" % base
        c = 11 - sum(int(x) * (10 - i) for i, x in enumerate(d)) % 11
        c = 0 if c == 11 else c
        if c != 10:
            return d + str(c)
        base += 1
nums = [nhs(k) for k in range(40)]
entries = [{"resource": {"resourceType": "Patient", "id": "p%d" % i,
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": n}],
    "name": [{"family": "Fam%d" % i, "given": ["G"]}], "birthDate": "1956-01-01",
    "generalPractitioner": [{"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "G81001"}}]}}
    for i, n in enumerate(nums)]
json.dump({"resourceType": "Bundle", "type": "collection", "entry": entries}, open(tmp + "/b.json", "w"))
open(tmp + "/cleared.txt", "w").write("\n".join(nums[:30]) + "\n")
open(tmp + "/bad.txt", "w").write(nums[0] + "\n12345\n" + nums[1] + "\n")
PY
"$bin" load --db "$db" --org G81001 "$tmp/b.json" >/dev/null 2>&1 || fail "load"

"$bin" analytics secondary --db "$db" --output population --as-of 2026-11-01 >"$tmp/o" 2>"$tmp/e"
[ $? -eq 1 ] || fail "an output ran with no opt-out list"
grep -q "no national data opt-out list has been loaded" "$tmp/e" || { cat "$tmp/e"; fail "refusal does not say why"; }
[ -s "$tmp/o" ] && fail "refused output printed something"

today=$(date -u +%F)
"$bin" optout import --db "$db" --cleared "$tmp/bad.txt" --checked "$today" >"$tmp/o" 2>"$tmp/e"
[ $? -eq 1 ] || fail "a list with a bad line was loaded"
grep -q "line 2: '12345' is not a valid NHS number" "$tmp/e" || { cat "$tmp/e"; fail "bad line not named"; }
"$bin" optout import --db "$db" --cleared "$tmp/cleared.txt" --checked "$today" >"$tmp/o" 2>"$tmp/e" \
  || { cat "$tmp/e"; fail "import"; }
grep -q "30 NHS numbers cleared" "$tmp/o" || { cat "$tmp/o"; fail "import count"; }

"$bin" analytics secondary --db "$db" --output population --as-of 2026-11-01 >"$tmp/o" 2>"$tmp/e" \
  || { cat "$tmp/e"; fail "population"; }
grep -qx "G81001,0,0,30,0,0,0,30" "$tmp/o" || { cat "$tmp/o"; fail "population: 30 cleared people expected in 65-74"; }
grep -q "30 people counted, 10 not cleared" "$tmp/e" || { cat "$tmp/e"; fail "counts on stderr"; }

"$bin" analytics compliance --db "$db" >"$tmp/c" 2>"$tmp/e" || { cat "$tmp/c" "$tmp/e"; fail "compliance"; }
tail -1 "$tmp/c" | grep -q ",population,.*,30,10,0$" || { cat "$tmp/c"; fail "compliance row"; }

# time passes: the list in force is past its last day
sql "UPDATE optout_list SET expires = '2000-01-31'" >/dev/null || fail "setting the list's expiry back"
"$bin" analytics secondary --db "$db" --output population >"$tmp/o" 2>"$tmp/e"
[ $? -eq 1 ] || fail "an output ran on an expired list"
grep -q "expired on 2000-01-31" "$tmp/e" || { cat "$tmp/e"; fail "expiry refusal does not say why"; }

"$bin" policy check --db "$db" --role ANALYST --category results >/dev/null && fail "analyst sees results"
"$bin" policy check --db "$db" --role ANALYST --capability secondary-use >/dev/null || fail "analyst lacks secondary-use"
"$bin" policy check --db "$db" --role R8006 --capability secondary-use >/dev/null && fail "receptionist has secondary-use"
echo "ok"
