#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""access_backend.py - SMART Backend Services (issue 18), with a real client
library: PyJWT (Debian python3-jwt) signs the client assertions with keys
made by python3-cryptography, and urllib talks HTTP to the real server.

  - `weft client add --jwks FILE --purpose direct|secondary --org ODS` prints
    the client id alone on standard output; a key set holding a private key,
    or a missing --purpose, is refused naming the problem (a bearer-token
    client may be given a purpose: it still gets a token); `client list`
    shows the purpose and the keys; a bearer-token client is added as before;
  - /.well-known/smart-configuration advertises private_key_jwt, RS384/ES384,
    client_credentials and client-confidential-asymmetric, with an absolute
    token_endpoint (the aud the assertions carry);
  - an RS384 assertion (direct client) and an ES384 one (secondary client)
    get bearer tokens (token_type, expires_in, scope) that authenticate FHIR
    requests: the direct client reads its organisation's patient, the
    secondary client is refused (403 OperationOutcome, audited);
  - a replayed jti, a wrong aud, an expired assertion, HS256, an unknown kid,
    iss != sub, a non-system scope and another grant_type are refused with
    the RFC 6749 error and status, each a WARN line with its reason and an
    audited refusal, and no assertion or token is ever logged;
  - a narrower scope (system/Patient.rs) reads Patients but not Observations;
  - revoking the client ends its tokens at once;
  - with --base-url the token URL follows it."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import TMP, Server, check, new_db_url, run, skip, weft_id  # noqa: E402
from access_lib import add_org, person_bundle, writer_token  # noqa: E402

try:
    import jwt  # PyJWT: Debian python3-jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError as e:
    skip("needs python3-jwt and python3-cryptography (scripts/install-deps.sh): %s" % e)

ORG = "RVV"
NHS = "9990000018"

db = new_db_url("weft.db")
rc, out, err = run("init", "--db", db)
check(rc == 0, "init: " + err)
add_org(db, ORG)
writer = writer_token(db, ORG)

# ---- keys and registration -------------------------------------------------------------------
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP384R1())
other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(alg_cls, public_key, kid):
    k = json.loads(alg_cls.to_jwk(public_key))
    k["kid"] = kid
    return k


def write_json(name, obj):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


jwks_direct = write_json("direct.jwks", {"keys": [
    jwk(jwt.algorithms.RSAAlgorithm, rsa_key.public_key(), "rsa-1"),
    jwk(jwt.algorithms.ECAlgorithm, ec_key.public_key(), "ec-1")]})
jwks_secondary = write_json("secondary.jwks", {"keys": [
    jwk(jwt.algorithms.ECAlgorithm, ec_key.public_key(), "ec-2")]})
# a private key in the set: refused, nothing registered
priv = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key))
priv["kid"] = "oops"
jwks_private = write_json("private.jwks", {"keys": [priv]})


def client_add(*extra):
    return run("client", "add", "--db", db, *extra)


rc, out, err = client_add("--name", "leaky", "--org", ORG, "--purpose", "direct", "--jwks",
                          jwks_private)
check(rc == 2 and not out and "private key" in err, "a private key was accepted: %r %r" % (out, err))
rc, out, err = client_add("--name", "nopurpose", "--org", ORG, "--jwks", jwks_direct)
check(rc == 2 and not out and "--purpose" in err, "no --purpose accepted: %r %r" % (out, err))
rc, out, err = client_add("--name", "bearer", "--purpose", "nonsense")
check(rc == 2 and not out and "--purpose" in err, "--purpose nonsense accepted: %r %r" % (out, err))
# a bearer-token client may be registered for secondary uses too (the bulk
# export's tests use one): it gets a token, not a client id
rc, out, err = client_add("--name", "bearer-secondary", "--purpose", "secondary")
check(rc == 0 and out.strip() and not out.strip().isdigit() and "secondary" in err,
      "bearer client with --purpose secondary: %r %r" % (out, err))

rc, out, err = client_add("--name", "gp-population-tool", "--org", ORG, "--purpose", "direct",
                          "--jwks", jwks_direct)
check(rc == 0 and out.strip().isdigit() and out == out.strip() + "\n",
      "client add --jwks must print the client id alone: %r %r" % (out, err))
direct_id = out.strip()
rc, out, err = client_add("--name", "icb-analytics", "--org", ORG, "--purpose", "secondary",
                          "--jwks", jwks_secondary)
check(rc == 0 and out.strip().isdigit(), "secondary client: %r %r" % (out, err))
secondary_id = out.strip()
rc, out, err = client_add("--name", "still-bearer")
check(rc == 0 and len(out.strip()) == 43 and not out.strip().isdigit(),
      "a bearer client no longer gets a token: %r" % out)

rc, listing, err = run("client", "list", "--db", db)
check(rc == 0, "client list: " + err)
rows = {ln.split()[0]: ln.split() for ln in listing.splitlines()[1:]}
head = listing.splitlines()[0].split()
check("purpose" in head and "keys" in head, "list header: %r" % head)
pi, ki = head.index("purpose"), head.index("keys")
check(rows[direct_id][pi] == "direct" and rows[direct_id][ki] == "jwks:2",
      "direct client listed as %r" % rows[direct_id])
check(rows[secondary_id][pi] == "secondary" and rows[secondary_id][ki] == "jwks:1",
      "secondary client listed as %r" % rows[secondary_id])
check(rows["1"][ki] == "-", "a bearer client listed with keys: %r" % rows["1"])

# ---- the server ----------------------------------------------------------------------------------
srv = Server(db)
base = "http://127.0.0.1:%d" % srv.port
source_pid, bundle = person_bundle(ORG, "a", NHS)
pid = weft_id(ORG, "Patient", source_pid)
st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer)
check(st == 200, "load: %d %r" % (st, b))


def http(method, path, form=None, token=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if form is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    req.add_header("Accept", "application/fhir+json, application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body


st, conf = http("GET", "/.well-known/smart-configuration")
check(st == 200, "smart-configuration: %d" % st)
token_url = conf.get("token_endpoint")
check(token_url == base + "/oauth/token", "token_endpoint %r" % token_url)
for field, value in (("token_endpoint_auth_methods_supported", "private_key_jwt"),
                     ("token_endpoint_auth_signing_alg_values_supported", "RS384"),
                     ("token_endpoint_auth_signing_alg_values_supported", "ES384"),
                     ("grant_types_supported", "client_credentials"),
                     ("capabilities", "client-confidential-asymmetric")):
    check(value in conf.get(field, []), "smart-configuration %s lacks %s: %r" % (field, value, conf))

secrets = []  # every assertion and token: none may reach the log


def assertion(client_id, key, alg, kid, aud=None, exp_in=240, sub=None, jti=None):
    now = int(time.time())
    claims = {"iss": client_id, "sub": sub or client_id, "aud": aud or token_url,
              "exp": now + exp_in, "iat": now, "jti": jti or str(uuid.uuid4())}
    a = jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})
    secrets.append(a)
    return a


def token_request(a, scope="system/*.rs", grant="client_credentials"):
    form = {"grant_type": grant, "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": a}
    return http("POST", "/oauth/token", form)


def refused(resp, status, error, words, what):
    st, b = resp
    check(st == status and isinstance(b, dict) and b.get("error") == error,
          "%s: wanted %d %s, got %d %r" % (what, status, error, st, b))
    check(words in b.get("error_description", ""), "%s: description %r" % (what, b))


# RS384, direct client: a token that reads the organisation's patient
a_direct = assertion(direct_id, rsa_key, "RS384", "rsa-1")
st, tok = token_request(a_direct)
check(st == 200, "RS384 token: %d %r" % (st, tok))
check(tok.get("token_type") == "bearer" and tok.get("expires_in") == 300 and
      tok.get("scope") == "system/*.rs" and tok.get("access_token", "").startswith("wbt_"),
      "token answer %r" % tok)
direct_tok = tok["access_token"]
secrets.append(direct_tok)
st, b = http("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|" + NHS,
             token=direct_tok)
check(st == 200 and b.get("total", len(b.get("entry", []))) >= 1 and
      b["entry"][0]["resource"]["id"] == pid, "direct client's read: %d %r" % (st, b))
st, b = http("GET", "/fhir/Observation?patient=Patient/" + pid, token=direct_tok)
check(st == 200 and len(b.get("entry", [])) > 0, "direct client's Observations: %d" % st)

# the same assertion again: its jti was used
refused(token_request(a_direct), 400, "invalid_grant", "jti was used before", "replayed jti")

# ES384, secondary client: a token, but no records through the FHIR API
st, tok = token_request(assertion(secondary_id, ec_key, "ES384", "ec-2"))
check(st == 200 and tok.get("token_type") == "bearer", "ES384 token: %d %r" % (st, tok))
sec_tok = tok["access_token"]
secrets.append(sec_tok)
for path in ("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|" + NHS,
             "/fhir/Patient/" + pid, "/fhir/Observation?patient=Patient/" + pid,
             "/fhir/Patient/" + pid + "/$everything"):
    st, b = http("GET", path, token=sec_tok)
    check(st == 403 and isinstance(b, dict) and b.get("resourceType") == "OperationOutcome" and
          "secondary uses" in json.dumps(b), "secondary client read %s: %d %r" % (path, st, b))

# nor writes, nor the feeds console's messages (they name people)
st, b = http("GET", "/admin/feeds/messages/1", token=direct_tok)
check(st == 200, "the direct client's read of the message it loaded: %d %r" % (st, b))
st, b = http("GET", "/admin/feeds/messages/1", token=sec_tok)
check(st == 403, "secondary client read a feed message: %d %r" % (st, b))
req = urllib.request.Request(base + "/fhir", data=json.dumps(bundle).encode(), method="POST")
req.add_header("Authorization", "Bearer " + sec_tok)
req.add_header("Content-Type", "application/fhir+json")
try:
    urllib.request.urlopen(req, timeout=60)
    check(False, "a secondary client wrote")
except urllib.error.HTTPError as e:
    check(e.code == 403 and "secondary uses" in e.read().decode(), "secondary write: %d" % e.code)

# refusals
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1", aud=base + "/fhir")), 400,
        "invalid_grant", "aud", "wrong aud")
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1", exp_in=-120)), 400,
        "invalid_grant", "expired", "expired")
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1", exp_in=900)), 400,
        "invalid_grant", "5 minutes", "exp too far ahead")
refused(token_request(assertion(direct_id, b"a-shared-secret-of-32-bytes-long", "HS256", "rsa-1")),
        401, "invalid_client", "RS384 or ES384", "HS256")
refused(token_request(assertion(direct_id, rsa_key, "RS384", "nope")), 401, "invalid_client",
        "kid", "unknown kid")
refused(token_request(assertion(direct_id, other_key, "RS384", "rsa-1")), 401, "invalid_client",
        "signature", "another key")
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1", sub=secondary_id)), 401,
        "invalid_client", "iss and sub", "iss != sub")
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1"), scope="patient/*.rs"), 400,
        "invalid_scope", "system scope", "patient scope")
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1"), grant="password"), 400,
        "unsupported_grant_type", "client_credentials", "grant type")

# a narrower scope: Patients only
st, tok = token_request(assertion(direct_id, ec_key, "ES384", "ec-1"),
                        scope="system/Patient.rs system/*.cud")
check(st == 200 and tok.get("scope") == "system/Patient.rs", "narrow scope: %d %r" % (st, tok))
narrow = tok["access_token"]
secrets.append(narrow)
st, b = http("GET", "/fhir/Patient/" + pid, token=narrow)
check(st == 200 and b.get("id") == pid, "narrow token's Patient read: %d %r" % (st, b))
st, b = http("GET", "/fhir/Observation?patient=Patient/" + pid, token=narrow)
check(st == 403, "narrow token read Observations: %d %r" % (st, b))
st, b = http("GET", "/fhir/Patient?_id=%s&_revinclude=Observation:subject" % pid, token=narrow)
check(st == 200 and all(e["resource"]["resourceType"] == "Patient" for e in b.get("entry", [])),
      "a _revinclude brought in a type the token does not cover: %s" % json.dumps(b)[:300])

# revoking the client ends its tokens
rc, out, err = run("client", "revoke", "--db", db, "--id", direct_id)
check(rc == 0, "revoke: " + err)
st, b = http("GET", "/fhir/Patient/" + pid, token=direct_tok)
check(st == 401, "a revoked client's token still reads: %d %r" % (st, b))
refused(token_request(assertion(direct_id, rsa_key, "RS384", "rsa-1")), 401, "invalid_client",
        "revoked", "revoked client")

log = srv.stop()
check(log.count("backend token refused") >= 11, "refusals not logged at WARN:\n" + log[-3000:])
for ln in log.splitlines():
    if "backend token refused" in ln:
        check("WARN" in ln.upper(), "refusal not at WARN: %r" % ln)
check("jti was used before" in log and "signature does not verify" in log,
      "refusal reasons missing from the log")
for sec in secrets:
    check(sec not in log and sec[:40] not in log, "a secret reached the log")

# audit: issues and refusals (action token), the secondary client's denials
rc, out, err = run("audit", "list", "--db", db, "--action", "token", "--limit", "100")
check(rc == 0, "audit list: " + err)
ok_lines = [ln for ln in out.splitlines() if "Backend Services access token issued" in ln]
no_lines = [ln for ln in out.splitlines() if "invalid_" in ln or "unsupported_grant_type" in ln]
check(len(ok_lines) == 3, "issued tokens audited %d times, wanted 3:\n%s" % (len(ok_lines), out))
check(len(no_lines) >= 11, "refusals audited %d times:\n%s" % (len(no_lines), out))
check("icb-analytics" in out and "gp-population-tool" in out, "clients not named:\n" + out)
for sec in secrets:
    check(sec not in out, "a secret reached the audit log")
rc, out, err = run("audit", "list", "--db", db, "--action", "denial", "--limit", "100")
check(rc == 0 and out.count("secondary uses") >= 4,
      "the secondary client's refusals are not audited:\n" + out)

# --base-url: the token URL follows it (and an aud of the local address is then wrong)
srv2 = Server(db, "--base-url", "https://weft.example.nhs.uk/fhir", tag="2")
base = "http://127.0.0.1:%d" % srv2.port
st, conf = http("GET", "/.well-known/smart-configuration")
check(conf.get("token_endpoint") == "https://weft.example.nhs.uk/oauth/token",
      "token_endpoint with --base-url: %r" % conf.get("token_endpoint"))
st, tok = token_request(assertion(secondary_id, ec_key, "ES384", "ec-2",
                                  aud="https://weft.example.nhs.uk/oauth/token"))
check(st == 200, "token with --base-url aud: %d %r" % (st, tok))
refused(token_request(assertion(secondary_id, ec_key, "ES384", "ec-2",
                                aud=base + "/oauth/token")), 400, "invalid_grant", "aud",
        "local aud behind --base-url")
srv2.stop()
print("ok")
