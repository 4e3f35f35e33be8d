#!/usr/bin/env python3
# weft-test-postgres-skip: touches no database: reads the generated HL7 v2 files with python3-hl7 (one run is enough)
"""synth_hl7_interop.py - the generated HL7 v2 feeds read by an independent
parser (Debian's python3-hl7), field by field against the ground truth.

A clean region (600 people, seed 9: it has Mental Health Act sections): every message of every trust parses with
hl7.parse(); MSH-4 is the trust's ODS code (the facility its feed registers);
PID-3 carries the NHS number (type NH, authority NHS) and the hospital number
(type MR, authority = ODS) that truth/records.csv gives for that person, and
PID-5, PID-7, PID-8 are the true family name, birth date and sex; ADT messages
carry a PV1-19 visit number; ORU OBX-3 codes are LOINC with UCUM units in
OBX-6; ZMH segments (Mental Health Act) have a WEFT-MHA section code.
"""
import csv, os, re, subprocess, sys

try:
    import hl7
except ImportError:
    print("skip: python3-hl7 not installed")
    sys.exit(77)

BIN, TMP = os.environ["WEFT_BIN"], os.environ["WEFT_TMP"]
reg = os.path.join(TMP, "region")
subprocess.run([BIN, "synth", "--people", "600", "--seed", "9", "--out", reg, "--no-faults", "--quiet"],
               check=True, capture_output=True)
people = {p["person"]: p for p in csv.DictReader(open(os.path.join(reg, "truth/people.csv")))}
by_local = {(r["org"], r["local_id"]): r for r in csv.DictReader(open(os.path.join(reg, "truth/records.csv")))}
errors, counts = [], {}
for ods in sorted(os.listdir(os.path.join(reg, "feeds"))):
    d = os.path.join(reg, "feeds", ods, "hl7")
    if not os.path.isdir(d):
        continue
    for fn in sorted(os.listdir(d)):
        data = open(os.path.join(d, fn), "rb").read()
        for raw in re.findall(rb"\x0b(.*?)\x1c\r", data, re.S):
            text = raw.decode("utf-8")
            where = f"{fn} {text[:60]!r}"
            try:
                m = hl7.parse(text)
            except Exception as e:
                errors.append(f"{where}: python hl7 cannot parse: {e}")
                continue
            mtype = str(m.segment("MSH")[9][0][0]) + "^" + str(m.segment("MSH")[9][0][1])
            counts[mtype] = counts.get(mtype, 0) + 1
            if str(m.segment("MSH")[4]) != ods:
                errors.append(f"{where}: MSH-4 {m.segment('MSH')[4]} is not {ods}")
            pid = m.segment("PID")
            ids = {str(rep[4]): str(rep[0]) for rep in pid[3]}
            auth = {str(rep[4]): str(rep[3]) for rep in pid[3]}
            mrn = ids.get("MR")
            rec = by_local.get((ods, mrn))
            if not rec:
                errors.append(f"{where}: PID-3 MR {mrn} is not in truth/records.csv")
                continue
            if auth.get("MR") != ods or (ids.get("NH") and auth.get("NH") != "NHS"):
                errors.append(f"{where}: PID-3 assigning authorities {auth}")
            truth = people[rec["person"]]
            if ids.get("NH") != truth["nhs_number"]:
                errors.append(f"{where}: PID-3 NH {ids.get('NH')} != {truth['nhs_number']}")
            if str(pid[5][0][0]) != truth["family"] or str(pid[5][0][1]) != truth["given"]:
                errors.append(f"{where}: PID-5 {pid[5]} != {truth['family']}^{truth['given']}")
            if str(pid[7]) != truth["birth_date"].replace("-", ""):
                errors.append(f"{where}: PID-7 {pid[7]} != {truth['birth_date']}")
            if str(pid[8]) != truth["sex"][0].upper():
                errors.append(f"{where}: PID-8 {pid[8]} != {truth['sex']}")
            if mtype.startswith("ADT") and mtype not in ("ADT^A08", "ADT^A40"):
                if not str(m.segment("PV1")[19]):
                    errors.append(f"{where}: ADT without a PV1-19 visit number")
            if mtype == "ORU^R01":
                for obx in m.segments("OBX"):
                    if str(obx[2]) == "NM" and (str(obx[3][0][2]) != "LN" or str(obx[6][0][2]) != "UCUM"):
                        errors.append(f"{where}: OBX-3/6 {obx[3]} {obx[6]} not LOINC/UCUM")
            try:
                for z in m.segments("ZMH"):
                    counts["ZMH"] = counts.get("ZMH", 0) + 1
                    if str(z[2][0][2]) != "WEFT-MHA" or not str(z[2][0][0]):
                        errors.append(f"{where}: ZMH-2 {z[2]}")
            except KeyError:
                pass
print(counts)
for need in ("ADT^A01", "ADT^A02", "ADT^A03", "ADT^A04", "ADT^A08", "ORU^R01", "MDM^T02", "SIU^S12", "ZMH"):
    if not counts.get(need):
        errors.append(f"no {need} generated")
if sum(counts.values()) < 1000:
    errors.append("too few messages to mean anything")
for e in errors[:30]:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
