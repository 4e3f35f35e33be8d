#!/usr/bin/env bash
# load_synthea.sh - weft init + weft load of all Synthea R4 bundles with the
# sanitized binary: per-type counts equal what the files hold (counted
# independently with python3), every stored resource's content is intact
# (references rewritten to the derived ids, nothing else changed), every
# patient-bound item is linked to its patient's person, and reloading is a
# no-op.  On PostgreSQL too (WEFT_TEST_DB; the rows read with psql): there
# the load goes through the batch put (weft_resource_put_many).
# weft-test-backends: sqlite postgres
set -u
data="${WEFT_DATA:-}/synthea-r4"
if [ ! -d "$data" ]; then
  echo "skip: shared Synthea data not found at $data"
  exit 77
fi
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
db="${WEFT_TEST_DB:-$tmp/synthea.db}"
fail() { echo "FAIL: $*"; exit 1; }

"$bin" init --db "$db" || fail "init"
"$bin" load --db "$db" --org SYNTH01 "$data" >"$tmp/load1.txt" 2>"$tmp/load1.err"
rc=$?
cat "$tmp/load1.txt"
[ $rc -eq 0 ] || { cat "$tmp/load1.err"; fail "first load exit $rc"; }

/usr/bin/python3 - "$data" "$db" "$tmp/load1.txt" <<'PY' || exit 1
import glob, hashlib, json, sqlite3, subprocess, sys
data, db, out = sys.argv[1:4]
def query(sql):
    """Rows of sql: SQLite through sqlite3, PostgreSQL through psql (fields
    split on \x1f: the stored JSON is compact, control characters escaped)."""
    if not db.startswith("postgres"):
        return list(sqlite3.connect(db).execute(sql))
    p = subprocess.run(["psql", db, "-XAt", "-F", "\x1f", "-c", sql.replace("deleted = 0", "NOT deleted")],
                       capture_output=True, text=True, check=True)
    return [tuple(x if x != "" else None for x in ln.split("\x1f")) for ln in p.stdout.splitlines()]
ORG = "SYNTH01"
NOT_SHAREABLE = {"Claim", "ExplanationOfBenefit"}
def wid(t, i):
    return hashlib.sha256(f"{ORG}\x1f{t}\x1f{i}".encode()).hexdigest()[:32]
table = {}
for line in open(out):
    p = line.split()
    if len(p) == 7 and p[1].isdigit():
        table[p[0]] = [int(x) for x in p[1:]]
entries = {}      # type -> count of entries
items = {}        # (type, id) -> resource
urls = {}         # fullUrl -> "Type/weftid"
for f in sorted(glob.glob(data + "/*.json")):
    b = json.load(open(f))
    for e in b["entry"]:
        r = e["resource"]
        t = r["resourceType"]
        entries[t] = entries.get(t, 0) + 1
        items[(t, r["id"])] = r
        urls[e["fullUrl"]] = f"{t}/{wid(t, r['id'])}"
errors = []
for t, n in entries.items():
    row = table.get(t)
    if row is None:
        errors.append(f"{t}: missing from the load table"); continue
    stored, updated, unchanged, deleted, rejected, ns = row
    if t in NOT_SHAREABLE:
        if ns != n or stored or unchanged: errors.append(f"{t}: not-shareable {ns} != {n}")
    else:
        distinct = sum(1 for k in items if k[0] == t)
        if stored != distinct: errors.append(f"{t}: stored {stored} != distinct {distinct}")
        if stored + unchanged + updated != n: errors.append(f"{t}: {stored}+{unchanged}+{updated} != {n} entries")
        if rejected: errors.append(f"{t}: {rejected} rejected")
rows = {(t, i): (j, p) for t, i, j, p in query(
    "SELECT type, id, json, person_id FROM resource WHERE next_seq IS NULL AND deleted = 0")}
want_rows = sum(1 for k in items if k[0] not in NOT_SHAREABLE)
if len(rows) != want_rows: errors.append(f"db holds {len(rows)} current resources, files {want_rows}")
def norm(v):
    if isinstance(v, dict):
        return {k: (urls.get(x, x) if k == "reference" and isinstance(x, str) else norm(x))
                for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v
patient_person = {}
checked = 0
for (t, i), r in items.items():
    if t in NOT_SHAREABLE: continue
    got = rows.get((t, wid(t, i)))
    if got is None:
        errors.append(f"{t}/{i} not stored"); continue
    j = json.loads(got[0])
    meta = j.pop("meta", {})
    if j.pop("id") != wid(t, i): errors.append(f"{t}/{i}: id not the derived id")
    if not any(g.get("code") == ORG for g in meta.get("tag", [])): errors.append(f"{t}/{i}: no ODS tag")
    if not any(g.get("code") == i for g in meta.get("tag", [])): errors.append(f"{t}/{i}: no source-id tag")
    orig = dict(r); orig.pop("id")
    for g in orig.pop("meta", {}).get("tag", []):
        if g not in meta.get("tag", []): errors.append(f"{t}/{i}: sender's meta.tag lost")
    if j != norm(orig):
        errors.append(f"{t}/{i}: content differs")
    if t == "Patient":
        patient_person[f"Patient/{wid(t, i)}"] = got[1]
    checked += 1
# every item with a subject/patient is linked to that patient's person
for (t, i), r in items.items():
    if t in NOT_SHAREABLE: continue
    ref = (r.get("subject") or r.get("patient") or {}).get("reference")
    if ref and ref.startswith("urn:uuid:"):
        pp = patient_person.get(urls[ref])
        got = rows[(t, wid(t, i))][1]
        if pp is None or got != pp:
            errors.append(f"{t}/{i}: person {got} != patient's {pp}")
print(f"checked {checked} resources against the files, {len(patient_person)} patients")
if errors:
    print("\n".join(errors[:30])); print(f"{len(errors)} errors"); sys.exit(1)
PY

# reload: a no-op
"$bin" load --db "$db" --org SYNTH01 "$data" >"$tmp/load2.txt" 2>"$tmp/load2.err" || fail "reload exit $?"
tail -n 2 "$tmp/load2.txt"
total=$(grep '^total ' "$tmp/load2.txt")
read -r _ stored updated unchanged deleted rejected ns <<<"$total"
[ "$stored" = 0 ] && [ "$updated" = 0 ] && [ "$rejected" = 0 ] || fail "reload changed something: $total"
[ "$unchanged" -gt 15000 ] || fail "reload unchanged count $unchanged"
if [ -n "${WEFT_TEST_DB:-}" ]; then
  versions=$(psql "$db" -XAt -c 'select max(version) from resource')
else
  versions=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select max(version) from resource').fetchone()[0])" "$db")
fi
[ "$versions" = 1 ] || fail "reload made new versions (max version $versions)"
grep -q 'patient\|NHS\|birth' "$tmp/load1.err" && fail "operational log mentions patient data"
echo "ok"
