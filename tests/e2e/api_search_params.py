#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_search_params.py - the FHIR R4 search parameters end to end on Synthea.

Starts the real sanitized weft on a free port, POSTs three Synthea bundles,
and runs the searches apps make (standard category and date, clinical-status,
vaccine-code, value-quantity, composites, chaining, _has, string modifiers,
:not, :missing, _sort on a specification parameter, paging of matched
results), each compared with the set this test computes itself from the
bundles (ids mapped to Weft ids, as the loader derives them).  Unsupported
modifiers answer 400 naming them, or are ignored under Prefer:
handling=lenient.  Skips (exit 77) when the Synthea data is absent.
"""
import glob
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import (Server, all_pages, check, expect_outcome, setup_db, skip,  # noqa: E402
                         weft_id)

ORG = "SYN01"
SRC = os.path.join(os.environ.get("WEFT_DATA", ""), "synthea-r4")
if not os.path.isdir(SRC):
    skip("no Synthea data at %s" % SRC)
files = sorted(glob.glob(os.path.join(SRC, "*.json")), key=os.path.getsize)[:3]
if len(files) < 3:
    skip("fewer than three Synthea bundles in %s" % SRC)

db, rw, ro = setup_db(ORG)
srv = Server(db)
for f in files:
    st, _, b = srv.request("POST", "/fhir", body=open(f, "rb").read(), token=rw,
                           headers={"Content-Type": "application/fhir+json"})
    check(st == 200, "POST %s -> %d %r" % (os.path.basename(f), st, b))

# ---- what the bundles hold, by Weft id ------------------------------------------------------
res = {}        # (type, weft id) -> resource as sent
owner = {}      # (type, weft id) -> weft Patient id
patients = {}   # weft Patient id -> Patient
for f in files:
    b = json.load(open(f, "rb"))
    url_map = {e["fullUrl"]: (e["resource"]["resourceType"], e["resource"]["id"]) for e in b["entry"]}
    pat = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient"][0]
    pid = weft_id(ORG, "Patient", pat["id"])
    patients[pid] = pat
    for e in b["entry"]:
        r = e["resource"]
        key = (r["resourceType"], weft_id(ORG, r["resourceType"], r["id"]))
        res[key] = r
        owner[key] = pid


def of(rtype, pid=None):
    return {k[1]: r for k, r in res.items() if k[0] == rtype and (pid is None or owner[k] == pid)}


def codes(cc):
    return [(c.get("system"), c.get("code")) for c in (cc or {}).get("coding", [])]


def ids(path, token=ro):
    got, total, _ = all_pages(srv, path, token)
    check(total is None or total == len(got), "%s: total %r but %d entries" % (path, total, len(got)))
    return [r["id"] for r in got]


def same(path, want, ordered=False):
    got = ids(path)
    check(len(got) == len(set(got)), "%s: duplicates" % path)
    if ordered:
        check(got == list(want), "%s: order\n got  %r\n want %r" % (path, got[:8], list(want)[:8]))
    check(set(got) == set(want), "%s: got %d, want %d (missing %r, extra %r)" % (
        path, len(got), len(set(want)), sorted(set(want) - set(got))[:3], sorted(set(got) - set(want))[:3]))
    check(len(want) > 0, "%s: the test expects nothing: pick a better value" % path)
    print("ok %-90s %d" % (path[:90], len(got)))


q = urllib.parse.quote
P = max(patients, key=lambda p: len(of("Observation", p)))
obs = of("Observation", P)

# standard category + date (the vital-signs app query)
year = sorted(r["effectiveDateTime"][:4] for r in obs.values() if "effectiveDateTime" in r)[len(obs) // 2]
want = [i for i, r in obs.items()
        if ("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs") in
        [c for cat in r.get("category", []) for c in codes(cat)]
        and r.get("effectiveDateTime", "")[:19] >= year]
same("/fhir/Observation?patient=%s&category=vital-signs&date=ge%s" % (P, year), want)
same("/fhir/Observation?patient=%s&category=%s&date=ge%s" % (
    P, q("http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"), year), want)
# Weft's own record category has its own name
check(srv.request("GET", "/fhir/Observation?patient=%s&_record-category=results&_count=0" % P,
                  token=ro)[0] == 200, "_record-category")

# token on a CodeableConcept status
def active(r):
    return any(c == "active" for _, c in codes(r.get("clinicalStatus")))


PC = max(patients, key=lambda p: (sum(active(r) for r in of("Condition", p).values()), len(of("Condition", p))))
conds = of("Condition", PC)
want = [i for i, r in conds.items() if any(c == "active" for _, c in codes(r.get("clinicalStatus")))]
same("/fhir/Condition?patient=%s&clinical-status=active" % PC, want)
want_not = [i for i, r in conds.items() if not any(c == "active" for _, c in codes(r.get("clinicalStatus")))]
same("/fhir/Condition?patient=%s&clinical-status:not=active" % PC, want_not)

# dates on a choice element: onset-date
mid = sorted(r["onsetDateTime"][:10] for r in conds.values() if "onsetDateTime" in r)[len(conds) // 2]
same("/fhir/Condition?patient=%s&onset-date=lt%s" % (PC, mid),
     [i for i, r in conds.items() if "onsetDateTime" in r and r["onsetDateTime"][:10] < mid])
same("/fhir/Condition?patient=%s&onset-date=sa%s" % (PC, mid),
     [i for i, r in conds.items() if "onsetDateTime" in r and r["onsetDateTime"][:10] > mid])

# immunisations by vaccine code
imms = {k: r for p in patients for k, r in of("Immunization", p).items()}
PI = max(patients, key=lambda p: len(of("Immunization", p)))
vc = codes(of("Immunization", PI)[next(iter(of("Immunization", PI)))]["vaccineCode"])[0][1]
same("/fhir/Immunization?patient=%s&vaccine-code=%s" % (PI, vc),
     [i for i, r in of("Immunization", PI).items() if vc in [c for _, c in codes(r["vaccineCode"])]])

# quantities
same("/fhir/Observation?patient=%s&value-quantity=gt100" % P,
     [i for i, r in obs.items() if r.get("valueQuantity", {}).get("value", -1e99) > 100])
qobs = [r for r in obs.values() if "valueQuantity" in r]
unit = qobs[0]["valueQuantity"].get("code")
same("/fhir/Observation?patient=%s&value-quantity=%s" % (P, q("ge0|http://unitsofmeasure.org|" + unit)),
     [i for i, r in obs.items() if r.get("valueQuantity", {}).get("code") == unit
      and r["valueQuantity"].get("system") == "http://unitsofmeasure.org" and r["valueQuantity"]["value"] >= 0])
# composite: the patient's most frequent measured code above its median value
qcount = {}  # code -> distinct values measured
for r in qobs:
    for sc in codes(r["code"]):
        qcount.setdefault(sc, set()).add(r["valueQuantity"]["value"])
qcount = {k: len(v) for k, v in qcount.items()}
QS, QC = max(qcount, key=lambda k: (qcount[k], k))
qvals = sorted(r["valueQuantity"]["value"] for r in qobs if (QS, QC) in codes(r["code"]))
med = qvals[len(qvals) // 2]
same("/fhir/Observation?patient=%s&code-value-quantity=%s" % (P, q("%s|%s$ge%s" % (QS, QC, med))),
     [i for i, r in obs.items() if (QS, QC) in codes(r["code"])
      and r.get("valueQuantity", {}).get("value", -1e99) >= med])

# _sort on a specification parameter, paged
sq = [i for i, r in obs.items() if "valueQuantity" in r and (QS, QC) in codes(r["code"])]
got = ids("/fhir/Observation?patient=%s&code=%s&_sort=-value-quantity&_count=7" % (P, q("%s|%s" % (QS, QC))))
vals = [obs[i]["valueQuantity"]["value"] for i in got]
check(vals == sorted(vals, reverse=True) and sorted(got) == sorted(sq) and len(set(vals)) > 1,
      "_sort=-value-quantity: %r" % vals[:10])

# paging of matched results adds up
same("/fhir/Observation?patient=%s&status:not=cancelled&_count=13" % P,
     [i for i, r in obs.items() if r.get("status") != "cancelled"])
same("/fhir/Observation?patient=%s&value-quantity:missing=true" % P,
     [i for i, r in obs.items() if "valueQuantity" not in r])

# chaining: subject:Patient.identifier and patient.identifier
ident = [x for x in patients[P]["identifier"] if x.get("system") and x.get("value")][0]
tok = q("%s|%s" % (ident["system"], ident["value"]))
same("/fhir/Observation?subject:Patient.identifier=%s" % tok, list(obs))
same("/fhir/Condition?patient.identifier=%s" % tok, list(of("Condition", P)))
check(ids("/fhir/Condition?patient.identifier=no-such-identifier") == [], "chain to nobody")

# reverse chaining: patients with an observation of a code only some have
per_code = {}
for (t, i), r in res.items():
    if t == "Observation":
        for s, c in codes(r.get("code")):
            per_code.setdefault(c, set()).add(owner[(t, i)])
code = sorted(c for c, ps in per_code.items() if 0 < len(ps) < len(patients))[0]
same("/fhir/Patient?_has:Observation:patient:code=%s" % code, sorted(per_code[code]))

# strings: default starts-with, :contains, :exact


def name_strings(p):
    return [s for n in p.get("name", []) for s in [n.get("family", "")] + n.get("given", []) + n.get("prefix", []) +
            n.get("suffix", []) + [n.get("text", "")] if s]


fam = patients[P]["name"][0]["family"]
part = fam[1:4].lower()
same("/fhir/Patient?name:contains=%s" % q(part.upper()),
     [i for i, p in patients.items() if any(part in s.lower() for s in name_strings(p))])
same("/fhir/Patient?family:exact=%s" % q(fam),
     [i for i, p in patients.items() if any(n.get("family") == fam for n in p.get("name", []))])
if fam != fam.lower():
    check(ids("/fhir/Patient?family:exact=%s" % q(fam.lower())) == [], "family:exact is case-sensitive")
same("/fhir/Patient?name=%s" % q(fam[:3].lower()),
     [i for i, p in patients.items() if any(s.lower().startswith(fam[:3].lower()) for s in name_strings(p))])
same("/fhir/Patient?gender=%s" % patients[P]["gender"],
     [i for i, p in patients.items() if p["gender"] == patients[P]["gender"]])

by = sorted(p["birthDate"] for p in patients.values())[1]
same("/fhir/Patient?birthdate=ge%s" % by, [i for i, p in patients.items() if p["birthDate"] >= by])
same("/fhir/Patient?birthdate=lt%s" % by, [i for i, p in patients.items() if p["birthDate"] < by])

# the CapabilityStatement lists what the search takes, from the same tables: every listed
# parameter is accepted with a value of its type, for every stored type
st, _, cap = srv.request("GET", "/fhir/metadata")
check(st == 200, "metadata")
bytype = {r["type"]: {p["name"]: p for p in r.get("searchParam", [])} for r in cap["rest"][0]["resource"]}
ob = bytype["Observation"]
for name, kind in [("category", "token"), ("value-quantity", "quantity"), ("code-value-quantity", "composite"),
                   ("_record-category", "token"), ("subject", "reference"), ("_has", "special"), ("date", "date")]:
    check(name in ob and ob[name]["type"] == kind, "metadata Observation %s: %r" % (name, ob.get(name)))
check("modifiers: missing,text,not,of-type" in ob["category"]["documentation"], "token modifiers listed")
check("chains" in ob["subject"]["documentation"], "subject chains listed")
check("name" in bytype["Patient"] and bytype["Patient"]["name"]["type"] == "string", "Patient name listed")
SAMPLE = {"token": "x", "string": "x", "date": "ge2020", "quantity": "gt1", "number": "1",
          "reference": "Patient/x", "uri": "http://x"}
tried = 0
for rtype, params in sorted(bytype.items()):
    for name, p in sorted(params.items()):
        if name in ("_has", "_cursor", "_record-category", "_id", "patient", "subject") or p["type"] not in SAMPLE:
            continue
        if name == "_count" or name == "_sort":
            continue
        path = "/fhir/%s?%s=%s&_count=0" % (rtype, q(name), q(SAMPLE[p["type"]]))
        if "patient" in params and rtype != "Patient":
            path += "&patient=" + P
        st, _, b = srv.request("GET", path, token=ro)
        check(st == 200, "metadata lists %s %s but %s answers %d %r" % (rtype, name, path, st, b))
        tried += 1
print("ok every listed parameter accepted (%d searches)" % tried)
check(tried > 300, "only %d listed parameters tried" % tried)

# unsupported: 400 naming it, or ignored when lenient
expect_outcome(srv.request("GET", "/fhir/Observation?code:below=123", token=ro), 400, "code:below")
expect_outcome(srv.request("GET", "/fhir/Observation?colour=red", token=ro), 400, "colour")
st, _, b = srv.request("GET", "/fhir/Observation?patient=%s&code:below=123&_count=0" % P, token=ro,
                       headers={"Prefer": "handling=lenient"})
check(st == 200 and b["total"] == len(obs), "lenient: %d %r" % (st, b))
check(any("code:below" in i.get("diagnostics", "") for e in b.get("entry", [])
          if e["resource"]["resourceType"] == "OperationOutcome" for i in e["resource"]["issue"]),
      "lenient: no warning naming code:below")

srv.stop()
print("api_search_params: ok")
