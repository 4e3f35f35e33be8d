#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""feeds_mllp_retry.py - the MLLP writer's whole-batch retry (mllp_server.c,
run_batch): a batch that met another writer (store_raced: on PostgreSQL,
whose writers overlap, a deadlock, two writers making one row, a version
replaced meanwhile) is rolled back and done again once, from the messages as
received, before anything is answered.  Overlapping writers take that path
rarely, so the test build's failpoint mllp-batch-raced makes every batch's
first try count as raced, and feeds_mllp_batch.py - resent copies claimed
once, a failed merge between messages that apply, its control id applied
when corrected - must come out exactly as without it: every outcome, ACK
and inbox row the same, with every batch done twice.  The test build only
(the release binary has no failpoints)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from api_harness import TMP, check, fail, skip  # noqa: E402

if os.environ.get("WEFT_BIN_KIND") == "release":
    skip("the failpoint mllp-batch-raced is in the test build only")
env = dict(os.environ, WEFT_FAILPOINTS="mllp-batch-raced")
p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "feeds_mllp_batch.py")],
                   env=env, capture_output=True, text=True)
sys.stdout.write(p.stdout)
if p.returncode != 0:
    fail("feeds_mllp_batch.py with every batch retried: %s" % (p.stdout + p.stderr)[-2000:])
with open(os.path.join(TMP, "serve.log")) as f:
    log = f.read()
n = log.count("met another writer")
check(n >= 1, "no batch was done again: %r" % log[-1000:])
check("not stored" not in log, "a batch failed: %r" % log[-1000:])
print("ok: every batch done twice (%d retries), the same outcomes" % n)
