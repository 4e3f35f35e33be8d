#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""security_api.py - issue 16 items 5, 6, 7 and 9 and the FHIR API part of
issue 11, against the real (sanitized) server over HTTP:

- agreements bind every principal: an API client of an organisation whose
  agreement has ended is refused reads (403, whoever the patient, known or
  not) and writes (403; the Bundle is kept in the inbox as rejected and the
  refusal audited); a client of an organisation with an agreement in force
  writes, and the write is kept in the inbox and audited (action write);
- an upheld objection narrows what API clients see, as it does for users:
  a client of one of the person's organisations sees that organisation's
  items only, a client without an organisation sees nothing of the person
  (by patient, by _id, by id, across people, in type history), and every
  Bundle so narrowed carries an OperationOutcome warning and a total that
  counts only what it shows (issue 11);
- count-only searches (_summary=count, _count=0, $everything?_count=0) and
  searches that find nothing are audited with the query and its total;
- more than 32 search terms is a 400 naming the limit;
- `weft feed show` (which prints a message body) is audited (item 14)."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import Server, TMP, check, run, weft_id  # noqa: E402
from access_lib import (CATEGORIES, add_hs_launcher, add_org, claims, launch, nhs,  # noqa: E402
                        person_bundle, sign, weft)

HOSP, GP, ENDED = "RVV", "G82001", "RXE"
from api_harness import new_db_url  # noqa: E402

db = new_db_url("weft.db")  # a PostgreSQL database under --backend postgres
weft("init", "--db", db)
add_org(db, HOSP)
add_org(db, GP, otype="gp")
add_org(db, ENDED, frm="2020-01-01", to="2021-12-31")
secret = add_hs_launcher(db, "gp-system", GP, "iss-gp")


def client(name, org=None, write=False):
    args = ["client", "add", "--db", db, "--name", name]
    if org:
        args += ["--org", org]
    if write:
        args.append("--write")
    rc, out, err = run(*args)
    check(rc == 0 and out.strip(), "client add %s: %s" % (name, err))
    if org == ENDED:
        check("no data sharing agreement in force" in err, "client add did not warn: %r" % err)
    return out.strip()


w = {HOSP: client("w-hosp", HOSP, True), GP: client("w-gp", GP, True)}
reader = {HOSP: client("r-hosp", HOSP), GP: client("r-gp", GP), None: client("r-none"),
          ENDED: client("r-ended", ENDED)}
w_ended = client("w-ended", ENDED, True)

srv = Server(db)
NHS_O, NHS_N = nhs(810), nhs(820)  # O objects, N does not
items = {}  # (org, tag) -> set of "Type/id" loaded
for org, tag, number in ((HOSP, "o", NHS_O), (GP, "o", NHS_O), (HOSP, "n", NHS_N)):
    pid, bundle = person_bundle(org, tag, number)
    st, _, b = srv.request("POST", "/fhir", body=bundle, token=w[org])
    check(st == 200, "load %s %s: %d %r" % (org, tag, st, b))
    items[(org, tag)] = {"Patient/" + weft_id(org, "Patient", pid)} | {
        "Observation/" + weft_id(org, "Observation", "obs-%s-%s-%s" % (org, tag, c))
        for c in CATEGORIES[1:]}
PAT = {tag: weft_id(HOSP, "Patient", "pat-%s-%s" % (HOSP, tag)) for tag in ("o", "n")}
weft("objection", "set", "--db", db, "--nhs", NHS_O, "--status", "upheld", "--date", "2026-01-01")


def get(path, token=None, ck=None):
    h = {"Cookie": "weft_session=" + ck} if ck else {}
    return srv.request("GET", path, headers=h, token=token)


def everything(path, token=None, ck=None):
    """Entries (match) of every page, the outcome texts and the first page's total."""
    ids, outcomes, total = set(), [], None
    first = True
    while path:
        st, _, b = get(path, token, ck)
        check(st == 200, "%s: %d %r" % (path, st, b))
        if first:
            total = b.get("total")
            first = False
        for e in b.get("entry", []):
            r = e["resource"]
            if e["search"]["mode"] == "outcome":
                outcomes += [i["severity"] + ": " + i["diagnostics"] for i in r["issue"]]
            else:
                ids.add(r["resourceType"] + "/" + r["id"])
        nxt = [ln["url"] for ln in b.get("link", []) if ln["relation"] == "next"]
        path = nxt[0][nxt[0].index("/fhir/"):] if nxt else None
    return ids, outcomes, total


def objection_warned(outcomes):
    return any(o.startswith("warning:") and "objected" in o for o in outcomes)


# ---- item 6: an organisation without an agreement in force -------------------------------
for path in ("/fhir/Patient/%s/$everything" % PAT["n"], "/fhir/Patient/%s" % PAT["n"],
             "/fhir/Patient/%s" % ("0" * 32), "/fhir/Observation?patient=%s" % PAT["n"],
             "/fhir/Observation?patient=%s" % ("0" * 32), "/fhir/Observation",
             "/fhir/Patient?_id=%s" % PAT["n"], "/fhir/Patient?_id=%s" % ("0" * 32),
             "/fhir/Observation/_history"):
    st, _, b = get(path, reader[ENDED])
    check(st == 403 and "agreement" in json.dumps(b),
          "a client of an organisation without an agreement read %s: %d %r" % (path, st, b))
extra = {"resourceType": "Bundle", "type": "transaction", "entry": [{
    "fullUrl": "urn:uuid:c1", "resource": {
        "resourceType": "Condition", "id": "cond-ended",
        "code": {"text": "WRITTEN-WITHOUT-AGREEMENT"},
        "subject": {"reference": "Patient/pat-RVV-n"}},
    "request": {"method": "PUT", "url": "Condition/cond-ended"}}]}
st, _, b = srv.request("POST", "/fhir", body=extra, token=w_ended)
check(st == 403 and "agreement" in json.dumps(b), "write without agreement: %d %r" % (st, b))
st, _, b = get("/fhir/Condition/%s" % weft_id(ENDED, "Condition", "cond-ended"), w[HOSP])
check(st == 404, "the refused write was stored: %d" % st)
# ... and with one in force: stored, kept in the inbox, audited
good = json.loads(json.dumps(extra).replace("cond-ended", "cond-ok").replace(
    "WRITTEN-WITHOUT-AGREEMENT", "WRITTEN-WITH-AGREEMENT"))
st, _, b = srv.request("POST", "/fhir", body=good, token=w[HOSP])
check(st == 200, "write with agreement: %d %r" % (st, b))
rc, out, err = run("feed", "messages", "--db", db, "--json")
check(rc == 0, "feed messages: %s" % err)
msgs = json.loads(out)
msgs = msgs.get("messages", msgs) if isinstance(msgs, dict) else msgs
by_sender = {}
for m in msgs:
    by_sender.setdefault(m.get("sender"), []).append(m)
check([m["outcome"] for m in by_sender.get("w-ended", [])] == ["rejected"],
      "the refused write is not in the inbox as rejected: %r" % by_sender.get("w-ended"))
check(len(by_sender.get("w-hosp", [])) == 3 and
      all(m["outcome"] == "applied" for m in by_sender["w-hosp"]),
      "API writes are not in the inbox: %r" % by_sender.get("w-hosp"))
ok_id = max([m["id"] for m in by_sender.get("w-hosp", [])] or [0])
rc, out, err = run("feed", "show", "--db", db, "--id", str(ok_id))
check(rc == 0 and "WRITTEN-WITH-AGREEMENT" in out, "inbox body not verbatim: %s %s" % (out, err))


def audit(action, want, timeout=20):
    """Audit lines of action containing every string in want (waits for the
    server's writer thread, bounded)."""
    deadline = time.time() + timeout
    while True:
        rc, out, err = run("audit", "list", "--db", db, "--action", action, "--limit", "100000")
        check(rc == 0, "audit list: " + err)
        lines = [ln for ln in out.splitlines() if all(x in ln for x in want)]
        if lines or time.time() > deadline:
            return lines
        time.sleep(0.2)


# item 14: `weft feed show` printed the body above: the read is audited; and
# so is a feed's message
check(audit("read", ["client=cli:", "what=inbox message %d" % ok_id], timeout=1),
      "weft feed show printed a message body without an audit entry")
feed_tok = weft("feed", "add", "--db", db, "--org", HOSP, "--kind", "fhir",
                "--name", "rvv-fhir").strip().splitlines()[-1]
feed_msg = json.loads(json.dumps(good).replace("cond-ok", "cond-feed"))
st, _, b = srv.request("POST", "/fhir", body=feed_msg, token=feed_tok)
check(st == 200, "feed post: %d %r" % (st, b))
rc, out, err = run("feed", "messages", "--db", db, "--feed", "rvv-fhir", "--json")
fm = json.loads(out)
fm = fm.get("messages", fm) if isinstance(fm, dict) else fm
check(rc == 0 and len(fm) == 1, "feed messages: %s %s" % (out, err))
rc, out, err = run("feed", "show", "--db", db, "--id", str(fm[0]["id"]))
check(rc == 0 and "cond-feed" in out, "feed show: %s %s" % (out, err))
check(audit("read", ["client=cli:", "what=inbox message %d" % fm[0]["id"]], timeout=1),
      "weft feed show printed a feed message's body without an audit entry")
check(audit("write", ["\tdenied\t", "client=w-ended"]), "refused write not audited")
check(audit("write", ["\tsuccess\t", "client=w-hosp", "inbox %d " % ok_id, "stored 1"]),
      "write not audited with its inbox row")

# ---- item 7 and issue 11: an upheld objection narrows every client -----------------------
for org in (HOSP, GP):
    ids, outcomes, total = everything("/fhir/Patient/%s/$everything?_count=7" % PAT["o"],
                                      reader[org])
    check(ids == items[(org, "o")], "client of %s sees %d items of the objecting person, "
          "wanted its own %d" % (org, len(ids), len(items[(org, "o")])))
    check(total == len(ids), "total %r counts withheld items (shown %d)" % (total, len(ids)))
    check(objection_warned(outcomes), "no objection warning for %s: %r" % (org, outcomes))
ids, outcomes, total = everything("/fhir/Patient/%s/$everything" % PAT["o"], reader[None])
check(not ids and total == 0 and objection_warned(outcomes) and
      "no organisation" in " ".join(outcomes),
      "a client without an organisation saw %r %r %r" % (ids, total, outcomes))
ids, outcomes, total = everything("/fhir/Observation?patient=%s" % PAT["o"], reader[None])
check(not ids and objection_warned(outcomes), "patient search without org: %r" % ids)
# by id, by _id, by identifier, across people and in type history
hosp_obs = sorted(i for i in items[(HOSP, "o")] if i.startswith("Observation/"))[0]
st, _, b = get("/fhir/" + hosp_obs, reader[None])
st2, _, b2 = get("/fhir/Observation/" + "0" * 32, reader[None])
check(st == st2 == 404, "read by id of a withheld item: %d" % st)
st, _, b = get("/fhir/" + hosp_obs, reader[GP])
check(st == 404, "a client of another organisation read the objecting person's item: %d" % st)
st, _, b = get("/fhir/" + hosp_obs, reader[HOSP])
check(st == 200, "the item's own organisation was refused: %d" % st)
ids, outcomes, total = everything("/fhir/Observation?_id=" + hosp_obs.split("/")[1], reader[GP])
check(not ids, "_id search by another organisation: %r" % ids)
ids, outcomes, total = everything("/fhir/Observation?_id=" + hosp_obs.split("/")[1], reader[HOSP])
check(ids == {hosp_obs} and objection_warned(outcomes), "_id own: %r %r" % (ids, outcomes))
nhs_q = urllib.parse.quote("https://fhir.nhs.uk/Id/nhs-number|")
for tag, number, want in (("o", NHS_O, False), ("n", NHS_N, True)):
    ids, _, total = everything("/fhir/Patient?identifier=" + nhs_q + number, reader[None])
    check(bool(ids) == want and total == len(ids),
          "identifier search %s without org: %r total %r" % (tag, ids, total))
all_o = items[(HOSP, "o")] | items[(GP, "o")]
for who, allowed in ((None, set()), (GP, items[(GP, "o")])):
    ids, _, total = everything("/fhir/Observation?_count=1000", reader[who])
    check(ids & all_o == {i for i in allowed if i.startswith("Observation/")},
          "search across people by %s shows %d withheld items" % (who, len(ids & all_o - allowed)))
    check(total == len(ids), "across people: total %r, shown %d" % (total, len(ids)))
    st, _, b = get("/fhir/Observation/_history?_count=1000", reader[who])
    hist = {"Observation/" + e["resource"]["id"] for e in b.get("entry", []) if "resource" in e}
    check(st == 200 and not (hist & all_o) - allowed,
          "type history by %s shows withheld items: %d" % (who, len((hist & all_o) - allowed)))
    check("total" not in b or b["total"] == len(b["entry"]), "history total %r" % b.get("total"))
# a user of the GP, launched for the objecting person, sees the GP's items with the warning
st, _, _, ck = launch(srv, sign({"alg": "HS256"}, claims("iss-gp", "gp-1", "R8000", GP, NHS_O),
                                "HS256", secret))
check(st == 303 and ck, "launch %d" % st)
gp_pat = weft_id(GP, "Patient", "pat-%s-o" % GP)
ids, outcomes, total = everything("/fhir/Patient/%s/$everything" % gp_pat, ck=ck)
check(ids and ids <= items[(GP, "o")] and total == len(ids) and objection_warned(outcomes),
      "GP user: %d items (own %d), total %r, %r" % (len(ids), len(items[(GP, "o")]), total,
                                                   outcomes))
check("break-glass" in " ".join(outcomes), "the warning does not name break-glass: %r" % outcomes)

# ---- item 5: count-only searches are audited ---------------------------------------------
queries = ["/fhir/Observation?patient=%s&_summary=count" % PAT["n"],
           "/fhir/Condition?patient=%s&_count=0" % PAT["n"],
           "/fhir/Flag?patient=%s&_record-category=mental-health-act&_summary=count" % PAT["n"],
           "/fhir/Patient/%s/$everything?_count=0" % PAT["n"],
           "/fhir/Observation?patient=%s&_record-category=legal-status&_count=3" % PAT["n"]]
totals = []
for q in queries:
    st, _, b = get(q, reader[HOSP])
    check(st == 200 and "total" in b, "%s: %d %r" % (q, st, b))
    totals.append(b["total"])
check(totals[0] == 23 and totals[3] > 23, "totals %r" % totals)
for q, total in zip(queries, totals):
    if total and "_count=3" in q:
        continue  # rows shown: audited by item, as before
    what = q[len("/fhir/"):].replace("|", "%7C")
    check(audit("search", ["client=r-hosp", "what=" + what + ": total %d" % total]),
          "count-only search not audited: %s (total %d)" % (q, total))
st, _, b = get("/fhir/Observation?patient=%s&_summary=count" % gp_pat, ck=ck)
check(st == 200 and audit("search", ["user=gp-1", "_summary=count: total %d" % b["total"]]),
      "a user's count was not audited")

# ---- item 9: too many search terms --------------------------------------------------------
st, _, b = get("/fhir/Patient?given=M" + "&family=a" * 39, reader[HOSP])
check(st == 400 and "too many search terms" in json.dumps(b), "40 terms: %d %r" % (st, b))

srv.stop()
rc, out, err = run("audit", "verify", "--db", db)
check(rc == 0, "audit verify: %s %s" % (out, err))
print("ok: agreements, objections, count audits and term limits hold for API clients")
