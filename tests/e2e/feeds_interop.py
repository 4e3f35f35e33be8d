#!/usr/bin/env python3
"""feeds_interop.py - interop with Debian's python3-hl7 `mllp_send` over TCP
against the running server.

1. A file of 6 messages (ADT, ORU, MDM, SIU) written with LF line ends, sent
   with `mllp_send --loose` (python3-hl7 frames each message itself): six AA
   ACKs printed by mllp_send, each echoing its control id.
2. Every well-formed sample of the shared corpus ($WEFT_DATA/hl7v2, not
   malformed/) sent with mllp_send after registering a feed for its sending
   facility: each answered, and each kept in the inbox with the outcome the
   ACK gave (AA applied or duplicate, AE/AR rejected with a reason)."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import DATA, skip  # noqa: E402
from feeds_harness import (TMP, adt, check, mdm, new_db, nhs, org, oru, run, siu, start,  # noqa
                           weft_ok)

if not shutil.which("mllp_send"):
    skip("mllp_send (Debian python3-hl7) is not installed")


def mllp_send(port, path):
    p = subprocess.run(["mllp_send", "--loose", "-p", str(port), "-f", path, "127.0.0.1"],
                       capture_output=True, timeout=120)
    check(p.returncode == 0, "mllp_send %s failed: %s" % (path, p.stderr.decode()[-2000:]))
    # mllp_send prints each ACK as received, MLLP framing included
    acks = [a.strip(b"\x0b\r\n ") for a in re.split(rb"\x1c|[\r\n]+(?=MSH\|)", p.stdout)]
    acks = [a for a in acks if a.startswith(b"MSH")]
    return [a.decode("utf-8", "replace") for a in acks]


def msa(ack):
    for seg in re.split(r"[\r\n]+", ack):
        if seg.startswith("MSA|"):
            f = seg.split("|")
            return f[1], (f[2] if len(f) > 2 else "")
    return None, None


db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "PYPAS")

samples = []
if DATA and os.path.isdir(os.path.join(DATA, "hl7v2")):
    for path in sorted(glob.glob(os.path.join(DATA, "hl7v2", "*"))):
        if os.path.isdir(path) or path.endswith(".md"):
            continue
        raw = open(path, "rb").read()
        if not raw.lstrip(b"\xef\xbb\xbf\x0b").startswith(b"MSH|^~\\&|"):
            continue  # mllp_send --loose only takes files starting "MSH|^~\&|"
        samples.append((path, raw))
# one feed per distinct sending facility of the samples, under test organisations
facilities = {}
for path, raw in samples:
    for m in re.finditer(rb"(?:^|[\r\n])MSH\|\^~\\&\|[^|\r\n]*\|([^|\r\n^]*)", raw):
        fac = m.group(1).decode("latin-1").strip()
        if fac and fac not in facilities and fac != "PYPAS":
            facilities[fac] = "SMP%02d" % (len(facilities) + 1)
for fac, ods in facilities.items():
    org(db, ods, "acute")
    rc, out, err = run("feed", "add", "--db", db, "--org", ods, "--kind", "hl7v2", "--name",
                       ods.lower(), "--facility", fac)
    check(rc == 0, "feed for facility %r: %s" % (fac, err))

# mllp_send reads exactly one ACK per message, while several samples carry
# MSH-15/16 (NE/NE: in enhanced mode no ACK at all): original mode, the
# listener's default, said explicitly (enhanced mode: feeds_enhanced_ack.py)
srv = start(db, "--drop-interval", "0", "--mllp-ack-mode", "original")
try:
    n = nhs(31337)
    msgs = [adt("PYPAS", "P1", "A01", "PY1", n, visit="PV1"), oru("PYPAS", "P2", "PY1", n),
            mdm("PYPAS", "P3", "PY1", n), siu("PYPAS", "P4", "PY1", n),
            adt("PYPAS", "P5", "A08", "PY1", n, visit="PV1"),
            adt("PYPAS", "P6", "A03", "PY1", n, visit="PV1")]
    path = os.path.join(TMP, "six.hl7")
    with open(path, "w") as f:
        f.write("\n".join(m.replace("\r", "\n") for m in msgs))
    acks = mllp_send(srv.mllp_port, path)
    check(len(acks) == 6, "mllp_send printed %d ACKs: %r" % (len(acks), acks))
    for i, a in enumerate(acks):
        code, ctrl = msa(a)
        check(code == "AA" and ctrl == "P%d" % (i + 1), "ACK %d: %r" % (i, a))

    answered = {"AA": 0, "AE": 0, "AR": 0}
    sent = 0
    for path, raw in samples:
        nmsg = len(re.findall(rb"(?:^|[\r\n])MSH\|", raw))
        acks = mllp_send(srv.mllp_port, path)
        check(len(acks) == nmsg, "%s: %d messages, %d ACKs" % (os.path.basename(path), nmsg,
                                                               len(acks)))
        for a in acks:
            code, _ = msa(a)
            check(code in answered, "%s: ACK %r" % (os.path.basename(path), a))
            answered[code] += 1
        sent += nmsg
finally:
    srv.stop()

rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "100000")
inbox = json.loads(out)
check(len(inbox) == 6 + sent, "inbox holds %d messages, %d were sent" % (len(inbox), 6 + sent))
ok = sum(1 for m in inbox if m["outcome"] in ("applied", "duplicate"))
check(ok == 6 + answered["AA"], "inbox applied/duplicate %d, ACKed AA %d" % (ok, 6 + answered["AA"]))
check(all(m["error"] for m in inbox if m["outcome"] == "rejected"), "a rejection without reason")
if not samples:
    print("ok: mllp_send 6 messages AA (shared samples absent: $WEFT_DATA/hl7v2)")
else:
    print("ok: mllp_send 6 messages AA; %d shared sample messages from %d facilities: %d AA, %d AE,"
          " %d AR, all kept" % (sent, len(facilities), answered["AA"], answered["AE"],
                                answered["AR"]))
