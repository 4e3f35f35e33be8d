#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""serve_two_nodes.py - two `weft serve` nodes on one PostgreSQL database,
each with HTTP and MLLP (issue 12, several nodes):

  - an HL7 v2 admission sent to node A is read through node B's FHIR API;
  - the same message resent to node B is acknowledged and applied once
    (the inbox's (feed, control id) claim is in the shared database);
  - a web session launched on node A works on node B, and the launch token
    used on A is refused on B (its jti is spent in the shared database);
  - the audit anchor (a single-runner job, store_job_lock) is written by one
    node only; when that node stops, the other takes the job over;
  - the audit log written by both nodes verifies as one chain.
On SQLite (one node per database file) it is skipped."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import PG_DIR, skip  # noqa: E402
from feeds_harness import (TMP, Mllp, ack_code, adt, check, fail, new_db, nhs, org,  # noqa: E402
                           reader_token, run, start, weft_ok)
from access_lib import add_hs_launcher, claims, launch, session_info, sign  # noqa: E402

if not PG_DIR:
    skip("several nodes share one PostgreSQL database; a SQLite file has one node")

NHS = nhs(7100)
db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
reader = reader_token(db)
secret = add_hs_launcher(db, "epr", "RVV", "iss-epr")
anchor = {t: os.path.join(TMP, "anchor-%s.txt" % t) for t in "AB"}
nodes = {}
for t in "AB":
    nodes[t] = start(db, "--audit-anchor", anchor[t], "--audit-anchor-interval", "1", tag=t)
A, B = nodes["A"], nodes["B"]


def lines(path):
    try:
        with open(path) as f:
            return [ln for ln in f.read().splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


def patient_on(srv):
    st, _, b = srv.request("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|"
                           + NHS, token=reader)
    check(st == 200, "search on %s: %d %r" % (srv.port, st, b))
    return [e["resource"] for e in b.get("entry", [])]


try:
    # ---- HL7 v2 to node A, read on node B ----------------------------------------------
    msg = adt("RVVPAS", "TWO1", "A01", "H7100", NHS, visit="V7100")
    c = Mllp(A.mllp_port)
    check(ack_code(c.call(msg)) == "AA", "admission not applied on node A")
    c.close()
    pats = patient_on(B)
    check(len(pats) == 1, "node B does not see node A's Patient: %r" % pats)
    pid = pats[0]["id"]
    check(pats[0]["meta"]["versionId"] == "1", "version %r" % pats[0]["meta"])

    # ---- the same message resent to node B: acknowledged, applied once -------------------
    c = Mllp(B.mllp_port)
    check(ack_code(c.call(msg)) == "AA", "resent admission not acknowledged on node B")
    c.close()
    pats = patient_on(A)
    check(len(pats) == 1 and pats[0]["meta"]["versionId"] == "1",
          "the resent message changed the record: %r" % pats)

    # ---- a session made on node A works on node B; the launch token is spent -------------
    tok = sign({"alg": "HS256"}, claims("iss-epr", "doc-1", "R8000", "RVV", NHS), "HS256", secret)
    st, hd, body, ck = launch(A, tok)
    check(st == 303 and ck, "launch on node A: %d %r" % (st, body[:200]))
    st, info = session_info(B, ck)
    check(st == 200 and info.get("person"), "node A's session on node B: %d %r" % (st, info))
    st, _, b = B.request("GET", "/fhir/Patient/%s" % pid, headers={"Cookie": "weft_session=" + ck})
    check(st == 200 and b.get("id") == pid, "read on node B with node A's session: %d" % st)
    st, _, body, ck2 = launch(B, tok)
    check(st in (400, 401, 403) and not ck2, "the launch token used on A was accepted on B: %d" % st)

    # ---- the audit anchor: one node writes it --------------------------------------------
    deadline = time.time() + 30
    while time.time() < deadline and not (lines(anchor["A"]) or lines(anchor["B"])):
        patient_on(A)
        patient_on(B)
        time.sleep(0.5)
    for _ in range(6):  # several intervals, the head moving on both nodes
        patient_on(A)
        patient_on(B)
        time.sleep(0.5)
    la, lb = lines(anchor["A"]), lines(anchor["B"])
    check(bool(la) != bool(lb), "the anchor must be written by one node: A %d lines, B %d" % (
        len(la), len(lb)))
    leader, other = ("A", "B") if la else ("B", "A")
    before = len(lines(anchor[other]))
    nodes[leader].stop()
    del nodes[leader]
    deadline = time.time() + 30
    while time.time() < deadline and len(lines(anchor[other])) == before:
        patient_on(nodes[other])
        time.sleep(0.5)
    check(len(lines(anchor[other])) > before,
          "node %s did not take the anchor over after node %s stopped" % (other, leader))
finally:
    for srv in list(nodes.values()):
        srv.stop()

# one chain, written by both nodes
rc, out, err = run("audit", "verify", "--db", db)
check(rc == 0 and "intact" in out, "audit verify: %d %s %s" % (rc, out, err))
rc, out, err = run("feed", "messages", "--db", db, "--json")
check(rc == 0, err)
outcomes = sorted(m["outcome"] for m in json.loads(out))
check(outcomes == ["applied", "duplicate"], "inbox outcomes %r" % outcomes)
print("ok: two nodes on one database")
