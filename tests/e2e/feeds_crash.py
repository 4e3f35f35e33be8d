#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
# weft-test-backends: sqlite postgres
"""feeds_crash.py - the crash test: "AA" means durable.

Six senders stream HL7 v2 messages (ADT^A01 with a new visit, ORU^R01 with a
new order, for a few dozen patients) over their own MLLP connections; two of
them pipeline (several messages in flight).  While they are mid-stream the
server is killed with SIGKILL.  It is restarted on the same database and
every sender resends every message it has no AA for (as a real sender
would).  Then:
  - every message ACKed AA before the kill is in the inbox as applied,
    exactly once, with an arrival before the kill;
  - every resent message was answered AA, and was applied exactly once in
    total: applied if it had not been committed, duplicate if it had been
    committed but its ACK was lost;
  - the record holds exactly one Encounter per visit and one DiagnosticReport
    per order sent (no loss, no double application)."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, ack_control, adt, check, fail, new_db, nhs, org,  # noqa
                           oru, reader_token, run, start, weft_ok)
import json  # noqa: E402

SENDERS, PER_SENDER = 6, 250
db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "CRASHPAS")
reader = reader_token(db)


def message(s, i):
    ctrl = "S%d-%d" % (s, i)
    p = (s * 31 + i) % 40
    if i % 2 == 0:
        return ctrl, adt("CRASHPAS", ctrl, "A01", "CR%02d" % p, nhs(9000 + p), visit="VIS-" + ctrl)
    return ctrl, oru("CRASHPAS", ctrl, "CR%02d" % p, nhs(9000 + p), order="ORD-" + ctrl)


class Sender(threading.Thread):
    def __init__(self, s, port, window):
        super().__init__(daemon=True)
        self.s, self.port, self.window = s, port, window
        self.acked = {}  # control id -> ACK code
        self.error = None

    def run(self):
        todo = [message(self.s, i) for i in range(PER_SENDER)]
        try:
            c = Mllp(self.port, timeout=30)
            inflight = []
            while todo or inflight:
                while todo and len(inflight) < self.window:
                    ctrl, m = todo.pop(0)
                    c.send(m)
                    inflight.append(ctrl)
                ack = c.recv()
                ctrl = ack_control(ack)
                if ctrl != inflight[0]:
                    self.error = "ACK for %s while %s was first in flight" % (ctrl, inflight[0])
                    return
                inflight.pop(0)
                self.acked[ctrl] = ack_code(ack)
        except (OSError, ConnectionError) as e:
            self.error = "connection: %s" % e


srv = start(db, "--drop-interval", "0")
phase1 = [Sender(s, srv.mllp_port, 8 if s < 2 else 1) for s in range(SENDERS)]
for t in phase1:
    t.start()
deadline = time.time() + 120
while sum(len(t.acked) for t in phase1) < SENDERS * PER_SENDER // 4:
    if time.time() > deadline:
        fail("senders made no progress")
    time.sleep(0.01)
srv.proc.send_signal(signal.SIGKILL)
srv.proc.wait()
kill_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
for t in phase1:
    t.join(60)
acked_before = {c: a for t in phase1 for c, a in t.acked.items()}
check(all(a == "AA" for a in acked_before.values()), "non-AA before the kill: %r" % {
    c: a for c, a in acked_before.items() if a != "AA"})
total = SENDERS * PER_SENDER
check(0 < len(acked_before) < total, "the kill was not mid-stream: %d of %d ACKed" % (
    len(acked_before), total))

# restart; each sender resends everything it has no AA for
srv = start(db, "--drop-interval", "0")
resent = {}
try:
    for s in range(SENDERS):
        c = Mllp(srv.mllp_port)
        for i in range(PER_SENDER):
            ctrl, m = message(s, i)
            if acked_before.get(ctrl) == "AA":
                continue
            ack = c.call(m)
            resent[ctrl] = ack_code(ack)
            check(ack_control(ack) == ctrl, "resend %s answered for %s" % (ctrl, ack_control(ack)))
        c.close()
    check(all(a == "AA" for a in resent.values()), "resends not AA: %r" % {
        c: a for c, a in resent.items() if a != "AA"})
    st, _, b = srv.request("GET", "/fhir/Encounter?_total=accurate&_count=1", token=reader)
    check(st == 200, "Encounter count: %d %r" % (st, b))
    n_enc = b.get("total")
    st, _, b = srv.request("GET", "/fhir/DiagnosticReport?_total=accurate&_count=1", token=reader)
    n_rep = b.get("total")
finally:
    srv.stop()

rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "100000")
check(rc == 0, err)
inbox = json.loads(out)
applied = {}
for m in inbox:
    if m["outcome"] == "applied":
        applied.setdefault(m["control_id"], []).append(m)
    elif m["outcome"] not in ("duplicate",):
        fail("inbox message %d is %s: %s" % (m["id"], m["outcome"], m["error"]))
for ctrl in acked_before:
    rows = applied.get(ctrl, [])
    check(len(rows) == 1, "%s was ACKed AA before the kill but is applied %d times" % (
        ctrl, len(rows)))
    check(rows[0]["arrived"] < kill_time, "%s applied row arrived after the kill" % ctrl)
for s in range(SENDERS):
    for i in range(PER_SENDER):
        ctrl, _ = message(s, i)
        check(len(applied.get(ctrl, [])) == 1, "%s applied %d times" % (ctrl, len(applied.get(
            ctrl, []))))
dups = sum(1 for m in inbox if m["outcome"] == "duplicate")
check(n_enc == total // 2 and n_rep == total // 2,
      "record holds %s Encounters and %s DiagnosticReports, wanted %d each" % (
          n_enc, n_rep, total // 2))
print("ok: killed after %d of %d AA; %d resent (all AA: %d were already committed, ACK lost -> "
      "duplicate); every message applied exactly once" % (len(acked_before), total, len(resent),
                                                          dups))
