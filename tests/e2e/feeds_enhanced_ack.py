#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_enhanced_ack.py - HL7 v2 enhanced acknowledgement mode (MSH-15 accept,
MSH-16 application acknowledgement; HL7 table 0155 AL, NE, ER, SU; issue 15).

On one MLLP connection:
  - AL/AL: CA (accepted: durably in the inbox), then AA after it is applied;
  - NE/AL: only the AA;  AL/NE: only the CA;  SU/SU: CA and AA;
  - AL/ER: a good message gets only CA; one whose content fails gets CA then
    its AE/AR;
  - a message from an unregistered facility with AL/AL gets CR (commit
    reject) and no application ACK;
  - a message without MSH-15/16 keeps original mode exactly (one AA);
  - `weft feed status --json` reports the backlog (0 once applied), and
    after the crash below the metric weft_feed_backlog comes down to 0 with it;
  - without --mllp-ack-mode auto (the default, original) the same AL/AL
    message gets one AA.
Then the crash test: three senders pipeline AL/NE ADT messages while the
server is killed with SIGKILL; after a restart the log says a backlog of
accepted-but-unapplied messages was found; once it is drained, every
message answered CA before the kill is applied exactly once (one inbox row,
applied; none pending; the feed's applied counter equals the number of
distinct applied control ids), and resending everything without a CA
(as senders do) leaves each message applied once."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (SB, EB, CR, Mllp, adt, check, fail, new_db, nhs, org, oru,  # noqa: E402
                           start, weft_ok)
from api_harness import TMP, WEFT, wait_log  # noqa: E402


def enh(msg, accept, app):
    """msg with MSH-15/MSH-16 set (its MSH ends at MSH-12 '2.5')."""
    first, rest = msg.split("\r", 1)
    check(first.endswith("|P|2.5"), "unexpected MSH %r" % first)
    return first + "|||%s|%s\r" % (accept, app) + rest


def msa(ack):
    for seg in ack.split("\r"):
        if seg.startswith("MSA|"):
            f = seg.split("|")
            return f[1], f[2]
    fail("no MSA in %r" % ack)


db = new_db()
# the node's accept journal (the default is beside a SQLite file; PostgreSQL
# needs it named): every enhanced-mode start and status read names it
JDIR = os.path.join(TMP, "accepts")
AUTO = ("--mllp-ack-mode", "auto", "--mllp-journal", JDIR)
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
srv = start(db, "--drop-interval", "0", *AUTO)
m = Mllp(srv.mllp_port, timeout=30)
seq = [0]


def marker():
    """An original-mode message: the next ACK must be its own AA (so nothing
    else was owed before it)."""
    seq[0] += 1
    ctrl = "MARK%d" % seq[0]
    m.send(adt("RVVPAS", ctrl, "A08", "H9", nhs(9), family="Enhmark"))
    got = msa(m.recv())
    check(got == ("AA", ctrl), "expected only the marker's AA, got %r" % (got,))


def expect(*acks):
    for want in acks:
        got = msa(m.recv())
        check(got == want, "expected %r, got %r" % (want, got))


m.send(enh(adt("RVVPAS", "E1", "A01", "H1", nhs(1), visit="V1", family="Enhone"), "AL", "AL"))
expect(("CA", "E1"), ("AA", "E1"))
marker()
m.send(enh(adt("RVVPAS", "E2", "A01", "H2", nhs(2), visit="V2", family="Enhtwo"), "NE", "AL"))
expect(("AA", "E2"))
marker()
m.send(enh(adt("RVVPAS", "E3", "A01", "H3", nhs(3), visit="V3", family="Enhthree"), "AL", "NE"))
expect(("CA", "E3"))
marker()
m.send(enh(adt("RVVPAS", "E4", "A01", "H4", nhs(4), visit="V4", family="Enhfour"), "SU", "SU"))
expect(("CA", "E4"), ("AA", "E4"))
marker()
m.send(enh(adt("RVVPAS", "E5", "A01", "H5", nhs(5), visit="V5", family="Enhfive"), "AL", "ER"))
expect(("CA", "E5"))
marker()
# content that fails: an ORU without OBR
bad = enh(oru("RVVPAS", "E6", "H6", nhs(6)), "AL", "ER")
bad = "\r".join(s for s in bad.split("\r") if not s.startswith("OBR") and not s.startswith("OBX"))
m.send(bad)
code, ctrl = msa(m.recv())
check((code, ctrl) == ("CA", "E6"), "failing content: first %r" % ((code, ctrl),))
code, ctrl = msa(m.recv())
check(code in ("AE", "AR") and ctrl == "E6", "failing content: application ACK %r" % (
    (code, ctrl),))
marker()
m.send(enh(adt("NOBODY", "E7", "A01", "H7", nhs(7), family="Enhseven"), "AL", "AL"))
ack = m.recv()
check(msa(ack) == ("CR", "E7") and "not registered" in ack, "unknown facility: %r" % ack)
marker()
m.send(adt("RVVPAS", "O1", "A08", "H1", nhs(1), family="Enhone"))
expect(("AA", "O1"))
marker()
m.close()
st = json.loads(weft_ok("feed", "status", "--db", db, "--json", "--mllp-journal", JDIR))
feed = [f for f in st["feeds"] if f["name"] == "rvv-hl7v2"][0]
check(feed["backlog"] == 0, "backlog after everything was applied: %r" % feed)
srv.stop()
srv = start(db, "--drop-interval", "0")  # the default: original mode for everyone
m = Mllp(srv.mllp_port, timeout=30)
m.send(enh(adt("RVVPAS", "E8", "A08", "H1", nhs(1), family="Enhone"), "AL", "AL"))
expect(("AA", "E8"))
marker()
m.close()
out = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json"))
by = {x["control_id"]: x for x in out}
for ctrl in ("E1", "E2", "E3", "E4", "E5"):
    check(by[ctrl]["outcome"] == "applied", "%s: %r" % (ctrl, by[ctrl]))
check(by["E6"]["outcome"] == "rejected", "E6: %r" % by["E6"])
srv.stop()

# ---- SIGKILL mid-feed --------------------------------------------------------
SENDERS, PER = 3, 600
acked = set()          # control ids answered CA
lock = threading.Lock()
stop = threading.Event()


def sender(k, port, ids, record, stop):
    """Pipeline ids (AL/NE) on one connection; record CAs; stop on error."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
    except OSError:
        return
    buf = b""
    sent = 0
    window = 32
    got = 0
    try:
        while got < len(ids) and not stop.is_set():
            while sent < len(ids) and sent - got < window:
                c = ids[sent]
                n = int(c.split("-")[1])
                msg = enh(adt("RVVPAS", c, "A01", "K%d" % n, nhs(1000 + n), visit="KV%s" % c,
                              family="Crash"), "AL", "NE")
                s.sendall(SB + msg.encode() + EB + CR)
                sent += 1
            chunk = s.recv(65536)
            if not chunk:
                return
            buf += chunk
            while True:
                a = buf.find(SB)
                e = buf.find(EB + CR, a + 1) if a >= 0 else -1
                if a < 0 or e < 0:
                    break
                frame, buf = buf[a + 1:e].decode(), buf[e + 2:]
                code, ctrl = msa(frame)
                got += 1
                if code == "CA":
                    with lock:
                        record.add(ctrl)
    except OSError:
        return
    finally:
        s.close()


# the test build's mover waits 0.1 s before each move, so that the kill
# finds accepted messages both in the accept journal and pending in the inbox
SAN = os.environ.get("WEFT_BIN_KIND", "san") != "release"
if SAN:
    os.environ["WEFT_FAILPOINTS"] = "accept-journal-slow-mover"
srv = start(db, "--drop-interval", "0", *AUTO)
os.environ.pop("WEFT_FAILPOINTS", None)
all_ids = [["S%d-%d" % (k, k * PER + i) for i in range(PER)] for k in range(SENDERS)]
threads = [threading.Thread(target=sender, args=(k, srv.mllp_port, all_ids[k], acked, stop))
           for k in range(SENDERS)]
for t in threads:
    t.start()
deadline = time.time() + 120
while time.time() < deadline:
    with lock:
        if len(acked) >= SENDERS * PER // 2:
            break
    time.sleep(0.005)
srv.proc.send_signal(signal.SIGKILL)
srv.proc.wait()
stop.set()
for t in threads:
    t.join(60)
with lock:
    before_kill = set(acked)
check(len(before_kill) >= SENDERS * PER // 2, "only %d CAs before the kill" % len(before_kill))
# what the kill left in the journal counts in the backlog (feed status reads it)
st = json.loads(weft_ok("feed", "status", "--db", db, "--json", "--mllp-journal", JDIR))
left = [f for f in st["feeds"] if f["name"] == "rvv-hl7v2"][0]
check(left["backlog"] >= left["backlog_journal"], "status: %r" % left)
if SAN:
    check(left["backlog_journal"] > 0, "the kill left nothing in the accept journal: %r" % left)
# a crash mid-write: a torn record after the last whole one (never
# acknowledged); the restart must drop it and lose nothing before it
segs = sorted(f for f in os.listdir(JDIR) if f.startswith("seg-"))
check(segs, "no accept journal segment in %s" % JDIR)
with open(os.path.join(JDIR, segs[-1]), "ab") as f:
    f.write(b"WAJ1" + (600).to_bytes(4, "little") + b"\x00" * 40)

def paused_status(db):
    """The feed's status, read with a second's pause between its backlog and
    counter reads (failpoint feed-status-pause, test build only): applies
    commit while it is read, and a drained backlog must come with counters
    that hold every applied message (the reads' order, registry.c)."""
    p = subprocess.run([WEFT, "feed", "status", "--db", db, "--json", "--mllp-journal", JDIR],
                       capture_output=True,
                       text=True, env=dict(os.environ, WEFT_FAILPOINTS="feed-status-pause"))
    check(p.returncode == 0, "feed status failed: %s" % p.stderr)
    return [f for f in json.loads(p.stdout)["feeds"] if f["name"] == "rvv-hl7v2"][0]



# weft backup with accepted messages still in the journal (SQLite: weft
# backup copies a SQLite store): on a copy of the killed node's database and
# journal, the backup moves them into the database first, so the restored
# copy holds every message answered CA, once
if not (db.startswith("postgres") or "=" in db):
    side = os.path.join(TMP, "side")
    os.mkdir(side)
    for f in os.listdir(os.path.dirname(db)):
        if f.startswith(os.path.basename(db)):
            subprocess.run(["cp", os.path.join(os.path.dirname(db), f), side], check=True)
    sdb = os.path.join(side, os.path.basename(db))
    subprocess.run(["cp", "-r", JDIR, sdb + ".accepts"], check=True)
    out = weft_ok("backup", "--db", sdb, "--out", os.path.join(side, "b.db"))
    m = re.search(r"(\d+) accepted messages moved into the database before the copy", out)
    check(left["backlog_journal"] == 0 or (m and int(m.group(1)) == left["backlog_journal"]),
          "backup did not move the journal (%d records): %r" % (left["backlog_journal"], out))
    weft_ok("restore", "--from", os.path.join(side, "b.db"), "--db", os.path.join(side, "r.db"))
    rrows = json.loads(weft_ok("feed", "messages", "--db", os.path.join(side, "r.db"), "--feed",
                               "rvv-hl7v2", "--json", "--limit", "100000"))
    rper = {}
    for r in rrows:
        rper[r["control_id"]] = rper.get(r["control_id"], 0) + 1
    bad = sorted(c for c in before_kill if rper.get(c, 0) != 1)
    check(not bad, "CA'd messages not in the restored backup exactly once: %s" % bad[:10])

mpf = os.path.join(TMP, "metrics.port")
srv = start(db, "--drop-interval", "0", *AUTO, "--metrics", "127.0.0.1:0",
            "--metrics-port-file", mpf)
wait_log(srv, "enhanced-mode backlog:")
found = int(re.search(r"enhanced-mode backlog: (\d+) messages", srv.logtext()).group(1))
check(found > 0, "the kill left no backlog to recover")
check("a torn last record (48 bytes" in srv.logtext(), "torn tail not dropped: %s" % srv.logtext())
moved = int(re.search(r"accept journal \S+: (\d+) messages accepted before the last stop moved",
                      srv.logtext()).group(1))
check(moved == left["backlog_journal"], "moved %d at start, the journal held %d" % (
    moved, left["backlog_journal"]))
# drain: the backlog reaches 0 (bounded wait)
deadline = time.time() + 300
while True:
    feed = paused_status(db)
    if feed["backlog"] == 0:
        break
    check(time.time() < deadline, "backlog not drained: %r" % feed["backlog"])
    time.sleep(0.2)
# every message answered CA is in the inbox exactly once (the journal's
# records are moved once, whatever was moved before the kill)
rows = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json",
                          "--limit", "100000"))
per = {}
for r in rows:
    per[r["control_id"]] = per.get(r["control_id"], 0) + 1
twice = sorted(c for c in before_kill if per.get(c, 0) != 1)
check(not twice, "CA'd messages not stored exactly once: %s" % [(c, per.get(c, 0))
                                                                  for c in twice[:10]])
# the senders resend what had no CA (some were stored: they apply once all the same)
resend = [[c for c in ids if c not in before_kill] for ids in all_ids]
acked2 = set()
threads = [threading.Thread(target=sender, args=(k, srv.mllp_port, resend[k], acked2, threading.Event()))
           for k in range(SENDERS)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
check(acked2 == set(c for r in resend for c in r), "resends not all CA: %d of %d" % (
    len(acked2), sum(len(r) for r in resend)))
deadline = time.time() + 300
while True:
    feed = paused_status(db)
    if feed["backlog"] == 0:
        break
    check(time.time() < deadline, "backlog not drained after resends")
    time.sleep(0.2)


def backlog_gauge():
    """weft_feed_backlog as the metrics listener serves it (None: absent)."""
    mport = int(open(mpf).read())
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith("weft_feed_backlog "):
            return float(line.split()[1])
    return None


# the metric follows the backlog down to 0 (the applier sets it as it applies)
deadline = time.time() + 30
while backlog_gauge() != 0:
    check(time.time() < deadline, "weft_feed_backlog is %r with the backlog drained" %
          backlog_gauge())
    time.sleep(0.2)
srv.stop()

rows = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json",
                          "--limit", "100000"))
crash = [r for r in rows if r["control_id"] and r["control_id"].startswith("S")]
check(not [r for r in crash if r["outcome"] == "pending"], "messages left pending")
applied = {}
for r in crash:
    if r["outcome"] == "applied":
        applied[r["control_id"]] = applied.get(r["control_id"], 0) + 1
every = set(c for ids in all_ids for c in ids)
missing = sorted(before_kill - set(applied))
check(not missing, "acknowledged (CA) before the kill but not applied: %s" % missing[:10])
twice = sorted(c for c, n in applied.items() if n > 1)
check(not twice, "applied more than once: %s" % twice[:10])
check(set(applied) == every, "not every message applied once: %d of %d" % (len(applied),
                                                                           len(every)))
others = [r for r in crash if r["outcome"] not in ("applied", "duplicate")]
check(not others, "unexpected outcomes: %r" % others[:3])
# the counters agree: applied messages counted once each (the first part's
# applied messages included)
first_part = sum(1 for r in rows if r["outcome"] == "applied" and r["control_id"] and
                 not r["control_id"].startswith("S"))
check(feed["total"]["applied"] == len(applied) + first_part,
      "applied counter %d, applied messages %d" % (feed["total"]["applied"],
                                                   len(applied) + first_part))
print("ok: enhanced mode CA/CE/CR and AL/NE/ER/SU; SIGKILL with %d CAs and a backlog of %d: "
      "every CA'd message applied exactly once after restart" % (len(before_kill), found))
