#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_truthful.py - truthful message lists and counts (issue 15), end to end
over a real MLLP socket, the weft commands and GET /admin/feeds.

The new user's session from the issue, replayed:
  - a message with a broken MSH ('MSH|^~&|PAS|RVVPAS|...': three encoding
    characters) is refused, and `weft feed messages --outcome rejected` files
    it under the feed its readable MSH-4 names, with its readable MSH-9 and
    MSH-10 (was: '(unregistered)', control id 'P', type 'RTE0003');
  - messages from a sender registered only afterwards, replayed into the new
    feed: `feed status` has them received (a last arrival, not 'never') and
    applied once each, the unregistered counters drop them;
  - after a correct-and-resubmit too, `feed status` and /admin/feeds give
    the same counts for every feed (received = applied + rejected + duplicate);
  - `weft feed messages` lists newest first with a limit that keeps the
    newest, pages with --before, and --oldest-first / --after flip it."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, ack_code, ack_control, adt, check, new_db, nhs, org,  # noqa: E402
                           reader_token, run, start, weft_ok)

db = new_db()
org(db, "RVV", "acute")
org(db, "RWF", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVPAS")
reader = reader_token(db)

broken = ("MSH|^~&|PAS|RVVPAS|WEFT|WEFT|20261124101500||ADT^A01^ADT_A01|RTE0003|P|2.5\r"
          "EVN|A01|20261124101500\r"
          "PID|1||H900^^^RVVPAS^MR~%s^^^NHS^NH||Broken^Sam||19700101|F\r"
          "PV1|1|I|WARD1^BED2^^RVVPAS||||||||||||||||V900\r" % nhs(900))
late = [adt("RWFPAS", "LATE%d" % i, "A01", "W%d" % i, nhs(910 + i), visit="LV%d" % i)
        for i in range(2)]
srv = start(db, "--drop-interval", "0")
m = Mllp(srv.mllp_port)
ack = m.call(broken)
check(ack_code(ack) in ("AE", "AR") and ack_control(ack) == "RTE0003",
      "the broken MSH was not refused with its control id: %r" % ack)
for msg in late:
    ack = m.call(msg)
    check(ack_code(ack) == "AR", "an unregistered sender was not refused: %r" % ack)
# the RVV feed's applied messages, sent one by one (arrival order = id order)
for i in range(5):
    ack = m.call(adt("RVVPAS", "OK%d" % i, "A01", "H%d" % i, nhs(920 + i), visit="V%d" % i))
    check(ack_code(ack) == "AA", "OK%d: %r" % (i, ack))
m.close()
srv.stop()

# ---- the broken MSH is filed under its readable MSH-4, with MSH-9/MSH-10 -----------------
rej = json.loads(weft_ok("feed", "messages", "--db", db, "--outcome", "rejected", "--json"))
b = [r for r in rej if r["control_id"] == "RTE0003"]
check(len(b) == 1, "the broken message is not listed by its control id: %r" % rej)
b = b[0]
check(b.get("feed") == "rvv-hl7v2" and (b.get("type") or "").startswith("ADT^A01"),
      "the broken message: %r" % b)
rc, out, err = run("feed", "messages", "--db", db, "--outcome", "rejected")
row = [ln for ln in out.splitlines() if "RTE0003" in ln]
check(rc == 0 and len(row) == 1 and "rvv-hl7v2" in row[0] and "ADT^A01" in row[0] and
      "(unregistered)" not in row[0], "text listing: %s" % out)

# ---- replay into a feed registered afterwards -----------------------------------------------
unreg = [r for r in rej if r["control_id"] in ("LATE0", "LATE1")]
check(len(unreg) == 2 and all(r.get("feed") in (None, "(unregistered)") for r in unreg),
      "the unregistered sender's messages: %r" % unreg)
weft_ok("feed", "add", "--db", db, "--org", "RWF", "--kind", "hl7v2", "--facility", "RWFPAS")
for r in unreg:
    rc, out, err = run("feed", "replay", "--db", db, "--id", str(r["id"]))
    check(rc == 0 and "applied" in out, "replay %d: %d %s %s" % (r["id"], rc, out, err))


def status():
    st = json.loads(weft_ok("feed", "status", "--db", db, "--json"))
    return {f["name"]: f for f in st["feeds"]}, st["unregistered"]["total"]


feeds, unr = status()
rwf = feeds["rwf-hl7v2"]
check(rwf["total"]["received"] == 2 and rwf["total"]["applied"] == 2 and
      rwf["total"]["rejected"] == 0 and rwf.get("last_received"),
      "the replayed feed's counts: %r" % rwf)
check(unr["received"] == 0 and unr["rejected"] == 0, "unregistered counts after replay: %r" % unr)
rc, out, err = run("feed", "status", "--db", db)
line = [ln for ln in out.splitlines() if ln.startswith("rwf-hl7v2")]
check(rc == 0 and len(line) == 1 and "never" not in line[0], "text status: %s" % out)

# ---- correct and resubmit the broken message ------------------------------------------------
fixed = os.path.join(TMP, "fixed.hl7")
with open(fixed, "w") as f:
    f.write(broken.replace("^~&|", "^~\\&|", 1))
rc, out, err = run("feed", "resubmit", "--db", db, "--id", str(b["id"]), "--file", fixed,
                   "--by", "engineer-1")
check(rc == 0 and "applied" in out, "resubmit: %d %s %s" % (rc, out, err))
# and replay one applied message (its outcome is replaced, not added to)
weft_ok("feed", "replay", "--db", db, "--feed", "rvv-hl7v2", "--outcome", "applied", "--limit", "1")

feeds, unr = status()
rvv = feeds["rvv-hl7v2"]["total"]
# 1 broken + 5 + the corrected copy; the broken original stays rejected
check(rvv["received"] == 7 and rvv["applied"] == 6 and rvv["rejected"] == 1,
      "rvv counts after resubmit and replay: %r" % rvv)
srv = start(db, "--drop-interval", "0")
try:
    st, _, web = srv.request("GET", "/admin/feeds", token=reader)
finally:
    srv.stop()
check(st == 200, "/admin/feeds: %d" % st)
webf = {f["name"]: f for f in web["feeds"]}
for name, f in feeds.items():
    t, w = f["total"], webf[name]["total"]
    for k in ("received", "applied", "rejected", "duplicate"):
        check(t[k] == w[k], "%s %s: feed status %r, /admin/feeds %r" % (name, k, t[k], w[k]))
    check(t["received"] == t["applied"] + t["rejected"] + t["duplicate"],
          "%s: received is not applied + rejected + duplicate: %r" % (name, t))
    check(f.get("last_received") == webf[name].get("last_received"),
          "%s last received: %r / %r" % (name, f.get("last_received"),
                                        webf[name].get("last_received")))
check(web["unregistered"]["total"]["received"] == unr["received"], "unregistered: %r" % web)

# ---- newest first, paging, --oldest-first ---------------------------------------------------
allm = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json",
                          "--limit", "1000"))
ids = [r["id"] for r in allm]
check(len(ids) == 7 and ids == sorted(ids, reverse=True), "not newest first: %r" % ids)
rc, out, err = run("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json", "--limit", "3")
page1 = [r["id"] for r in json.loads(out)]
check(rc == 0 and page1 == ids[:3] and ("--before %d" % ids[2]) in err,
      "first page keeps the newest: %r (%s)" % (page1, err))
rc, out, err = run("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json", "--limit", "3",
                   "--before", str(page1[-1]))
page2 = [r["id"] for r in json.loads(out)]
check(rc == 0 and page2 == ids[3:6], "second page: %r of %r" % (page2, ids))
rc, out, err = run("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json", "--limit", "3",
                   "--oldest-first")
old = [r["id"] for r in json.loads(out)]
asc = sorted(ids)
check(rc == 0 and old == asc[:3] and ("--after %d" % asc[2]) in err, "oldest first: %r" % old)
rc, out, err = run("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json", "--limit", "3",
                   "--oldest-first", "--after", str(old[-1]))
check(rc == 0 and [r["id"] for r in json.loads(out)] == asc[3:6], "--after: %s" % out)
rc, out, err = run("feed", "messages", "--db", db, "--before", "5", "--oldest-first")
check(rc != 0 and "--before" in err, "--before with --oldest-first: %d %s" % (rc, err))
print("ok: the broken MSH filed under its MSH-4 with its MSH-9/10; replayed and resubmitted "
      "messages counted once, feed status and /admin/feeds agree; lists newest first, paged")
