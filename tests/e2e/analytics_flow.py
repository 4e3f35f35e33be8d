#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""analytics_flow.py - `weft analytics secondary --output flow` (docs/ANALYTICS.md,
"Patient flow") over stays that arrived as HL7 v2 ADT through real MLLP.

Inpatient stays at two sites and four wards (A01 then A03, one still in),
an A&E attendance (not a stay), and one person not on the opt-out list whose
stay would change the figures.  Every figure printed is checked against the
raw counts this test works out from the messages it sent: counts of 1-7 are
"*", every other shown value is the raw count rounded to the nearest 5, no
row or column of a table has exactly one "*" (secondary suppression), and the
designed-in cells are shown with their values; the person who is not cleared
is not counted; an expired list stops the output.

The page /analytics/flow (a real server, staff launched by a registered host
system): an ANALYST sees the same figures - its CSV download is byte for
byte the command's output, every table cell on the page is the CSV's value -
with the admissions chart and the length-of-stay histogram (SVG with title,
and its table alternative); a bad window is refused with the form and the
error; a clinician (no secondary-use) is refused; views are audited and
recorded for the compliance report; axe-core in Chromium finds no serious
or critical violation; after the list expires the page refuses, saying why."""
import collections
import datetime
import html
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, check, msh, new_db, nhs, org, run,  # noqa: E402
                           start, weft_ok)
from api_harness import TMP, Server, axe_page, db_rows, fail  # noqa: E402
from access_lib import add_hs_launcher, claims, launch, sign  # noqa: E402

FAC = "RVVPAS"
FROM, TO = datetime.date(2026, 11, 1), datetime.date(2026, 11, 14)

# (site, ward, admitted, discharged or None, cleared)
stays = []
for i in range(12):  # KCH/AMU: 12 admitted on the 2nd, out on the 6th
    stays.append(("KCH", "AMU", "20261102", "20261106", True))
for i in range(9):  # KCH/ELDER: 9 admitted on the 1st, out on the 13th
    stays.append(("KCH", "ELDER", "20261101", "20261113", True))
for i in range(3):  # KCH/CCU: 3 admitted on the 3rd, out on the 5th
    stays.append(("KCH", "CCU", "20261103", "20261105", True))
for i in range(2):  # QEQM/WARD7: 2 admitted on the 4th, still in
    stays.append(("QEQM", "WARD7", "20261104", None, True))
# not cleared by the opt-out check: would make AMU's admissions on the 2nd 13 (15, not 10)
stays.append(("KCH", "AMU", "20261102", "20261106", False))
UNCLEARED = len(stays) - 1

# A&E attendances (person, day, visit): every AMU patient came through A&E at
# KCH on the 2nd (admitted the same day), and persons 0-9 and the uncleared
# one again on the 10th, each then admitted to AMU that day (still in): an
# emergency readmission 4 days after the discharge on the 6th.  Person 0's
# attendance on the 3rd (visit E001, sent below) was not followed by an
# admission.
attend = [(k, "20261102", "A%03d" % k) for k in list(range(12)) + [UNCLEARED]]
attend += [(k, "20261110", "B%03d" % k) for k in list(range(10)) + [UNCLEARED]]
# the second stays: (person, site, ward, admitted, discharged or None)
again = [(k, "KCH", "AMU", "20261110", None) for k in list(range(10)) + [UNCLEARED]]


NUMS = []  # distinct test NHS numbers (nhs(n) and nhs(n + 1) can coincide)
_n = 8000
while len(NUMS) < len(stays):
    if nhs(_n) not in NUMS:
        NUMS.append(nhs(_n))
    _n += 1


def day(s):
    return datetime.date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def pid(k):
    return "PID|1||FL%03d^^^%s^MR~%s^^^NHS^NH||Flow^P%d||19500101|F\r" % (k, FAC, NUMS[k], k)


def adt(k, ctrl, trig, cls, site, ward, visit, admit, disch=None):
    when = disch or admit
    pv1 = ["PV1", "1", cls, "%s^^^%s" % (ward, site)] + [""] * 42
    pv1[19] = visit
    pv1[44] = admit + "1000"
    if disch:
        pv1[45] = disch + "1100"
    return (msh(FAC, ctrl, "ADT^%s^ADT_A01" % trig, when + "1000") + "EVN|%s|%s1000\r" % (trig, when)
            + pid(k) + "|".join(pv1) + "\r")


db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", FAC)
srv = start(db)
try:
    c = Mllp(srv.mllp_port)
    n = 0

    def send(msg):
        global n
        n += 1
        ack = c.call(msg)
        check(ack_code(ack) == "AA", "ADT not applied: %r" % ack)

    for k, (site, ward, a, d, _) in enumerate(stays):
        send(adt(k, "F%dA" % k, "A01", "I", site, ward, "V%03d" % k, a))
        if d:
            send(adt(k, "F%dD" % k, "A03", "I", site, ward, "V%03d" % k, a, d))
    # an A&E attendance by person 0: an Encounter, not an inpatient stay
    send(adt(0, "FE1", "A03", "E", "KCH", "AE", "E001", "20261103", "20261103"))
    for k, d, visit in attend:
        send(adt(k, "F%s" % visit, "A03", "E", "KCH", "AE", visit, d, d))
    for k, site, ward, a, d in again:
        send(adt(k, "F%dR" % k, "A01", "I", site, ward, "R%03d" % k, a))
    c.close()
finally:
    srv.stop()

cleared = [NUMS[k] for k, s in enumerate(stays) if s[4]]
open(os.path.join(TMP, "cleared.txt"), "w").write("\n".join(cleared) + "\n")
today = datetime.date.today().isoformat()
weft_ok("optout", "import", "--db", db, "--cleared", os.path.join(TMP, "cleared.txt"),
        "--checked", today)

rc, out, err = run("analytics", "secondary", "--db", db, "--output", "flow", "--from",
                   FROM.isoformat(), "--as-of", TO.isoformat())
check(rc == 0, "flow failed (%d): %s" % (rc, err))
check("%d people counted, 1 not cleared" % len(cleared) in err, "stderr counts: %s" % err)
lines = out.splitlines()
check(lines[0] == "measure,site,ward,period,value", "header %r" % lines[0])
shown = {}
for ln in lines[1:]:
    m, site, ward, period, value = ln.split(",")
    check((m, site, ward, period) not in shown, "line twice: %s" % ln)
    shown[(m, site, ward, period)] = value

# ---- the raw figures, from the messages sent (cleared people only) -------------
days = [FROM + datetime.timedelta(i) for i in range((TO - FROM).days + 1)]
raw = {m: collections.Counter() for m in ("admissions", "discharges", "occupancy", "los")}
BANDS = [("0", 0, 0), ("1", 1, 1), ("2-3", 2, 3), ("4-7", 4, 7), ("8-14", 8, 14),
         ("15-21", 15, 21), ("22+", 22, 10 ** 6)]
lengths = collections.defaultdict(list)
wards = set()
all_stays = [(k, site, ward, a, d, ok) for k, (site, ward, a, d, ok) in enumerate(stays)]
all_stays += [(k, site, ward, a, d, stays[k][4]) for k, site, ward, a, d in again]
for _k, site, ward, a, d, ok in all_stays:
    if not ok:
        continue
    wards.add((site, ward))
    a, d = day(a), day(d) if d else None
    if FROM <= a <= TO:
        raw["admissions"][(site, ward, a.isoformat())] += 1
    if d and FROM <= d <= TO:
        raw["discharges"][(site, ward, d.isoformat())] += 1
        los = (d - a).days
        lengths[(site, ward)].append(los)
        band = [b for b, lo, hi in BANDS if lo <= los <= hi][0]
        raw["los"][(site, ward, band)] += 1
    for x in days:  # in a bed at midnight: admitted by then, not yet discharged
        if a <= x and (d is None or d > x):
            raw["occupancy"][(site, ward, x.isoformat())] += 1


def shown_ok(value, count, what):
    if 1 <= count <= 7:
        check(value == "*", "%s: count %d shown as %r" % (what, count, value))
    elif value != "*":
        check(int(value) == (count + 2) // 5 * 5, "%s: count %d shown as %r" % (what, count, value))


for m in ("admissions", "discharges", "occupancy", "los"):
    periods = [b for b, _, _ in BANDS] if m == "los" else [x.isoformat() for x in days]
    grid = {}
    for site, ward in sorted(wards) + [("total", "total")]:
        row = []
        for p in periods + ["total"]:
            if site == "total":
                cnt = sum(raw[m][(s, w, p)] for s, w in wards) if p != "total" else \
                    sum(raw[m].values())
            else:
                cnt = raw[m][(site, ward, p)] if p != "total" else \
                    sum(raw[m][(site, ward, q)] for q in periods)
            key = (m, site, ward, p)
            check(key in shown, "%s missing" % (key,))
            shown_ok(shown[key], cnt, str(key))
            row.append(shown[key])
        grid[(site, ward)] = row
    # no row or column with exactly one suppressed entry
    for r, row in grid.items():
        check(row.count("*") != 1, "%s row %s gives a suppressed cell away: %r" % (m, r, row))
    for j in range(len(periods) + 1):
        col = [row[j] for row in grid.values()]
        check(col.count("*") != 1, "%s column %d gives a suppressed cell away: %r" % (m, j, col))

# the designed-in figures: with the opted-out person these would be 15, not 10
check(shown[("admissions", "KCH", "AMU", "2026-11-02")] == "10",
      "AMU admissions on the 2nd: %r" % shown[("admissions", "KCH", "AMU", "2026-11-02")])
check(shown[("occupancy", "KCH", "AMU", "2026-11-02")] == "10", "AMU occupancy on the 2nd")
check(shown[("admissions", "KCH", "CCU", "2026-11-03")] == "*", "CCU's 3 admissions not suppressed")
check(shown[("los", "KCH", "AMU", "4-7")] == "10", "AMU 4-7 day stays")
check(shown[("los", "KCH", "AMU", "median")] == "4.0", "AMU median %r"
      % shown[("los", "KCH", "AMU", "median")])
check(shown[("los", "KCH", "AMU", "over-7")] == "0", "AMU stays over 7 days")
check(shown[("los", "KCH", "ELDER", "over-7")] == "10", "ELDER stays over 7 days (9)")
check(shown[("los", "KCH", "ELDER", "over-14")] == "0", "ELDER stays over 14 days")
check(shown[("los", "KCH", "ELDER", "median")] == "12.0", "ELDER median")
check(shown[("los", "KCH", "CCU", "median")] == "*", "CCU median of 3 stays shown")
check(shown[("los", "QEQM", "WARD7", "median")] == "", "WARD7 has no discharges")
check(not any(w == "AE" for (_, _, w, _) in shown), "the A&E attendance counted as a stay")
check(shown[("occupancy", "QEQM", "WARD7", "2026-11-14")] == "*", "WARD7 still in")

# the compliance report: the flow output used the list, nobody outside it counted
rc, comp, err = run("analytics", "compliance", "--db", db)
check(rc == 0, "compliance: %s %s" % (comp, err))
check(comp.splitlines()[-1].split(",")[1] == "flow" and comp.strip().endswith(",%d,1,0"
      % len(cleared)), "compliance row %r" % comp.splitlines()[-1])

# ---- readmissions, A&E and inpatients (the same stays and attendances) ------------
def long_form(text, nkeys):
    rows = text.splitlines()
    fig = {}
    for ln in rows[1:]:
        parts = ln.split(",")
        check(len(parts) == nkeys + 3, "bad line %r" % ln)
        check(tuple(parts[:-1]) not in fig, "line twice: %s" % ln)
        fig[tuple(parts[:-1])] = parts[-1]
    return rows[0], fig


def table_ok(fig, m, rowkeys, periods, raw, row_total=True):
    """Every cell of measure m (rows rowkeys, then the totals) is its raw
    count suppressed and rounded, and no row or column has exactly one '*'."""
    nk = len(rowkeys[0])
    grid = []
    for rk in list(rowkeys) + [("total",) * nk]:
        row = []
        for p in periods + (["total"] if row_total else []):
            keys = [r for r in rowkeys] if rk[0] == "total" else [rk]
            ps = periods if p == "total" else [p]
            cnt = sum(raw.get((k, q), 0) for k in keys for q in ps)
            key = (m,) + rk + (p,)
            check(key in fig, "%s missing" % (key,))
            shown_ok(fig[key], cnt, str(key))
            row.append(fig[key])
        grid.append(row)
    for row in grid:
        check(row.count("*") != 1, "%s row %r gives a suppressed cell away" % (m, row))
    for j in range(len(grid[0])):
        col = [row[j] for row in grid]
        check(col.count("*") != 1, "%s column %d gives a suppressed cell away: %r" % (m, j, col))


def rate_ok(fig, m, num, den, rowkeys, periods):
    """A ratio from the shown figures: '*' when either is withheld."""
    nk = len(rowkeys[0])
    for rk in list(rowkeys) + [("total",) * nk]:
        for p in periods + ["total"]:
            n, d = fig[(num,) + rk + (p,)], fig[(den,) + rk + (p,)]
            want = "*" if "*" in (n, d) else "" if d == "0" else "%.1f" % (
                int((int(n) * 1000 + int(d) // 2) // int(d)) / 10)
            check(fig[(m,) + rk + (p,)] == want, "%s %s %s: %r, want %r"
                  % (m, rk, p, fig[(m,) + rk + (p,)], want))


person_stays = collections.defaultdict(list)  # cleared people's stays: (site, admitted, discharged)
for k, site, ward, a, d, ok in all_stays:
    if ok:
        person_stays[k].append((site, ward, day(a), day(d) if d else None))
ae_days = collections.defaultdict(set)
visits = attend + [(0, "20261103", "E001")]
for k, d, _ in visits:
    if stays[k][4]:
        ae_days[k].add(day(d))


def emergency(k, a):
    return any(a == x or a == x + datetime.timedelta(1) for x in ae_days[k])


raw_dis, raw_read = collections.Counter(), collections.Counter()
for k, sts in person_stays.items():
    for i, (site, _w, a, d) in enumerate(sts):
        if d and FROM <= d <= TO:
            raw_dis[((site,), d.strftime("%Y-%m"))] += 1
            if any(j != i and emergency(k, a2) and d <= a2 <= d + datetime.timedelta(30) and a2 <= TO
                   for j, (_s, _w2, a2, _d2) in enumerate(sts)):
                raw_read[((site,), d.strftime("%Y-%m"))] += 1
rc, out_ra, err = run("analytics", "secondary", "--db", db, "--output", "readmissions", "--from",
                      FROM.isoformat(), "--as-of", TO.isoformat())
check(rc == 0, "readmissions failed (%d): %s" % (rc, err))
head, ra = long_form(out_ra, 1)
check(head == "measure,site,period,value", "readmissions header %r" % head)
sites = sorted({k[0] for k, _ in raw_dis})
table_ok(ra, "discharges", [(x,) for x in sites], ["2026-11"], raw_dis)
table_ok(ra, "readmissions", [(x,) for x in sites], ["2026-11"], raw_read)
rate_ok(ra, "rate", "readmissions", "discharges", [(x,) for x in sites], ["2026-11"])
# 24 cleared discharges at KCH, 10 readmitted within 30 days (the uncleared one not counted)
check(ra[("discharges", "KCH", "2026-11")] == "25" and ra[("readmissions", "KCH", "2026-11")] == "10"
      and ra[("rate", "KCH", "2026-11")] == "40.0", "KCH readmissions: %r" % out_ra)

raw_att, raw_adm = collections.Counter(), collections.Counter()
for k, d, _ in visits:
    if not stays[k][4]:
        continue
    d = day(d)
    adm = any((a == d or a == d + datetime.timedelta(1)) and a <= TO for _s, _w, a, _x in person_stays[k])
    for per in (d.isoformat(), d.strftime("%Y-%m")):
        raw_att[(("KCH",), per)] += 1
        raw_adm[(("KCH",), per)] += adm
rc, out_ae, err = run("analytics", "secondary", "--db", db, "--output", "ae", "--from",
                      FROM.isoformat(), "--as-of", TO.isoformat())
check(rc == 0, "ae failed (%d): %s" % (rc, err))
head, ae = long_form(out_ae, 1)
check(head == "measure,site,period,value", "ae header %r" % head)
dlist = [x.isoformat() for x in days]
table_ok(ae, "attendances", [("KCH",)], dlist, raw_att)
table_ok(ae, "admitted", [("KCH",)], dlist, raw_adm)
rate_ok(ae, "share-admitted", "admitted", "attendances", [("KCH",)], dlist)
table_ok(ae, "attendances-monthly", [("KCH",)], ["2026-11"], raw_att)
table_ok(ae, "admitted-monthly", [("KCH",)], ["2026-11"], raw_adm)
rate_ok(ae, "share-admitted-monthly", "admitted-monthly", "attendances-monthly", [("KCH",)],
        ["2026-11"])
check(ae[("attendances", "KCH", "2026-11-02")] == "10" and ae[("admitted", "KCH", "2026-11-02")]
      == "10" and ae[("share-admitted", "KCH", "2026-11-02")] == "100.0", "A&E on the 2nd: %r" % out_ae)
check(ae[("admitted", "KCH", "2026-11-03")] == "0", "person 0's attendance on the 3rd admitted?")
check(ae[("attendances-monthly", "KCH", "2026-11")] == "25", "A&E in November (23 cleared)")

raw_in = collections.Counter()
for k, sts in person_stays.items():
    for site, ward, a, d in sts:
        if a <= TO and (d is None or d > TO):
            n_days = (TO - a).days
            band = "0" if n_days < 1 else "1-6" if n_days < 7 else "7-13" if n_days < 14 else \
                "14-20" if n_days < 21 else "21+"
            raw_in[((site, ward), band)] += 1
rc, out_in, err = run("analytics", "secondary", "--db", db, "--output", "inpatients", "--as-of",
                      TO.isoformat())
check(rc == 0 and "inpatients" in err, "inpatients failed (%d): %s" % (rc, err))
head, inp = long_form(out_in, 2)
check(head == "measure,site,ward,period,value", "inpatients header %r" % head)
table_ok(inp, "inpatients", sorted({k for k, _ in raw_in}), ["0", "1-6", "7-13", "14-20", "21+"],
         raw_in)
# 12 in: AMU's 10 readmitted (1-6 days) and WARD7's 2 (7-13 days); WARD7's 2 are
# withheld, and with them (secondary suppression) the figures that would give them away
check(inp[("inpatients", "total", "total", "total")] == "10" and
      inp[("inpatients", "QEQM", "WARD7", "7-13")] == "*", "inpatients: %r" % out_in)
check(not any(k[1] == "ELDER" for k in inp), "ELDER was discharged on the 13th: %r" % out_in)
rc, comp, err = run("analytics", "compliance", "--db", db)
check(rc == 0 and all(any(",%s," % o in ln and ln.endswith(",0") for ln in comp.splitlines())
                      for o in ("readmissions", "ae", "inpatients")),
      "new outputs not in the compliance report: %s" % comp)
MORE = {"readmissions": (out_ra, 1), "ae": (out_ae, 1), "inpatients": (out_in, 2)}

# ---- the page: the same figures for an analyst ------------------------------------
secret = add_hs_launcher(db, "sys-RVV", "RVV", "iss-RVV")
web = Server(db, tag="web")


def session(role, sub):
    tok = sign({"alg": "HS256"}, claims("iss-RVV", sub, role, "RVV", NUMS[0]), "HS256", secret)
    st, _, body, ck = launch(web, tok)
    check(st in (200, 303) and ck, "launch %s: %d %r" % (role, st, body[:300]))
    return ck


ck = session("ANALYST", "analyst-1")
cookie = {"Cookie": "weft_session=" + ck}
q = "from=%s&as-of=%s" % (FROM.isoformat(), TO.isoformat())
st, hd, body = web.request("GET", "/analytics/flow?format=csv&" + q, headers=cookie, raw=True)
check(st == 200 and hd.get("content-type", "").startswith("text/csv"), "page csv %d %r" % (st, hd))
check(body.decode() == out, "the page's CSV is not the command's:\n%s\n---\n%s" % (body.decode(), out))
st, _, page = web.request("GET", "/analytics/flow?" + q, headers=cookie, raw=True)
page = page.decode()
check(st == 200, "flow page %d %s" % (st, page[:500]))
# every table cell is the CSV's figure for that measure, site, ward and period
ncells = 0
for m in ("admissions", "discharges", "occupancy", "los"):
    t = re.search(r'<table class="nhsuk-table" id="%s">(.*?)</table>' % m, page, re.S)
    check(t, "no %s table on the page" % m)
    for row in re.findall(r"<tr[^>]*><th scope=\"row\"[^>]*>(.*?)</th><td[^>]*>(.*?)</td>(.*?)</tr>",
                          t.group(1), re.S):
        site, ward = html.unescape(row[0]), html.unescape(row[1])
        for period, value in re.findall(r'<td[^>]*data-period="([^"]*)">([^<]*)</td>', row[2]):
            key = (m, site, ward, html.unescape(period))
            check(key in shown, "page shows %s, not in the CSV" % (key,))
            check(html.unescape(value) == shown[key], "page %s = %r, CSV %r" % (key, value, shown[key]))
            ncells += 1
check(ncells == len(shown), "page shows %d figures, the CSV %d" % (ncells, len(shown)))
# readmissions, A&E and inpatients: each CSV is the command's, each table cell the CSV's
for o, (want, nk) in MORE.items():
    st, hd, body = web.request("GET", "/analytics/flow?format=csv&output=%s&%s" % (o, q),
                               headers=cookie, raw=True)
    check(st == 200 and body.decode() == want, "page %s csv (%d):\n%s\n---\n%s"
          % (o, st, body.decode(), want))
    _, fig = long_form(want, nk)
    seen = 0
    for tid, m, tb in re.findall(r'<table class="nhsuk-table" id="(%s-[^"]+)" data-measure="([^"]+)">'
                                 r'(.*?)</table>' % o, page, re.S):
        for row in re.findall(r'<tr[^>]*><th scope="row"[^>]*>(.*?)</th>(.*?)</tr>', tb, re.S):
            keys = [html.unescape(row[0])]
            cells = re.findall(r'<td[^>]*?(?: data-period="([^"]*)")?>([^<]*)</td>', row[1])
            if nk == 2:
                keys.append(html.unescape(cells[0][1]))
                cells = cells[1:]
            for period, value in cells:
                key = (m,) + tuple(keys) + (html.unescape(period),)
                check(key in fig and fig[key] == html.unescape(value),
                      "page %s = %r, CSV %r" % (key, value, fig.get(key)))
                seen += 1
    check(seen == len(fig), "page shows %d %s figures, the CSV %d" % (seen, o, len(fig)))
check(re.search(r'<svg class="weft-chart" id="inpatients-chart"', page), "no inpatients chart")
check(re.search(r'<svg class="weft-chart" id="readmissions-chart"', page), "no readmissions chart")
st, _, b = web.request("GET", "/analytics/flow?format=csv&output=nope", headers=cookie, raw=True)
check(st == 400, "unknown output: %d" % st)
# the charts: admissions per day (line) and the length-of-stay histogram with its table
line = re.search(r'<svg class="weft-chart"[^>]*role="img"[^>]*aria-labelledby="admissions-chart-title '
                 r'admissions-chart-desc"[^>]*><title id="admissions-chart-title">Admissions per day'
                 r'(.*?)</svg>', page, re.S)
check(line, "no titled admissions-per-day chart")
plotted = sum(1 for x in days if shown[("admissions", "total", "total", x.isoformat())] != "*")
check(re.search(r'<desc id="admissions-chart-desc">%d value' % plotted, line.group(1)),
      "admissions chart should plot the %d days not withheld: %s" % (plotted, line.group(1)[:300]))
# withheld days are a gap in the line, not joined across: one polyline per run of shown days
runs = "".join("x" if shown[("admissions", "total", "total", x.isoformat())] != "*" else " "
               for x in days).split()
check(line.group(1).count("<polyline") == sum(1 for r in runs if len(r) > 1),
      "admissions line should break at withheld days (%d runs): %s" % (len(runs), line.group(1)[:600]))
los = re.search(r'<svg class="weft-chart" id="los-chart"[^>]*aria-label="([^"]*)"[^>]*>(.*?)</svg>',
                page, re.S)
check(los and "Length of stay" in los.group(1), "no labelled length-of-stay histogram")
check("<title>Length of stay" in los.group(2), "histogram without <title>")
bars = re.findall(r'<rect [^>]*><title>([^<]*) days: ([^<]*)</title>', los.group(2))
want = [(b, shown[("los", "total", "total", b)]) for b, _, _ in BANDS
        if shown[("los", "total", "total", b)] != "*"]
check(bars == want, "histogram bars %r, CSV %r" % (bars, want))
alt = re.search(r'<table class="nhsuk-table" id="los-chart-table">(.*?)</table>', page, re.S)
check(alt, "histogram has no table alternative")
alt_rows = re.findall(r'<th scope="row"[^>]*>([^<]*)</th><td[^>]*>([^<]*)</td>', alt.group(1))
check(alt_rows == [(b, shown[("los", "total", "total", b)]) for b, _, _ in BANDS],
      "histogram table %r" % alt_rows)
check(re.search(r"Computed at <time", page), "computed-at time missing")
# a bad window: the form again, with the error, nothing computed
for bad, says in (("from=2026-11-20&as-of=2026-11-14", "on or before the last day"),
                  ("from=2026-02-30&as-of=2026-11-14", "first day must be a real date"),
                  ("from=2025-01-01&as-of=2026-11-14", "at most 365 days"),
                  ("as-of=14/11/2026", "last day must be a real date")):
    st, _, b = web.request("GET", "/analytics/flow?" + bad, headers=cookie, raw=True)
    b = b.decode()
    check(st == 400 and says in b and 'aria-invalid="true"' in b and "<form" in b,
          "bad window %s: %d %s" % (bad, st, b[b.find("<main"):][:1500]))
# axe-core in Chromium on the page
axe_views = axe_page("http://127.0.0.1:%d/analytics/flow?%s" % (web.port, q), ck,
                     os.path.join(TMP, "flow-page.png"))
# a clinician (no secondary-use) is refused, page and CSV
doc = {"Cookie": "weft_session=" + session("R8000", "doc-1")}
for path in ("/analytics/flow", "/analytics/flow?format=csv"):
    st, _, b = web.request("GET", path, headers=doc, raw=True)
    check(st == 403 and b"admissions" not in b, "clinician got %s: %d" % (path, st))
web.stop()
audit = weft_ok("audit", "list", "--db", db)
check(audit.count("secondary:flow from=2026-11-01 as-of=2026-11-14") == 2 + axe_views,
      "page views not audited:\n" + audit[-2000:])
check("secondary-use" in audit or "may not see secondary-use" in audit,
      "the clinician's refusal not audited:\n" + audit[-2000:])
rc, comp, err = run("analytics", "compliance", "--db", db)
# every view names the recorded output its figures are (in the compliance report, nobody
# outside the list); the page's figures are computed once for the window and then read
# from the store: the command's output and the first view's, not one per view
viewed = set(re.findall(r"secondary:flow from=2026-11-01 as-of=2026-11-14 output=(\d+)", audit))
flow_rows = {ln.split(",")[0]: ln for ln in comp.splitlines()[1:] if ",flow," in ln}
check(rc == 0 and viewed and all(v in flow_rows and flow_rows[v].endswith(",0") for v in viewed),
      "page outputs not in the compliance report: %s %s %s" % (viewed, comp, err))
check(len(flow_rows) == 2, "flow outputs recorded: %d (command and first view)" % len(flow_rows))

# the list expires: no flow figures
db_rows(db, "UPDATE optout_list SET expires = '2000-01-31'")
rc, out, err = run("analytics", "secondary", "--db", db, "--output", "flow")
check(rc == 1 and out == "" and "expired on 2000-01-31" in err, "expired list: %d %r %r"
      % (rc, out, err))
rc, out, err = run("analytics", "secondary", "--db", db, "--output", "flow", "--from", "2026-11-20",
                   "--as-of", "2026-11-14")
check(rc == 2 and "--from must be on or before --as-of" in err, "bad window: %d %r" % (rc, err))
rc, out, err = run("analytics", "secondary", "--db", db, "--output", "population", "--from",
                   "2026-11-01")
check(rc == 2 and "--from applies to the flow, readmissions, ae and service outputs only" in err,
      "--from on population: %d %r" % (rc, err))
rc, out, err = run("analytics", "secondary", "--db", db, "--output", "inpatients", "--from",
                   "2026-11-01")
check(rc == 2 and "--from applies to the flow" in err, "--from on inpatients: %d %r" % (rc, err))
# ... and the page refuses too, saying why
web = Server(db, tag="web2")
cookie = {"Cookie": "weft_session=" + session("ANALYST", "analyst-2")}
st, _, b = web.request("GET", "/analytics/flow", headers=cookie, raw=True)
check(st == 409 and b"expired on 2000-01-31" in b and b"<table" not in b,
      "expired list, page: %d %s" % (st, b[:400]))
st, _, b = web.request("GET", "/analytics/flow?format=csv", headers=cookie, raw=True)
check(st == 409 and b"measure,site" not in b, "expired list, csv: %d" % st)
web.stop()
print("ok (%d ADT messages)" % n)
