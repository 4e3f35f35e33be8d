"""api_harness.py - shared by the tests/e2e/api_*.py tests: start the real
(sanitized) weft binary on a free port with a fresh database in $WEFT_TMP,
talk HTTP to it with keep-alive, stop it with SIGTERM and check that it exits
0 (under ASan/LSan a leak makes the exit status non-zero).

Not a test itself (the runner only runs files directly in tests/e2e/)."""
import atexit
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time

WEFT = os.environ.get("WEFT_BIN", "build/san/weft")
TMP = os.environ.get("WEFT_TMP", "/tmp")
DATA = os.environ.get("WEFT_DATA", "")


def skip(reason):
    print("skip: " + reason)
    sys.exit(77)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(*args, input=None):
    """Run weft with args; return (status, stdout, stderr)."""
    p = subprocess.run([WEFT] + list(args), input=input, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def weft_id(org, rtype, source_id):
    """The Weft id of (org, type, source id): store_resource_id()."""
    h = hashlib.sha256(("%s\x1f%s\x1f%s" % (org, rtype, source_id)).encode()).hexdigest()
    return h[:32]



def nhs(n):
    """The n-th test NHS number: 999 followed by n (the next n whose check
    digit exists), with its modulus 11 check digit."""
    while True:
        base = "999%06d" % n
        s = sum(int(d) * w for d, w in zip(base, range(10, 1, -1)))
        c = 11 - s % 11
        if c != 10:
            return base + str(0 if c == 11 else c)
        n += 1

def _tcp_sockets():
    """(local port, remote port, state, rx_queue) of every IPv4/IPv6 TCP socket."""
    out = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            p = ln.split()
            lport = int(p[1].rsplit(":", 1)[1], 16)
            rport = int(p[2].rsplit(":", 1)[1], 16)
            rx = int(p[4].split(":")[1], 16)
            out.append((lport, rport, int(p[3], 16), rx))
    return out


def wait_server_read(server_port, client_port, timeout=60):
    """Wait until the server has read everything the client (on client_port)
    sent to server_port: the server side's receive queue is empty (a socket
    state, not a sleep)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = [x for x in _tcp_sockets() if x[0] == server_port and x[1] == client_port]
        if s and s[0][3] == 0:
            return
        time.sleep(0.01)
    fail("the server did not read the request from port %d within %d s" % (client_port, timeout))


def server_connections(server_port):
    """Server-side TCP sockets of server_port that are not yet closed by the
    server (ESTABLISHED 01, CLOSE_WAIT 08, SYN_RECV 03)."""
    return [x for x in _tcp_sockets() if x[0] == server_port and x[2] in (1, 3, 8)]


def wait_log(srv, text, timeout=60):
    """Wait until the server's log holds text (an event, not a sleep)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in srv.logtext():
            return
        if srv.proc.poll() is not None and text not in srv.logtext():
            fail("the server exited without logging %r" % text)
        time.sleep(0.02)
    fail("no %r in the log within %d s" % (text, timeout))


class Server:
    def __init__(self, db, *extra, tag=""):
        # tag: several servers in one test keep their logs and port files apart
        self.db = db
        self.log = open(os.path.join(TMP, "serve%s.log" % tag), "w+")
        pf = os.path.join(TMP, "port" + tag)
        if os.path.exists(pf):
            os.unlink(pf)
        self.proc = subprocess.Popen(
            [WEFT, "serve", "--db", db, "--http", "127.0.0.1:0", "--port-file", pf] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not os.path.exists(pf):
            if self.proc.poll() is not None:
                fail("weft serve exited early (%d): %s" % (self.proc.returncode, self.logtext()))
            if time.time() > deadline:
                fail("weft serve did not start within 60 s")
            time.sleep(0.05)
        self.port = int(open(pf).read().strip())
        self.conn = None
        atexit.register(self._kill)

    def _kill(self):
        # a failed test must not leave its server running
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def logtext(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def request(self, method, path, body=None, headers=None, token=None, raw=False):
        """One request on the keep-alive connection (reconnects when the server
        closed it).  Returns (status, headers dict lower-case, parsed JSON or
        bytes when raw or not JSON)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/fhir+json")
        elif isinstance(body, str):
            body = body.encode()
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if raw:
            return r.status, hdrs, data
        try:
            return r.status, hdrs, json.loads(data)
        except ValueError:
            return r.status, hdrs, data

    def stop(self):
        """SIGTERM; the server must exit 0 (clean shutdown, no leaks)."""
        if self.conn:
            self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("weft serve did not stop within 60 s of SIGTERM")
        log = self.logtext()
        check(rc == 0, "weft serve exited %d after SIGTERM:\n%s" % (rc, log[-4000:]))
        check("stopped" in log, "no 'stopped' line in the log")
        return log


def axe_page(url, cookie, shot):
    """Open url in Chromium with the session cookie (lib/axe_page.mjs), run
    axe-core and fail on a serious or critical violation or a status other
    than 200; shot: a screenshot's path.  1 when the page was viewed (one
    more audited view), 0 when the browser or axe is not installed."""
    node = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "axe_page.mjs"), url, cookie, shot],
                          capture_output=True, text=True, timeout=300)
    if node.returncode == 77:
        print("note: axe not run: " + node.stderr.strip())
        return 0
    check(node.returncode == 0, "axe_page.mjs failed: %s %s" % (node.stdout, node.stderr))
    res = json.loads(node.stdout.strip().splitlines()[-1])
    check(res["status"] == 200, "browser got %r" % res["status"])
    bad = [v for v in res["violations"] if v["impact"] in ("serious", "critical")]
    check(not bad, "axe: %r" % bad)
    print("axe: %d violations, none serious or critical" % len(res["violations"]))
    return 1


PG_DIR = os.environ.get("WEFT_TEST_PG_DIR", "")
_db_seq = [0]


def new_db_url(name="weft.db"):
    """A fresh, empty database for this test: a file in $WEFT_TMP, or, when
    the runner chose PostgreSQL (WEFT_TEST_PG_DIR: tests/run-tests.sh
    --backend postgres), a new database in that cluster, as its URL."""
    if not PG_DIR:
        return os.path.join(TMP, name)
    _db_seq[0] += 1
    dbname = "e%d_%d_%d" % (os.getpid(), _db_seq[0], time.time_ns() % 1000000)
    root = os.environ.get("WEFT_ROOT", ".")
    p = subprocess.run([os.path.join(root, "tests", "pg-cluster.sh"), "createdb", PG_DIR, dbname],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail("cannot make a PostgreSQL database: " + p.stderr.strip())
    return p.stdout.strip()


def db_rows(db, sql, params=()):
    """The rows of a SELECT (or an UPDATE, committed, for a test that sets a
    stored date back) on the test's database, whichever backend: SQLite
    through python's sqlite3, PostgreSQL (a postgres:// URL from new_db_url)
    through psql.  Write portable SQL (NOT deleted, CASE WHEN, LIKE) with ?
    placeholders; on PostgreSQL the parameters are quoted as literals and a
    SELECT's rows come back through json_agg, so numbers are ints, NULL is
    None and text is str: both backends give the same tuples."""
    if not db.startswith("postgres"):
        import sqlite3
        con = sqlite3.connect(db, timeout=30)
        try:
            rows = [tuple(r) for r in con.execute(sql, params).fetchall()]
            con.commit()
            return rows
        finally:
            con.close()
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        fail("db_rows: %d placeholders, %d parameters" % (len(parts) - 1, len(params)))
    text = parts[0]
    for v, rest in zip(params, parts[1:]):
        text += (str(int(v)) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'") + rest
    select = text.lstrip().lower().startswith("select")
    if select:
        text = "SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % text
    p = subprocess.run(["psql", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", text],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        fail("psql: %s: %s" % (text, p.stderr.strip()))
    if not select:
        return []
    rows = json.loads(p.stdout, object_pairs_hook=lambda pairs: tuple(v for _, v in pairs))
    return list(rows)


def setup_db(org="SYN01"):
    """A fresh database with organisation org (agreement in force), a
    read/write client of org and a read-only one without an organisation;
    returns (db path, rw token, ro token)."""
    db = new_db_url("weft.db")
    rc, out, err = run("init", "--db", db)
    check(rc == 0, "weft init failed: " + err)
    # an organisation takes part (sends or reads) only with an agreement in force
    rc, out, err = run("org", "add", "--db", db, "--ods", org, "--name", "Org " + org,
                       "--type", "acute")
    check(rc == 0, "weft org add failed: " + err)
    rc, out, err = run("org", "agreement", "--db", db, "--ods", org, "--kind", "jca",
                       "--from", "2020-01-01")
    check(rc == 0, "weft org agreement failed: " + err)
    rc, rw, err = run("client", "add", "--db", db, "--name", "e2e-writer", "--org", org, "--write")
    check(rc == 0 and rw.strip(), "weft client add failed: " + err)
    rc, ro, err = run("client", "add", "--db", db, "--name", "e2e-reader")
    check(rc == 0 and ro.strip(), "weft client add failed: " + err)
    return db, rw.strip(), ro.strip()


def outcome_text(body):
    """The diagnostics of an OperationOutcome, joined."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    return " | ".join(i.get("diagnostics", "") for i in body.get("issue", []))


def expect_outcome(resp, status, *words):
    st, hdrs, body = resp
    text = outcome_text(body)
    check(st == status, "status %d, wanted %d: %r" % (st, status, body if text is None else text))
    check(text is not None, "not an OperationOutcome: %r" % (body,))
    check("application/fhir+json" in hdrs.get("content-type", ""), "content type %r" % hdrs.get("content-type"))
    for w in words:
        check(w in text, "outcome %r lacks %r" % (text, w))
    return text


def all_pages(srv, path, token, on_page=None):
    """Follow next links; return (list of resources, total, pages)."""
    out, total, pages = [], None, 0
    while path:
        st, _, b = srv.request("GET", path, token=token)
        check(st == 200, "GET %s -> %d %r" % (path, st, b))
        check(b.get("type") == "searchset", "not a searchset")
        if total is None:
            total = b.get("total")
        check(b.get("total") == total, "total changed between pages: %r -> %r" % (total, b.get("total")))
        for e in b.get("entry", []):
            if e.get("search", {}).get("mode") == "match":
                out.append(e["resource"])
        pages += 1
        nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
        path = None
        if nxt:
            u = nxt[0]
            path = u[u.index("/fhir/"):]
        if on_page and path:
            on_page(pages)
    return out, total, pages
