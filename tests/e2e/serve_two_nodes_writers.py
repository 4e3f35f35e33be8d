#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""serve_two_nodes_writers.py - two `weft serve` nodes on one PostgreSQL
database, each with two MLLP writers (--mllp-writers 2; writers overlap:
store/pg/pg_int.h, "Writers"), receive HL7 v2
messages for the SAME patients at once from eight senders, while a ninth
client pages through the patients' encounters, page by page on alternating
nodes (issue 12, writers in parallel):

  - every message answered AA is stored once (its inbox row applied, its
    encounter there), and nothing was answered other than AA: races between
    the writers (the same Patient put by two at once, the same person made by
    two) are retried, not refused;
  - one person per NHS number, every Patient of that NHS number linked to it,
    though two organisations' messages for it arrive at once;
  - every walk of the pages is exactly what its snapshot holds: no
    duplicate, no gap - the set of the person's encounters whose first
    version's seq is at most the largest one the walk met (the writers'
    horizon, store/pg/pg_int.h);
  - `weft audit verify` passes on the log both nodes wrote.
On SQLite (one node per database file) it is skipped: its writers take
turns."""
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import PG_DIR, skip  # noqa: E402
from feeds_harness import (Mllp, ack_code, adt, check, fail, new_db, nhs, org,  # noqa: E402
                           reader_token, start, weft_ok)

if not PG_DIR:
    skip("several nodes share one PostgreSQL database; SQLite's writers take turns")

PATIENTS = 12
ROUNDS = int(os.environ.get("WRITERS_ROUNDS", "60"))
PER_ROUND = 4  # patients a round, of PATIENTS: the writers' batches overlap in part
db = new_db()
FEEDS = {"RVV": "RVVPAS", "RXX": "RXXPAS"}
for o, fac in FEEDS.items():
    org(db, o, "acute")
    weft_ok("feed", "add", "--db", db, "--org", o, "--kind", "hl7v2", "--facility", fac)
reader = reader_token(db)
nodes = [start(db, "--mllp-writers", "2", tag=t) for t in "AB"]


def sql(q):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", db, "-c", q],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail("psql: %s" % p.stderr.strip())
    return [ln.split("\t") for ln in p.stdout.splitlines() if ln.strip()]


NHS = sorted({nhs(7300 + k) for k in range(3 * PATIENTS)})[:PATIENTS]  # distinct numbers


def mrn(o, i):
    return "%s%04d" % (o, i)


# ---- one admission per patient first, so the pager has patients -------------------------
c = Mllp(nodes[0].mllp_port)
for i in range(PATIENTS):
    check(ack_code(c.call(adt("RVVPAS", "W0-%d" % i, "A01", mrn("RVV", i), NHS[i],
                              visit="V0-%d" % i))) == "AA", "first admission %d" % i)
c.close()
patient_ids = []
for i in range(PATIENTS):
    st, _, b = nodes[1].request("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/"
                                "nhs-number|" + NHS[i], token=reader)
    check(st == 200 and len(b.get("entry", [])) == 1, "patient %d: %d %r" % (i, st, b))
    patient_ids.append(b["entry"][0]["resource"]["id"])

acks = {}  # control id -> ack code
acks_mu = threading.Lock()
errors = []


def sender(k):
    """Sender k: PER_ROUND patients a round, to node k % 2, on one connection;
    its organisation alternates with k, so both organisations' messages for
    one NHS number arrive at once; each message a new version of the
    Patient (the given name changes) and a new encounter."""
    o = "RVV" if k % 4 < 2 else "RXX"
    fac = FEEDS[o]
    rnd = random.Random(k)
    try:
        c = Mllp(nodes[k % 2].mllp_port)
        for r in range(ROUNDS):
            # a round's messages sent at once (one batch or a few), the
            # patients in an order of the sender's own: the writers' rows
            # are met in different orders (deadlocks, retried)
            order = rnd.sample(range(PATIENTS), PER_ROUND)
            ctrls = []
            for i in order:
                ctrl = "W%d-%d-%d" % (k, r, i)
                # a date of its own: a new encounter lands anywhere in the
                # pages' (date) order, before or after a walk's cursor
                when = "2026%02d%02d1015" % (rnd.randint(1, 12), rnd.randint(1, 28))
                c.send(adt(fac, ctrl, "A01" if r % 2 == 0 else "A08", mrn(o, i), NHS[i],
                           visit="V%d-%d-%d" % (k, r, i), given="Sam%d%d" % (k, r), when=when))
                ctrls.append(ctrl)
            for ctrl in ctrls:
                code = ack_code(c.recv())
                with acks_mu:
                    acks[ctrl] = code
        c.close()
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append("sender %d: %r" % (k, e))


walks = []  # (patient index, [encounter ids], the first page's total)
stop = threading.Event()


def pager():
    n = 0
    try:
        while not stop.is_set():
            i = n % PATIENTS
            node = n % 2
            path = ("/fhir/Encounter?patient=Patient/%s&_count=10&_total=accurate&_sort=-date"
                    % patient_ids[i])
            ids = []
            total = None
            while path:
                st, _, b = nodes[node].request("GET", path, token=reader)
                if st != 200:
                    errors.append("page %s: %d %r" % (path, st, b))
                    return
                ids += [e["resource"]["id"] for e in b.get("entry", [])]
                if total is None:
                    total = b.get("total")
                nxt = [ln["url"] for ln in b.get("link", []) if ln.get("relation") == "next"]
                if nxt:
                    u = urllib.parse.urlparse(nxt[0])
                    path = u.path + ("?" + u.query if u.query else "")
                else:
                    path = None
                node ^= 1  # the next page from the other node
            walks.append((i, ids, total))
            n += 1
    except Exception as e:  # noqa: BLE001
        errors.append("pager: %r" % e)


SENDERS = 8
t0 = time.time()
threads = [threading.Thread(target=sender, args=(k,)) for k in range(SENDERS)]
pt = threading.Thread(target=pager)
pt.start()
for t in threads:
    t.start()
for t in threads:
    t.join()
stop.set()
pt.join()
elapsed = time.time() - t0
check(not errors, "errors: %s" % errors[:5])
sent = SENDERS * ROUNDS * PER_ROUND
check(len(acks) == sent, "%d acks for %d messages" % (len(acks), sent))
bad = {c: a for c, a in acks.items() if a != "AA"}
check(not bad, "%d messages not AA: %r" % (len(bad), list(bad.items())[:5]))

# ---- every AA'd message stored once ---------------------------------------------------------
rows = sql("SELECT control_id, outcome, count(*) FROM inbox WHERE control_id LIKE 'W%' "
           "GROUP BY 1, 2")
applied = {r[0] for r in rows if r[1] == "applied"}
twice = [r for r in rows if int(r[2]) != 1]
check(not twice, "inbox rows more than once: %r" % twice[:5])
want = set(acks) | {"W0-%d" % i for i in range(PATIENTS)}
check(applied == want, "applied %d, acknowledged %d; missing %r" %
      (len(applied), len(want), sorted(want - applied)[:5]))
enc = sql("SELECT count(*), count(DISTINCT id) FROM resource WHERE type = 'Encounter' "
          "AND next_seq IS NULL AND NOT deleted")
check(int(enc[0][0]) == len(want) and int(enc[0][1]) == len(want),
      "encounters %r for %d messages" % (enc, len(want)))

# ---- one person per NHS number -----------------------------------------------------------
for i in range(PATIENTS):
    n = NHS[i]
    persons = sql("SELECT id FROM person WHERE nhs = '%s'" % n)
    check(len(persons) == 1, "NHS %s: persons %r" % (n, persons))
    linked = sql("SELECT DISTINCT person_id FROM resource WHERE type = 'Patient' "
                 "AND next_seq IS NULL AND id IN (SELECT id FROM resource WHERE type = 'Patient' "
                 "AND json LIKE '%%%s%%')" % n)
    check(linked == [[persons[0][0]]], "NHS %s: Patients linked to %r, person %s" %
          (n, linked, persons[0][0]))
    pats = sql("SELECT count(DISTINCT id) FROM resource WHERE type = 'Patient' AND "
               "next_seq IS NULL AND person_id = '%s'" % persons[0][0])
    check(pats == [["2"]], "NHS %s: %r Patients (one per organisation)" % (n, pats))

# ---- every walk is one snapshot: no duplicate, no gap ------------------------------------
first = {}  # person index -> {encounter id: seq of its first version}
for i, pid in enumerate(patient_ids):
    rows = sql("SELECT r.id, min(r.seq) FROM resource r WHERE r.type = 'Encounter' AND "
               "r.person_id = (SELECT person_id FROM resource WHERE type = 'Patient' AND id = '%s' "
               "AND next_seq IS NULL) GROUP BY r.id" % pid)
    first[i] = {r[0]: int(r[1]) for r in rows}
check(len(walks) >= 10, "only %d walks" % len(walks))
for i, ids, total in walks:
    check(len(ids) == len(set(ids)), "a walk of patient %d met an encounter twice" % i)
    check(total == len(ids), "a walk of patient %d met %d encounters, its first page said %r"
          % (i, len(ids), total))
    f = first[i]
    check(all(e in f for e in ids), "a walk met an encounter not the person's")
    top = max(f[e] for e in ids)
    expect = {e for e, s in f.items() if s <= top}
    check(set(ids) == expect, "a walk of patient %d has a gap: %d met, %d at its snapshot; "
          "missing %r" % (i, len(ids), len(expect), sorted(expect - set(ids))[:5]))

for n in nodes:
    n.stop()
out = weft_ok("audit", "verify", "--db", db)
check("ok" in out.lower() or "verified" in out.lower(), "audit verify: %r" % out)
retries = 0
for t in "AB":
    with open(os.path.join(os.environ.get("WEFT_TMP", "/tmp"), "serve%s.log" % t)) as fh:
        retries += fh.read().count("met another writer")
print("ok: %d messages from %d senders to 2 nodes x 2 writers in %.1f s (%d batches retried), "
      "%d walks of the pages" % (sent, SENDERS, elapsed, retries, len(walks)))
