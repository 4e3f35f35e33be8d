#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_csv_dates.py - invalid dates in CSV extracts through the real drop
folder path: `weft serve`'s watcher -> CSV reader -> validation -> store ->
report in done/ -> FHIR API.

A people extract with valid dates in both accepted forms (YYYY-MM-DD,
DD/MM/YYYY with a spreadsheet's time of day) and invalid ones (31 February,
month 13, US order 01/13/1950, year 1850, a date of birth in the future, not
a date at all), and an assessments extract with an invalid assessment date.
The file is picked up by the running server (waited for by its appearance in
done/ with a report, an event); the report names each bad row's line and
column; the good rows are stored with the date written as YYYY-MM-DD; no
row with a bad date is stored."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import TMP, check, fail, new_db, nhs, org, reader_token, start, weft_ok  # noqa
from api_harness import weft_id  # noqa: E402

db = new_db()
org(db, "KENTCC", "social-care")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
reader = reader_token(db)

PEOPLE = [  # person id, date of birth, stored as (None: the row is refused)
    ("D1", "1950-02-03", "1950-02-03"),
    ("D2", "04/05/1961 00:00", "1961-05-04"),
    ("D3", "1950-02-31", None),
    ("D4", "1950-13-01", None),
    ("D5", "01/13/1950", None),
    ("D6", "1850-01-01", None),
    ("D7", "2199-01-01", None),
    ("D8", "yesterday", None),
]
ASSESS = [("AS1", "D1", "2026-10-01", True), ("AS2", "D2", "2026-02-30", False)]


def drop(name, text):
    """Write name atomically (a hidden temporary, renamed), aged past the
    watcher's 2 s rule; wait for it in done/ with its report."""
    tmp = os.path.join(folder, "." + name + ".part")
    with open(tmp, "w") as f:
        f.write(text)
    past = time.time() - 30
    os.utime(tmp, (past, past))
    os.rename(tmp, os.path.join(folder, name))
    rep = os.path.join(folder, "done", name + ".report.json")
    deadline = time.time() + 60
    while not (os.path.exists(rep) and os.path.exists(os.path.join(folder, "done", name))):
        if os.path.exists(os.path.join(folder, "failed", name)):
            fail("%s went to failed/" % name)
        if time.time() > deadline:
            fail("%s not processed within 60 s" % name)
        time.sleep(0.05)
    return json.load(open(rep))


srv = start(db, "--drop-interval", "1")
try:
    rep = drop("people.csv", "person_id,nhs_number,family_name,given_names,date_of_birth,sex,"
               "postcode\n" + "".join("%s,%s,Testdate,Row,%s,F,CT1 1AA\n" % (
                   pid, nhs(8800 + i), dob) for i, (pid, dob, _) in enumerate(PEOPLE)))
    bad_lines = sorted(i + 2 for i, p in enumerate(PEOPLE) if p[2] is None)
    errs = rep.get("errors", [])
    check(rep["status"] == "partial" and rep["rows_read"] == len(PEOPLE) and
          rep["rows_loaded"] == 2 and rep["rows_rejected"] == len(bad_lines),
          "people report: %r" % {k: rep.get(k) for k in ("status", "rows_read", "rows_loaded",
                                                         "rows_rejected")})
    check(sorted(e["line"] for e in errs) == bad_lines and
          all(e["column"] == "date_of_birth" for e in errs),
          "row errors: %r" % errs)
    for pid, dob, stored in PEOPLE:
        st, _, p = srv.request("GET", "/fhir/Patient/" + weft_id("KENTCC", "Patient", pid),
                               token=reader)
        if stored:
            check(st == 200 and p.get("birthDate") == stored, "%s (%s): %d %r" % (
                pid, dob, st, p.get("birthDate")))
        else:
            check(st == 404, "%s with date of birth %r was stored: %d" % (pid, dob, st))
    rep = drop("assessments.csv", "assessment_id,person_id,assessment_type,assessment_date,"
               "outcome\n" + "".join("%s,%s,needs-assessment,%s,Eligible\n" % (a, p, d)
                                     for a, p, d, _ in ASSESS))
    errs = rep.get("errors", [])
    check(rep["rows_loaded"] == 1 and [(e["line"], e["column"]) for e in errs] ==
          [(3, "assessment_date")], "assessments report: %r" % rep)
    st, _, b = srv.request("GET", "/fhir/QuestionnaireResponse?_count=10", token=reader)
    n = len([e for e in b.get("entry", []) if e.get("search", {}).get("mode") == "match"])
    check(st == 200 and n == 1, "assessments stored: %d %d" % (st, n))
finally:
    srv.stop()
print("ok: %d invalid dates refused row by row through the drop folder, valid ones stored as "
      "YYYY-MM-DD" % (len([p for p in PEOPLE if p[2] is None]) + 1))
