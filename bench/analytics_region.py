#!/usr/bin/env python3
"""analytics_region.py - the generated region of bench_analytics.sh and the
changes bench_analytics_incr.sh sends into it (seeded: the same arguments give
the same files).

  python3 bench/analytics_region.py region OUT N [PRACTICES]
      per person a Patient (NHS number, birth date, one of PRACTICES practices,
      default 100: G80000..G80099, N / PRACTICES patients each), a few Conditions from the eFI sets and, from 65, current
      medicines: OUT-<practice>.ndjson, one file a practice (`weft load --org`).
  python3 bench/analytics_region.py changes OUT N K SEED [PRACTICES]
      K messages for K different persons of that region (chosen by SEED): each a
      new inpatient Encounter (a stay of 0-20 days in October 2026 at one of 20
      wards) or, one in ten, the person's Patient again naming another practice
      (a person moving practice); OUT-<practice>.ndjson as above.
"""
import json, random, sys

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def nhs(k):
    base = 400000000 + k * 3
    while True:
        d = "%09d" % base
        c = 11 - sum(int(x) * (10 - i) for i, x in enumerate(d)) % 11
        c = 0 if c == 11 else c
        if c != 10:
            return d + str(c)
        base += 1


def region(out, n, practices=100):
    rng = random.Random(1)
    conds = ["84114007", "44054006", "38341003", "49436004", "13645005", "52448006", "161898004",
             "64859006", "165232002", "397540003", "15188001", "271737000", "35489007"]
    meds = ["325278007", "319283006", "320000009", "318902004", "318590006", "317972000",
            "703907009", "321949006", "407627007", "322341003"]
    sct = "http://snomed.info/sct"
    files = {}
    for i in range(n):
            prac = "G8%04d" % (i % practices)
            if prac not in files:
                files[prac] = open("%s-%s.ndjson" % (out, prac), "w")
            f = files[prac]
            pid = "p%d" % i
            age = rng.randint(0, 99)
            f.write(json.dumps({"resourceType": "Patient", "id": pid,
                "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs(i)}],
                "name": [{"family": "F%d" % i, "given": ["G"]}],
                "birthDate": "%04d-06-15" % (2026 - age),
                "generalPractitioner": [{"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                                        "value": prac}}]}) + "\n")
            k = rng.randint(0, 6) if age >= 65 else rng.randint(0, 2)
            for j, c in enumerate(rng.sample(conds, k)):
                f.write(json.dumps({"resourceType": "Condition", "id": "%s-c%d" % (pid, j),
                    "subject": {"reference": "Patient/" + pid},
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                    "code": {"coding": [{"system": sct, "code": c}]}, "recordedDate": "2020-01-01"}) + "\n")
            for j, m in enumerate(rng.sample(meds, rng.randint(0, 7) if age >= 65 else 0)):
                f.write(json.dumps({"resourceType": "MedicationStatement", "id": "%s-m%d" % (pid, j),
                    "status": "active", "subject": {"reference": "Patient/" + pid},
                    "medicationCodeableConcept": {"coding": [{"system": sct, "code": m}]}}) + "\n")
    for f in files.values():
        f.close()

def patient(i, prac, age):
    return {"resourceType": "Patient", "id": "p%d" % i,
            "identifier": [{"system": NHS, "value": nhs(i)}],
            "name": [{"family": "F%d" % i, "given": ["G"]}],
            "birthDate": "%04d-06-15" % (2026 - age),
            "generalPractitioner": [{"identifier": {"system": ODS, "value": prac}}]}


def changes(out, n, k, seed, practices=100):
    rng = random.Random(seed)
    files = {}
    for i in rng.sample(range(n), k):
        prac = "G8%04d" % (i % practices)
        if prac not in files:
            files[prac] = open("%s-%s.ndjson" % (out, prac), "w")
        f = files[prac]
        if rng.random() < 0.1:
            p = patient(i, "G8%04d" % ((i + 1 + rng.randint(0, 98)) % practices), 70)
            f.write(json.dumps(p) + "\n")
            continue
        day = rng.randint(1, 31)
        stay = rng.randint(0, 20)
        ward = "WARD%02d" % rng.randint(0, 19)
        end = "2026-10-%02d" % (day + stay) if day + stay <= 31 else "2026-11-%02d" % (day + stay - 31)
        f.write(json.dumps({"resourceType": "Encounter", "id": "p%d-e%d" % (i, seed),
            "status": "finished", "class": {"code": "IMP"},
            "subject": {"reference": "Patient/p%d" % i},
            "period": {"start": "2026-10-%02dT10:00:00Z" % day, "end": end + "T11:00:00Z"},
            "location": [{"location": {"display": "KCH, " + ward}}]}) + "\n")
    for f in files.values():
        f.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["region"] and len(sys.argv) in (4, 5):
        region(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else 100)
    elif sys.argv[1:2] == ["changes"] and len(sys.argv) in (6, 7):
        changes(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                int(sys.argv[6]) if len(sys.argv) == 7 else 100)
    else:
        sys.exit(__doc__)
