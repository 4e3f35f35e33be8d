"""durability.py - shared by the tests/e2e/durability_*.py power-loss tests
(docs/TESTING.md "Durability").

Each test builds a baseline database once, then for each cut point: copies
it, runs a workload against a test-build weft journalling its writes
(WEFT_POWERLOG) and killing itself at the chosen write or fsync
(WEFT_POWERCUT), rewinds every file to what a power cut would have left
(powercut.rewind), and checks what was acknowledged before the cut.

Cut points: one dry run of the workload counts its journalled writes and
fsyncs; the cuts are spread over them (evenly, plus seeded random ones), half
at writes and half at fsyncs.  A cut the workload does not reach (it varies a
little from run to run) is a cut at its end: the process is SIGKILLed after
the workload.

Not a test itself (the runner only runs files directly in tests/e2e/)."""
import os
import random
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import powercut  # noqa: E402
from api_harness import TMP, WEFT, check, fail, run, skip  # noqa: E402

if os.environ.get("WEFT_BIN_KIND") == "release":
    skip("the release binary has no power-loss journal (it is in the test build only)")

CUTS = int(os.environ.get("WEFT_DURABILITY_CUTS", "6"))
SEEDS = [int(s) for s in os.environ.get("WEFT_DURABILITY_SEEDS", "1,2").split(",")]


def copy_tree(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)


def journal_env(run_dir, cut=None):
    """The environment of a journalled weft: WEFT_POWERLOG, WEFT_POWERCUT."""
    env = dict(os.environ)
    env["WEFT_POWERLOG"] = os.path.join(run_dir, "power.log")
    env.pop("WEFT_POWERCUT", None)
    if cut:
        env["WEFT_POWERCUT"] = cut
    return env


def cut_points(writes, syncs, lo_w=0, lo_s=0):
    """Cut specs spread over (lo, total]: CUTS evenly placed plus one seeded
    random one per seed, alternating writes and fsyncs."""
    pts = []
    if syncs <= lo_s:  # a workload that never syncs is cut at writes only
        syncs = lo_s
    for i in range(CUTS):
        if (i % 2 == 0 or syncs <= lo_s) and writes > lo_w:
            pts.append("write:%d" % (lo_w + 1 + (writes - lo_w - 1) * (i + 1) // (CUTS + 1)))
        elif syncs > lo_s:
            pts.append("sync:%d" % (lo_s + 1 + (syncs - lo_s - 1) * (i + 1) // (CUTS + 1)))
    for s in SEEDS:
        r = random.Random(s)
        if (r.random() < 0.5 or syncs <= lo_s) and writes > lo_w:
            pts.append("write:%d" % r.randint(lo_w + 1, writes))
        elif syncs > lo_s:
            pts.append("sync:%d" % r.randint(lo_s + 1, syncs))
    return pts


def wait_dead(proc, timeout=120):
    """Wait for a journalled process to die at its cut; SIGKILL it when the
    workload ended first (the cut at the end).  True when it cut itself."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return False
    return proc.returncode == -signal.SIGKILL


def after_cut(run_dir, db):
    """Rewind run_dir's journal; check the database opens, is intact and its
    audit chain verifies.  Returns the rewind summary."""
    log = os.path.join(run_dir, "power.log")
    summary = powercut.rewind(log) if os.path.exists(log) else {"cut": None}
    os.rename(log, log + ".done") if os.path.exists(log) else None
    import sqlite3
    c = sqlite3.connect(db)
    ic = c.execute("PRAGMA integrity_check").fetchall()
    c.close()
    check(ic == [("ok",)], "integrity_check after the cut (%s): %r" % (summary, ic[:5]))
    rc, out, err = run("audit", "verify", "--db", db)
    check(rc == 0, "audit verify after the cut (%s): %d %s %s" % (summary, rc, out, err))
    return summary


def inbox(db):
    import json
    rc, out, err = run("feed", "messages", "--db", db, "--json", "--limit", "100000")
    check(rc == 0, "feed messages: %s" % err)
    return json.loads(out)


def resources(db, rtype):
    """Source ids of the stored resources of rtype, straight from the database."""
    import sqlite3
    c = sqlite3.connect(db)
    try:
        rows = c.execute("select source_id from resource where type = ? and next_seq is null"
                            " and deleted = 0", (rtype,)).fetchall()
    finally:
        c.close()
    return [r[0] for r in rows]


def weft_popen(args, env, **kw):
    return subprocess.Popen([WEFT] + list(args), env=env, **kw)


__all__ = ["TMP", "WEFT", "check", "fail", "run", "copy_tree", "journal_env", "cut_points",
           "wait_dead", "after_cut", "inbox", "resources", "weft_popen", "powercut"]
