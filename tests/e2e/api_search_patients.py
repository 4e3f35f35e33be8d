#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_search_patients.py - patient=a,b: a search over several patients (comma = OR), each
patient's record searched under that person's own scope.

POSTs three Synthea bundles, then: Observation?patient=A,B (paged, with a standard
category, and with the store's code) gives the union of the two records as this test
computes it from the bundles, in date order, with a total; an unknown patient among them
adds nothing and is said; each person's reads are audited for that person; a person with
an upheld objection has nothing shown to a client without their organisation while the
other patient's items still are (the scopes are applied one by one).  Skips (exit 77)
without the Synthea data.
"""
import glob
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import (Server, all_pages, check, db_rows, run, setup_db, skip,  # noqa: E402
                         weft_id)

ORG = "SYN01"
SRC = os.path.join(os.environ.get("WEFT_DATA", ""), "synthea-r4")
if not os.path.isdir(SRC):
    skip("no Synthea data at %s" % SRC)
files = sorted(glob.glob(os.path.join(SRC, "*.json")), key=os.path.getsize)[:3]
if len(files) < 3:
    skip("fewer than three Synthea bundles")
db, rw, ro = setup_db(ORG)
srv = Server(db)
res, owner, pats = {}, {}, []
for f in files:
    st, _, b = srv.request("POST", "/fhir", body=open(f, "rb").read(), token=rw,
                           headers={"Content-Type": "application/fhir+json"})
    check(st == 200, "POST %s -> %d" % (f, st))
    b = json.load(open(f, "rb"))
    pat = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient"][0]
    pid = weft_id(ORG, "Patient", pat["id"])
    pats.append(pid)
    for e in b["entry"]:
        r = e["resource"]
        k = (r["resourceType"], weft_id(ORG, r["resourceType"], r["id"]))
        res[k] = r
        owner[k] = pid
A, B, C = pats
q = urllib.parse.quote


def of(rtype, who):
    return {k[1]: r for k, r in res.items() if k[0] == rtype and owner[k] in who}


def got_of(path, token=ro):
    got, total, pages = all_pages(srv, path, token)
    ids = [r["id"] for r in got]
    check(len(ids) == len(set(ids)), "%s: an item twice" % path)
    check(total == len(ids), "%s: total %r, %d entries" % (path, total, len(ids)))
    return got, pages


def same(path, want, token=ro):
    got, pages = got_of(path, token)
    ids = {r["id"] for r in got}
    check(ids == set(want), "%s: got %d, want %d (missing %r, extra %r)" % (
        path, len(ids), len(want), sorted(set(want) - ids)[:3], sorted(ids - set(want))[:3]))
    check(len(want) > 0, "%s: the test expects nothing" % path)
    print("ok %-80s %d in %d pages" % (path[:80], len(ids), pages))
    return got


obs_ab = of("Observation", (A, B))
got = same("/fhir/Observation?patient=%s,Patient/%s&_count=50" % (A, B), obs_ab)
dates = [r.get("effectiveDateTime", r.get("effectivePeriod", {}).get("start", "")) for r in got]
check(dates == sorted(dates, reverse=True), "not newest first across the patients")


def cats(r):
    return [c.get("code") for cat in r.get("category", []) for c in cat.get("coding", [])]


same("/fhir/Observation?patient=%s,%s&category=vital-signs&_count=20" % (A, B),
     [i for i, r in obs_ab.items() if "vital-signs" in cats(r)])
code = next(iter(obs_ab.values()))["code"]["coding"][0]
same("/fhir/Observation?subject=%s,%s&code=%s" % (A, B, q(code["system"] + "|" + code["code"])),
     [i for i, r in obs_ab.items() if (code["system"], code["code"]) in
      [(c.get("system"), c.get("code")) for c in r["code"].get("coding", [])]])
same("/fhir/Condition?patient=%s,%s,%s" % (A, B, C), of("Condition", (A, B, C)))
# an unknown patient adds nothing, and the reply says one was not available
st, _, b = srv.request("GET", "/fhir/Condition?patient=%s,no-such-patient" % A, token=ro)
check(st == 200 and "not known or not available" in json.dumps(b), "unknown patient: %d %r" % (st, b))
check({e["resource"]["id"] for e in b["entry"] if e.get("search", {}).get("mode") == "match"}
      == set(of("Condition", (A,))), "unknown patient: wrong matches")
# each person's reads are audited for that person
persons = {p: db_rows(db, "SELECT person_id FROM resource WHERE id = ?", (p,))[0][0] for p in (A, B)}
before = {p: db_rows(db, "SELECT count(*) FROM audit_entry WHERE action = ? AND person_id = ?",
                     ("search", persons[p]))[0][0] for p in (A, B)}
st, _, b = srv.request("GET", "/fhir/Condition?patient=%s,%s&_count=1000" % (A, B), token=ro)
check(st == 200, "search: %d" % st)
for p in (A, B):
    for _ in range(100):  # the audit log may be appended after the reply: wait up to 10 s
        n = db_rows(db, "SELECT count(*) FROM audit_entry WHERE action = ? AND person_id = ?",
                    ("search", persons[p]))[0][0]
        if n > before[p]:
            break
        time.sleep(0.1)
    check(n > before[p], "the search was not audited for %s" % p)
# scopes one by one: B objects (upheld); a client without an organisation sees A's items only
rc, out, err = run("objection", "set", "--db", db, "--person", persons[B], "--status", "upheld",
                   "--date", "2024-01-01")
check(rc == 0, "objection set: %s %s" % (out, err))
got = same("/fhir/Condition?patient=%s,%s" % (A, B), of("Condition", (A,)))
st, _, b = srv.request("GET", "/fhir/Condition?patient=%s,%s" % (A, B), token=ro)
check("objected" in json.dumps(b) or "objection" in json.dumps(b), "the objection is not said: %r" % b)
# the writer's client is of SYN01, the objecting person's items' organisation: it sees both
same("/fhir/Condition?patient=%s,%s" % (A, B), of("Condition", (A, B)), token=rw)
srv.stop()
print("PASS")
