#!/usr/bin/env python3
# weft-test-postgres-skip: power cuts replayed on the SQLite file by the test build's write/fsync journal (lib/durability.py); on PostgreSQL durability is the server's WAL (pg_restart.py stops the server mid-feed)
"""durability_fhir.py - power cuts while FHIR transaction Bundles are POSTed
by a feed.

A GP feed POSTs 24 transaction Bundles (a Patient and a Condition each), one
at a time, to a journalled test-build server (lib/durability.py) that cuts
the power at a chosen write or fsync.  A Bundle is acknowledged by its 200
transaction-response.  After the rewind to what was durable:
  - the database is intact and the audit chain verifies;
  - every Bundle acknowledged before the cut has an applied inbox row,
    exactly one, and both its resources;
  - nothing is half-applied: each Bundle's two resources are both stored or
    neither is; a Bundle without an applied row stored nothing;
  - the restarted server takes the resends of the rest (200 each), and then
    every Bundle is applied exactly once and stored once.
Fails with WEFT_FAILPOINTS=store-skip-fsync."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from durability import (TMP, after_cut, check, copy_tree, cut_points, journal_env,  # noqa
                        resources, wait_dead)
from feeds_harness import nhs, org, weft_ok  # noqa: E402
from powercut import counts  # noqa: E402
import api_harness  # noqa: E402

N = 24
base = os.path.join(TMP, "base")
os.makedirs(base)
db0 = os.path.join(base, "feeds.db")
weft_ok("init", "--db", db0)
org(db0, "G82001", "gp")
token = weft_ok("feed", "add", "--db", db0, "--org", "G82001", "--kind", "fhir").strip()


def bundle(i):
    return {"resourceType": "Bundle", "type": "transaction", "id": "B%02d" % i, "entry": [
        {"fullUrl": "urn:uuid:0e4b1d0a-0000-4000-8000-%012d" % i,
         "resource": {"resourceType": "Patient", "id": "pc-%d" % i,
                      "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                      "value": nhs(5000 + i)}],
                      "name": [{"family": "Testcut", "given": ["Fhir%d" % i]}],
                      "birthDate": "1971-02-03"},
         "request": {"method": "PUT", "url": "Patient/pc-%d" % i}},
        {"resource": {"resourceType": "Condition", "id": "cc-%d" % i,
                      "code": {"coding": [{"system": "http://snomed.info/sct",
                                           "code": "44054006", "display": "Diabetes"}]},
                      "subject": {"reference": "urn:uuid:0e4b1d0a-0000-4000-8000-%012d" % i}},
         "request": {"method": "PUT", "url": "Condition/cc-%d" % i}}]}


def server(db, env):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return api_harness.Server(db, "--drop-interval", "0")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def workload(run_dir, cut):
    db = os.path.join(run_dir, "feeds.db")
    srv = server(db, journal_env(run_dir, cut))
    ready = counts(os.path.join(run_dir, "power.log"))
    acked = set()
    for i in range(N):
        try:
            st, _, body = srv.request("POST", "/fhir", bundle(i), token=token)
        except (OSError, ConnectionError, api_harness.http.client.HTTPException):
            break  # the cut
        check(st == 200, "Bundle %d: %d %r" % (i, st, body))
        acked.add(i)
    hit = wait_dead(srv.proc, timeout=0.1 if not cut else 5)
    return acked, hit, ready


def stored(db):
    pats = {int(s.split("-")[1]) for s in resources(db, "Patient") if s.startswith("pc-")}
    conds = {int(s.split("-")[1]) for s in resources(db, "Condition") if s.startswith("cc-")}
    return pats, conds, len(resources(db, "Patient")), len(resources(db, "Condition"))


def bodies(db):
    """(outcome, Bundle.id) of each inbox row (kept verbatim, before parsing:
    the row's control id is not set when its body is kept)."""
    import json
    import sqlite3
    c = sqlite3.connect(db)
    try:
        rows = c.execute("select outcome, body from inbox where kind = 'fhir' order by id")
        return [(o, json.loads(b)["id"]) for o, b in rows.fetchall()]
    finally:
        c.close()


dry = os.path.join(TMP, "dry")
copy_tree(base, dry)
acked, _, (w0, s0) = workload(dry, None)
w1, s1 = counts(os.path.join(dry, "power.log"))
check(len(acked) == N, "dry run: %d of %d acknowledged" % (len(acked), N))
check(w1 > w0, "dry run journalled nothing")
points = cut_points(w1, s1, w0, s0)
print("dry run: %d writes and %d fsyncs at start, %d and %d after; cuts %s" % (
    w0, s0, w1, s1, points))

for n, cut in enumerate(points):
    rd = os.path.join(TMP, "cut%d" % n)
    copy_tree(base, rd)
    db = os.path.join(rd, "feeds.db")
    acked, hit, _ = workload(rd, cut)
    summary = after_cut(rd, db)
    pats, conds, npat, ncond = stored(db)
    check(npat == len(pats) and ncond == len(conds), "cut %s: duplicates stored" % cut)
    check(pats == conds, "cut %s (%s): half-applied Bundles: Patients %r Conditions %r" % (
        cut, summary, sorted(pats ^ conds), ""))
    applied = {}
    for outcome, bid in bodies(db):
        if outcome == "applied":
            applied[bid] = applied.get(bid, 0) + 1
        else:  # kept before processing, processing cut short: never acknowledged
            check(outcome == "pending" and bid not in ["B%02d" % i for i in acked],
                  "cut %s: inbox row %s %s" % (cut, outcome, bid))
    for i in acked:
        check(applied.get("B%02d" % i) == 1 and i in pats, "cut %s (%s): Bundle %d acknowledged "
              "before the cut: applied %s, stored %s" % (cut, summary, i, applied.get("B%02d" % i),
                                                         i in pats))
    check(all(int(c[1:]) in pats for c in applied), "cut %s: applied row without its "
          "resources" % cut)
    srv = server(db, dict(os.environ))
    try:
        for i in range(N):
            if i not in acked:
                st, _, body = srv.request("POST", "/fhir", bundle(i), token=token)
                check(st == 200, "cut %s: resend %d: %d %r" % (cut, i, st, body))
    finally:
        srv.stop()
    pats, conds, npat, ncond = stored(db)
    check(pats == conds == set(range(N)) and npat == ncond == N, "cut %s: after resends %d %d" % (
        cut, npat, ncond))
    print("cut %s: %s; %d acknowledged before it, all kept" % (
        cut, "hit" if hit else "not reached (killed at the end)", len(acked)))
print("ok: %d power cuts" % len(points))
