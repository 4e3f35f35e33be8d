#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""ops_client_cert.py - API clients bound to a TLS client certificate (issue 19).

`weft client add ... --client-cert-sha256 HEX` binds a client's bearer token to
one certificate; `weft serve --tls-cert --tls-key --http-request-client-cert`
asks HTTPS clients for theirs.  Over real HTTPS (python3's ssl and curl):
  - the bound client's token with the pinned certificate reads (200);
  - the same token with another certificate, or with none, is refused 401
    (WWW-Authenticate error="invalid_token") with an OperationOutcome saying
    why; each refusal is a WARN line naming the client and the reason, and an
    audited denial (weft audit list --action denial);
  - an unbound client reads with or without a certificate, as before;
  - a bad fingerprint is refused by `client add`, naming the option;
    `client list` shows the binding; --http-request-client-cert without TLS
    is refused at start; a bound client on a server that does not ask for
    certificates is warned about at start (and refused)."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import TMP, WEFT, Server, check, fail, outcome_text, run, setup_db, wait_log  # noqa: E402

if not shutil.which("openssl"):
    print("skip: needs the openssl command")
    sys.exit(77)


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True, cwd=TMP)
    check(r.returncode == 0, "%s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def make_cert(name, cn):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", name + "-key.pem", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + cn,
       "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return os.path.join(TMP, name + ".pem"), os.path.join(TMP, name + "-key.pem")


server_cert, server_key = make_cert("server", "localhost")
good_cert, good_key = make_cert("gp-system", "gp-system")
bad_cert, bad_key = make_cert("intruder", "gp-system")  # same name, another key
fp = sh("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", good_cert).strip()
pin_hex = fp.split("=", 1)[1].replace(":", "").lower()
check(len(pin_hex) == 64, "fingerprint %r" % fp)

db, rw, unbound = setup_db()
rc, out, err = run("client", "add", "--db", db, "--name", "bad-pin", "--client-cert-sha256",
                   "ab:cd")
check(rc == 2 and "--client-cert-sha256" in err and not out.strip(),
      "a short fingerprint was accepted: %r %r" % (out, err))
# openssl's own form ("sha256 Fingerprint=AB:CD:...") is taken as it is
rc, bound, err = run("client", "add", "--db", db, "--name", "gp-bound", "--client-cert-sha256", fp)
check(rc == 0 and bound.strip() and "bound to the TLS client certificate sha256:" + pin_hex in err,
      "client add with a certificate: %r" % err)
bound = bound.strip()
rc, listing, err = run("client", "list", "--db", db)
check(rc == 0 and "sha256:" + pin_hex[:16] in listing, "client list lacks the binding: %s" % listing)
row = [ln for ln in listing.splitlines() if "e2e-reader" in ln]
check(row and " - " in row[0] and "sha256:" not in row[0], "an unbound client listed as bound: %r" % row)

# --http-request-client-cert needs HTTPS
r = subprocess.run([WEFT, "serve", "--db", db, "--http", "127.0.0.1:0",
                    "--http-request-client-cert"], capture_output=True, text=True, timeout=60)
check(r.returncode == 2 and "--http-request-client-cert needs HTTPS" in r.stderr,
      "accepted without TLS: %d %r" % (r.returncode, r.stderr))

PATIENT = "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018"


def tls_ctx(cert=None, key=None):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=server_cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def get(port, token, cert=None, key=None, path=PATIENT):
    c = http.client.HTTPSConnection("localhost", port, context=tls_ctx(cert, key), timeout=60)
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        body = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return r.status, hdrs, body


def refused(resp, words):
    st, hdrs, body = resp
    text = outcome_text(body)
    check(st == 401, "status %d, wanted 401: %r" % (st, body))
    check(text is not None and words in text, "outcome %r lacks %r" % (text, words))
    check('error="invalid_token"' in hdrs.get("www-authenticate", ""),
          "WWW-Authenticate: %r" % hdrs.get("www-authenticate"))
    return hdrs["x-request-id"]


# ---- a server that does not ask for certificates: warned at start, refused --
srv = Server(db, "--tls-cert", server_cert, "--tls-key", server_key)
wait_log(srv, "1 API client is bound to a TLS client certificate")
refused(get(srv.port, bound, good_cert, good_key), "presented none")
st, _, body = get(srv.port, unbound)
check(st == 200, "unbound client over HTTPS: %d %r" % (st, body))
srv.stop()

# ---- HTTPS asking for certificates ------------------------------------------
srv = Server(db, "--tls-cert", server_cert, "--tls-key", server_key, "--http-request-client-cert")
check("bound to a TLS client certificate" not in srv.logtext(), "warned although asked for")

st, _, body = get(srv.port, bound, good_cert, good_key)
check(st == 200 and body.get("resourceType") == "Bundle", "pinned certificate: %d %r" % (st, body))

rid_other = refused(get(srv.port, bound, bad_cert, bad_key), "presented another one")
rid_none = refused(get(srv.port, bound), "presented none")

# unbound clients: unchanged, with or without a certificate
for cert, key in ((None, None), (bad_cert, bad_key)):
    st, _, body = get(srv.port, unbound, cert, key)
    check(st == 200, "unbound client (certificate %s): %d %r" % (cert, st, body))

# curl, as an operator would try it
url = "https://localhost:%d%s" % (srv.port, PATIENT)
base = ["curl", "-sS", "-o", os.path.join(TMP, "curl.out"), "-w", "%{http_code}", "--cacert",
        server_cert, "-H", "Authorization: Bearer " + bound]
code = sh(*(base + ["--cert", good_cert, "--key", good_key, url]))
check(code == "200", "curl with the pinned certificate: %s" % code)
code = sh(*(base + ["--cert", bad_cert, "--key", bad_key, url]))
check(code == "401", "curl with another certificate: %s" % code)
code = sh(*(base + [url]))
check(code == "401", "curl without a certificate: %s" % code)

# WARN lines: the request's refusal and the reason with the client and both fingerprints
log = srv.logtext()
for rid, seen in ((rid_other, "presented sha256:"), (rid_none, "presented none")):
    lines = [ln for ln in log.splitlines() if "request=%s" % rid in ln or "id=%s " % rid in ln]
    check(any("WARN" in ln and "credential refused" in ln and "client=gp-bound" in ln and
              pin_hex in ln and seen in ln for ln in lines),
          "no WARN line with the reason for %s: %r" % (rid, lines))
    check(any("WARN" in ln and "status=401" in ln for ln in lines),
          "the 401 of %s is not a WARN line: %r" % (rid, lines))
srv.stop()

# audited: one denial per refusal (2 python + 2 curl + 1 on the first server)
rc, out, err = run("audit", "list", "--db", db, "--action", "denial", "--limit", "100")
check(rc == 0, "audit list: %s" % err)
denials = [ln for ln in out.splitlines() if "gp-bound" in ln]
check(len(denials) == 5, "expected 5 audited denials of gp-bound, got %d:\n%s" % (len(denials), out))
bad_hex = sh("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", bad_cert).strip()
bad_hex = bad_hex.split("=", 1)[1].replace(":", "").lower()
other = [ln for ln in denials if pin_hex in ln and "presented sha256:" + bad_hex in ln]
none = [ln for ln in denials if pin_hex in ln and "presented none" in ln]
check(len(other) == 2 and len(none) == 3, "denial reasons:\n%s" % "\n".join(denials))
rc, out, err = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify: %s %s" % (out, err))
print("ok: bound client served only with its certificate; refusals 401 + WARN + audited; "
      "unbound clients unchanged")
