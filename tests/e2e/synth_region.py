#!/usr/bin/env python3
"""synth_region.py - a generated region goes into a running Weft through the
real feed paths (MLLP, FHIR REST, CSV drop folders) and the record holds what
the ground truth says.

Clean region (600 people, seed 9, no faults):
  1. weft synth; weft synth register (orgs, agreements, feeds, credentials.json
     mode 0600); weft serve --mllp --drop-interval; weft replay-feeds: every
     HL7 message gets AA, every bundle 2xx, every CSV file an "ok" report;
  2. the store holds every resource of every FHIR bundle, in the record
     category the sender coded, from the organisation that sent it;
  3. every record category of BRIEF §2 is in the store;
  4. identity: each true person's local ids at every source (truth/records.csv)
     resolve to exactly one Weft person, and different people to different persons;
  5. coherence: every diabetic has the diabetes problem, metformin and HbA1c.
Faulty region (300 people, malformed=0.05): replay rejects exactly what the
truth lists as broken (HL7 AE/AR, HTTP 4xx, CSV rows rejected in the reports)
and accepts everything else.
"""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import csv, glob, json, os, stat, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import db_rows, new_db_url  # noqa: E402

BIN = os.environ["WEFT_BIN"]
TMP = os.environ["WEFT_TMP"]
CAT = "https://weft.nhs.uk/CodeSystem/record-category"
BY_TYPE = {"Patient": "demographics", "MedicationRequest": "medications",
           "AllergyIntolerance": "allergies", "Immunization": "immunisations",
           "Encounter": "encounters", "ResearchSubject": "research",
           "RiskAssessment": "alerts", "Goal": "documents"}
ALL_CATEGORIES = ["demographics", "contacts", "social-care-assessment", "services", "safeguarding",
                  "legal-status", "conditions", "procedures", "medications", "allergies", "alerts",
                  "history", "birth", "encounters", "appointments", "documents", "results",
                  "imaging-reports", "observations", "immunisations", "research",
                  "mental-health-act", "end-of-life", "service-summaries"]
errors = []


def run(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True)


def region(name, people, seed, faults):
    root = os.path.join(TMP, name)
    os.makedirs(root)
    reg, db = os.path.join(root, "region"), new_db_url(os.path.join(name, "weft.db"))
    run("synth", "--people", str(people), "--seed", str(seed), "--out", reg, "--quiet",
        *(["--no-faults"] if not faults else ["--fault-rate", faults]))
    run("init", "--db", db)
    out = run("synth", "register", "--db", db, "--in", reg, "--drop-root", os.path.join(root, "drop"))
    print(out.stdout.strip())
    cred = os.path.join(reg, "credentials.json")
    if stat.S_IMODE(os.stat(cred).st_mode) != 0o600:
        errors.append("credentials.json is not mode 0600")
    return root, reg, db, cred


def wait_file(path):
    for _ in range(400):
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        time.sleep(0.05)
    sys.exit(f"FAIL: {path} never written")


def replay(root, reg, db, cred):
    log = open(os.path.join(root, "serve.log"), "w")
    srv = subprocess.Popen([BIN, "serve", "--db", db, "--http", "127.0.0.1:0", "--port-file",
                            os.path.join(root, "port"), "--mllp", "127.0.0.1:0", "--mllp-port-file",
                            os.path.join(root, "mport"), "--drop-interval", "1", "--threads", "2"],
                           stdout=log, stderr=log)
    try:
        port, mport = wait_file(os.path.join(root, "port")), wait_file(os.path.join(root, "mport"))
        r = subprocess.run([BIN, "replay-feeds", reg, "--http", f"http://127.0.0.1:{port}",
                            "--mllp", f"127.0.0.1:{mport}", "--credentials", cred,
                            "--csv-wait", "60", "--quiet"], capture_output=True, text=True, timeout=900)
    finally:
        srv.terminate()
        srv.wait(timeout=60)
    print(r.stdout)
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        w = line.split()
        if len(w) >= 7 and w[1] in ("hl7v2", "fhir", "csv"):
            rows[w[0]] = dict(kind=w[1], sent=int(w[2]), accepted=int(w[3]), ae=int(w[4]),
                              ar=int(w[5]), errors=int(w[6]))
    if not rows:
        print(r.stderr)
        sys.exit("FAIL: replay-feeds printed no report")
    return r.returncode, rows


def want_category(r):
    for t in r.get("meta", {}).get("tag", []):
        if t.get("system") == "urn:weft:category":
            return t["code"]
    for key in ("category", "type"):
        v = r.get(key, [])
        for c in (v if isinstance(v, list) else [v]):
            if isinstance(c, dict):
                for cd in c.get("coding", []):
                    if cd.get("system") == CAT:
                        return cd["code"]
    return BY_TYPE.get(r["resourceType"])


# ---- clean region -------------------------------------------------------------
root, reg, db, cred = region("clean", 600, 9, None)
rc, rows = replay(root, reg, db, cred)
man = json.load(open(os.path.join(reg, "manifest.json")))
for o in man["organisations"]:
    for f in o["feeds"]:
        want = len(f["files"]) if f["kind"] == "csv" else f["records"]
        got = rows.get(f["name"])
        if not got or got["sent"] != want or got["accepted"] != want or got["ae"] or got["ar"] or got["errors"]:
            errors.append(f"feed {f['name']}: {got} (want {want} sent and accepted)")
if rc != 0:
    errors.append(f"replay-feeds exit {rc} on a clean region")

stored = {(o, t, s): c for o, t, s, c in db_rows(
    db, "select source_org, type, source_id, category from resource")}
expected = {}
for f in sorted(glob.glob(os.path.join(reg, "feeds/*/fhir/*.ndjson"))):
    org = f.split("/")[-3]
    for line in open(f):
        for e in json.loads(line)["entry"]:
            r = e["resource"]
            expected[(org, r["resourceType"], r["id"])] = want_category(r)
missing = [k for k in expected if k not in stored]
if missing:
    errors.append(f"{len(missing)} resources sent by FHIR not in the store, e.g. {missing[:3]}")
wrong = {}
for k, cat in expected.items():
    if k in stored and cat and stored[k] != cat:
        wrong.setdefault((k[1], cat, stored[k]), []).append(k[2])
for (t, want, got), ids in sorted(wrong.items()):
    errors.append(f"{len(ids)} {t} coded '{want}' stored as '{got}' (e.g. {ids[0]})")
cats = {c for c in stored.values()}
for c in ALL_CATEGORIES:
    if c not in cats:
        errors.append(f"record category {c} not in the store")
print(f"{len(stored)} resources stored in {len(cats)} categories")

local = {(o, s, v): p for o, s, v, p in db_rows(db, "select org, system, value, person_id from person_local")}
person_of = {}
for row in csv.DictReader(open(os.path.join(reg, "truth/records.csv"))):
    pid = local.get((row["org"], row["id_system"], row["local_id"]))
    if pid is None:
        errors.append(f"{row['org']} {row['id_system']}|{row['local_id']} ({row['person']}) not known to the store")
        continue
    person_of.setdefault(row["person"], set()).add(pid)
split = [p for p, s in person_of.items() if len(s) != 1]
if split:
    errors.append(f"{len(split)} true people split over several Weft persons, e.g. {split[:3]}")
owners = {}
for p, s in person_of.items():
    for w in s:
        owners.setdefault(w, set()).add(p)
merged = [w for w, ps in owners.items() if len(ps) > 1]
if merged:
    errors.append(f"{len(merged)} Weft persons hold several true people")
print(f"{len(person_of)} true people -> {len(owners)} Weft persons")
# the scoring tool agrees: a clean region links perfectly
score = json.loads(subprocess.run([sys.executable, os.path.join(os.environ["WEFT_ROOT"], "bench/synth_score.py"),
                                   "--db", db, "--in", reg, "--json"], check=True, capture_output=True,
                                  text=True).stdout)
print("score:", {k: score[k] for k in ("records", "ppv", "sensitivity", "people_split")})
if score["ppv"] != 1.0 or score["sensitivity"] != 1.0 or score["people_split"] or score["records_not_in_store"]:
    errors.append(f"synth_score on the clean region: {score}")

codes = {}
for pid, t, code in db_rows(db, "select person_id, type, code from resource where code is not null"):
    codes.setdefault(pid, set()).add((t, code))
people = list(csv.DictReader(open(os.path.join(reg, "truth/people.csv"))))
diabetics = [p for p in people if "diabetes" in p["conditions"].split(";")]
for d in diabetics:
    pid = next(iter(person_of.get(d["person"], {None})))
    have = codes.get(pid, set())
    for need in [("Condition", "http://snomed.info/sct|44054006"),
                 ("MedicationRequest", "http://snomed.info/sct|325278007"),
                 ("Observation", "http://loinc.org|59261-8")]:
        if need not in have:
            errors.append(f"diabetic {d['person']} lacks {need[0]} {need[1]}")
print(f"{len(diabetics)} diabetics checked")
if len(diabetics) < 10:
    errors.append("too few diabetics to check coherence")

# ---- faulty region -------------------------------------------------------------
root, reg, db, cred = region("faulty", 300, 6, "malformed=0.05")
rc, rows = replay(root, reg, db, cred)
truth = {"hl7v2": 0, "fhir": 0, "csv": 0}
for f in csv.DictReader(open(os.path.join(reg, "truth/faults.csv"))):
    if f["kind"] == "malformed" and f["file"].endswith(".hl7"):
        truth["hl7v2"] += 1
    elif f["kind"] == "malformed" and f["file"].endswith(".ndjson"):
        truth["fhir"] += 1
    elif f["file"].endswith(".csv") and f["kind"] in ("malformed", "future-date", "unknown-code"):
        truth["csv"] += 1
got = {k: 0 for k in truth}
for r in rows.values():
    if r["kind"] != "csv":
        got[r["kind"]] += r["ae"] + r["ar"]
    if r["errors"]:
        errors.append(f"faulty: transport errors {r}")
csv_rejected = 0
for rep in glob.glob(os.path.join(root, "drop/*/*/*.report.json")):
    csv_rejected += json.load(open(rep))["rows_rejected"]
got["csv"] = csv_rejected
print(f"faulty: rejected {got}, truth says {truth}")
if min(truth.values()) < 2:
    errors.append(f"too few malformed records to test: {truth}")
if got != truth:
    errors.append(f"faulty: rejected {got} but the truth lists {truth}")
if rc != 1:
    errors.append(f"replay-feeds exit {rc} with rejections (want 1)")

if errors:
    for e in errors:
        print("FAIL:", e)
    sys.exit(1)
print("ok")
