#!/usr/bin/env python3
# weft-test-postgres-skip: weft backup / weft restore copy the SQLite file; PostgreSQL is backed up with pg_basebackup and WAL archiving (docs/OPERATIONS.md)
"""ops_backup.py - `weft backup` while serving and receiving an MLLP feed,
then `weft restore`: the backup holds every message acknowledged before the
backup started, the restored database's audit chain verifies, and the server
starts on it.

Four senders stream HL7 v2 messages (ADT^A01 with a visit, ORU^R01 with an
order) over their own MLLP connections, two pipelining, while FHIR reads go
on.  Mid-stream `weft backup --db DB --out FILE` runs against the live
database.  The control ids ACKed (AA) before the backup command was started
are recorded.  Then:
  - the backup finished while the feed ran (senders were still being
    acknowledged after it ended, and it did not stall them);
  - `weft restore --from FILE --db NEW` creates NEW; in it every message
    ACKed before the backup started is in the inbox as applied and its
    Encounter or DiagnosticReport is in the record (served by `weft serve`
    on NEW);
  - `weft audit verify --db NEW` passes;
  - a backup never overwrites (existing --out refused, exit 1), restore
    never overwrites (existing --db refused) and refuses a file that is not
    a backup, creating nothing."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, Server, ack_code, ack_control, adt, check, fail,  # noqa
                           new_db, nhs, org, oru, reader_token, run, start, weft_ok)
from api_harness import WEFT  # noqa: E402

SENDERS, PER_SENDER = 4, 400
db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "BKPPAS")
reader = reader_token(db)


def message(s, i):
    ctrl = "B%d-%d" % (s, i)
    p = (s * 31 + i) % 50
    if i % 2 == 0:
        return ctrl, adt("BKPPAS", ctrl, "A01", "BK%02d" % p, nhs(7000 + p), visit="VIS-" + ctrl)
    return ctrl, oru("BKPPAS", ctrl, "BK%02d" % p, nhs(7000 + p), order="ORD-" + ctrl)


class Sender(threading.Thread):
    def __init__(self, s, port, window):
        super().__init__(daemon=True)
        self.s, self.port, self.window = s, port, window
        self.acked = []  # (control id, code, time the ACK was read)
        self.error = None

    def run(self):
        todo = [message(self.s, i) for i in range(PER_SENDER)]
        try:
            c = Mllp(self.port, timeout=60)
            inflight = []
            while todo or inflight:
                while todo and len(inflight) < self.window:
                    ctrl, m = todo.pop(0)
                    c.send(m)
                    inflight.append(ctrl)
                ack = c.recv()
                now = time.time()
                ctrl = ack_control(ack)
                if ctrl != inflight[0]:
                    self.error = "ACK for %s while %s was first in flight" % (ctrl, inflight[0])
                    return
                inflight.pop(0)
                self.acked.append((ctrl, ack_code(ack), now))
            c.close()
        except (OSError, ConnectionError) as e:
            self.error = "connection: %s" % e


srv = start(db, "--drop-interval", "0")
senders = [Sender(s, srv.mllp_port, 8 if s < 2 else 1) for s in range(SENDERS)]
for t in senders:
    t.start()
total = SENDERS * PER_SENDER
deadline = time.time() + 120
while sum(len(t.acked) for t in senders) < total // 4:
    check(time.time() < deadline, "senders made no progress")
    check(all(t.error is None for t in senders), [t.error for t in senders])
    time.sleep(0.01)

backup = os.path.join(TMP, "weft-backup.db")
t_start = time.time()
p = subprocess.run([WEFT, "backup", "--db", db, "--out", backup], capture_output=True, text=True,
                   timeout=120)
t_end = time.time()
check(p.returncode == 0, "weft backup failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr))
check("schema version" in p.stdout, "backup output: %r" % p.stdout)
before = {c for t in senders for c, code, at in t.acked if at < t_start}
check(all(code == "AA" for t in senders for c, code, at in t.acked), "non-AA ACKs")
# A read while the feed runs
st, _, b = srv.request("GET", "/fhir/Encounter?_count=1", token=reader)
check(st == 200, "read during the feed: %d" % st)
for t in senders:
    t.join(120)
    check(not t.is_alive(), "a sender did not finish")
    check(t.error is None, t.error)
after_backup = sum(1 for t in senders for c, code, at in t.acked if at > t_end)
check(len(before) >= total // 4 and len(before) < total,
      "backup was not mid-feed: %d of %d ACKed before it" % (len(before), total))
check(after_backup > 0, "no message was ACKed after the backup ended: the feed was not running")
srv.stop()

# Never overwrite
rc, out, err = run("backup", "--db", db, "--out", backup)
check(rc == 1 and "exists" in err, "backup over an existing file: %d %r" % (rc, err))
junk = os.path.join(TMP, "junk.bin")
with open(junk, "wb") as f:
    f.write(os.urandom(20000))
rc, out, err = run("restore", "--from", junk, "--db", os.path.join(TMP, "x.db"))
check(rc == 1 and "not a Weft backup" in err, "restore of junk: %d %r" % (rc, err))
check(not os.path.exists(os.path.join(TMP, "x.db")), "restore of junk created the database")
rc, out, err = run("restore", "--from", backup, "--db", db)
check(rc == 1 and "exists" in err, "restore over an existing database: %d %r" % (rc, err))
check(err.count(db) == 1, "one message, naming the database once: %r" % err)

restored = os.path.join(TMP, "restored.db")
out = weft_ok("restore", "--from", backup, "--db", restored)
check("restored from" in out, out)
rc, out, err = run("audit", "verify", "--db", restored)
check(rc == 0, "audit verify on the restored database failed (%d): %s %s" % (rc, out, err))

rc, out, err = run("feed", "messages", "--db", restored, "--json", "--limit", "100000")
check(rc == 0, err)
applied = {m["control_id"] for m in json.loads(out) if m["outcome"] == "applied"}
missing = sorted(before - applied)
check(not missing, "%d messages ACKed before the backup started are not in it: %s" % (
    len(missing), missing[:10]))
check(len(applied) < total, "the backup holds every message: it was not taken mid-feed")

# The record itself, served from the restored database
srv = Server(restored)
st, _, b = srv.request("GET", "/fhir/Encounter?_total=accurate&_count=1", token=reader)
check(st == 200, "Encounter search on the restored db: %d %r" % (st, b))
n_enc = b.get("total")
st, _, b = srv.request("GET", "/fhir/DiagnosticReport?_total=accurate&_count=1", token=reader)
n_rep = b.get("total")
want_enc = sum(1 for c in before if int(c.split("-")[1]) % 2 == 0)
want_rep = len(before) - want_enc
check(n_enc >= want_enc and n_rep >= want_rep,
      "restored record holds %s Encounters and %s DiagnosticReports; %d and %d were ACKed "
      "before the backup" % (n_enc, n_rep, want_enc, want_rep))
srv.stop()
print("ok: backup took %.2f s mid-feed (%d of %d ACKed when it started, %d ACKed after it ended); "
      "restored: %d applied messages, all %d ACKed before the backup present; audit verifies" % (
          t_end - t_start, len(before), total, after_backup, len(applied), len(before)))
