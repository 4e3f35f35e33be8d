#!/usr/bin/env python3
# weft-test-postgres-skip: power cuts replayed on the SQLite file by the test build's write/fsync journal (lib/durability.py); on PostgreSQL durability is the server's WAL (pg_restart.py stops the server mid-feed)
"""durability_load.py - power cuts during `weft load`.

A journalled test-build `weft load` (lib/durability.py) loads a first
directory of transaction Bundles to the end (exit 0: the load is
acknowledged), then a second load of another directory cuts the power at a
chosen write or fsync.  After the rewind to what was durable:
  - the database is intact and the audit chain verifies;
  - everything of the acknowledged load is stored, once;
  - nothing is half-applied: each transaction Bundle of the cut load is
    stored whole or not at all;
  - loading the second directory again completes, and then every Bundle is
    stored exactly once.
Fails with WEFT_FAILPOINTS=store-skip-fsync."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from durability import (TMP, after_cut, check, copy_tree, cut_points, journal_env,  # noqa: E402
                        resources, run, wait_dead, weft_popen)
from feeds_harness import nhs, weft_ok  # noqa: E402
from powercut import counts  # noqa: E402

PER_DIR, PER_BUNDLE = 12, 3
base = os.path.join(TMP, "base")
os.makedirs(base)
db0 = os.path.join(base, "load.db")
weft_ok("init", "--db", db0)


def bundle(d, i):
    pid = "lp-%s%d" % (d, i)
    entries = [{"fullUrl": "urn:uuid:%08d-0000-4000-8000-%012d" % (ord(d), i),
                "resource": {"resourceType": "Patient", "id": pid,
                             "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                             "value": nhs(6000 + ord(d) * 100 + i)}],
                             "name": [{"family": "Testload", "given": [pid]}],
                             "birthDate": "1972-03-04"},
                "request": {"method": "PUT", "url": "Patient/" + pid}}]
    for k in range(PER_BUNDLE):
        cid = "lc-%s%d-%d" % (d, i, k)
        entries.append({"resource": {"resourceType": "Condition", "id": cid,
                                     "code": {"coding": [{"system": "http://snomed.info/sct",
                                                          "code": "44054006"}]},
                                     "subject": {"reference": entries[0]["fullUrl"]}},
                        "request": {"method": "PUT", "url": "Condition/" + cid}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


for d in "AB":
    os.makedirs(os.path.join(base, d))
    for i in range(PER_DIR):
        with open(os.path.join(base, d, "b%02d.json" % i), "w") as f:
            json.dump(bundle(d, i), f)


def workload(run_dir, cut):
    db = os.path.join(run_dir, "load.db")
    env = journal_env(run_dir, None)
    p = weft_popen(["load", "--db", db, "--org", "A81001", os.path.join(run_dir, "A")], env,
                   stdout=open(os.path.join(run_dir, "a.out"), "w"),
                   stderr=open(os.path.join(run_dir, "a.err"), "w"))
    check(p.wait() == 0, "the first load failed: %s" % open(os.path.join(run_dir, "a.err")).read())
    ready = counts(os.path.join(run_dir, "power.log"))
    env = journal_env(run_dir, cut)
    p = weft_popen(["load", "--db", db, "--org", "A81001", os.path.join(run_dir, "B")], env,
                   stdout=open(os.path.join(run_dir, "b.out"), "w"),
                   stderr=open(os.path.join(run_dir, "b.err"), "w"))
    hit = wait_dead(p, timeout=120)
    return hit, ready


def stored(db):
    have = {}
    for s in resources(db, "Patient") + resources(db, "Condition"):
        have[s] = have.get(s, 0) + 1
    return have


def ids(d, i):
    return ["lp-%s%d" % (d, i)] + ["lc-%s%d-%d" % (d, i, k) for k in range(PER_BUNDLE)]


dry = os.path.join(TMP, "dry")
copy_tree(base, dry)
_, (w0, s0) = workload(dry, None)
w1, s1 = counts(os.path.join(dry, "power.log"))
check(w1 > w0, "dry run journalled nothing")
# the second load's own writes and fsyncs are counted from 1
points = cut_points(w1 - w0, s1 - s0)
print("dry run: the second load made %d writes and %d fsyncs; cuts %s" % (
    w1 - w0, s1 - s0, points))

for n, cut in enumerate(points):
    rd = os.path.join(TMP, "cut%d" % n)
    copy_tree(base, rd)
    db = os.path.join(rd, "load.db")
    hit, _ = workload(rd, cut)
    summary = after_cut(rd, db)
    have = stored(db)
    for i in range(PER_DIR):
        a = [have.get(x, 0) for x in ids("A", i)]
        check(a == [1] * len(a), "cut %s (%s): acknowledged load, bundle %d: %r" % (
            cut, summary, i, a))
        b = [have.get(x, 0) for x in ids("B", i)]
        check(b in ([0] * len(b), [1] * len(b)), "cut %s (%s): transaction bundle B%d "
              "half-applied: %r" % (cut, summary, i, b))
    rc, out, err = run("load", "--db", db, "--org", "A81001", os.path.join(rd, "B"))
    check(rc == 0, "cut %s: loading again: %d %s %s" % (cut, rc, out, err))
    have = stored(db)
    want = [x for d in "AB" for i in range(PER_DIR) for x in ids(d, i)]
    check(sorted(have) == sorted(want) and set(have.values()) == {1},
          "cut %s: after loading again: %d stored, %d wanted" % (cut, len(have), len(want)))
    print("cut %s: %s; the acknowledged load kept, no bundle half-applied" % (
        cut, "hit" if hit else "not reached (killed at the end)"))
print("ok: %d power cuts" % len(points))
