#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""bulk_metadata.py - the CapabilityStatement (/fhir/metadata) declares FHIR
Bulk Data $export as the Bulk Data IG (v2) server statement does: it
instantiates http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data,
rest.operation holds export (OperationDefinition/export), the Patient
resource the patient-export operation and a Group resource the group-export
one, beside Patient's own operations; and each declared operation is
served: a kick-off at the path it names answers 202 with Content-Location
for a registered client, and the Group read it declares answers the group."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, new_db_url  # noqa: E402
from access_lib import add_org, weft  # noqa: E402

IG = "http://hl7.org/fhir/uv/bulkdata/"
GP = "G81001"
db = new_db_url("weft.db")
weft("init", "--db", db)
add_org(db, GP, "gp")
# one client per kick-off: a client has one export at a time, and a cancelled
# one may still be winding down when the next is asked for
clients = [weft("client", "add", "--db", db, "--name", "bulk-meta-%d" % i, "--org", GP).strip()
           for i in range(3)]
direct = clients[0]
srv = Server(db, "--export-dir", os.path.join(TMP, "exports"))

st, _, cap = srv.request("GET", "/fhir/metadata", headers={"Accept": "application/fhir+json"})
check(st == 200 and cap["resourceType"] == "CapabilityStatement", "metadata: %d" % st)
check(IG + "CapabilityStatement/bulk-data" in cap.get("instantiates", []),
      "instantiates: %r" % cap.get("instantiates"))
rest = cap["rest"][0]


def ops(entries):
    return {o["definition"]: o for o in entries or []}


system = ops(rest.get("operation"))
check(IG + "OperationDefinition/export" in system, "rest.operation: %r" % rest.get("operation"))
check(system[IG + "OperationDefinition/export"]["name"] == "export", "system $export named export")
res = {r["type"]: r for r in rest["resource"]}
check("Patient" in res and "Group" in res, "resources: %r" % sorted(res))
pat = ops(res["Patient"].get("operation"))
check(IG + "OperationDefinition/patient-export" in pat, "Patient.operation: %r" % list(pat))
check(pat[IG + "OperationDefinition/patient-export"]["name"] == "export", "Patient $export name")
# Patient's other operations stay declared
check("http://hl7.org/fhir/OperationDefinition/Patient-everything" in pat, "Patient $everything kept")
grp = ops(res["Group"].get("operation"))
check(IG + "OperationDefinition/group-export" in grp, "Group.operation: %r" % list(grp))
check(grp[IG + "OperationDefinition/group-export"]["name"] == "export", "Group $export name")
check([i["code"] for i in res["Group"].get("interaction", [])] == ["read"], "Group: read only")
for r in rest["resource"]:
    for o in r.get("operation", []):
        check(o.get("name") and o.get("definition"), "%s: operation without name/definition" % r["type"])

# what is declared is served
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
for path, tok in zip(("/fhir/$export", "/fhir/Patient/$export",
                      "/fhir/Group/practice-%s/$export" % GP), clients):
    st, hd, body = srv.request("GET", path + "?_type=Patient", token=tok, headers=ASYNC)
    check(st == 202 and "content-location" in hd, "kick-off %s: %d %r" % (path, st, body))
    loc = hd["content-location"]
    st, _, _ = srv.request("DELETE", loc[loc.index("/fhir/"):], token=tok)
    check(st == 202, "cancel %s: %d" % (path, st))
st, _, g = srv.request("GET", "/fhir/Group/practice-" + GP, token=direct)
check(st == 200 and g["resourceType"] == "Group", "Group read: %d %r" % (st, g))
print("ok: $export declared on system, Patient and Group, each served")
