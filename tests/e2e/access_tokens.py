#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""access_tokens.py - launch token attacks, each refused and audited, against
the real server: alg none, RS256->HS256 confusion, expired, not yet valid,
lifetime over 5 minutes, wrong audience, unknown issuer, replayed jti,
tampered payload, a token from another organisation's launcher, a token for
one patient used to read another.  Valid HS256, RS256 and ES256 tokens (GET
and POST) are accepted, so the refusals are not an artefact of a broken
launcher.  Then the SMART App Launch flow: discovery, authorise with PKCE,
token, a read with the app token bound to the launched patient, and its
refusals (wrong verifier, reused code, other patient, scope narrower than
the type)."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, run, weft_id  # noqa: E402
from access_lib import (add_hs_launcher, add_org, b64u, claims, keypair, launch,  # noqa: E402
                        nhs, person_bundle, register_app, sign, smart_authorize, weft,
                        writer_token)

ORG, OTHER = "RVV", "G82001"
from api_harness import new_db_url  # noqa: E402

db = new_db_url("weft.db")  # a PostgreSQL database under --backend postgres
weft("init", "--db", db)
add_org(db, ORG)
add_org(db, OTHER, "gp")
hs = add_hs_launcher(db, "epr-hs", ORG, "iss-hs")
add_hs_launcher(db, "gp-hs", OTHER, "iss-gp")
rsa_priv, rsa_pub = keypair("rsa")
ec_priv, ec_pub = keypair("ec")
weft("launcher", "add", "--db", db, "--name", "epr-rs", "--org", ORG, "--issuer", "iss-rs",
     "--alg", "RS256", "--public-key-file", rsa_pub)
weft("launcher", "add", "--db", db, "--name", "epr-es", "--org", ORG, "--issuer", "iss-es",
     "--alg", "ES256", "--public-key-file", ec_pub)
# registration refuses bad keys
rc, _, err = run("launcher", "add", "--db", db, "--name", "x", "--org", ORG, "--issuer", "x",
                 "--alg", "ES256", "--public-key-file", rsa_pub)
check(rc != 0 and "P-256" in err, "an RSA key was accepted for ES256: " + err)
short = os.path.join(TMP, "short.secret")
open(short, "w").write("tooshort")
rc, _, err = run("launcher", "add", "--db", db, "--name", "y", "--org", ORG, "--issuer", "y",
                 "--alg", "HS256", "--secret-file", short)
check(rc != 0 and "32 bytes" in err, "a short secret was accepted: " + err)

writer = writer_token(db, ORG)
srv = Server(db)
P1, P2 = nhs(300), nhs(400)
pids = {}
for tag, number in (("one", P1), ("two", P2)):
    pid, bundle = person_bundle(ORG, tag, number)
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
    check(st == 200, "load %d %r" % (st, b))
    pids[tag] = weft_id(ORG, "Patient", pid)

HS = {"alg": "HS256", "typ": "JWT"}


def c(**kw):
    base = dict(iss="iss-hs", sub="dr-who", role="R8000", org=ORG, patient=P1)
    base.update(kw)
    return claims(**base)


def refused(name, token, phrase, method="GET"):
    st, hd, body, cookie = launch(srv, token, method=method, accept="application/json")
    check(st == 401, "%s: status %d, wanted 401: %r" % (name, st, body[:300]))
    check(cookie is None, "%s: a session cookie was set" % name)
    j = json.loads(body)
    check(phrase in j.get("error_description", ""), "%s: %r lacks %r" % (name, j, phrase))
    check(j.get("what_to_do"), "%s: no advice in %r" % (name, j))
    # the HTML version is a page, not a stack trace
    st, hd, body, _ = launch(srv, token, method=method)
    check(st == 401 and b"<html" in body and b"Could not open the record" in body,
          "%s: html page %d %r" % (name, st, body[:200]))
    return 1


now = int(time.time())
attacks = 0
# alg none, with and without a signature part
t = sign({"alg": "none", "typ": "JWT"}, c(), "none", None)
attacks += refused("alg none", t, "algorithm")
attacks += refused("alg none + junk sig", t + "AAAA", "algorithm")
# RS256 -> HS256 confusion: HMAC keyed with the public key PEM the server holds
pem = open(rsa_pub, "rb").read()
attacks += refused("RS256->HS256", sign(HS, c(iss="iss-rs"), "HS256", pem), "algorithm")
attacks += refused("RS256->HS256 (no newline)",
                   sign(HS, c(iss="iss-rs"), "HS256", pem.strip()), "algorithm")
attacks += refused("expired", sign(HS, c(iat=now - 600, nbf=now - 600, exp=now - 300), "HS256",
                                   hs), "expired")
attacks += refused("nbf future", sign(HS, c(nbf=now + 200, exp=now + 280), "HS256", hs),
                   "not valid yet")
attacks += refused("iat future", sign(HS, c(iat=now + 200, exp=now + 280), "HS256", hs),
                   "not valid yet")
attacks += refused("too long", sign(HS, c(exp=now + 3600), "HS256", hs), "5 minutes")
attacks += refused("no exp", sign(HS, {k: v for k, v in c().items() if k != "exp"}, "HS256", hs),
                   "exp")
attacks += refused("wrong aud", sign(HS, c(aud="someone-else"), "HS256", hs), "audience")
attacks += refused("aud list without us", sign(HS, c(aud=["a", "b"]), "HS256", hs), "audience")
attacks += refused("unknown iss", sign(HS, c(iss="iss-evil"), "HS256", hs), "issuer")
attacks += refused("wrong secret", sign(HS, c(), "HS256", b"x" * 64), "signature")
good = sign(HS, c(), "HS256", hs)
h, p, s = good.split(".")
evil = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
evil["patient"] = P2
attacks += refused("tampered payload", h + "." + b64u(json.dumps(evil)) + "." + s, "signature")
evil["patient"] = P1
evil["role"] = "R8000 "
attacks += refused("tampered role", h + "." + b64u(json.dumps(evil)) + "." + s, "signature")
attacks += refused("other org's launcher", sign(HS, c(iss="iss-gp"), "HS256", hs), "signature")
gp_secret = open(os.path.join(TMP, "gp-hs.secret"), "rb").read()
attacks += refused("org not the launcher's", sign(HS, c(iss="iss-gp"), "HS256", gp_secret),
                   "organisation")
attacks += refused("bad NHS number", sign(HS, c(patient=P1[:-1] + str((int(P1[-1]) + 1) % 10)),
                                          "HS256", hs), "NHS number")
attacks += refused("unknown role", sign(HS, c(role="R8100"), "HS256", hs), "role")
attacks += refused("not a JWT", "abc.def", "JWT")
attacks += refused("garbage base64", "!!!.???.***", "JSON")
attacks += refused("huge", "a" * 9000 + ".b.c", "too large")
attacks += refused("empty", "", "no launch token")
attacks += refused("alg none by POST", t, "algorithm", method="POST")

# valid tokens of each algorithm, by GET and POST
for name, tok in (("HS256", sign(HS, c(sub="hs-user"), "HS256", hs)),
                  ("RS256", sign({"alg": "RS256"}, c(iss="iss-rs", sub="rs-user"), "RS256",
                                 rsa_priv)),
                  ("ES256", sign({"alg": "ES256"}, c(iss="iss-es", sub="es-user"), "ES256",
                                 ec_priv))):
    st, hd, body, cookie = launch(srv, tok)
    check(st == 303 and cookie, "%s launch refused: %d %r" % (name, st, body[:300]))
    sc = hd["set-cookie"]
    check("HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc, "cookie flags " + sc)
    check("Secure" not in sc, "Secure cookie over plain http without --cookie-secure: " + sc)
    check(hd["location"].startswith("/patient/"), "location " + hd["location"])
    # replay of the same token
    attacks += refused(name + " replayed jti", tok, "used before")
# behind a TLS-terminating proxy the cookie is Secure
st, hd = srv.request("GET", "/launch?token=" + sign(HS, c(sub="proxied"), "HS256", hs),
                     headers={"X-Forwarded-Proto": "https"}, raw=True)[:2]
check(st == 303 and "Secure" in hd["set-cookie"], "cookie behind https proxy: %r" % hd)
# ES256 signature in DER form (not JOSE) is refused
hdr_pl = b64u(json.dumps({"alg": "ES256"})) + "." + b64u(json.dumps(c(iss="iss-es",
                                                                      sub="es-der")))
der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", ec_priv], input=hdr_pl.encode(),
                     capture_output=True, check=True).stdout
attacks += refused("ES256 DER signature", hdr_pl + "." + b64u(der), "signature")
st, _, _, _ = launch(srv, sign({"alg": "ES256"}, c(iss="iss-es", sub="es-ok"), "ES256", ec_priv),
                     method="POST")
check(st == 303, "ES256 by POST refused: %d" % st)

# a token for one patient used to read another
tok = sign(HS, c(sub="nurse-1", role="R8001"), "HS256", hs)
st, hd, body, cookie = launch(srv, tok)
check(st == 303, "launch %d" % st)
ck = {"Cookie": "weft_session=" + cookie}
st, _, b = srv.request("GET", "/fhir/Patient/%s/$everything" % pids["one"], headers=ck)
check(st == 200 and len(b["entry"]) > 5, "own patient: %d" % st)
# another patient answers exactly as an unknown id does (no existence leak)
unknown = "0" * len(pids["two"])
st, _, b = srv.request("GET", "/fhir/Patient/%s/$everything" % pids["two"], headers=ck)
st2, _, b2 = srv.request("GET", "/fhir/Patient/%s/$everything" % unknown, headers=ck)
check(st == st2 == 404 and json.dumps(b).replace(pids["two"], "X") ==
      json.dumps(b2).replace(unknown, "X"), "other patient $everything: %d %r" % (st, b))
st, _, b = srv.request("GET", "/fhir/Patient/%s" % pids["two"], headers=ck)
check(st == 404, "other patient read: %d" % st)
st, _, b = srv.request("GET", "/fhir/Observation?patient=%s" % pids["two"], headers=ck)
check(st == 200 and "total" not in b and
      not [e for e in b["entry"] if e["search"]["mode"] == "match"],
      "other patient search: %d %r" % (st, b))
st, _, b = srv.request("GET", "/fhir/Observation", headers=ck)
check(st == 403, "search across people: %d" % st)
st, _, b = srv.request("GET", "/fhir/Observation?patient=%s" % pids["one"],
                       headers={"Cookie": "weft_session=wss_forged" + cookie[9:]})
check(st == 401, "a forged cookie was accepted: %d" % st)
attacks += 4

# ---- SMART App Launch ----------------------------------------------------------------
st, _, conf = srv.request("GET", "/.well-known/smart-configuration")
# absolute (SMART requires it; a Backend Services client signs it as its aud)
check(st == 200 and conf["token_endpoint"] == "http://127.0.0.1:%d/oauth/token" % srv.port and
      "S256" in
      conf["code_challenge_methods_supported"], "smart-configuration %r" % conf)
verifier = b64u(os.urandom(40))
challenge = b64u(hashlib.sha256(verifier.encode()).digest())


register_app(db, "growth-chart", "https://app.example/cb")


def authorize(scope, chal=challenge, cookie_hdr=ck):
    return smart_authorize(srv, cookie_hdr, {
        "response_type": "code", "client_id": "growth-chart",
        "redirect_uri": "https://app.example/cb", "scope": scope, "state": "s123", "aud": "weft",
        "code_challenge": chal, "code_challenge_method": "S256"})


st, hd, _ = authorize("launch patient/Observation.rs patient/Patient.rs user/*.cruds")
check(st == 303 and hd["location"].startswith("https://app.example/cb?code="), "authorize %d %r"
      % (st, hd))
loc = urllib.parse.urlparse(hd["location"])
qs = urllib.parse.parse_qs(loc.query)
check(qs["state"] == ["s123"], "state not returned")
code = qs["code"][0]
form = {"Content-Type": "application/x-www-form-urlencoded"}
st, _, b = srv.request("POST", "/oauth/token", body=urllib.parse.urlencode(
    {"grant_type": "authorization_code", "code": code, "code_verifier": "x" * 43,
     "client_id": "growth-chart"}), headers=form)
check(st == 400 and b["error"] == "invalid_grant", "wrong verifier: %d %r" % (st, b))
# the code was burnt by the failed attempt: get a new one
st, hd, _ = authorize("patient/Observation.rs patient/Patient.rs")
code = urllib.parse.parse_qs(urllib.parse.urlparse(hd["location"]).query)["code"][0]
st, _, b = srv.request("POST", "/oauth/token", body=urllib.parse.urlencode(
    {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
     "client_id": "growth-chart"}), headers=form)
check(st == 200 and b["token_type"] == "Bearer" and b["expires_in"] <= 900, "token %d %r" %
      (st, b))
check("cruds" not in b["scope"] and "patient/Observation.rs" in b["scope"], "scope %r" % b)
app = b["access_token"]
st, _, b2 = srv.request("POST", "/oauth/token", body=urllib.parse.urlencode(
    {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
     "client_id": "growth-chart"}), headers=form)
check(st == 400 and b2["error"] == "invalid_grant", "code reused: %d %r" % (st, b2))
st, _, r = srv.request("GET", "/fhir/Observation?patient=%s" % pids["one"], token=app)
check(st == 200 and any(e["search"]["mode"] == "match" for e in r["entry"]), "app read %d" % st)
st, _, r = srv.request("GET", "/fhir/Observation?patient=%s" % pids["two"], token=app)
check(st == 200 and not [e for e in r["entry"] if e["search"]["mode"] == "match"],
      "app token read another patient: %d" % st)
st, _, r = srv.request("GET", "/fhir/Condition?patient=%s" % pids["one"], token=app)
check(st == 403, "app token read a type outside its scopes: %d" % st)
st, _, r = srv.request("POST", "/fhir", body={"resourceType": "Bundle", "type": "batch",
                                              "entry": []}, token=app)
check(st == 403, "app token wrote: %d" % st)
st, _, r = srv.request("GET", "/fhir/Observation?patient=%s" % pids["one"], token=app + "x")
check(st == 401, "tampered app token accepted: %d" % st)
st, hd, _ = srv.request("GET", "/oauth/authorize?response_type=code", raw=True)
check(st == 401, "authorize without a session: %d" % st)
st, hd, _ = authorize("patient/*.rs", chal="short")
check(st == 400, "authorize without PKCE: %d" % st)

log = srv.stop()
for n in (P1, P2):
    check(n not in log, "an NHS number reached the operational log")
rc, out, err = run("audit", "list", "--db", db, "--action", "launch", "--limit", "100000")
denied = [l for l in out.splitlines() if "\tdenied\t" in l]
# every refused launch (JSON and HTML attempt each) is in the audit log
check(len(denied) >= 2 * (attacks - 4), "%d launch refusals audited for %d attacks" %
      (len(denied), attacks - 4))
check(any("replayed" in l for l in denied) and any("algorithm" in l for l in denied) and
      any("expired" in l for l in denied) and any("audience" in l for l in denied),
      "refusal reasons missing from the audit log")
rc, out, err = run("audit", "list", "--db", db, "--action", "denial", "--limit", "1000")
check(out.count("launched") >= 3, "cross-patient refusals not audited:\n" + out)
rc, out, err = run("audit", "list", "--db", db, "--action", "token")
check("\ttoken\tsuccess\t" in out, "SMART token issue not audited")
rc, out, err = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify: " + out + err)
print("ok: %d attacks refused and audited; HS256/RS256/ES256 launches and SMART flow work" %
      attacks)
