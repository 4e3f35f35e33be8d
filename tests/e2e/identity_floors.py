#!/usr/bin/env python3
# weft-test-postgres-skip: accuracy floors measured by bench/linkage_score.py and bench/identity_region.py, which make SQLite files of their own (the matching is the same code on both backends)
"""identity_floors.py - the master person index keeps the accuracy it
reached (docs/BENCHMARKS.md, "Identity"): floors just below the measured
figures, so a change that makes matching worse fails here.

  - FEBRL 1-3 and Splink fake_1000 through `weft load`, `weft person
    estimate`, `weft person relink` (bench/linkage_score.py): pairwise F1;
  - a 1,000-person synthetic region with default faults sent through the
    real feeds (bench/identity_region.py): pairwise PPV and sensitivity.
Skips (77) when ../shared/data is absent.
"""
import json, os, subprocess, sys

BIN, ROOT, TMP = os.environ["WEFT_BIN"], os.environ["WEFT_ROOT"], os.environ["WEFT_TMP"]
DATA = os.environ.get("WEFT_DATA", "")
if not os.path.isdir(os.path.join(DATA, "febrl")) or not os.path.isdir(os.path.join(DATA, "splink")):
    print("skip: no FEBRL / Splink data under WEFT_DATA")
    sys.exit(77)
# Re-measured after the household guard (src/identity/mpi.h mpi_auto_weight:
# a pair whose given and family names both disagree is never linked
# unattended): FEBRL F1 0.9806 / 0.9858 / 0.9802 (was 0.989 / 0.995 / 0.990
# with two different people of one household linked at 27 bits).
# Then (issue 13, FEBRL F1 >= 0.99): swapped names compared crossed with
# typos, half swaps, transposed postcodes, two batch-only blocking keys:
# FEBRL F1 0.99598 / 0.99611 / 0.99447, fake_1000 0.79858.
F1_FLOOR = {"febrl1": 0.993, "febrl2": 0.993, "febrl3": 0.991, "fake_1000": 0.78}
errors = []
r = subprocess.run([sys.executable, os.path.join(ROOT, "bench/linkage_score.py"), "--bin", BIN,
                    "--data", DATA, "--json"], capture_output=True, text=True, timeout=1800)
if r.returncode != 0:
    sys.exit(f"FAIL: linkage_score.py: {r.stderr[-2000:]}")
res = json.loads(r.stdout.strip().splitlines()[-1])
for name, floor in F1_FLOOR.items():
    a = res[name]["after_relink"]
    print(f"{name}: {a}")
    if a["f1"] < floor:
        errors.append(f"{name}: F1 {a['f1']} below the floor {floor}")
    if a["precision"] < 0.995:
        errors.append(f"{name}: precision {a['precision']} below 0.995")
r = subprocess.run([sys.executable, os.path.join(ROOT, "bench/identity_region.py"), "--people",
                    "1000", "--seed", "7", "--bin", BIN, "--keep", os.path.join(TMP, "region")],
                   capture_output=True, text=True, timeout=1800)
if r.returncode != 0:
    sys.exit(f"FAIL: identity_region.py: {r.stderr[-2000:]}")
s = json.loads(r.stdout.strip().splitlines()[-1])
print("synthetic region:", {k: s[k] for k in ("records", "ppv", "sensitivity", "records_not_in_store")})
if s["ppv"] < 0.999:
    errors.append(f"synthetic region: PPV {s['ppv']} below 0.999")
if s["sensitivity"] < 0.99:
    errors.append(f"synthetic region: sensitivity {s['sensitivity']} below 0.99")
if errors:
    for e in errors:
        print("FAIL:", e)
    sys.exit(1)
print("ok")
