#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""ops_logs.py - logs that explain: every refusal reaches the server's
stderr as a WARN line with its reason and its request or message id, and no
patient data does.

Refusals provoked, over the real sockets, against one `weft serve`:
  - HL7 v2: an unregistered sending facility (AR), a message the mapper
    cannot use (AR), a feed without an agreement (AR);
  - a 4xx for bad input: a FHIR search with a malformed birthdate carrying
    an NHS number and a date of birth in it (400), an unknown resource
    type (404);
  - a refused launch: a token signed with the wrong secret (401);
  - a denied read: a client whose scope covers Patient only reads an
    Observation (403, audited as a denial);
  - a rejected CSV batch: an extract missing its required columns, and one
    with a row that is not valid (file -> failed/, rows rejected).
Each must give a WARN line naming its id (MSH-10 control id, X-Request-Id,
inbox id) and its reason.  The NHS numbers, names and dates of birth in
the refused input must appear nowhere in the log."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, ack_code, adt, check, new_db, nhs, org, oru,  # noqa
                           reader_token, run, start, weft_ok)
from access_lib import add_hs_launcher, claims, sign  # noqa: E402

db = new_db()
org(db, "RVV", "acute")
org(db, "RWF", "acute", agreement=False)
org(db, "KENTCC", "social-care")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
weft_ok("feed", "add", "--db", db, "--org", "RWF", "--kind", "hl7v2", "--facility", "RWFPAS")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
reader = reader_token(db)
narrow = weft_ok("client", "add", "--db", db, "--name", "narrow", "--scope",
                 "system/Patient.rs").strip()
add_hs_launcher(db, "gp-system", "RVV", "https://gp.example")

# Patient data in the refused input: none of it may reach the log.
NHS1, NHS2, NHS3 = nhs(4401), nhs(4402), nhs(4403)
SECRET_WORDS = ["Zebedee", "Quixotic", "Marmaduke", "Ottoline"]

srv = start(db, "--drop-interval", "1")
ids = {}
try:
    c = Mllp(srv.mllp_port)
    ack = c.call(adt("NOBODY", "LOGAR1", "A01", "M1", NHS1, family="Zebedee", given="Quixotic"))
    check(ack_code(ack) == "AR", "unknown facility: %r" % ack)
    bad = ("MSH|^~\\&|LAB|RVVPAS|W|W|20261124||ORU^R01|LOGAR2|P|2.5\r"
           "PID|1||M2^^^RVVPAS^MR~%s^^^NHS^NH||Marmaduke^Ottoline||19411105|F\r" % NHS2)
    ack = c.call(bad)
    check(ack_code(ack) in ("AR", "AE"), "unmappable message: %r" % ack)
    ack = c.call(adt("RWFPAS", "LOGAR3", "A01", "M3", NHS3, family="Zebedee"))
    check(ack_code(ack) == "AR", "no agreement: %r" % ack)
    c.close()

    # 4xx for bad input (the bad value carries an NHS number and a birth date)
    st, h, b = srv.request("GET", "/fhir/Patient?birthdate=" + urllib.parse.quote(
        "1941-11-05x" + NHS1), token=reader)
    check(st == 400, "bad birthdate: %d %r" % (st, b))
    ids["bad-input"] = h.get("x-request-id")
    st, h, b = srv.request("GET", "/fhir/Frobnicator/1", token=reader)
    check(st == 404, "unknown type: %d" % st)
    ids["unknown-type"] = h.get("x-request-id")

    # refused launch: signed with the wrong secret
    tok = sign({"alg": "HS256", "typ": "JWT"}, claims("https://gp.example", "u1", "R8000", "RVV",
                                                     NHS1), "HS256", b"not-the-secret" * 3)
    st, h, b = srv.request("GET", "/launch?token=" + urllib.parse.quote(tok),
                           headers={"Accept": "application/json"}, raw=True)
    check(st == 401, "launch with a bad signature: %d %r" % (st, b))
    ids["launch"] = h.get("x-request-id")

    # denied read: an Observation for a client that may read Patients only
    ack = Mllp(srv.mllp_port).call(oru("RVVPAS", "LOGOK1", "M9", nhs(4409), order="O1"))
    check(ack_code(ack) == "AA", "good ORU: %r" % ack)
    st, _, b = srv.request("GET", "/fhir/Observation?_count=1", token=reader)
    check(st == 200 and b.get("entry"), "no Observation stored: %r" % b)
    oid = b["entry"][0]["resource"]["id"]
    st, h, b = srv.request("GET", "/fhir/Observation/" + oid, token=narrow)
    check(st == 403, "narrow client reading an Observation: %d %r" % (st, b))
    ids["denied"] = h.get("x-request-id")

    # rejected CSV: required columns missing; a row with an impossible date
    os.makedirs(folder, exist_ok=True)
    HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
    for name, text in (("services.csv", "service_id,person_id\nS1,A1\n"),
                       ("people.csv", HEAD + "A1,%s,Zebedee,Quixotic,1941-02-31,F,CT1 1AA\n"
                        % NHS2)):
        p = os.path.join(folder, name)
        with open(p + ".tmp", "w") as f:
            f.write(text)
        os.utime(p + ".tmp", (time.time() - 120, time.time() - 120))
        os.rename(p + ".tmp", p)
    deadline = time.time() + 60
    while any(os.path.exists(os.path.join(folder, n)) for n in ("services.csv", "people.csv")):
        check(time.time() < deadline, "the drop folder was not processed")
        time.sleep(0.2)
    time.sleep(0.5)
finally:
    log = srv.stop()

warn = [ln for ln in log.splitlines() if " WARN " in ln]


def need(what, *words):
    hits = [ln for ln in warn if all(w in ln for w in words)]
    check(hits, "no WARN line for %s with %r; WARN lines:\n%s" % (what, words, "\n".join(warn)))
    return hits[0]


need("unknown facility", "hl7 message refused", "ack=AR", "control=LOGAR1", "not registered")
need("unmappable message", "hl7 message refused", "control=LOGAR2", "facility=RVVPAS")
need("no agreement", "hl7 message refused", "control=LOGAR3", "agreement")
line = need("bad input", "request id=%s" % ids["bad-input"], "status=400", "reason=", "birthdate")
need("unknown type", "request id=%s" % ids["unknown-type"], "status=404", "reason=")
need("refused launch (access)", "launch refused request=%s" % ids["launch"])
need("refused launch (http)", "request id=%s" % ids["launch"], "status=401", "reason=")
need("denied read (authz)", "access denied request=%s" % ids["denied"], "resource type")
need("denied read (http)", "request id=%s" % ids["denied"], "status=403", "reason=")
rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "100")
csv_rows = [m for m in json.loads(out) if m["kind"] == "csv"]
check(len(csv_rows) == 2, "csv inbox rows: %r" % csv_rows)
for m in csv_rows:
    need("csv file inbox=%d" % m["id"], "csv file inbox=%d " % m["id"], "reason=")
need("csv missing columns", "outcome=rejected", "reason=", "required")

# no patient data anywhere in the log (WARN or not)
for secret in [NHS1, NHS2, NHS3, "1941-11-05", "19411105", "1941-02-31"] + SECRET_WORDS:
    bad_lines = [ln for ln in log.splitlines() if secret in ln]
    check(not bad_lines, "patient data %r in the log:\n%s" % (secret, "\n".join(bad_lines)))
# one WARN line per refusal: HL7 ones are not repeated
check(sum("control=LOGAR1" in ln for ln in warn) == 1, "LOGAR1 logged more than once")
print("ok: %d WARN lines, each refusal with its id and reason; no patient data in %d log lines" % (
    len(warn), len(log.splitlines())))
