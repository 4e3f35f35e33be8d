#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""units_retry.py - every unit of work done twice comes out as once
(store_txn_run, store/txn.h): a unit that met another writer (PostgreSQL,
whose writers overlap) is rolled back whole and done again once.  Races are
rare, so the test build's failpoint store-unit-raced makes every unit's
first attempt count as raced, and these tests must pass unchanged:

  identity_mpi.py       person commands (weft person merge, unmerge, link):
                        each decision recorded once, audited once, undone
                        once;
  citizen_objection.py  objections and the API writes around them;
  feeds_refusals.py     FHIR Bundles of feeds, their inbox outcomes and
                        counters, replay after a fix.
The test build only (the release binary has no failpoints)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import fail, skip  # noqa: E402

if os.environ.get("WEFT_BIN_KIND") == "release":
    skip("the failpoint store-unit-raced is in the test build only")
env = dict(os.environ, WEFT_FAILPOINTS="store-unit-raced")
for t in ("identity_mpi.py", "citizen_objection.py", "feeds_refusals.py"):
    tmp = os.path.join(os.environ.get("WEFT_TMP", "/tmp"), t)
    os.makedirs(tmp, exist_ok=True)
    p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), t)],
                       env=dict(env, WEFT_TMP=tmp), capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s with every unit of work done twice: %s" % (t, (p.stdout + p.stderr)[-2000:]))
    print("ok: %s with every unit of work done twice" % t)
print("PASS")
