#!/usr/bin/env python3
"""identity_relink_same.py - `weft person relink` gives one outcome however
it is run: on a generated region's records (bench/identity_relink_scale.py:
pairs of records of one person, one damaged; estimated, relinked, some links
then undone by hand so that "not the same person" decisions stand, and the
link threshold lowered), relink is run on copies of one store and
everything it writes is compared: every record's person
(person_local), the review queue, the decisions (who, what, score, model)
and the merges.

  - scored on one thread and on several (WEFT_RELINK_THREADS 1 and 3): the
    same rows;
  - RELINK_REF_BIN=PATH also relinks a copy with another build (e.g. the
    build before a change to relink: docs/BENCHMARKS.md "Relink") and
    requires the same rows from it: every record's person, the review
    queue (a build before the review cap queues more), and the decisions but for the person each names and its merge id
    (builds before the bulk relink merged in chains, P2 into P1 then P1 into
    P3, where relink now merges each retired person straight into the
    cluster's final person; their merge rows differ by design);
  - the review queue keeps each record's best 3 pairs: no pair relink
    queued had 3 better pairs queued on both its records (identity_mpi.py's
    household makes relink leave pairs out for certain);
  - every unlink made by hand still stands afterwards (the two records are
    apart), and relink did link something (the comparison is not of two
    empty outcomes).

Env: RELINK_RECORDS (default 6000), RELINK_REF_BIN.
"""
# weft-test-backends: sqlite
# weft-test-postgres-skip: compares the relinked rows of SQLite files with python's sqlite3 (the relink code is the same on both backends; identity_mpi.py runs on both)
import os, shutil, sqlite3, subprocess, sys

BIN = os.environ["WEFT_BIN"]
TMP = os.environ["WEFT_TMP"]
RECORDS = int(os.environ.get("RELINK_RECORDS", "6000"))
SRC = "urn:weft:source-id:Patient"
errors = []


def run(*args, binp=BIN, env=None):
    r = subprocess.run([binp, *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **(env or {})})
    if r.returncode != 0:
        sys.exit(f"FAIL: weft {' '.join(args)} exit {r.returncode}: {r.stderr[-2000:]}")
    return r.stdout


def rows(db):
    con = sqlite3.connect(db)
    q = {
        "persons": "select org, system, value, person_id from person_local order by 1, 2, 3",
        "reviews": "select org, source_id, other_org, other_source_id, score, model_version,"
                   " status from identity_review order by 1, 2, 3, 4",
        "decisions": "select action, org, source_id, person_id, other_person, other_org,"
                     " other_source_id, score, model_version, decided_by, merge_id"
                     " from identity_decision order by id",
        "merges": "select id, survivor, retired, source_org, moved_nhs, undone from person_merge"
                  " order by id",
        "merge_locals": "select merge_id, org, system, value from person_merge_local"
                        " order by 1, 2, 3, 4",
    }
    out = {k: con.execute(v).fetchall() for k, v in q.items()}
    con.close()
    return out


# ---- a region's records in a store ----------------------------------------------------
# bench/identity_relink_scale.py writes source records straight into the identity
# tables: two records a person from two organisations, one of each pair damaged
# (typo, nickname, other postcode, day and month swapped); every record its own
# person to start with
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
gen = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "identity_relink_scale.py"),
                      "--records", str(RECORDS), "--bin", BIN, "--keep", os.path.join(TMP, "gen"),
                      "--generate-only"], capture_output=True, text=True, timeout=600)
if gen.returncode != 0:
    sys.exit(f"FAIL: generator: {gen.stderr[-1000:]}")
db = os.path.join(TMP, "gen", "weft.db")
n = RECORDS
run("person", "estimate", "--db", db)
run("person", "relink", "--db", db)  # the pairs linked: persons to unlink from
# ---- manual decisions: undo a few automatic links ----------------------------------------
con = sqlite3.connect(db)
auto = con.execute("select org, source_id from identity_decision where action = 'merge'"
                   " order by id limit 40").fetchall()
con.close()
linked = []
for org, sid in auto:  # a person holding two records of one org cannot be split: the next
    r = subprocess.run([BIN, "person", "unlink", "--db", db, "--org", org, "--source-id", sid,
                        "--by", "dq-officer", "--role", "R8012"], capture_output=True, text=True)
    if r.returncode == 0:
        linked.append((org, sid))
    if len(linked) == 3:
        break
con = sqlite3.connect(db)
apart = con.execute("select org, source_id, other_org, other_source_id from identity_nonmatch"
                    ).fetchall()
con.close()
if len(linked) < 1 or not apart:
    errors.append(f"setup: no automatic links to undo ({linked}, {len(apart)} not-same pairs)")
# a lower link threshold (the change relink exists for): relink links what it left apart
run("person", "estimate", "--db", db, "--link-threshold", "-2", "--review-threshold", "-6")


def relink(name, binp=BIN, env=None):
    path = os.path.join(TMP, name + ".db")
    shutil.copyfile(db, path)
    out = run("person", "relink", "--db", path, binp=binp, env=env)
    return path, out, rows(path)


p1, out1, r1 = relink("one", env={"WEFT_RELINK_THREADS": "1"})
p3, out3, r3 = relink("three", env={"WEFT_RELINK_THREADS": "3"})
print(out1.strip())
before = rows(db)
if len(r1["decisions"]) == len(before["decisions"]) and r1["reviews"] == before["reviews"]:
    errors.append("relink changed nothing on the region: the comparison would prove nothing")
for k in r1:
    if r1[k] != r3[k]:
        errors.append(f"one thread and three differ in {k}: {len(r1[k])} / {len(r3[k])} rows")
# the review queue holds each record's best few pairs, not every faint
# resemblance (MPI_REVIEWS_PER_RECORD, 3): a pair relink queued had, on one
# side at least, fewer than 3 better-scoring pairs queued before it
new_reviews = sorted(set(r1["reviews"]) - set(before["reviews"]), key=lambda v: -v[4])
per = {}
for org, src, oorg, osrc, score, *_ in new_reviews:
    per.setdefault((org, src), []).append(score)
    per.setdefault((oorg, osrc), []).append(score)
over = [v for v in new_reviews
        if min(sum(1 for x in per[(v[0], v[1])] if x > v[4]),
               sum(1 for x in per[(v[2], v[3])] if x > v[4])) >= 3]
busiest = max((len(v) for v in per.values()), default=0)
print(f"relink queued {len(new_reviews)} reviews; the busiest record is in {busiest}")
if over:
    errors.append(f"{len(over)} reviews queued past both records' best 3, e.g. {over[:2]}")
ref = os.environ.get("RELINK_REF_BIN")
if ref:
    _, outr, rr = relink("ref", binp=ref)
    print("reference:", outr.strip())
    def core(r):
        return {"persons": r["persons"], "reviews": r["reviews"],
                "decisions": [d[:3] + d[4:10] for d in r["decisions"]]}
    c1, cr = core(r1), core(rr)
    for k in c1:
        if c1[k] != cr[k]:
            diff = sorted(set(c1[k]) ^ set(cr[k]))[:5]
            errors.append(f"this build and {ref} differ in {k}: {diff}")
# every merge relink made undoes on its own (relink writes each retired person straight
# into its cluster's final person, in bulk): undo a sample of them, and exactly the
# records each retired person held before the relink go back to it, every other record
# stays where it is
new_dec = r1["decisions"][len(before["decisions"]):]
mids = sorted({d[10] for d in new_dec if d[0] == "merge" and d[9] == "relink" and d[10]})
if not mids:
    errors.append("relink recorded no merge (with its merge id) to undo")
undo = p1 + ".undo.db"
shutil.copyfile(p1, undo)
expect = {(o, sy, v): pid for o, sy, v, pid in r1["persons"]}
held = {}
for o, sy, v, pid in before["persons"]:
    held.setdefault(pid, []).append((o, sy, v))
con = sqlite3.connect(undo)
sample = mids[::max(1, len(mids) // 12)][:12]
for mid in sample:
    retired, = con.execute("select retired from person_merge where id = ?", (mid,)).fetchone()
    if not held.get(retired):
        errors.append(f"relink merge {mid} retired {retired}, who held no record before it")
    for k in held.get(retired, []):
        expect[k] = retired
con.close()
for mid in sample:
    run("person", "unmerge", "--db", undo, "--id", str(mid), "--by", "dq-officer", "--role", "R8012")
got = {(o, sy, v): pid for o, sy, v, pid in rows(undo)["persons"]}
if got != expect:
    diff = [k for k in expect if got.get(k) != expect[k]][:5]
    errors.append(f"undoing {len(sample)} relink merges did not put back exactly what each moved: {diff}")
# every hand-made "not the same person" still stands
con = sqlite3.connect(p1)
for org, sid, oorg, osid in apart:
    a = con.execute("select person_id from person_local where org = ? and system = ? and value = ?",
                    (org, SRC, sid)).fetchone()
    b = con.execute("select person_id from person_local where org = ? and system = ? and value = ?",
                    (oorg, SRC, osid)).fetchone()
    if a and b and a == b:
        errors.append(f"relink joined {org}/{sid} and {oorg}/{osid}, decided not the same person")
con.close()

if errors:
    print("FAIL:", *errors, sep="\n  ")
    sys.exit(1)
print(f"ok: relink over {n} records: same rows with 1 and 3 threads"
      + (" and with the reference build" if ref else "") + "; manual decisions kept")
