#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""analytics_stored.py - the analytics pages read stored figures (docs/ANALYTICS.md,
"Stored figures and weft analytics refresh").

Stays arrive as HL7 v2 ADT over real MLLP.  `weft analytics refresh --as-of D`
computes every secondary output in one scan and stores each output's figures
for its default window; then:

- each stored output (flow, readmissions, ae, inpatients, service on the pages;
  population and frailty through the command) is byte for byte what
  `weft analytics secondary` computes on its own for the same window: the one
  pass computes the same figures as separate passes;
- the pages show the refresh's figures with its computed-at time and record no
  new output per view (nothing is recomputed on a view);
- stale figures are replaced: after more stays arrive, the page still shows
  (and says when it computed) the stored figures until the next refresh, which
  recomputes every stored window, after which the page equals the command's
  new output;
- figures computed with an older opt-out list are never shown: after a new
  list leaves out three people, the page's figures are the command's under the
  new list, not the stored ones;
- `weft serve --analytics-refresh 1` refreshes on a schedule: stays sent over
  MLLP to that server reach the page's stored figures without a command.
"""
import html
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, check, msh, new_db, nhs, org, run,  # noqa: E402
                           start, weft_ok)
from api_harness import TMP, Server  # noqa: E402
from access_lib import add_hs_launcher, claims, launch, sign  # noqa: E402

FAC = "RVVPAS"
TO = "2026-11-14"
NUMS = []
_n = 8300
while len(NUMS) < 30:
    if nhs(_n) not in NUMS:
        NUMS.append(nhs(_n))
    _n += 1


def adt(k, ctrl, trig, cls, site, ward, visit, admit, disch=None):
    when = disch or admit
    pv1 = ["PV1", "1", cls, "%s^^^%s" % (ward, site)] + [""] * 42
    pv1[19] = visit
    pv1[44] = admit + "1000"
    if disch:
        pv1[45] = disch + "1100"
    pid = "PID|1||ST%03d^^^%s^MR~%s^^^NHS^NH||Stored^P%d||19400101|F\r" % (k, FAC, NUMS[k], k)
    return (msh(FAC, ctrl, "ADT^%s^ADT_A01" % trig, when + "1000") + "EVN|%s|%s1000\r" % (trig, when)
            + pid + "|".join(pv1) + "\r")


def send_stays(db, first, count, admit, disch, ward):
    srv = start(db)
    try:
        c = Mllp(srv.mllp_port)
        for k in range(first, first + count):
            for msg in ([adt(k, "S%dA%s" % (k, admit), "A01", "I", "KCH", ward, "V%s%03d" % (admit, k),
                             admit)]
                        + ([adt(k, "S%dD%s" % (k, admit), "A03", "I", "KCH", ward,
                                "V%s%03d" % (admit, k), admit, disch)] if disch else [])):
                ack = c.call(msg)
                check(ack_code(ack) == "AA", "ADT not applied: %r" % ack)
            # an A&E attendance the same day: the ae and readmission outputs have figures
            ack = c.call(adt(k, "S%dE%s" % (k, admit), "A03", "E", "KCH", "AE", "E%s%03d" % (admit, k),
                             admit, admit))
            check(ack_code(ack) == "AA", "ADT not applied: %r" % ack)
        c.close()
    finally:
        srv.stop()


def cleared_list(nums, name):
    path = os.path.join(TMP, name)
    open(path, "w").write("\n".join(nums) + "\n")
    import datetime
    weft_ok("optout", "import", "--db", db, "--cleared", path, "--checked",
            datetime.date.today().isoformat())


def refresh():
    rc, out, err = run("analytics", "refresh", "--db", db, "--as-of", TO)
    check(rc == 0, "refresh failed (%d): %s" % (rc, err))
    lines = out.splitlines()
    check(lines[0] == "output,window,output_id,computed,counted,excluded", "header %r" % lines[0])
    got = {}
    for ln in lines[1:]:
        name, window, oid, computed, counted, excluded = ln.split(",")
        got[(name, window)] = (oid, computed, int(counted), int(excluded))
    return got


WINDOWS = {"population": ["--as-of", TO], "frailty": ["--as-of", TO],
           "flow": ["--from", "2026-10-18", "--as-of", TO],
           "readmissions": ["--from", "2026-10-18", "--as-of", TO],
           "ae": ["--from", "2026-10-18", "--as-of", TO],
           "inpatients": ["--as-of", TO],
           "service": ["--from", "2025-12-01", "--as-of", TO]}
KEYS = {"population": "as-of=" + TO, "frailty": "as-of=" + TO,
        "flow": "from=2026-10-18 as-of=" + TO, "readmissions": "from=2026-10-18 as-of=" + TO,
        "ae": "from=2026-10-18 as-of=" + TO, "inpatients": "at=%sT23:59" % TO,
        "service": "from=2025-12-01 as-of=" + TO}
PAGE = {"flow": "/analytics/flow?format=csv&output=flow&as-of=" + TO,
        "readmissions": "/analytics/flow?format=csv&output=readmissions&as-of=" + TO,
        "ae": "/analytics/flow?format=csv&output=ae&as-of=" + TO,
        "inpatients": "/analytics/flow?format=csv&output=inpatients&as-of=" + TO,
        "service": "/analytics/service?format=csv&as-of=" + TO}


def command(o):
    rc, out, err = run("analytics", "secondary", "--db", db, "--output", o, *WINDOWS[o])
    check(rc == 0, "secondary %s failed (%d): %s" % (o, rc, err))
    return out


def compliance_rows():
    rc, comp, err = run("analytics", "compliance", "--db", db)
    check(rc == 0, "compliance: %s %s" % (comp, err))
    return comp.splitlines()[1:]


db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", FAC)
send_stays(db, 0, 12, "20261102", "20261106", "AMU")
cleared_list(NUMS, "cleared1.txt")

got = refresh()
for o, key in KEYS.items():
    check((o, key) in got, "refresh did not store %s %s: %r" % (o, key, sorted(got)))
check(got[("flow", KEYS["flow"])][2] == 12, "flow counted %r" % (got[("flow", KEYS["flow"])],))
# one pass, every output recorded for the compliance report
rows = {ln.split(",")[0]: ln for ln in compliance_rows()}
for o, key in KEYS.items():
    oid = got[(o, key)][0]
    check(oid in rows and rows[oid].endswith(",0"), "refresh output %s %s not compliant" % (o, oid))
# the one pass computes what each output's own pass computes
first = {o: command(o) for o in WINDOWS}
before_views = len(compliance_rows())

secret = add_hs_launcher(db, "sys-RVV", "RVV", "iss-RVV")


def session(web, sub):
    tok = sign({"alg": "HS256"}, claims("iss-RVV", sub, "ANALYST", "RVV", NUMS[0]), "HS256", secret)
    st, _, body, ck = launch(web, tok)
    check(st in (200, 303) and ck, "launch: %d %r" % (st, body[:300]))
    return {"Cookie": "weft_session=" + ck}


def page_csv(web, cookie, o):
    st, _, body = web.request("GET", PAGE[o], headers=cookie, raw=True)
    check(st == 200, "%s page csv %d %r" % (o, st, body[:300]))
    return body.decode()


web = Server(db, tag="web")
cookie = session(web, "analyst-1")
for o in PAGE:
    check(page_csv(web, cookie, o) == first[o], "stored %s differs from the command's:\n%s\n---\n%s"
          % (o, page_csv(web, cookie, o), first[o]))
st, _, page = web.request("GET", "/analytics/flow?as-of=" + TO, headers=cookie, raw=True)
page = page.decode()
flow_computed = got[("flow", KEYS["flow"])][1]
check(st == 200 and 'Computed at <time datetime="%s">' % flow_computed in page,
      "flow page not the refresh's figures (computed %s): %s" % (flow_computed, page[:800]))
st, _, spage = web.request("GET", "/analytics/service?as-of=" + TO, headers=cookie, raw=True)
check(st == 200 and ('Computed at <time datetime="%s">' % got[("service", KEYS["service"])][1])
      in spage.decode(), "service page not the refresh's figures")
web.stop()
check(len(compliance_rows()) == before_views,
      "views recorded outputs: the pages computed instead of reading the stored figures")
audit = weft_ok("audit", "list", "--db", db)
check("secondary:flow from=2026-10-18 as-of=%s output=%s" % (TO, got[("flow", KEYS["flow"])][0])
      in audit, "flow view not audited with the refresh's output")

# ---- stale figures: more stays arrive; the next refresh replaces what is stored --------
# a ward whose name has a comma and a quote: the stored CSV quotes it, the page must read it back
ODD = 'ELD"B,C'
send_stays(db, 12, 9, "20261103", None, ODD)
second = {o: command(o) for o in WINDOWS}
check(second["flow"] != first["flow"], "the new stays should change the flow figures")
web = Server(db, tag="web2")
cookie = session(web, "analyst-2")
check(page_csv(web, cookie, "flow") == first["flow"],
      "before a refresh the page shows the stored figures (and when they were computed)")
web.stop()
got2 = refresh()
check(got2[("flow", KEYS["flow"])][2] == 21, "flow counted %r" % (got2[("flow", KEYS["flow"])],))
web = Server(db, tag="web3")
cookie = session(web, "analyst-3")
for o in PAGE:
    check(page_csv(web, cookie, o) == second[o], "after the refresh %s is stale:\n%s\n---\n%s"
          % (o, page_csv(web, cookie, o), second[o]))
st, _, page = web.request("GET", "/analytics/flow?as-of=" + TO, headers=cookie, raw=True)
t = re.search(r'<table class="nhsuk-table" id="admissions">(.*?)</table>', page.decode(), re.S)
rows = re.findall(r'<tr[^>]*><th scope="row"[^>]*>(.*?)</th><td[^>]*>(.*?)</td>(.*?)</tr>',
                  t.group(1) if t else "", re.S)
odd = [r for r in rows if html.unescape(r[0]) == "KCH" and html.unescape(r[1]) == ODD]
check(st == 200 and len(odd) == 1 and re.search(r'data-period="2026-11-03">10<', odd[0][2]),
      "the stored figures of ward %r not read back onto the page: %r" % (ODD, rows))
web.stop()

# a window only a page asked for is stored, and the next refresh recomputes it too
web = Server(db, tag="web4")
cookie = session(web, "analyst-4")
st, _, b = web.request("GET", "/analytics/flow?format=csv&from=2026-11-01&as-of=2026-11-10",
                       headers=cookie, raw=True)
check(st == 200, "custom window %d" % st)
web.stop()
got3 = refresh()
check(("flow", "from=2026-11-01 as-of=2026-11-10") in got3,
      "refresh did not recompute the stored window: %r" % sorted(got3))

# ---- a newer opt-out list: figures that counted people it leaves out are not shown ------
cleared_list(NUMS[3:], "cleared2.txt")
third = {o: command(o) for o in WINDOWS}
check(third["flow"] != second["flow"], "the new list should change the flow figures")
web = Server(db, tag="web5")
cookie = session(web, "analyst-5")
for o in PAGE:
    check(page_csv(web, cookie, o) == third[o],
          "%s shown from figures computed with the old opt-out list:\n%s\n---\n%s"
          % (o, page_csv(web, cookie, o), third[o]))
web.stop()

# ---- weft serve --analytics-refresh: the stored figures kept up to date on a schedule -----
import time  # noqa: E402
srv = start(db, "--analytics-refresh", "1", tag="sched")
try:
    cookie = session(srv, "analyst-6")
    c = Mllp(srv.mllp_port)
    for k in range(21, 27):
        ack = c.call(adt(k, "S%dA4" % k, "A01", "I", "KCH", "CCU", "V4%03d" % k, "20261104"))
        check(ack_code(ack) == "AA", "ADT not applied: %r" % ack)
    c.close()
    fourth = command("flow")
    check(fourth != third["flow"], "the new stays should change the flow figures")
    end = time.time() + 90
    shown = None
    while time.time() < end:
        shown = page_csv(srv, cookie, "flow")
        if shown == fourth:
            break
        time.sleep(0.5)
    check(shown == fourth, "the scheduled refresh did not bring the stored figures up to date:\n%s"
          "\n---\n%s" % (shown, fourth))
finally:
    srv.stop()
check(any(",serve:analytics-refresh," in ln for ln in compliance_rows()),
      "the scheduled refresh's outputs are not in the compliance report")
check(all(ln.endswith(",0") for ln in compliance_rows()), "someone outside a list was counted")
print("ok")
