#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""security_http.py - the HTTP server under hostile connections (issue 16),
on real sockets against the real (sanitized) server, bounded in connections
and time:

1. a burst of ~2,400 connections opened and closed within a second against
   --threads 1 (twice, with the per-address limit out of the way so the
   server-wide limit is what refuses them) leaves /health answering;
   connections held open past the server-wide limit (1,000) get a 503 and
   the refusal is logged; SIGTERM still stops the server; three rounds
   against two workers too;
2. a request is routed and authenticated before its body is read: large
   unauthenticated POSTs are answered 401/404 at once and the server's
   memory does not grow by what they send; an anonymous request to an open
   route is capped at 64 KiB; request bodies in memory at once are capped
   (--max-body-memory: 503 past it);
12. a client address gets at most --max-connections-per-address connections
   (503 past it); a connection that sends no whole request within
   --header-timeout is closed, one that did keeps the normal idle timeout;
3. a Bundle of more than 10000 entries is refused (413) before it is parsed,
   whatever its size in bytes, and the CapabilityStatement says so;
15. a listener on a non-loopback address needs --base-url."""
import json
import os
import resource
import socket
import sys
import time
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, fail, run, setup_db  # noqa: E402

db, rw, ro = setup_db()


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    fail("no VmRSS for %d" % pid)


def health(port, within=10.0):
    """GET /health on a fresh connection; retried for `within` seconds."""
    deadline = time.time() + within
    last = None
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return True
            last = "status %d" % r.status
        except (OSError, http.client.HTTPException) as e:
            last = repr(e)
        time.sleep(0.2)
    fail("/health did not answer 200 within %.0f s (last: %s)" % (within, last))


def burst(port, n):
    socks = []
    t0 = time.time()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks.append(s)
    for s in socks:
        s.close()
    return time.time() - t0


def read_reply(s, timeout=10.0):
    """What the server sends on s until it closes or goes quiet."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def status_of(data):
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


# ---- 1. connection burst -----------------------------------------------------------------
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
N = 2400
if hard < N + 100:
    print("skip: the descriptor limit (%d) is below %d" % (hard, N + 100))
    sys.exit(77)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, N + 100), hard))

srv = Server(db, "--threads", "1", "--max-connections-per-address", "100000")
for rnd in range(2):
    secs = burst(srv.port, N)
    print("burst %d: %d connections opened and closed in %.2f s" % (rnd + 1, N, secs))
    health(srv.port)
st, _, body = srv.request("GET", "/health")
check(st == 200, "health after the bursts: %d" % st)
# Whether a burst outruns the server depends on the machine (a fast one
# accepts and closes every connection before the next arrives), so the
# server-wide limit is reached for certain by connections held open:
# 1,000 (HTTP_MAX_CONNECTIONS) are taken, the ones past it get a 503.
LIMIT = 1000
held = []
for _ in range(LIMIT + 40):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    held.append(s)
late = [status_of(read_reply(s, timeout=5)) for s in held[-20:]]
print("the last 20 of %d held connections were answered %s" % (len(held), late))
check(late.count(503) == 20, "connections past the server-wide limit were not refused: %s" % late)
for s in held:
    s.close()
health(srv.port)
t0 = time.time()
log = srv.stop()  # SIGTERM must complete (exit 0 within 60 s)
print("stopped %.1f s after SIGTERM" % (time.time() - t0))
check("server full" in log, "the server-wide refusal was not logged: %s" % log[-2000:])
# with two workers (several rounds used to wedge one, then the other) and the
# default per-address limit
srv = Server(db, "--threads", "2")
for rnd in range(3):
    burst(srv.port, N)
    health(srv.port)
srv.stop()

# ---- 12. per-address limit, header timeout ------------------------------------------------
srv = Server(db, "--max-connections-per-address", "4", "--header-timeout", "1")
idle = []
for _ in range(4):
    s = socket.create_connection(("127.0.0.1", srv.port))
    idle.append(s)
time.sleep(0.2)
extra = socket.create_connection(("127.0.0.1", srv.port))
reply = read_reply(extra, 5)
extra.close()
check(status_of(reply) == 503 and b"your address" in reply,
      "a 5th connection from one address was not refused: %r" % reply[:200])
# The four idle ones never send a request: closed after ~1 s, not 60.
t0 = time.time()
for s in idle:
    s.settimeout(10)
    try:
        got = s.recv(100)
    except ConnectionResetError:
        got = b""
    check(got == b"", "an idle connection got %r" % got)
    s.close()
waited = time.time() - t0
print("idle connections closed after %.1f s" % waited)
check(waited < 6, "idle connections were closed only after %.1f s" % waited)
# A partial request line is not a request either.
s = socket.create_connection(("127.0.0.1", srv.port))
s.sendall(b"GET /health HTT")
s.settimeout(10)
t0 = time.time()
check(s.recv(100) == b"" and time.time() - t0 < 6, "a partial request was kept open")
s.close()
# A connection that made a request keeps the normal idle timeout (60 s).
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
c.request("GET", "/health")
r = c.getresponse()
r.read()
check(r.status == 200, "health: %d" % r.status)
time.sleep(2.5)
c.request("GET", "/health")
r = c.getresponse()
r.read()
check(r.status == 200, "keep-alive after 2.5 s: %d" % r.status)
c.close()
# Slots come back once connections close.
health(srv.port, 5)
srv.stop()

# ---- 2. bodies are not read before authentication; bodies in memory are capped ------------
srv = Server(db, "--max-body", "32000000", "--max-body-memory", "40000000")
before = rss_kb(srv.proc.pid)
SIZE = 30 * 1024 * 1024
chunk = b"x" * (1024 * 1024)
held = []
statuses = []
for i in range(8):
    path = "/fhir" if i % 2 == 0 else "/no/such/path"
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
               "Content-Length: %d\r\n\r\n" % (path, SIZE)).encode())
    sent = 0
    s.settimeout(5)
    try:
        while sent < SIZE:
            s.sendall(chunk)
            sent += len(chunk)
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    held.append(s)
    statuses.append(status_of(read_reply(s, 5)))
time.sleep(0.5)
after = rss_kb(srv.proc.pid)
print("8 unauthenticated 30 MiB POSTs: statuses %s, RSS %d -> %d KiB" % (statuses, before, after))
check(statuses == [401, 404] * 4, "unauthenticated POSTs were not refused at once: %s" % statuses)
check(after - before < 64 * 1024, "RSS grew by %d KiB" % (after - before))
for s in held:
    s.close()

# An anonymous request to an open route carries a small form, never 1 MB.
# (answered as soon as the headers are in: the body is never sent)
s = socket.create_connection(("127.0.0.1", srv.port))
s.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n")
reply = read_reply(s, 10)
s.close()
check(status_of(reply) == 413 and b"65536" in reply, "a 1 MB anonymous form: %r" % reply[:300])

# Authenticated bodies together stay under --max-body-memory (40 MB): two
# 15 MB uploads held open fit, a third does not.
uploads = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(("POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/fhir+json\r\nContent-Length: 16000000\r\n\r\n" % rw).encode())
    try:
        s.sendall(b" " * 15000000)
    except (BrokenPipeError, ConnectionResetError):
        check(i == 2, "upload %d was cut off" % (i + 1))
    uploads.append(s)
    time.sleep(0.5)
third = read_reply(uploads[2], 5)
# The 503 may be lost to the reset that follows it (the server closes on
# unread data): then the request log says it.
check((status_of(third) == 503 and b"too many request bodies" in third) or
      (not third and "method=POST path=/fhir status=503" in srv.logtext()),
      "a third 15 MB body past --max-body-memory: %r" % third[:300])
for s in uploads[:2]:
    s.settimeout(0.5)
    try:
        check(s.recv(10) == b"", "")
    except socket.timeout:
        pass  # still being received: right
for s in uploads:
    s.close()
time.sleep(0.5)
health(srv.port, 5)
srv.stop()

# ---- 3. entries per Bundle ---------------------------------------------------------------
srv = Server(db)
st, _, cs = srv.request("GET", "/fhir/metadata")
docs = [i.get("documentation", "") for i in cs["rest"][0]["interaction"]]
check(all("at most 10000 entries" in d for d in docs), "CapabilityStatement: %r" % docs)
before = rss_kb(srv.proc.pid)
for n, kind in ((10001, "transaction"), (200000, "batch")):
    body = ('{"resourceType":"Bundle","type":"%s","entry":[%s]}'
            % (kind, ",".join(["{}"] * n))).encode()
    t0 = time.time()
    st, hd, oo = srv.request("POST", "/fhir", body=body, token=rw,
                             headers={"Content-Type": "application/fhir+json"})
    secs = time.time() - t0
    print("%s of %d entries (%d bytes): %d in %.2f s" % (kind, n, len(body), st, secs))
    check(st == 413 and "more than 10000 entries" in json.dumps(oo),
          "a %s of %d entries: %d %r" % (kind, n, st, str(oo)[:300]))
# entries in a nested array or a string do not count; the body is otherwise intact
tricky = {"resourceType": "Bundle", "type": "batch", "id": "x" * 10, "meta": {"tag": [{}] * 20000},
          "entry": [{"resource": {"resourceType": "Basic", "note": "[{},{}]" * 5000}}]}
st, _, oo = srv.request("POST", "/fhir", body=tricky, token=rw)
check(st != 413, "a one-entry Bundle was counted as too many: %d %r" % (st, str(oo)[:300]))
after = rss_kb(srv.proc.pid)
print("RSS %d -> %d KiB" % (before, after))
check(after - before < 256 * 1024, "RSS grew by %d KiB" % (after - before))
srv.stop()

# ---- 15. non-loopback listeners need --base-url --------------------------------------------
rc, out, err = run("serve", "--db", db, "--http", "0.0.0.0:0")
check(rc == 2 and "--base-url" in err, "serve on 0.0.0.0 without --base-url: %d %s" % (rc, err))
rc, out, err = run("serve", "--db", db, "--http", "[::]:0")
check(rc == 2 and "--base-url" in err, "serve on [::] without --base-url: %d %s" % (rc, err))
print("ok")
