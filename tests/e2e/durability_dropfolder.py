#!/usr/bin/env python3
# weft-test-postgres-skip: power cuts replayed on the SQLite file by the test build's write/fsync journal (lib/durability.py); on PostgreSQL durability is the server's WAL (pg_restart.py stops the server mid-feed)
"""durability_dropfolder.py - power cuts while a CSV drop folder is processed.

Eight people extracts wait in a feed's folder; a journalled test-build server
(lib/durability.py) processes them and cuts the power at a chosen write or
fsync.  A file is acknowledged to its sender when it is in done/ with its
report.  After the rewind to what was durable:
  - the database is intact and the audit chain verifies;
  - every file acknowledged before the cut has all its rows in the record,
    once, an applied inbox row, and its whole report;
  - nothing is half-applied: a file's rows are all in the record or none is
    (each file is one commit);
  - no file is lost: each is in the folder or in done/;
  - the next pass (`weft feed run`) leaves every file in done/ exactly once,
    every row in the record exactly once, and each file with exactly one
    applied inbox row (an interrupted processing is closed as rejected).
Fails with WEFT_FAILPOINTS=store-skip-fsync."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from durability import (TMP, after_cut, check, copy_tree, cut_points, inbox, journal_env,  # noqa
                        resources, run, wait_dead)
from feeds_harness import nhs, org, weft_ok  # noqa: E402
from powercut import counts  # noqa: E402
import api_harness  # noqa: E402

FILES, ROWS = 8, 4
HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
base = os.path.join(TMP, "base")
os.makedirs(base)
db0 = os.path.join(base, "feeds.db")
weft_ok("init", "--db", db0)
org(db0, "KENTCC", "social-care")
weft_ok("feed", "add", "--db", db0, "--org", "KENTCC", "--kind", "csv", "--folder",
        os.path.join(base, "kent"))


def names():
    return ["people_%02d.csv" % f for f in range(FILES)]


def ids(f):
    return ["P%02d-%d" % (f, r) for r in range(ROWS)]


os.makedirs(os.path.join(base, "staging"))
for f, name in enumerate(names()):  # moved into the folder once the server is up
    path = os.path.join(base, "staging", name)
    with open(path, "w") as fh:
        fh.write(HEAD + "".join("%s,%s,Testcut,Row%d,1960-01-%02d,F,CT1 1AA\n" % (
            pid, nhs(3000 + f * ROWS + r), r, r + 1) for r, pid in enumerate(ids(f))))
    t = time.time() - 60
    os.utime(path, (t, t))


def workload(run_dir, cut):
    """A journalled server processes the folder; returns (files seen in done/
    with their report before the cut, writes and syncs at start)."""
    db = os.path.join(run_dir, "feeds.db")
    # the feed's folder is recorded by absolute path: point it at this copy
    import sqlite3
    c = sqlite3.connect(db)
    c.execute("update feed set folder = ? where kind = 'csv'", (os.path.join(run_dir, "kent"),))
    c.commit()
    c.close()
    done = os.path.join(run_dir, "kent", "done")
    saved, env = dict(os.environ), journal_env(run_dir, cut)
    os.environ.clear()
    os.environ.update(env)
    try:
        srv = api_harness.Server(db, "--drop-interval", "1")  # the first pass is at start: empty
    finally:
        os.environ.clear()
        os.environ.update(saved)
    ready = counts(os.path.join(run_dir, "power.log"))
    for n in names():  # the sender's files, complete (their own durability is theirs)
        os.rename(os.path.join(run_dir, "staging", n), os.path.join(run_dir, "kent", n))
    acked = set()
    deadline = time.time() + 120
    while srv.proc.poll() is None and len(acked) < FILES and time.time() < deadline:
        for n in names():
            if os.path.exists(os.path.join(done, n + ".report.json")) and \
                    os.path.exists(os.path.join(done, n)):
                acked.add(n)
        time.sleep(0.01)
    hit = wait_dead(srv.proc, timeout=0.1 if not cut else 5)
    return acked, hit, ready


def stored(db):
    """Source ids of current Patients from this test's rows, with counts."""
    got = {}
    for s in resources(db, "Patient"):
        got[s] = got.get(s, 0) + 1
    return got


dry = os.path.join(TMP, "dry")
copy_tree(base, dry)
acked, _, (w0, s0) = workload(dry, None)
w1, s1 = counts(os.path.join(dry, "power.log"))
check(len(acked) == FILES, "dry run: %d of %d files done" % (len(acked), FILES))
check(w1 > w0, "dry run journalled nothing")
points = cut_points(w1, s1, w0, s0)
print("dry run: %d writes and %d fsyncs at start, %d and %d after; cuts %s" % (
    w0, s0, w1, s1, points))

for n, cut in enumerate(points):
    rd = os.path.join(TMP, "cut%d" % n)
    copy_tree(base, rd)
    db = os.path.join(rd, "feeds.db")
    folder = os.path.join(rd, "kent")
    acked, hit, _ = workload(rd, cut)
    summary = after_cut(rd, db)
    got = stored(db)
    rows = inbox(db)
    for f, name in enumerate(names()):
        have = [got.get(i, 0) for i in ids(f)]
        check(all(h == have[0] for h in have) and have[0] in (0, 1),
              "cut %s (%s): %s is half-applied or doubled: %r" % (cut, summary, name, have))
        if name in acked:
            check(have[0] == 1, "cut %s (%s): %s was in done/ before the cut, rows %r" % (
                cut, summary, name, have))
            check(any(m["control_id"] == name and m["outcome"] in ("applied",) for m in rows),
                  "cut %s: %s was in done/ before the cut, no applied inbox row" % (cut, name))
            rp = os.path.join(folder, "done", name + ".report.json")
            try:
                rep = json.load(open(rp))
            except (OSError, ValueError) as e:
                rep = {"unreadable": str(e)}
            check(rep.get("rows_loaded") == ROWS, "cut %s (%s): %s was in done/ before the cut, "
                  "its report is now %r" % (cut, summary, name, rep))
        here = os.path.exists(os.path.join(folder, name))
        there = os.path.exists(os.path.join(folder, "done", name))
        check(here != there, "cut %s (%s): %s in the folder %s, in done/ %s" % (
            cut, summary, name, here, there))
    # the next pass finishes the folder
    rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
    check(rc == 0, "cut %s: feed run after the cut: %d %s %s" % (cut, rc, out, err))
    lost_moves = err.count("its move was lost")
    left = sorted(x for x in os.listdir(folder) if x.endswith(".csv"))
    done = sorted(x for x in os.listdir(os.path.join(folder, "done")) if x.endswith(".csv"))
    check(not left and done == names(), "cut %s: after the pass, left %r, done %r" % (
        cut, left, done))
    check(not os.listdir(os.path.join(folder, "failed")), "cut %s: files in failed/" % cut)
    got = stored(db)
    check(all(got.get(i) == 1 for f in range(FILES) for i in ids(f)) and
          len(got) == FILES * ROWS, "cut %s: record after the pass: %r" % (cut, got))
    rows = inbox(db)
    for name in names():
        mine = [m for m in rows if m["control_id"] == name]
        applied = [m for m in mine if m["outcome"] == "applied"]
        others = [m for m in mine if m["outcome"] != "applied"]
        check(len(applied) == 1, "cut %s (%s): %s has %d applied inbox rows" % (
            cut, summary, name, len(applied)))
        check(all(m["outcome"] == "rejected" and "interrupted" in (m["error"] or "")
                  for m in others), "cut %s: %s other rows %r" % (cut, name, others))
    print("cut %s: %s; %d files in done/ before it, all kept; %d lost moves recovered" % (
        cut, "hit" if hit else "not reached (killed at the end)", len(acked), lost_moves))
print("ok: %d power cuts" % len(points))
