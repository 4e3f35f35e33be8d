#!/usr/bin/env python3
"""security_feeds.py - security review probes of /admin/feeds and the feed
paths of the real (sanitized) server:

- the verbatim body of an inbound message (patient data of any category) is
  shown only to a client with a system-wide read scope, and that read is
  audited; a feed-status client (admin/feeds.read) and a governance role
  (whose policy shows demographics only) get the message's metadata without
  the body; the message list never carries bodies;
- feed routes answer with Cache-Control: no-store and nosniff;
- write-only feed tokens and anonymous callers are refused;
- the operational log (stderr) holds no NHS number or name from the messages,
  accepted or rejected.
On PostgreSQL too (the stored Patients read with psql: api_harness.db_rows)."""
# weft-test-backends: sqlite postgres
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import db_rows  # noqa: E402
from feeds_harness import (Mllp, ack_code, adt, check, new_db, nhs, org, oru,  # noqa: E402
                           reader_token, run, start, weft_ok)
from access_lib import add_hs_launcher, claims, launch, sign  # noqa: E402

NHS = nhs(8181)
FAMILY, GIVEN = "Wrenhollow", "Isadorable"
db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
gp_token = weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "fhir").strip()
reader = reader_token(db)
ops = weft_ok("client", "add", "--db", db, "--name", "feed-ops", "--scope",
              "admin/feeds.read").strip()
secret = add_hs_launcher(db, "epr", "RVV", "iss-epr")

srv = start(db)
try:
    c = Mllp(srv.mllp_port)
    ack = c.call(adt("RVVPAS", "S1", "A01", "H900", NHS, visit="V900", family=FAMILY,
                     given=GIVEN))
    check(ack_code(ack) == "AA", "ADT not applied: %r" % ack)
    ack = c.call(oru("RVVPAS", "S2", "H900", NHS, order="LAB900"))
    check(ack_code(ack) == "AA", "ORU not applied: %r" % ack)
    # a number failing the check digit: applied (AA), kept as an unverified
    # identifier that links nobody (docs/feeds/hl7v2.md PID-3); neither the
    # ACK nor the message metadata carries it
    good = nhs(901)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)  # the check digit wrong
    ack = c.call(adt("RVVPAS", "S3", "A01", "H901", bad, family=FAMILY, given=GIVEN))
    check(ack_code(ack) == "AA" and bad not in ack, "bad NHS number message: %r" % ack)
    ack = c.call(adt("RVVPAS", "S4", "A01", "H902", bad, family="Other", given="Person"))
    check(ack_code(ack) == "AA", "second bad NHS number message: %r" % ack)
    c.close()
    rows = db_rows(db, "select source_id, person_id, json from resource where type = 'Patient' "
                   "and next_seq is null")
    by_src = {r[0]: r for r in rows}
    check(set(by_src) == {"mr-H900", "mr-H901", "mr-H902"}, "Patients: %r" % sorted(by_src))
    unv = [i for i in json.loads(by_src["mr-H901"][2]).get("identifier", [])
           if i.get("value") == bad]
    check(len(unv) == 1 and unv[0]["system"] == "urn:weft:id:RVV:nh-unverified",
          "the bad number is not kept as unverified: %r" % unv)
    check(by_src["mr-H901"][1] != by_src["mr-H902"][1],
          "one invalid NHS number linked two people into one person")

    st, _, fs = srv.request("GET", "/admin/feeds", token=reader)
    names = [f["name"] for f in fs.get("feeds", []) if f.get("kind") == "hl7v2"]
    check(st == 200 and names == ["rvv-hl7v2"], "feeds: %d %r" % (st, fs))
    st, hd, ms = srv.request("GET", "/admin/feeds/rvv-hl7v2/messages", token=reader)
    check(st == 200 and len(ms.get("messages", [])) == 4, "messages %d %r" % (st, ms))
    check(hd.get("cache-control") == "no-store", "feed messages Cache-Control %r" % hd)
    check(all("body" not in m for m in ms["messages"]), "message list carries bodies")
    mid = ms["messages"][0]["id"]
    for m in ms["messages"]:
        check(NHS not in json.dumps(m) and bad not in json.dumps(m) and FAMILY not in json.dumps(m),
              "message metadata carries patient data: %r" % m)

    path = "/admin/feeds/messages/%d" % mid
    st, hd, one = srv.request("GET", path, token=reader)
    check(st == 200 and FAMILY in one.get("body", ""), "system reader: %d %r" % (st, one))
    check(hd.get("cache-control") == "no-store" and hd.get("x-content-type-options") == "nosniff",
          "message headers %r" % hd)
    st, hd, one = srv.request("GET", path, token=ops)
    check(st == 200, "feed-ops client: %d" % st)
    check("body" not in one and "body_base64" not in one and FAMILY not in json.dumps(one),
          "a feed-status client read a message body: %r" % one)
    # a governance role (policy: demographics only) sees no body either
    st, _, _, ck = launch(srv, sign({"alg": "HS256"},
                                    claims("iss-epr", "cg-1", "R5105", "RVV", NHS), "HS256", secret))
    check(st == 303 and ck, "governance launch %d" % st)
    st, _, one = srv.request("GET", path, headers={"Cookie": "weft_session=" + ck})
    check(st == 200, "governance: %d %r" % (st, one))
    check("body" not in one and FAMILY not in json.dumps(one),
          "a governance role read a message body: %r" % one)
    st, _, _ = srv.request("GET", path, token=gp_token)
    check(st == 403, "feed token read a message: %d" % st)
    st, _, _ = srv.request("GET", path)
    check(st == 401, "anonymous read of a message: %d" % st)
finally:
    log = srv.stop()

rc, out, _ = run("audit", "list", "--db", db, "--action", "read", "--limit", "1000")
check(rc == 0 and ("inbox message %d" % mid) in out,
      "the system reader's read of a message body was not audited:\n" + out)
check(out.count("inbox message") == 1, "bodies withheld were audited as reads:\n" + out)
for word in (NHS, bad, FAMILY, GIVEN):
    check(word not in log, "operational log holds patient data %r:\n%s" % (word, log[-3000:]))
print("ok")
