#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""pg_restart.py - PostgreSQL stopped and started again under a running
`weft serve` (issue 12, faults): a throwaway cluster of the test's own
(tests/pg-cluster.sh down / up), an HL7 v2 sender and FHIR API reads.

  - before: every admission is acknowledged AA and readable;
  - while the database is down: no message gets AA (each is answered with a
    negative acknowledgement, or the connection is closed), and FHIR reads
    get 503 with an OperationOutcome; the server keeps running;
  - after it is back: the server reconnects by itself, without a restart:
    the messages not acknowledged are resent and now get AA, reads get 200;
  - nothing acknowledged is lost: every control id that got AA is applied
    exactly once, and the record holds one Encounter per admission.
On SQLite there is no database server to restart: skipped."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import PG_DIR, skip  # noqa: E402
from feeds_harness import (TMP, Mllp, ack_code, adt, check, fail, nhs, org,  # noqa: E402
                           reader_token, run, start, weft_ok)

if not PG_DIR:
    skip("restarts a PostgreSQL server; SQLite has none")
ROOT = os.environ.get("WEFT_ROOT", ".")
PGC = os.path.join(ROOT, "tests", "pg-cluster.sh")
# a cluster of its own (its folder made by the script: the server's user
# must be able to enter it), so the restart disturbs no other test
p = subprocess.run([PGC, "start"], capture_output=True, text=True)
check(p.returncode == 0, "cannot start a cluster: " + p.stderr)
cdir = [ln.split("=", 1)[1] for ln in p.stdout.splitlines() if ln.startswith("WEFT_PG_DIR=")][0]


def cluster(cmd):
    p = subprocess.run([PGC, cmd, cdir], capture_output=True, text=True)
    check(p.returncode == 0, "pg-cluster.sh %s: %s" % (cmd, p.stderr))
    return p.stdout.strip()


srv = None
try:
    db = subprocess.run([PGC, "createdb", cdir, "restart"], capture_output=True,
                        text=True).stdout.strip()
    check(db.startswith("postgres://"), "createdb: %r" % db)
    weft_ok("init", "--db", db)
    org(db, "RVV", "acute")
    weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
    reader = reader_token(db)
    srv = start(db)
    acked = []  # control ids that got AA
    n = [0]

    def message():
        n[0] += 1
        ctrl = "RS%04d" % n[0]
        return ctrl, adt("RVVPAS", ctrl, "A01", "H%04d" % n[0], nhs(8000 + n[0]),
                         visit="V%04d" % n[0])

    def send(ctrl, msg):
        """The ACK code, or None when the connection failed or timed out."""
        try:
            c = Mllp(srv.mllp_port, timeout=20)
            try:
                return ack_code(c.call(msg))
            finally:
                c.close()
        except (OSError, socket.timeout):
            return None

    def read():
        return srv.request("GET", "/fhir/Encounter?_total=accurate&_count=1", token=reader)

    # ---- before ---------------------------------------------------------------------
    for _ in range(10):
        ctrl, msg = message()
        check(send(ctrl, msg) == "AA", "%s not acknowledged before the outage" % ctrl)
        acked.append((ctrl, msg))
    st, _, b = read()
    check(st == 200 and b.get("total") == 10, "before: %d %r" % (st, b))

    # ---- down -----------------------------------------------------------------------
    cluster("down")
    pending = []
    for _ in range(5):
        ctrl, msg = message()
        code = send(ctrl, msg)
        check(code != "AA", "%s was acknowledged AA while the database was down" % ctrl)
        pending.append((ctrl, msg))
    st, _, b = read()
    check(st == 503, "a read while the database is down: %d %r" % (st, b))
    check(isinstance(b, dict) and b.get("resourceType") == "OperationOutcome",
          "503 without an OperationOutcome: %r" % b)
    check(srv.proc.poll() is None, "weft serve exited while the database was down")

    # ---- up: the server reconnects by itself --------------------------------------------
    cluster("up")
    deadline = time.time() + 60
    while pending and time.time() < deadline:
        ctrl, msg = pending[0]
        if send(ctrl, msg) == "AA":
            acked.append(pending.pop(0))
        else:
            time.sleep(0.5)
    check(not pending, "not acknowledged after the database came back: %r" % [c for c, _ in pending])
    for _ in range(5):
        ctrl, msg = message()
        check(send(ctrl, msg) == "AA", "%s not acknowledged after the outage" % ctrl)
        acked.append((ctrl, msg))
    deadline = time.time() + 30
    while True:
        st, _, b = read()
        if st == 200 or time.time() > deadline:
            break
        time.sleep(0.5)
    check(st == 200 and b.get("total") == len(acked),
          "after: %d, %r (want %d Encounters)" % (st, b.get("total") if isinstance(b, dict) else b,
                                                  len(acked)))
    srv.stop()
    srv = None
    # nothing acknowledged is lost, nothing applied twice
    rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "1000")
    check(rc == 0, err)
    applied = {}
    for m in json.loads(out):
        if m["outcome"] == "applied":
            applied[m["control_id"]] = applied.get(m["control_id"], 0) + 1
    for ctrl, _ in acked:
        check(applied.get(ctrl) == 1, "%s acknowledged but applied %r times" % (
            ctrl, applied.get(ctrl)))
finally:
    if srv:
        srv.stop()
    subprocess.run([PGC, "stop", cdir], capture_output=True)

print("ok: %d messages acknowledged across a database restart, each applied once" % len(acked))
