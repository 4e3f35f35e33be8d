#!/usr/bin/env python3
"""replicate.py SRC_DIR OUT_DIR COPIES - copies of the Synthea bundles with distinct ids.

Every UUID in a bundle (resource ids, urn:uuid: fullUrls and references, identifiers built from
them) is rewritten per copy by XOR-ing its first 32 bits with the copy number, so copy k's
resources are distinct items with valid UUIDs, references stay consistent inside each copy, and
copy 0 equals the source.  Output is compact JSON (one file per source bundle per copy).
"""
import json, os, re, sys

UUID = re.compile(r"\b([0-9a-f]{8})(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


def main():
    src, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    files = sorted(f for f in os.listdir(src) if f.endswith(".json"))
    total = 0
    for f in files:
        b = json.load(open(os.path.join(src, f)))
        n = len(b.get("entry", []))
        text = json.dumps(b, separators=(",", ":"), ensure_ascii=False)
        for k in range(copies):
            t = text if k == 0 else UUID.sub(lambda m: "%08x%s" % (int(m.group(1), 16) ^ k, m.group(2)), text)
            with open(os.path.join(out, "c%03d_%s" % (k, f)), "w") as o:
                o.write(t)
            total += n
    print(f"{len(files) * copies} bundles, {total} resources in {out}")


if __name__ == "__main__":
    main()
