#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""pg_standby.py - `weft serve --db-read URL`: a hot standby for reads that
may lag (docs/OPERATIONS.md, "A hot standby for reads"), and a failover.

A throwaway primary (tests/pg-cluster.sh) and a streaming standby made from
it with `pg_basebackup -R`; one node with --db naming both servers
(target_session_attrs=read-write: the writable one) and --db-read the
standby.  Then, with the standby's replay paused (so it lags for sure):
  - a read-only client's search of a person's record is served by the
    standby (weft_db_reads_total{db="standby"} grows) and shows the lag;
  - a client that may write reads what it has just written (the primary;
    the standby counter does not move);
  - a page whose snapshot the standby has not replayed goes to the primary
    (db="primary",why="behind") and is complete;
  - a clinician's record page comes from the standby, the decision and the
    audit from the primary;
then the standby is stopped (reads fall back to the primary, no error) and
started again (reads return to it); finally the primary is stopped, the
standby promoted (pg_ctl promote), and the same node - not restarted -
writes and reads through the promoted server.
Runs in the PostgreSQL pass only (it makes its own two clusters)."""
import atexit
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import PG_DIR, TMP, Server, check, fail, run, skip  # noqa: E402
from access_lib import add_hs_launcher, add_org, claims, launch, sign, weft  # noqa: E402
from feeds_harness import nhs  # noqa: E402

if not PG_DIR:
    skip("needs PostgreSQL: a primary and a hot standby (the PostgreSQL pass)")
ROOT = os.environ.get("WEFT_ROOT", ".")
CLUSTER = os.path.join(ROOT, "tests", "pg-cluster.sh")
T0 = time.time()


def sh(*args, check_rc=True, timeout=120):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        fail("%s: %s %s" % (" ".join(args), p.stdout[-2000:], p.stderr[-2000:]))
    return p


def bindir():
    for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
        b = "/usr/lib/postgresql/%s/bin" % d
        if os.path.exists(b + "/pg_basebackup"):
            return b
    fail("pg_basebackup not found")


BIN = bindir()
if os.getuid() == 0:
    os.chmod(TMP, 0o711)  # the clusters' owner (not root) must reach its folders in it
pri = os.path.join(TMP, "primary")
sb = os.path.join(TMP, "standby")
out = sh(CLUSTER, "start", pri).stdout
atexit.register(lambda: subprocess.run([CLUSTER, "stop", pri], capture_output=True))
P = int(open(os.path.join(pri, "port")).read())
owner = open(os.path.join(pri, "owner")).read().strip()


def as_owner(*args, **kw):
    if os.getuid() == 0:
        return sh("runuser", "-u", owner, "--", *args, **kw)
    return sh(*args, **kw)


# the standby: a base backup that streams from the primary (-R writes
# primary_conninfo and standby.signal), on a port and socket of its own
os.makedirs(sb, mode=0o700)
if os.getuid() == 0:
    sh("chown", owner, sb)
S = int(sh("python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0));"
           " print(s.getsockname()[1])").stdout)
t = time.time()
as_owner(BIN + "/pg_basebackup", "-h", pri, "-p", str(P), "-U", "weft", "-D", sb + "/data", "-R",
         "-X", "stream", "-c", "fast")
basebackup_s = time.time() - t
with open(sb + "/data/postgresql.conf", "a") as f:
    f.write("port = %d\nunix_socket_directories = '%s'\nhot_standby = on\n" % (S, sb))
if os.getuid() == 0:
    sh("chown", owner, sb + "/data/postgresql.conf")


def standby_start():
    as_owner(BIN + "/pg_ctl", "-D", sb + "/data", "-l", sb + "/server.log", "-w", "-t", "60",
             "start")


def standby_stop():
    as_owner(BIN + "/pg_ctl", "-D", sb + "/data", "-m", "fast", "-w", "-t", "60", "stop")


standby_start()
atexit.register(lambda: subprocess.run(
    (["runuser", "-u", owner, "--"] if os.getuid() == 0 else []) +
    [BIN + "/pg_ctl", "-D", sb + "/data", "-m", "immediate", "-w", "stop"], capture_output=True))

PRIMARY = "postgres://weft@127.0.0.1:%d/weft" % P
STANDBY = "postgres://weft@127.0.0.1:%d/weft" % S
# the node's --db: both servers, the writable one chosen at every (re)connect
BOTH = ("postgres://weft@127.0.0.1:%d,127.0.0.1:%d/weft?target_session_attrs=read-write"
        "&connect_timeout=3" % (P, S))


def psql(url, q):
    return sh("psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", q).stdout.strip()


check(psql(STANDBY, "SELECT pg_is_in_recovery()") == "t", "the standby is not in recovery")

# ---- a region: an organisation, a writer, a reader, a launcher ------------------------------
ORG = "RVV"
weft("init", "--db", PRIMARY)
add_org(PRIMARY, ORG, "acute")
writer = weft("client", "add", "--db", PRIMARY, "--name", "feed", "--org", ORG, "--write").strip()
reader = weft("client", "add", "--db", PRIMARY, "--name", "reader", "--org", ORG).strip()
secret = add_hs_launcher(PRIMARY, "epr", ORG, "iss-epr")
NHS = nhs(7300)
PID = "pat-sb"


def obs(i):
    return {"fullUrl": "urn:uuid:o%d" % i, "resource": {
        "resourceType": "Observation", "id": "obs-sb-%d" % i, "status": "final",
        "code": {"text": "standby test reading %d" % i},
        "subject": {"reference": "Patient/" + PID},
        "effectiveDateTime": "2024-05-%02dT09:30:00Z" % (i + 1)},
        "request": {"method": "PUT", "url": "Observation/obs-sb-%d" % i}}


first = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"fullUrl": "urn:uuid:p", "resource": {
        "resourceType": "Patient", "id": PID,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}],
        "name": [{"family": "Standby", "given": ["Test"]}], "birthDate": "1970-01-01"},
     "request": {"method": "PUT", "url": "Patient/" + PID}}] + [obs(i) for i in range(3)]}

mport = os.path.join(TMP, "mport")
srv = Server(BOTH, "--db-read", STANDBY, "--metrics", "127.0.0.1:0", "--metrics-port-file", mport,
             "--threads", "2", "--dq-interval", "0")
deadline = time.time() + 30
while not os.path.exists(mport) and time.time() < deadline:
    time.sleep(0.05)


def metric(series):
    port = int(open(mport).read())
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30).read().decode()
    m = re.search(r"^weft_db_reads_total\{%s\} (\S+)$" % re.escape(series), text, re.M)
    return float(m.group(1)) if m else 0.0


STANDBY_S = 'db="standby"'
BEHIND_S = 'db="primary",why="behind"'
FAILED_S = 'db="primary",why="failed"'

st, _, b = srv.request("POST", "/fhir", first, token=writer)
check(st == 200, "first bundle: %d %s" % (st, b))
wid = None  # the stored id of the Patient (derived by the store)
st, _, b = srv.request("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|" + NHS,
                       token=writer)
check(st == 200 and b.get("entry"), "patient by NHS number: %d %s" % (st, b))
wid = b["entry"][0]["resource"]["id"]
SEARCH = "/fhir/Observation?patient=Patient/%s&_count=100" % wid


def ids(bundle):
    return sorted(e["resource"]["id"] for e in bundle.get("entry", [])
                  if e.get("search", {}).get("mode", "match") == "match")


def texts(bundle):
    return sorted(e["resource"]["code"]["text"] for e in bundle.get("entry", [])
                  if e.get("search", {}).get("mode", "match") == "match")


def wait_standby(n, what):
    """Until the standby's replay holds n observations of the person."""
    deadline = time.time() + 30
    while time.time() < deadline:
        got = psql(STANDBY, "SELECT count(*) FROM resource WHERE type = 'Observation'"
                            " AND next_seq IS NULL")
        if int(got) >= n:
            return
        time.sleep(0.1)
    fail("the standby did not replay %s" % what)


wait_standby(3, "the first bundle")

# ---- reads that may lag: the standby ---------------------------------------------------------
s0 = metric(STANDBY_S)
st, _, b = srv.request("GET", SEARCH, token=reader)
check(st == 200 and len(ids(b)) == 3, "reader's search: %d %s" % (st, b))
check(metric(STANDBY_S) == s0 + 1, "the reader's search was not served by the standby")
print("reader's search served by the standby: 3 items")

# pause the standby's replay: from now on it lags for sure
psql(STANDBY, "SELECT pg_wal_replay_pause()")
st, _, b = srv.request("POST", "/fhir", {"resourceType": "Bundle", "type": "transaction",
                                         "entry": [obs(3)]}, token=writer)
check(st == 200, "second bundle: %d %s" % (st, b))

# ---- a client that may write reads its own write: the primary ------------------------------
s1 = metric(STANDBY_S)
st, _, b = srv.request("GET", SEARCH, token=writer)
check(st == 200 and len(ids(b)) == 4, "the writer must read what it wrote: %d %s" % (st, ids(b)))
check(metric(STANDBY_S) == s1, "the writer's search went to the standby")
print("writer reads its own write from the primary: 4 items")

# ---- the reader: the standby, lagging (allowed for it) -------------------------------------
st, _, b = srv.request("GET", SEARCH, token=reader)
check(st == 200 and len(ids(b)) == 3, "reader during the pause: %d %s" % (st, ids(b)))
check(metric(STANDBY_S) == s1 + 1, "the reader's search did not go to the standby")
print("reader's search during the pause: 3 items (the standby lags, as allowed)")

# ---- a page whose snapshot the standby lacks: the primary, complete ------------------------
st, _, b = srv.request("GET", "/fhir/Observation?patient=Patient/%s&_count=2&_sort=date" % wid,
                       token=writer)
check(st == 200 and b.get("total") == 4, "writer page 1: %d %s" % (st, b))
nxt = [lk["url"] for lk in b.get("link", []) if lk["relation"] == "next"]
check(nxt, "no next link: %s" % b.get("link"))
path = nxt[0][nxt[0].index("/fhir/"):]
k0 = metric(BEHIND_S)
st, _, b2 = srv.request("GET", path, token=reader)
# oldest first: the newest item (written during the pause) is on page 2
check(st == 200 and texts(b2) == ["standby test reading 2", "standby test reading 3"],
      "page 2 for the reader: %d %s" % (st, texts(b2)))
check(metric(BEHIND_S) == k0 + 1, "page 2 at a snapshot the standby lacks was not sent to the"
      " primary")
print("a page at a snapshot the standby has not replayed: served by the primary, complete")

# ---- a clinician's record page: from the standby -------------------------------------------
tok = sign({"alg": "HS256", "typ": "JWT"}, claims("iss-epr", "doc-1", "R8000", ORG, NHS),
           "HS256", secret)
st, hd, body, cookie = launch(srv, tok)
check(cookie, "launch failed: %d %s" % (st, re.sub(rb"<[^>]+>", b" ", body)[-1500:]))
s2 = metric(STANDBY_S)
loc = hd.get("location", "")
check(loc.startswith("/patient/"), "launch location %r" % loc)
person = loc.split("/")[2].split("?")[0]
st, _, page = srv.request("GET", "/patient/%s/timeline" % person,
                          headers={"Cookie": "weft_session=" + cookie}, raw=True)
check(st == 200, "record page: %d %s" % (st, page[:300]))
check(b"standby test reading 0" in page and b"standby test reading 3" not in page,
      "the clinician's page should show the standby's (lagging) record: %s"
      % re.sub(rb"\s+", b" ", re.sub(rb"<[^>]+>", b" ", page))[-3000:])
check(metric(STANDBY_S) > s2, "the clinician's page did not read the standby")
print("clinician's record page read from the standby")
psql(STANDBY, "SELECT pg_wal_replay_resume()")
wait_standby(4, "the second bundle after the pause")
st, _, b = srv.request("GET", SEARCH, token=reader)
check(st == 200 and len(ids(b)) == 4, "reader after resume: %d %s" % (st, ids(b)))

# ---- the standby down: reads fall back, no request fails -----------------------------------
standby_stop()
f0 = metric(STANDBY_S)
for i in range(6):
    st, _, b = srv.request("GET", SEARCH, token=reader)
    check(st == 200 and len(ids(b)) == 4, "with the standby down, search %d: %d %s" % (i, st, b))
check(metric(STANDBY_S) == f0, "a read was counted as served by a stopped standby")
print("standby stopped: 6 of 6 reads answered by the primary")
standby_start()
deadline = time.time() + 30
while time.time() < deadline and metric(STANDBY_S) == f0:
    st, _, b = srv.request("GET", SEARCH, token=reader)
    check(st == 200, "search after the standby returned: %d" % st)
    time.sleep(0.2)
check(metric(STANDBY_S) > f0, "reads did not return to the standby after it came back")
print("standby back: reads return to it")

# ---- failover: the primary stops, the standby is promoted, the node goes on ----------------
sh(CLUSTER, "down", pri)
t = time.time()
as_owner(BIN + "/pg_ctl", "-D", sb + "/data", "-w", "-t", "60", "promote")
check(psql(STANDBY, "SELECT pg_is_in_recovery()") == "f", "the standby was not promoted")
ok, tries = False, 0
deadline = time.time() + 60
while time.time() < deadline:
    tries += 1
    st, _, b = srv.request("POST", "/fhir", {"resourceType": "Bundle", "type": "transaction",
                                             "entry": [obs(4)]}, token=writer)
    if st == 200:
        ok = True
        break
    check(st == 503, "a write during the failover got %d (want 503 or 200): %s" % (st, b))
    time.sleep(0.2)
failover_s = time.time() - t
check(ok, "the node did not write through the promoted server within 60 s")
st, _, b = srv.request("GET", SEARCH, token=writer)
check(st == 200 and len(ids(b)) == 5, "after the failover, the writer reads: %d %s" % (st, b))
st, _, b = srv.request("GET", SEARCH, token=reader)
check(st == 200 and len(ids(b)) == 5, "after the failover, the reader reads: %d %s" % (st, b))
log = srv.stop()
check("reconnected to PostgreSQL" in log, "no reconnect in the node's log")
check("not committed" not in log, "audit entries lost at the stop after the failover:\n" + log[-3000:])
rc, vout, verr = run("audit", "verify", "--db", STANDBY)
check(rc == 0, "audit verify on the promoted server: %s %s" % (vout, verr))
print("failover: promoted, the node wrote after %d tries in %.1f s without a restart; "
      "audit verifies" % (tries, failover_s))
print("pg_basebackup %.1f s; whole test %.1f s" % (basebackup_s, time.time() - T0))
print("ok")
