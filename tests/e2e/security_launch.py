#!/usr/bin/env python3
"""security_launch.py - launch, break-glass and SMART apps against the real
server (issue 16 items 8, 11 and 13):

- a valid launch for an NHS number Weft holds nothing about opens a clear
  "no shared record for this person" page (404), sets no session cookie,
  creates no person, and is audited;
- break-glass for a person id that does not exist answers 404 and starts
  nothing;
- launch tokens whose iat, nbf or exp are not a time (1e300, -1, NaN-like
  strings, 1e19) are refused: 1e300 used to be converted to int64 (undefined
  behaviour) and passed the "not yet valid" check;
- SMART apps must be registered (`weft app add`): unknown client ids,
  unregistered, look-alike, userinfo, http:// and CR/LF redirect URIs get a
  page for the user and no redirect; the user sees the app's name and what
  it asks for and decides (deny -> error=access_denied); the token endpoint
  wants the client_id the code was issued to; revoking the app ends its
  tokens; an app registered with --scope gets no more."""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import base64
import hashlib
import json
import os
import urllib.parse
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, db_rows, new_db_url, run, weft_id  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs,  # noqa: E402
                        person_bundle, post_form, register_app, session_info, sign,
                        smart_authorize, weft, writer_token)

ORG = "RVV"
db = new_db_url()
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
    return db_rows(db, "SELECT count(*) FROM person")[0][0]


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

# ---- 8. SMART app registry ----------------------------------------------------------------
for args, why in (
        (["--client-id", "bad id", "--redirect-uri", "https://a.example/cb"], "client-id"),
        (["--client-id", "x1", "--redirect-uri", "http://evil.example/cb"], "http"),
        (["--client-id", "x2", "--redirect-uri", "https://app.example@evil.example/cb"], "user"),
        (["--client-id", "x3", "--redirect-uri", "https://app.example/cb\r\nSet-Cookie: a=1"],
         "line"),
        (["--client-id", "x4", "--redirect-uri", "https://app.example/cb#frag"], "fragment"),
        (["--client-id", "x5", "--redirect-uri", "javascript:alert(1)"], "https"),
        (["--client-id", "x6"], "redirect-uri")):
    rc, out, err = run("app", "add", "--db", db, "--name", "X", *args)
    check(rc == 2 and why in err, "weft app add %r: %d %s" % (args, rc, err))
register_app(db, "chart", "https://app.example/cb", "http://localhost:8765/cb")
register_app(db, "obs-only", "https://obs.example/cb", scope="patient/Observation.rs")
rc, out, err = run("app", "add", "--db", db, "--client-id", "chart", "--name", "Again",
                   "--redirect-uri", "https://other.example/cb")
check(rc != 0 and "already registered" in err, "a duplicate client id: %d %s" % (rc, err))
rc, out, err = run("app", "list", "--db", db)
check(rc == 0 and "chart" in out and "https://app.example/cb http://localhost:8765/cb" in out
      and "patient/Observation.rs" in out, "app list: %s" % out)

cookie = {"Cookie": "weft_session=" + doc}
verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
    b"=").decode()


def params(client="chart", redirect="https://app.example/cb", scope="patient/*.rs", **over):
    p = {"response_type": "code", "client_id": client, "redirect_uri": redirect, "scope": scope,
         "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256"}
    p.update(over)
    return p


def get_authorize(p):
    return srv.request("GET", "/oauth/authorize?" + urllib.parse.urlencode(p), headers=cookie,
                       raw=True)


for p, what in ((params(client="nobody"), "an unknown client id"),
                (params(redirect="https://evil.example/cb"), "an unregistered redirect"),
                (params(redirect="http://app.example/cb"), "http:// for a registered https"),
                (params(redirect="https://app.example/cb/"), "a trailing slash"),
                (params(redirect="https://app.example/cb?x=1"), "an added query"),
                (params(redirect="https://app.example/cbx"), "a longer path"),
                (params(redirect="https://app.example@evil.example/cb"), "userinfo"),
                (params(redirect="https://app.example/cb\r\nSet-Cookie: evil=1"), "CR/LF"),
                (params(redirect="https://APP.example/cb"), "another case")):
    st, hd, body = get_authorize(p)
    check(st == 400 and "location" not in hd, "authorize with %s: %d %r" % (what, st, hd))
    check("evil=1" not in hd.get("set-cookie", ""), "header injection with %s" % what)
    # the decision form cannot be used to get round it either
    f = dict(p, csrf=session_info(srv, doc)[1]["csrf"], decision="allow")
    st, hd, body = post_form(srv, "/oauth/authorize", f, doc)
    check(st == 400 and "location" not in hd, "POST authorize with %s: %d %r" % (what, st, hd))
# a registered app: the user is shown who asks, for what, where it goes; nothing issued yet
st, hd, body = get_authorize(params(scope="launch patient/Observation.rs patient/Patient.rs"))
check(st == 200 and "location" not in hd, "consent page: %d %r" % (st, hd))
page = body.decode()
for word in ("App chart", "Observation", "Patient", "https://app.example/cb", "Allow",
             "Do not allow"):
    check(word in page, "the consent page lacks %r" % word)
check("frame-ancestors 'none'" in hd.get("content-security-policy", ""), "consent page framable")
# deny: the app hears access_denied, no code
st, hd, _ = smart_authorize(srv, cookie, params(), decision="deny")
check(st == 303 and hd["location"] == "https://app.example/cb?error=access_denied&state=st-1",
      "deny: %d %r" % (st, hd))
# the decision needs the session's CSRF token
f = dict(params(), decision="allow")
st, hd, _ = post_form(srv, "/oauth/authorize", f, doc)
check(st == 403 and "location" not in hd, "allow without CSRF: %d %r" % (st, hd))
# allow: a code to the registered URI (the loopback one too)
st, hd, _ = smart_authorize(srv, cookie, params(redirect="http://localhost:8765/cb"))
check(st == 303 and hd["location"].startswith("http://localhost:8765/cb?code="), "allow %r" % hd)


def code_of(hd):
    return urllib.parse.parse_qs(urllib.parse.urlparse(hd["location"]).query)["code"][0]


def token(code, client):
    f = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    if client:
        f["client_id"] = client
    st, _, b = post_form(srv, "/oauth/token", f)
    return st, json.loads(b)


for client in (None, "obs-only"):
    st, hd, _ = smart_authorize(srv, cookie, params())
    st, b = token(code_of(hd), client)
    check(st == 400 and b["error"] == "invalid_grant", "token for client %r: %d %r" % (client, st, b))
st, hd, _ = smart_authorize(srv, cookie, params())
st, b = token(code_of(hd), "chart")
check(st == 200 and b["access_token"].startswith("wat_"), "token: %d %r" % (st, b))
at = b["access_token"]
pid_k = weft_id(ORG, "Patient", pid)
st, _, _ = srv.request("GET", "/fhir/Patient/%s" % pid_k, token=at)
check(st == 200, "app token read: %d" % st)
# an app registered for Observation only gets no more
st, hd, body = get_authorize(params(client="obs-only", redirect="https://obs.example/cb"))
check(st == 400 and "location" not in hd, "obs-only asking for patient/*.rs: %d" % st)
st, hd, body = get_authorize(params(client="obs-only", redirect="https://obs.example/cb",
                                    scope="patient/Observation.rs patient/Condition.rs"))
check(st == 200 and b"Observation" in body and b"Condition" not in body,
      "obs-only consent page: %d %r" % (st, body[:500]))
# revoking the app ends its tokens and its authorisations
weft("app", "revoke", "--db", db, "--client-id", "chart")
st, _, _ = srv.request("GET", "/fhir/Patient/%s" % pid_k, token=at)
check(st == 401, "a revoked app's token still works: %d" % st)
st, hd, _ = get_authorize(params())
check(st == 400 and "location" not in hd, "a revoked app was authorised: %d" % st)
rc, out, _ = run("app", "list", "--db", db)
check([l for l in out.splitlines() if l.startswith("chart ")][0].split()[4] != "-",
      "app list does not show the revocation: %s" % out)

srv.stop()
rc, out, _ = run("audit", "list", "--db", db, "--action", "token", "--limit", "100")
check("issued to app chart" in out, "the token issue does not name the app:\n" + out)
rc, out, _ = run("audit", "list", "--db", db, "--action", "launch", "--limit", "1000")
check("no shared record" in out, "the launch for an unknown person is not audited:\n" + out)
check(UNKNOWN not in out, "the audit list shows the raw NHS number")
print("ok")
