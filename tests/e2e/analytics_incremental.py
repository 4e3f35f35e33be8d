#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""analytics_incremental.py - `weft analytics refresh` updates the stored
figures from the persons changed since the last refresh (docs/ANALYTICS.md,
"Incremental refresh"), and what it stores is byte for byte what a full
computation stores.

A region of 60 people at two practices, loaded with `weft load`: Patients,
eFI Conditions and medicines, inpatient stays (Encounter IMP) of many lengths
at two sites, A&E attendances, appointments attended and missed, community
services (EpisodeOfCare) and referrals; 54 of them cleared by the opt-out
list.  After a first (full) refresh, rounds of changes, each followed by a
refresh that must be an update (not a full computation) whose stored CSVs, for
every output and window, equal those of `weft analytics refresh --full` and of
`weft analytics secondary` computed on its own:

  1. new stays and attendances for some people (new resources);
  2. a stay's discharge moved (new version: its length of stay, the medians,
     the occupancy change), a stay deleted, a Condition deleted (the person's
     eFI band falls), and one person's every item deleted;
  3. a person moving practice (their Patient again, naming the other one);
  4. a patient the hospital sent without an NHS number (a person not counted)
     merged into a counted one (`weft person merge`: items moved in place, no
     new version - the store's triggers note both persons);
  5. a new opt-out list leaving three more people out: the refresh must be a
     full one (never count someone the list in force does not clear), and the
     compliance report must show nobody outside a list counted.
"""
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import check, new_db, nhs, org, run, weft_ok  # noqa: E402
from api_harness import TMP  # noqa: E402

TO = "2026-11-14"
N = 60
NUMS = []
_n = 7100
while len(NUMS) < N:
    if nhs(_n) not in NUMS:
        NUMS.append(nhs(_n))
    _n += 1
SCT = "http://snomed.info/sct"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
EFI = ["84114007", "44054006", "38341003", "49436004", "13645005", "52448006", "161898004"]
MEDS = ["325278007", "319283006", "320000009", "318902004", "318590006", "317972000"]
rng = random.Random(18)


def put(res):
    return {"resource": res, "request": {"method": "PUT", "url": "%s/%s" % (res["resourceType"],
                                                                           res["id"])}}


def delete(rtype, rid):
    return {"request": {"method": "DELETE", "url": "%s/%s" % (rtype, rid)}}


SENT = {}  # (ods, type, id) of every resource put


def load(db, ods, entries, name):
    for e in entries:
        key = (ods,) + tuple(e["request"]["url"].split("/"))
        if e["request"]["method"] == "PUT":
            SENT[key] = True
        else:
            SENT.pop(key, None)
    path = os.path.join(TMP, name + ".json")
    with open(path, "w") as f:
        json.dump({"resourceType": "Bundle", "type": "transaction", "entry": entries}, f)
    weft_ok("load", "--db", db, "--org", ods, path)


def patient(k, gp):
    return {"resourceType": "Patient", "id": "p%d" % k,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NUMS[k]}],
            "name": [{"family": "Inc%d" % k, "given": ["T"]}],
            "birthDate": "%04d-03-01" % (1930 + (k * 7) % 80),
            "generalPractitioner": [{"identifier": {"system": ODS, "value": gp}}]}


def stay(k, eid, admit, disch, site, ward, status="finished", subject=None):
    e = {"resourceType": "Encounter", "id": eid, "status": status, "class": {"code": "IMP"},
         "subject": {"reference": "Patient/" + (subject or "p%d" % k)},
         "period": {"start": admit + "T09:30:00Z"},
         "location": [{"location": {"display": "%s, %s, bed %d" % (site, ward, k % 9)}}]}
    if disch:
        e["period"]["end"] = disch + "T14:00:00Z"
    else:
        e["status"] = "in-progress"
    return e


def day(n):
    """Day n of October-November 2026 (n=1: 2026-10-01)."""
    return "2026-10-%02d" % n if n <= 31 else "2026-11-%02d" % (n - 31)


def gp_entries(k, gp):
    out = [put(patient(k, gp))]
    for j, c in enumerate(rng.sample(EFI, rng.randint(0, 5))):
        out.append(put({"resourceType": "Condition", "id": "p%d-c%d" % (k, j),
                        "subject": {"reference": "Patient/p%d" % k},
                        "clinicalStatus": {"coding": [{"code": "active"}]},
                        "code": {"coding": [{"system": SCT, "code": c}]},
                        "recordedDate": "2019-05-01"}))
    for j, m in enumerate(rng.sample(MEDS, rng.randint(0, 6))):
        out.append(put({"resourceType": "MedicationStatement", "id": "p%d-m%d" % (k, j),
                        "status": "active", "subject": {"reference": "Patient/p%d" % k},
                        "medicationCodeableConcept": {"coding": [{"system": SCT, "code": m}]}}))
    if k % 3 == 0:
        out.append(put({"resourceType": "Appointment", "id": "p%d-a" % k,
                        "status": "fulfilled" if k % 2 else "noshow",
                        "start": day(20 + k % 30) + "T10:00:00Z",
                        "serviceType": [{"text": "diabetes clinic"}],
                        "participant": [{"actor": {"reference": "Patient/p%d" % k}}]}))
    return out


def acute_patient(k):
    p = patient(k, None)
    del p["generalPractitioner"]
    return put(p)


def acute_entries(k, rnd):
    """The hospital's Patient, stays and A&E attendances of person k (some
    open, some over 21 days)."""
    out = [acute_patient(k)]
    for s in range(rng.randint(0, 3)):
        a = rng.randint(1, 44)
        los = rng.choice([0, 1, 2, 3, 5, 8, 12, 16, 23, 30])
        d = day(a + los) if a + los <= 61 and rng.random() < 0.85 else None
        site, ward = rng.choice([("KCH", "AMU"), ("KCH", "CCU"), ("MAID", "Ward 3")])
        out.append(put(stay(k, "s%d-%d-%d" % (k, rnd, s), day(a), d, site, ward)))
        if rng.random() < 0.4:
            out.append(put({"resourceType": "Encounter", "id": "ae%d-%d-%d" % (k, rnd, s),
                            "status": "finished", "class": {"code": "EMER"},
                            "subject": {"reference": "Patient/p%d" % k},
                            "period": {"start": day(a) + "T02:00:00Z",
                                       "end": day(a) + "T06:00:00Z"},
                            "location": [{"location": {"display": site + ", ED"}}]}))
    if k % 4 == 1:
        out.append(put({"resourceType": "EpisodeOfCare", "id": "eoc%d-%d" % (k, rnd),
                        "status": "active", "type": [{"text": "district nursing"}],
                        "patient": {"reference": "Patient/p%d" % k},
                        "period": {"start": day(5 + rnd)}}))
        out.append(put({"resourceType": "ServiceRequest", "id": "sr%d-%d" % (k, rnd),
                        "status": "active", "intent": "order",
                        "code": {"text": "falls clinic"},
                        "subject": {"reference": "Patient/p%d" % k},
                        "authoredOn": day(10 + rnd)}))
    return out


def cleared(db, nums, name):
    path = os.path.join(TMP, name)
    open(path, "w").write("\n".join(nums) + "\n")
    import datetime
    weft_ok("optout", "import", "--db", db, "--cleared", path, "--checked",
            datetime.date.today().isoformat())


def refresh(db, *extra):
    rc, out, err = run("analytics", "refresh", "--db", db, "--as-of", TO, *extra)
    check(rc == 0, "refresh failed (%d): %s" % (rc, err))
    return out, err


def sql_one(db, q):
    if db.startswith("postgres"):
        return subprocess.run(["psql", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", q],
                              capture_output=True, text=True, check=True).stdout.strip()
    import sqlite3
    path = db[len("sqlite:"):] if db.startswith("sqlite:") else db
    with sqlite3.connect(path) as c:
        r = c.execute(q).fetchone()
        return r[0] if r else None


def stored(db):
    """Every stored output and window: its CSV."""
    q = "SELECT name, params, csv FROM analytics_result ORDER BY name, params"
    if db.startswith("postgres"):
        out = subprocess.run(["psql", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
                              "SELECT json_agg(json_build_array(name, params, csv) ORDER BY name,"
                              " params) FROM analytics_result"],
                             capture_output=True, text=True, check=True).stdout
        return {(r[0], r[1]): r[2] for r in json.loads(out)}
    import sqlite3
    path = db[len("sqlite:"):] if db.startswith("sqlite:") else db
    with sqlite3.connect(path) as c:
        return {(r[0], r[1]): r[2] for r in c.execute(q)}


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


def command(db, o):
    rc, out, err = run("analytics", "secondary", "--db", db, "--output", o, *WINDOWS[o])
    check(rc == 0, "secondary %s failed (%d): %s" % (o, rc, err))
    return out


def same_as_full(db, label, expect_persons=None):
    """The refresh is an update, and it stored what a full computation stores."""
    out, err = refresh(db)
    check("updated from" in err, "%s: the refresh was not an update: %s" % (label, err.strip()))
    if expect_persons is not None:
        check("updated from %d changed persons" % expect_persons in err,
              "%s: expected %d changed persons: %s" % (label, expect_persons, err.strip()))
    inc = stored(db)
    for o, key in KEYS.items():
        check((o, key) in inc, "%s: %s %s not stored" % (label, o, key))
        alone = command(db, o)
        check(inc[(o, key)] == alone, "%s: the updated %s differs from `analytics secondary`:\n"
              "%s\n---\n%s" % (label, o, inc[(o, key)], alone))
    out, err = refresh(db, "--full")
    check("full (asked for)" in err, "%s: --full was not full: %s" % (label, err.strip()))
    full = stored(db)
    check(sorted(full) == sorted(inc), "%s: windows differ %r %r" % (label, sorted(full),
                                                                    sorted(inc)))
    for k in full:
        check(full[k] == inc[k], "%s: the updated %s %s differs from a full refresh:\n%s\n---\n%s"
              % (label, k[0], k[1], inc[k], full[k]))
    # the full one wrote a new state: the next update starts from it
    return inc


def compliance(db):
    rc, comp, err = run("analytics", "compliance", "--db", db)
    check(rc == 0, "compliance: %s %s" % (comp, err))
    rows = comp.splitlines()[1:]
    check(rows and all(r.endswith(",0") for r in rows), "someone outside a list was counted:\n"
          + comp)
    return rows


db = new_db()
for ods, kind in (("G81001", "gp"), ("G81002", "gp"), ("RVV", "acute")):
    org(db, ods, kind)
for k in range(N):
    gp = "G81001" if k % 2 == 0 else "G81002"
    load(db, gp, gp_entries(k, gp), "gp%d" % k)
# and a patient the hospital knows without an NHS number (not checkable: not counted)
unknown = {"resourceType": "Patient", "id": "u1", "name": [{"family": "Zed", "given": ["Una"]}],
           "birthDate": "1941-02-03", "gender": "female"}
load(db, "RVV", [e for k in range(N) for e in acute_entries(k, 0)]
     + [put(unknown), put(stay(0, "su1", day(35), day(41), "KCH", "AMU", subject="u1"))], "acute0")
cleared(db, NUMS[:54], "cleared1.txt")

out, err = refresh(db)
check("full (no stored state)" in err, "the first refresh should be full: %s" % err)
base = stored(db)
check(len(base) == len(KEYS), "stored %r" % sorted(base))
first_flow = base[("flow", KEYS["flow"])]

# nothing changed: an update reading nobody, the same figures
same_as_full(db, "no change", expect_persons=0)
check(stored(db)[("flow", KEYS["flow"])] == first_flow, "figures changed with no change")

# 1. new stays and attendances (new resources) for ten people
load(db, "RVV", [e for k in range(10, 20) for e in acute_entries(k, 1)], "acute1")
same_as_full(db, "new stays")

# 2. a stay's discharge moved, a stay deleted, a Condition deleted, a person's every item gone
ent = []
moved_stay = None
for k in range(2, N):
    if moved_stay is None:
        moved_stay = k
        ent += [acute_patient(k), put(stay(k, "s%d-0-x" % k, day(30), day(40), "KCH", "AMU"))]
# the stay above is new; move it later in its own load so it is a second version
load(db, "RVV", ent, "acute2a")
same_as_full(db, "a stay added")
load(db, "RVV", [put(stay(moved_stay, "s%d-0-x" % moved_stay, day(30), day(33), "KCH", "AMU"))],
     "acute2b")
same_as_full(db, "a stay's discharge moved", expect_persons=1)
load(db, "RVV", [delete("Encounter", "s%d-0-x" % moved_stay)], "acute2c")
same_as_full(db, "a stay deleted", expect_persons=1)
# a Condition deleted (the eFI band of an older person falls)
old = [k for k in range(N) if 1930 + (k * 7) % 80 <= 1960]
load(db, "G81001" if old[0] % 2 == 0 else "G81002", [delete("Condition", "p%d-c0" % old[0])],
     "gp2d")
# one person's every item gone (GP and acute): everything either sent about them
gone = 4
for ods in ("G81001", "RVV"):
    mine = [(t, i) for (o, t, i) in SENT
            if o == ods and re.sub(r"^[a-z]+", "", i.split("-")[0]) == str(gone)]
    load(db, ods, [delete(t, i) for t, i in sorted(mine, key=lambda x: x[0] == "Patient")],
         "gone-" + ods)
same_as_full(db, "items deleted")

# 3. a person moving practice: their Patient again, naming the other practice
load(db, "G81001", [put(patient(6, "G81002"))], "gp3")
same_as_full(db, "moved practice", expect_persons=1)

# 4. two persons merged: their items move in place (no new resource version)
# the hospital's patient without an NHS number turns out to be person 8
survivor = sql_one(db, "SELECT id FROM person WHERE nhs = '%s'" % NUMS[8])
retired = sql_one(db, "SELECT person_id FROM person_local WHERE org = 'RVV' AND value = 'u1'")
check(survivor and retired and survivor != retired, "persons %r %r" % (survivor, retired))
weft_ok("person", "merge", "--db", db, "--survivor", survivor, "--retired", retired, "--by",
        "dq-officer", "--role", "R8012")
same_as_full(db, "merged", expect_persons=2)

compliance(db)

# 5. a new opt-out list: the next refresh is full, and counts nobody it does not clear
cleared(db, NUMS[:51], "cleared2.txt")
out, err = refresh(db)
check("full (a new opt-out list is in force)" in err,
      "a new list must make the refresh full: %s" % err.strip())
new = stored(db)
for o, key in KEYS.items():
    check(new[(o, key)] == command(db, o), "%s under the new list differs" % o)
same_as_full(db, "after the new list", expect_persons=0)
compliance(db)
print("ok")
