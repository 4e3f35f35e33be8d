#!/usr/bin/env python3
"""citizen_sar.py - subject access requests (issue 17), end to end:
`weft sar create|extend|list|show|export` on a record filled through the real
FHIR API from two organisations, with accesses by launched staff (a view,
an emergency break-glass view, a refused attempt) in the audit log.

Checks: create prints the id alone and sets the due date one calendar month
on; extension up to two further months with a reason, no more; export writes
record.json (a FHIR R4 collection Bundle of every current item, each with
its source organisation; an updated item only in its current version; a
retracted item absent), record.html (grouped by category then organisation,
no withheld item), access-log.csv (the view, the emergency view marked with
its reason category, the refusal as denied) and reviewer-note.csv (the two
safeguarding items, the item marked NOPAT and the third-party item, each with
the policy's reason); producing the package is audited; bad input is refused
clearly."""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import csv
import datetime
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, db_rows, new_db_url, run, weft_id, TMP  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs, person_bundle,  # noqa: E402
                        post_form, session_info, sign, visible, weft, writer_token)

ACUTE, GP = "RVV", "G82001"
db = new_db_url()
weft("init", "--db", db)
add_org(db, ACUTE, "acute")
add_org(db, GP, "gp")
secret = add_hs_launcher(db, "epr-rvv", ACUTE, "https://epr.rvv.example")
writers = {o: writer_token(db, o) for o in (ACUTE, GP)}
srv = Server(db)
number, other = nhs(400), nhs(500)
patient = {}
for o in (ACUTE, GP):
    for tag, n in (("p", number), ("q", other)):
        pid, bundle = person_bundle(o, tag, n)
        st, _, b = srv.request("POST", "/fhir", body=bundle, token=writers[o])
        check(st == 200, "loading %s: %d %r" % (o, st, b))
        patient[(o, tag)] = weft_id(o, "Patient", pid)


def obs(oid, text, meta=None):
    r = {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": text},
         "subject": {"reference": "Patient/pat-%s-p" % GP},
         "effectiveDateTime": "2024-06-01T10:00:00Z"}
    if meta:
        r["meta"] = meta
    return {"resource": r, "request": {"method": "PUT", "url": "Observation/" + oid}}


def post(entries):
    st, _, b = srv.request("POST", "/fhir", body={"resourceType": "Bundle", "type": "transaction",
                                                  "entry": entries}, token=writers[GP])
    check(st == 200, "posting: %d %r" % (st, b))


post([obs("nopat-1", "Marker NOPAT-SECRET", {"security": [{
          "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "NOPAT"}]}),
      obs("third-1", "Marker THIRD-PARTY-TEXT", {"tag": [{
          "system": "https://weft.nhs.uk/CodeSystem/information-source", "code": "third-party"}]}),
      obs("changing-1", "Marker OLD-VERSION"), obs("gone-1", "Marker RETRACTED-ITEM")])
post([obs("changing-1", "Marker NEW-VERSION")])
post([{"request": {"method": "DELETE", "url": "Observation/gone-1"}}])

# ---- accesses: a view, an emergency view, a refusal -----------------------------------------------


def session(sub, role, who):
    tok = sign({"alg": "HS256", "typ": "JWT"},
               claims("https://epr.rvv.example", sub, role, ACUTE, who), "HS256", secret)
    st, _, body, cookie = launch(srv, tok)
    check(st == 303 and cookie, "launch %s: %d %r" % (sub, st, body[:200]))
    return cookie


doc = session("sds-doc", "R8000", number)
st, ids, _ = visible(srv, doc, patient[(ACUTE, "p")])
check(st == 200 and ids, "doctor's view: %d" % st)
er = session("sds-er", "R8000", other)
st, info = session_info(srv, er)
st, _, body = post_form(srv, "/breakglass", {"csrf": info["csrf"], "reason_code": "patient-unconscious",
                                             "reason_text": "brought in unconscious, no history",
                                             "nhs": number}, er)
check(st == 303, "break-glass: %d %r" % (st, body[:300]))
st, ids, _ = visible(srv, er, patient[(ACUTE, "p")])
check(st == 200 and ids, "emergency view: %d" % st)
clerk = session("sds-clerk", "R8009", other)
st, _, _ = visible(srv, clerk, patient[(ACUTE, "p")])
check(st == 404, "a receptionist opening someone else (404, no existence leak): %d" % st)
srv.stop()

# ---- the request ----------------------------------------------------------------------------------
today = datetime.date.today()
rc, out, err = run("sar", "create", "--db", db, "--nhs", number, "--received", today.isoformat())
check(rc == 0 and re.fullmatch(r"[0-9]+\n", out), "create: %d %r %r" % (rc, out, err))
sid = out.strip()


def add_months(d, m):
    y, mo = divmod(d.year * 12 + d.month - 1 + m, 12)
    last = [31, 29 if (y % 4 == 0 and y % 100) or y % 400 == 0 else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][mo]
    return datetime.date(y, mo + 1, min(d.day, last)).isoformat()


rc, out, _ = run("sar", "show", "--db", db, "--id", sid)
check(rc == 0 and "due: %s\n" % add_months(today, 1) in out and "status: open" in out,
      "show: %r" % out)
rc, out, err = run("sar", "extend", "--db", db, "--id", sid, "--months", "1", "--reason",
                   "the record is large and spans several providers")
check(rc == 0 and add_months(today, 2) in out, "extend 1: %d %r %r" % (rc, out, err))
rc, out, err = run("sar", "extend", "--db", db, "--id", sid, "--months", "2", "--reason", "more")
check(rc == 1 and "two further months" in err, "extend beyond 3 months: %d %r" % (rc, err))
rc, out, err = run("sar", "extend", "--db", db, "--id", sid, "--months", "1", "--reason", "complex")
check(rc == 0 and add_months(today, 3) in out, "extend to the limit: %d %r %r" % (rc, out, err))
rc, out, _ = run("sar", "list", "--db", db, "--nhs", number)
check(re.search(r"^%s\s+[0-9a-f]{32}\s+%s\s+%s\s+extended\s+-$" % (
    sid, today.isoformat(), add_months(today, 3)), out, re.M), "list: %r" % out)

# ---- bad input -----------------------------------------------------------------------------------
future = (today + datetime.timedelta(days=3)).isoformat()
for args, code, words in (
        (["create", "--nhs", number, "--received", future], 2, "not in the future"),
        (["create", "--nhs", number, "--received", "2026-02-30"], 2, "YYYY-MM-DD"),
        (["create", "--nhs", nhs(990), "--received", today.isoformat()], 1, "no one"),
        (["extend", "--id", sid, "--months", "3", "--reason", "x"], 2, "1 or 2"),
        (["extend", "--id", sid, "--months", "1"], 2, "reason"),
        (["export", "--id", "999", "--out", os.path.join(TMP, "x")], 1, "no subject access"),
        (["export", "--id", sid, "--out", "/proc/no/such/dir"], 1, "cannot create"),
        (["export", "--id", sid], 2, "--out")):
    rc, out, err = run("sar", *args[:1], "--db", db, *args[1:])
    check(rc == code and words in err and out == "",
          "sar %s: %d %r %r (wanted %d, %r)" % (args, rc, out, err, code, words))

# ---- the package -----------------------------------------------------------------------------------
pkg = os.path.join(TMP, "package")
rc, out, err = run("sar", "export", "--db", db, "--id", sid, "--out", pkg)
check(rc == 0, "export: %d %r %r" % (rc, out, err))
bundle = json.load(open(os.path.join(pkg, "record.json")))
check(bundle["resourceType"] == "Bundle" and bundle["type"] == "collection", "bundle head")
entries = bundle["entry"]
src = {}
for e in entries:
    ext = e["extension"][0]
    check(ext["url"].endswith("source-organisation") and ext["valueIdentifier"]["system"] ==
          "https://fhir.nhs.uk/Id/ods-organization-code", "entry source: %r" % ext)
    r = e["resource"]
    src[r["resourceType"] + "/" + r["id"]] = ext["valueIdentifier"]["value"]
text = json.dumps(bundle)
# each organisation's 24 items less its safeguarding one, plus the changed item; the NOPAT,
# third-party and retracted items are not there, and only the current version of the changed one
check(len(entries) == 2 * 23 + 1, "items in record.json: %d" % len(entries))
for gone in ("NOPAT-SECRET", "THIRD-PARTY-TEXT", "RETRACTED-ITEM", "OLD-VERSION",
             "item in safeguarding"):
    check(gone not in text, "%s in record.json" % gone)
check("NEW-VERSION" in text, "the current version missing")
check(sum(1 for v in src.values() if v == GP) == 24 and
      sum(1 for v in src.values() if v == ACUTE) == 23, "sources: %r" % sorted(set(src.values())))
check(other not in text, "another person's items in the copy")

html = open(os.path.join(pkg, "record.html")).read()
for want in ("<h1>A copy of your health and care record</h1>", "Some information has not been",
             "<h3>From Org G82001 (G82001)</h3>", "<h3>From Org RVV (RVV)</h3>",
             "<h2>Test results</h2>", "NEW-VERSION", "access-log.csv"):
    check(want in html, "record.html lacks %r" % want)
for gone in ("NOPAT-SECRET", "THIRD-PARTY-TEXT", "RETRACTED-ITEM", "OLD-VERSION",
             "item in safeguarding", "<h2>Safeguarding</h2>"):
    check(gone not in html, "%s in record.html" % gone)
check(html.index("<h2>Alerts and risks</h2>") < html.index("<h2>Test results</h2>"),
      "categories not in the clinician view's order")

note = list(csv.DictReader(open(os.path.join(pkg, "reviewer-note.csv"))))
reasons = sorted((r["category"], r["source_org"], r["why withheld"].split(":")[0]) for r in note)
check(len(note) == 4 and sum(1 for r in note if r["category"] == "safeguarding") == 2 and
      any("not for disclosure" in r["why withheld"] for r in note) and
      any("third party" in r["why withheld"] for r in note), "reviewer note: %r" % note)
check(all(r["item"].startswith("Observation/") for r in note), "note items: %r" % note)

log = list(csv.DictReader(open(os.path.join(pkg, "access-log.csv"))))
check(set(log[0]) == {"time", "action", "outcome", "organisation", "role", "purpose", "what",
                      "count", "emergency"}, "access log columns: %r" % list(log[0]))
reads = [r for r in log if r["action"] in ("read", "search") and r["outcome"] == "success"]
check(any(r["organisation"] == ACUTE and r["role"] == "R8000" and r["purpose"] == "TREAT" and
          not r["emergency"] and int(r["count"]) > 0 for r in reads), "plain view: %r" % reads)
check(any(r["emergency"] == "yes: patient-unconscious" for r in reads),
      "emergency view not marked: %r" % reads)
check(any(r["action"] == "break-glass" and r["emergency"] == "yes: patient-unconscious"
          for r in log), "break-glass reason category: %r" % log)
check(any(r["outcome"] == "denied" and r["role"] == "R8009" for r in log), "refusal: %r" % log)
check("unconscious, no history" not in open(os.path.join(pkg, "access-log.csv")).read(),
      "free-text break-glass reason copied into the citizen's log")

rc, out, _ = run("sar", "show", "--db", db, "--id", sid)
check("status: completed" in out and "package produced: " in out, "completed: %r" % out)
rows = db_rows(db, "SELECT count, reason FROM audit_entry WHERE action = 'export' AND what LIKE"
               " ? ORDER BY seq", ("subject-access-request %s:%%" % sid,))
row = rows[0] if rows else None
check(row and row[0] == 47 and "4 withheld" in row[1], "export audit: %r" % (row,))
weft("audit", "verify", "--db", db)
print("ok")
