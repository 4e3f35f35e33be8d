#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_hl7_escapes.py - HL7 v2 escape sequences through the real feed path:
MLLP listener -> parser -> mapper -> store -> FHIR API.

An ADT^A01 and an ORU^R01 carry the delimiter escapes \\F\\ (|), \\S\\ (^),
\\T\\ (&), \\R\\ (~), \\E\\ (\\) and a hex escape \\X4869\\ ("Hi") in a
patient's name and address and in a result's text; both are answered AA and
the stored resources, read back over the API, hold the decoded characters
(and nothing of the escape syntax).  A message with an unterminated escape is
refused with a reason.  (Unit tests cover the decoder; this shows that the
listener and mapper use it.)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, check, new_db, nhs, org, reader_token, start,  # noqa
                           weft_ok)
from api_harness import weft_id  # noqa: E402

db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "ESCPAS")
reader = reader_token(db)
NHS = nhs(4242)
WHEN = "20261124101500"
MSH = "MSH|^~\\&|PAS|ESCPAS|WEFT|WEFT|%s||%s|%s|P|2.5\r"
PID = ("PID|1||ESC1^^^ESCPAS^MR~%s^^^NHS^NH||Smith\\T\\Jones^Ann\\E\\Marie||19700101|F|||"
       "1 High St\\F\\Flat 2^^Canterbury^^CT1 1AA\r" % NHS)
adt = (MSH % (WHEN, "ADT^A01^ADT_A01", "E1") + "EVN|A01|%s\r" % WHEN + PID +
       "PV1|1|I|WARD1^BED2^^ESCPAS||||||||||||||||VIS-E1|||||||||||||||||||||||||%s\r" % WHEN)
oru = (MSH % (WHEN, "ORU^R01^ORU_R01", "E2") + PID +
       "OBR|1||ORD-E1|24326-1^Electrolytes^LN|||%s|||||||||||||||%s||CH|F\r" % (WHEN, WHEN) +
       "OBX|1|ST|8251-1^Comment^LN||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f \\X4869\\||||||F|||%s\r" % WHEN)
broken = MSH % (WHEN, "ADT^A01^ADT_A01", "E3") + "EVN|A01|%s\r" % WHEN + \
    PID.replace("Smith\\T\\Jones", "Smith\\T")

srv = start(db, "--drop-interval", "0")
try:
    c = Mllp(srv.mllp_port)
    for m in (adt, oru):
        ack = c.call(m)
        check(ack_code(ack) == "AA", "escaped message refused: %r" % ack)
    ack = c.call(broken)
    check(ack_code(ack) in ("AE", "AR") and "escape" in ack, "unterminated escape: %r" % ack)
    c.close()

    st, _, p = srv.request("GET", "/fhir/Patient/" + weft_id("RVV", "Patient", "mr-ESC1"),
                           token=reader)
    check(st == 200, "Patient: %d %r" % (st, p))
    name = p["name"][0]
    check(name["family"] == "Smith&Jones" and name["given"] == ["Ann\\Marie"],
          "name not decoded: %r" % name)
    line = p["address"][0].get("line", [])
    check(line == ["1 High St|Flat 2"], "address not decoded: %r" % p["address"])
    st, _, b = srv.request("GET", "/fhir/Observation?code=http://loinc.org|8251-1", token=reader)
    vals = [e["resource"].get("valueString") for e in b.get("entry", [])]
    check(st == 200 and vals == ["a|b^c&d~e\\f Hi"], "OBX text not decoded: %d %r" % (st, vals))
finally:
    srv.stop()
print("ok: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X..\\ decoded through MLLP into the record; an "
      "unterminated escape refused")
