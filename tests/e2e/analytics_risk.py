#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""analytics_risk.py - the direct-care risk list against the real server
(docs/ANALYTICS.md): a GP practice's clinician sees the practice's own
registered patients ranked by eFI band and unplanned care in the last 12
months (A&E, emergency admissions via A&E, ambulance incidents sent by a
hospital and an ambulance service), as a page and as CSV; each row links to
the record, which opens for the launched patient and stays refused for the
others (rule 3 unchanged); another practice's patients are neither listed nor
openable; a receptionist and a
hospital clinician are refused; every view is audited.  After `weft analytics
refresh` the page reads the rows the refresh stored for today (the same list,
computed at the refresh's time); after new messages (an A&E attendance, a
patient moving practice) the refresh's update changes those rows, and what it
stored equals a full refresh."""
import csv
import datetime
import io
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import TMP, Server, axe_page, check, new_db_url, run, weft_id  # noqa: E402
from access_lib import add_hs_launcher, add_org, claims, launch, nhs, sign, weft, writer_token  # noqa: E402

GP, GP2, HOSP, AMB = "G81001", "G81002", "RVV", "RYC"
db = new_db_url("weft.db")
weft("init", "--db", db)
add_org(db, GP, "gp")
add_org(db, GP2, "gp")
add_org(db, HOSP, "acute")
add_org(db, AMB, "ambulance")
secrets = {o: add_hs_launcher(db, "sys-" + o, o, "iss-" + o) for o in (GP, GP2, HOSP)}
tokens = {o: writer_token(db, o) for o in (GP, GP2, HOSP, AMB)}
srv = Server(db)
today = datetime.date.today()
d = lambda days: (today - datetime.timedelta(days=days)).isoformat()
SCT = "http://snomed.info/sct"
A, B, C, D = nhs(700), nhs(710), nhs(720), nhs(730)


def patient(pid, number, family, birth, practice):
    return {"fullUrl": "urn:uuid:" + pid, "resource": {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}],
        "name": [{"family": family, "given": ["Test"]}], "birthDate": birth,
        "generalPractitioner": [{"identifier": {
            "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": practice}}]},
        "request": {"method": "PUT", "url": "Patient/" + pid}}


def item(rtype, rid, pid, body):
    body.update({"resourceType": rtype, "id": rid, "subject": {"reference": "urn:uuid:" + pid}})
    return {"fullUrl": "urn:uuid:" + rid, "resource": body,
            "request": {"method": "PUT", "url": "%s/%s" % (rtype, rid)}}


def cond(rid, pid, code):
    return item("Condition", rid, pid, {"code": {"coding": [{"system": SCT, "code": code}]},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]}, "recordedDate": "2020-01-01"})


def send(org, entries):
    st, _, b = srv.request("POST", "/fhir", body={"resourceType": "Bundle", "type": "transaction",
                                                   "entry": entries}, token=tokens[org])
    check(st == 200, "load %s: %d %r" % (org, st, b))


# the practice: A (86, 13 deficits: severe), B (70, fit, but A&E + admission +
# ambulance), C (40), E (75, fit, no unplanned care); GP2: D (80)
a_conds = ["84114007", "44054006", "38341003", "49436004", "13645005", "52448006", "161898004",
           "64859006", "165232002", "397540003", "15188001", "271737000", "46742003"]
send(GP, [patient("a", A, "Alpha", "1940-01-01", GP), patient("b", B, "Bravo", "1956-01-01", GP),
          patient("c", C, "Charlie", "1986-01-01", GP), patient("e", nhs(740), "Echo", "1951-01-01", GP)]
     + [cond("a-c%d" % i, "a", c) for i, c in enumerate(a_conds)])
send(GP2, [patient("d", D, "Delta", "1946-01-01", GP2), cond("d-c1", "d", "84114007")])
# hospital: B attended A&E 40 days ago and was admitted the next day; one A&E
# visit 400 days ago (outside the 12 months)
send(HOSP, [patient("hb", B, "Bravo", "1956-01-01", GP),
            item("Encounter", "b-ae", "hb", {"status": "finished", "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
                "period": {"start": d(40) + "T10:00:00Z", "end": d(40) + "T14:00:00Z"}}),
            item("Encounter", "b-ip", "hb", {"status": "finished", "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "period": {"start": d(39) + "T09:00:00Z", "end": d(30) + "T12:00:00Z"}}),
            item("Encounter", "b-old", "hb", {"status": "finished", "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
                "period": {"start": d(400) + "T10:00:00Z"}})])
send(AMB, [patient("ab", B, "Bravo", "1956-01-01", GP),
           item("Encounter", "b-amb", "ab", {"status": "finished", "class": {
               "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
               "type": [{"coding": [{"system": SCT, "code": "409971007",
                                     "display": "Emergency medical services"}]}],
               "period": {"start": d(41) + "T22:00:00Z"}})])


def session(org, role, patient, sub):
    tok = sign({"alg": "HS256"}, claims("iss-" + org, sub, role, org, patient), "HS256", secrets[org])
    st, _, body, ck = launch(srv, tok)
    check(st in (200, 303) and ck, "launch %s %s: %d %r" % (org, role, st, body[:200]))
    return {"Cookie": "weft_session=" + ck}


doc = session(GP, "R8000", C, "gp-doc")
st, hd, page = srv.request("GET", "/analytics/risk-list", headers=doc, raw=True)
page = page.decode()
check(st == 200, "risk list %d %s" % (st, page[:300]))
order = re.findall(r'<a href="/patient/([0-9a-f]+)">([^<]*)</a>', page)
names = [n.split(",")[0] for _, n in order]
# A severe first; then the fit: B (3 unplanned) before E (none); C (under 65) last
check(names == ["ALPHA", "BRAVO", "ECHO", "CHARLIE"], "ranking %r" % names)
ids = {n[0].lower(): pid for pid, n in zip([o[0] for o in order], names)}
check("DELTA" not in page, "another practice's patient listed")
check("severe (13 of 36)" in page and "Heart failure" in page, "A's band or deficits missing")
check(re.search(r"Computed at <time", page), "computed-at time missing")
check("Patients 1 to 4 of 4." in page and 'rel="next"' not in page, "one page of 4 not said so")

# pages: two rows a page, in the same order, with links either way; past the
# end says so; a bad page or count is refused
def names_of(pg):
    return [n.split(",")[0] for _, n in re.findall(r'<a href="/patient/([0-9a-f]+)">([^<]*)</a>', pg)]
st, _, p1 = srv.request("GET", "/analytics/risk-list?count=2", headers=doc, raw=True)
p1 = p1.decode()
check(st == 200 and names_of(p1) == ["ALPHA", "BRAVO"], "page 1 of 2 rows: %d %r" % (st, names_of(p1)))
check("Patients 1 to 2 of 4." in p1 and 'href="/analytics/risk-list?page=2&amp;count=2" rel="next"' in p1
      and 'rel="prev"' not in p1, "page 1 links: " + p1[-1500:])
st, _, p2 = srv.request("GET", "/analytics/risk-list?page=2&count=2", headers=doc, raw=True)
p2 = p2.decode()
check(st == 200 and names_of(p2) == ["ECHO", "CHARLIE"], "page 2 of 2 rows: %d %r" % (st, names_of(p2)))
check("Patients 3 to 4 of 4." in p2 and 'href="/analytics/risk-list?page=1&amp;count=2" rel="prev"' in p2
      and 'rel="next"' not in p2, "page 2 links: " + p2[-1500:])
st, _, p3 = srv.request("GET", "/analytics/risk-list?page=3&count=2", headers=doc, raw=True)
p3 = p3.decode()
check(st == 200 and names_of(p3) == [] and "There is no page 3: the list has 4 patients." in p3,
      "past the end: %d %s" % (st, p3[-800:]))
# the paged list in Chromium: no serious or critical axe-core violation
axe_page("http://127.0.0.1:%d/analytics/risk-list?page=2&count=2" % srv.port,
         doc["Cookie"].split("=", 1)[1], os.path.join(TMP, "risk-list-page2.png"))
for bad in ("page=0", "page=x", "count=0", "count=1001", "page=-1"):
    st, _, _ = srv.request("GET", "/analytics/risk-list?" + bad, headers=doc, raw=True)
    check(st == 400, "risk-list?%s answered %d, not 400" % (bad, st))

st, hd, body = srv.request("GET", "/analytics/risk-list?format=csv", headers=doc, raw=True)
check(st == 200 and hd.get("content-type", "").startswith("text/csv"), "csv %d %r" % (st, hd))
rows = list(csv.DictReader(io.StringIO(body.decode())))
check(list(rows[0].keys()) == ["rank", "person_id", "name", "nhs_number", "age", "efi_band",
                               "efi_deficits", "ae_attendances_12m", "emergency_admissions_12m",
                               "ambulance_incidents_12m", "computed"], "csv header %r" % rows[0].keys())
b = [r for r in rows if r["person_id"] == ids["b"]][0]
check((b["ae_attendances_12m"], b["emergency_admissions_12m"], b["ambulance_incidents_12m"])
      == ("1", "1", "1"), "B's unplanned care %r" % b)
check(rows[0]["efi_band"] == "severe" and rows[0]["efi_deficits"] == "13", "A's row %r" % rows[0])

# a row opens the record of the launched patient (C); another listed patient
# (B) stays under the record's rules: not launched, so refused
st, _, body = srv.request("GET", "/patient/" + ids["c"], headers=doc, raw=True)
check(st == 200 and b"CHARLIE" in body.upper(), "opening C from the list: %d" % st)
st, _, _ = srv.request("GET", "/patient/" + ids["b"], headers=doc, raw=True)
check(st == 403, "B opened without a launch: %d" % st)
# GP2's clinician sees only D
doc2 = session(GP2, "R8000", D, "gp2-doc")
st, _, page2 = srv.request("GET", "/analytics/risk-list", headers=doc2, raw=True)
page2 = page2.decode()
check(st == 200 and "DELTA" in page2 and "ALPHA" not in page2, "GP2's list")
d_id = re.findall(r'<a href="/patient/([0-9a-f]+)">', page2)[0]
# ... and GP's clinician may not open D
st, _, _ = srv.request("GET", "/patient/" + d_id, headers=doc, raw=True)
check(st in (403, 404), "another practice's patient opened: %d" % st)

# refused: a receptionist of the practice, a hospital clinician
for org, role, who in ((GP, "R8009", "gp-recep"), (HOSP, "R8000", "hosp-doc")):
    h = session(org, role, B, who)
    st, _, _ = srv.request("GET", "/analytics/risk-list", headers=h, raw=True)
    check(st == 403, "%s %s got the risk list: %d" % (org, role, st))
    st, _, _ = srv.request("GET", "/patient/" + ids["a"], headers=h, raw=True)
    check(st in (403, 404), "%s %s opened an unlaunched patient: %d" % (org, role, st))



# ---- stored rows: `weft analytics refresh` stores every practice's rows for today; the page
# then reads its practice's rows (the same list, computed at the refresh's time), and an
# update after new messages changes only the changed persons' rows
def listed(h):
    st, _, body = srv.request("GET", "/analytics/risk-list?format=csv", headers=h, raw=True)
    check(st == 200, "risk list csv %d" % st)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    return [tuple(v for k, v in r.items() if k != "computed") for r in rows], \
        set(r["computed"] for r in rows)


before, _ = listed(doc)
cleared = os.path.join(os.environ.get("WEFT_TMP", "/tmp"), "risk-cleared.txt")
open(cleared, "w").write("\n".join([A, B]) + "\n")
weft("optout", "import", "--db", db, "--cleared", cleared, "--checked", today.isoformat())


def refresh(*extra):
    rc, out, err = run("analytics", "refresh", "--db", db, *extra)
    check(rc == 0, "refresh: %s" % err)
    time.sleep(1.1)  # a list computed per view would say a later second
    return [ln.split(",")[3] for ln in out.splitlines()[1:]][0], err


computed, _ = refresh()
stored, when = listed(doc)
check(stored == before, "the stored list differs from the one computed per view:\n%r\n%r"
      % (stored, before))
check(when == {computed}, "the page does not show the refresh's rows (computed %r, shown %r)"
      % (computed, when))
st, _, page = srv.request("GET", "/analytics/risk-list", headers=doc, raw=True)
check('Computed at <time datetime="%s">' % computed in page.decode(), "page's computed-at time")
# new messages: an A&E attendance for E, C moves to GP2; the update changes their rows only
send(HOSP, [patient("he", nhs(740), "Echo", "1951-01-01", GP),
            item("Encounter", "e-ae", "he", {"status": "finished", "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
                "period": {"start": d(5) + "T10:00:00Z", "end": d(5) + "T12:00:00Z"}})])
send(GP, [patient("c", C, "Charlie", "1986-01-01", GP2)])
computed2, err = refresh()
check("updated from" in err, "not an update: %s" % err)
upd, when = listed(doc)
check(when == {computed2}, "the update's rows not shown: %r" % when)
e_row = [r for r in upd if r[2].startswith("ECHO")]
check(e_row and e_row[0][7] == "1", "E's new A&E attendance not in the stored row: %r" % upd)
check(not [r for r in upd if r[2].startswith("CHARLIE")], "C still listed at GP after moving")
upd2, _ = listed(doc2)
check([r for r in upd2 if r[2].startswith("CHARLIE")], "C not listed at GP2 after moving")
# the update stored what a full computation stores
refresh("--full")
full, _ = listed(doc)
check(full == upd, "the updated rows differ from a full refresh:\n%r\n%r" % (upd, full))
full2, _ = listed(doc2)
check(full2 == upd2, "GP2's updated rows differ from a full refresh")

srv.stop()
out = weft("audit", "list", "--db", db)
check(out.count("risk-list:" + GP) >= 2, "views not audited:\n" + out[-2000:])
check("risk-list:" + GP2 in out, "GP2's view not audited")
print("ok")
