#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_has_scope.py - reverse chaining (_has) never reveals a resource through an item the
caller may not see.

One person's record holds a Patient, two Encounters filed as appointments, an Observation
coded X in the record category "results" made at the first Encounter and one coded Y in
"appointments" made at the second.  A receptionist (role R8006, profile admin:
demographics, contacts, appointments) launched into that record over the real API asks
Encounter?patient=P&_has:Observation:encounter:code=X: she may see both Encounters, but
the only Observation coded X is hidden from her, so its Encounter must not come back (nor
be counted).  The same search for code Y, whose Observation she may see, returns the
second Encounter; a clinician (R8000) gets the first for X, so the data is there and only
the scope hides it.  (Staff search within the launched person: across people they are
refused.  API clients read every type or none - system/*.rs - so a client's scope cannot
hide only the inner item; its upheld-objection narrowing hides the Patient as well.)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, new_db_url, weft_id  # noqa: E402
from access_lib import add_hs_launcher, add_org, claims, launch, nhs, sign, weft  # noqa: E402

ORG = "RXH01"
ISS = "https://epr.rxh.example"
db = new_db_url("weft.db")
weft("init", "--db", db)
add_org(db, ORG)
secret = add_hs_launcher(db, "epr-rxh", ORG, ISS)
writer = weft("client", "add", "--db", db, "--name", "feed", "--org", ORG, "--write").strip()
srv = Server(db)

NUMBER = nhs(4242)
PID = "pat-has-1"
LOINC = "http://loinc.org"


def obs(oid, category, code, eid):
    return {"fullUrl": "urn:uuid:" + oid, "resource": {
        "resourceType": "Observation", "id": oid, "status": "final",
        "meta": {"tag": [{"system": "urn:weft:category", "code": category}]},
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/" + PID}, "encounter": {"reference": "Encounter/" + eid},
        "effectiveDateTime": "2024-05-01T09:30:00Z"},
        "request": {"method": "PUT", "url": "Observation/" + oid}}


def enc(eid):
    return {"fullUrl": "urn:uuid:" + eid, "resource": {
        "resourceType": "Encounter", "id": eid, "status": "finished",
        "meta": {"tag": [{"system": "urn:weft:category", "code": "appointments"}]},
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/" + PID},
        "period": {"start": "2024-05-01T09:00:00Z", "end": "2024-05-01T10:00:00Z"}},
        "request": {"method": "PUT", "url": "Encounter/" + eid}}


bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"fullUrl": "urn:uuid:" + PID, "resource": {
        "resourceType": "Patient", "id": PID,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NUMBER}],
        "name": [{"family": "Hasscope", "given": ["Test"]}], "birthDate": "1970-01-01"},
     "request": {"method": "PUT", "url": "Patient/" + PID}},
    enc("enc-has-1"), enc("enc-has-2"),
    obs("obs-has-x", "results", "2339-0", "enc-has-1"),
    obs("obs-has-y", "appointments", "8302-2", "enc-has-2"),
]}
st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
check(st == 200, "POST bundle: %d %r" % (st, b))
P = weft_id(ORG, "Patient", PID)
E1 = weft_id(ORG, "Encounter", "enc-has-1")
E2 = weft_id(ORG, "Encounter", "enc-has-2")


def session(role, sub):
    tok = sign({"alg": "HS256", "typ": "JWT"}, claims(ISS, sub, role, ORG, NUMBER), "HS256", secret)
    st, _, body, cookie = launch(srv, tok)
    check(st == 303 and cookie, "launch %s: %d %r" % (role, st, body[:300]))
    return {"Cookie": "weft_session=" + cookie}


def has(headers, code, extra=""):
    path = "/fhir/Encounter?patient=%s&_has:Observation:encounter:code=%s%s" % (P, code, extra)
    st, _, b = srv.request("GET", path, headers=headers)
    check(st == 200, "%s: %d %r" % (path, st, b))
    return [e["resource"]["id"] for e in b.get("entry", []) if e.get("search", {}).get("mode") == "match"], b


clin = session("R8000", "u-clinician")
recep = session("R8006", "u-reception")

# the clinician sees both Observations: the first Encounter comes back for X, the second for Y
got, _ = has(clin, "2339-0")
check(got == [E1], "clinician, code X: %r, wanted [%s]" % (got, E1))
got, _ = has(clin, "8302-2")
check(got == [E2], "clinician, code Y: %r" % got)

# the receptionist may see both Encounters (appointments) ...
for e in (E1, E2):
    st, _, b = srv.request("GET", "/fhir/Encounter/" + e, headers=recep)
    check(st == 200, "the receptionist cannot read Encounter %s (%d): the test is void" % (e, st))
st, _, b = srv.request("GET", "/fhir/Observation/" + weft_id(ORG, "Observation", "obs-has-x"), headers=recep)
check(st != 200, "the receptionist can read the results Observation: the test is void")
# ... but not the results Observation: the _has through it reveals nothing, not even a count
got, b = has(recep, "2339-0")
check(got == [], "_has revealed an Encounter through a hidden Observation: %r" % b)
check(b.get("total", 0) == 0, "_has counted an Encounter through a hidden Observation: %r" % b)
got, b = has(recep, "2339-0", "&_summary=count")
check(b.get("total", 0) == 0, "_summary=count revealed it: %r" % b)
# an Observation she may see (appointments) does reveal its Encounter
got, _ = has(recep, "8302-2")
check(got == [E2], "receptionist, code Y (visible): %r, wanted [%s]" % (got, E2))
# an OR of both codes finds only the Encounter of the visible one
got, _ = has(recep, "2339-0,8302-2")
check(got == [E2], "receptionist, X or Y: %r" % got)

srv.stop()
print("PASS")
