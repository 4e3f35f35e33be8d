#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""serve_two_nodes_access_facts.py - the facts of authorisation decisions
changed while two `weft serve` nodes on one PostgreSQL database keep them
(pg_access.c, "facts cache": an organisation's agreement, a person's
objection, the policy version and break-glass, kept per connection by
organisation, day, person and user, forgotten when the NOTIFY of migration
pg12s-access-notify-1 arrives; issue 12):

  - a client of organisation FCA searches a person whose items organisation
    FCB sent, over several connections to each node (so several workers'
    connections keep the facts), and sees every item;
  - `weft objection set --status upheld` (another process, as another node
    or the objections officer would) upholds the person's objection: within
    1 s every search on either node - kept connections and new ones - shows
    none of FCB's items (only what FCA sent, which is nothing), and stays so;
  - `--status withdrawn`: within 1 s every search shows them all again;
  - a client of FCC, an organisation with no agreement yet, is refused on
    every connection; `weft org agreement` adds one: within 1 s every search
    is answered (a refusal is not kept either).
The cache trusts kept facts for at most 5 s without a notification, so a
cache that missed the notification fails the 1 s bound here.
On SQLite (one node per database file, no such cache) it is skipped."""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import PG_DIR, skip, weft_id  # noqa: E402
from feeds_harness import check, new_db, org, start, weft_ok  # noqa: E402
from access_lib import nhs, person_bundle, writer_token  # noqa: E402

if not PG_DIR:
    skip("several nodes share one PostgreSQL database; a SQLite file has one node")

BOUND = 1.0
db = new_db()
org(db, "FCA", "acute")
org(db, "FCB", "gp")
org(db, "FCC", "acute", agreement=False)
reader = weft_ok("client", "add", "--db", db, "--name", "reader-fca", "--org", "FCA").strip()
late = weft_ok("client", "add", "--db", db, "--name", "reader-fcc", "--org", "FCC").strip()
number = nhs(512)
nodes = {t: start(db, "--threads", "3", tag=t) for t in "AB"}


def call(conn, method, path, tok, body=None):
    h = {"Authorization": "Bearer " + tok}
    if body is not None:
        h["Content-Type"] = "application/fhir+json"
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.read()


try:
    c0 = http.client.HTTPConnection("127.0.0.1", nodes["A"].port, timeout=10)
    pid, bundle = person_bundle("FCB", "p", number)
    st, b = call(c0, "POST", "/fhir", writer_token(db, "FCB"), bundle)
    check(st == 200, "loading FCB's items: %d %r" % (st, b[:300]))
    c0.close()
    patient = weft_id("FCB", "Patient", pid)
    PATH = "/fhir/Observation?patient=%s&_count=100" % patient

    def shown(conn, tok):
        """(status, number of Observations matched) of one search."""
        st, b = call(conn, "GET", PATH, tok)
        if st != 200:
            return st, None
        return st, sum(1 for e in json.loads(b).get("entry", [])
                       if e["search"]["mode"] == "match")

    conns = {t: [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10) for _ in range(6)]
             for t, srv in nodes.items()}

    def everywhere(tok):
        """The answers on every kept connection of both nodes and a new one each."""
        out = []
        for t in "AB":
            out += [shown(c, tok) for c in conns[t]]
            fresh = http.client.HTTPConnection("127.0.0.1", nodes[t].port, timeout=10)
            out.append(shown(fresh, tok))
            fresh.close()
        return out

    def warm(tok):
        for _ in range(3):
            res = everywhere(tok)
        return res

    def until(what, tok, ok):
        """Seconds until every answer passes ok; fails past BOUND."""
        t0 = time.monotonic()
        while True:
            res = everywhere(tok)
            if all(ok(r) for r in res):
                return time.monotonic() - t0
            check(time.monotonic() - t0 < BOUND,
                  "%s: still not in effect on every connection %.2f s after: %r"
                  % (what, time.monotonic() - t0, res))
            time.sleep(0.02)

    before = warm(reader)
    full = before[0][1]
    check(full and all(r == (200, full) for r in before),
          "before the objection every connection shows FCB's items: %r" % before)

    weft_ok("objection", "set", "--db", db, "--nhs", number, "--status", "upheld",
            "--date", time.strftime("%Y-%m-%d"))
    t_up = until("the upheld objection", reader, lambda r: r == (200, 0))
    for r in everywhere(reader):
        check(r == (200, 0), "an upheld objection's narrowing came undone: %r" % (r,))

    warm(reader)
    weft_ok("objection", "set", "--db", db, "--nhs", number, "--status", "withdrawn",
            "--date", time.strftime("%Y-%m-%d"))
    t_wd = until("the withdrawn objection", reader, lambda r: r == (200, full))

    refused = warm(late)
    check(all(r[0] == 403 for r in refused),
          "a client of an organisation without an agreement is refused: %r" % refused)
    weft_ok("org", "agreement", "--db", db, "--ods", "FCC", "--kind", "jca", "--from",
            "2020-01-01")
    t_ag = until("the new agreement", late, lambda r: r[0] == 200)
finally:
    for srv in nodes.values():
        srv.stop()
print("ok: in effect on both nodes within %.3f s (objection upheld), %.3f s (withdrawn),"
      " %.3f s (agreement added)" % (t_up, t_wd, t_ag))
