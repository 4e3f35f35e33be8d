#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_search_index_upgrade.py - a database with the first search index (search-index-1:
text keys, rows for every reference and status) moves to search-index-2 (integer keys, fewer
rows) and on to search-index-3 (posting lists), and `weft reindex` rebuilds it by the new rule;
a database with search-index-2's rows is converted by search-index-3 and keeps answering.

Three Synthea bundles are loaded; the index table is then put back as search-index-1 left
it (its text columns, an old row) and search-index-2 and -3 forgotten, as in a database from
before this version.  `weft init` migrates it: the old rows are gone and the index is "pending".
`weft reindex` builds it: posting lists keyed by the (type, parameter) integer (FNV-1a, computed
here too), decoded here on their own (SQLite: varint differences in a blob, PostgreSQL: a
bigint[]): Observation code lists hold every current Observation, category has lists, none for
what the rule leaves out (status, encounter, subject), and searches across patients answer as
within the patient: Observation?encounter=E (no rows: narrowed to E's person) and code= (through
the index).  Then the lists are turned back into search-index-2's one row per seq and
search-index-3 forgotten: `weft init` converts them, the index stays "ready", every (param,
value) holds the same seqs as before, and the searches answer the same.
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
is_pg = db.startswith("postgres")


def varints(first, blob):
    """A SQLite posting list: first, then LEB128 differences (store/paging.h)."""
    out, v, shift, seq = [first], 0, 0, first
    for b in blob:
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            check(v > 0, "a zero difference in a posting list")
            seq += v
            out.append(seq)
            v, shift = 0, 0
    check(shift == 0, "a posting list cut short")
    return out


def postings(where="", params=()):
    """{(param, value): sorted seqs} of the index, decoded here."""
    out = {}
    if is_pg:
        rows = db_rows(db, "SELECT param, value, first_seq, seqs FROM search_index" + where, params)
        for p, v, first, seqs in rows:
            check(seqs and seqs[0] == first, "list %r %r does not start at first_seq" % (p, v))
            out.setdefault((p, v), []).extend(seqs)
    else:
        import sqlite3
        con = sqlite3.connect(db, timeout=30)
        try:
            for p, v, first, blob in con.execute(
                    "SELECT param, value, first_seq, seqs FROM search_index" + where, params):
                out.setdefault((p, v), []).extend(varints(first, bytes(blob)))
        finally:
            con.close()
    for k in out:
        check(len(set(out[k])) == len(out[k]), "a seq twice in the lists of %r" % (k,))
        out[k] = sorted(out[k])
    return out


loaded = postings()
n_new = len(loaded)
check(n_new > 0, "the load wrote no index rows")
n_lists = db_rows(db, "SELECT count(*) FROM search_index")[0][0]
n_seqs = sum(len(v) for v in loaded.values())
check(n_lists < n_seqs, "no list holds more than one seq: %d lists, %d seqs" % (n_lists, n_seqs))
print("ok load: %d posting lists hold %d seqs of %d values" % (n_lists, n_seqs, n_new))

# the table as search-index-1 left it, with a row of its kind, and search-index-2 not yet run
db_rows(db, "DROP TABLE search_index")
db_rows(db, "CREATE TABLE search_index (type TEXT NOT NULL, param TEXT NOT NULL,"
            " value TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (type, param, value, seq))")
db_rows(db, "INSERT INTO search_index (type, param, value, seq) VALUES (?, ?, ?, ?)",
        ("Observation", "encounter", "old", 1))
db_rows(db, "DELETE FROM schema_migration WHERE name = ?", ("search-index-2",))
db_rows(db, "DELETE FROM schema_migration WHERE name = ?", ("search-index-3",))
db_rows(db, "DELETE FROM meta WHERE key = ?", ("search-index",))

rc, out, err = run("init", "--db", db)
check(rc == 0, "weft init (migrate): %s %s" % (out, err))
check(db_rows(db, "SELECT count(*) FROM search_index")[0][0] == 0, "the old rows are still there")
state = db_rows(db, "SELECT value FROM meta WHERE key = ?", ("search-index",))
check(state == [("pending",)], "the migrated index is not pending: %r" % (state,))
print("ok search-index-2: old rows dropped, index pending")

rc, out, err = run("reindex", "--db", db)
check(rc == 0 and "search index built" in out, "weft reindex: %s %s" % (out, err))
rebuilt = postings()
n = len(rebuilt)
check(n == n_new, "reindex wrote lists of %d values, the load %d" % (n, n_new))


def seqs_of(rtype, param):
    k = key(rtype, param)
    return {q for (p, _), seqs in rebuilt.items() if p == k for q in seqs}


cur_obs = {r[0] for r in db_rows(db, "SELECT seq FROM resource WHERE type = ? AND next_seq IS NULL"
                                 " AND NOT deleted", ("Observation",))}
check(cur_obs and cur_obs <= seqs_of("Observation", "code"),
      "Observation code lists miss %d of %d" % (len(cur_obs - seqs_of("Observation", "code")), len(cur_obs)))
all_seqs = {r[0] for r in db_rows(db, "SELECT seq FROM resource")}
check(all(q in all_seqs for seqs in rebuilt.values() for q in seqs), "a list holds a seq of no version")
check(seqs_of("Observation", "category"), "no Observation category lists")
for p in ("status", "encounter", "subject", "patient"):
    check(not seqs_of("Observation", p), "Observation %s has lists" % p)
check(not seqs_of("Encounter", "class"), "Encounter class has lists")
check(seqs_of("Encounter", "service-provider"), "no Encounter service-provider lists")
print("ok weft reindex: lists of %d values by the new rule" % n)


def across_patients():
    """Answers of searches across patients (and the same within the patient)."""
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
        found, _, b = all_pages(srv, path, ro)
        check(obs["id"] in {r["id"] for r in found}, "code= across patients misses %s" % obs["id"])
        cat, _, _ = all_pages(srv, "/fhir/Observation?category=laboratory&_count=500", ro)
        check(cat, "category=laboratory across patients found nothing")
        return sorted(r["id"] for r in across), sorted(r["id"] for r in found), sorted(r["id"] for r in cat)
    finally:
        srv.stop()


before = across_patients()
print("ok searches across patients after reindex: encounter= %d, code= %d, category= %d"
      % tuple(len(x) for x in before))

# search-index-2's table (one row per seq) from the lists, search-index-3 not yet run
db_rows(db, "CREATE TABLE search_index_v2 (param INTEGER NOT NULL, value TEXT NOT NULL,"
            " seq INTEGER NOT NULL, PRIMARY KEY (param, value, seq))")
if is_pg:
    db_rows(db, "INSERT INTO search_index_v2 SELECT param, value, unnest(seqs) FROM search_index")
else:
    import sqlite3
    con = sqlite3.connect(db, timeout=30)
    con.executemany("INSERT INTO search_index_v2 VALUES (?, ?, ?)",
                    [(p, v, q) for (p, v), seqs in rebuilt.items() for q in seqs])
    con.commit()
    con.close()
check(db_rows(db, "SELECT count(*) FROM search_index_v2")[0][0] == sum(len(v) for v in rebuilt.values()),
      "the search-index-2 table is not one row per seq")
db_rows(db, "DROP TABLE search_index")
db_rows(db, "ALTER TABLE search_index_v2 RENAME TO search_index")
db_rows(db, "DELETE FROM schema_migration WHERE name = ?", ("search-index-3",))
rc, out, err = run("init", "--db", db)
check(rc == 0, "weft init (search-index-3): %s %s" % (out, err))
state = db_rows(db, "SELECT value FROM meta WHERE key = ?", ("search-index",))
check(state == [("ready",)], "the converted index is not ready: %r" % (state,))
converted = postings()
check(converted == rebuilt, "search-index-3 converted %d values, %d differ"
      % (len(converted), sum(1 for k in rebuilt if converted.get(k) != rebuilt[k])))
check(db_rows(db, "SELECT count(*) FROM search_index")[0][0] == n,
      "the converted index is not one list per value")
after = across_patients()
check(after == before, "searches across patients answer otherwise after search-index-3")
print("ok search-index-3: %d values converted to one list each, same answers" % n)
print("PASS")
