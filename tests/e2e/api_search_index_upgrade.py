#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_search_index_upgrade.py - a database with the first search index (search-index-1:
text keys, rows for every reference and status) moves to search-index-2 (integer keys, fewer
rows), and `weft reindex` rebuilds it by the new rule.

Three Synthea bundles are loaded; the index table is then put back as search-index-1 left
it (its text columns, an old row) and search-index-2 forgotten, as in a database from before
this version.  `weft init` migrates it: the old rows are gone and the index is "pending".
`weft reindex` builds it: rows keyed by the (type, parameter) integer (FNV-1a, computed here
too) for Observation code and category, none for what the new rule leaves out (status,
encounter, subject), and searches across patients answer as within the patient:
Observation?encounter=E (no rows: narrowed to E's person) and code= (through the index).
"""
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, all_pages, check, db_rows, run, setup_db  # noqa: E402

data = os.path.join(os.environ.get("WEFT_DATA", "../shared/data"), "synthea-r4")
bundles = sorted(glob.glob(os.path.join(data, "*.json")))
if len(bundles) < 3:
    print("skip: %s not found" % data)
    sys.exit(0)


def fnv(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def key(rtype, param):
    """store_ix_param_id (src/store/paging.h)."""
    return ((fnv(rtype) & 0x7FFF) << 16) | (fnv(param) & 0xFFFF)


db, rw, ro = setup_db("SYN01")
rc, out, err = run("load", "--db", db, "--org", "SYN01", "--quiet", *bundles[:3])
check(rc == 0, "weft load: %s %s" % (out, err))
n_new = db_rows(db, "SELECT count(*) FROM search_index")[0][0]
check(n_new > 0, "the load wrote no index rows")

# the table as search-index-1 left it, with a row of its kind, and search-index-2 not yet run
db_rows(db, "DROP TABLE search_index")
db_rows(db, "CREATE TABLE search_index (type TEXT NOT NULL, param TEXT NOT NULL,"
            " value TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (type, param, value, seq))")
db_rows(db, "INSERT INTO search_index (type, param, value, seq) VALUES (?, ?, ?, ?)",
        ("Observation", "encounter", "old", 1))
db_rows(db, "DELETE FROM schema_migration WHERE name = ?", ("search-index-2",))
db_rows(db, "DELETE FROM meta WHERE key = ?", ("search-index",))

rc, out, err = run("init", "--db", db)
check(rc == 0, "weft init (migrate): %s %s" % (out, err))
check(db_rows(db, "SELECT count(*) FROM search_index")[0][0] == 0, "the old rows are still there")
state = db_rows(db, "SELECT value FROM meta WHERE key = ?", ("search-index",))
check(state == [("pending",)], "the migrated index is not pending: %r" % (state,))
print("ok search-index-2: old rows dropped, index pending")

rc, out, err = run("reindex", "--db", db)
check(rc == 0 and "search index built" in out, "weft reindex: %s %s" % (out, err))
n = db_rows(db, "SELECT count(*) FROM search_index")[0][0]
check(n == n_new, "reindex wrote %d rows, the load %d" % (n, n_new))


def rows_of(rtype, param):
    return db_rows(db, "SELECT count(*) FROM search_index WHERE param = ?", (key(rtype, param),))[0][0]


n_obs = db_rows(db, "SELECT count(*) FROM resource WHERE type = ? AND next_seq IS NULL", ("Observation",))[0][0]
check(rows_of("Observation", "code") >= n_obs, "Observation code rows: %d for %d" % (rows_of("Observation", "code"), n_obs))
check(rows_of("Observation", "category") > 0, "no Observation category rows")
for p in ("status", "encounter", "subject", "patient"):
    check(rows_of("Observation", p) == 0, "Observation %s has rows" % p)
check(rows_of("Encounter", "class") == 0, "Encounter class has rows")
check(rows_of("Encounter", "service-provider") > 0, "no Encounter service-provider rows")
print("ok weft reindex: %d rows by the new rule" % n)

srv = Server(db)
try:
    st, _, b = srv.request("GET", "/fhir/Observation?_count=50", token=ro)
    check(st == 200 and b.get("entry"), "Observation: %d %r" % (st, b))
    first = [e["resource"] for e in b["entry"] if "encounter" in e["resource"]][0]
    pat = first["subject"]["reference"].split("/")[-1]
    E = first["encounter"]["reference"].split("/")[-1]
    within, _, _ = all_pages(srv, "/fhir/Observation?patient=%s&encounter=Encounter/%s" % (pat, E), ro)
    across, _, _ = all_pages(srv, "/fhir/Observation?encounter=Encounter/%s" % E, ro)
    check(len(within) > 0, "the encounter has no Observations")
    check(sorted(r["id"] for r in across) == sorted(r["id"] for r in within),
          "encounter= across patients: %d, within the patient: %d" % (len(across), len(within)))
    obs = within[0]
    code = obs["code"]["coding"][0]
    path = "/fhir/Observation?code=%s|%s&_count=500" % (code["system"], code["code"])
    found, _, _ = all_pages(srv, path, ro)
    check(obs["id"] in {r["id"] for r in found}, "code= across patients misses %s" % obs["id"])
    print("ok searches across patients after reindex: encounter= %d, code= %d" % (len(across), len(found)))
finally:
    srv.stop()
print("PASS")
