#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_dropfolder.py - CSV drop folders with `weft feed run`.

  - only complete files are taken: names of the schema's kinds ending .csv;
    temporary names (.people.csv, people.csv.part) and other files stay; a
    file modified less than --min-age seconds ago waits for the next pass;
  - a file with a bad row goes to done/ (partial) with a report listing the
    row's line number, column and reason; the good rows are loaded;
  - a file with a missing required column goes to failed/ with the reason;
  - each file is kept verbatim in the inbox with its outcome;
  - a name already in done/ does not overwrite the earlier file."""
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


def put(name, text, age=60):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    t = time.time() - age
    os.utime(path, (t, t))


HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
put("people.csv", HEAD + "A1,%s,Testa,Amy,1950-02-03,F,CT1 1AA\n"
    "A2,%s,Testb,Ben,1950-02-31,M,CT1 1AB\n"        # line 3: not a date
    "A3,%s,Testc,Cal,1960-05-06,M,CT1 1AC\n" % (nhs(1), nhs(2), nhs(3)))
put("services.csv", "service_id,person_id\nS1,A1\n")  # required columns missing
put(".people.csv", HEAD)                               # being written
put("people_b.csv.part", HEAD)                         # being written
put("notes.txt", "hello\n")                            # not an extract
put("people_new.csv", HEAD + "A4,,Testd,Dee,1970-01-01,F,CT1 1AD\n", age=0)  # just written

rc, out, err = run("feed", "run", "--db", db, "--min-age", "30")
check(rc == 1, "feed run exit %d (a partial and a failed file): %s %s" % (rc, out, err))
check("files 2" in out and "partial 1" in out and "rejected 1" in out and "ignored 2" in out,
      "feed run summary: %s" % out)
left = sorted(os.listdir(folder))
check(left == [".people.csv", "done", "failed", "notes.txt", "people_b.csv.part",
               "people_new.csv"], "left in the folder: %r" % left)
rep = json.load(open(os.path.join(folder, "done", "people.csv.report.json")))
check(rep["rows_read"] == 3 and rep["rows_loaded"] == 2 and rep["rows_rejected"] == 1,
      "people report: %r" % rep)
errs = rep.get("errors", [])
check(len(errs) == 1 and errs[0]["line"] == 3 and errs[0]["column"] == "date_of_birth",
      "row error: %r" % errs)
rep = json.load(open(os.path.join(folder, "failed", "services.csv.report.json")))
check("missing required column" in (rep.get("file_error") or ""), "services report: %r" % rep)

# the recent file is taken once it is old enough; a second people.csv keeps both
rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
check(rc == 0 and "applied 1" in out, "second pass: %s %s" % (out, err))
put("people.csv", HEAD + "A5,%s,Teste,Eve,1980-01-01,F,CT1 1AE\n" % nhs(5))
rc, out, err = run("feed", "run", "--db", db, "--feed", "kentcc-csv", "--min-age", "0")
check(rc == 0, "third pass: %s %s" % (out, err))
done = sorted(os.listdir(os.path.join(folder, "done")))
check(len([d for d in done if d.endswith("people.csv")]) == 2, "done/: %r" % done)
rc, out, err = run("feed", "run", "--db", db, "--feed", "nosuch")
check(rc == 1 and "no csv feed" in err, "unknown feed: %d %s" % (rc, err))

rc, out, err = run("feed", "messages", "--db", db, "--json")
msgs = json.loads(out)
check(sorted(m["outcome"] for m in msgs) == ["applied", "applied", "partial", "rejected"],
      "inbox outcomes: %r" % [m["outcome"] for m in msgs])
part = [m for m in msgs if m["outcome"] == "partial"][0]
check("1 of 3 rows rejected" in part["error"] and part["type"] == "people", "partial: %r" % part)
rc, out, err = run("feed", "show", "--db", db, "--id", str(part["id"]), "--json")
check(json.loads(out)["body"].startswith(HEAD), "body not kept verbatim")
print("ok: drop folder takes complete extracts only; partial -> done/ with line numbers, "
      "bad header -> failed/, all kept")
