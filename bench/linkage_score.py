#!/usr/bin/env python3
"""linkage_score.py - pairwise F1 of the master person index on published
record-linkage data sets, each record loaded as one FHIR Patient through
`weft load` (the feed path's matching), then `weft person estimate` (EM) and
`weft person relink` - the same steps and configuration for every set.

  python3 bench/linkage_score.py [--bin ./weft] [--data ../shared/data] [--json]
                                 [--sets febrl1,febrl2,febrl3,fake_1000]

FEBRL (datasets 1-3): given_name, surname, street_number + address_1,
address_2, suburb, postcode, state, date_of_birth (kept when it is a real
date); soc_sec_id is left out (it stands for the missing national number).
Truth: rec-<N>-org / rec-<N>-dup-<k> share <N>.
Splink fake_1000: first_name, surname, dob, city, email; truth: cluster.
Each Patient carries one opaque local identifier (its line number), which is
how `weft person export` output is mapped back to the truth.  Prints pairwise
precision, recall and F1 after load and after estimate + relink.
"""
import argparse, collections, csv, datetime, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYS = "urn:weft:id:BENCH:rec"


def real_date(s):
    s = (s or "").strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(s, fmt).strftime("%Y-%m-%d")
        except ValueError:
            pass
    return None


def febrl(path):
    out = []
    with open(path, newline="") as f:
        for i, r in enumerate(csv.DictReader(f, skipinitialspace=True)):
            r = {k.strip(): (v or "").strip() for k, v in r.items()}
            p = {"resourceType": "Patient", "id": f"r{i}",
                 "identifier": [{"system": SYS, "value": str(i)}]}
            name = {}
            if r["surname"]:
                name["family"] = r["surname"]
            if r["given_name"]:
                name["given"] = [r["given_name"]]
            if name:
                p["name"] = [name]
            d = real_date(r["date_of_birth"])
            if d:
                p["birthDate"] = d
            addr = {}
            line = [x for x in (" ".join(x for x in (r["street_number"], r["address_1"]) if x),
                                r["address_2"]) if x]
            if line:
                addr["line"] = line
            if r["suburb"]:
                addr["city"] = r["suburb"]
            if r["postcode"]:
                addr["postalCode"] = r["postcode"]
            if r["state"]:
                addr["state"] = r["state"]
            if addr:
                p["address"] = [addr]
            out.append((p, r["rec_id"].split("-")[1]))
    return out


def fake1000(path):
    out = []
    with open(path, newline="") as f:
        for i, r in enumerate(csv.DictReader(f)):
            r = {k: (v or "").strip() for k, v in r.items()}
            p = {"resourceType": "Patient", "id": f"r{i}",
                 "identifier": [{"system": SYS, "value": str(i)}]}
            name = {}
            if r["surname"]:
                name["family"] = r["surname"]
            if r["first_name"]:
                name["given"] = [r["first_name"]]
            if name:
                p["name"] = [name]
            d = real_date(r["dob"])
            if d:
                p["birthDate"] = d
            if r["city"]:
                p["address"] = [{"city": r["city"]}]
            if r["email"]:
                p["telecom"] = [{"system": "email", "value": r["email"]}]
            out.append((p, r["cluster"]))
    return out


def pairs(n):
    return n * (n - 1) // 2


def score(binp, db, truth):
    out = subprocess.run([binp, "person", "export", "--db", db], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    person = {}
    for line in out[1:]:
        p, org, system, value = line.split(",", 3)
        if system == SYS:
            person[int(value)] = p
    both, pred, tru = collections.Counter(), collections.Counter(), collections.Counter()
    for i, t in enumerate(truth):
        p = person.get(i, f"missing{i}")
        both[(t, p)] += 1
        pred[p] += 1
        tru[t] += 1
    tp = sum(pairs(n) for n in both.values())
    pp = sum(pairs(n) for n in pred.values())
    tr = sum(pairs(n) for n in tru.values())
    prec = tp / pp if pp else 1.0
    rec = tp / tr if tr else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 5), "recall": round(rec, 5), "f1": round(f1, 5),
            "missing": len(truth) - len(person)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "weft"))
    ap.add_argument("--data", default=os.environ.get("WEFT_DATA",
                                                     os.path.join(os.path.dirname(ROOT), "shared/data")))
    ap.add_argument("--sets", default="febrl1,febrl2,febrl3,fake_1000")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--link-threshold", default=None, help="passed to weft person estimate")
    a = ap.parse_args()
    binp = os.path.abspath(a.bin)
    results = {}
    for name in a.sets.split(","):
        if name.startswith("febrl"):
            recs = febrl(os.path.join(a.data, "febrl", f"dataset{name[5:]}.csv"))
        else:
            recs = fake1000(os.path.join(a.data, "splink", "fake_1000.csv"))
        tmp = tempfile.mkdtemp(prefix="weft-linkage-")
        nd, db = os.path.join(tmp, "patients.ndjson"), os.path.join(tmp, "weft.db")
        with open(nd, "w") as f:
            for p, _ in recs:
                f.write(json.dumps(p) + "\n")
        truth = [t for _, t in recs]
        subprocess.run([binp, "init", "--db", db], check=True, capture_output=True)
        t0 = time.time()
        subprocess.run([binp, "load", "--db", db, "--org", "BENCH", "--quiet", nd], check=True,
                       capture_output=True)
        load_s = time.time() - t0
        r = {"records": len(recs), "load_seconds": round(load_s, 2), "after_load": score(binp, db, truth)}
        extra = ["--link-threshold", a.link_threshold] if a.link_threshold else []
        subprocess.run([binp, "person", "estimate", "--db", db, *extra], check=True,
                       capture_output=True)
        t0 = time.time()
        subprocess.run([binp, "person", "relink", "--db", db], check=True, capture_output=True)
        r["relink_seconds"] = round(time.time() - t0, 2)
        r["after_relink"] = score(binp, db, truth)
        results[name] = r
        if not a.json:
            print(f"{name:10} {len(recs):6d} records  load {r['after_load']}  "
                  f"estimate+relink {r['after_relink']}", flush=True)
        subprocess.run(["rm", "-rf", tmp])
    if a.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
