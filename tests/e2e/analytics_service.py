#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""analytics_service.py - service management (docs/ANALYTICS.md, "Service
management"): `weft analytics secondary --output service` and the page
/analytics/service over activity that arrived the ways it does in a region:

- HL7 v2 over real MLLP from the hospital (RVV): clinic visits (ADT A04,
  class O) and appointments (SIU S12, SCH-25 Complete or Noshow, the clinic
  in AIL-3);
- FHIR transactions over HTTP: social care services (EpisodeOfCare managed by
  KCC) and referrals (ServiceRequest from the community trust RYY to RVV).

One person not on the opt-out list has an attended appointment that would
move a figure from 10 to 15.  Every figure printed is checked against counts
this test works out from what it sent: 1-7 shown as "*", others rounded to
the nearest 5, no row or column with exactly one "*", services open and
caseloads without a row total; the page's CSV is the command's, every table
cell the CSV's, with the chart; axe-core finds no serious or critical
violation; a clinician is refused; views are audited and in the compliance
report; an expired list stops page and command."""
import collections
import html
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import Mllp, ack_code, check, msh, new_db, nhs, org, run, start, weft_ok  # noqa: E402
from api_harness import TMP, axe_page, db_rows  # noqa: E402
from access_lib import add_hs_launcher, claims, launch, sign, writer_token  # noqa: E402

FAC = "RVVPAS"
FROM, TO = "2026-10-01", "2026-11-30"
MONTHS = ["2026-10", "2026-11"]
N = 14  # persons 0-11 have activity, 12 none (not counted), 13 is not cleared
NUMS = []
_n = 8300
while len(NUMS) < N:
    if nhs(_n) not in NUMS:
        NUMS.append(nhs(_n))
    _n += 1
UNCLEARED = N - 1  # the last person

db = new_db()
org(db, "RVV", "acute")
org(db, "KCC", "social-care")
org(db, "RYY", "community")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", FAC)
tokens = {o: writer_token(db, o) for o in ("KCC", "RYY")}

raw = {m: collections.Counter() for m in
       ("encounters", "appointments-attended", "appointments-missed", "services-started",
        "services-open", "caseload", "referrals-sent", "referrals-received")}


def count(measure, orgc, service, month, person, n=1):
    if person != UNCLEARED:
        raw[measure][((orgc, service), month)] += n


def pid(k):
    return "PID|1||SV%03d^^^%s^MR~%s^^^NHS^NH||Service^P%d||19500101|F\r" % (k, FAC, NUMS[k], k)


def siu(k, ctrl, when, status):
    return (msh(FAC, ctrl, "SIU^S12^SIU_S12", when + "0800")
            + "SCH|A%s|A%s||||ROUTINE^Routine^HL70276|Diabetes review|FOLLOWUP^Follow-up^HL70277|"
              "20|min|^^20^%s0900^%s0920||||||||||||||%s\r" % (ctrl, ctrl, when, when, status)
            + pid(k) + "RGS|1\rAIL|1||DIAB1^^^RVV|||%s0900\r" % when)


def a04(k, ctrl, when):
    pv1 = ["PV1", "1", "O", "DIAB1^^^RVV"] + [""] * 42
    pv1[19] = "OP%s" % ctrl
    pv1[44] = when + "0900"
    return (msh(FAC, ctrl, "ADT^A04^ADT_A01", when + "0900") + "EVN|A04|%s0900\r" % when + pid(k)
            + "|".join(pv1) + "\r")


srv = start(db)
try:
    c = Mllp(srv.mllp_port)
    sent = 0

    def send(msg):
        global sent
        sent += 1
        ack = c.call(msg)
        check(ack_code(ack) == "AA", "not applied: %r\n%r" % (ack, msg))

    # persons 0-11 and the uncleared one: a diabetes clinic visit and an
    # attended appointment on 12 October; persons 0-2 missed one on 3 November
    for k in list(range(12)) + [UNCLEARED]:
        send(a04(k, "V%02d" % k, "20261012"))
        count("encounters", "RVV", "outpatient or community", "2026-10", k)
        send(siu(k, "S%02d" % k, "20261012", "Complete"))
        count("appointments-attended", "RVV", "DIAB1", "2026-10", k)
    for k in range(3):
        send(siu(k, "M%02d" % k, "20261103", "Noshow"))
        count("appointments-missed", "RVV", "DIAB1", "2026-11", k)
    # a booked appointment is neither attended nor missed
    send(siu(4, "B04", "20261104", "Booked"))
    c.close()

    def bundle(orgc, entries):
        st, _, b = srv.request("POST", "/fhir", body={"resourceType": "Bundle",
                                                       "type": "transaction", "entry": entries},
                               token=tokens[orgc])
        check(st == 200, "load %s: %d %r" % (orgc, st, b))

    def patient(k):
        return {"fullUrl": "urn:uuid:p%d" % k, "resource": {
            "resourceType": "Patient", "id": "sp%d" % k,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NUMS[k]}],
            "name": [{"family": "Service", "given": ["P%d" % k]}], "birthDate": "1950-01-01"},
            "request": {"method": "PUT", "url": "Patient/sp%d" % k}}

    def res(rtype, rid, k, body):
        body.update({"resourceType": rtype, "id": rid})
        return {"fullUrl": "urn:uuid:" + rid, "resource": body,
                "request": {"method": "PUT", "url": "%s/%s" % (rtype, rid)}}

    ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
    home = {"coding": [{"system": "https://example.org/social-care-service", "code": "home-care",
                        "display": "Home care"}], "text": "Home care"}
    # KCC: persons 0-9 have home care since September (open at both month
    # ends); 0-8 a second package from 15 October (started in October, open at
    # both ends: 19 services open, a caseload of 10 people)
    entries = []
    for k in range(10):
        entries.append(patient(k))
        entries.append(res("EpisodeOfCare", "hc%d" % k, k, {
            "status": "active", "type": [home], "patient": {"reference": "urn:uuid:p%d" % k},
            "period": {"start": "2026-09-01"},
            "managingOrganization": {"identifier": {"system": ODS, "value": "KCC"}}}))
        for mo in MONTHS:
            count("services-open", "KCC", "Home care", mo, k)
            count("caseload", "KCC", "Home care", mo, k)
        if k < 9:
            entries.append(res("EpisodeOfCare", "hd%d" % k, k, {
                "status": "active", "type": [home], "patient": {"reference": "urn:uuid:p%d" % k},
                "period": {"start": "2026-10-15"},
                "managingOrganization": {"identifier": {"system": ODS, "value": "KCC"}}}))
            count("services-started", "KCC", "Home care", "2026-10", k)
            for mo in MONTHS:
                count("services-open", "KCC", "Home care", mo, k)
    bundle("KCC", entries)
    # RYY: 8 referrals to RVV's physiotherapy on 5 November, and a draft
    entries = []
    for k in range(8):
        entries.append(patient(k))
        entries.append(res("ServiceRequest", "ref%d" % k, k, {
            "status": "active", "intent": "order", "code": {"text": "Referral to physiotherapist"},
            "subject": {"reference": "urn:uuid:p%d" % k}, "authoredOn": "2026-11-05",
            "requester": {"identifier": {"system": ODS, "value": "RYY"}},
            "performer": [{"identifier": {"system": ODS, "value": "RVV"}}]}))
        count("referrals-sent", "RYY", "Referral to physiotherapist", "2026-11", k)
        count("referrals-received", "RVV", "Referral to physiotherapist", "2026-11", k)
    entries.append(res("ServiceRequest", "refdraft", 0, {
        "status": "draft", "intent": "order", "code": {"text": "Referral to physiotherapist"},
        "subject": {"reference": "urn:uuid:p0"}, "authoredOn": "2026-11-06",
        "requester": {"identifier": {"system": ODS, "value": "RYY"}}}))
    bundle("RYY", entries)
finally:
    srv.stop()

cleared = [NUMS[k] for k in range(N) if k != UNCLEARED]
open(os.path.join(TMP, "cleared.txt"), "w").write("\n".join(cleared) + "\n")
import datetime  # noqa: E402
weft_ok("optout", "import", "--db", db, "--cleared", os.path.join(TMP, "cleared.txt"),
        "--checked", datetime.date.today().isoformat())

rc, out, err = run("analytics", "secondary", "--db", db, "--output", "service", "--from", FROM,
                   "--as-of", TO)
check(rc == 0, "service failed (%d): %s" % (rc, err))
check("12 people counted, 1 not cleared" in err, "stderr counts: %s" % err)
lines = out.splitlines()
check(lines[0] == "measure,organisation,service,period,value", "header %r" % lines[0])
fig = {}
for ln in lines[1:]:
    parts = ln.split(",")
    check(len(parts) == 5 and tuple(parts[:4]) not in fig, "bad or repeated line %r" % ln)
    fig[tuple(parts[:4])] = parts[4]


def shown_ok(value, cnt, what):
    if 1 <= cnt <= 7:
        check(value == "*", "%s: count %d shown as %r" % (what, cnt, value))
    elif value != "*":
        check(int(value) == (cnt + 2) // 5 * 5, "%s: count %d shown as %r" % (what, cnt, value))


nlines = 0
for m, counts in raw.items():
    row_total = m not in ("services-open", "caseload")
    rows = sorted({k for k, _ in counts})
    grid = []
    for rk in rows + [("total", "total")]:
        row = []
        for p in MONTHS + (["total"] if row_total else []):
            keys = rows if rk[0] == "total" else [rk]
            ps = MONTHS if p == "total" else [p]
            cnt = sum(counts.get((k, q), 0) for k in keys for q in ps)
            key = (m,) + rk + (p,)
            check(key in fig, "%s missing from\n%s" % (key, out))
            shown_ok(fig[key], cnt, str(key))
            row.append(fig[key])
            nlines += 1
        grid.append(row)
        if not row_total:
            check((m,) + rk + ("total",) not in fig, "%s %s has a row total" % (m, rk))
    for row in grid:
        check(row.count("*") != 1, "%s row %r gives a suppressed cell away" % (m, row))
    for j in range(len(grid[0])):
        col = [row[j] for row in grid]
        check(col.count("*") != 1, "%s column %d gives a suppressed cell away" % (m, j))
check(nlines == len(fig), "%d figures printed, %d expected:\n%s" % (len(fig), nlines, out))
# the designed-in figures (the uncleared person would make the first 13: 15)
check(fig[("appointments-attended", "RVV", "DIAB1", "2026-10")] == "10", "attended %r" % out)
check(fig[("encounters", "RVV", "outpatient or community", "2026-10")] == "10", "encounters")
check(fig[("appointments-missed", "RVV", "DIAB1", "2026-11")] == "*", "missed")
check(fig[("services-open", "KCC", "Home care", "2026-11")] == "20", "19 services open")
check(fig[("caseload", "KCC", "Home care", "2026-11")] == "10", "a caseload of 10 people")
check(fig[("referrals-received", "RVV", "Referral to physiotherapist", "2026-11")] == "10",
      "8 referrals received")

# ---- the page -------------------------------------------------------------------
from api_harness import Server  # noqa: E402
secret = add_hs_launcher(db, "sys-RVV", "RVV", "iss-RVV")
web = Server(db, tag="web")


def session(role, sub):
    tok = sign({"alg": "HS256"}, claims("iss-RVV", sub, role, "RVV", NUMS[0]), "HS256", secret)
    st, _, body, ck = launch(web, tok)
    check(st in (200, 303) and ck, "launch %s: %d %r" % (role, st, body[:300]))
    return ck


ck = session("ANALYST", "analyst-1")
cookie = {"Cookie": "weft_session=" + ck}
q = "from=%s&as-of=%s" % (FROM, TO)
st, hd, body = web.request("GET", "/analytics/service?format=csv&" + q, headers=cookie, raw=True)
check(st == 200 and hd.get("content-type", "").startswith("text/csv"), "csv %d %r" % (st, hd))
check(body.decode() == out, "the page's CSV is not the command's:\n%s\n---\n%s" % (body.decode(), out))
st, _, page = web.request("GET", "/analytics/service?" + q, headers=cookie, raw=True)
page = page.decode()
check(st == 200, "service page %d %s" % (st, page[:500]))
seen = 0
for m, tb in re.findall(r'<table class="nhsuk-table" id="service-[^"]+" data-measure="([^"]+)">'
                        r'(.*?)</table>', page, re.S):
    for row in re.findall(r'<tr[^>]*><th scope="row"[^>]*>(.*?)</th><td[^>]*>(.*?)</td>(.*?)</tr>',
                          tb, re.S):
        for period, value in re.findall(r'<td[^>]*data-period="([^"]*)">([^<]*)</td>', row[2]):
            key = (m, html.unescape(row[0]), html.unescape(row[1]), html.unescape(period))
            check(key in fig and fig[key] == html.unescape(value),
                  "page %s = %r, CSV %r" % (key, value, fig.get(key)))
            seen += 1
check(seen == len(fig), "page shows %d figures, the CSV %d" % (seen, len(fig)))
chart = re.search(r'<svg class="weft-chart" id="encounters-chart"[^>]*>(.*?)</svg>', page, re.S)
check(chart and "<title>Encounters per month" in chart.group(1), "no titled encounters chart")
bars = re.findall(r'<rect [^>]*><title>([^<]*) month: ([^<]*)</title>', chart.group(1))
want = [(mo, fig[("encounters", "total", "total", mo)]) for mo in MONTHS
        if fig[("encounters", "total", "total", mo)] != "*"]
check(bars == want, "chart bars %r, CSV %r" % (bars, want))
check(re.search(r"Computed at <time", page), "computed-at time missing")
st, _, b = web.request("GET", "/analytics/service?from=2026-12-01&as-of=2026-11-30",
                       headers=cookie, raw=True)
check(st == 400 and b"on or before the last day" in b and b"<form" in b, "bad window %d" % st)
axe_views = axe_page("http://127.0.0.1:%d/analytics/service?%s" % (web.port, q), ck,
                     os.path.join(TMP, "service-page.png"))
doc = {"Cookie": "weft_session=" + session("R8000", "doc-1")}
for path in ("/analytics/service", "/analytics/service?format=csv"):
    st, _, b = web.request("GET", path, headers=doc, raw=True)
    check(st == 403 and b"encounters" not in b, "clinician got %s: %d" % (path, st))
web.stop()
audit = weft_ok("audit", "list", "--db", db)
check(audit.count("secondary:service from=%s as-of=%s" % (FROM, TO)) == 2 + axe_views,
      "page views not audited:\n" + audit[-2000:])
rc, comp, err = run("analytics", "compliance", "--db", db)
rows = [ln for ln in comp.splitlines()[1:] if ",service," in ln]
# the command's output and the first view's (stored for the window), not one per view
viewed = set(re.findall(r"secondary:service from=%s as-of=%s output=(\d+)" % (FROM, TO), audit))
check(rc == 0 and len(rows) == 2 and all(ln.endswith(",0") for ln in rows)
      and viewed and viewed <= {ln.split(",")[0] for ln in rows},
      "service outputs in the compliance report: %s %s %s" % (viewed, comp, err))

# the list expires: no figures, page or command
db_rows(db, "UPDATE optout_list SET expires = '2000-01-31'")
rc, out2, err = run("analytics", "secondary", "--db", db, "--output", "service")
check(rc == 1 and out2 == "" and "expired on 2000-01-31" in err, "expired: %d %r" % (rc, err))
web = Server(db, tag="web2")
cookie = {"Cookie": "weft_session=" + session("ANALYST", "analyst-2")}
st, _, b = web.request("GET", "/analytics/service", headers=cookie, raw=True)
check(st == 409 and b"expired on 2000-01-31" in b and b"<table" not in b, "expired page %d" % st)
web.stop()
print("ok (%d HL7 messages)" % sent)
