#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_lag.py - lag between event time and arrival for every feed kind, and
the recent figure beside the all-time one (docs/FEEDS.md section 6).

Each route sends one event from a minute or hours ago and one from years
ago (history, as a new sender's back-load does):
  - HL7 v2: two ADT messages (EVN-2 one minute ago, and five years ago);
  - FHIR: a bundle with an Observation effective two hours ago, a Condition
    recorded in 2019 and a Patient with no time of its own;
  - CSV: a person recorded three days ago, then assessments dated two days
    ago and in 2020.
/admin/feeds must show, per feed, lag_events counting every event with a
time, lag_recent_* only those at most 7 days old on arrival, with values
that match; `weft feed status` prints both figures."""
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, ack_code, adt, check, new_db, nhs, org,  # noqa: E402
                           reader_token, run, start, weft_ok)

DAY = 86400 * 1000
now = datetime.datetime.now(datetime.timezone.utc)


def hl7_ts(t):
    return t.strftime("%Y%m%d%H%M%S") + "+0000"


db = new_db()
org(db, "RVV", "acute")
org(db, "KENTCC", "social-care")
org(db, "G82001", "gp")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
gp_token = weft_ok("feed", "add", "--db", db, "--org", "G82001", "--kind", "fhir").strip()
reader = reader_token(db)

srv = start(db, "--drop-interval", "0")
try:
    # ---- HL7 v2 ------------------------------------------------------------------------------
    c = Mllp(srv.mllp_port)
    recent = now - datetime.timedelta(minutes=1)
    old = now - datetime.timedelta(days=5 * 365)
    for ctrl, when in (("L1", recent), ("L2", old)):
        ack = c.call(adt("RVVPAS", ctrl, "A01", "H1", nhs(1), when=hl7_ts(when)))
        check(ack_code(ack) == "AA", "HL7 %s: %r" % (ctrl, ack))
    c.close()

    # ---- FHIR --------------------------------------------------------------------------------
    obs_time = (now - datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "gp-1",
                      "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                      "value": nhs(2)}]},
         "request": {"method": "PUT", "url": "Patient/gp-1"}},
        {"resource": {"resourceType": "Observation", "id": "gp-o1", "status": "final",
                      "code": {"text": "Weight"}, "subject": {"reference": "Patient/gp-1"},
                      "effectiveDateTime": obs_time,
                      "valueQuantity": {"value": 70, "unit": "kg"}},
         "request": {"method": "PUT", "url": "Observation/gp-o1"}},
        {"resource": {"resourceType": "Condition", "id": "gp-c1",
                      "subject": {"reference": "Patient/gp-1"}, "code": {"text": "Asthma"},
                      "recordedDate": "2019-03-01", "onsetDateTime": "1990-01-01"},
         "request": {"method": "PUT", "url": "Condition/gp-c1"}},
    ]}
    st, _, body = srv.request("POST", "/fhir", bundle, token=gp_token)
    check(st == 200, "GP bundle: %d %r" % (st, body))

    # ---- CSV ---------------------------------------------------------------------------------
    def put(name, text):
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(text)
        t = time.time() - 60
        os.utime(path, (t, t))

    d3 = (now - datetime.timedelta(days=3)).strftime("%Y-%m-%d")
    d2 = (now - datetime.timedelta(days=2)).strftime("%Y-%m-%d")
    put("people.csv", "person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode,"
        "date_recorded\nP1,%s,Testlag,Amy,1950-02-03,F,CT1 1AA,%s\n" % (nhs(3), d3))
    rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
    check(rc == 0 and "applied 1" in out, "people pass: %s %s" % (out, err))
    put("assessments.csv", "assessment_id,person_id,assessment_type,assessment_date,outcome\n"
        "AS1,P1,review,%s,ok\nAS2,P1,review,2020-01-06,ok\n" % d2)
    rc, out, err = run("feed", "run", "--db", db, "--min-age", "0")
    check(rc == 0 and "applied 1" in out, "assessments pass: %s %s" % (out, err))

    # ---- the figures -------------------------------------------------------------------------
    st, _, fs = srv.request("GET", "/admin/feeds", token=reader)
    check(st == 200, "/admin/feeds: %d" % st)
    by = {f["name"]: f for f in fs["feeds"]}

    def figures(name, events, recent, lo, hi):
        for window in ("today", "total"):
            c = by[name][window]
            check(c["lag_events"] == events and c["lag_recent_events"] == recent,
                  "%s %s events %r" % (name, window, c))
            check(c["lag_max_ms"] is not None and c["lag_max_ms"] > 365 * DAY,
                  "%s %s: the history is in the all-time maximum: %r" % (name, window, c))
            check(lo <= c["lag_recent_max_ms"] <= hi,
                  "%s %s recent max %r not in [%d, %d]" % (name, window, c, lo, hi))
            check(c["lag_recent_mean_ms"] <= c["lag_recent_max_ms"] < c["lag_mean_ms"],
                  "%s %s: recent below all-time: %r" % (name, window, c))

    figures("rvv-hl7v2", 2, 1, 55 * 1000, 10 * 60 * 1000)
    figures("g82001-fhir", 2, 1, 2 * 3600 * 1000 - 60 * 1000, 2 * 3600 * 1000 + 10 * 60 * 1000)
    # dates without a time count from 00:00 UTC: 3 to 4 days for the person
    figures("kentcc-csv", 3, 2, 3 * DAY, 4 * DAY)

    rc, out, err = run("feed", "status", "--db", db)
    check(rc == 0, "feed status: %s" % err)
    lines = out.splitlines()
    check("lag recent today" in lines[0] and "lag all-time" in lines[0], "header: %r" % lines[0])
    fhir_line = [ln for ln in lines if ln.startswith("g82001-fhir")]
    check(fhir_line and "2.0h/2.0h" in fhir_line[0] and "d/" in fhir_line[0],
          "fhir status line: %r" % fhir_line)
    rc, out, err = run("feed", "status", "--db", db, "--json")
    js = json.loads(out)
    check(any(f["total"]["lag_recent_events"] == 2 for f in js["feeds"]), "status --json: %s" % out)
    srv.stop()
except BaseException:
    print(srv.logtext()[-3000:])
    raise
print("ok: lag recorded for hl7v2, fhir and csv; recent (<= 7 days) beside all-time")
