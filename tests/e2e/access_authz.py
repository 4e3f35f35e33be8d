#!/usr/bin/env python3
"""access_authz.py - the table-driven authorisation test, end to end through
the real HTTP API: every job role of the default policy x every record
category x own / other organisation x objection upheld or not x break-glass
or not x the user's organisation's agreement in force or ended.

Each role's categories and break-glass right are written out below by hand,
from the policy's intent (BRIEF §2, §5), not read from the policy engine: a
change to policy/default.policy that does not match them fails this test.

Three organisations each send, for two people, a Patient (demographics) and
one Observation tagged with each other category.  One person's objection is
upheld.  For each combination a user is launched with a signed JWT, asks for
break-glass through the CSRF-protected form when the combination says so,
and reads the person with $everything; the set of (category, organisation)
items returned must be exactly the expected one, with no total that counts
more, and the response must say that something is withheld whenever it is.
Then every refusal must be in the audit log and the log must verify."""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, db_rows, new_db_url, run, weft_id, TMP  # noqa: E402
from access_lib import (CATEGORIES, add_hs_launcher, add_org, claims, launch,  # noqa: E402
                        nhs, person_bundle, post_form, session_info, sign, visible, weft,
                        writer_token)

RESTRICTED = {"safeguarding", "legal-status", "mental-health-act"}
NORMAL = [c for c in CATEGORIES if c not in RESTRICTED]
ADMIN = {"demographics", "contacts", "appointments"}

# role -> (categories it may see, may it break glass)
EXPECTED = {
    "R8000": (set(NORMAL) | {"mental-health-act"}, True),
    "R8001": (set(NORMAL), True),
    "R8003": (set(NORMAL), True),
    "R8004": ({"demographics", "contacts", "conditions", "procedures", "medications", "allergies",
               "alerts", "encounters", "appointments", "documents", "results", "imaging-reports",
               "observations", "immunisations", "end-of-life"}, False),
    "R8006": (ADMIN, False),
    "R8008": (ADMIN, False),
    "R8009": (ADMIN, False),
    "R8010": (ADMIN, False),
    "R8012": (ADMIN, False),
    "R0001": ({"demographics"}, False),
    "R5105": ({"demographics"}, False),
    "IG-OFFICER": ({"demographics"}, False),
    "SOCIAL-CARE-PRACTITIONER": ({"demographics", "contacts", "social-care-assessment", "services",
                                  "safeguarding", "legal-status", "alerts", "allergies",
                                  "medications", "conditions", "encounters", "appointments",
                                  "end-of-life", "service-summaries"}, True),
    "PARAMEDIC": ({"demographics", "contacts", "services", "conditions", "procedures",
                   "medications", "allergies", "alerts", "history", "encounters", "documents",
                   "results", "imaging-reports", "observations", "immunisations", "end-of-life",
                   "service-summaries", "mental-health-act"}, True),
    "HOSPICE-CLINICIAN": ({"demographics", "contacts", "social-care-assessment", "services",
                           "conditions", "procedures", "medications", "allergies", "alerts",
                           "history", "encounters", "appointments", "documents", "results",
                           "imaging-reports", "observations", "immunisations", "end-of-life",
                           "service-summaries"}, True),
    "SAFEGUARDING-LEAD": ({"demographics", "contacts", "social-care-assessment", "services",
                           "safeguarding", "legal-status", "mental-health-act", "alerts",
                           "conditions", "encounters", "appointments", "documents", "end-of-life",
                           "service-summaries"}, True),
    "ANALYST": (set(), False),
}

OWN_OK, OWN_ENDED, OTHER = "RVV", "RWF", "G82001"
ORGS = [OWN_OK, OWN_ENDED, OTHER]

db = new_db_url()
weft("init", "--db", db)
for o, t in ((OWN_OK, "acute"), (OWN_ENDED, "mental-health"), (OTHER, "gp")):
    add_org(db, o, t)
secrets = {OWN_OK: add_hs_launcher(db, "epr-rvv", OWN_OK, "https://epr.rvv.example"),
           OWN_ENDED: add_hs_launcher(db, "epr-rwf", OWN_ENDED, "https://epr.rwf.example")}
issuers = {OWN_OK: "https://epr.rvv.example", OWN_ENDED: "https://epr.rwf.example"}
writers = {o: writer_token(db, o) for o in ORGS}

srv = Server(db)
people = {"free": nhs(100), "objecting": nhs(200)}
item = {}  # "Type/id" -> (category, org, person tag)
patient_of = {}
for o in ORGS:
    for tag, number in people.items():
        pid, bundle = person_bundle(o, tag, number)
        st, _, b = srv.request("POST", "/fhir", body=bundle, token=writers[o])
        check(st == 200, "loading %s/%s: %d %r" % (o, tag, st, b))
        patient_of[tag] = weft_id(o, "Patient", pid)
        item["Patient/" + weft_id(o, "Patient", pid)] = ("demographics", o, tag)
        for c in CATEGORIES[1:]:
            oid = "obs-%s-%s-%s" % (o, tag, c)
            item["Observation/" + weft_id(o, "Observation", oid)] = (c, o, tag)
weft("objection", "set", "--db", db, "--nhs", people["objecting"], "--status", "upheld",
     "--date", "2026-01-01")

# Launch every combination first (all agreements in force), break-glass where asked.
combos = []
for role, (cats, can_bg) in EXPECTED.items():
    for org in (OWN_OK, OWN_ENDED):
        for tag in people:
            for bg in (False, True):
                sub = "u-%s-%s-%s-%d" % (role, org, tag, bg)
                tok = sign({"alg": "HS256", "typ": "JWT"},
                           claims(issuers[org], sub, role, org, people[tag]), "HS256",
                           secrets[org])
                st, hd, body, cookie = launch(srv, tok)
                check(st == 303 and cookie, "launch %s: %d %r" % (sub, st, body[:300]))
                check(hd.get("location", "").startswith("/patient/"), "launch location %r" % hd)
                if bg:
                    st, info = session_info(srv, cookie)
                    check(st == 200 and info.get("csrf"), "session info %d %r" % (st, info))
                    st, _, body = post_form(srv, "/breakglass", {
                        "csrf": info["csrf"], "reason_code": "emergency-care",
                        "reason_text": "collapsed in clinic, history needed"}, cookie)
                    want = 303 if can_bg else 403
                    check(st == want, "break-glass %s: %d, wanted %d: %r" % (sub, st, want,
                                                                           body[:300]))
                combos.append((role, org, tag, bg, cookie))

# Governance ends the second organisation's agreement while its users are signed in.
db_rows(db, "UPDATE agreement SET valid_to = '2021-12-31' WHERE ods = ?", (OWN_ENDED,))

checked = denied = 0
for role, org, tag, bg, cookie in combos:
    cats, can_bg = EXPECTED[role]
    in_force = org == OWN_OK
    glass = bg and can_bg
    upheld = tag == "objecting"
    st, ids, extra = visible(srv, cookie, patient_of[tag])
    label = "%s org=%s %s bg=%s" % (role, org, tag, bg)
    if not in_force or not cats:
        check(st == 403, "%s: expected refusal, got %d %r" % (label, st, ids))
        denied += 1
        continue
    check(st == 200, "%s: status %d %r" % (label, st, extra))
    got = set()
    for i in ids:
        check(i in item, "%s: unknown item %s returned" % (label, i))
        c, o, t = item[i]
        check(t == tag, "%s: another person's item %s returned" % (label, i))
        got.add((c, o))
    check(len(ids) == len(got), "%s: an item came back twice" % label)
    want = set()
    for c in CATEGORIES:
        for o in ORGS:
            if c in cats and (not upheld or o == org or glass):
                want.add((c, o))
    missing, extra_items = want - got, got - want
    check(not missing and not extra_items,
          "%s: missing %s, not allowed but returned %s" % (label, sorted(missing),
                                                           sorted(extra_items)))
    if len(want) < len(CATEGORIES) * len(ORGS):
        check(extra is True, "%s: withheld items but the reply does not say so" % label)
    checked += 1

# Totals must not count withheld items: a search with _summary=count by a nurse
# of the objecting person sees only her own organisation's items.
nurse = [c for c in combos if c[0] == "R8001" and c[1] == OWN_OK and c[2] == "objecting"
         and not c[3]][0]
want = len([c for c in EXPECTED["R8001"][0] if c != "demographics"])
st, _, b = srv.request("GET", "/fhir/Observation?patient=%s&_summary=count" %
                       patient_of["objecting"], headers={"Cookie": "weft_session=" + nurse[4]})
check(st == 200 and b.get("total") == want, "_summary=count: %d total %r, wanted %d (own "
      "organisation's only)" % (st, b.get("total"), want))
path = "/fhir/Observation?patient=%s&_count=2&_total=accurate" % patient_of["objecting"]
seen = 0
first = True
while path:
    st, _, b = srv.request("GET", path, headers={"Cookie": "weft_session=" + nurse[4]})
    check(st == 200, "paged search %d %r" % (st, b))
    if first or "total" in b:  # asked for: the first page must carry it
        check(b.get("total") == want, "total %r, wanted %d (own organisation's only)" %
              (b.get("total"), want))
    first = False
    for e in b.get("entry", []):
        if e.get("search", {}).get("mode") == "match":
            seen += 1
            c, o, t = item["Observation/" + e["resource"]["id"]]
            check(o == OWN_OK, "paging returned another organisation's item")
    nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
    path = nxt[0][nxt[0].index("/fhir/"):] if nxt else None
check(seen == want, "paged through %d items, wanted %d" % (seen, want))

log = srv.stop()
for number in people.values():
    check(number not in log, "an NHS number reached the operational log")
rc, out, err = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify after the run: %s %s" % (out, err))
rc, out, err = run("audit", "list", "--db", db, "--action", "denial", "--limit", "100000")
check(rc == 0, "audit list: " + err)
den = [l for l in out.splitlines() if "\tdenied\t" in l]
check(len(den) >= denied, "only %d denial entries for %d refused combinations" % (len(den),
                                                                                  denied))
rc, out, err = run("audit", "list", "--db", db, "--action", "search", "--limit", "100000")
check(out.count("\tsearch\tsuccess\t") >= checked, "reads not audited")
print("ok: %d combinations read, %d refused as expected, %d item decisions" %
      (checked, denied, checked * len(CATEGORIES) * len(ORGS)))
