#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_mllp_batch.py - the MLLP writer's batches, end to end.

The writer keeps a batch's inbox rows and takes its claims (feed, MSH-10)
together before it applies the messages one savepoint each (ingest.h,
ingest_hl7_batch).  Four connections send all their messages at once, so
the writer's batches hold messages of several connections: the same
message resent 20 times (5 on each connection), a merge that fails between
messages that apply, then a corrected message under the failed merge's
control id.  Every copy of the resent message is answered AA and exactly one
is applied (the others kept as duplicates of it); the failed merge is
answered AE and kept with its reason while its neighbours are applied; the
corrected message is applied (the failed one gave its claim back); every
message is kept in the inbox."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, ack_control, adt, check, msh, new_db, nhs, org, pid,  # noqa
                           reader_token, run, start, weft_ok)

FAC = "RVVPAS"
db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", FAC)
reader = reader_token(db)

DUP = adt(FAC, "DUP1", "A01", "5001", nhs(5001), visit="VDUP")
merge_bad = (msh(FAC, "BAD1", "ADT^A40^ADT_A39") + "EVN|A40|20261124101500\r"
             + pid("7002", FAC, nhs(7002)) + "MRG|7001^^^%s^MR\r" % FAC)
fixed = adt(FAC, "BAD1", "A01", "7003", visit="V7003")

conns = []
plans = []  # per connection: the control ids sent, in order
for c in range(4):
    frames = []
    for k in range(5):
        frames.append(("DUP1", DUP))
        ctl = "N%d-%d" % (c, k)
        frames.append((ctl, adt(FAC, ctl, "A01", "6%d%02d" % (c, k), visit="V" + ctl)))
    if c == 0:
        # two persons with different NHS numbers, a merge of them that must
        # fail, then a corrected message under the failed merge's control id
        frames[2:2] = [("P7001", adt(FAC, "P7001", "A01", "7001", nhs(7001), visit="V7001")),
                       ("P7002", adt(FAC, "P7002", "A01", "7002", nhs(7002), visit="V7002")),
                       ("BAD1", merge_bad), ("BAD1", fixed)]
    plans.append(frames)

srv = start(db, "--drop-interval", "0")
try:
    for c in range(4):
        conns.append(Mllp(srv.mllp_port))
    # everything written before any ACK is read: the writer's batches mix
    # the four connections' messages
    for c, frames in enumerate(plans):
        conns[c].sock.sendall(b"".join(b"\x0b" + m.encode() + b"\x1c\r" for _, m in frames))
    acks = []
    for c, frames in enumerate(plans):
        for ctl, _ in frames:
            ack = conns[c].recv()
            check(ack_control(ack) == ctl, "connection %d: ACK for %r, expected %r" %
                  (c, ack_control(ack), ctl))
            acks.append((ctl, ack_code(ack), ack))
    for c in conns:
        c.close()
    bad = [(ctl, code) for ctl, code, _ in acks if code != "AA"]
    check(bad == [("BAD1", "AE")], "ACKs other than AA: %r" % bad)
    dup_acks = [a for ctl, code, a in acks if ctl == "DUP1"]
    check(len(dup_acks) == 20, "ACKs of the resent message: %d" % len(dup_acks))
    check(sum("duplicate" in a for a in dup_acks) == 19,
          "19 of the 20 copies are answered as duplicates: %r" % dup_acks)
    st, _, b = srv.request("GET", "/fhir/Patient?_total=accurate&_count=100", token=reader)
    # 5001, 20 distinct, 7001, 7002, 7003: the failed merge merged nothing
    check(st == 200 and b.get("total") == 24, "Patients: %d %r" % (st, b.get("total")))
finally:
    srv.stop()

rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "1000", "--oldest-first")
check(rc == 0, "feed messages: %s %s" % (out, err))
rows = json.loads(out)
sent = sum(len(f) for f in plans)
check(len(rows) == sent, "inbox rows %d, messages sent %d" % (len(rows), sent))
dups = [r for r in rows if r["control_id"] == "DUP1"]
applied = [r for r in dups if r["outcome"] == "applied"]
check(len(applied) == 1, "copies applied: %r" % [(r["id"], r["outcome"]) for r in dups])
check(all(r["outcome"] == "duplicate" and r["duplicate_of"] == applied[0]["id"]
          for r in dups if r is not applied[0]),
      "the other copies are duplicates of %d: %r" %
      (applied[0]["id"], [(r["id"], r["outcome"], r["duplicate_of"]) for r in dups]))
b1 = [r for r in rows if r["control_id"] == "BAD1"]
check([r["outcome"] for r in b1] == ["rejected", "applied"], "BAD1 rows: %r" % b1)
check("different NHS numbers" in (b1[0]["error"] or ""), "the failed merge's reason: %r" % b1[0])
others = [r for r in rows if r["control_id"] not in ("DUP1", "BAD1")]
check(all(r["outcome"] == "applied" for r in others),
      "neighbours not applied: %r" % [(r["control_id"], r["outcome"]) for r in others
                                      if r["outcome"] != "applied"])
print("ok: %d messages on 4 connections at once: the resent message applied once (19 duplicates, "
      "all AA), the failed merge kept with its reason and its control id applied when corrected"
      % sent)
