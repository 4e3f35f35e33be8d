#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_record.py - end to end, all three feed kinds into one person.

A patient is admitted, given lab results, a discharge letter, an appointment
and discharged, by HL7 v2 over MLLP from an acute trust; the county council
drops social care CSV extracts (person, assessment) in its folder; the GP
practice POSTs a FHIR transaction bundle with its feed token.  Every message
is ACKed AA / 200 / moved to done/.  Then, through the FHIR API with a read
client: the three organisations' Patients share the NHS number and
$everything on one of them returns everything from all three sources, each
item tagged with its source organisation.  /admin/feeds shows the counters."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, ack_code, adt, check, fail, mdm, new_db, nhs, org, oru,  # noqa
                           reader_token, run, siu, start, weft_ok)

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS = nhs(4242)

db = new_db()
org(db, "RVV", "acute")
org(db, "KENTCC", "social-care")
org(db, "G82001", "gp")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
folder = os.path.join(TMP, "drop", "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
gp_token = weft_ok("feed", "add", "--db", db, "--org", "G82001", "--kind", "fhir").strip()
check(len(gp_token) > 30 and "\n" not in gp_token, "fhir feed token not printed alone: %r" % gp_token)
reader = reader_token(db)

srv = start(db, "--drop-interval", "1")
try:
    # ---- HL7 v2 over MLLP --------------------------------------------------------------
    c = Mllp(srv.mllp_port)
    msgs = [
        adt("RVVPAS", "R1", "A01", "H100", NHS, visit="V100"),
        oru("RVVPAS", "R2", "H100", NHS, order="LAB100"),
        mdm("RVVPAS", "R3", "H100", NHS, doc="DS100"),
        siu("RVVPAS", "R4", "H100", NHS, appt="AP100"),
        adt("RVVPAS", "R5", "A03", "H100", NHS, visit="V100", when="20261125110000"),
    ]
    for m in msgs:
        ack = c.call(m)
        check(ack_code(ack) == "AA", "HL7 message not applied: %r" % ack)
    c.close()

    # ---- CSV drop folder (people first: the others refer to them) -----------------------
    def drop(name, text):
        tmp = os.path.join(folder, "." + name + ".part")
        with open(tmp, "w") as f:
            f.write(text)
        past = time.time() - 30
        os.utime(tmp, (past, past))
        os.rename(tmp, os.path.join(folder, name))  # complete files appear atomically
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(folder, "done", name)):
            if os.path.exists(os.path.join(folder, "failed", name)):
                fail("%s went to failed/: %s" % (name, open(os.path.join(
                    folder, "failed", name + ".report.json")).read()))
            if time.time() > deadline:
                fail("%s was not picked up within 60 s" % name)
            time.sleep(0.2)
        rep = json.load(open(os.path.join(folder, "done", name + ".report.json")))
        check(rep.get("rows_loaded") == 1, "%s report: %r" % (name, rep))

    drop("people.csv", "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
         "KP-77,%s,Testperson,Sam,1970-01-01,F,CT1 1AA\n" % NHS)
    drop("assessments.csv", "assessment_id,person_id,assessment_type,assessment_date,outcome\n"
         "AS-1,KP-77,needs-assessment,2026-10-01,Eligible for home care\n")

    # ---- FHIR POST with the GP feed's token -------------------------------------------------
    bundle = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:0e4b1d0a-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient", "id": "gp-1",
                          "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                          "value": NHS}],
                          "name": [{"family": "Testperson", "given": ["Sam"]}],
                          "birthDate": "1970-01-01"},
             "request": {"method": "PUT", "url": "Patient/gp-1"}},
            {"resource": {"resourceType": "Condition", "id": "gp-c1",
                          "code": {"coding": [{"system": "http://snomed.info/sct",
                                               "code": "44054006", "display": "Diabetes"}]},
                          "subject": {"reference": "urn:uuid:0e4b1d0a-0000-4000-8000-000000000001"}},
             "request": {"method": "PUT", "url": "Condition/gp-c1"}},
            {"resource": {"resourceType": "MedicationStatement", "id": "gp-m1", "status": "active",
                          "medicationCodeableConcept": {"coding": [{
                              "system": "http://snomed.info/sct", "code": "325278007"}]},
                          "subject": {"reference": "Patient/gp-1"}},
             "request": {"method": "PUT", "url": "MedicationStatement/gp-m1"}},
        ]}
    st, _, body = srv.request("POST", "/fhir", bundle, token=gp_token)
    check(st == 200, "GP bundle POST: %d %r" % (st, body))

    # ---- one person, everything visible with its source organisation --------------------------
    q = urllib.parse.quote("https://fhir.nhs.uk/Id/nhs-number|" + NHS)
    st, _, b = srv.request("GET", "/fhir/Patient?identifier=" + q, token=reader)
    check(st == 200, "Patient search: %d %r" % (st, b))
    pats = [e["resource"] for e in b.get("entry", [])]

    def orgs_of(res):
        return {t["code"] for t in res.get("meta", {}).get("tag", []) if t.get("system") == ODS_SYSTEM}

    check(sorted(o for p in pats for o in orgs_of(p)) == ["G82001", "KENTCC", "RVV"],
          "Patients by NHS number come from %r" % [orgs_of(p) for p in pats])
    seen = {}
    path = "/fhir/Patient/%s/$everything" % pats[0]["id"]
    while path:
        st, _, b = srv.request("GET", path, token=reader)
        check(st == 200, "$everything: %d %r" % (st, b))
        for e in b.get("entry", []):
            r = e["resource"]
            o = orgs_of(r)
            check(len(o) == 1, "%s/%s has source organisations %r" % (r["resourceType"], r["id"], o))
            seen.setdefault(o.pop(), set()).add(r["resourceType"])
        nxt = [ln["url"] for ln in b.get("link", []) if ln.get("relation") == "next"]
        path = urllib.parse.urlsplit(nxt[0]) if nxt else None
        if path:
            path = path.path + ("?" + path.query if path.query else "")
    want = {
        "RVV": {"Patient", "Encounter", "DiagnosticReport", "Observation", "DocumentReference",
                "Appointment"},
        "KENTCC": {"Patient", "QuestionnaireResponse"},
        "G82001": {"Patient", "Condition", "MedicationStatement"},
    }
    for o, types in want.items():
        check(types <= seen.get(o, set()), "%s: wanted %s, $everything has %s" % (
            o, sorted(types), sorted(seen.get(o, set()))))

    # ---- feed status ------------------------------------------------------------------------
    st, _, fs = srv.request("GET", "/admin/feeds", token=reader)
    check(st == 200, "/admin/feeds: %d %r" % (st, fs))
    by = {f["name"]: f for f in fs["feeds"]}
    check(by["rvv-hl7v2"]["total"]["applied"] == 5, "rvv counters %r" % by["rvv-hl7v2"])
    check(by["kentcc-csv"]["total"]["applied"] == 2, "kent counters %r" % by["kentcc-csv"])
    check(by["g82001-fhir"]["total"]["applied"] == 1, "gp counters %r" % by["g82001-fhir"])
    check(by["rvv-hl7v2"]["last_received"] is not None, "no last_received")
    check(by["rvv-hl7v2"]["today"]["lag_mean_ms"] is not None, "no lag")
    st, _, ms = srv.request("GET", "/admin/feeds/rvv-hl7v2/messages?outcome=applied", token=reader)
    check(st == 200 and [m["control_id"] for m in ms["messages"]] == ["R1", "R2", "R3", "R4", "R5"],
          "feed messages: %d %r" % (st, ms))
    check(all("body" not in m for m in ms["messages"]), "message list carries bodies")
    st, _, one = srv.request("GET", "/admin/feeds/messages/%d" % ms["messages"][1]["id"],
                             token=reader)
    check(st == 200 and one["body"] == msgs[1] and one["type"] == "ORU^R01",
          "one message: %d %r" % (st, one))
    st, _, b = srv.request("GET", "/admin/feeds/nosuch/messages", token=reader)
    check(st == 404, "unknown feed: %d" % st)
    st, _, b = srv.request("GET", "/admin/feeds", token=gp_token)
    check(st == 403, "a feed's write-only token read /admin/feeds: %d" % st)
    st, _, b = srv.request("GET", "/admin/feeds")
    check(st == 401, "/admin/feeds without a token: %d" % st)
finally:
    log = srv.stop()
rc, out, err = run("feed", "status", "--db", db)
check(rc == 0 and "rvv-hl7v2" in out and "5/0/0" in out, "feed status: %s %s" % (out, err))
rc, out, err = run("feed", "status", "--db", db, "--json")
check(rc == 0 and json.loads(out)["feeds"][0]["name"] == "g82001-fhir", "status json: %s" % out)
for word in (NHS, "Testperson"):
    check(word not in log, "the operational log contains patient data (%s)" % word)
print("ok: HL7 v2 + CSV + FHIR feeds -> one person with items of RVV, KENTCC and G82001")
