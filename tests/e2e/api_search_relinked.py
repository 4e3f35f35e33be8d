#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_search_relinked.py - a patient's search follows the Patient's person at
once, on the same connection, when the Patient is re-linked or deleted between
two searches.

On PostgreSQL each connection keeps the persons of the Patients it was asked
about (store_patient_person_kept) and the search statement checks the kept one
in its own snapshot; a server with one worker (one connection) is asked the
same patient's search several times (so the person is kept), then:

  - the Patient is sent again with another person's NHS number (re-linked: its
    items move to that person): the very next search answers the new person's
    record - the Patient's items and the other Patient's - with its total, and
    the read is audited for the new person; a kept person trusted blindly
    answers the old person's (now empty) record;
  - it is sent back with its first NHS number (a new person again);
  - it is deleted: the search answers as for an unknown patient, as the
    server's first answer about it would.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, db_rows, nhs, setup_db, weft_id  # noqa: E402

ORG = "SYN01"


NHS_A, NHS_B = nhs(4101), nhs(4202)


def patient(pid, number, family):
    return {"resourceType": "Patient", "id": pid,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}],
            "name": [{"family": family, "given": ["Kim"]}], "birthDate": "1971-03-04"}


def obs(oid, pid, day):
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": "Patient/" + pid},
            "effectiveDateTime": "2024-05-%02dT09:30:00Z" % day,
            "valueQuantity": {"value": day, "unit": "g/dL"}}


def bundle(*resources):
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:" + r["id"], "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]}


db, rw, ro = setup_db(ORG)
srv = Server(db, "--threads", "1")


def post(*resources):
    st, _, b = srv.request("POST", "/fhir", body=bundle(*resources), token=rw)
    check(st == 200, "POST: %d %r" % (st, b))


post(patient("pa", NHS_A, "Relinka"), obs("a1", "pa", 1), obs("a2", "pa", 2))
post(patient("pb", NHS_B, "Relinkb"), obs("b1", "pb", 3), obs("b2", "pb", 4), obs("b3", "pb", 5))
PA, PB = weft_id(ORG, "Patient", "pa"), weft_id(ORG, "Patient", "pb")
OA = {weft_id(ORG, "Observation", o) for o in ("a1", "a2")}
OB = {weft_id(ORG, "Observation", o) for o in ("b1", "b2", "b3")}


def person_of(pid):
    rows = db_rows(db, "SELECT person_id FROM resource WHERE id = ? AND next_seq IS NULL", (pid,))
    check(len(rows) == 1, "Patient %s: %r" % (pid, rows))
    return rows[0][0]


def search(pid, want, what):
    path = "/fhir/Observation?patient=%s&_count=2" % pid
    st, _, b = srv.request("GET", path, token=ro)
    check(st == 200, "%s: %d %r" % (what, st, b))
    got = {e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match"}
    check(b.get("total") == len(want), "%s: total %r, want %d" % (what, b.get("total"), len(want)))
    check(got <= want and len(got) == min(2, len(want)),
          "%s: the first page %r is not of %r" % (what, sorted(got), sorted(want)))
    print("ok %s: total %d" % (what, b["total"]))


def audited(n):
    """The search entries by person once the audit writer has written all n."""
    deadline = time.time() + 20
    while True:
        rows = db_rows(db, "SELECT person_id, count(*) FROM audit_entry WHERE action = 'search'"
                           " GROUP BY person_id")
        if sum(c for _, c in rows) >= n or time.time() > deadline:
            return dict(rows)
        time.sleep(0.1)


X, Y = person_of(PA), person_of(PB)
check(X and Y and X != Y, "two persons: %r %r" % (X, Y))
for i in range(5):  # the one worker's connection now keeps pa's person
    search(PA, OA, "before, search %d" % (i + 1))
search(PB, OB, "the other patient")
search(PA, OA, "before, again")

# re-linked: pa now carries pb's NHS number, so pb's person, and its items move there
post(patient("pa", NHS_B, "Relinka"))
check(person_of(PA) == Y, "pa was not re-linked to pb's person")
search(PA, OA | OB, "re-linked, the next search")
got = audited(8)
check(got == {X: 6, Y: 2}, "audited searches by person %r, want 6 of the old person, 2 of the new"
      % got)
search(PA, OA | OB, "re-linked, again")
search(PB, OA | OB, "the other patient, re-linked")

# and back: its own NHS number again (a person of its own, its items with it)
post(patient("pa", NHS_A, "Relinka"))
Z = person_of(PA)
check(Z != Y, "pa still pb's person")
search(PA, OA, "linked back, the next search")
search(PB, OB, "the other patient, after")

# deleted: answered as a Patient the server does not know
search(PA, OA, "before the delete")
st, _, b = srv.request("POST", "/fhir", token=rw, body={
    "resourceType": "Bundle", "type": "transaction",
    "entry": [{"request": {"method": "DELETE", "url": "Patient/pa"}}]})
check(st == 200, "DELETE entry: %d %r" % (st, b))
check(not db_rows(db, "SELECT 1 FROM resource WHERE id = ? AND next_seq IS NULL AND NOT deleted",
                  (PA,)), "pa not deleted")
st, _, b = srv.request("GET", "/fhir/Observation?patient=%s&_count=2" % PA, token=ro)
st2, _, b2 = Server(db, "--threads", "1", tag="2").request(
    "GET", "/fhir/Observation?patient=%s&_count=2" % PA, token=ro)
check((st, b.get("total"), len(b.get("entry", []))) == (st2, b2.get("total"), len(b2.get("entry", []))),
      "deleted: %d %r, a new server answers %d %r" % (st, b, st2, b2))
check(not any(e["search"]["mode"] == "match" for e in b.get("entry", [])),
      "deleted: items still answered: %r" % b)
print("ok deleted: %d, as a new server's" % st)
print("PASS")
