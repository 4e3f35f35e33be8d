#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_mapping_gaps.py - issue 15's mapping gaps end to end: HL7 v2 over a
real MLLP socket into `weft serve`, the record read back through the FHIR API.

  - DG1 and PR1: an A08 restating a diagnosis and a procedure by code only
    keeps the verification status, recorded date and performer (no new
    version); the HL7 null "" clears them;
  - an A01 whose PV1 has neither PV1-19 nor PV1-44 still records the stay,
    starting at EVN-2 (and an A04 without EVN at MSH-7);
  - a finished stay whose ward an A08 restates: the location is 'completed';
  - a lab's ORU with a thin PID (hospital number only) makes no Patient
    version and keeps the NHS number the PAS sent.
(tests/unit/fhir/test_load.c test_feeds_mapping_gaps covers the same in
process; this one goes through the listener, group commit and the API.)"""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import Mllp, ack_code, check, new_db, nhs, org, reader_token, start, weft_ok  # noqa: E402

db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVLAB",
        "--name", "rvv-lab")
tok = reader_token(db)
NHS = nhs(960)
PID = "PID|1||%s^^^NHS^NH~H960^^^RVVPAS^MR||Green^Di||19550101|F\r" % NHS


def msh(ctrl, mtype, when, fac="RVVPAS"):
    return "MSH|^~\\&|PAS|%s|WEFT|WEFT|%s||%s|%s|P|2.4\r" % (fac, when, mtype, ctrl)


srv = start(db, "--drop-interval", "0")
m = Mllp(srv.mllp_port)


def send(msg):
    ack = m.call(msg)
    check(ack_code(ack) == "AA", "not applied: %r" % ack)


def search(rtype, pid):
    st, _, b = srv.request("GET", "/fhir/%s?patient=%s&_count=100" % (rtype, pid), token=tok)
    check(st == 200, "%s search: %d %r" % (rtype, st, b))
    return [e["resource"] for e in b.get("entry", [])]


def patient():
    q = urllib.parse.quote("https://fhir.nhs.uk/Id/nhs-number|" + NHS)
    st, _, b = srv.request("GET", "/fhir/Patient?identifier=" + q, token=tok)
    check(st == 200 and len(b.get("entry", [])) == 1, "Patient by NHS number: %d %r" % (st, b))
    return b["entry"][0]["resource"]


try:
    send(msh("M1", "ADT^A01^ADT_A01", "20260612093000") + "EVN|A01|20260612092900\r" + PID +
         "PV1|1|I|WARD1||||||||||||||||V960\r"
         "DG1|1||I10^Hypertension^I10||20260101|F\r"
         "PR1|1||P123^Appendicectomy^OPCS||20260102||||||S1^Cutter^Sam\r")
    p = patient()
    pid = p["id"]
    pver = p["meta"]["versionId"]
    cond = [c for c in search("Condition", pid) if "I10" in str(c.get("code"))]
    proc = [x for x in search("Procedure", pid) if "P123" in str(x.get("code"))]
    check(len(cond) == 1 and cond[0].get("verificationStatus") and cond[0].get("recordedDate"),
          "Condition from DG1: %r" % cond)
    check(len(proc) == 1 and proc[0].get("performer"), "Procedure from PR1: %r" % proc)
    cv, pv = cond[0]["meta"]["versionId"], proc[0]["meta"]["versionId"]

    # restated by code only: kept, no new version
    send(msh("M2", "ADT^A08^ADT_A01", "20260613093000") + "EVN|A08|20260613092900\r" + PID +
         "PV1|1|I|WARD1||||||||||||||||V960\r"
         "DG1|1||I10^Hypertension^I10\r"
         "PR1|1||P123^Appendicectomy^OPCS||20260102\r")
    c2 = [c for c in search("Condition", pid) if "I10" in str(c.get("code"))][0]
    p2 = [x for x in search("Procedure", pid) if "P123" in str(x.get("code"))][0]
    check(c2["meta"]["versionId"] == cv and c2.get("verificationStatus") and
          c2.get("recordedDate"), "DG1 restated by code lost data: %r" % c2)
    check(p2["meta"]["versionId"] == pv and p2.get("performer"),
          "PR1 restated by code lost the performer: %r" % p2)

    # "" clears
    send(msh("M3", "ADT^A08^ADT_A01", "20260614093000") + "EVN|A08|20260614092900\r" + PID +
         "PV1|1|I|WARD1||||||||||||||||V960\r"
         "DG1|1||I10^Hypertension^I10||\"\"|\"\"\r"
         "PR1|1||P123^Appendicectomy^OPCS||20260102||||||\"\"\r")
    c3 = [c for c in search("Condition", pid) if "I10" in str(c.get("code"))][0]
    p3 = [x for x in search("Procedure", pid) if "P123" in str(x.get("code"))][0]
    check("verificationStatus" not in c3 and "recordedDate" not in c3, "DG1 \"\": %r" % c3)
    check("performer" not in p3, "PR1 \"\": %r" % p3)

    # an A01 with neither PV1-19 nor PV1-44: the stay starts at EVN-2
    before = len(search("Encounter", pid))
    send(msh("M4", "ADT^A01^ADT_A01", "20260615093000") + "EVN|A01|20260615080000\r" + PID +
         "PV1|1|I|WARD4\r")
    # ... and an A04 without EVN at MSH-7
    send(msh("M5", "ADT^A04^ADT_A01", "20260616093000") + PID + "PV1|1|O|CLINIC\r")
    encs = search("Encounter", pid)
    starts = sorted(e.get("period", {}).get("start", "") for e in encs)
    check(len(encs) == before + 2 and any(s.startswith("2026-06-15T08:00") for s in starts) and
          any(s.startswith("2026-06-16T09:30") for s in starts),
          "stays without PV1-19/44: %d (was %d), starts %r" % (len(encs), before, starts))

    # a finished stay's ward restated: its location is completed
    send(msh("M6", "ADT^A03^ADT_A03", "20260617100000") + "EVN|A03|20260617100000\r" + PID +
         "PV1|1|I|WARD1||||||||||||||||V960|||||||||||||||||||||||||20260617100000\r")
    send(msh("M7", "ADT^A08^ADT_A01", "20260618100000") + "EVN|A08|20260618100000\r" + PID +
         "PV1|1|I|WARD2||||||||||||||||V960\r")
    stay = [e for e in search("Encounter", pid)
            if any(i.get("value") == "V960" for i in e.get("identifier", []))]
    check(len(stay) == 1 and stay[0]["status"] == "finished" and
          stay[0]["location"][0]["location"].get("display") == "WARD2" and
          stay[0]["location"][0].get("status") == "completed",
          "the finished stay's restated ward: %r" % stay)

    # the lab's thin PID: no new Patient version, the NHS number stays
    p = patient()
    pver = p["meta"]["versionId"]
    send(msh("L1", "ORU^R01^ORU_R01", "20260618110000", fac="RVVLAB") +
         "PID|1||H960^^^RVVPAS^MR\r"
         "OBR|1||LAB1|24326-1^Electrolytes^LN|||20260618080000||||||||||||||||CH|F\r"
         "OBX|1|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|133-146|N|||F\r")
    p = patient()
    v1 = srv.request("GET", "/fhir/Patient/%s/_history/%s" % (pid, pver), token=tok)[2]
    print("lab thin PID: Patient version %s -> %s; content %s" % (
        pver, p["meta"]["versionId"],
        "equal" if {k: v for k, v in p.items() if k != "meta"} ==
        {k: v for k, v in v1.items() if k != "meta"} else "differs: %r / %r" % (v1, p)))
    check(any(i.get("value") == NHS for i in p.get("identifier", [])),
          "the thin PID dropped the NHS number: %r" % p)
    obs = search("Observation", pid)
    check(any("2951-2" in str(o.get("code")) for o in obs), "the lab result is not filed: %r" % obs)
finally:
    m.close()
    srv.stop()
print("ok: DG1/PR1 kept and cleared, stays without PV1-19/44 recorded, a finished stay's ward "
      "completed, a thin PID keeps the NHS number - over MLLP")
