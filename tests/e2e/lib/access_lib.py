"""access_lib.py - shared by tests/e2e/access_*.py: sign launch JWTs (HS256
with hmac; RS256 and ES256 with the openssl command line), register
organisations and launchers, load one item per record category per
organisation for a person, and launch sessions through the real server.

Not a test itself (the runner only runs files directly in tests/e2e/)."""
import base64
import hashlib
import hmac
import html
import json
import os
import re
import subprocess
import time
import urllib.parse

from api_harness import TMP, check, nhs, run  # noqa: F401

CATEGORIES = [
    "demographics", "contacts", "social-care-assessment", "services", "safeguarding",
    "legal-status", "conditions", "procedures", "medications", "allergies", "alerts",
    "history", "birth", "encounters", "appointments", "documents", "results",
    "imaging-reports", "observations", "immunisations", "research", "mental-health-act",
    "end-of-life", "service-summaries",
]


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der_to_raw(der, size=32):
    """ECDSA signature DER (SEQUENCE of two INTEGERs) -> r||s, as JOSE wants."""
    check(der[0] == 0x30, "not a DER signature")
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        check(der[i] == 0x02, "not a DER integer")
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += v.rjust(size, b"\x00")
        i += 2 + n
    return out


def sign(header, claims, alg, key):
    """A compact JWT.  key: bytes secret for HS256, private key PEM path for
    RS256/ES256, ignored for none."""
    h = b64u(json.dumps(header, separators=(",", ":")))
    p = b64u(json.dumps(claims, separators=(",", ":")))
    msg = (h + "." + p).encode()
    if alg == "none":
        return h + "." + p + "."
    if alg == "HS256":
        return h + "." + p + "." + b64u(hmac.new(key, msg, hashlib.sha256).digest())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=msg,
                         capture_output=True, check=True).stdout
    if alg == "ES256":
        sig = _der_to_raw(sig)
    return h + "." + p + "." + b64u(sig)


_jti = [0]


def claims(iss, sub, role, org, patient, aud="weft", purpose="TREAT", now=None, **over):
    now = int(time.time()) if now is None else now
    _jti[0] += 1
    c = {"iss": iss, "aud": aud, "iat": now, "nbf": now, "exp": now + 240,
         "jti": "jti-%d-%d-%d" % (os.getpid(), now, _jti[0]), "sub": sub,
         "name": "Test User " + sub, "role": role, "org": org, "patient": patient,
         "purpose": purpose}
    c.update(over)
    return c


def keypair(kind):
    """(private PEM path, public PEM path) for 'rsa' or 'ec'."""
    priv = os.path.join(TMP, kind + "-priv.pem")
    pub = os.path.join(TMP, kind + "-pub.pem")
    if kind == "rsa":
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", priv], check=True, capture_output=True)
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return priv, pub


def weft(*args):
    rc, out, err = run(*args)
    check(rc == 0, "weft %s failed (%d): %s %s" % (" ".join(args), rc, out, err))
    return out


def add_org(db, ods, otype="acute", frm="2020-01-01", to=None):
    weft("org", "add", "--db", db, "--ods", ods, "--name", "Org " + ods, "--type", otype)
    extra = ["--to", to] if to else []
    weft("org", "agreement", "--db", db, "--ods", ods, "--kind", "jca", "--from", frm, *extra)


def add_hs_launcher(db, name, ods, iss):
    secret = os.urandom(32).hex().encode()
    path = os.path.join(TMP, name + ".secret")
    with open(path, "wb") as f:
        f.write(secret)
    weft("launcher", "add", "--db", db, "--name", name, "--org", ods, "--issuer", iss,
         "--alg", "HS256", "--secret-file", path)
    return secret


def writer_token(db, ods):
    return weft("client", "add", "--db", db, "--name", "feed-" + ods, "--org", ods,
                "--write").strip()


def person_bundle(ods, tag, number):
    """A transaction: a Patient (demographics) and one Observation per other
    category, each tagged with its category, all from ods."""
    pid = "pat-%s-%s" % (ods, tag)
    entries = [{"fullUrl": "urn:uuid:p-" + pid, "resource": {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}],
        "name": [{"family": "Access", "given": ["Test"]}], "birthDate": "1970-01-01"},
        "request": {"method": "PUT", "url": "Patient/" + pid}}]
    for c in CATEGORIES[1:]:
        oid = "obs-%s-%s-%s" % (ods, tag, c)
        entries.append({"fullUrl": "urn:uuid:" + oid, "resource": {
            "resourceType": "Observation", "id": oid, "status": "final",
            "meta": {"tag": [{"system": "urn:weft:category", "code": c}]},
            "code": {"text": "item in " + c},
            "subject": {"reference": "Patient/" + pid},
            "effectiveDateTime": "2024-05-01T09:30:00Z"},
            "request": {"method": "PUT", "url": "Observation/" + oid}})
    return pid, {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def launch(srv, token, method="GET", cookie=None, accept=None):
    """Launch; returns (status, headers, body, session cookie value or None)."""
    h = {}
    if cookie:
        h["Cookie"] = "weft_session=" + cookie
    if accept:
        h["Accept"] = accept
    if method == "GET":
        st, hd, b = srv.request("GET", "/launch?token=" + urllib.parse.quote(token), headers=h,
                                raw=True)
    else:
        h["Content-Type"] = "application/x-www-form-urlencoded"
        st, hd, b = srv.request("POST", "/launch", body="token=" + urllib.parse.quote(token),
                                headers=h, raw=True)
    sc = hd.get("set-cookie", "")
    val = None
    if sc.startswith("weft_session="):
        val = sc.split(";")[0].split("=", 1)[1]
    return st, hd, b, val


def session_info(srv, cookie):
    st, _, b = srv.request("GET", "/session", headers={"Cookie": "weft_session=" + cookie,
                                                       "Accept": "application/json"})
    return st, b


def post_form(srv, path, fields, cookie=None, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        h["Cookie"] = "weft_session=" + cookie
    h.update(headers or {})
    return srv.request("POST", path, body=urllib.parse.urlencode(fields), headers=h, raw=True)


def visible(srv, cookie, patient_id):
    """Resource ids the session gets from $everything (all pages), and status."""
    path = "/fhir/Patient/%s/$everything?_count=500" % patient_id
    ids = []
    restricted = False
    while path:
        st, _, b = srv.request("GET", path, headers={"Cookie": "weft_session=" + cookie})
        if st != 200:
            return st, None, b
        for e in b.get("entry", []):
            r = e["resource"]
            if e.get("search", {}).get("mode") == "outcome":
                restricted = restricted or "access rules" in json.dumps(r)
                continue
            ids.append(r["resourceType"] + "/" + r["id"])
        nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
        path = nxt[0][nxt[0].index("/fhir/"):] if nxt else None
    return 200, ids, restricted


def register_app(db, client_id, *uris, scope=None):
    """`weft app add`: a SMART app with these redirect URIs."""
    args = ["app", "add", "--db", db, "--client-id", client_id, "--name", "App " + client_id]
    for u in uris:
        args += ["--redirect-uri", u]
    if scope:
        args += ["--scope", scope]
    weft(*args)


def smart_authorize(srv, headers, params, decision="allow"):
    """The SMART authorize step as a user does it: GET /oauth/authorize shows
    the consent page (any other status is returned as it is), then the user
    posts its form with `decision`.  Returns (status, headers, body) of the
    answer to the decision (303 to the redirect URI when all is well)."""
    st, hd, body = srv.request("GET", "/oauth/authorize?" + urllib.parse.urlencode(params),
                               headers=headers, raw=True)
    if st != 200:
        return st, hd, body
    fields = {html.unescape(k): html.unescape(v) for k, v in re.findall(
        r'<input type="hidden" name="([^"]*)" value="([^"]*)">', body.decode())}
    fields["decision"] = decision
    h = dict(headers)
    h["Content-Type"] = "application/x-www-form-urlencoded"
    return srv.request("POST", "/oauth/authorize", body=urllib.parse.urlencode(fields), headers=h,
                       raw=True)
