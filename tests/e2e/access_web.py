#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""access_web.py - web attacks on the access part of the real server:
CSRF on every state-changing form (break-glass, sign-out): missing token,
wrong token, another session's token, cross-site Origin, Sec-Fetch-Site
cross-site, no session; session fixation (a planted cookie is never adopted,
the session a browser brings to a launch is ended); cookie flags (HttpOnly,
SameSite=Strict, Secure with --cookie-secure); injection attempts in search
parameters (FHIR search and AuditEvent search) change nothing and reveal
nothing; path traversal on static URLs never serves a file from outside; and
governance-only audit search is refused to clinicians."""
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, run, weft_id  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs,  # noqa: E402
                        person_bundle, post_form, session_info, sign, weft, writer_token)

ORG = "RVV"
from api_harness import new_db_url  # noqa: E402

db = new_db_url("weft.db")  # a PostgreSQL database under --backend postgres
weft("init", "--db", db)
add_org(db, ORG)
secret = add_hs_launcher(db, "epr", ORG, "iss-epr")
writer = writer_token(db, ORG)
srv = Server(db, "--cookie-secure")
P1, P2 = nhs(500), nhs(600)
pids = {}
for tag, number in (("a", P1), ("b", P2)):
    pid, bundle = person_bundle(ORG, tag, number)
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
    check(st == 200, "load %d %r" % (st, b))
    pids[tag] = weft_id(ORG, "Patient", pid)

HS = {"alg": "HS256"}


def session(sub, role="R8000", patient=P1, cookie=None):
    st, hd, body, ck = launch(srv, sign(HS, claims("iss-epr", sub, role, ORG, patient), "HS256",
                                        secret), cookie=cookie)
    check(st == 303 and ck, "launch %s: %d %r" % (sub, st, body[:200]))
    return ck, hd


ck, hd = session("doc-1")
sc = hd["set-cookie"]
for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/"):
    check(flag in sc, "cookie lacks %s: %s" % (flag, sc))
st, info = session_info(srv, ck)
check(st == 200 and info["csrf"] and info["person"], "session %d %r" % (st, info))
csrf = info["csrf"]
other_ck, _ = session("doc-2")
other_csrf = session_info(srv, other_ck)[1]["csrf"]

BG = {"reason_code": "emergency-care", "reason_text": "unconscious in the emergency department",
      "nhs": P2}
forms = [("/breakglass", BG), ("/logout", {})]
for path, fields in forms:
    cases = [
        ("no token", dict(fields), ck, {}),
        ("wrong token", dict(fields, csrf="csr_" + "A" * 43), ck, {}),
        ("another session's token", dict(fields, csrf=other_csrf), ck, {}),
        ("cross-site origin", dict(fields, csrf=csrf), ck, {"Origin": "https://evil.example"}),
        ("null origin", dict(fields, csrf=csrf), ck, {"Origin": "null"}),
        ("sec-fetch-site", dict(fields, csrf=csrf), ck, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for name, f, cookie, hdrs in cases:
        st, _, body = post_form(srv, path, f, cookie, hdrs)
        check(st == 403, "%s %s: %d, wanted 403: %r" % (path, name, st, body[:200]))
    st, _, body = post_form(srv, path, dict(fields, csrf=csrf), None)
    check(st == 401, "%s without a session: %d" % (path, st))
    st, _, body = srv.request("POST", path, body=json.dumps(dict(fields, csrf=csrf)),
                              headers={"Cookie": "weft_session=" + ck,
                                       "Content-Type": "application/json"}, raw=True)
    check(st == 400, "%s as JSON: %d" % (path, st))
    st, _, body = srv.request("GET", path + "?" + urllib.parse.urlencode(dict(fields, csrf=csrf)),
                              headers={"Cookie": "weft_session=" + ck}, raw=True)
    check(st in (200, 404, 405), "%s by GET: %d" % (path, st))

# nothing above widened access: the other patient is still refused
st, _, b = srv.request("GET", "/fhir/Patient/%s/$everything" % pids["b"],
                       headers={"Cookie": "weft_session=" + ck})
check(st == 404, "refused forms changed access: %d" % st)  # not opened: as an unknown id
# the real form works, same-origin headers included
host = "127.0.0.1:%d" % srv.port
st, hd2, body = post_form(srv, "/breakglass", dict(BG, csrf=csrf), ck,
                          {"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"})
check(st == 303, "break-glass with the right token: %d %r" % (st, body[:300]))
st, _, b = srv.request("GET", "/fhir/Patient/%s/$everything" % pids["b"],
                       headers={"Cookie": "weft_session=" + ck})
check(st == 200, "break-glass did not open the other patient: %d" % st)
st, info2 = session_info(srv, ck)
check(st == 200, "session after break-glass")
# a break-glass reason that says nothing is refused
st, _, body = post_form(srv, "/breakglass", dict(BG, csrf=other_csrf, reason_text="  x "),
                        other_ck)
check(st == 400, "empty reason accepted: %d" % st)
st, _, body = post_form(srv, "/breakglass", dict(BG, csrf=other_csrf, reason_code="because"),
                        other_ck)
check(st == 400, "unknown reason code accepted: %d" % st)
# receptionists may not break glass
rec_ck, _ = session("rec-1", role="R8009")
rec_csrf = session_info(srv, rec_ck)[1]["csrf"]
st, _, body = post_form(srv, "/breakglass", dict(BG, csrf=rec_csrf), rec_ck)
check(st == 403, "receptionist break-glass: %d" % st)

# ---- session fixation ----------------------------------------------------------------
planted = "wss_" + "P" * 43
new_ck, hd = session("doc-3", cookie=planted)
check(new_ck != planted, "the planted session id was adopted")
st, _ = session_info(srv, planted)
check(st == 401, "a planted id became a session: %d" % st)
# the session the browser brought is ended by the new launch
again_ck, _ = session("doc-3", cookie=new_ck)
check(again_ck != new_ck, "launch reused the session id")
st, _ = session_info(srv, new_ck)
check(st == 401, "the previous session still works after a new launch: %d" % st)
st, _ = session_info(srv, again_ck)
check(st == 200, "new session does not work")
# sign-out ends the session
c3 = session_info(srv, again_ck)[1]["csrf"]
st, hd, _ = post_form(srv, "/logout", {"csrf": c3}, again_ck)
check(st == 200 and "Max-Age=0" in hd.get("set-cookie", ""), "logout %d %r" % (st, hd))
st, _ = session_info(srv, again_ck)
check(st == 401, "session alive after logout: %d" % st)

# ---- injection in search parameters ---------------------------------------------------
ck4, _ = session("doc-4")
inj = ["' OR '1'='1", "1; DROP TABLE resource; --", "\" OR 1=1 --", "%' OR person_id LIKE '%",
       "x') UNION SELECT json FROM resource --", "\\x00", "*", "Patient/../../etc/passwd"]
for v in inj:
    q = urllib.parse.quote(v, safe="")
    for path in ("/fhir/Observation?patient=" + q, "/fhir/Observation?code=" + q,
                 "/fhir/Observation?_id=" + q, "/fhir/Patient/" + q,
                 "/fhir/Observation?patient=%s&_record-category=%s" % (pids["a"], q),
                 "/fhir/AuditEvent?patient=" + q, "/fhir/AuditEvent?date=" + q,
                 "/access/person/%s/viewers" % q):
        st, _, b = srv.request("GET", path, headers={"Cookie": "weft_session=" + ck4})
        check(st in (200, 400, 403, 404), "%s -> %d" % (path, st))
        text = json.dumps(b) if isinstance(b, (dict, list)) else repr(b)
        check(pids["b"] not in text, "%s revealed the other patient" % path)
        if st == 200 and isinstance(b, dict):
            for e in b.get("entry", []):
                if e.get("search", {}).get("mode") == "match":
                    check(e["resource"].get("id") != pids["b"], "%s leaked" % path)
rc, out, _ = run("audit", "verify", "--db", db)
check(rc == 0, "the audit log is damaged after injection attempts: " + out)
st, _, b = srv.request("GET", "/fhir/Observation?patient=" + pids["a"],
                       headers={"Cookie": "weft_session=" + ck4})
check(st == 200 and len([e for e in b["entry"] if e["search"]["mode"] == "match"]) > 5,
      "the record was damaged by injection attempts")

# ---- governance-only audit search ----------------------------------------------------
st, _, b = srv.request("GET", "/fhir/AuditEvent?patient=" + pids["a"],
                       headers={"Cookie": "weft_session=" + ck4})
check(st == 403, "a clinician searched the audit log: %d" % st)
gov_ck, _ = session("cg-1", role="R5105")
st, _, b = srv.request("GET", "/fhir/AuditEvent?agent=doc-1&_count=500",
                       headers={"Cookie": "weft_session=" + gov_ck})
check(st == 200 and b["resourceType"] == "Bundle" and b["entry"], "AuditEvent search %d" % st)
ev = b["entry"][0]["resource"]
check(ev["resourceType"] == "AuditEvent" and ev["agent"][0]["who"]["identifier"]["value"] ==
      "doc-1", "AuditEvent shape %r" % ev)
acts = {e["resource"]["subtype"][0]["code"] for e in b["entry"]}
check("break-glass" in acts and "login" in acts, "actions %r" % acts)
st, _, b = srv.request("GET", "/fhir/AuditEvent?action=break-glass&date=ge2020-01-01",
                       headers={"Cookie": "weft_session=" + gov_ck})
check(st == 200 and all(e["resource"]["subtype"][0]["code"] == "break-glass"
                        for e in b["entry"]) and b["entry"], "action filter")
person = info["person"]
st, _, b = srv.request("GET", "/access/person/%s/viewers" % person,
                       headers={"Cookie": "weft_session=" + gov_ck})
check(st == 200 and any(a.get("user") == "doc-1" for a in b["accesses"]), "viewers %r" % b)
st, _, b = srv.request("GET", "/access/breakglass", headers={"Cookie": "weft_session=" + gov_ck})
check(st == 200 and b["breakglass"] and b["breakglass"][0]["reason_code"] == "emergency-care",
      "break-glass review %r" % b)
st, _, b = srv.request("GET", "/access/breakglass", headers={"Cookie": "weft_session=" + ck4})
check(st == 403, "a clinician read the break-glass review: %d" % st)

# ---- path traversal on static files ---------------------------------------------------
secret_marker = open("/etc/passwd").read().split(":")[0]
for path in ("/assets/../../../../etc/passwd", "/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
             "/assets/..%2f..%2f..%2fetc%2fpasswd", "/assets/.%2e/.%2e/etc/passwd",
             "/assets/%252e%252e/etc/passwd", "/assets//etc/passwd", "/static/../weft.db",
             "/assets/..\\..\\etc\\passwd", "/assets/.env", "/../../etc/passwd",
             "/assets/%00/etc/passwd", "/%2e%2e/%2e%2e/etc/passwd"):
    st, _, body = srv.request("GET", path, raw=True)
    check(st in (400, 404, 405), "%s -> %d" % (path, st))
    check(b"root:x:" not in body and b"SQLite format" not in body, "%s served a file" % path)
    check(secret_marker.encode() + b":x:" not in body, "%s leaked" % path)

srv.stop()
rc, out, _ = run("audit", "list", "--db", db, "--action", "break-glass", "--limit", "100")
check(out.count("\tbreak-glass\tdenied\t") == 9 and "\tbreak-glass\tsuccess\t" in out,
      "CSRF refusals and break-glass not audited:\n" + out)
rc, out, _ = run("audit", "list", "--db", db, "--action", "admin", "--limit", "100")
check(out.count("CSRF") == 6, "sign-out CSRF refusals not audited:\n" + out)
rc, out, _ = run("audit", "breakglass", "--db", db)
check("emergency-care" in out and "1 break-glass event" in out, "weft audit breakglass: " + out)
rc, out, _ = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify: " + out)
print("ok: CSRF, fixation, injection, traversal, governance-only audit search")
