#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""security_fhir.py - security review probes of the FHIR API and SMART tokens
against the real (sanitized) server, each a way patient data could leak:

- instance _history of an item shows only the versions the caller may see
  (a version in a withheld category, or linked to another person, is left
  out exactly as vread refuses it);
- vread of a withheld old version answers 404 like an unknown one;
- type-level _history, identifier and _id searches, $everything of another
  person's Patient id are refused or empty for a launched user, and audited;
- error messages do not echo another person's identifiers;
- every FHIR reply that can carry patient data says Cache-Control: no-store
  and X-Content-Type-Options: nosniff;
- a SMART access token reads only its launch patient, even when its user
  has break-glass for someone else; it stops working when the launched session it came from
  is signed out ("never beyond the session");
- the operational log (the server's stderr) holds no NHS number or name."""
import base64
import hashlib
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, run, weft_id  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs,  # noqa: E402
                        person_bundle, post_form, register_app, session_info, sign,
                        smart_authorize, weft, writer_token)

ORG = "RVV"
FAMILY = {"a": "Quillbrook", "b": "Thornevale"}
from api_harness import new_db_url  # noqa: E402

db = new_db_url("weft.db")  # a PostgreSQL database under --backend postgres
weft("init", "--db", db)
add_org(db, ORG)
secret = add_hs_launcher(db, "epr", ORG, "iss-epr")
writer = writer_token(db, ORG)
reader = weft("client", "add", "--db", db, "--name", "sec-reader").strip()
register_app(db, "app", "https://app.example/cb")
srv = Server(db)
P = {"a": nhs(710), "b": nhs(720)}
pids = {}
for tag in ("a", "b"):
    pid, bundle = person_bundle(ORG, tag, P[tag])
    bundle["entry"][0]["resource"]["name"] = [{"family": FAMILY[tag], "given": ["Sec"]}]
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
    check(st == 200, "load %d %r" % (st, b))
    pids[tag] = weft_id(ORG, "Patient", pid)


def recat(cat, text):
    """One Observation of person a whose category changes between versions."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:sec-recat", "resource": {
            "resourceType": "Observation", "id": "sec-recat", "status": "final",
            "meta": {"tag": [{"system": "urn:weft:category", "code": cat}]},
            "code": {"text": text}, "subject": {"reference": "Patient/pat-RVV-a"},
            "effectiveDateTime": "2024-06-01T09:30:00Z"},
        "request": {"method": "PUT", "url": "Observation/sec-recat"}}]}


for cat, text in (("safeguarding", "SECRET-SAFEGUARDING-TEXT"), ("results", "plain result")):
    st, _, b = srv.request("POST", "/fhir", body=recat(cat, text), token=writer)
    check(st == 200, "load recat %d %r" % (st, b))
RECAT = weft_id(ORG, "Observation", "sec-recat")
st, _, b = srv.request("GET", "/fhir/Observation/%s/_history" % RECAT, token=reader)
check(st == 200 and len(b["entry"]) == 2, "setup: two versions expected: %d %r" % (st, b))

HS = {"alg": "HS256"}


def session(sub, role, patient):
    st, hd, body, ck = launch(srv, sign(HS, claims("iss-epr", sub, role, ORG, patient), "HS256",
                                        secret))
    check(st == 303 and ck, "launch %s: %d %r" % (sub, st, body[:200]))
    return ck


def get(path, ck=None, token=None):
    h = {"Cookie": "weft_session=" + ck} if ck else {}
    return srv.request("GET", path, headers=h, token=token)


nurse = session("nurse-1", "R8001", P["a"])

# ---- instance _history and vread of a withheld old version ----------------------------
st, _, b = get("/fhir/Observation/%s/_history/1" % RECAT, nurse)
check(st == 404, "nurse vread of a safeguarding version: %d" % st)
st, _, b = get("/fhir/Observation/%s" % RECAT, nurse)
check(st == 200, "nurse read of the current (results) version: %d" % st)
st, hd, b = get("/fhir/Observation/%s/_history" % RECAT, nurse)
check(st == 200, "nurse history %d %r" % (st, b))
text = json.dumps(b)
check("SECRET-SAFEGUARDING-TEXT" not in text,
      "instance _history shows a version in a category the nurse may not see")
vers = [e["response"]["etag"] for e in b["entry"] if "response" in e]
check(vers == ['W/"2"'], "nurse history versions %r" % vers)
check(b.get("total", 1) == 1, "history total counts a withheld version: %r" % b.get("total"))
# a clinician with the restricted category... is refused too (safeguarding is
# for social care); a social care practitioner sees both versions
sw = session("sw-1", "SOCIAL-CARE-PRACTITIONER", P["a"])
st, _, b = get("/fhir/Observation/%s/_history" % RECAT, sw)
# the current version is "results", which social care may not see: 404
check(st == 404, "social care history of a results item: %d" % st)
st, _, b = get("/fhir/Observation/%s/_history/1" % RECAT, sw)
check(st == 200 and "SECRET-SAFEGUARDING-TEXT" in json.dumps(b), "social care vread v1: %d" % st)

# ---- across people: refused for a launched user ----------------------------------------
other_obs = weft_id(ORG, "Observation", "obs-RVV-b-results")
for path in ("/fhir/Observation/_history", "/fhir/Patient/_history",
             "/fhir/Patient?identifier=" + urllib.parse.quote(
                 "https://fhir.nhs.uk/Id/nhs-number|" + P["b"]),
             "/fhir/Patient?family=" + FAMILY["b"]):
    st, hd, b = get(path, nurse)
    text = json.dumps(b) if isinstance(b, (dict, list)) else repr(b)
    check(st == 403, "%s -> %d, wanted a refusal" % (path, st))
    check(P["b"] not in text and FAMILY["b"] not in text, "%s echoed an identifier" % path)


def same_as_unknown(template, real, ck=None, token=None):
    """template % real and template % an unknown id answer identically (status
    and body, the id aside): an id must not tell whether someone has a record
    (issue 16 item 4).  Returns (status, body) of the real one."""
    unknown = "0" * len(real)
    out = []
    for i in (real, unknown):
        st, _, b = get(template % i, ck, token)
        if isinstance(b, dict) and b.get("resourceType") == "Bundle":
            b = {k: v for k, v in b.items() if k not in ("id", "meta", "link")}
        text = json.dumps(b) if isinstance(b, (dict, list)) else repr(b)
        out.append((st, text.replace(i, "ID")))
    check(out[0] == out[1], "%s: another person's id answers unlike an unknown one: %r"
          % (template, out))
    check(P["b"] not in out[0][1] and FAMILY["b"] not in out[0][1],
          "%s echoed an identifier" % template)
    return out[0]


for template, real, want in (("/fhir/Patient/%s/$everything", pids["b"], 404),
                             ("/fhir/Observation?patient=%s", pids["b"], 200),
                             ("/fhir/Observation/%s", other_obs, 404),
                             ("/fhir/Observation/%s/_history", other_obs, 404),
                             ("/fhir/Observation/%s/_history/1", other_obs, 404),
                             ("/fhir/Patient/%s", pids["b"], 404),
                             # the launched person's own withheld item and version
                             ("/fhir/Observation/%s",
                              weft_id(ORG, "Observation", "obs-RVV-a-safeguarding"), 404),
                             ("/fhir/Observation/%s/_history/1", RECAT, 404)):
    st, text = same_as_unknown(template, real, nurse)
    check(st == want, "%s -> %d, wanted %d" % (template, st, want))
    if want == 200:  # an empty searchset that claims no total
        b = json.loads(text)
        check("total" not in b and
              not [e for e in b.get("entry", []) if e["search"]["mode"] == "match"],
              "%s: %r" % (template, b))
st, _, b = get("/fhir/Observation?_id=" + other_obs, nurse)
check(st == 200 and not [e for e in b.get("entry", []) if e["search"]["mode"] == "match"],
      "_id search of another person's item: %d %r" % (st, b))
check(b.get("total") == 0, "_id search total %r" % b.get("total"))
# ... and answers exactly like an unknown id, as does a withheld item of the
# launched person (no "some information is not shown" only for real ones)
own_withheld = weft_id(ORG, "Observation", "obs-RVV-a-safeguarding")
shapes = []
for i in (other_obs, own_withheld, "0" * 32):
    st, _, b = get("/fhir/Observation?_id=" + i, nurse)
    shapes.append((st, b.get("total"), json.dumps(b.get("entry"))))
check(len(set(shapes)) == 1, "_id search tells a withheld or another person's id from an "
      "unknown one: %r" % shapes)
# a category the scope does not allow: nothing, and nothing leaks (the
# server's exit status under LeakSanitizer is checked at the end)
st, _, b = get("/fhir/Observation?patient=%s&_record-category=safeguarding,results" % pids["a"], nurse)
check(st == 200 and "SECRET-SAFEGUARDING-TEXT" not in json.dumps(b), "category search %d" % st)
st, _, b = get("/fhir/Observation?patient=%s&_record-category=safeguarding" % pids["a"], nurse)
check(st == 200 and b.get("total") == 0, "withheld category search %d %r" % (st, b))

# _has never reveals that a withheld item exists: Patients pointed at by a safeguarding
# Observation (withheld from the nurse) answer exactly as for an Observation text nobody
# has (a launched user may not search Patients across people at all: 403 for both)
shapes = []
for text in ("item in safeguarding", "item in nothing-like-this"):
    st, _, b = get("/fhir/Patient?_has:Observation:patient:code:text=%s" % urllib.parse.quote(text), nurse)
    shapes.append((st, b.get("total"), json.dumps([e for e in b.get("entry", []) if e["search"]["mode"] == "match"])))
check(len(set(shapes)) == 1, "_has tells a withheld Observation from none: %r" % shapes)
check(shapes[0][0] == 403, "_has across people by a launched user: %r" % (shapes[0],))
# a filter matched item by item sees only what the scope lets the store return
st, _, b = get("/fhir/Observation?patient=%s&code:text=%s" % (pids["a"], urllib.parse.quote("item in safeguarding")), nurse)
check(st == 200 and b.get("total") == 0, "matched filter on a withheld category: %d %r" % (st, b))
st, _, b = get("/fhir/Observation?patient=%s&code:text=%s" % (pids["a"], urllib.parse.quote("item in results")), nurse)
check(st == 200 and b.get("total") == 1, "matched filter on a visible category: %d %r" % (st, b))

# ---- headers on every FHIR reply that may carry patient data -----------------------------
for path, who in (("/fhir/Observation/%s" % RECAT, nurse),
                  ("/fhir/Observation/%s/_history" % RECAT, nurse),
                  ("/fhir/Observation/%s/_history/2" % RECAT, nurse),
                  ("/fhir/Observation?patient=%s" % pids["a"], nurse),
                  ("/fhir/Patient/%s/$everything" % pids["a"], nurse),
                  ("/fhir/Patient/%s" % pids["b"], nurse)):
    st, hd, b = get(path, who)
    check(hd.get("cache-control") == "no-store",
          "%s (%d): Cache-Control %r" % (path, st, hd.get("cache-control")))
    check(hd.get("x-content-type-options") == "nosniff", "%s: no nosniff" % path)
st, hd, b = get("/fhir/Observation/_history", token=reader)
check(st == 200 and hd.get("cache-control") == "no-store", "type history headers %r" % hd)

# ---- SMART token bound to its session -------------------------------------------------
doc = session("doc-1", "R8000", P["a"])
st, info = session_info(srv, doc)
check(st == 200, "session %d" % st)


def smart_token(ck, scope):
    verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    st, hd, _ = smart_authorize(srv, {"Cookie": "weft_session=" + ck}, {
        "response_type": "code", "client_id": "app", "redirect_uri": "https://app.example/cb",
        "scope": scope, "state": "s1", "aud": "weft", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    check(st == 303, "authorize %d" % st)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(hd["location"]).query)["code"][0]
    st, _, tok = post_form(srv, "/oauth/token", {"grant_type": "authorization_code", "code": code,
                                                 "code_verifier": verifier, "client_id": "app"})
    tok = json.loads(tok)
    check(st == 200 and tok["access_token"].startswith("wat_"), "token %d %r" % (st, tok))
    return tok["access_token"]


at = smart_token(doc, "patient/*.rs")
# refusals by resource type (an Observation-only app token) and of an API
# client without a read scope are audited like every other refusal
obs_only = smart_token(doc, "patient/Observation.rs")
st, _, _ = get("/fhir/Patient/%s" % pids["a"], token=obs_only)
check(st == 403, "Observation-only token read a Patient: %d" % st)
st, _, _ = get("/fhir/Patient?_id=%s" % pids["a"], token=obs_only)
check(st == 403, "Observation-only token searched Patient: %d" % st)
ops = weft("client", "add", "--db", db, "--name", "sec-ops", "--scope",
           "admin/feeds.read").strip()
st, _, _ = get("/fhir/Patient/%s" % pids["a"], token=ops)
check(st == 403, "a client without a read scope read a Patient: %d" % st)
st, _, _ = get("/fhir/Observation?patient=%s" % pids["a"], token=ops)
check(st == 403, "a client without a read scope searched: %d" % st)
st, hd, b = get("/fhir/Patient/%s" % pids["a"], token=at)
check(st == 200, "token read %d" % st)
st, _ = same_as_unknown("/fhir/Patient/%s", pids["b"], token=at)
check(st == 404, "token read of another person %d" % st)
# break-glass for another person widens the session, not the app's token
host = "127.0.0.1:%d" % srv.port
st, _, _ = post_form(srv, "/breakglass", {"csrf": info["csrf"], "reason_code": "emergency-care",
                                          "reason_text": "collapsed in the waiting room",
                                          "nhs": P["b"]}, doc,
                     {"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"})
check(st == 303, "break-glass %d" % st)
st, _, _ = get("/fhir/Patient/%s" % pids["b"], doc)
check(st == 200, "break-glass did not open the other person for the session: %d" % st)
for template, want in (("/fhir/Patient/%s", 404), ("/fhir/Patient/%s/$everything", 404),
                       ("/fhir/Observation?patient=%s", 200)):
    st, text = same_as_unknown(template, pids["b"], token=at)
    check(st == want and "match" not in text,
          "an app token read %s through its user's break-glass: %d" % (template, st))
st, _, _ = post_form(srv, "/logout", {"csrf": info["csrf"]}, doc)
check(st == 200, "logout %d" % st)
st, hd, b = get("/fhir/Patient/%s" % pids["a"], token=at)
check(st == 401, "SMART token still works after its session was signed out: %d" % st)

# ---- audit: the refusals above were recorded ------------------------------------------
log = srv.stop()
rc, out, _ = run("audit", "list", "--db", db, "--action", "denial", "--limit", "1000")
check(rc == 0 and out.count("nurse-1") >= 5, "nurse refusals not audited:\n" + out)
check(out.count("client=sec-ops") >= 2, "a client's refusals were not audited:\n" + out)
typed = [l for l in out.splitlines() if "resource type" in l and "doc-1" in l]
check(len(typed) >= 2, "refusals by resource type were not audited:\n" + out)
rc, out, _ = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify: " + out)

# ---- no patient identifiers in the operational log -------------------------------------
for word in list(P.values()) + list(FAMILY.values()) + ["SECRET-SAFEGUARDING-TEXT"]:
    check(word not in log, "operational log holds patient data %r:\n%s" % (word, log[-2000:]))
print("ok")
