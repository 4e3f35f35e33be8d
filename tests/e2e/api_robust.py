#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_robust.py - the HTTP server against hostile or broken clients: garbage
request lines, bad escapes, huge headers and query strings, bad
Content-Length values, uploads and headers cut off mid-way, random paths.
Every complete request gets a 4xx/2xx answer (or MHD closes a garbage
connection), the server keeps serving, and after all of it SIGTERM stops it
promptly with exit status 0 (under ASan/LSan: nothing leaked, nothing freed
twice).  No shared data needed."""
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, server_connections, setup_db  # noqa: E402

db, rw, ro = setup_db("RXX1")
srv = Server(db)
A = b"\r\nAuthorization: Bearer " + ro.encode()


def raw(data, timeout=3):
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(timeout)
    try:
        s.sendall(data)
        return s.recv(400)
    except OSError as e:
        return repr(e).encode()
    finally:
        s.close()


cases = [
    (b"GET /fhir/Patient/%ZZ HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"400"),
    (b"GET /fhir/Patient/a%00b HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"400"),
    (b"GET /fhir/Patient/a%2Fb HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"400"),
    (b"GET /fhir/" + b"a/" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"4"),
    (b"GET /fhir/Observation?" + b"code=1&" * 300 + b" HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"400"),
    (b"GET /fhir/Observation?" + b"a=1&" * 40000 + b" HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"414"),
    (b"GET /fhir/Observation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"x" * 10000 + b"\r\n\r\n", b"401"),
    (b"GET /fhir/Observation HTTP/1.1\r\nHost: \x01<script>" + A + b"\r\n\r\n", b"200"),
    (b"POST /fhir HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", b"400"),
    (b"POST /fhir HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", b"413"),
    (b"GET /fhir/Patient?family=%C3%28 HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"200"),
    (b"GET /fhir/Patient/x/$everything?_cursor=9223372036854775807.9223372036854775807.QUFB HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"404"),
    (b"GET /fhir/Observation?_cursor=1.1.QUFB&_count=5 HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"400"),
    (b"GET /fhir/Observation?date=9999-12-31T23:59:59Z&date=gt9999 HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n", b"200"),
    (b"GET / HTTP/9.9\r\n\r\n", b"505"),
]
for req, want in cases:
    got = raw(req)
    check(got.startswith(b"HTTP/1.1 " + want), "%r... answered %r, wanted %s" % (req[:50], got[:60], want.decode()))

random.seed(7)
for _ in range(300):
    path = bytes(random.randrange(33, 127) for _ in range(random.randrange(1, 80)))
    got = raw(b"GET /fhir/" + path + b" HTTP/1.1\r\nHost: x" + A + b"\r\n\r\n")
    check(got[:10] in (b"HTTP/1.1 2", b"HTTP/1.1 4") or got == b"", "random path %r: %r" % (path, got[:60]))

# uploads and headers cut off mid-way
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /fhir HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + rw.encode() +
              b"\r\nContent-Type: application/fhir+json\r\nContent-Length: 1000000\r\n\r\n" + b"{" * 300000)
    s.close()
    for part in (b"GET /fhir/Observ", b"GET /fhir/Observation HTTP/1.1\r\nHost: x\r\nAuth"):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(part)
        s.close()
# (no sleep: what follows must hold however many of those connections the
# server has not closed yet; how many it still holds is printed)
print("server sockets not yet closed after the abuse: %d" % len(server_connections(srv.port)))

# still serving
st, _, b = srv.request("GET", "/health")
check(st == 200 and b["status"] == "ok", "health after the abuse")
st, _, b = srv.request("GET", "/fhir/Observation?_count=0", token=ro)
check(st == 200 and b["total"] == 0, "search after the abuse")

t0 = time.time()
srv.stop()
check(time.time() - t0 < 8, "shutdown took %.1f s" % (time.time() - t0))
print("ok")
