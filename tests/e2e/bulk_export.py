#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""bulk_export.py - FHIR Bulk Data Access v2 against the real server
(docs/ANALYTICS.md "FHIR Bulk Data export"): kick-off (Prefer: respond-async
required, _type, _since, _outputFormat checked), polling (202 with
X-Progress and Retry-After, then 200 with the manifest), NDJSON downloads
that need the same client's token, DELETE to cancel (files removed), a job
that survives a restart; a direct client gets exactly what its own search
returns (an upheld objection narrows another organisation's client); a
secondary client's files hold only people on the opt-out list in force, no
names or NHS numbers, pseudonymised references, and it is refused with no
list or an expired one; Group read and a practice group's export; every step
audited.  The same on both backends."""
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, db_rows, new_db_url, run  # noqa: E402
from access_lib import add_org, nhs, weft  # noqa: E402

GP, GP2, HOSP = "G81001", "G81002", "RVV"
db = new_db_url("weft.db")
weft("init", "--db", db)
for o, t in ((GP, "gp"), (GP2, "gp"), (HOSP, "acute")):
    add_org(db, o, t)
writer = {o: weft("client", "add", "--db", db, "--name", "feed-" + o, "--org", o, "--write").strip()
          for o in (GP, GP2, HOSP)}
direct = weft("client", "add", "--db", db, "--name", "bulk-hosp", "--org", HOSP).strip()
direct2 = weft("client", "add", "--db", db, "--name", "bulk-gp2", "--org", GP2).strip()
secondary = weft("client", "add", "--db", db, "--name", "bulk-sec", "--purpose", "secondary").strip()
export_dir = os.path.join(TMP, "exports")
srv = Server(db, "--export-dir", export_dir)

NHS = [nhs(800 + 10 * i) for i in range(6)]
FAMILY = ["Zebedee", "Quimby", "Xanthe", "Yarrow", "Wolfram", "Vesper"]


def patient(pid, i, practice):
    return {"fullUrl": "urn:uuid:" + pid, "resource": {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS[i]}],
        "name": [{"family": FAMILY[i], "given": ["Test"]}], "birthDate": "1950-0%d-15" % (i + 1),
        "address": [{"postalCode": "ME1 %dAA" % i}], "telecom": [{"system": "phone", "value": "0163296000%d" % i}],
        "generalPractitioner": [{"identifier": {
            "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": practice}}]},
        "request": {"method": "PUT", "url": "Patient/" + pid}}


def obs(rid, pid, value, ref=None):
    return {"fullUrl": "urn:uuid:" + rid, "resource": {
        "resourceType": "Observation", "id": rid, "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "27113001"}]},
        "subject": {"reference": ref or "urn:uuid:" + pid}, "effectiveDateTime": "2024-05-01",
        "valueQuantity": {"value": value, "unit": "kg"}},
        "request": {"method": "PUT", "url": "Observation/" + rid}}


def send(org, entries):
    st, _, b = srv.request("POST", "/fhir", body={"resourceType": "Bundle", "type": "transaction",
                                                   "entry": entries}, token=writer[org])
    check(st == 200, "load %s: %d %r" % (org, st, b))


# persons 0-3 at GP, 4-5 at GP2; the hospital holds records of 0, 1 and 4
send(GP, [patient("p%d" % i, i, GP) for i in range(4)] + [obs("o%d" % i, "p%d" % i, 60 + i) for i in range(4)])
send(GP2, [patient("p%d" % i, i, GP2) for i in (4, 5)] + [obs("o%d" % i, "p%d" % i, 60 + i) for i in (4, 5)])
send(HOSP, [patient("h%d" % i, i, GP if i < 4 else GP2) for i in (0, 1, 4)]
     + [obs("ho%d" % i, "h%d" % i, 80 + i) for i in (0, 1, 4)])

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def kickoff(path, token, headers=ASYNC):
    return srv.request("GET", path, token=token, headers=headers)


def poll(loc, token, limit=120):
    """Poll the status URL until it stops answering 202 (bounded)."""
    path = loc[loc.index("/fhir/"):]
    seen_progress = False
    for _ in range(limit):
        st, hd, body = srv.request("GET", path, token=token)
        if st != 202:
            return st, hd, body, seen_progress
        check("x-progress" in hd and "retry-after" in hd, "202 without X-Progress/Retry-After: %r" % hd)
        seen_progress = True
        time.sleep(0.25)
    check(False, "export did not finish in %d polls" % limit)


def export(path, token):
    st, hd, body = kickoff(path, token)
    check(st == 202 and "content-location" in hd, "kick-off %s: %d %r %r" % (path, st, hd, body))
    st, hd, man, _ = poll(hd["content-location"], token)
    check(st == 200, "status %s: %d %r" % (path, st, man))
    return hd, man


def download(man, token):
    """{type: [resources]} from the manifest's files (every line one JSON object)."""
    out = {}
    for o in man["output"]:
        u = o["url"]
        st, hd, body = srv.request("GET", u[u.index("/fhir/"):], token=token, raw=True)
        check(st == 200 and hd.get("content-type", "").startswith("application/fhir+ndjson"),
              "download %s: %d %r" % (u, st, hd))
        lines = body.decode().splitlines()
        check(len(lines) == o["count"], "%s: %d lines, manifest says %d" % (u, len(lines), o["count"]))
        out.setdefault(o["type"], []).extend(json.loads(l) for l in lines)
    return out


def search_all(path, token):
    st, _, b = srv.request("GET", path, token=token)
    check(st == 200, "search %s: %d" % (path, st))
    return sorted(e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match")


# ---- refusals at kick-off -----------------------------------------------------------------
st, _, b = kickoff("/fhir/$export", direct, headers={"Accept": "application/fhir+json"})
check(st == 400 and "respond-async" in json.dumps(b), "no Prefer: %d %r" % (st, b))
for bad in ("_outputFormat=text/csv", "_type=Nonsense", "_since=yesterday", "_typeFilter=x"):
    st, _, b = kickoff("/fhir/$export?" + bad, direct)
    check(st == 400 and b.get("resourceType") == "OperationOutcome", "%s: %d %r" % (bad, st, b))
st, _, _ = kickoff("/fhir/$export", None)
check(st == 401, "no token: %d" % st)

# ---- a direct client: system export = its own search ----------------------------------------
t0 = time.time()
hd, man = export("/fhir/$export?_outputFormat=application/fhir%2Bndjson", direct)
check(man["requiresAccessToken"] is True and man["error"] == [] and man["transactionTime"]
      and man["request"].endswith("/fhir/$export?_outputFormat=application/fhir%2Bndjson"), "manifest %r" % man)
files = download(man, direct)
for t in ("Patient", "Observation"):
    got = sorted(r["id"] for r in files.get(t, []))
    want = search_all("/fhir/%s?_count=1000" % t, direct)
    check(got == want and len(got) > 0, "%s: export %r != search %r" % (t, got, want))
# a file needs the same client's token
u = man["output"][0]["url"]
u = u[u.index("/fhir/"):]
check(srv.request("GET", u, token=None)[0] == 401, "file without a token")
check(srv.request("GET", u, token=direct2)[0] == 404, "file with another client's token")
check(srv.request("GET", u.rsplit("/", 1)[0] + "/Nope.ndjson", token=direct)[0] == 404, "unknown file")

# _type and _since
_, man = export("/fhir/$export?_type=Observation", direct)
check([o["type"] for o in man["output"]] == ["Observation"], "_type: %r" % man["output"])
# a second apart on both sides: the search's _lastUpdated compares whole seconds, _since exactly
time.sleep(1.1)
cut = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
time.sleep(1.1)
send(GP, [obs("late", "p0", 99, ref="Patient/p0")])
_, man = export("/fhir/Patient/$export?_since=" + cut, direct)
f = download(man, direct)
since_search = search_all("/fhir/Observation?_lastUpdated=ge" + cut, direct)
check(sorted(r["id"] for v in f.values() for r in v) == since_search,
      "_since gave %r, the search %r (cut %s)" % (f, since_search, cut))
check(sum(len(v) for v in f.values()) == 1, "_since: exactly the one new item, got %r" % f)

# ---- an upheld objection narrows another organisation's client --------------------------------
weft("objection", "set", "--db", db, "--nhs", NHS[0], "--status", "upheld", "--date", "2024-01-01")
_, man = export("/fhir/$export?_type=Observation", direct)
got = sorted(r["id"] for r in download(man, direct).get("Observation", []))
check(got == search_all("/fhir/Observation?_count=1000", direct), "objection: export != search")
st, _, b = srv.request("GET", "/fhir/Observation?_count=1000", token=direct)
vals = sorted(e["resource"]["valueQuantity"]["value"] for e in b["entry"] if e["search"]["mode"] == "match")
check(60 not in vals and 80 in vals, "upheld objection: the GP's item of person 0 must be hidden "
      "from the hospital's client, the hospital's own kept: %r" % vals)

# ---- one job per client; cancel --------------------------------------------------------------
st, hd1, _ = kickoff("/fhir/$export", direct)
check(st == 202, "kick-off: %d" % st)
st2, hd2, b2 = kickoff("/fhir/$export", direct)
check(st2 in (202, 429), "second kick-off: %d" % st2)
if st2 == 429:
    check("retry-after" in hd2, "429 without Retry-After")
loc = hd1["content-location"][hd1["content-location"].index("/fhir/"):]
check(srv.request("DELETE", loc, token=direct2)[0] == 404, "another client cancelled a job")
st, _, b = srv.request("DELETE", loc, token=direct)
check(st == 202, "cancel: %d %r" % (st, b))
job = loc.rsplit("/", 1)[1]
# the worker removes them when it next looks at the job (at once when idle;
# under a loaded sanitizer run that took over 10 s once)
deadline = time.time() + 60
while os.path.exists(os.path.join(export_dir, job)) and time.time() < deadline:
    time.sleep(0.1)
check(not os.path.exists(os.path.join(export_dir, job)), "cancelled export's files left after 60 s")
check(srv.request("GET", loc, token=direct)[0] == 404, "status of a cancelled export")
if st2 == 202:  # the second was accepted (the first had finished): let it finish
    poll(hd2["content-location"], direct)

# ---- secondary use ---------------------------------------------------------------------------
# a secondary client gets no identifiable record through the API
for path in ("/fhir/Patient", "/fhir/Observation?_count=5"):
    st, _, b = srv.request("GET", path, token=secondary)
    check(st == 403 and "de-identified" in json.dumps(b), "secondary client searched %s: %d %r" % (path, st, b))
st, _, b = kickoff("/fhir/$export", secondary)
check(st == 403 and "opt-out" in json.dumps(b), "secondary without a list: %d %r" % (st, b))
today = datetime.date.today()
cleared = os.path.join(TMP, "cleared.txt")
with open(cleared, "w") as f:  # persons 1, 2 and 4 have no opt-out; 0, 3, 5 opted out
    f.write("\n".join(NHS[i] for i in (1, 2, 4)) + "\n")
old = (today - datetime.timedelta(days=40)).isoformat()
rc, _, err = run("optout", "import", "--db", db, "--cleared", cleared, "--checked", old,
                 "--valid-days", "60")
check(rc == 0, "optout import: " + err)
# the list in force runs out (its last day was yesterday)
db_rows(db, "UPDATE optout_list SET expires = ?", ((today - datetime.timedelta(days=1)).isoformat(),))
st, _, b = kickoff("/fhir/$export", secondary)
check(st == 403 and "expired" in json.dumps(b), "secondary with an expired list: %d %r" % (st, b))
rc, _, err = run("optout", "import", "--db", db, "--cleared", cleared, "--checked", today.isoformat())
check(rc == 0, "optout import: " + err)
_, man = export("/fhir/Patient/$export?_type=Patient,Observation", secondary)
raw = b""
for o in man["output"]:
    u = o["url"]
    raw += srv.request("GET", u[u.index("/fhir/"):], token=secondary, raw=True)[2]
text = raw.decode()
for i in range(6):
    check(NHS[i] not in text and FAMILY[i].upper() not in text.upper(), "identifier %d in %r" % (i, text[:400]))
check("ME1" not in text and "01632" not in text and "1950-0" not in text, "address/phone/birth date")
res = [json.loads(l) for l in text.splitlines()]
pats = [r for r in res if r["resourceType"] == "Patient"]
ob = [r for r in res if r["resourceType"] == "Observation"]
# cleared: persons 1, 2, 4: GP Patients 1, 2; GP2 Patient 4; hospital 1, 4 -> 5 Patients
check(len(pats) == 5 and all(p["birthDate"] == "1950" for p in pats), "patients %r" % pats)
vals = sorted(o["valueQuantity"]["value"] for o in ob)
check(vals == [61, 62, 64, 81, 84], "only cleared persons' observations: %r" % vals)
pids = {p["id"] for p in pats}
check(all(o["subject"]["reference"][len("Patient/"):] in pids for o in ob),
      "references not rewritten to the pseudonyms")

# groups
st, _, g = srv.request("GET", "/fhir/Group/practice-" + GP, token=direct)
check(st == 200 and g["resourceType"] == "Group" and g["id"] == "practice-" + GP, "Group read %d %r" % (st, g))
check(srv.request("GET", "/fhir/Group/nonsense", token=direct)[0] == 404, "unknown group")
_, man = export("/fhir/Group/practice-%s/$export?_type=Observation" % GP2, direct2)
vals = sorted(r["valueQuantity"]["value"] for r in download(man, direct2).get("Observation", []))
check(vals == [64, 65, 84], "GP2's registered list (persons 4, 5): %r" % vals)

# ---- a restart keeps a finished export ---------------------------------------------------------
hd, man = export("/fhir/$export?_type=Patient", direct)
st, hd, _ = kickoff("/fhir/$export?_type=Patient", direct)
loc_done = hd["content-location"]
poll(loc_done, direct)
srv.stop()
srv = Server(db, "--export-dir", export_dir, tag="2")
st, _, man2, _ = poll(loc_done, direct)
check(st == 200 and download(man2, direct)["Patient"], "after restart: %d %r" % (st, man2))
srv.stop()

# ---- a cancel just after the job finished: its files still go ------------------------------------
# (test build: the worker waits 2 s after keeping a job's outcome, failpoint
# bulk-done-pause, so the cancel lands between that and the worker taking the
# job off as running; the cancel then leaves the files to the worker, which
# once forgot them)
if os.environ.get("WEFT_BIN_KIND", "san") != "release":
    os.environ["WEFT_FAILPOINTS"] = "bulk-done-pause"
    srv = Server(db, "--export-dir", export_dir, tag="3")
    os.environ.pop("WEFT_FAILPOINTS", None)
    st, hd, _ = kickoff("/fhir/$export?_type=Patient", direct)
    check(st == 202, "kick-off before the late cancel: %d" % st)
    loc = hd["content-location"][hd["content-location"].index("/fhir/"):]
    st, _, _, _ = poll(loc, direct)
    check(st == 200, "the export to cancel late did not finish: %d" % st)
    st, _, b = srv.request("DELETE", loc, token=direct)
    check(st == 202, "late cancel: %d %r" % (st, b))
    job = loc.rsplit("/", 1)[1]
    deadline = time.time() + 30
    while os.path.exists(os.path.join(export_dir, job)) and time.time() < deadline:
        time.sleep(0.1)
    check(not os.path.exists(os.path.join(export_dir, job)),
          "a job cancelled just after it finished kept its files")
    srv.stop()

out = weft("audit", "list", "--db", db)
for w in ("kick-off", "download", "cancelled", "bulk export"):
    check(w in out, "%r not audited" % w)
print("ok")
