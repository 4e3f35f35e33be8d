#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_mllp_tls.py - HL7 v2 over MLLP with TLS, and senders pinned by their
client certificate (issue 19).

A Python TLS MLLP sender (python3's ssl and python3-hl7's asyncio MLLP
client, hl7.mllp) against `weft serve --tls-cert --tls-key --mllp`:
  - the sender with the certificate feed rvv-adt pins (weft feed add
    --client-cert-sha256, given in openssl's colon form) is answered AA and
    its message applied;
  - the same message from a sender with another certificate, and from one
    with none, is answered AR naming the reason, kept in the inbox as
    rejected, and logged at WARN with the control id (and no patient data);
  - a feed that pins nothing still takes TLS senders without a certificate;
  - TLS 1.2 and 1.3 are negotiated (openssl s_client), TLS 1.1 is refused;
  - a plain MLLP sender on the TLS port gets no ACK and its connection is
    closed, logged "tls handshake refused"; the server goes on;
With --mllp-require-client-cert a sender without a certificate, or with one
no feed pins, is refused at the handshake (logged), the pinned one is served.
Per-listener pairs: --mllp-tls-cert/--mllp-tls-key give MLLP its own
certificate (HTTP stays plain without --tls-cert), --mllp-plain keeps MLLP
plain beside HTTPS; contradictory or half pairs are refused at start."""
import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (SB, EB, CR, Mllp, adt, check, fail, new_db, nhs, org,  # noqa: E402
                           start, weft_ok)
from api_harness import TMP, WEFT, run, wait_log  # noqa: E402

try:
    import hl7
    import hl7.mllp
except ImportError:
    print("skip: python3-hl7 is not installed (scripts/install-deps.sh installs it)")
    sys.exit(77)
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


def fingerprint(pem):
    """openssl's own form: 'sha256 Fingerprint=AB:CD:...'."""
    return sh("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", pem).strip()


server_cert, server_key = make_cert("server", "localhost")
mllp_cert, mllp_key = make_cert("mllp-only", "mllp-only")
good_cert, good_key = make_cert("sender", "rvv-pas")
bad_cert, bad_key = make_cert("intruder", "rvv-pas")  # same name, another key
pin_text = fingerprint(good_cert)
check("Fingerprint=" in pin_text and pin_text.count(":") >= 31, "fingerprint: %r" % pin_text)
pin_hex = pin_text.split("=", 1)[1].replace(":", "").lower()

db = new_db()
org(db, "RVV", "acute")
org(db, "RVL", "acute")
# a bad fingerprint is refused, naming the option
rc, out, err = run("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility",
                   "RVVPAS", "--client-cert-sha256", "ab:cd")
check(rc != 0 and "--client-cert-sha256" in err, "a short fingerprint was accepted: %s" % err)
rc, out, err = run("feed", "add", "--db", db, "--org", "RVL", "--kind", "csv", "--folder",
                   os.path.join(TMP, "drop"), "--client-cert-sha256", pin_hex)
check(rc != 0 and "hl7v2" in err, "a pin on a csv feed was accepted: %s" % err)
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS",
        "--client-cert-sha256", pin_text)
weft_ok("feed", "add", "--db", db, "--org", "RVL", "--kind", "hl7v2", "--facility", "RVLLAB")
listing = weft_ok("feed", "list", "--db", db)
check(pin_hex[:16] in listing, "feed list does not show the pin: %s" % listing)


def client_ctx(cert=None, key=None, ca=server_cert):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


async def _send(port, ctx, messages, server_hostname="localhost"):
    """Send each message over one TLS MLLP connection (python3-hl7's client);
    the ACKs as hl7.Message."""
    reader, writer = await asyncio.wait_for(
        hl7.mllp.open_hl7_connection("127.0.0.1", port, ssl=ctx,
                                     server_hostname=server_hostname), 30)
    acks = []
    try:
        for m in messages:
            writer.writemessage(hl7.parse(m))
            await writer.drain()
            acks.append(await asyncio.wait_for(reader.readmessage(), 30))
    finally:
        writer.close()
    return acks


def send(port, ctx, messages, **kw):
    return asyncio.run(_send(port, ctx, messages, **kw))


def log_line(srv, text):
    """The first log line holding text, once there is one."""
    wait_log(srv, text)
    return next(ln for ln in srv.logtext().splitlines() if text in ln)


def msa(ack):
    seg = ack.segment("MSA")
    return str(seg[1]), str(seg[2]), str(seg[3]) if len(seg) > 3 else ""


def refused_at_handshake(port, ctx, message):
    """True when the server ends the connection without answering message (a
    refusal at or right after the handshake: with TLS 1.3 the client learns
    of it only when it next reads)."""
    try:
        acks = send(port, ctx, [message])
    except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError, OSError,
            asyncio.TimeoutError) as e:
        return True, repr(e)
    return False, repr(acks)


# ---- 1. TLS on both listeners from one pair ---------------------------------
srv = start(db, "--tls-cert", server_cert, "--tls-key", server_key, "--drop-interval", "0")
port = srv.mllp_port
check("tls=on" in srv.logtext(), "the start line does not say MLLP has TLS: %s" % srv.logtext())

acks = send(port, client_ctx(good_cert, good_key),
            [adt("RVVPAS", "TLSOK1", "A01", "H1", nhs(1), family="Tlsgood")])
check(msa(acks[0])[:2] == ("AA", "TLSOK1"), "pinned sender: %r" % str(acks[0]))
wait_log(srv, "client_cert=sha256:" + pin_hex)

acks = send(port, client_ctx(bad_cert, bad_key),
            [adt("RVVPAS", "TLSBAD1", "A01", "H2", nhs(2), family="Tlsintruder")])
code, ctrl, text = msa(acks[0])
check(code == "AR" and ctrl == "TLSBAD1" and "client certificate" in text,
      "another certificate: %r" % str(acks[0]))

acks = send(port, client_ctx(), [adt("RVVPAS", "TLSNONE1", "A01", "H3", nhs(3),
                                     family="Tlsnocert")])
code, ctrl, text = msa(acks[0])
check(code == "AR" and ctrl == "TLSNONE1" and "no client certificate" in text,
      "no certificate: %r" % str(acks[0]))

# an unpinned feed takes a TLS sender without a certificate
acks = send(port, client_ctx(), [adt("RVLLAB", "TLSLAB1", "A01", "L1", nhs(4), family="Tlslab")])
check(msa(acks[0])[0] == "AA", "unpinned feed over TLS: %r" % str(acks[0]))

for ctrl in ("TLSBAD1", "TLSNONE1"):
    line = log_line(srv, "control=%s" % ctrl)
    check("WARN" in line and "ack=AR" in line and "client certificate" in line,
          "refusal of %s not logged at WARN with its reason: %r" % (ctrl, line))

# protocol versions, with openssl s_client on the MLLP port
out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
                      "-CAfile", server_cert], input="", capture_output=True, text=True,
                     timeout=30).stdout
check("TLSv1.2" in out and "Verify return code: 0" in out, "TLS 1.2 on MLLP: %s" % out[-800:])
out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3",
                      "-CAfile", server_cert], input="", capture_output=True, text=True,
                     timeout=30).stdout
check("TLSv1.3" in out, "TLS 1.3 on MLLP: %s" % out[-800:])
r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_1",
                    "-cipher", "DEFAULT:@SECLEVEL=0"], input="", capture_output=True,
                   text=True, timeout=30)
check("Cipher is (NONE)" in r.stdout or r.returncode != 0, "TLS 1.1 not refused: %s" % r.stdout)
check(not ("Protocol  : TLSv1.1" in r.stdout and "Cipher    : 0000" not in r.stdout),
      "TLS 1.1 negotiated: %s" % r.stdout)

# a plain MLLP sender on the TLS port: no ACK, connection closed, logged
plain = Mllp(port, timeout=30)
plain.send(adt("RVLLAB", "PLAIN1", "A01", "L2", nhs(5), family="Tlsplain"))
try:
    got = plain.recv()
    fail("a plain sender was answered on the TLS port: %r" % got)
except (ConnectionError, OSError):
    pass
plain.close()
wait_log(srv, "tls handshake refused")
acks = send(port, client_ctx(good_cert, good_key),
            [adt("RVVPAS", "TLSOK2", "A08", "H1", nhs(1), family="Tlsgood")])
check(msa(acks[0])[0] == "AA", "not serving after a plain sender: %r" % str(acks[0]))

# HTTP is HTTPS from the same pair
import http.client  # noqa: E402
hc = http.client.HTTPSConnection("localhost", srv.port, context=client_ctx(), timeout=30)
hc.request("GET", "/health")
check(hc.getresponse().status == 200, "HTTPS /health")
hc.close()
log = srv.logtext()
for family in ("Tlsgood", "Tlsintruder", "Tlsnocert", "Tlslab", "Tlsplain"):
    check(family not in log, "patient name %s in the log" % family)
srv.proc.terminate()
srv.proc.wait(timeout=60)
check(srv.proc.returncode == 0, "serve exited %d" % srv.proc.returncode)

# every refused message is in the inbox, rejected with its reason; nothing of
# the refused senders was applied; the accepted ones were
out = weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json")
import json  # noqa: E402
msgs = {m["control_id"]: m for m in json.loads(out)}
for ctrl in ("TLSBAD1", "TLSNONE1"):
    check(ctrl in msgs and msgs[ctrl]["outcome"] == "rejected" and
          "client certificate" in (msgs[ctrl].get("error") or ""), "inbox %s: %r" % (
              ctrl, msgs.get(ctrl)))
for ctrl in ("TLSOK1", "TLSOK2"):
    check(msgs.get(ctrl, {}).get("outcome") == "applied", "inbox %s: %r" % (ctrl, msgs.get(ctrl)))
check("PLAIN1" not in out, "a message from the plain sender reached the inbox")

# ---- 2. --mllp-require-client-cert: refused at the handshake ----------------
srv = start(db, "--tls-cert", server_cert, "--tls-key", server_key, "--mllp-require-client-cert",
            "--drop-interval", "0")
port = srv.mllp_port
refused, why = refused_at_handshake(port, client_ctx(), adt("RVLLAB", "REQ1", "A01", "L3",
                                                             nhs(6), family="Tlsreq"))
check(refused, "no certificate served with --mllp-require-client-cert: %s" % why)
wait_log(srv, "tls handshake refused")
refused, why = refused_at_handshake(port, client_ctx(bad_cert, bad_key),
                                    adt("RVVPAS", "REQ2", "A01", "H4", nhs(7), family="Tlsreq"))
check(refused, "an unpinned certificate served with --mllp-require-client-cert: %s" % why)
line = log_line(srv, "no hl7v2 feed pins this certificate")
check("WARN" in line, "unpinned certificate not logged at WARN: %r" % line)
acks = send(port, client_ctx(good_cert, good_key),
            [adt("RVVPAS", "REQ3", "A08", "H1", nhs(1), family="Tlsgood")])
check(msa(acks[0])[0] == "AA", "pinned sender with --mllp-require-client-cert: %r" % str(acks[0]))
srv.stop()

# ---- 3. per-listener pairs --------------------------------------------------
srv = start(db, "--mllp-tls-cert", mllp_cert, "--mllp-tls-key", mllp_key, "--drop-interval", "0")
status, _, _ = srv.request("GET", "/health")  # plain HTTP: no shared pair
check(status == 200, "plain HTTP beside MLLP's own pair: %d" % status)
acks = send(srv.mllp_port, client_ctx(good_cert, good_key, ca=mllp_cert),
            [adt("RVVPAS", "OWN1", "A08", "H1", nhs(1), family="Tlsgood")],
            server_hostname="localhost")
check(msa(acks[0])[0] == "AA", "MLLP with its own pair: %r" % str(acks[0]))
srv.stop()
srv = start(db, "--tls-cert", server_cert, "--tls-key", server_key, "--mllp-plain",
            "--drop-interval", "0")
check("tls=off" in srv.logtext(), "--mllp-plain: %s" % srv.logtext())
m = Mllp(srv.mllp_port)
ack = m.call(adt("RVLLAB", "PLAIN2", "A08", "L1", nhs(4), family="Tlslab"))
check("MSA|AA|PLAIN2" in ack, "plain MLLP beside HTTPS: %r" % ack)
m.close()
srv.proc.terminate()
srv.proc.wait(timeout=60)
srv = start(db, "--http-tls-cert", server_cert, "--http-tls-key", server_key, "--drop-interval",
            "0")
check("tls=off" in srv.logtext(), "HTTP's own pair put TLS on MLLP: %s" % srv.logtext())
hc = http.client.HTTPSConnection("localhost", srv.port, context=client_ctx(), timeout=30)
hc.request("GET", "/health")
check(hc.getresponse().status == 200, "HTTPS with HTTP's own pair")
hc.close()
srv.proc.terminate()
srv.proc.wait(timeout=60)
for bad, says in ((["--mllp-tls-cert", mllp_cert], "go together"),
                  (["--http-tls-key", server_key], "go together"),
                  (["--mllp-plain", "--mllp-tls-cert", mllp_cert, "--mllp-tls-key", mllp_key],
                   "contradict"),
                  (["--mllp-require-client-cert"], "needs TLS"),
                  (["--mllp-tls-cert", server_cert, "--mllp-tls-key", mllp_key], "does not match")):
    p = subprocess.run([WEFT, "serve", "--db", db, "--http", "127.0.0.1:0", "--mllp",
                        "127.0.0.1:0"] + bad, capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and says in p.stderr, "%s: exit %d %s" % (bad, p.returncode, p.stderr))
print("ok: MLLP over TLS; pinned client certificates (wrong or absent refused AR and logged, "
      "or at the handshake with --mllp-require-client-cert); TLS 1.2/1.3 only; plain senders "
      "refused; per-listener pairs")
