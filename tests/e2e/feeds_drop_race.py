#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_drop_race.py - one processor per drop-folder file (docs/FEEDS.md 5).

  1. Race: `weft serve`'s watcher (every second) and three `weft feed run`
     processes, started together, on one folder holding 8 extracts: every
     file ends in done/ exactly once (no "{id}-NAME" second copy) with one
     report, the inbox holds 8 rows, all applied, the counters say 8, and
     the record holds each row once.
  2. A claim held by another process (an flock on the file, as a processor
     holds it) makes `weft feed run` leave the file alone; released, the
     next pass takes it.
  3. Crash: `weft feed run` killed with SIGKILL in the middle of a big file;
     the file is still in the folder, the next pass processes it: one copy
     in done/, one report, each row once in the record, and the dead
     process's inbox row (left pending) is marked rejected as interrupted."""
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import WEFT, db_rows  # noqa: E402
from feeds_harness import (TMP, check, new_db, nhs, org, reader_token, run, start,  # noqa: E402
                           weft_ok)

HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
db = new_db()
org(db, "KENTCC", "social-care")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
reader = reader_token(db)


def put(name, first, count):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(HEAD)
        for i in range(first, first + count):
            f.write("R%06d,%s,Testrace,Amy,1950-02-03,F,CT1 1AA\n" % (i, nhs(10 + i)))
    t = time.time() - 60
    os.utime(path, (t, t))


def done_files():
    return sorted(os.listdir(os.path.join(folder, "done")))


def patients(srv):
    st, _, b = srv.request("GET", "/fhir/Patient?_count=1", token=reader)
    check(st == 200, "Patient search: %d %r" % (st, b))
    return b["total"]


def inbox():
    rc, out, err = run("feed", "messages", "--db", db, "--limit", "1000", "--json")
    check(rc == 0, "feed messages: %s" % err)
    return json.loads(out)


# ---- 1. the race ---------------------------------------------------------------------------
NFILES, ROWS = 8, 150
names = ["people_%02d.csv" % i for i in range(NFILES)]
for i, n in enumerate(names):
    put(n, i * ROWS, ROWS)
srv = start(db, "--drop-interval", "1")
try:
    procs = [subprocess.Popen([WEFT, "feed", "run", "--db", db, "--min-age", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        check(p.returncode == 0, "feed run exit %d: %s %s" % (p.returncode, out, err))
        print("feed run: " + out.strip())
    deadline = time.time() + 120
    while any(n in os.listdir(folder) for n in names) and time.time() < deadline:
        time.sleep(0.2)
    # every file's processing finished: its inbox row has its outcome (the
    # counters are committed with it) - an event, not a sleep
    while time.time() < deadline and (len(inbox()) < NFILES or any(
            m["outcome"] == "pending" for m in inbox())):
        time.sleep(0.1)
    left = [n for n in os.listdir(folder) if n.endswith(".csv")]
    check(left == [], "files left in the folder: %r" % left)
    done = done_files()
    want = sorted(names + [n + ".report.json" for n in names])
    check(done == want, "done/ holds each file once with one report:\n%r\nwant %r"
          % (done, want))
    check(os.listdir(os.path.join(folder, "failed")) == [], "failed/ not empty")
    msgs = inbox()
    check(len(msgs) == NFILES and all(m["outcome"] == "applied" for m in msgs),
          "inbox: %r" % [(m["control_id"], m["outcome"]) for m in msgs])
    check(sorted(m["control_id"] for m in msgs) == names, "inbox names")
    st, _, fs = srv.request("GET", "/admin/feeds", token=reader)
    tot = fs["feeds"][0]["total"]
    check(tot["received"] == NFILES and tot["applied"] == NFILES, "counters: %r" % tot)
    check(patients(srv) == NFILES * ROWS, "record holds %d Patients, want %d"
          % (patients(srv), NFILES * ROWS))
    for n in names:
        rep = json.load(open(os.path.join(folder, "done", n + ".report.json")))
        check(rep["rows_loaded"] == ROWS and rep["status"] == "ok", "report %s: %r" % (n, rep))
    log = srv.stop()
    print("watcher: %d files" % log.count("csv file inbox="))
except BaseException:
    print(srv.logtext()[-3000:])
    raise

# ---- 2. a claim held elsewhere -------------------------------------------------------------
put("people_held.csv", 5000, 3)
held = open(os.path.join(folder, "people_held.csv"), "rb")
fcntl.flock(held.fileno(), fcntl.LOCK_EX)
rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
check(rc == 0 and "files 0" in out, "a held file was processed: %s %s" % (out, err))
check(os.path.exists(os.path.join(folder, "people_held.csv")), "held file moved")
held.close()  # the holder goes away
rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
check(rc == 0 and "applied 1" in out, "released file not taken: %s %s" % (out, err))
check("people_held.csv" in done_files(), "released file not in done/")

# ---- 3. a processor killed mid-file --------------------------------------------------------
BIG = 20000
put("people_big.csv", 100000, BIG)
p = subprocess.Popen([WEFT, "feed", "run", "--db", db, "--min-age", "0"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# killed as soon as its inbox row (pending: processing began) is committed -
# an event, read straight from the database (sqlite3, or psql on
# PostgreSQL: api_harness.db_rows) so that the kill follows it
# closely whatever the binary's speed
deadline = time.time() + 120
killed = False
while time.time() < deadline and p.poll() is None:
    if db_rows(db, "select count(*) from inbox where outcome = 'pending'")[0][0]:
        p.send_signal(signal.SIGKILL)
        killed = True
        break
    time.sleep(0.002)
p.wait()
if not killed or not os.path.exists(os.path.join(folder, "people_big.csv")):
    check(False, "could not kill feed run mid-file (finished first?)")
pend = [m for m in inbox() if m["outcome"] == "pending"]
check(len(pend) == 1, "the dead run's row is pending: %r" % pend)
rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
check(rc == 0 and "applied 1" in out, "recovery pass: %s %s" % (out, err))
check(not os.path.exists(os.path.join(folder, "people_big.csv")), "big file still there")
big = [d for d in done_files() if "people_big" in d]
check(big == ["people_big.csv", "people_big.csv.report.json"], "done/: %r" % big)
msgs = {m["id"]: m for m in inbox()}
old = msgs[pend[0]["id"]]
check(old["outcome"] == "rejected" and "interrupted" in (old["error"] or ""),
      "dead run's row: %r" % old)
new = [m for m in msgs.values() if m["control_id"] == "people_big.csv" and m["id"] != old["id"]]
check(len(new) == 1 and new[0]["outcome"] == "applied", "recovery row: %r" % new)
srv = start(db, "--drop-interval", "0")
try:
    n = patients(srv)
    check(n == NFILES * ROWS + 3 + BIG, "record holds %d Patients, want %d"
          % (n, NFILES * ROWS + 3 + BIG))
    srv.stop()
except BaseException:
    print(srv.logtext()[-3000:])
    raise
print("ok: one processor per drop file across serve and feed run; a held claim is respected; "
      "a killed run's file is taken again and applies once")
