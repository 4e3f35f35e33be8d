#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_csv_rows.py - rejected CSV rows are counted across files and listed per
file (issue 15): two extracts, each with rejected rows, go through a drop
folder; `weft feed status` counts every rejected and loaded row of both
(JSON rows_rejected/rows_loaded, today and total; the text says
"[N ROWS REJECTED]"), not only the last file's error, and `weft feed
messages` lists each file with its own count."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import TMP, check, new_db, nhs, org, run, weft_ok  # noqa: E402

db = new_db()
org(db, "KENTCC", "social-care")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"


def put(name, rows):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(HEAD + "".join(rows))
    t = time.time() - 60
    os.utime(path, (t, t))


put("people_1.csv", ["B1,%s,Rowa,Ann,1950-02-03,F,CT1 1AA\n" % nhs(11),
                     "B2,%s,Rowb,Bob,1950-02-31,M,CT1 1AB\n" % nhs(12),    # not a date
                     "B3,%s,Rowc,Cat,1960-05-06,F,CT1 1AC\n" % nhs(13)])
run("feed", "run", "--db", db, "--min-age", "30")
put("people_2.csv", ["B4,%s,Rowd,Dan,1950-13-01,M,CT1 1AD\n" % nhs(14),    # not a date
                     "B5,%s,Rowe,Eve,1951-02-30,F,CT1 1AE\n" % nhs(15),    # not a date
                     "B6,%s,Rowf,Fay,1962-07-08,F,CT1 1AF\n" % nhs(16)])
run("feed", "run", "--db", db, "--min-age", "30")

st = json.loads(weft_ok("feed", "status", "--db", db, "--json"))
f = [x for x in st["feeds"] if x["kind"] == "csv"][0]
for period in ("today", "total"):
    c = f[period]
    check(c["rows_rejected"] == 3 and c["rows_loaded"] == 3 and c["received"] == 2,
          "%s: rows counted across files: %r" % (period, c))
text = weft_ok("feed", "status", "--db", db)
check("[3 ROWS REJECTED]" in text, "status text: %s" % text)
msgs = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", f["name"], "--json"))
errs = sorted(m["error"] or "" for m in msgs)
check(len(msgs) == 2 and any(e.startswith("1 of 3 rows rejected") for e in errs) and
      any(e.startswith("2 of 3 rows rejected") for e in errs), "per file: %r" % errs)
print("ok: 3 rejected rows counted across 2 files; each file listed with its own")
