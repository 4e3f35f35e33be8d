#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""ops_slow_clients.py - clients that stop reading or stop sending do not
stall anyone else.

Against one `weft serve --threads 2` with an MLLP listener:
  - 24 HTTP clients pipeline 200 requests each for the stylesheet and never
    read a byte of the answers (tiny receive buffers), so the server's writes
    to them block (checked: each has unsent bytes queued, /proc/net/tcp);
  - 8 HTTP clients send half a request line and then nothing (slowloris);
  - 16 MLLP connections send the start of a frame (start block and half an
    MSH segment) and then nothing; 16 more connect and send nothing
    (half-open);
While all of those are held open, a well-behaved client must get every one
of 40 HTTP answers (on new connections) and 40 MLLP AAs (one message per new
connection) within 5 seconds each - a stall detector with a generous bound,
not a speed test.  Then the stuck clients go away and the server stops
cleanly (no leaked connections or threads under LeakSanitizer)."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, adt, check, new_db, nhs, org, start,  # noqa
                           weft_ok)
import http.client  # noqa: E402

db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "SLOWPAS")
# Every client here comes from 127.0.0.1, where in life the stuck ones and
# the well-behaved one have different addresses: the per-address limits
# (which would refuse the well-behaved one as the 33rd MLLP connection from
# the same address) are raised so that the stuck clients are really held.
srv = start(db, "--threads", "2", "--drop-interval", "0", "--mllp-max-connections-per-address",
            "200", "--max-connections-per-address", "200")
BOUND = 5.0
stuck = []
backpressured = 0
try:
    req = b"GET /assets/weft.css HTTP/1.1\r\nHost: x\r\n\r\n"
    for _ in range(24):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.connect(("127.0.0.1", srv.port))
        s.setblocking(False)
        data = req * 200
        try:
            while data:
                n = s.send(data)
                data = data[n:]
        except BlockingIOError:
            pass
        stuck.append(s)
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"GET /fhir/metad")
        stuck.append(s)
    for i in range(16):
        s = socket.create_connection(("127.0.0.1", srv.mllp_port))
        s.sendall(b"\x0bMSH|^~\\&|X|SLOWPAS|W|W|2026")
        stuck.append(s)
    for i in range(16):
        stuck.append(socket.create_connection(("127.0.0.1", srv.mllp_port)))
    time.sleep(1)
    # connections where the server has unsent bytes queued: its writes are stuck
    port_hex = ":%04X" % srv.port
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(port_hex) and int(f[4].split(":")[0], 16) > 0:
            backpressured += 1
    check(backpressured >= 20, "only %d of 24 slow readers pushed back: the test is not "
          "testing stuck writes" % backpressured)

    worst_http = worst_mllp = 0.0
    for i in range(40):
        t0 = time.time()
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=BOUND)
        c.request("GET", "/fhir/metadata", headers={"Accept": "application/fhir+json"})
        r = c.getresponse()
        r.read()
        c.close()
        dt = time.time() - t0
        worst_http = max(worst_http, dt)
        check(r.status == 200, "metadata: %d" % r.status)
        check(dt < BOUND, "an HTTP request took %.1f s beside the stuck clients" % dt)
        t0 = time.time()
        m = Mllp(srv.mllp_port, timeout=BOUND)
        ack = m.call(adt("SLOWPAS", "OK%d" % i, "A01", "S%02d" % i, nhs(8100 + i)))
        m.close()
        dt = time.time() - t0
        worst_mllp = max(worst_mllp, dt)
        check(ack_code(ack) == "AA", "MLLP beside the stuck clients: %r" % ack)
        check(dt < BOUND, "an MLLP message took %.1f s beside the stuck clients" % dt)
finally:
    for s in stuck:
        s.close()
time.sleep(0.5)
srv.stop()
print("ok: %d of 24 slow readers held the server's writes; with 32 stuck HTTP and 32 stuck "
      "MLLP clients, 40 HTTP requests (slowest %.3f s) and 40 MLLP messages (slowest %.3f s) went through" % (backpressured, worst_http, worst_mllp))
