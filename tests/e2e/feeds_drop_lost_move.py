#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_drop_lost_move.py - a drop-folder file whose move to done/ was lost
(docs/FEEDS.md 5, "Power cuts"), deterministically.

  - people.csv is processed by `weft feed run`: done/, one applied row;
  - its move is undone by hand, as a power cut between the outcome's commit
    and the folder's fsync would (the file back under its old name, its
    report left in done/): the next pass moves it without processing it
    again - still one inbox row, the log says so, the record unchanged;
  - other bytes under that name while its report is alone in done/ (the
    earlier file taken away): processed normally, a new arrival;
  - the same bytes sent again on purpose (done/people.csv exists): a new
    arrival, kept as done/{id}-people.csv."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import TMP, check, new_db, nhs, org, run, weft_ok  # noqa: E402

HEAD = "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
db = new_db()
org(db, "KENTCC", "social-care")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
done = os.path.join(folder, "done")


def put(name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    t = time.time() - 60
    os.utime(path, (t, t))


def rows():
    import json
    rc, out, err = run("feed", "messages", "--db", db, "--json", "--oldest-first")
    check(rc == 0, err)
    return json.loads(out)


def feed_run():
    rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
    check(rc == 0, "feed run: %d %s %s" % (rc, out, err))
    return out, err


body = HEAD + "LM1,%s,Testmove,Ann,1950-02-03,F,CT1 1AA\n" % nhs(61)
put("people.csv", body)
feed_run()
check(sorted(os.listdir(done)) == ["people.csv", "people.csv.report.json"], "first pass: %r" %
      os.listdir(done))
check([m["outcome"] for m in rows()] == ["applied"], "first pass rows: %r" % rows())

# the move lost: the file back in the folder, the report still in done/
os.rename(os.path.join(done, "people.csv"), os.path.join(folder, "people.csv"))
out, err = feed_run()
check("its move was lost" in err, "the lost move was not recognised:\n%s\n%s" % (out, err))
check(sorted(os.listdir(done)) == ["people.csv", "people.csv.report.json"] and
      not os.path.exists(os.path.join(folder, "people.csv")), "after recovery: %r %r" % (
          os.listdir(folder), os.listdir(done)))
check([m["outcome"] for m in rows()] == ["applied"], "recovery added a row: %r" % rows())

# other bytes under the name, its report alone in done/ (the earlier file
# taken away): not a lost move, processed as a new arrival
os.unlink(os.path.join(done, "people.csv"))
body2 = HEAD + "LM2,%s,Testmove,Ben,1951-02-03,M,CT1 1AA\n" % nhs(62)
put("people.csv", body2)
out, err = feed_run()
check("its move was lost" not in err and "applied 1" in out, "other bytes: %s %s" % (out, err))
check([m["outcome"] for m in rows()] == ["applied", "applied"], "other bytes rows: %r" % rows())

# the same bytes sent again on purpose (done/people.csv exists): a new arrival
put("people.csv", body2)
out, err = feed_run()
check("its move was lost" not in err, "a resend taken for a lost move")
ms = rows()
check([m["outcome"] for m in ms] == ["applied"] * 3, "resend rows: %r" % ms)
check(os.path.exists(os.path.join(done, "%d-people.csv" % ms[2]["id"])), "resend kept as %r" %
      os.listdir(done))
print("ok: a lost move recovered without a second arrival; other bytes and a deliberate resend "
      "processed as new")
