#!/usr/bin/env python3
"""scale_table.py - the table of bench_scale.sh's figures.

  python3 bench/scale_table.py RESULTS.tsv

RESULTS.tsv: lines "size<TAB>backend<TAB>figure<TAB>value" (bench_scale.sh,
scale_reads.sh).  One column per backend and size, and when there is
more than one size, the ratio of the largest size's figure to the smallest's
per backend (the issue's target: p99 at 1,000,000 people within 1.5x of p99 at
10,000).  A figure measured more than once for the same size and backend (the
reads alternated between stores) shows the median of its values.
"""
import statistics
import sys


def value(vals):
    if len(vals) == 1:
        return vals[0]
    try:
        nums = [float(v) for v in vals]
    except ValueError:
        return vals[-1]
    m = statistics.median(nums)
    return ("%d" % m) if m == int(m) and all("." not in v for v in vals) else ("%.3f" % m).rstrip("0").rstrip(".")


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
    sizes = sorted({int(r[0]) for r in rows})
    backends = list(dict.fromkeys(r[1] for r in rows))
    metrics = list(dict.fromkeys(r[2] for r in rows))
    got = {}
    for r in rows:
        got.setdefault((int(r[0]), r[1], r[2]), []).append(r[3])
    v = {k: value(vals) for k, vals in got.items()}
    cols = [(s, b) for b in backends for s in sizes]
    head = "| figure | " + " | ".join("%s %s" % (b, f"{s:,}") for s, b in cols)
    if len(sizes) > 1:
        head += " | " + " | ".join("%s %s/%s" % (b, f"{sizes[-1]:,}", f"{sizes[0]:,}") for b in backends)
    print(head + " |")
    print("|---" * (1 + len(cols) + (len(backends) if len(sizes) > 1 else 0)) + "|")
    for m in metrics:
        line = "| %s | " % m + " | ".join(v.get((s, b, m), "-") for s, b in cols)
        if len(sizes) > 1:
            def ratio(b):
                try:
                    return "%.2fx" % (float(v[(sizes[-1], b, m)]) / float(v[(sizes[0], b, m)]))
                except (KeyError, ValueError, ZeroDivisionError):
                    return "-"
            line += " | " + " | ".join(ratio(b) for b in backends)
        print(line + " |")


if __name__ == "__main__":
    main()
