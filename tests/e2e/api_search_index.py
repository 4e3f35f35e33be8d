#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_search_index.py - searches across patients answered through the search index.

Loads, with `weft load`, 24 test-made patients holding 21,000 Observations (more than
the 20,000 items a search may read to match its parameters one by one) and a
Synthea bundle, then runs searches without a patient over the real API and compares
each answer with the set computed here from the same data: a standard token
(category), a reference (encounter), a string (value-string), dates, the store's own
code and date, Condition clinical-status with code, Patient family.  Before the
search index these searches of Observation were refused 400 "too costly" (they read
every Observation), and an Organization (linked to no person) got no _revinclude; now the index narrows them and each candidate is still matched
and read through the scoped-read path (a client of another organisation sees none,
and the search is audited).  What the index cannot narrow (value-quantity, a status
every item has) is still refused, saying so.  Finally the index is emptied and marked
pending, as for a database loaded before it existed: the searches say the index is
not built and are refused again, until `weft reindex --db` builds it.
"""
import glob
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import (TMP, Server, all_pages, check, db_rows, expect_outcome,  # noqa: E402
                         run, setup_db, weft_id)

ORG = "SYN01"
q = urllib.parse.quote
LOINC = "http://loinc.org"
CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
NPAT, NOBS = 24, 875  # 21,000 Observations

# ---- test-made data: one transaction bundle per patient -------------------------------------
codes = ["8867-4", "8480-6", "8462-4", "29463-7", "8302-2", "39156-5"]
res = {}  # (type, weft id) -> resource
owner = {}  # (type, weft id) -> patient's weft id
files = []
for p in range(NPAT):
    pid = "ixp-%02d" % p
    entries = []

    def add(r, _pid=pid, _entries=entries):
        _entries.append({"fullUrl": "urn:uuid:" + r["id"], "resource": r,
                         "request": {"method": "POST", "url": r["resourceType"]}})
        key = (r["resourceType"], weft_id(ORG, r["resourceType"], r["id"]))
        res[key] = r
        owner[key] = weft_id(ORG, "Patient", _pid)

    add({"resourceType": "Patient", "id": pid,
         "identifier": [{"system": "urn:test:ix", "value": pid}],
         "name": [{"family": "Smith" if p % 5 == 0 else "Jones%02d" % p, "given": ["Ann"]}],
         "gender": "female" if p % 2 else "male", "birthDate": "19%02d-03-04" % (40 + p)})
    if p == 0:  # an organisation, linked to no person, that every patient's encounters name
        add({"resourceType": "Organization", "id": "ixorg-1", "name": "Index Hospital"})
    encs = []
    for e in range(3):
        eid = "%s-enc-%d" % (pid, e)
        encs.append(eid)
        add({"resourceType": "Encounter", "id": eid, "status": "finished",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "subject": {"reference": "urn:uuid:" + pid},
             "serviceProvider": {"reference": "Organization/ixorg-1"} if e == 1 else {"display": "elsewhere"},
             "period": {"start": "20%02d-%02d-10T09:00:00Z" % (19 + e * 2, 1 + p % 12),
                        "end": "20%02d-%02d-10T10:00:00Z" % (19 + e * 2, 1 + p % 12)}})
    for c in range(2):
        add({"resourceType": "Condition", "id": "%s-cond-%d" % (pid, c),
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": "active" if (p + c) % 3 else "resolved"}]},
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": ["44054006", "38341003"][c]}]},
             "subject": {"reference": "urn:uuid:" + pid},
             "onsetDateTime": "20%02d-06-01" % (10 + p % 10)})
    for o in range(NOBS):
        n = p * NOBS + o
        obs = {"resourceType": "Observation", "id": "%s-obs-%d" % (pid, o), "status": "final",
               "category": [{"coding": [{"system": CAT, "code": "vital-signs"}]}],
               "code": {"coding": [{"system": LOINC, "code": codes[n % len(codes)]}]},
               "subject": {"reference": "urn:uuid:" + pid},
               "encounter": {"reference": "urn:uuid:" + encs[o % 3]},
               "effectiveDateTime": "20%02d-%02d-%02dT08:00:00Z" % (19 + n % 6, 1 + n % 12, 1 + n % 28),
               "valueQuantity": {"value": n % 200, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                 "code": "mm[Hg]"}}
        if n % 997 == 5:  # a few imaging observations with a rare code and a text value
            obs["category"] = [{"coding": [{"system": CAT, "code": "imaging"}]}]
            obs["code"] = {"coding": [{"system": LOINC, "code": "24627-2"},
                                      {"system": "http://snomed.info/sct", "code": "399208008"}]}
            del obs["valueQuantity"]
            obs["valueString"] = "Clear lung fields %d" % (n % 2)
        add(obs)
    path = os.path.join(TMP, "ix-%02d.json" % p)
    with open(path, "w") as f:
        json.dump({"resourceType": "Bundle", "type": "transaction", "entry": entries}, f)
    files.append(path)

# one Synthea bundle too, when the data is there: real codes across patients
SRC = os.path.join(os.environ.get("WEFT_DATA", ""), "synthea-r4")
syn = sorted(glob.glob(os.path.join(SRC, "*.json")), key=os.path.getsize)[:2] if os.path.isdir(SRC) else []
for f in syn:
    b = json.load(open(f, "rb"))
    pat = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient"][0]
    for e in b["entry"]:
        r = e["resource"]
        key = (r["resourceType"], weft_id(ORG, r["resourceType"], r["id"]))
        res[key] = r
        owner[key] = weft_id(ORG, "Patient", pat["id"])

db, rw, ro = setup_db(ORG)
rc, out, err = run("load", "--db", db, "--org", ORG, *(files + syn))
check(rc == 0, "weft load: %s %s" % (out, err))
srv = Server(db)


def of(rtype):
    return {k[1]: r for k, r in res.items() if k[0] == rtype}


def cc(c):
    return [(x.get("system"), x.get("code")) for x in (c or {}).get("coding", [])]


def ids(path, token=ro):
    got, total, _ = all_pages(srv, path, token)
    check(total is None or total == len(got), "%s: total %r but %d entries" % (path, total, len(got)))
    return [r["id"] for r in got]


def same(path, want):
    got = ids(path)
    check(len(got) == len(set(got)), "%s: duplicates" % path)
    check(set(got) == set(want), "%s: got %d, want %d (missing %r, extra %r)" % (
        path, len(got), len(set(want)), sorted(set(want) - set(got))[:3], sorted(set(got) - set(want))[:3]))
    check(len(want) > 0, "%s: the test expects nothing: pick a better value" % path)
    print("ok %-90s %d" % (path[:90], len(got)))


obs = of("Observation")
check(len(obs) > 20000, "the test needs more Observations than one search may read (%d)" % len(obs))


def imaging(r):
    return any(c == "imaging" for cat in r.get("category", []) for _, c in cc(cat))


# a standard token across patients, paged
same("/fhir/Observation?category=imaging&_count=4", [i for i, r in obs.items() if imaging(r)])
same("/fhir/Observation?category=%s" % q(CAT + "|imaging"), [i for i, r in obs.items() if imaging(r)])
# a reference across patients (one encounter) and two of them (OR)
E = weft_id(ORG, "Encounter", "ixp-07-enc-1")
E2 = weft_id(ORG, "Encounter", "ixp-11-enc-2")


def enc_of(r):
    ref = r.get("encounter", {}).get("reference", "")
    return weft_id(ORG, "Encounter", ref.split(":")[-1]) if ref.startswith("urn:uuid:ixp") else None


same("/fhir/Observation?encounter=Encounter/%s" % E, [i for i, r in obs.items() if enc_of(r) == E])
same("/fhir/Observation?encounter=%s,%s&_count=200" % (E, E2), [i for i, r in obs.items() if enc_of(r) in (E, E2)])
# a string, starts-with, case-insensitive; and :exact
same("/fhir/Observation?value-string=clear%20LUNG", [i for i, r in obs.items() if r.get("valueString", "").startswith("Clear lung")])
same("/fhir/Observation?value-string:exact=%s" % q("Clear lung fields 1"),
     [i for i, r in obs.items() if r.get("valueString") == "Clear lung fields 1"])
# a token with dates (the specification's date with a prefix the store's column does not take)
same("/fhir/Observation?category=imaging&date=sa2021-06-01",
     [i for i, r in obs.items() if imaging(r) and r["effectiveDateTime"][:10] > "2021-06-01"])
# the store's own code, across patients (any coding of the concept), with the store's date
same("/fhir/Observation?code=%s" % q("http://snomed.info/sct|399208008"), [i for i, r in obs.items() if imaging(r)])
same("/fhir/Observation?code=24627-2&date=ge2022-01-01&date=lt2024-01-01",
     [i for i, r in obs.items() if imaging(r) and "2022-01-01" <= r["effectiveDateTime"][:10] < "2024-01-01"])
# a date across patients (the store's date: the effective date; Encounter: period start)
same("/fhir/Encounter?date=ge2023-01-01",
     [i for i, r in of("Encounter").items() if r["period"]["start"][:10] >= "2023-01-01"])
# Condition: clinical-status with code, across patients
same("/fhir/Condition?clinical-status=active&code=%s" % q("http://snomed.info/sct|44054006"),
     [i for i, r in of("Condition").items()
      if ("http://snomed.info/sct", "44054006") in cc(r["code"]) and any(c == "active" for _, c in cc(r.get("clinicalStatus")))])
same("/fhir/Patient?family=smith", [i for i, r in of("Patient").items() if any(n.get("family", "").lower().startswith("smith") for n in r.get("name", []))])
same("/fhir/Patient?gender=female&name=jones", [i for i, r in of("Patient").items() if r.get("gender") == "female"
                                                  and any(n.get("family", "").lower().startswith("jones") for n in r.get("name", []))])
if syn:  # real Synthea codes: the most common LOINC of the bundles' Observations, across patients
    count = {}
    for i, r in obs.items():
        for s, c in cc(r.get("code")):
            if not r["id"].startswith("ixp") and s == LOINC:
                count[c] = count.get(c, 0) + 1
    top = max(count, key=lambda c: (count[c], c))
    same("/fhir/Observation?code=%s&status=final&_count=100" % q(LOINC + "|" + top),
         [i for i, r in obs.items() if (LOINC, top) in cc(r.get("code")) and r.get("status") == "final"])

# every answer above went through the scoped-read path, item by item: a person with an
# upheld objection is not shown to a client without their organisation, and the searches
# are audited
P7 = weft_id(ORG, "Patient", "ixp-07")
person7 = db_rows(db, "SELECT person_id FROM resource WHERE id = ?", (P7,))[0][0]
rc, out, err = run("objection", "set", "--db", db, "--person", person7, "--status", "upheld",
                   "--date", "2024-01-01")
check(rc == 0, "objection set: %s %s" % (out, err))
same("/fhir/Observation?category=imaging&_count=4", [i for i, r in obs.items() if imaging(r) and owner[("Observation", i)] != P7])
check(ids("/fhir/Observation?encounter=Encounter/%s" % E) == [], "an objecting person's items were shown")
# _revinclude of a resource linked to no person: the Encounters across patients that name the
# Organization, found through the index, each under the caller's scope (person 7 objects)
ORGID = weft_id(ORG, "Organization", "ixorg-1")
st, _, b = srv.request("GET", "/fhir/Organization?_id=%s&_revinclude=Encounter:service-provider" % ORGID, token=ro)
check(st == 200, "_revinclude: %d %r" % (st, b))
inc = {e["resource"]["id"] for e in b["entry"] if e.get("search", {}).get("mode") == "include"}
want = {i for i, r in of("Encounter").items() if r.get("serviceProvider", {}).get("reference") == "Organization/ixorg-1"
        and owner[("Encounter", i)] != P7}
check(inc == want and len(want) == NPAT - 1, "_revinclude Encounter:service-provider: got %d, want %d" % (len(inc), len(want)))
print("ok _revinclude of an Organization across patients: %d Encounters" % len(inc))
rc, out, err = run("objection", "set", "--db", db, "--person", person7, "--status", "withdrawn",
                   "--date", "2024-01-02")
check(rc == 0, "objection set: %s %s" % (out, err))


def n_search_audit():
    return db_rows(db, "SELECT count(*) FROM audit_entry WHERE action = ?", ("search",))[0][0]


before = n_search_audit()
check(len(ids("/fhir/Observation?category=imaging&date=ge2019")) > 0, "imaging")
for _ in range(100):  # the audit log may be appended after the reply: wait up to 10 s
    if n_search_audit() > before:
        break
    time.sleep(0.1)
check(n_search_audit() > before, "a search across patients was not audited")

# paging across patients while items change: the pages keep the first page's snapshot; then
# a replaced version's seq, still in its batch's posting list, matches nothing current (an
# imaging Observation made a laboratory one is not found by category=imaging any more)
img = {i for i, r in obs.items() if imaging(r)}
st, _, b = srv.request("GET", "/fhir/Observation?category=imaging&_count=4", token=ro)
check(st == 200, "category=imaging: %d %r" % (st, b))
paged = [e["resource"]["id"] for e in b["entry"] if e["search"]["mode"] == "match"]
nxt = [l["url"] for l in b["link"] if l["relation"] == "next"][0]
moved = sorted(img - set(paged))[-1]
src = obs[moved]
pid = src["subject"]["reference"].split(":")[-1]
bundle = json.load(open(files[int(pid.split("-")[1])]))
added = dict(src, id=src["id"] + "-new")
for e in bundle["entry"]:
    if e["resource"]["resourceType"] == "Observation" and e["resource"]["id"] == src["id"]:
        e["resource"]["category"] = [{"coding": [{"system": CAT, "code": "laboratory"}]}]
bundle["entry"].append({"fullUrl": "urn:uuid:" + added["id"], "resource": added,
                        "request": {"method": "POST", "url": "Observation"}})
st, _, b = srv.request("POST", "/fhir", body=bundle, token=rw)
check(st == 200, "POST the changed bundle: %d %r" % (st, str(b)[:300]))
path = nxt[nxt.index("/fhir/"):]
more, _, _ = all_pages(srv, path, ro)
paged += [r["id"] for r in more]
check(len(paged) == len(set(paged)) and set(paged) == img,
      "paging while items changed: %d ids for %d (missing %r, extra %r)" % (
          len(paged), len(img), sorted(img - set(paged))[:3], sorted(set(paged) - img)[:3]))
print("ok paging across patients kept its snapshot while items changed: %d" % len(paged))
src["category"] = [{"coding": [{"system": CAT, "code": "laboratory"}]}]
new_id = weft_id(ORG, "Observation", added["id"])
res[("Observation", new_id)] = added
owner[("Observation", new_id)] = owner[("Observation", moved)]
obs[new_id] = added
check(moved not in ids("/fhir/Observation?category=imaging"), "a replaced version's posting matched")
same("/fhir/Observation?category=imaging&_count=4", [i for i, r in obs.items() if imaging(r)])
lab = [i for i, r in obs.items() if any(c == "laboratory" for cat in r.get("category", []) for _, c in cc(cat))]
check(moved in lab, "the test's laboratory set misses the changed item")
same("/fhir/Observation?category=laboratory", lab)

# what the index does not narrow is still refused, and says so
expect_outcome(srv.request("GET", "/fhir/Observation?value-quantity=gt150", token=ro), 400,
               "search index does not narrow")
expect_outcome(srv.request("GET", "/fhir/Observation?status=final", token=ro), 400, "20000")

# a database loaded before the index existed: no rows, "pending"; `weft reindex` builds it
srv.stop()
db_rows(db, "DELETE FROM search_index")
db_rows(db, "DELETE FROM meta WHERE key = ?", ("search-index",))
db_rows(db, "INSERT INTO meta (key, value) VALUES (?, ?)", ("search-index", "pending"))
srv = Server(db, tag="2")
st, _, b = srv.request("GET", "/fhir/Observation?category=imaging", token=ro)
expect_outcome((st, {"content-type": "application/fhir+json"}, b), 400, "search index does not narrow")
st, _, b = srv.request("GET", "/fhir/Encounter?date=ge2023-01-01", token=ro)
check(st == 200 and "search index of this database is not built" in json.dumps(b),
      "a search across patients does not say the index is not built: %r" % (b,))
rc, out, err = run("reindex", "--db", db)
check(rc == 0 and "search index built" in out, "weft reindex: %s %s" % (out, err))
same("/fhir/Observation?category=imaging&_count=4", [i for i, r in obs.items() if imaging(r)])
same("/fhir/Observation?encounter=Encounter/%s" % E, [i for i, r in obs.items() if enc_of(r) == E])
st, _, b = srv.request("GET", "/fhir/Encounter?date=ge2023-01-01", token=ro)
check(st == 200 and "not built" not in json.dumps(b), "still says not built after reindex: %r" % (b,))
st, _, b = srv.request("GET", "/fhir/Organization?_id=%s&_revinclude=Encounter:service-provider" % ORGID, token=ro)
inc = {e["resource"]["id"] for e in b["entry"] if e.get("search", {}).get("mode") == "include"}
check(len(inc) == NPAT, "_revinclude after reindex (objection withdrawn): %d" % len(inc))
srv.stop()
print("PASS")
