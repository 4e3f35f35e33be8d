#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_resubmit.py - `weft feed resubmit --db PATH --id N --file FIXED` (issue 15,
edit and resubmit).

A message refused over MLLP (an ORU whose OBR is missing) is corrected by an
integration engineer and resubmitted:
  - the corrected copy is a new inbox message linked to the original
    (resubmit_of) with who corrected it (corrected_by), processed as a live
    arrival (applied; its result is in the record);
  - the original is untouched: same outcome, same bytes;
  - the correction is audited (who, which message, the new one), the audit
    chain verifies;
  - the counters agree: received = applied + rejected + duplicate;
  - a copy that is still broken is kept, linked, rejected, exit status 1;
  - an unknown id, a missing file, missing options: clear errors."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (Mllp, ack_code, check, new_db, nhs, org, oru, start,  # noqa: E402
                           weft_ok)
from api_harness import TMP, run  # noqa: E402

db = new_db()
org(db, "RVV", "acute")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "RVVLAB")
good = oru("RVVLAB", "LAB77", "H77", nhs(77), order="ORD77")
broken = "\r".join(s for s in good.split("\r") if not s.startswith("OBR"))
srv = start(db, "--drop-interval", "0")
m = Mllp(srv.mllp_port)
ack = m.call(broken)
check(ack_code(ack) in ("AE", "AR"), "the broken ORU was not refused: %r" % ack)
m.close()
srv.stop()

rows = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json"))
orig = [r for r in rows if r["control_id"] == "LAB77"][0]
check(orig["outcome"] == "rejected", "original: %r" % orig)
orig_show = json.loads(weft_ok("feed", "show", "--db", db, "--id", str(orig["id"]), "--json"))

# a still-broken copy: kept, linked, rejected, exit 1
still = os.path.join(TMP, "still.hl7")
with open(still, "w") as f:
    f.write(broken.replace("\r", "\n"))  # an editor's line ends
rc, out, err = run("feed", "resubmit", "--db", db, "--id", str(orig["id"]), "--file", still,
                   "--by", "engineer-1")
check(rc == 1 and "rejected" in out, "a still-broken copy: rc %d %s %s" % (rc, out, err))

fixed = os.path.join(TMP, "fixed.hl7")
with open(fixed, "w") as f:
    f.write(good.replace("\r", "\n"))
rc, out, err = run("feed", "resubmit", "--db", db, "--id", str(orig["id"]), "--file", fixed,
                   "--by", "engineer-1")
check(rc == 0 and "applied" in out, "resubmit: rc %d %s %s" % (rc, out, err))

rows = json.loads(weft_ok("feed", "messages", "--db", db, "--feed", "rvv-hl7v2", "--json"))
copies = [r for r in rows if r.get("resubmit_of") == orig["id"]]
check(len(copies) == 2, "two corrected copies linked to the original: %r" % copies)
applied = [r for r in copies if r["outcome"] == "applied"]
check(len(applied) == 1 and applied[0]["corrected_by"] == "engineer-1" and
      applied[0]["control_id"] == "LAB77", "the applied copy: %r" % copies)
after = json.loads(weft_ok("feed", "show", "--db", db, "--id", str(orig["id"]), "--json"))
check(after["outcome"] == "rejected" and after.get("body") == orig_show.get("body") and
      "resubmit_of" not in after, "the original was changed: %r" % after)

# the correction is in the record: the lab result's DiagnosticReport
tok = weft_ok("client", "add", "--db", db, "--name", "reader").strip()
srv = start(db, "--drop-interval", "0")
status, _, body = srv.request("GET", "/fhir/Observation?code=2951-2", token=tok)
check(status == 200 and body.get("total", len(body.get("entry", []))) >= 1,
      "the corrected result is not in the record: %r" % body)
srv.stop()

# audited, and the chain verifies
out = weft_ok("audit", "list", "--db", db, "--action", "admin", "--limit", "1000")
check("resubmitted as %d" % applied[0]["id"] in out and "engineer-1" in out,
      "resubmit not audited: %s" % out)
weft_ok("audit", "verify", "--db", db)

# counters agree
st = json.loads(weft_ok("feed", "status", "--db", db, "--json"))
tot = [f for f in st["feeds"] if f["name"] == "rvv-hl7v2"][0]["total"]
check(tot["received"] == tot["applied"] + tot["rejected"] + tot["duplicate"] and
      tot["received"] == 3 and tot["applied"] == 1, "counters: %r" % tot)

for args, says in ((["--id", "999999", "--file", fixed], "no inbound message"),
                   (["--id", str(orig["id"]), "--file", os.path.join(TMP, "none.hl7")],
                    "cannot read"),
                   (["--id", str(orig["id"])], "--file FIXED")):
    rc, out, err = run("feed", "resubmit", "--db", db, *args)
    check(rc != 0 and says in err, "%s: rc %d %s" % (args, rc, err))
print("ok: resubmit keeps the original, links the corrected copy with who made it, applies it, "
      "audits it")
