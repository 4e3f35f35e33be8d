#!/usr/bin/env python3
"""security_web.py - security review probes of the web pages and the launch
and SMART endpoints of the real (sanitized) server:

- patient pages carry Cache-Control: no-store, nosniff, X-Frame-Options DENY,
  a Content-Security-Policy with frame-ancestors 'none' and no script source,
  and a Referrer-Policy; so do their refusals;
- another person's pages, item URLs and charts are refused (403) and audited;
  an item URL of a withheld item (restricted category, or another person's
  item under the launched person's URL) answers 404 like an unknown id and
  shows nothing of it;
- every POST to a page other than break-glass is refused;
- the web break-glass form: refusals (no CSRF token, cross-site) are audited,
  and break-glass lasts --breakglass-hours, not the default; /breakglass for
  an NHS number the record does not hold answers 404 and is audited;
- a SMART app token (limited to the FHIR types it was granted) cannot open
  the HTML pages, which show every category the role allows; refused, audited;
- /oauth/authorize does not put a CR/LF from redirect_uri into a header;
- the operational log holds no NHS number, name or item text."""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import base64
import datetime
import hashlib
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, db_rows, new_db_url, run, weft_id  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs,  # noqa: E402
                        person_bundle, post_form, register_app, session_info, sign,
                        smart_authorize, weft, writer_token)

ORG = "RVV"
FAMILY = {"a": "Marrowdene", "b": "Oakhurstly"}
db = new_db_url()
weft("init", "--db", db)
add_org(db, ORG)
secret = add_hs_launcher(db, "epr", ORG, "iss-epr")
writer = writer_token(db, ORG)
register_app(db, "app", "https://app.example/cb")
srv = Server(db, "--breakglass-hours", "1")
P = {"a": nhs(730), "b": nhs(740)}
pids = {}
for tag in ("a", "b"):
    pid, bundle = person_bundle(ORG, tag, P[tag])
    bundle["entry"][0]["resource"]["name"] = [{"family": FAMILY[tag], "given": ["Web"]}]
    for e in bundle["entry"][1:]:
        e["resource"]["code"]["text"] = "TEXT-%s-%s" % (tag, e["resource"]["id"].split("-")[-1])
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
    check(st == 200, "load %d %r" % (st, b))
    pids[tag] = weft_id(ORG, "Patient", pid)
person = {}


def session(sub, role, patient):
    st, hd, body, ck = launch(srv, sign({"alg": "HS256"}, claims("iss-epr", sub, role, ORG,
                                                                 patient), "HS256", secret))
    check(st == 303 and ck, "launch %s: %d %r" % (sub, st, body[:200]))
    return ck, hd["location"].rsplit("/", 1)[1]


nurse, person["a"] = session("nurse-w", "R8001", P["a"])
doc_b, person["b"] = session("doc-b", "R8000", P["b"])


def page(path, ck):
    return srv.request("GET", path, headers={"Cookie": "weft_session=" + ck}, raw=True)


def headers_ok(path, hd):
    check(hd.get("cache-control") == "no-store", "%s Cache-Control %r" % (path, hd))
    check(hd.get("x-content-type-options") == "nosniff", "%s nosniff" % path)
    check(hd.get("x-frame-options") == "DENY", "%s X-Frame-Options" % path)
    csp = hd.get("content-security-policy", "")
    check("frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script" not in csp,
          "%s CSP %r" % (path, csp))
    check(hd.get("referrer-policy") in ("same-origin", "no-referrer"), "%s Referrer" % path)


A, B = person["a"], person["b"]
obs = lambda tag, cat: weft_id(ORG, "Observation", "obs-%s-%s-%s" % (ORG, tag, cat))  # noqa
for path in ("/patient/%s" % A, "/patient/%s/results" % A, "/patient/%s/timeline" % A,
             "/patient/%s/item/Observation/%s" % (A, obs("a", "results")),
             "/patient/%s/chart?code=x" % A):
    st, hd, body = page(path, nurse)
    check(st == 200, "%s -> %d" % (path, st))
    headers_ok(path, hd)
check(b"TEXT-a-results" in page("/patient/%s/item/Observation/%s" % (A, obs("a", "results")),
                                nurse)[2], "the nurse's own item page shows nothing")

refused = [("/patient/%s" % B, 403), ("/patient/%s/results" % B, 403),
           ("/patient/%s/chart?code=x" % B, 403),
           ("/patient/%s/item/Observation/%s" % (B, obs("b", "results")), 403),
           ("/patient/%s/item/Observation/%s" % (A, obs("b", "results")), 404),
           ("/patient/%s/item/Observation/%s" % (A, obs("a", "safeguarding")), 404),
           ("/patient/%s/item/Observation/%s" % (A, "0" * 32), 404),
           ("/patient/%s/safeguarding" % A, 403)]
for path, want in refused:
    st, hd, body = page(path, nurse)
    check(st == want, "%s -> %d, wanted %d" % (path, st, want))
    headers_ok(path, hd)
    for word in (P["b"], FAMILY["b"], b"TEXT-b", b"TEXT-a-safeguarding"):
        w = word.encode() if isinstance(word, str) else word
        check(w not in body, "%s shows %r" % (path, word))
# a withheld item and an unknown id answer alike
bodies = [page("/patient/%s/item/Observation/%s" % (A, i), nurse)[2]
          for i in (obs("a", "safeguarding"), obs("b", "results"), "0" * 32)]
strip = lambda b: b.replace(b"\n", b"")  # noqa
check(len({strip(x).split(b"<main")[-1][:2000] for x in bodies}) == 1,
      "a withheld item's page differs from an unknown id's")

for path in ("/patient/%s/summary" % A, "/patient/%s/results" % A):
    st, _, body = post_form(srv, path, {"x": "1"}, nurse)
    check(st in (403, 405), "POST %s -> %d" % (path, st))

# the break-glass form for someone not yet opened names nothing about them
st, hd, body = page("/patient/%s/break-glass" % B, nurse)
check(st == 200, "break-glass form %d" % st)
headers_ok("break-glass form", hd)
for word in (P["b"], P["b"][:3] + " " + P["b"][3:6], FAMILY["b"], "TEXT-b"):
    check(word.encode() not in body, "the break-glass form shows %r" % word)

# ---- web break-glass form: refusals audited, configured duration -------------------------
BG = {"reason_code": "emergency-care", "reason_text": "unconscious in the emergency department"}
bgpath = "/patient/%s/break-glass" % B
st, _, _ = post_form(srv, bgpath, BG, nurse)
check(st == 403, "web break-glass without a CSRF token: %d" % st)
csrf = session_info(srv, nurse)[1]["csrf"]
st, _, _ = post_form(srv, bgpath, dict(BG, csrf=csrf), nurse, {"Origin": "https://evil.example"})
check(st == 403, "web break-glass cross-site: %d" % st)
st, hd, _ = post_form(srv, bgpath, dict(BG, csrf=csrf), nurse)
check(st == 303, "web break-glass: %d" % st)
st, _, body = page("/patient/%s" % B, nurse)
check(st == 200, "break-glass did not open the other person: %d" % st)

# break-glass for an NHS number the record does not hold: a clear answer, audited
csrf = session_info(srv, nurse)[1]["csrf"]
st, _, body = post_form(srv, "/breakglass", dict(BG, csrf=csrf, nhs=nhs(790)), nurse)
check(st == 404, "break-glass for an unknown NHS number: %d %r" % (st, body[:200]))

# ---- an app token does not open the pages -------------------------------------------------
verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
    b"=").decode()
doc_a, _ = session("doc-a", "R8000", P["a"])
st, hd, _ = smart_authorize(srv, {"Cookie": "weft_session=" + doc_a}, {
    "response_type": "code", "client_id": "app", "redirect_uri": "https://app.example/cb",
    "scope": "patient/Observation.rs", "code_challenge": challenge,
    "code_challenge_method": "S256"})
check(st == 303, "authorize %d" % st)
code = urllib.parse.parse_qs(urllib.parse.urlparse(hd["location"]).query)["code"][0]
st, _, tok = post_form(srv, "/oauth/token", {"grant_type": "authorization_code", "code": code,
                                             "code_verifier": verifier, "client_id": "app"})
check(st == 200, "token %d %r" % (st, tok))
at = json.loads(tok)["access_token"]
for path in ("/patient/%s" % A, "/patient/%s/conditions" % A, "/patient/%s/timeline" % A,
             "/patient/%s/item/Observation/%s" % (A, obs("a", "conditions"))):
    st, hd, body = srv.request("GET", path, token=at, raw=True)
    check(st == 403, "an Observation-only app token opened %s: %d" % (path, st))
    check(b"TEXT-a" not in body and FAMILY["a"].encode() not in body, "%s shown" % path)

# ---- SMART authorize: no header injection from redirect_uri -------------------------------
q = urllib.parse.urlencode({"response_type": "code", "client_id": "app",
                            "redirect_uri": "https://app.example/cb\r\nSet-Cookie: evil=1",
                            "scope": "patient/*.rs", "code_challenge": "A" * 43,
                            "code_challenge_method": "S256"})
st, hd, body = page("/oauth/authorize?" + q, nurse)
check("evil=1" not in hd.get("set-cookie", "") and "evil" not in "".join(hd.keys()),
      "header injection through redirect_uri: %d %r" % (st, hd))

log = srv.stop()
rc, out, _ = run("audit", "list", "--db", db, "--action", "denial", "--limit", "1000")
check(out.count("nurse-w") >= 4, "page refusals not audited:\n" + out)
check(out.count("not app tokens") == 4, "app token page refusals not audited:\n" + out)
rc, out, _ = run("audit", "list", "--db", db, "--action", "read", "--limit", "1000")
check("nurse-w" in out, "page views not audited:\n" + out)
n = db_rows(db, "SELECT count(*) FROM person WHERE nhs = ?", (nhs(790),))[0][0]
check(n == 0, "a break-glass request for an unknown NHS number created a person")
rc, out, _ = run("audit", "list", "--db", db, "--action", "break-glass", "--limit", "100")
check(out.count("\tbreak-glass\tdenied\t") == 3,
      "web break-glass form refusals not audited:\n" + out)
ok = [l for l in out.splitlines() if "\tbreak-glass\tsuccess\t" in l]
check(len(ok) == 1, "break-glass success not audited:\n" + out)
started = datetime.datetime.fromisoformat(ok[0].split("\t")[1].replace("Z", "+00:00"))
until = datetime.datetime.fromisoformat(ok[0].split("(until ")[1].split(")")[0].replace("Z", "+00:00"))
hours = (until - started).total_seconds() / 3600
check(0.9 < hours < 1.1, "web break-glass lasts %.2f h, --breakglass-hours 1" % hours)
for word in list(P.values()) + list(FAMILY.values()) + ["TEXT-a", "TEXT-b"]:
    check(word not in log, "operational log holds patient data %r:\n%s" % (word, log[-2000:]))
print("ok")
