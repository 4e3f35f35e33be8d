#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""security_mllp.py - MLLP slot exhaustion and open feeds (issue 16 item 12):

- one address gets at most --mllp-max-connections-per-address connections
  (more are closed at once, logged); others' slots are not taken;
- a connection that sends no whole frame within --mllp-first-frame-timeout
  is closed (reason=no-frame), even though the idle timeout is 300 s; one
  that did send a message is kept;
- an HL7 v2 feed without --from-address is announced as a warning by
  `feed add`, `feed list` (route "from ANY ADDRESS") and at `weft serve`
  start; a feed bound to an address is not."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, adt, check, new_db, nhs, org, run,  # noqa: E402
                           start, weft_ok)

db = new_db()
org(db, "RVV", "acute")
org(db, "RXY", "acute")
rc, out, err = run("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility",
                   "RVVPAS")
check(rc == 0 and "warning" in err and "any address" in err, "feed add gave no warning: %s" % err)
rc, out, err = run("feed", "add", "--db", db, "--org", "RXY", "--kind", "hl7v2", "--facility",
                   "RXYPAS", "--from-address", "127.0.0.1")
check(rc == 0 and "warning" not in err, "a bound feed was warned about: %s" % err)
rc, out, err = run("feed", "list", "--db", db)
check(rc == 0, "feed list: %s" % err)
check("MSH-4 RVVPAS from ANY ADDRESS" in out and "MSH-4 RXYPAS from 127.0.0.1" in out,
      "feed list routes: %s" % out)
check("1 HL7 v2 feed(s) accept messages from any address" in err, "feed list warning: %s" % err)


def closed_within(sock, secs):
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


srv = start(db, "--mllp-max-connections-per-address", "3", "--mllp-first-frame-timeout", "2",
            "--drop-interval", "0")
try:
    log = srv.logtext()
    check("feed" in log and "RVVPAS from any address" in log, "no warning at start:\n" + log)
    check("RXYPAS from any address" not in log, "the bound feed was warned about at start")
    busy = Mllp(srv.mllp_port)
    ack = busy.call(adt("RVVPAS", "S1", "A01", "H1", nhs(11), family="Slotkeeper"))
    check(ack_code(ack) == "AA", "first message: %r" % ack)
    silent = [Mllp(srv.mllp_port) for _ in range(2)]
    time.sleep(0.3)
    extra = Mllp(srv.mllp_port)
    t = closed_within(extra.sock, 1.5)
    check(t is not None, "a 4th connection from one address was kept open")
    # the silent ones: closed after ~2 s (the first-frame timeout), not 300
    for s in silent:
        t = closed_within(s.sock, 6)
        check(t is not None, "a connection that sent nothing was kept open")
    # the one that sent a message is still open and working
    ack = busy.call(adt("RVVPAS", "S2", "A08", "H1", nhs(11), family="Slotkeeper"))
    check(ack_code(ack) == "AA", "the busy connection after 2+ s: %r" % ack)
    busy.close()
    # slots came back
    again = Mllp(srv.mllp_port)
    ack = again.call(adt("RVVPAS", "S3", "A08", "H1", nhs(11), family="Slotkeeper"))
    check(ack_code(ack) == "AA", "a new connection after the others closed: %r" % ack)
    again.close()
    log = srv.stop()
    check("connections open from that address" in log, "per-address refusal not logged")
    check(log.count("reason=no-frame") == 2, "no-frame closes: %d\n%s"
          % (log.count("reason=no-frame"), log[-3000:]))
    check("Slotkeeper" not in log and nhs(11) not in log, "patient data in the log")
except BaseException:
    print(srv.logtext()[-3000:])
    raise
rc, out, err = run("serve", "--db", db, "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0",
                   "--mllp-first-frame-timeout", "0")
check(rc != 0 and "mllp-first-frame-timeout" in err, "a 0 first-frame timeout: %d %s" % (rc, err))
print("ok")
