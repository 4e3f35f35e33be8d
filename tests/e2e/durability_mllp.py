#!/usr/bin/env python3
# weft-test-postgres-skip: power cuts replayed on the SQLite file by the test build's write/fsync journal (lib/durability.py); on PostgreSQL durability is the server's WAL (pg_restart.py stops the server mid-feed)
"""durability_mllp.py - power cuts while HL7 v2 messages arrive over MLLP.

Two senders send ADT^A01 (a new visit) and ORU^R01 (a new order) messages
one at a time over their own connections to a journalled test-build server
(lib/durability.py) that cuts the power at a chosen write or fsync.  After
the rewind to what was durable:
  - the database is intact and the audit chain verifies;
  - every message ACKed AA before the cut is in the inbox, applied, exactly
    once;
  - nothing is half-applied: every applied message has its Encounter or
    DiagnosticReport, and no resource exists without its applied message;
  - the restarted server takes the resends of everything not ACKed and
    applies each exactly once in total.
Fails with WEFT_FAILPOINTS=mllp-ack-before-commit or store-skip-fsync."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from durability import (TMP, after_cut, check, copy_tree, cut_points, inbox, journal_env,  # noqa
                        resources, wait_dead)
from feeds_harness import Mllp, ack_code, ack_control, adt, new_db, nhs, org, oru, weft_ok  # noqa
import api_harness  # noqa: E402

SENDERS, PER_SENDER = 2, 30
base = os.path.join(TMP, "base")
os.makedirs(base)
db0 = os.path.join(base, "feeds.db")
weft_ok("init", "--db", db0)
org(db0, "RVV", "acute")
weft_ok("feed", "add", "--db", db0, "--org", "RVV", "--kind", "hl7v2", "--facility", "CUTPAS")


def message(s, i):
    ctrl = "S%d-%d" % (s, i)
    p = (s * 7 + i) % 10
    if i % 2 == 0:
        return ctrl, adt("CUTPAS", ctrl, "A01", "CT%02d" % p, nhs(7000 + p), visit="VIS-" + ctrl)
    return ctrl, oru("CUTPAS", ctrl, "CT%02d" % p, nhs(7000 + p), order="ORD-" + ctrl)


class Sender(threading.Thread):
    def __init__(self, s, port):
        super().__init__(daemon=True)
        self.s, self.port, self.acked = s, port, {}

    def run(self):
        try:
            c = Mllp(self.port, timeout=60)
            for i in range(PER_SENDER):
                ctrl, m = message(self.s, i)
                ack = c.call(m)
                if ack_control(ack) != ctrl:
                    self.acked[ctrl] = "wrong control id " + ack_control(ack)
                    return
                self.acked[ctrl] = ack_code(ack)
        except (OSError, ConnectionError):
            pass  # the cut


def start(db, env):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        from feeds_harness import start as fstart
        return fstart(db, "--drop-interval", "0")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def workload(run_dir, cut):
    """Run the senders against a journalled server; returns (acked, cut_hit,
    writes and syncs journalled when the server was ready)."""
    db = os.path.join(run_dir, "feeds.db")
    env = journal_env(run_dir, cut)
    srv = start(db, env)
    ready = api_harness_counts(run_dir)
    senders = [Sender(s, srv.mllp_port) for s in range(SENDERS)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(120)
    hit = wait_dead(srv.proc, timeout=0.1 if not cut else 5)
    acked = {c: a for t in senders for c, a in t.acked.items()}
    return acked, hit, ready


def api_harness_counts(run_dir):
    from powercut import counts
    return counts(os.path.join(run_dir, "power.log"))


# the dry run: how many writes and fsyncs the workload makes
dry = os.path.join(TMP, "dry")
copy_tree(base, dry)
acked, _, (w0, s0) = workload(dry, None)
from powercut import counts  # noqa: E402
w1, s1 = counts(os.path.join(dry, "power.log"))
check(len(acked) == SENDERS * PER_SENDER and all(a == "AA" for a in acked.values()),
      "dry run: %d ACKs, not all AA: %r" % (len(acked), acked))
check(w1 > w0, "dry run journalled nothing: writes %d..%d syncs %d..%d" % (
    w0, w1, s0, s1))
points = cut_points(w1, s1, w0, s0)
print("dry run: %d writes and %d fsyncs at start, %d and %d after; cuts %s" % (
    w0, s0, w1, s1, points))

total = SENDERS * PER_SENDER
for n, cut in enumerate(points):
    rd = os.path.join(TMP, "cut%d" % n)
    copy_tree(base, rd)
    db = os.path.join(rd, "feeds.db")
    acked, hit, _ = workload(rd, cut)
    summary = after_cut(rd, db)
    bad = {c: a for c, a in acked.items() if a != "AA"}
    check(not bad, "cut %s: non-AA ACKs: %r" % (cut, bad))
    rows = inbox(db)
    applied = {}
    for m in rows:
        check(m["outcome"] in ("applied", "duplicate"), "cut %s: inbox row %d is %s" % (
            cut, m["id"], m["outcome"]))
        if m["outcome"] == "applied":
            applied[m["control_id"]] = applied.get(m["control_id"], 0) + 1
    lost = sorted(c for c in acked if applied.get(c, 0) != 1)
    check(not lost, "cut %s (%s): ACKed AA before the cut but applied %r times: %s" % (
        cut, summary, [applied.get(c, 0) for c in lost[:5]], lost[:5]))
    enc, rep = resources(db, "Encounter"), resources(db, "DiagnosticReport")
    want_enc = sorted("VIS-" + c for c in applied if int(c.split("-")[1]) % 2 == 0)
    want_rep = sorted("ORD-" + c for c in applied if int(c.split("-")[1]) % 2 == 1)
    check(len(enc) == len(want_enc),
          "cut %s: Encounters %d, applied ADT messages %d (half-applied)" % (
              cut, len(enc), len(want_enc)))
    check(len(rep) == len(want_rep), "cut %s: DiagnosticReports %d, applied ORU messages %d" % (
        cut, len(rep), len(want_rep)))
    # the sender resends what had no AA; the restarted server applies each once
    srv = start(db, dict(os.environ))
    try:
        c = Mllp(srv.mllp_port)
        for s in range(SENDERS):
            for i in range(PER_SENDER):
                ctrl, m = message(s, i)
                if acked.get(ctrl) == "AA":
                    continue
                ack = c.call(m)
                check(ack_code(ack) == "AA", "cut %s: resend %s: %r" % (cut, ctrl, ack))
        c.close()
    finally:
        srv.stop()
    rows = inbox(db)
    once = {}
    for m in rows:
        if m["outcome"] == "applied":
            once[m["control_id"]] = once.get(m["control_id"], 0) + 1
    check(len(once) == total and all(v == 1 for v in once.values()),
          "cut %s: after the resends %d messages applied, counts %r" % (
              cut, len(once), sorted(set(once.values()))))
    check(len(resources(db, "Encounter")) == total // 2 and
          len(resources(db, "DiagnosticReport")) == total // 2, "cut %s: record after resends" % cut)
    print("cut %s: %s; %d ACKed AA before it, all applied once; %d resent" % (
        cut, "hit" if hit else "not reached (killed at the end)", len(acked), total - len(acked)))
print("ok: %d power cuts" % len(points))
