#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_csv_retry.py - the CSV drop folder's retry (feeds/ingest.c,
process_csv): a file whose load met another writer (store_raced: on
PostgreSQL, whose writers overlap) is processed again once, whole, before
its outcome is kept - what the first pass committed comes out unchanged,
what the race failed is loaded.  Races are rare, so the test build's
failpoint store-unit-raced makes every file's first pass count as raced,
and then:

  - feeds_dropfolder.py comes out exactly as without it (complete files
    only, a partial file in done/ with its row's line number, a bad header
    in failed/, every file kept verbatim in the inbox with its outcome);
  - a file of three people is processed twice (the log says so) and comes
    out as once: three Patients, each version 1 (never applied twice), one
    inbox row, the feed's counters one file received and applied.
The test build only (the release binary has no failpoints)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import db_rows, skip  # noqa: E402
from feeds_harness import TMP, check, fail, new_db, nhs, org, run, weft_ok  # noqa: E402

if os.environ.get("WEFT_BIN_KIND") == "release":
    skip("the failpoint store-unit-raced is in the test build only")
os.environ["WEFT_FAILPOINTS"] = "store-unit-raced"

p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "feeds_dropfolder.py")],
                   capture_output=True, text=True)
sys.stdout.write(p.stdout)
if p.returncode != 0:
    fail("feeds_dropfolder.py with every file processed twice: %s" % (p.stdout + p.stderr)[-2000:])

db = new_db("retry.db")
org(db, "KENTCC", "social-care")
folder = os.path.join(TMP, "kent-retry")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
path = os.path.join(folder, "people.csv")
with open(path, "w") as f:
    f.write(HEAD + "R1,%s,Retrya,Amy,1950-02-03,F,CT1 1AA\n"
            "R2,%s,Retryb,Ben,1951-03-04,M,CT1 1AB\n"
            "R3,%s,Retryc,Cal,1960-05-06,M,CT1 1AC\n" % (nhs(11), nhs(12), nhs(13)))
t = time.time() - 60
os.utime(path, (t, t))
rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
check(rc == 0 and "applied 1" in out, "feed run: %d %s %s" % (rc, out, err))
check(err.count("processing it again") == 1, "the file was not processed again: %s" % err)
rep = json.load(open(os.path.join(folder, "done", "people.csv.report.json")))
check(rep["rows_read"] == 3 and rep["rows_loaded"] == 3 and rep["rows_rejected"] == 0,
      "report: %r" % rep)
vers = db_rows(db, "SELECT version, count(*) FROM resource WHERE type = ? AND source_org = ?"
               " GROUP BY version", ("Patient", "KENTCC"))
check(vers == [(1, 3)], "Patients' versions (applied twice?): %r" % vers)
inbox = db_rows(db, "SELECT outcome FROM inbox")
check(inbox == [("applied",)], "inbox: %r" % inbox)
st = json.loads(weft_ok("feed", "status", "--db", db, "--json"))
c = [x for x in st["feeds"] if x["kind"] == "csv"][0]["total"]
check(c["received"] == 1 and c["applied"] == 1 and c["rows_loaded"] == 3,
      "counters counted twice? %r" % c)
print("ok: every file processed twice, the same outcomes; a file's rows stored once, counted once")
print("PASS")
