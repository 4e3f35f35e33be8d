#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_mllp_idle.py - `weft serve --mllp-idle-timeout SECONDS`.

With a 2-second timeout:
  - a connection that sends nothing is closed by the server after about
    2 seconds (the client reads end-of-file), logged "reason=idle" with the
    peer address only;
  - a connection that sends half a frame and then nothing is closed too; the
    partial frame is dropped with a warning and is not in the inbox;
  - a busy connection (a message every 0.5 s for 5 s, each ACKed) is not
    closed and still works afterwards;
  - no patient data in the log.
And with --mllp-idle-timeout 0 a silent connection stays open; a bad value is
refused at start."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (SB, Mllp, ack_code, adt, check, fail, new_db, nhs, org,  # noqa: E402
                           run, start, weft_ok)
from api_harness import WEFT  # noqa: E402

db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")


def closed_within(sock, secs):
    """Seconds until the server closed sock (EOF), or None if still open."""
    t0 = time.time()
    sock.settimeout(0.2)
    while time.time() - t0 < secs:
        try:
            if sock.recv(4096) == b"":
                return time.time() - t0
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.time() - t0
    return None


# a bad value is refused at once (non-zero exit, naming the option); a server that
# wrongly accepted it would run: stopped after 30 s and reported, not left to
# the runner's timeout
p = subprocess.Popen([WEFT, "serve", "--db", db, "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0",
                      "--mllp-idle-timeout", "-1"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
    fail("--mllp-idle-timeout -1 was accepted: the server ran")
check(p.returncode != 0 and "mllp-idle-timeout" in err, "bad timeout: exit %d %s" % (
    p.returncode, err))

srv = start(db, "--mllp-idle-timeout", "2", "--drop-interval", "0")
try:
    check("idle_timeout=2" in srv.logtext(), "timeout not in the start line")
    idle = Mllp(srv.mllp_port)
    partial = Mllp(srv.mllp_port)
    partial.sock.sendall(SB + adt("RVVPAS", "P1", "A01", "H9", nhs(9), family="Idlepartial")
                         .encode()[:60])
    busy = Mllp(srv.mllp_port)
    t0 = time.time()
    n = 0
    # the busy sender sends a message every 0.5 s (its pace: the waits are
    # for the idle connections' EOF, the event) until both idle connections
    # are closed, and at least for twice the timeout
    idle_closed = partial_closed = None
    while time.time() - t0 < 30 and (idle_closed is None or partial_closed is None or
                                     time.time() - t0 < 4):
        n += 1
        ack = busy.call(adt("RVVPAS", "B%d" % n, "A08", "H1", nhs(1), family="Idlebusy"))
        check(ack_code(ack) == "AA", "busy message %d: %r" % (n, ack))
        if idle_closed is None and closed_within(idle.sock, 0.25) is not None:
            idle_closed = time.time() - t0
        if partial_closed is None and closed_within(partial.sock, 0.25) is not None:
            partial_closed = time.time() - t0
    check(idle_closed is not None, "idle connection not closed within 30 s (timeout 2)")
    check(partial_closed is not None, "idle connection with a partial frame not closed")
    check(time.time() - t0 >= 4, "the busy connection was not kept past twice the timeout")
    ack = busy.call(adt("RVVPAS", "B-last", "A08", "H1", nhs(1), family="Idlebusy"))
    check(ack_code(ack) == "AA", "busy connection broken: %r" % ack)
    busy.close()  # (left open, it would now go idle too)
    # a fresh idle connection: closed after about 2 s, not much sooner or later
    c = Mllp(srv.mllp_port)
    t = closed_within(c.sock, 10)
    check(t is not None and 1.5 <= t <= 4.5, "idle close after %r s (timeout 2)" % t)
    log = srv.stop()
    check(log.count("reason=idle") == 3, "idle closes logged: %d\n%s"
          % (log.count("reason=idle"), log[-3000:]))
    check("partial frame dropped" in log and "bytes=60" in log, "partial frame not logged")
    check("idle_closed=3" in log, "stop line lacks idle_closed=3")
    for word in ("Idlebusy", "Idlepartial", nhs(1), nhs(9)):
        check(word not in log, "patient data %r in the log" % word)
    rc, out, err = run("feed", "messages", "--db", db, "--json")
    check(rc == 0 and "P1" not in [m["control_id"] for m in __import__("json").loads(out)],
          "partial frame was kept in the inbox")
except BaseException:
    print(srv.logtext()[-3000:])
    raise

# 0 = never
srv = start(db, "--mllp-idle-timeout", "0", "--drop-interval", "0")
try:
    c = Mllp(srv.mllp_port)
    check(closed_within(c.sock, 3) is None, "timeout 0 closed a connection")
    c.close()
    srv.stop()
except BaseException:
    print(srv.logtext()[-3000:])
    raise
print("ok: idle MLLP connections closed after the timeout (partial frame dropped, logged "
      "without patient data); busy ones kept; 0 = never")
