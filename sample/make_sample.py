#!/usr/bin/env python3
"""make_sample.py - writes the small hand-written UK sample region in this folder.

Three GP practices and one acute hospital trust in Kent, 20 people with NHS numbers from the
999 test range (valid modulus-11 check digits), and the kind of record each organisation keeps:
problems, medicines, allergies, blood pressures and blood tests, immunisations, consultations,
alerts, an end-of-life plan; the hospital's A&E and inpatient stays, lab and imaging reports and
a discharge summary.  Every name, address and number here is made up.

Run `python3 sample/make_sample.py` to regenerate the JSON files (the output is deterministic);
`sample/load-sample.sh DB` loads them (each file as its organisation).
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSCAT = "http://terminology.hl7.org/CodeSystem/observation-category"
VERIFIED = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"

PRACTICES = {
    "A81001": ("The Elms Medical Centre", "12 Elm Grove", "Canterbury", "CT1 2AB"),
    "A81002": ("Riverside Surgery", "3 Quay Lane", "Faversham", "ME13 7BS"),
    "A81003": ("Castle Street Practice", "40 Castle Street", "Dover", "CT16 1PT"),
}
HOSPITAL = ("RVV", "East Kent Hospitals (sample)", "Ethelbert Road", "Canterbury", "CT1 3NG")

# nhs, family, given, sex, birth date, postcode, practice
PEOPLE = [
    ("9993465003", "Hughes", "Margaret", "female", "1941-03-12", "CT1 3QX", "A81001"),
    ("9993843830", "Patel", "Raj", "male", "1958-11-02", "CT2 7NZ", "A81001"),
    ("9996836142", "Okafor", "Grace", "female", "1987-06-23", "CT1 1DP", "A81001"),
    ("9995528185", "Williams", "Thomas", "male", "1939-09-30", "CT3 4HG", "A81001"),
    ("9992265620", "Clarke", "Sophie", "female", "2019-01-15", "CT2 8AL", "A81001"),
    ("9994495836", "Nowak", "Piotr", "male", "1975-04-08", "CT1 2EE", "A81001"),
    ("9995121573", "Evans", "Dorothy", "female", "1932-12-01", "CT4 6RT", "A81001"),
    ("9999956645", "Turner", "James", "male", "1964-07-19", "ME13 8QL", "A81002"),
    ("9999591000", "Begum", "Ayesha", "female", "1992-02-27", "ME13 7HX", "A81002"),
    ("9996978613", "Robinson", "Peter", "male", "1950-10-10", "ME13 0DN", "A81002"),
    ("9992898887", "Khan", "Imran", "male", "1981-05-05", "ME13 9PA", "A81002"),
    ("9992986360", "Smith", "Eileen", "female", "1945-08-17", "ME13 8JJ", "A81002"),
    ("9995701545", "Walker", "Ella", "female", "2008-03-03", "ME13 7TT", "A81002"),
    ("9994194070", "Green", "Harold", "male", "1936-01-22", "ME13 8BB", "A81002"),
    ("9991669922", "Ahmed", "Yusuf", "male", "1999-12-12", "CT16 2LA", "A81003"),
    ("9991512225", "Brown", "Lily", "female", "1971-09-09", "CT17 9DQ", "A81003"),
    ("9993378178", "Taylor", "George", "male", "1948-04-14", "CT16 1EX", "A81003"),
    ("9993780073", "Wilson", "Mary", "female", "1955-06-06", "CT17 0HH", "A81003"),
    ("9998663865", "Kowalski", "Anna", "female", "1990-11-30", "CT16 3RS", "A81003"),
    ("9991981284", "Davies", "Arthur", "male", "1929-02-02", "CT15 5AA", "A81003"),
]

# problems by person index: (snomed, display, onset)
PROBLEMS = {
    0: [("44054006", "Type 2 diabetes mellitus", "2004-05-10"), ("38341003", "Hypertensive disorder", "1999-03-01"),
        ("84114007", "Heart failure", "2019-11-20")],
    1: [("38341003", "Hypertensive disorder", "2011-02-14"), ("55822004", "Hyperlipidemia", "2011-02-14")],
    2: [("195967001", "Asthma", "1995-09-01")],
    3: [("13645005", "Chronic obstructive lung disease", "2008-01-12"), ("49436004", "Atrial fibrillation", "2016-06-30"),
        ("26929004", "Alzheimer's disease", "2021-04-04")],
    5: [("35489007", "Depressive disorder", "2018-10-01")],
    6: [("396275006", "Osteoarthritis", "1990-01-01"), ("84114007", "Heart failure", "2022-02-02"),
        ("363346000", "Malignant neoplastic disease", "2024-05-15")],
    7: [("44054006", "Type 2 diabetes mellitus", "2015-07-07")],
    9: [("13645005", "Chronic obstructive lung disease", "2012-12-12"), ("38341003", "Hypertensive disorder", "2005-05-05")],
    10: [("195967001", "Asthma", "2001-03-03")],
    11: [("49436004", "Atrial fibrillation", "2019-09-19"), ("230690007", "Cerebrovascular accident", "2023-01-08")],
    13: [("26929004", "Alzheimer's disease", "2020-10-10"), ("396275006", "Osteoarthritis", "2000-06-01")],
    15: [("73211009", "Diabetes mellitus", "2010-10-10")],
    16: [("38341003", "Hypertensive disorder", "1998-08-08"), ("399068003", "Malignant tumor of prostate", "2021-03-15")],
    17: [("69896004", "Rheumatoid arthritis", "2003-04-04")],
    19: [("84114007", "Heart failure", "2017-07-17"), ("709044004", "Chronic kidney disease", "2018-08-18")],
}
# medicines (dm+d / SNOMED ids): (code, display, dosage)
MEDS = {
    0: [("39733811000001108", "Metformin 500mg tablets", "One tablet twice a day"),
        ("318858001", "Ramipril 5mg capsules", "One capsule daily"),
        ("317283000", "Bisoprolol 2.5mg tablets", "One tablet daily")],
    1: [("318858001", "Ramipril 5mg capsules", "One capsule daily"),
        ("320000009", "Simvastatin 40mg tablets", "One tablet at night")],
    2: [("320176004", "Salbutamol 100micrograms/dose inhaler", "Two puffs when required")],
    3: [("349360003", "Tiotropium 18microgram inhalation powder capsules", "One capsule inhaled daily"),
        ("375568003", "Warfarin 1mg tablets", "As directed by anticoagulant clinic")],
    5: [("321956001", "Sertraline 50mg tablets", "One tablet daily")],
    6: [("322236009", "Paracetamol 500mg tablets", "Two tablets four times a day when required"),
        ("317972000", "Furosemide 40mg tablets", "One tablet in the morning")],
    7: [("39733811000001108", "Metformin 500mg tablets", "One tablet twice a day")],
    9: [("320176004", "Salbutamol 100micrograms/dose inhaler", "Two puffs when required")],
    11: [("716069003", "Apixaban 5mg tablets", "One tablet twice a day")],
    16: [("318858001", "Ramipril 5mg capsules", "One capsule daily")],
    17: [("108979001", "Methotrexate 2.5mg tablets", "Four tablets once a week on Mondays")],
    19: [("317972000", "Furosemide 40mg tablets", "One tablet in the morning")],
}
ALLERGIES = {0: ("91936005", "Allergy to penicillin"), 3: ("294505008", "Allergy to aspirin"),
             10: ("91935009", "Allergy to peanuts"), 17: ("91936005", "Allergy to penicillin")}
ALERTS = {3: "Lives alone - key safe at front door", 6: "Hard of hearing - face patient when speaking",
          13: "Lacks capacity for some decisions - lasting power of attorney in place"}
SAFEGUARDING = {4: "Child protection plan in place (neglect)", 12: "Safeguarding concern raised by school nurse"}
END_OF_LIFE = {6: "ReSPECT form: for symptom control only, not for CPR", 19: "Advance care plan: wishes to die at home"}


def ref(uid):
    return {"reference": "urn:uuid:" + uid}


def uuid(org, kind, n):
    """Deterministic RFC 4122-shaped ids, so reruns produce identical files."""
    import hashlib
    h = hashlib.sha256(f"{org}/{kind}/{n}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def entry(res, uid, method="POST"):
    return {"fullUrl": "urn:uuid:" + uid, "resource": res,
            "request": {"method": method, "url": res["resourceType"]}}


def organization(org, name, line, city, pc, kind):
    uid = uuid(org, "org", 0)
    return uid, entry({"resourceType": "Organization", "id": uid,
                       "identifier": [{"system": ODS, "value": org}], "active": True, "name": name,
                       "type": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/organisation-role",
                                             "code": kind[0], "display": kind[1]}]}],
                       "address": [{"line": [line], "city": city, "postalCode": pc, "country": "GB"}]}, uid)


def practitioner(org, n, family, given, prefix):
    uid = uuid(org, "prac", n)
    return uid, entry({"resourceType": "Practitioner", "id": uid,
                       "identifier": [{"system": f"urn:weft:id:{org}:staff", "value": f"{org}-{n:03d}"}],
                       "name": [{"family": family, "given": [given], "prefix": [prefix]}]}, uid)


def patient(org, i, p, gp_uid, local_system=None, nhs_override=None):
    nhs, fam, giv, sex, dob, pc, _ = p
    uid = uuid(org, "pat", i)
    ids = [{"system": NHS, "value": nhs_override or nhs,
            "extension": [{"url": VERIFIED, "valueCodeableConcept": {"coding": [{
                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
                "code": "01", "display": "Number present and verified"}]}}]}]
    if local_system:
        ids.append({"system": local_system, "value": f"K{100000 + i * 7919 % 99999}"})
    return uid, entry({"resourceType": "Patient", "id": uid, "identifier": ids,
                       "name": [{"use": "official", "family": fam, "given": [giv]}], "gender": sex,
                       "birthDate": dob,
                       "address": [{"use": "home", "line": [f"{(i * 17) % 90 + 1} Sample Road"],
                                    "postalCode": pc, "country": "GB"}],
                       "generalPractitioner": [ref(gp_uid)]}, uid)


def observation(org, key, pat, when, cat, code, display, value=None, unit=None, components=None):
    uid = uuid(org, "obs", key)
    r = {"resourceType": "Observation", "id": uid, "status": "final",
         "category": [{"coding": [{"system": OBSCAT, "code": cat}]}],
         "code": {"coding": [{"system": SCT if code.isdigit() and len(code) > 7 else LOINC, "code": code,
                              "display": display}], "text": display},
         "subject": ref(pat), "effectiveDateTime": when}
    if value is not None:
        r["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if components:
        r["component"] = [{"code": {"coding": [{"system": LOINC, "code": c, "display": d}]},
                           "valueQuantity": {"value": v, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
                          for c, d, v in components]
    return uid, entry(r, uid)


def gp_bundle(org):
    name, line, city, pc = PRACTICES[org]
    org_uid, org_entry = organization(org, name, line, city, pc, ("RO76", "GP PRACTICE"))
    gps = [practitioner(org, 1, "Shah", "Nadia", "Dr"), practitioner(org, 2, "O'Brien", "Michael", "Dr")]
    entries = [org_entry] + [e for _, e in gps]
    for i, p in enumerate(PEOPLE):
        if p[6] != org:
            continue
        gp_uid = gps[i % 2][0]
        pat_uid, pat_entry = patient(org, i, p, gp_uid)
        entries.append(pat_entry)
        for k, (code, disp, onset) in enumerate(PROBLEMS.get(i, [])):
            uid = uuid(org, "cond", f"{i}-{k}")
            entries.append(entry({"resourceType": "Condition", "id": uid,
                                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                                  "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                                  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
                                  "code": {"coding": [{"system": SCT, "code": code, "display": disp}], "text": disp},
                                  "subject": ref(pat_uid), "onsetDateTime": onset, "recordedDate": onset,
                                  "recorder": ref(gp_uid)}, uid))
        for k, (code, disp, dose) in enumerate(MEDS.get(i, [])):
            uid = uuid(org, "med", f"{i}-{k}")
            entries.append(entry({"resourceType": "MedicationRequest", "id": uid, "status": "active",
                                  "intent": "order", "medicationCodeableConcept": {"coding": [{"system": SCT, "code": code, "display": disp}]},
                                  "subject": ref(pat_uid), "authoredOn": "2025-09-01", "requester": ref(gp_uid),
                                  "dosageInstruction": [{"text": dose}],
                                  "courseOfTherapyType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "code": "continuous"}]}}, uid))
        if i in ALLERGIES:
            code, disp = ALLERGIES[i]
            uid = uuid(org, "allergy", i)
            entries.append(entry({"resourceType": "AllergyIntolerance", "id": uid,
                                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                                  "code": {"coding": [{"system": SCT, "code": code, "display": disp}]},
                                  "patient": ref(pat_uid), "recordedDate": "2010-01-01",
                                  "reaction": [{"manifestation": [{"coding": [{"system": SCT, "code": "271807003", "display": "Eruption of skin"}]}]}]}, uid))
        # consultations with blood pressure; an HbA1c for people with diabetes
        for k, when in enumerate(["2025-03-11T09:20:00Z", "2025-10-02T10:40:00Z"]):
            enc_uid = uuid(org, "enc", f"{i}-{k}")
            entries.append(entry({"resourceType": "Encounter", "id": enc_uid, "status": "finished",
                                  "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
                                  "type": [{"coding": [{"system": SCT, "code": "185317003", "display": "Telephone encounter" if k else "Face to face consultation"}]}],
                                  "subject": ref(pat_uid), "participant": [{"individual": ref(gp_uid)}],
                                  "period": {"start": when, "end": when.replace(":20:", ":35:").replace(":40:", ":55:")},
                                  "serviceProvider": ref(org_uid)}, enc_uid))
            sys_bp = 118 + (i * 7 + k * 5) % 45
            _, e = observation(org, f"bp-{i}-{k}", pat_uid, when, "vital-signs", "85354-9", "Blood pressure panel",
                               components=[("8480-6", "Systolic blood pressure", sys_bp),
                                           ("8462-4", "Diastolic blood pressure", 70 + (i * 3 + k) % 20)])
            e["resource"]["encounter"] = ref(enc_uid)
            entries.append(e)
        if any(c[0] in ("44054006", "73211009") for c in PROBLEMS.get(i, [])):
            for k, (when, v) in enumerate([("2025-01-14", 58), ("2025-07-15", 53)]):
                _, e = observation(org, f"hba1c-{i}-{k}", pat_uid, when, "laboratory", "4548-4",
                                   "Hemoglobin A1c/Hemoglobin.total in Blood", v + i % 5, "mmol/mol")
                entries.append(e)
        if p[4] < "1961-01-01":
            uid = uuid(org, "imm", i)
            entries.append(entry({"resourceType": "Immunization", "id": uid, "status": "completed",
                                  "vaccineCode": {"coding": [{"system": SCT, "code": "39115611000001103", "display": "Influenza vaccine (surface antigen, inactivated)"}]},
                                  "patient": ref(pat_uid), "occurrenceDateTime": "2025-10-02", "primarySource": True}, uid))
        if i in ALERTS:
            uid = uuid(org, "alert", i)
            entries.append(entry({"resourceType": "Flag", "id": uid, "status": "active",
                                  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "admin"}]}],
                                  "code": {"text": ALERTS[i]}, "subject": ref(pat_uid), "period": {"start": "2024-06-01"}}, uid))
        if i in SAFEGUARDING:
            uid = uuid(org, "sg", i)
            entries.append(entry({"resourceType": "Flag", "id": uid, "status": "active",
                                  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "safety"}]}],
                                  "code": {"text": SAFEGUARDING[i]}, "subject": ref(pat_uid), "period": {"start": "2025-02-10"}}, uid))
        if i in END_OF_LIFE:
            uid = uuid(org, "eol", i)
            entries.append(entry({"resourceType": "CarePlan", "id": uid, "status": "active", "intent": "plan",
                                  "title": "End of life care plan", "description": END_OF_LIFE[i],
                                  "subject": ref(pat_uid), "period": {"start": "2025-05-20"}, "author": ref(gp_uid)}, uid))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def hospital_bundle():
    org, name, line, city, pc = HOSPITAL
    org_uid, org_entry = organization(org, name, line, city, pc, ("RO197", "NHS TRUST"))
    docs = [practitioner(org, 1, "Fernandes", "Lucia", "Dr"), practitioner(org, 2, "Mensah", "Kwame", "Dr")]
    entries = [org_entry] + [e for _, e in docs]
    gp_uid = org_uid
    for i in [0, 3, 6, 9, 11, 16, 19, 2]:
        p = PEOPLE[i]
        doc = docs[i % 2][0]
        # one record was keyed with a typo in the NHS number: kept, flagged, not linked by it
        override = "9993378179" if i == 16 else None
        pat_uid, pat_entry = patient(org, i, p, gp_uid, local_system=f"urn:weft:id:{org}:mrn", nhs_override=override)
        pat_entry["resource"].pop("generalPractitioner")
        entries.append(pat_entry)
        ae_uid = uuid(org, "ae", i)
        day = f"2025-{(i % 9) + 2:02d}-{(i * 3) % 27 + 1:02d}"
        entries.append(entry({"resourceType": "Encounter", "id": ae_uid, "status": "finished",
                              "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"},
                              "type": [{"coding": [{"system": SCT, "code": "4525004", "display": "Emergency department patient visit"}]}],
                              "subject": ref(pat_uid), "period": {"start": day + "T14:05:00Z", "end": day + "T19:30:00Z"},
                              "reasonCode": [{"text": "Shortness of breath" if i % 2 else "Fall at home"}],
                              "serviceProvider": ref(org_uid)}, ae_uid))
        labs = [("718-7", "Hemoglobin [Mass/volume] in Blood", 112 + i, "g/L"),
                ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", 4.1 + (i % 4) / 10, "mmol/L"),
                ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 88 + i * 3, "umol/L")]
        results = []
        for k, (code, disp, v, unit) in enumerate(labs):
            uid, e = observation(org, f"lab-{i}-{k}", pat_uid, day + "T15:10:00Z", "laboratory", code, disp, v, unit)
            e["resource"]["encounter"] = ref(ae_uid)
            entries.append(e)
            results.append(ref(uid))
        rep_uid = uuid(org, "dr", i)
        entries.append(entry({"resourceType": "DiagnosticReport", "id": rep_uid, "status": "final",
                              "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                              "code": {"coding": [{"system": LOINC, "code": "24323-8", "display": "Comprehensive metabolic panel"}], "text": "Urea, electrolytes and full blood count"},
                              "subject": ref(pat_uid), "encounter": ref(ae_uid), "effectiveDateTime": day + "T15:10:00Z",
                              "issued": day + "T16:02:00Z", "result": results}, rep_uid))
        if i % 2:
            xr_uid = uuid(org, "xr", i)
            entries.append(entry({"resourceType": "DiagnosticReport", "id": xr_uid, "status": "final",
                                  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
                                  "code": {"coding": [{"system": LOINC, "code": "36643-5", "display": "XR Chest 2 Views"}]},
                                  "subject": ref(pat_uid), "encounter": ref(ae_uid), "effectiveDateTime": day + "T15:40:00Z",
                                  "conclusion": "Mild cardiomegaly. No consolidation or effusion."}, xr_uid))
        if i in (0, 6, 19):
            adm_uid = uuid(org, "ip", i)
            entries.append(entry({"resourceType": "Encounter", "id": adm_uid, "status": "finished",
                                  "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
                                  "subject": ref(pat_uid), "partOf": ref(ae_uid),
                                  "period": {"start": day + "T19:30:00Z", "end": day[:8] + "28T11:00:00Z"},
                                  "hospitalization": {"dischargeDisposition": {"text": "Home with package of care"}},
                                  "serviceProvider": ref(org_uid)}, adm_uid))
            proc_uid = uuid(org, "proc", i)
            entries.append(entry({"resourceType": "Procedure", "id": proc_uid, "status": "completed",
                                  "code": {"coding": [{"system": SCT, "code": "40701008", "display": "Echocardiography"}]},
                                  "subject": ref(pat_uid), "encounter": ref(adm_uid), "performedDateTime": day[:8] + "25T10:00:00Z",
                                  "performer": [{"actor": ref(doc)}]}, proc_uid))
            ds_uid = uuid(org, "ds", i)
            entries.append(entry({"resourceType": "DocumentReference", "id": ds_uid, "status": "current",
                                  "type": {"coding": [{"system": SCT, "code": "373942005", "display": "Discharge summary"}]},
                                  "subject": ref(pat_uid), "date": day[:8] + "28T12:00:00Z", "author": [ref(doc)],
                                  "custodian": ref(org_uid), "context": {"encounter": [ref(adm_uid)]},
                                  "content": [{"attachment": {"contentType": "text/plain", "title": "Discharge summary",
                                               "data": "RGlzY2hhcmdlZCBob21lLiBGb2xsb3ctdXAgd2l0aCBHUCBpbiAyIHdlZWtzLg=="}}]}, ds_uid))
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def main():
    outs = {f"gp-{org}.json": gp_bundle(org) for org in PRACTICES}
    outs["hospital-RVV.json"] = hospital_bundle()
    for name, b in outs.items():
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(b, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"{name}: {len(b['entry'])} entries")


if __name__ == "__main__":
    main()
