#!/usr/bin/env python3
"""identity_objection_first.py - an objection lodged before Weft holds any
record of the person (issue 22 item 3), end to end against a real server:

- `weft objection lodge --nhs N` for a number no record carries is kept:
  identity holds a person for the number (identity_person_for_nhs);
- a clinician launch for N before any record arrives opens the "no shared
  record for this person" page (404, no session), audited: the person held
  for the objection is not a record;
- the objection is decided (upheld), then the person's records arrive from
  two organisations through the FHIR REST feed: they link to the person the
  objection is held against (one person for N, not two);
- the clinician's launch now opens the record with the objection banner, and
  only their own organisation's items are shown ($everything);
- break-glass asked by that NHS number before any record arrives (from a
  session on another patient) says the shared care record holds nothing for
  it (404, audited, nothing widened): the person held only for the objection
  is found through the identity API, which tells that no record is held.
  On the code before, break-glass read persons directly and started for the
  held person.
On the code before, lodging created an ordinary person, so the launch before
any record opened an empty record instead of the "no shared record" page."""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import os
import re
import sys
import urllib.request

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
number = nhs(431)


def persons_for(n):
    return [r[0] for r in db_rows(db, "SELECT id FROM person WHERE nhs = ? ORDER BY id", (n,))]


def token(sub="sds-doctor-1", role="R8000", patient=None):
    return sign({"alg": "HS256", "typ": "JWT"},
                claims("https://epr.rvv.example", sub, role, ACUTE, patient or number), "HS256",
                secret)


# ---- lodged before any record: kept ------------------------------------------------------------
rc, out, err = run("objection", "lodge", "--db", db, "--nhs", number, "--org", GP,
                   "--reason", "I do not want the hospital to see my GP record")
check(rc == 0 and re.fullmatch(r"[0-9]+\n", out), "lodge before any record: %d %r %r"
      % (rc, out, err))
oid = out.strip()
held = persons_for(number)
check(len(held) == 1, "one person held for the NHS number: %r" % held)
rc, out, err = run("objection", "show", "--db", db, "--nhs", number)
check(rc == 0 and out.startswith("person %s: lodged\n" % held[0]), "show: %d %r %r" % (rc, out, err))

srv = Server(db)
# ---- a launch before any record arrives: "no shared record", no session -----------------------
st, hd, body, ck = launch(srv, token())
check(st == 404 and b"No shared record for this person" in body,
      "launch before any record: %d %r" % (st, body[:400]))
check(ck is None and "set-cookie" not in hd, "a session was opened: %r" % hd)
check(persons_for(number) == held, "the launch changed the persons: %r" % persons_for(number))

# ---- break-glass by that NHS number before any record: "no shared record" ----------------------
other = nhs(1431)  # another patient, whose record the doctor opened first
_, ob = person_bundle(ACUTE, "other", other)
st, _, b = srv.request("POST", "/fhir", body=ob, token=writer_token(db, ACUTE))
check(st == 200, "feeding the other patient: %d %r" % (st, b))
st, hd, body, bg = launch(srv, token("sds-doctor-2", patient=other))
check(st == 303 and bg, "launch for the other patient: %d %r" % (st, body[:200]))
csrf = session_info(srv, bg)[1]["csrf"]
st, _, body = post_form(srv, "/breakglass",
                        {"reason_code": "emergency-care", "nhs": number, "csrf": csrf,
                         "reason_text": "unconscious in the emergency department"}, bg)
check(st == 404 and b"holds nothing for that NHS number" in body,
      "break-glass for a person held only for an objection: %d %r" % (st, body[:300]))
n_bg = db_rows(db, "SELECT count(*) FROM breakglass")[0][0]
check(n_bg == 0, "break-glass was recorded for a person with no record: %d" % n_bg)
check(persons_for(number) == held, "break-glass changed the persons: %r" % persons_for(number))

# ---- decided, then the records arrive through a feed -------------------------------------------
rc, out, err = run("objection", "decide", "--db", db, "--id", oid, "--decision", "upheld",
                   "--by", "sds-doctor-1", "--role", "R8000",
                   "--rationale", "No compelling grounds to share")
check(rc == 0, "decide: %d %r" % (rc, err))
patient = None
acute_ids = set()
for o in (ACUTE, GP):
    pid, bundle = person_bundle(o, "p", number)
    if o == ACUTE:
        acute_ids = {r["resourceType"] + "/" + weft_id(o, r["resourceType"], r["id"])
                     for r in (e["resource"] for e in bundle["entry"])}
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer_token(db, o))
    check(st == 200, "feeding %s: %d %r" % (o, st, b))
    patient = weft_id(o, "Patient", pid)
check(persons_for(number) == held,
      "the records did not link to the person the objection is held against: %r vs %r"
      % (persons_for(number), held))

# ---- the clinician's launch: the record, with the objection banner -----------------------------
st, hd, body, doctor = launch(srv, token())
check(st == 303 and doctor, "launch after the records came: %d %r" % (st, body[:300]))
check(hd["location"].endswith("/patient/" + held[0]), "launch went to %r" % hd["location"])
req = urllib.request.Request("http://127.0.0.1:%d/patient/%s" % (srv.port, held[0]),
                             headers={"Cookie": "weft_session=" + doctor})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        page = r.read().decode()
        pst = r.status
except urllib.error.HTTPError as e:
    pst, page = e.code, e.read().decode()
check(pst == 200 and 'id="objection-banner"' in page
      and "This person has objected to sharing their record" in page,
      "record page without the objection banner: %d %s" % (pst, page[:600]))
st, ids, _ = visible(srv, doctor, patient)
check(st == 200 and ids is not None, "$everything: %d" % st)
check(len(ids) == 22 and set(ids) <= acute_ids,
      "the upheld objection did not withhold the GP's items: %d %r" % (len(ids), ids[:5]))

srv.stop()
# ---- audit: the launch without a record is recorded ---------------------------------------------
rows = db_rows(db, "SELECT outcome, reason FROM audit_entry WHERE action = 'launch'")
check(any(o != "success" and "no shared record" in (r or "") for o, r in rows),
      "the launch without a record is not audited: %r" % rows)
den = db_rows(db, "SELECT count(*) FROM audit_entry WHERE action = 'break-glass' AND outcome != "
              "'success' AND reason LIKE '%no record is held%'")[0][0]
check(den == 1, "the refused break-glass is not audited: %d" % den)
weft("audit", "verify", "--db", db)
print("ok")
