#!/usr/bin/env python3
"""citizen_objection.py - objections to sharing as a workflow (issue 17),
end to end: `weft objection lodge|decide|withdraw|show|list|set` against a
real server, with the effect on sharing read back through the FHIR API as a
launched clinician of another organisation sees it.

Checks: lodge prints the id alone; a second open objection is refused; a
decision by a role the policy does not name (nurse) is refused, audited and
changes nothing; a decision by a clinician (role taken from the session they
signed in with) upholds it and the other organisation's items disappear from
the already-open session at once; deciding twice is refused; withdrawal
brings them back; show prints every step with its time; an objection past its
due date is flagged overdue; bad input gets a clear error; `objection set`
still works; the audit log holds every step and verifies."""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, check, db_rows, new_db_url, run, weft_id, TMP  # noqa: E402
from access_lib import (add_hs_launcher, add_org, claims, launch, nhs, person_bundle,  # noqa: E402
                        sign, visible, weft, writer_token)

ACUTE, GP = "RVV", "G82001"
db = new_db_url()
weft("init", "--db", db)
add_org(db, ACUTE, "acute")
add_org(db, GP, "gp")
secret = add_hs_launcher(db, "epr-rvv", ACUTE, "https://epr.rvv.example")
srv = Server(db)
number = nhs(300)
patient = None
for o in (ACUTE, GP):
    pid, bundle = person_bundle(o, "p", number)
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=writer_token(db, o))
    check(st == 200, "loading %s: %d %r" % (o, st, b))
    patient = weft_id(o, "Patient", pid)


def session(sub, role):
    tok = sign({"alg": "HS256", "typ": "JWT"},
               claims("https://epr.rvv.example", sub, role, ACUTE, number), "HS256", secret)
    st, _, body, cookie = launch(srv, tok)
    check(st == 303 and cookie, "launch %s: %d %r" % (sub, st, body[:200]))
    return cookie


doctor = session("sds-doctor-1", "R8000")
nurse = session("sds-nurse-1", "R8001")


def seen():
    st, ids, _ = visible(srv, doctor, patient)
    check(st == 200, "everything: %d" % st)
    return len(ids)


everything = seen()
# a clinician sees 22 of each organisation's 24 items (not safeguarding, legal-status)
check(everything == 2 * 22, "before: %d items, wanted both organisations' 44" % everything)

# ---- lodge -----------------------------------------------------------------------------------
rc, out, err = run("objection", "lodge", "--db", db, "--nhs", number, "--org", GP,
                   "--reason", "I do not want the hospital to see my GP record")
check(rc == 0 and re.fullmatch(r"[0-9]+\n", out), "lodge: %d %r %r" % (rc, out, err))
oid = out.strip()
check(seen() == everything, "a lodged (undecided) objection withholds nothing")
rc, out, err = run("objection", "lodge", "--db", db, "--nhs", number, "--org", GP,
                   "--reason", "again")
check(rc == 1 and "already open" in err and out == "", "second open objection: %d %r" % (rc, err))
rc, out, err = run("objection", "list", "--db", db, "--open")
check(rc == 0 and re.search(r"^%s\s+[0-9a-f]{32}\s+lodged\s+%s" % (oid, GP), out, re.M),
      "review queue: %r" % out)

# ---- a decision by a role the policy does not allow ------------------------------------------
rc, out, err = run("objection", "decide", "--db", db, "--id", oid, "--decision", "upheld",
                   "--by", "sds-nurse-1", "--rationale", "nurse tries")
check(rc == 1 and "may not decide" in err, "nurse decision: %d %r" % (rc, err))
rc, out, err = run("objection", "decide", "--db", db, "--id", oid, "--decision", "upheld",
                   "--by", "sds-unknown", "--rationale", "who")
check(rc == 2 and "--role" in err, "unknown decider: %d %r" % (rc, err))
check(seen() == everything, "a refused decision changed sharing")

# ---- decided by a clinician: effect at once ----------------------------------------------------
rc, out, err = run("objection", "decide", "--db", db, "--id", oid, "--decision", "upheld",
                   "--by", "sds-doctor-1", "--rationale", "No compelling grounds to share")
check(rc == 0, "clinician decision: %d %r" % (rc, err))
check(seen() == 22, "upheld: the other organisation's items still shown (%d)" % seen())
rc, out, err = run("objection", "decide", "--db", db, "--id", oid, "--decision", "not-upheld",
                   "--by", "sds-doctor-1", "--rationale", "twice")
check(rc == 1 and "not waiting" in err, "second decision: %d %r" % (rc, err))
rc, out, err = run("objection", "show", "--db", db, "--nhs", number)
check(rc == 0 and re.match(r"person [0-9a-f]{32}: upheld\n", out), "show: %r" % out)
for want in (r"objection %s  upheld  lodged \d{4}-\d\d-\d\dT[\d:.]+Z with %s  due \d{4}" % (oid, GP),
             r"reason: I do not want the hospital",
             r"decided \S+Z by sds-doctor-1 \(R8000\)", r"rationale: No compelling grounds",
             r"\dZ  lodged +by cli:", r"\dZ  decided +by sds-doctor-1 \(R8000, RVV\)  upheld: No"):
    check(re.search(want, out), "show lacks %r: %r" % (want, out))

# ---- withdrawal ---------------------------------------------------------------------------------
rc, out, err = run("objection", "withdraw", "--db", db, "--id", oid, "--reason", "changed my mind")
check(rc == 0, "withdraw: %d %r" % (rc, err))
check(seen() == everything, "withdrawn: sharing not restored")
rc, out, err = run("objection", "withdraw", "--db", db, "--id", oid)
check(rc == 1 and "already closed" in err, "withdraw twice: %d %r" % (rc, err))
rc, out, err = run("objection", "show", "--db", db, "--nhs", number)
check(re.match(r"person [0-9a-f]{32}: withdrawn\n", out) and
      re.search(r"\dZ  withdrawn +by cli:\S+  changed my mind", out), "show withdrawn: %r" % out)

# ---- overdue --------------------------------------------------------------------------------------
rc, out, err = run("objection", "lodge", "--db", db, "--nhs", number, "--org", GP,
                   "--reason", "second thoughts")
check(rc == 0, "lodge again after withdrawal: %d %r" % (rc, err))
oid2 = out.strip()
rc, out, _ = run("objection", "list", "--db", db)
check(re.search(r"^%s .* lodged .* -$" % oid2, out, re.M), "not yet overdue: %r" % out)
db_rows(db, "UPDATE objection_case SET lodged = '2020-01-10T10:00:00.000Z', due = '2020-02-10'"
        " WHERE id = ?", (int(oid2),))
rc, out, _ = run("objection", "list", "--db", db, "--open")
check(re.search(r"^%s .* lodged .* 2020-02-10 OVERDUE$" % oid2, out, re.M), "overdue: %r" % out)
rc, out, _ = run("objection", "show", "--db", db, "--nhs", number)
check("objection %s  lodged  OVERDUE" % oid2 in out, "show overdue: %r" % out)

# ---- bad input ---------------------------------------------------------------------------------------
for args, code, words in (
        (["lodge", "--nhs", number, "--org", "ZZZ99", "--reason", "x"], 2, "not registered"),
        (["lodge", "--nhs", number, "--org", GP, "--reason", "  "], 2, "reason"),
        (["lodge", "--nhs", "1234567890", "--org", GP, "--reason", "x"], 2, "not a valid NHS"),
        (["decide", "--id", oid2, "--decision", "maybe", "--by", "sds-doctor-1",
          "--rationale", "x"], 2, "upheld or not-upheld"),
        (["decide", "--id", "abc", "--decision", "upheld", "--by", "x", "--rationale", "x"], 2,
         "--id"),
        (["decide", "--id", "999", "--decision", "upheld", "--by", "sds-doctor-1",
          "--rationale", "x"], 1, "no objection"),
        (["show", "--nhs", nhs(900)], 1, "no person")):
    rc, out, err = run("objection", *args[:1], "--db", db, *args[1:])
    check(rc == code and words in err and out == "",
          "objection %s: %d %r %r (wanted %d, %r)" % (args, rc, out, err, code, words))

# ---- the existing `objection set` keeps working ---------------------------------------------------------
run("objection", "withdraw", "--db", db, "--id", oid2)
weft("objection", "set", "--db", db, "--nhs", number, "--status", "upheld", "--date", "2026-01-01")
check(seen() == 22, "objection set upheld: not applied")
rc, out, _ = run("objection", "show", "--db", db, "--nhs", number)
check(re.search(r"  set +by cli:\S+  status=upheld date=2026-01-01", out), "set step: %r" % out)

# ---- audit -----------------------------------------------------------------------------------------------
srv.stop()
rows = db_rows(db, "SELECT outcome, user_id, role, reason FROM audit_entry WHERE what = ?"
               " ORDER BY seq", ("objection " + oid,))
steps = [(r[0], r[3].split(":")[0]) for r in rows]
check(steps == [("success", "objection lodged"), ("denied", "objection decision refused"),
                ("success", "objection decided"), ("success", "objection withdrawn")],
      "audit of objection %s: %r" % (oid, rows))
check(rows[1][1:3] == ("sds-nurse-1", "R8001") and rows[2][1:3] == ("sds-doctor-1", "R8000"),
      "audit who: %r" % rows)
weft("audit", "verify", "--db", db)
print("ok")
