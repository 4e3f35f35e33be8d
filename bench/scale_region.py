#!/usr/bin/env python3
"""scale_region.py - split a generated region (weft synth) for bench_scale.sh.

  python3 bench/scale_region.py REGION OUT

The region's first feed file of every feed (batch 0: the first --batch people,
all three kinds) becomes OUT/sample, a region of its own (manifest.json listing
only those files, feeds/ shared by symlink) that bench_scale.sh sends through
the real feed paths with `weft replay-feeds`.  Every later FHIR feed file's
transaction Bundles (one per NDJSON line) become OUT/bulk/<ODS>/<n>.json for
`weft load --org <ODS>`: that is how the store is filled to the region's size.
Lines the generator made malformed on purpose (the "malformed" fault) are
skipped and counted.  Prints one JSON line: bulk_bundles, bulk_entries,
skipped, sample counts per kind, and the bulk-loaded patient with the most
entries (largest) and the median one, each as ods, local id and NHS number.
"""
import json, os, sys

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def main():
    region, out = sys.argv[1], sys.argv[2]
    man = json.load(open(os.path.join(region, "manifest.json")))
    sample = os.path.join(out, "sample")
    os.makedirs(sample, exist_ok=True)
    link = os.path.join(sample, "feeds")
    if not os.path.islink(link):
        os.symlink(os.path.abspath(os.path.join(region, "feeds")), link)
    counts = {"hl7v2": 0, "fhir": 0, "csv": 0}
    bundles = entries = skipped = 0
    per_patient = {}  # (ods, local id) -> [entries, nhs]
    for org in man["organisations"]:
        for feed in org["feeds"]:
            first, rest = feed["files"][:1], feed["files"][1:]
            for f in first:
                with open(os.path.join(region, f), "rb") as fh:
                    data = fh.read()
                if feed["kind"] == "hl7v2":
                    counts["hl7v2"] += data.count(b"\x1c\r")
                elif feed["kind"] == "fhir":
                    counts["fhir"] += data.count(b"\n")
                else:
                    counts["csv"] += max(0, data.count(b"\n") - 1)
            feed["files"] = first
            if feed["kind"] != "fhir" or not rest:
                continue
            d = os.path.join(out, "bulk", org["ods"])
            os.makedirs(d, exist_ok=True)
            for f in rest:
                for line in open(os.path.join(region, f), encoding="utf-8", errors="replace"):
                    try:
                        b = json.loads(line)
                    except ValueError:
                        skipped += 1
                        continue
                    bundles += 1
                    entries += len(b.get("entry", []))
                    with open(os.path.join(d, "%07d.json" % bundles), "w") as o:
                        o.write(line)
                    for e in b.get("entry", []):
                        r = e.get("resource", {})
                        if r.get("resourceType") == "Patient":
                            nhs = next((i.get("value") for i in r.get("identifier", [])
                                        if i.get("system") == NHS), None)
                            k = (org["ods"], r.get("id"))
                            p = per_patient.setdefault(k, [0, None])
                            p[0] += len(b["entry"])
                            p[1] = p[1] or nhs
                            break
    with open(os.path.join(sample, "manifest.json"), "w") as o:
        json.dump(man, o)
    with_nhs = sorted((v[0], k) for k, v in per_patient.items() if v[1])
    big = with_nhs[-1][1] if with_nhs else None
    mid = with_nhs[len(with_nhs) // 2][1] if with_nhs else None
    desc = lambda k: {"ods": k[0], "id": k[1], "nhs": per_patient[k][1], "entries": per_patient[k][0]}
    print(json.dumps({"bulk_bundles": bundles, "bulk_entries": entries, "skipped": skipped,
                      "sample": counts, "largest": desc(big) if big else None,
                      "median": desc(mid) if mid else None}))


if __name__ == "__main__":
    main()
