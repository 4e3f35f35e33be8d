#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""api_bundle_retry.py - POST /fhir's retry rule (store_txn_run, store/txn.h;
fhir/api_bundle.c): a Bundle whose load met another writer (PostgreSQL, whose
writers overlap) is rolled back whole and loaded again once from the body as
received, before anything is answered; a second race answers 503 with
Retry-After and an OperationOutcome, nothing of the Bundle stored.  Real
races are rare (api_writers_race.py makes them on PostgreSQL), so the test
build's failpoints force them on either backend:

  store-unit-raced        every unit's first attempt counts as raced: a
                          transaction Bundle, a batch Bundle with a refused
                          entry and a refused transaction come out exactly
                          as without it - the same statuses and entries,
                          one version per write (version 1, then 2: never
                          applied twice), one inbox row each, applied or
                          partial, one audit entry each, each counting
                          the resources once;
  store-unit-raced-twice  every attempt counts as raced: 503, Retry-After,
                          OperationOutcome "try again", nothing stored, the
                          inbox row kept as rejected with its body (a
                          client's retry then stores it, once).
The test build only (the release binary has no failpoints)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, db_rows, nhs, setup_db, skip, weft_id  # noqa: E402

if os.environ.get("WEFT_BIN_KIND") == "release":
    skip("the failpoints store-unit-raced(-twice) are in the test build only")

ORG = "SYN01"
db, rw, ro = setup_db(ORG)


def patient(pid, number, given):
    return {"resourceType": "Patient", "id": pid,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}],
            "name": [{"family": "Retryperson", "given": [given]}], "birthDate": "1971-03-04"}


def obs(oid, pid):
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": "Patient/" + pid},
            "effectiveDateTime": "2024-05-01T09:30:00Z",
            "valueQuantity": {"value": 12, "unit": "g/dL"}}


def bundle(btype, *entries):
    return {"resourceType": "Bundle", "type": btype, "entry": list(entries)}


def put(r):
    return {"fullUrl": "urn:uuid:" + r["id"], "resource": r,
            "request": {"method": "PUT", "url": "%s/%s" % (r["resourceType"], r["id"])}}


def versions(rtype, rid):
    return db_rows(db, "SELECT version FROM resource WHERE id = ? ORDER BY version",
                   (weft_id(ORG, rtype, rid),))


def inbox():
    return db_rows(db, "SELECT outcome FROM inbox ORDER BY id")


def writes():
    return db_rows(db, "SELECT outcome FROM audit_entry WHERE action = ? ORDER BY seq", ("write",))


def statuses(b):
    return [e["response"]["status"].split()[0] for e in b.get("entry", [])]


os.environ["WEFT_FAILPOINTS"] = "store-unit-raced"
srv = Server(db)
os.environ.pop("WEFT_FAILPOINTS")
NHS_A, NHS_B = nhs(5101), nhs(5202)

# a transaction: both entries made once, version 1
st, _, b = srv.request("POST", "/fhir", token=rw,
                       body=bundle("transaction", put(patient("pa", NHS_A, "Ann")),
                                   put(obs("oa", "pa"))))
check(st == 200 and statuses(b) == ["201", "201"], "transaction: %d %r" % (st, b))
check(versions("Patient", "pa") == [(1,)] and versions("Observation", "oa") == [(1,)],
      "transaction applied twice? %r %r" % (versions("Patient", "pa"), versions("Observation", "oa")))
# the same Patient again, changed: version 2, once
st, _, b = srv.request("POST", "/fhir", token=rw,
                       body=bundle("transaction", put(patient("pa", NHS_A, "Anne"))))
check(st == 200 and statuses(b) == ["200"], "update: %d %r" % (st, b))
check(versions("Patient", "pa") == [(1,), (2,)], "update: versions %r" % versions("Patient", "pa"))
# a batch: its refused entry refused, the other stored once
st, _, b = srv.request("POST", "/fhir", token=rw,
                       body=bundle("batch", put(patient("pb", NHS_B, "Bea")),
                                   {"request": {"method": "GET", "url": "Patient/pa"}}))
check(st == 200 and statuses(b) == ["201", "400"], "batch: %d %r" % (st, b))
check(versions("Patient", "pb") == [(1,)], "batch: versions %r" % versions("Patient", "pb"))
# a transaction with a refused entry: 400, nothing stored
st, _, b = srv.request("POST", "/fhir", token=rw,
                       body=bundle("transaction", put(patient("pc", nhs(5303), "Cal")),
                                   {"request": {"method": "GET", "url": "Patient/pa"}}))
check(st == 400, "refused transaction: %d %r" % (st, b))
check(versions("Patient", "pc") == [], "refused transaction stored %r" % versions("Patient", "pc"))
log = srv.stop()
n = log.count("api unit met another writer (")
check(n >= 4, "every Bundle's load done again: %d retries in %r" % (n, log[-2000:]))
check(inbox() == [("applied",), ("applied",), ("partial",), ("rejected",)],
      "inbox rows %r" % inbox())
check(writes() == [("success",), ("success",), ("success",), ("failure",)],
      "audit write entries %r" % writes())
# what each kept: the second attempt's counts, never both attempts' added up
res = db_rows(db, "SELECT resources FROM inbox ORDER BY id")
check(res == [(2,), (1,), (1,), (0,)], "inbox resources (counted twice?) %r" % res)
cnt = db_rows(db, "SELECT count FROM audit_entry WHERE action = ? ORDER BY seq", ("write",))
check(cnt == [(2,), (1,), (1,), (0,)], "audit counts (counted twice?) %r" % cnt)
print("ok: each load done twice (%d retries), the same outcomes, each write once" % n)

# both attempts raced: 503 with Retry-After, nothing stored, the inbox row kept
os.environ["WEFT_FAILPOINTS"] = "store-unit-raced-twice"
srv = Server(db, tag="2")
os.environ.pop("WEFT_FAILPOINTS")
body = bundle("transaction", put(patient("pd", nhs(5404), "Dee")), put(obs("od", "pd")))
st, hdrs, b = srv.request("POST", "/fhir", token=rw, body=body)
check(st == 503, "raced twice: %d %r" % (st, b))
check(hdrs.get("retry-after", "").isdigit(), "no Retry-After: %r" % hdrs)
check(isinstance(b, dict) and b.get("resourceType") == "OperationOutcome" and
      "try again" in b["issue"][0]["diagnostics"], "503 body: %r" % b)
check(versions("Patient", "pd") == [] and versions("Observation", "od") == [],
      "raced twice but stored")
kept = db_rows(db, "SELECT outcome, length(body) FROM inbox ORDER BY id DESC LIMIT 1")
check(kept[0][0] == "rejected" and kept[0][1] > 0, "inbox row %r" % kept)
check(writes()[-1] == ("failure",), "audit %r" % writes()[-1:])
log = srv.stop()
check("met another writer twice" in log, "log: %r" % log[-1500:])
# the client tries again (no race now): stored, once
srv = Server(db, tag="3")
st, _, b = srv.request("POST", "/fhir", token=rw, body=body)
check(st == 200 and statuses(b) == ["201", "201"], "again: %d %r" % (st, b))
check(versions("Patient", "pd") == [(1,)], "again: %r" % versions("Patient", "pd"))
srv.stop()
print("ok: raced twice answered 503 with Retry-After, nothing stored; the retry stored it once")
print("PASS")
