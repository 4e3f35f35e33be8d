#!/usr/bin/env python3
"""dq_score.py - score the data-quality checks against a synthetic region's
injected faults (truth/faults.csv; docs/SYNTH.md, docs/DATA_QUALITY.md).

    python3 bench/dq_score.py --db weft.db|postgres://... --in REGION [--json] [--run ID]

Reads the newest finished data-quality run's failing records from the store
(dq_failure) and the ground truth, and prints per fault kind the check that
finds it, recall (faults found / faults injected) and precision (failing
records that point at a fault of that kind / failing records of that check).

Matching: a demographic fault is the source's person record, so it matches a
failure with the same organisation and patient_local_id.  A fault on an item
or a message (future date, unknown code, late delivery, malformed message)
matches a failure of the same organisation about the same true person (the
failure's patient_local_id mapped through truth/records.csv).  missing-nhs
counts social care's sc-missing-nhs too (one check sees both).
"""
import argparse, collections, csv, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_rows import rows  # noqa: E402

KINDS = [  # fault kind, check, match level
    ("missing-nhs", "nhs-present", "record"),
    ("bad-check-digit", "nhs-valid", "record"),
    ("typo", "name-typo", "record"),
    ("missing-postcode", "postcode-present", "record"),
    ("swap-day-month", "dob-day-month-swapped", "record"),
    ("duplicate", "duplicate-record", "record"),
    ("future-date", "date-not-future", "person"),
    ("unknown-code", "code-system-known", "person"),
    ("late", "out-of-order", "person"),
    ("malformed", "message-rejected", "person"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--in", dest="region", required=True)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--run", type=int)
    a = ap.parse_args()
    truth = os.path.join(a.region, "truth")
    person_of = {}
    for r in csv.DictReader(open(os.path.join(truth, "records.csv"))):
        person_of[(r["org"], r["local_id"])] = r["person"]
    faults = collections.defaultdict(set)  # kind -> keys
    for r in csv.DictReader(open(os.path.join(truth, "faults.csv"))):
        kind = "missing-nhs" if r["kind"] == "sc-missing-nhs" else r["kind"]
        det = dict(p.strip().split("=", 1) for p in r["detail"].split(";") if "=" in p)
        if kind == "duplicate":
            # either record of the pair is the duplicate the check may name
            import re
            ids = re.findall(r"local_id=([^;\s]+)", r["detail"])
            faults[kind].add(("pair", r["org"], tuple(sorted(ids))))
        elif "local_id" in det and kind in ("missing-nhs", "bad-check-digit", "typo",
                                            "missing-postcode", "swap-day-month"):
            faults[kind].add((r["org"], det["local_id"]))
        else:
            faults[kind].add((r["org"], r["person"]))
    run = a.run or rows(a.db, "SELECT max(id) FROM dq_run WHERE status = 'ok'")[0][0]
    if run is None:
        sys.exit("no finished data-quality run in the store")
    fails = collections.defaultdict(set)
    for org, check, local in rows(
            a.db, "SELECT org, check_name, patient_local_id FROM dq_failure WHERE run_id = %d" % int(run)):
        fails[check].add((org, local))
    out = []
    for kind, check, level in KINDS:
        fk = faults.get(kind, set())
        got = fails.get(check, set())
        if kind == "duplicate":
            pairs = {k for k in fk}
            found = sum(1 for (_, org, ids) in pairs if any((org, i) in got for i in ids))
            members = {(org, i) for (_, org, ids) in pairs for i in ids}
            right = sum(1 for g in got if g in members)
        elif level == "record":
            found = len(fk & got)
            right = len(got & fk)
        else:
            gp = {(org, person_of.get((org, local))) for org, local in got}
            found = len(fk & gp)
            right = sum(1 for org, local in got if (org, person_of.get((org, local))) in fk)
        out.append({"kind": kind, "check": check, "injected": len(fk), "found": found,
                    "recall": found / len(fk) if fk else None, "flagged": len(got),
                    "precision": right / len(got) if got else None})
    if a.json:
        print(json.dumps({"run": run, "kinds": out}, indent=1))
        return
    print(f"data-quality run {run} against {truth}/faults.csv")
    print(f"{'fault kind':<18} {'check':<24} {'injected':>8} {'found':>6} {'recall':>7} "
          f"{'flagged':>8} {'precision':>9}")
    for r in out:
        rc = "-" if r["recall"] is None else f"{r['recall']:.3f}"
        pr = "-" if r["precision"] is None else f"{r['precision']:.3f}"
        print(f"{r['kind']:<18} {r['check']:<24} {r['injected']:>8} {r['found']:>6} {rc:>7} "
              f"{r['flagged']:>8} {pr:>9}")


if __name__ == "__main__":
    main()
