#!/usr/bin/env python3
"""security_launch.py - launch and break-glass against the real server
(issue 16 items 11 and 13):

- a valid launch for an NHS number Weft holds nothing about opens a clear
  "no shared record for this person" page (404), sets no session cookie,
  creates no person, and is audited;
- break-glass for a person id that does not exist answers 404 (the web form
  and /breakglass alike) and starts nothing;
- launch tokens whose iat, nbf or exp are not a time (1e300, -1, NaN-like
  strings, 1e19) are refused: 1e300 used to be converted to int64 (undefined
  behaviour) and passed the "not yet valid" check."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, run, weft_id  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs,  # noqa: E402
                        person_bundle, post_form, session_info, sign, weft, writer_token)

ORG = "RVV"
db = os.path.join(TMP, "weft.db")
weft("init", "--db", db)
add_org(db, ORG)
secret = add_hs_launcher(db, "epr", ORG, "iss-epr")
writer = writer_token(db, ORG)
srv = Server(db)
KNOWN, UNKNOWN = nhs(810), nhs(820)
pid, bundle = person_bundle(ORG, "k", KNOWN)
st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
check(st == 200, "load %d %r" % (st, b))


def persons():
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT count(*) FROM person").fetchone()[0]
    finally:
        c.close()


def token(patient, **over):
    return sign({"alg": "HS256", "typ": "JWT"},
                claims("iss-epr", "doc-1", "R8000", ORG, patient, **over), "HS256", secret)


# ---- 11. launch for someone Weft holds nothing about ------------------------------------
before = persons()
st, hd, body, ck = launch(srv, token(UNKNOWN))
check(st == 404, "launch for an unknown NHS number: %d %r" % (st, body[:300]))
check(b"No shared record for this person" in body, "no clear page: %r" % body[:500])
check(UNKNOWN.encode() not in body, "the page repeats the NHS number")
check(ck is None and "set-cookie" not in hd, "a session was opened: %r" % hd)
check(persons() == before, "a person was created: %d -> %d" % (before, persons()))
st, hd, body, ck = launch(srv, token(UNKNOWN), accept="application/json")
check(st == 404 and b"no_shared_record" in body, "JSON launch: %d %r" % (st, body[:300]))
check(persons() == before, "a person was created by the JSON launch")

# the known person still launches
st, hd, body, doc = launch(srv, token(KNOWN))
check(st == 303 and doc, "launch for a known person: %d %r" % (st, body[:300]))
person = hd["location"].rsplit("/", 1)[1]

# ---- 11. break-glass for a person that does not exist ------------------------------------
BG = {"reason_code": "emergency-care", "reason_text": "unconscious in the emergency department"}
csrf = session_info(srv, doc)[1]["csrf"]
ghost = "0123456789abcdef0123456789abcdef"
st, _, body = post_form(srv, "/patient/%s/break-glass" % ghost, dict(BG, csrf=csrf), doc)
check(st == 404, "web break-glass for a nonexistent person: %d %r" % (st, body[:300]))
rc, out, _ = run("audit", "breakglass", "--db", db)
check(ghost not in out, "break-glass recorded for a nonexistent person:\n" + out)
# break-glass for the real person still works
st, _, body = post_form(srv, "/patient/%s/break-glass" % person, dict(BG, csrf=csrf), doc)
check(st == 303, "web break-glass for a real person: %d %r" % (st, body[:300]))

# ---- 13. time claims that are not times --------------------------------------------------
now = int(time.time())
bad = [{"iat": 1e300}, {"nbf": 1e300}, {"exp": 1e300}, {"iat": -1e300}, {"iat": 1e19},
       {"iat": -5}, {"exp": "soon"}, {"nbf": None}]
for over in bad:
    st, hd, body, ck = launch(srv, token(KNOWN, **over), accept="application/json")
    check(st == 401 and ck is None, "a token with %r was accepted: %d %r" % (over, st, body[:200]))
check(b"not a time" in launch(srv, token(KNOWN, iat=1e300), accept="application/json")[2],
      "the refusal does not say why")
# a fractional time is still a time
st, _, body, ck = launch(srv, token(KNOWN, iat=now + 0.5, nbf=now - 0.25))
check(st == 303 and ck, "a token with fractional times: %d %r" % (st, body[:200]))

srv.stop()
rc, out, _ = run("audit", "list", "--db", db, "--action", "launch", "--limit", "1000")
check("no shared record" in out, "the launch for an unknown person is not audited:\n" + out)
check(UNKNOWN not in out, "the audit list shows the raw NHS number")
print("ok")
