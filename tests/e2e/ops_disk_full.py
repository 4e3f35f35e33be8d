#!/usr/bin/env python3
# weft-test-postgres-skip: fills a small tmpfs that holds the SQLite file; the PostgreSQL server's disk is not the test's to fill
"""ops_disk_full.py - the disk fills in the middle of an MLLP feed: senders
get negative acknowledgements (AE, "send it again"), nothing acknowledged AA
is lost, and when space returns the service recovers without a restart.

The database lives on a small tmpfs mounted for this test in a private mount
namespace (the test re-runs itself under `unshare -m`; it skips when it
cannot, e.g. not root).  Three senders stream ADT/ORU messages and resend
whatever was not answered AA, as real senders do.  Mid-feed a filler file
takes every free byte of the filesystem; the test waits until the senders
see AEs, holds the disk full for a few seconds (health must still answer),
then deletes the filler.  Then:
  - every sender finishes with every message answered AA, within the time
    bound (the service recovered by itself);
  - AE replies were seen while the disk was full, and the log has the
    refusals (WARN) and the failed batches (ERROR);
  - every control id is applied exactly once in the inbox (the AE'd ones
    were not half-stored: their resend was applied, not a duplicate), and
    the record holds one Encounter per ADT and one DiagnosticReport per ORU;
  - `weft audit verify` passes and the server stops cleanly."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

if os.environ.get("OPS_DISK_FULL_INNER") != "1":
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("skip: needs root and unshare to mount a small tmpfs")
        sys.exit(77)
    env = dict(os.environ, OPS_DISK_FULL_INNER="1")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:  # e.g. in a chroot whose / is not a mount point
        print("skip: cannot make a private mount namespace here: " + probe.stderr.strip())
        sys.exit(77)
    p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                        os.path.abspath(__file__)], env=env)
    sys.exit(p.returncode)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, ack_code, ack_control, adt, check, fail, nhs, org,  # noqa
                           oru, reader_token, run, start, weft_ok)

mnt = os.path.join(TMP, "small")
os.makedirs(mnt, exist_ok=True)
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], capture_output=True,
                   text=True)
if r.returncode != 0:
    print("skip: cannot mount a tmpfs: " + r.stderr.strip())
    sys.exit(77)

db = os.path.join(mnt, "weft.db")
weft_ok("init", "--db", db)
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "FULLPAS")
reader = reader_token(db)

SENDERS, PER_SENDER, DEADLINE = 3, 300, 240
t_end = time.time() + DEADLINE
full = threading.Event()


def message(s, i):
    ctrl = "F%d-%d" % (s, i)
    p = (s * 13 + i) % 30
    if i % 2 == 0:
        return ctrl, adt("FULLPAS", ctrl, "A01", "FL%02d" % p, nhs(6000 + p), visit="VIS-" + ctrl)
    return ctrl, oru("FULLPAS", ctrl, "FL%02d" % p, nhs(6000 + p), order="ORD-" + ctrl)


class Sender(threading.Thread):
    def __init__(self, s, port):
        super().__init__(daemon=True)
        self.s, self.port = s, port
        self.codes = {}   # control id -> list of ACK codes in order
        self.error = None

    def run(self):
        todo = [message(self.s, i) for i in range(PER_SENDER)]
        c = None
        while todo and time.time() < t_end:
            try:
                if c is None:
                    c = Mllp(self.port, timeout=30)
                ctrl, m = todo[0]
                ack = c.call(m)
                code = ack_code(ack)
                if ack_control(ack) != ctrl:
                    self.error = "ACK for %s, sent %s" % (ack_control(ack), ctrl)
                    return
                self.codes.setdefault(ctrl, []).append(code)
                if code == "AA":
                    todo.pop(0)
                else:
                    time.sleep(0.2)  # a real sender waits before resending
                # pace so that the feed is still running when the disk fills
                time.sleep(0.005)
            except (OSError, ConnectionError):
                if c:
                    c.close()
                c = None
                time.sleep(0.2)
        if todo:
            self.error = "%d messages never answered AA" % len(todo)


srv = start(db, "--drop-interval", "0", "--mllp-ack-mode", "auto")
senders = [Sender(s, srv.mllp_port) for s in range(SENDERS)]
feed_at = time.time()
for t in senders:
    t.start()
deadline = time.time() + 60
while sum(len(t.codes) for t in senders) < SENDERS * PER_SENDER // 4:
    check(time.time() < deadline, "no progress before filling the disk")
    time.sleep(0.05)

# fill the disk mid-feed
filler = os.path.join(mnt, "filler")
fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
for size in (1 << 16, 512):
    try:
        while True:
            os.write(fd, b"\0" * size)
    except OSError:
        pass
os.close(fd)
full_at = time.time()


def space(when):
    st = os.statvfs(mnt)
    files = ", ".join("%s %d KiB" % (f, os.path.getsize(os.path.join(mnt, f)) // 1024)
                      for f in sorted(os.listdir(mnt)) if os.path.isfile(os.path.join(mnt, f)))
    return "%s: %d KiB free; %s" % (when, st.f_bavail * st.f_frsize // 1024, files)


print("disk filled %.1f s after the feed began, %d messages answered" % (
    full_at - feed_at, sum(len(t.codes) for t in senders)))
print(space("full"))


def ae_count():
    return sum(1 for t in senders for codes in t.codes.values() for c in codes if c != "AA")


deadline = time.time() + 60
while ae_count() == 0:
    check(time.time() < deadline, "no negative ACK within 60 s of the disk filling")
    time.sleep(0.05)
first_ae = time.time() - full_at
# HL7 enhanced mode (MSH-15 AL): the accept cannot commit either -> CE,
# "send it again"; once space returns it is accepted (CA) and applied once
probe = Mllp(srv.mllp_port, timeout=30)
enh = adt("FULLPAS", "FULLENH", "A01", "FLE1", nhs(6100), visit="VIS-FULLENH")
enh = enh.split("\r", 1)[0] + "|||AL|NE\r" + enh.split("\r", 1)[1]
probe_codes = []
probe_until = time.time() + 3
while time.time() < probe_until and "CE" not in probe_codes:
    probe_codes.append(ack_code(probe.call(enh)))
    time.sleep(0.1)
check("CE" in probe_codes, "enhanced mode on a full disk: %r (want CE)" % probe_codes)
time.sleep(max(0, probe_until - time.time()))  # the disk stays full; the server must keep answering
st, _, _ = srv.request("GET", "/health")
check(st in (200, 503), "health while the disk is full: %d" % st)
os.unlink(filler)  # space returns
freed_at = time.time()
deadline = time.time() + 60
while probe_codes[-1] != "CA":
    check(time.time() < deadline, "enhanced mode after space returned: %r" % probe_codes)
    time.sleep(0.2)
    probe_codes.append(ack_code(probe.call(enh)))
probe.close()
print(space("space returned"))

for t in senders:
    t.join(max(1, t_end - time.time()))
    if t.is_alive():
        print(space("senders not finished"))
        print("the server's log, last lines:\n" + srv.logtext()[-3000:])
        fail("a sender did not finish within %d s" % DEADLINE)
    check(t.error is None, "sender %d: %s" % (t.s, t.error))
deadline = time.time() + 60  # the accepted message applied (backlog empty) before counting
while any(f.get("backlog") for f in json.loads(run("feed", "status", "--db", db, "--json")[1])[
        "feeds"]):
    check(time.time() < deadline, "enhanced-mode backlog not applied")
    time.sleep(0.2)
st, _, b = srv.request("GET", "/fhir/Encounter?_total=accurate&_count=1", token=reader)
check(st == 200, "Encounter search after recovery: %d %r" % (st, b))
n_enc = b.get("total")
st, _, b = srv.request("GET", "/fhir/DiagnosticReport?_total=accurate&_count=1", token=reader)
n_rep = b.get("total")
log = srv.stop()

total = SENDERS * PER_SENDER
negative = ae_count()
check(negative > 0, "no negative ACKs")
check(" ERROR mllp: batch of" in log, "no ERROR line for a batch not stored")
check(" WARN ingest: hl7 message refused ack=AE" in log, "no WARN line for the AE refusals")
rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "100000")
check(rc == 0, err)
applied = {}
for m in json.loads(out):
    if m["outcome"] == "applied":
        applied.setdefault(m["control_id"], 0)
        applied[m["control_id"]] += 1
for t in senders:
    for ctrl, codes in t.codes.items():
        check(codes[-1] == "AA", "%s ended with %s" % (ctrl, codes[-1]))
        check(applied.get(ctrl) == 1, "%s (ACKs %s) applied %s times" % (
            ctrl, codes, applied.get(ctrl)))
check(applied.get("FULLENH") == 1, "the enhanced-mode message applied %s times" % (
    applied.get("FULLENH")))
check(len(applied) == total + 1, "%d of %d control ids applied" % (len(applied), total + 1))
check(n_enc == total // 2 + 1 and n_rep == total // 2,
      "record: %s Encounters, %s DiagnosticReports; want %d and %d" % (
          n_enc, n_rep, total // 2 + 1, total // 2))
rc, out, err = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify: %s %s" % (out, err))
subprocess.run(["umount", mnt])
print("ok: disk full mid-feed -> %d negative ACKs (first within %.1f s), space returned after "
      "%.1f s, every one of %d messages then AA and applied exactly once; audit verifies" % (
          negative, first_ae, freed_at - full_at, total))
