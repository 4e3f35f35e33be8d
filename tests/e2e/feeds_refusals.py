#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_refusals.py - what Weft refuses, how it says so, and that nothing
refused is lost.

  - an organisation without an agreement in force: HL7 AR (with ERR), FHIR POST
    403 OperationOutcome, CSV file moved to failed/ with a report - each with
    the reason, and each kept in the inbox as rejected;
  - an unregistered sending facility: AR;
  - malformed input (not HL7, and every file of the shared malformed/ samples
    when present): AR/AE with an ERR segment, kept verbatim;
  - a repeated control id: AA without being applied twice;
  - `weft feed messages --outcome rejected` lists them, `weft feed show` gives
    the verbatim text, and after the fix (the agreement is signed)
    `weft feed replay` applies them: the record then holds them once."""
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import DATA, db_rows  # noqa: E402
from feeds_harness import (TMP, Mllp, ack_code, adt, check, new_db, nhs, org, oru,  # noqa: E402
                           reader_token, run, start, weft_ok)

db = new_db()
org(db, "RVV", "acute")
org(db, "RWF", "acute", agreement=False)
org(db, "LAX", "social-care", agreement=False)
org(db, "Y0001", "hospice", agreement=False)
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
weft_ok("feed", "add", "--db", db, "--org", "RWF", "--kind", "hl7v2", "--facility", "RWFPAS")
folder = os.path.join(TMP, "lax")
weft_ok("feed", "add", "--db", db, "--org", "LAX", "--kind", "csv", "--folder", folder)
hospice = weft_ok("feed", "add", "--db", db, "--org", "Y0001", "--kind", "fhir").strip()
reader = reader_token(db)
NHS = nhs(777)


def err_segment(ack):
    return [s for s in ack.split("\r") if s.startswith("ERR|")]


srv = start(db, "--drop-interval", "0")
try:
    c = Mllp(srv.mllp_port)
    # no agreement
    ack = c.call(adt("RWFPAS", "W1", "A01", "M1", NHS))
    check(ack_code(ack) == "AR", "RWF without agreement: %r" % ack)
    check("agreement" in ack and err_segment(ack), "AR without reason/ERR: %r" % ack)
    # unknown facility
    ack = c.call(adt("NOBODY", "N1", "A01", "M1", NHS))
    check(ack_code(ack) == "AR" and "not registered" in ack and err_segment(ack),
          "unknown facility: %r" % ack)
    # not HL7 at all
    non_aa = 3  # W1, N1 and the junk below
    ack = c.call("HELLO WORLD\r")
    check(ack_code(ack) == "AR" and err_segment(ack), "junk: %r" % ack)
    # a message the mapper cannot use: ORU without OBR
    bad = "MSH|^~\\&|LAB|RVVPAS|W|W|20261124||ORU^R01|B1|P|2.5\rPID|1||M1^^^RVVPAS^MR\r"
    ack = c.call(bad)
    check(ack_code(ack) in ("AE", "AR") and err_segment(ack), "ORU without OBR: %r" % ack)
    non_aa += 1
    # the shared malformed samples: each answered, none applied silently (the
    # well-formed ones among them name facilities no feed has: refused too)
    mal = sorted(glob.glob(os.path.join(DATA, "hl7v2", "malformed", "*"))) if DATA else []
    answered = 0
    for path in mal:
        raw = open(path, "rb").read().replace(b"\x0b", b"").replace(b"\x1c", b"")
        if not raw.strip():
            continue
        c.send(raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r"))
        code = ack_code(c.recv())
        check(code in ("AE", "AR"), "%s: ack %s" % (os.path.basename(path), code))
        answered += 1
        non_aa += 1
    # applied once, then a duplicate
    ok = adt("RVVPAS", "D1", "A01", "M9", NHS)
    check(ack_code(c.call(ok)) == "AA", "first D1")
    ack = c.call(ok)
    check(ack_code(ack) == "AA" and "duplicate" in ack, "repeat D1: %r" % ack)
    c.close()

    # FHIR POST without agreement: 403 OperationOutcome naming the reason
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "h1", "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}]},
         "request": {"method": "PUT", "url": "Patient/h1"}}]}
    st, hdrs, body = srv.request("POST", "/fhir", bundle, token=hospice)
    check(st == 403 and body.get("resourceType") == "OperationOutcome", "hospice POST: %d %r" % (
        st, body))
    check("agreement" in json.dumps(body), "403 without the reason: %r" % body)
    # malformed JSON from a feed without agreement: kept, then refused for
    # the agreement (checked before the body is parsed, docs/FEEDS.md)
    st, _, body = srv.request("POST", "/fhir", "{not json", token=hospice,
                              headers={"Content-Type": "application/fhir+json"})
    check(st == 403 and "agreement" in json.dumps(body), "bad JSON: %d %r" % (st, body))
finally:
    srv.stop()

# CSV without agreement: failed/ with a report
with open(os.path.join(folder, "people.csv"), "w") as f:
    f.write("person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
            "L1,%s,Testperson,Sam,1970-01-01,F,CT1 1AA\n" % NHS)
rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
check(rc == 1 and "rejected 1" in out, "feed run: %d %s %s" % (rc, out, err))
rep = json.load(open(os.path.join(folder, "failed", "people.csv.report.json")))
check("agreement" in rep.get("file_error", ""), "report: %r" % rep)
check(not os.path.exists(os.path.join(folder, "people.csv")), "file left in the drop folder")

# everything is listed, readable, replayable
rc, out, err = run("feed", "messages", "--db", db, "--outcome", "rejected", "--json")
check(rc == 0, err)
rej = json.loads(out)
kinds = sorted({m["kind"] for m in rej})
check(kinds == ["csv", "fhir", "hl7v2"], "rejected kinds %r" % kinds)
per_kind = {k: sum(1 for m in rej if m["kind"] == k) for k in kinds}
check(per_kind == {"hl7v2": non_aa, "fhir": 2, "csv": 1},
      "rejected rows per kind %r, want hl7v2 %d (every AR/AE), fhir 2, csv 1" % (per_kind, non_aa))
# (listed newest first: the junk message is the first hl7v2 one sent without a control id)
junk = sorted((m for m in rej if m["kind"] == "hl7v2" and m["control_id"] is None),
              key=lambda m: m["id"])
check(junk, "the junk message is not in the inbox")
rc, out, err = run("feed", "show", "--db", db, "--id", str(junk[0]["id"]))
check(rc == 0 and "HELLO WORLD" in out and "rejected" in out, "show: %s" % out)
rc, out, err = run("feed", "messages", "--db", db, "--outcome", "duplicate")
check(rc == 0 and "D1" in out, "duplicate not listed: %s" % out)

# the fix: sign the agreements, replay
for ods in ("RWF", "LAX", "Y0001"):
    weft_ok("org", "agreement", "--db", db, "--ods", ods, "--kind", "dpa", "--from", "2020-01-01")
for feed, want_rc, want in (("rwf-hl7v2", 0, "replayed 1: applied 1, still rejected 0, errors 0"),
                            ("lax-csv", 0, "replayed 1: applied 1, still rejected 0, errors 0"),
                            # the Bundle applies; the body that is not JSON stays rejected
                            ("y0001-fhir", 1, "replayed 2: applied 1, still rejected 1, errors 0")):
    rc, out, err = run("feed", "replay", "--db", db, "--feed", feed)
    check(rc == want_rc and want in out, "replay %s: %d %s %s" % (feed, rc, out, err))
# a replay moves a message's count from its old outcome to its new one, once
fc = [x for x in json.loads(weft_ok("feed", "status", "--db", db, "--json"))["feeds"]
      if x["name"] == "y0001-fhir"][0]["total"]
check((fc["received"], fc["applied"], fc["rejected"]) == (2, 1, 1),
      "y0001-fhir counters after replay: %r" % fc)
rc, out, err = run("feed", "messages", "--db", db, "--feed", "rwf-hl7v2", "--json")
msgs = json.loads(out)
check(len(msgs) == 1 and msgs[0]["outcome"] == "applied" and msgs[0]["attempts"] == 2,
      "RWF after replay: %r" % msgs)
# replaying again applies nothing twice: the record is unchanged


def current(rtype):
    return db_rows(db, "select source_org, source_id, version from resource where type = ? and "
                   "next_seq is null and not deleted order by 1, 2", (rtype,))


before = (current("Patient"), current("Encounter"))
check(any(o == "RWF" for o, _, _ in before[1]), "RWF's Encounter not stored by the replay")
rc, out, err = run("feed", "replay", "--db", db, "--feed", "rwf-hl7v2", "--outcome", "applied")
check(rc == 0 and "replayed 1: applied 1" in out, "second replay: %s %s" % (out, err))
check((current("Patient"), current("Encounter")) == before,
      "the second replay changed the record:\n%r\n%r" % (before, (current("Patient"),
                                                                   current("Encounter"))))

srv = start(db, "--drop-interval", "0")
try:
    import urllib.parse
    q = urllib.parse.quote("https://fhir.nhs.uk/Id/nhs-number|" + NHS)
    st, _, b = srv.request("GET", "/fhir/Patient?identifier=" + q, token=reader)
    orgs = sorted(t["code"] for e in b.get("entry", []) for t in e["resource"]["meta"]["tag"]
                  if t["system"] == "https://fhir.nhs.uk/Id/ods-organization-code")
    check(orgs == ["LAX", "RVV", "RWF", "Y0001"], "Patients after replay from %r" % orgs)
    st, _, b = srv.request("GET", "/fhir/Encounter?_total=accurate", token=reader)
    enc_orgs = sorted(t["code"] for e in b.get("entry", []) for t in e["resource"]["meta"]["tag"]
                      if t["system"] == "https://fhir.nhs.uk/Id/ods-organization-code")
    check(st == 200 and b.get("total") == len(before[1]) and enc_orgs.count("RWF") == 1,
          "encounter search %d: total %r, stored %d, from %r" % (st, b.get("total"), len(before[1]),
                                                                 enc_orgs))
    # a body that is not JSON: 400, kept with the handler's reason
    st, _, b = srv.request("POST", "/fhir", "{not json", token=hospice,
                           headers={"Content-Type": "application/fhir+json"})
    check(st == 400, "bad JSON from a feed: %d %r" % (st, b))
finally:
    srv.stop()
rc, out, err = run("feed", "messages", "--db", db, "--feed", "y0001-fhir", "--outcome", "rejected",
                   "--json")
bad = [m for m in json.loads(out) if (m["error"] or "").startswith("HTTP 400: the body is not valid")]
check(len(bad) == 1, "bad JSON inbox row: %s" % out)
print("ok: refusals answered with reasons, %d malformed samples answered, all kept, replay "
      "applied after the fix" % answered)
