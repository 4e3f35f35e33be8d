#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_hl7_absent.py - end to end: an omitted HL7 v2 field keeps the stored
value, the HL7 null "" deletes it (docs/feeds/hl7v2.md, "Omitted fields and
the HL7 null").

Over MLLP into the real `weft serve`: an ADT^A01 with an address, then an
ORU^R01 whose PID carries only identifiers, name, date of birth and sex.
Through the FHIR API the Patient still has the address and has one version
(_history).  Then an ADT^A08 with PID-11 "": a second version without the
address, the first still holding it.  Neither the API nor the stored JSON
(read from the database, SQLite or PostgreSQL) ever shows the private member _keepAbsent."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, adt, check, msh, new_db, nhs, org,  # noqa: E402
                           reader_token, run, start, weft_ok)
from api_harness import db_rows, weft_id  # noqa: E402

FAC = "RVVPAS"
MRN = "H700"
NHS = nhs(7007)

db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", FAC)
reader = reader_token(db)
pid_id = weft_id("RVV", "Patient", "mr-" + MRN)
ids = "%s^^^%s^MR~%s^^^NHS^NH" % (MRN, FAC, NHS)

# the lab's PID: the same identifiers, name, date of birth and sex as the
# PAS sends (feeds_harness.pid), and nothing else
oru = (msh(FAC, "AB2", "ORU^R01^ORU_R01", "20261124120000")
       + "PID|1||%s||Testperson^Sam||19700101|F\r" % ids
       + "OBR|1||LAB700|24326-1^Electrolytes^LN|||20261124120000|||||||||||||||"
         "20261124120000||CH|F\r"
       + "OBX|1|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|133-146|N|||F|||20261124120000\r")
# the PAS deletes the address: PID-11 is the HL7 null
a08 = (msh(FAC, "AB3", "ADT^A08^ADT_A01", "20261124130000") + "EVN|A08|20261124130000\r"
       + "PID|1||%s||Testperson^Sam||19700101|F|||\"\"\r" % ids
       + "PV1|1|I|WARD1^BED2^^%s||||||||||||||||V700\r" % FAC)


def no_private_member(what, body):
    text = body if isinstance(body, str) else repr(body)
    check("_keepAbsent" not in text, "%s shows the private member _keepAbsent: %s" % (what, text))


srv = start(db)
try:
    c = Mllp(srv.mllp_port)

    def send(msg):
        ack = c.call(msg)
        check(ack_code(ack) == "AA", "HL7 message not applied: %r" % ack)

    def patient():
        st, _, p = srv.request("GET", "/fhir/Patient/" + pid_id, token=reader)
        check(st == 200, "Patient read: %d %r" % (st, p))
        no_private_member("Patient read", p)
        return p

    def history():
        st, _, h = srv.request("GET", "/fhir/Patient/%s/_history" % pid_id, token=reader)
        check(st == 200, "Patient _history: %d %r" % (st, h))
        no_private_member("_history", h)
        return [e["resource"] for e in h.get("entry", [])]

    def postcodes(p):
        return [a.get("postalCode") for a in p.get("address", [])]

    send(adt(FAC, "AB1", "A01", MRN, NHS, visit="V700"))
    p = patient()
    check(postcodes(p) == ["CT1 1AA"], "A01: address %r" % p.get("address"))
    check(p["meta"]["versionId"] == "1", "A01: version %r" % p["meta"])

    send(oru)
    p = patient()
    check(postcodes(p) == ["CT1 1AA"],
          "ORU^R01 without PID-11 dropped the address: %r" % p.get("address"))
    check(p["meta"]["versionId"] == "1", "ORU^R01 made a new Patient version: %r" % p["meta"])
    h = history()
    check(len(h) == 1, "after A01 + ORU^R01: %d Patient versions, want 1" % len(h))
    st, _, obs = srv.request("GET", "/fhir/Observation?subject=Patient/" + pid_id, token=reader)
    check(st == 200 and len(obs.get("entry", [])) == 1, "the result was not filed: %d %r"
          % (st, obs))

    send(a08)
    p = patient()
    check("address" not in p, "A08 with PID-11 \"\" kept the address: %r" % p.get("address"))
    check(p["meta"]["versionId"] == "2", "A08: version %r" % p["meta"])
    check(p.get("gender") == "female" and p.get("birthDate") == "1970-01-01",
          "A08: demographics %r" % p)
    h = history()
    check(len(h) == 2, "after the A08: %d Patient versions, want 2" % len(h))
    old = [r for r in h if r["meta"]["versionId"] == "1"]
    check(len(old) == 1 and postcodes(old[0]) == ["CT1 1AA"],
          "version 1 lost its address: %r" % old)
    c.close()
finally:
    log = srv.stop()

n, leaked = db_rows(db, "SELECT count(*), sum(CASE WHEN json LIKE '%keepAbsent%' THEN 1 ELSE 0 END)"
                        " FROM resource WHERE type = 'Patient'")[0]
check(n == 2 and leaked == 0, "stored Patient rows %r, with _keepAbsent %r" % (n, leaked))
for word in (NHS, "Testperson"):
    check(word not in log, "the operational log contains patient data (%s)" % word)
rc, out, err = run("feed", "status", "--db", db)
check(rc == 0 and "3/0/0" in out, "feed status: %s %s" % (out, err))
print("ok: ORU^R01 without PID-11 kept the address (1 version); A08 with PID-11 \"\" removed it")
