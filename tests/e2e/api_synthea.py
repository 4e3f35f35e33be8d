#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_synthea.py - the FHIR API end to end on the shared Synthea R4 set.

Starts the real sanitized weft on a free port with a fresh database, POSTs
every Synthea transaction bundle to /fhir (the API's loading path), then
checks through the API:
  - every loaded resource reads back with its content intact (ids and
    references rewritten to Weft ids, meta added: nothing else differs);
  - vread and _history agree with the read;
  - search by patient, code, category, date answers what the source holds;
  - $everything pages add up to exactly the patient's resources (no
    duplicates, no gaps, total matches), for every patient;
  - paging survives concurrent inserts (snapshot: the set stays the same);
  - POSTing every bundle again is a no-op (no new versions, same totals);
  - SIGTERM stops the server cleanly (exit 0, leak-free under ASan).
Skips (exit 77) when ../shared/data/synthea-r4 is absent.
"""
import glob
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import (Server, all_pages, check, expect_outcome, fail, setup_db, skip,  # noqa: E402
                         weft_id)

ORG = "SYN01"
SRC = os.path.join(os.environ.get("WEFT_DATA", ""), "synthea-r4")
if not os.path.isdir(SRC):
    skip("no Synthea data at %s (../shared/data/synthea-r4)" % SRC)
files = sorted(glob.glob(os.path.join(SRC, "*.json")))
if not files:
    skip("no Synthea bundles in %s" % SRC)

db, rw, ro = setup_db(ORG)
srv = Server(db)

# ---- what the record stores: the CapabilityStatement says ------------------------------
st, _, cap = srv.request("GET", "/fhir/metadata")
check(st == 200 and cap["resourceType"] == "CapabilityStatement", "metadata")
stored_types = {r["type"] for r in cap["rest"][0]["resource"]}
check("Observation" in stored_types and "Claim" not in stored_types, "stored types %r" % stored_types)

# ---- load every bundle through POST /fhir -----------------------------------------------
# three clients at once, each on its own keep-alive connection: concurrent
# transactions must all commit, each whole
bundles = {f: json.load(open(f, "rb")) for f in files}
results = {}


def post_all(part):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
    for f in part:
        conn.request("POST", "/fhir", body=open(f, "rb").read(),
                     headers={"Authorization": "Bearer " + rw, "Content-Type": "application/fhir+json"})
        r = conn.getresponse()
        body = r.read()
        results[f] = (r.status, json.loads(body) if body else None)
    conn.close()


t0 = time.time()
threads = [threading.Thread(target=post_all, args=(files[i::3],)) for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for f in files:
    b = bundles[f]
    check(f in results, "no answer for %s" % f)
    st, resp = results[f]
    check(st == 200, "POST %s -> %d %r" % (os.path.basename(f), st, resp))
    check(resp.get("resourceType") == "Bundle" and resp.get("type") == "transaction-response",
          "not a transaction-response for %s" % f)
    check(len(resp["entry"]) == len(b["entry"]), "response entries %d != %d" %
          (len(resp["entry"]), len(b["entry"])))
    for i, (e, r) in enumerate(zip(b["entry"], resp["entry"])):
        status = r["response"]["status"]
        check(status.startswith("201") or status.startswith("200"),
              "%s entry %d: %s %r" % (os.path.basename(f), i, status, r["response"].get("outcome")))
load_s = time.time() - t0
print("loaded %d bundles in %.1f s" % (len(files), load_s))

# ---- the expected record ---------------------------------------------------------------------
PATIENT_REFS = ("subject", "patient")
expected = {}      # (type, weft id) -> source resource with references rewritten
by_patient = {}    # patient weft id -> set of (type, weft id)
url_map = {}       # fullUrl -> "Type/weftid"
for f, b in bundles.items():
    for e in b["entry"]:
        r = e["resource"]
        url_map[e["fullUrl"]] = "%s/%s" % (r["resourceType"], weft_id(ORG, r["resourceType"], r["id"]))


def rewrite(x):
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            if k == "reference" and isinstance(v, str) and v in url_map:
                out[k] = url_map[v]
            else:
                out[k] = rewrite(v)
        return out
    if isinstance(x, list):
        return [rewrite(v) for v in x]
    return x


for f, b in bundles.items():
    pat = [e for e in b["entry"] if e["resource"]["resourceType"] == "Patient"]
    check(len(pat) == 1, "one Patient per Synthea bundle")
    pid = weft_id(ORG, "Patient", pat[0]["resource"]["id"])
    mine = by_patient.setdefault(pid, set())
    for e in b["entry"]:
        r = e["resource"]
        if r["resourceType"] not in stored_types:
            continue
        key = (r["resourceType"], weft_id(ORG, r["resourceType"], r["id"]))
        src = rewrite(r)
        src["id"] = key[1]
        expected[key] = src
        if r["resourceType"] == "Patient":
            mine.add(key)
        for fld in PATIENT_REFS:
            ref = r.get(fld, {})
            if isinstance(ref, dict) and ref.get("reference") == "Patient/" + pid:
                mine.add(key)
        if isinstance(r.get("subject"), dict) and url_map.get(r["subject"].get("reference", "")) == "Patient/" + pid:
            mine.add(key)
        if isinstance(r.get("patient"), dict) and url_map.get(r["patient"].get("reference", "")) == "Patient/" + pid:
            mine.add(key)
print("expecting %d stored resources, %d patients" % (len(expected), len(by_patient)))

ADDED_TAGS = ("https://fhir.nhs.uk/Id/ods-organization-code", "urn:weft:source-id")


def strip_added_meta(r):
    r = dict(r)
    meta = dict(r.get("meta", {}))
    for k in ("versionId", "lastUpdated", "source"):
        meta.pop(k, None)
    tags = [t for t in meta.get("tag", []) if t.get("system") not in ADDED_TAGS]
    if tags:
        meta["tag"] = tags
    else:
        meta.pop("tag", None)
    if meta:
        r["meta"] = meta
    else:
        r.pop("meta", None)
    return r


# ---- every resource reads back intact ---------------------------------------------------------
t0 = time.time()
mismatches = 0
for (rtype, rid), src in expected.items():
    st, hdrs, got = srv.request("GET", "/fhir/%s/%s" % (rtype, rid), token=ro)
    check(st == 200, "read %s/%s -> %d %r" % (rtype, rid, st, got))
    meta = got.get("meta", {})
    check(meta.get("versionId") == "1", "%s/%s versionId %r" % (rtype, rid, meta.get("versionId")))
    check(hdrs.get("etag") == 'W/"1"', "etag %r" % hdrs.get("etag"))
    tags = {t.get("system"): t.get("code") for t in meta.get("tag", [])}
    check(tags.get("https://fhir.nhs.uk/Id/ods-organization-code") == ORG, "source org tag missing on %s/%s" % (rtype, rid))
    if strip_added_meta(got) != src:
        mismatches += 1
        if mismatches <= 3:
            a, b2 = strip_added_meta(got), src
            diff = [k for k in set(a) | set(b2) if a.get(k) != b2.get(k)]
            print("content differs for %s/%s in %r:\n got  %s\n want %s" % (
                rtype, rid, diff, json.dumps({k: a.get(k) for k in diff})[:600],
                json.dumps({k: b2.get(k) for k in diff})[:600]))
check(mismatches == 0, "%d resources came back different" % mismatches)
print("read back %d resources intact in %.1f s" % (len(expected), time.time() - t0))

# ---- type totals match -------------------------------------------------------------------------------
counts = {}
for (rtype, _) in expected:
    counts[rtype] = counts.get(rtype, 0) + 1
for rtype, n in counts.items():
    st, _, b = srv.request("GET", "/fhir/%s?_count=0" % rtype, token=ro)
    check(st == 200 and b["total"] == n, "%s total %r, expected %d" % (rtype, b.get("total"), n))
    check(not [e for e in b.get("entry", []) if e["search"]["mode"] == "match"], "_count=0 returned entries")

# ---- search by patient / code / date matches the source ---------------------------------------------
largest = max(by_patient, key=lambda p: len(by_patient[p]))
obs = [expected[k] for k in by_patient[largest] if k[0] == "Observation"]
got, total, pages = all_pages(srv, "/fhir/Observation?patient=Patient/%s&_count=200" % largest, ro)
check(total == len(obs) == len(got), "patient Observation search: total %r got %d want %d" % (total, len(got), len(obs)))
check({r["id"] for r in got} == {r["id"] for r in obs}, "patient Observation search: different ids")
code = obs[0]["code"]["coding"][0]
want = [r for r in obs if r["code"]["coding"][0]["system"] == code["system"] and r["code"]["coding"][0]["code"] == code["code"]]
got, total, _ = all_pages(srv, "/fhir/Observation?subject=Patient/%s&code=%s|%s&_sort=-date" % (largest, code["system"], code["code"]), ro)
check(total == len(want) and {r["id"] for r in got} == {r["id"] for r in want}, "code search: %r vs %d" % (total, len(want)))
dates = [r.get("effectiveDateTime", "")[:19] for r in got]
check(dates == sorted(dates, reverse=True), "_sort=-date not descending: %r" % dates[:5])
year = min(r["effectiveDateTime"][:4] for r in obs)
want = [r for r in obs if r["effectiveDateTime"][:4] == year]
got, total, _ = all_pages(srv, "/fhir/Observation?patient=%s&date=%s" % (largest, year), ro)
check(total == len(want) and {r["id"] for r in got} == {r["id"] for r in want}, "date=%s: %r vs %d" % (year, total, len(want)))
got, total, _ = all_pages(srv, "/fhir/Observation?patient=%s&date=ge%s&date=le%s" % (largest, year, year), ro)
check(total == len(want), "date=ge/le %s: %r vs %d" % (year, total, len(want)))
lab = [r for r in obs if any(c.get("code") == "laboratory" for cat in r.get("category", []) for c in cat.get("coding", []))]
got, total, _ = all_pages(srv, "/fhir/Observation?patient=%s&_record-category=results" % largest, ro)
check(total == len(lab), "_record-category=results: %r vs %d laboratory observations" % (total, len(lab)))
pat = expected[("Patient", largest)]
fam = pat["name"][0]["family"]
st, _, b = srv.request("GET", "/fhir/Patient?family=%s&given=%s" % (fam[:3].lower(), pat["name"][0]["given"][0]), token=ro)
check(st == 200 and largest in [e["resource"]["id"] for e in b["entry"] if e["search"]["mode"] == "match"], "family/given search")
ident = pat["identifier"][1]
st, _, b = srv.request("GET", "/fhir/Patient?identifier=%s%%7C%s" % (ident["system"], ident["value"]), token=ro)
check(st == 200 and b["total"] == 1 and b["entry"][0]["resource"]["id"] == largest, "identifier search %r" % b.get("total"))
st, _, b = srv.request("GET", "/fhir/Patient?birthdate=%s" % pat["birthDate"], token=ro)
check(st == 200 and largest in [e["resource"]["id"] for e in b["entry"] if e["search"]["mode"] == "match"], "birthdate search")

# ---- $everything for every patient: exact, paged, no duplicates ------------------------------------
t0 = time.time()
for pid, keys in by_patient.items():
    got, total, pages = all_pages(srv, "/fhir/Patient/%s/$everything?_count=100" % pid, ro)
    ids = [(r["resourceType"], r["id"]) for r in got]
    check(len(ids) == len(set(ids)), "duplicates in $everything of %s" % pid)
    check(total == len(ids), "$everything total %r but %d entries" % (total, len(ids)))
    if set(ids) != keys:
        extra, missing = set(ids) - keys, keys - set(ids)
        fail("$everything of %s: %d extra %r, %d missing %r" % (pid, len(extra), list(extra)[:3], len(missing), list(missing)[:3]))
print("$everything exact for %d patients in %.1f s" % (len(by_patient), time.time() - t0))

# ---- paging survives concurrent inserts ------------------------------------------------------------
before = {(r["resourceType"], r["id"]) for r in all_pages(srv, "/fhir/Patient/%s/$everything" % largest, ro)[0]}
added = []
pat_src = [e["resource"]["id"] for f, b in bundles.items() for e in b["entry"]
           if e["resource"]["resourceType"] == "Patient" and weft_id(ORG, "Patient", e["resource"]["id"]) == largest][0]


def insert(page):
    sid = "e2e-late-%d" % page
    body = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:%s" % sid,
        "resource": {"resourceType": "Observation", "id": sid, "status": "final",
                     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                     "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
                     "subject": {"reference": "Patient/%s" % pat_src},
                     "effectiveDateTime": "1900-01-01T00:00:00Z",
                     "valueQuantity": {"value": page, "unit": "mg/dL"}},
        "request": {"method": "POST", "url": "Observation"}}]}
    st, _, r = srv.request("POST", "/fhir", body=body, token=rw)
    check(st == 200 and r["entry"][0]["response"]["status"].startswith("201"), "insert during paging: %d %r" % (st, r))
    added.append(("Observation", weft_id(ORG, "Observation", sid)))


got, total, pages = all_pages(srv, "/fhir/Patient/%s/$everything?_count=50" % largest, ro, on_page=insert)
ids = [(r["resourceType"], r["id"]) for r in got]
check(pages > 3 and len(added) == pages - 1, "paging ran %d pages" % pages)
check(len(ids) == len(set(ids)) and set(ids) == before and total == len(before),
      "paging under inserts: %d ids, %d distinct, total %r, snapshot %d" % (len(ids), len(set(ids)), total, len(before)))
after = {(r["resourceType"], r["id"]) for r in all_pages(srv, "/fhir/Patient/%s/$everything?_sort=date" % largest, ro)[0]}
check(after == before | set(added), "a new search sees the inserted items")
print("paging under %d concurrent inserts: %d pages, no duplicates, no gaps" % (len(added), pages))

# ---- reloading is a no-op ---------------------------------------------------------------------------
st, _, b = srv.request("GET", "/fhir/Observation?_count=0", token=ro)
obs_total = b["total"]
for f in files[:10]:
    st, _, resp = srv.request("POST", "/fhir", body=open(f, "rb").read(), token=rw,
                              headers={"Content-Type": "application/fhir+json"})
    check(st == 200, "reload %s: %d" % (f, st))
    for r in resp["entry"]:
        check(r["response"]["status"].startswith("200"), "reload made %s" % r["response"]["status"])
        loc = r["response"].get("location", "")
        check(loc == "" or loc.endswith("/_history/1"), "reload made a new version: %s" % loc)
st, _, b = srv.request("GET", "/fhir/Observation?_count=0", token=ro)
check(b["total"] == obs_total, "reload changed the Observation total %d -> %d" % (obs_total, b["total"]))
k = next(iter(by_patient[largest]))
st, _, h = srv.request("GET", "/fhir/%s/%s/_history" % k, token=ro)
check(st == 200 and h["total"] == 1 and len(h["entry"]) == 1, "history after reload: %r" % h.get("total"))
st, _, v = srv.request("GET", "/fhir/%s/%s/_history/1" % k, token=ro)
check(st == 200 and v["id"] == k[1], "vread")
print("reload of 10 bundles: no new versions")

log = srv.stop()
check(fam not in log, "a patient's family name appears in the operational log")
check("request id=" in log and "status=200" in log, "request log lines missing")
print("ok")
