#!/usr/bin/env python3
"""dq_synth.py - the data-quality checks find the synthetic region's injected
faults, and the `weft dq` commands keep their contract.

A 600-person region (seed 3, default faults with the rare kinds raised so
each has enough cases) goes through the real feed paths (MLLP, FHIR REST,
CSV drop folders) into a served store; then `weft dq run` and
bench/dq_score.py, and per fault kind the check that finds it must reach the
recall and precision floors below (docs/DATA_QUALITY.md gives the measured
figures; the floors sit below them so that a changed seed does not fail).
Also: `weft dq failures` prints exactly the contract's CSV header, every
failing row names a check and the sender's identifiers; `weft dq report`
CSV and JSON; `--org` limits a run; a rules file with a mistake is refused
naming its line.
"""
# weft-test-backends: sqlite postgres (rows read with api_harness.db_rows)
import csv, io, json, os, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from api_harness import db_rows, new_db_url  # noqa: E402

BIN, TMP, ROOT = os.environ["WEFT_BIN"], os.environ["WEFT_TMP"], os.environ["WEFT_ROOT"]
HEADER = "check,dimension,resource_type,source_id,patient_local_id,message_control_id,detail"
# fault kind -> (recall floor, precision floor)
FLOORS = {
    "missing-nhs": (0.95, 0.95), "bad-check-digit": (0.9, 0.9), "typo": (0.5, 0.45),
    "missing-postcode": (0.95, 0.95), "swap-day-month": (0.6, 0.4), "duplicate": (0.8, 0.9),
    "future-date": (0.9, 0.8), "unknown-code": (0.9, 0.9), "late": (0.3, 0.3),
    "malformed": (0.5, 0.5),
}
errors = []


def run(*args, check=True):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"FAIL: weft {' '.join(args)}: exit {r.returncode}\n{r.stderr}")
    return r


def wait_file(path):
    for _ in range(600):
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        time.sleep(0.05)
    sys.exit(f"FAIL: {path} never written")


reg, db = os.path.join(TMP, "region"), new_db_url()
run("synth", "--people", "600", "--seed", "3", "--out", reg, "--quiet", "--fault-rate",
    "bad-check-digit=0.03,swap-day-month=0.06,malformed=0.01,duplicate=0.03,typo=0.04")
run("init", "--db", db)
run("synth", "register", "--db", db, "--in", reg, "--drop-root", os.path.join(TMP, "drop"))
log = open(os.path.join(TMP, "serve.log"), "w")
srv = subprocess.Popen([BIN, "serve", "--db", db, "--http", "127.0.0.1:0", "--port-file",
                        os.path.join(TMP, "port"), "--mllp", "127.0.0.1:0", "--mllp-port-file",
                        os.path.join(TMP, "mport"), "--drop-interval", "1", "--threads", "2"],
                       stdout=log, stderr=log)
try:
    port, mport = wait_file(os.path.join(TMP, "port")), wait_file(os.path.join(TMP, "mport"))
    subprocess.run([BIN, "replay-feeds", reg, "--http", f"http://127.0.0.1:{port}", "--mllp",
                    f"127.0.0.1:{mport}", "--credentials", os.path.join(reg, "credentials.json"),
                    "--csv-wait", "60", "--quiet"], capture_output=True, text=True, timeout=900)
finally:
    srv.terminate()
    srv.wait(timeout=60)

# a rules file with a mistake is refused, naming the line
bad = os.path.join(TMP, "bad.rules")
open(bad, "w").write("check nhs-present 0.98\n# comment\ncheck postcode-valid 98%\n")
r = run("dq", "run", "--db", db, "--rules", bad, check=False)
if r.returncode != 1 or "line 3" not in r.stderr or "98%" not in r.stderr:
    errors.append(f"bad rules file: exit {r.returncode}, stderr {r.stderr!r}")
r = run("dq", "report", "--db", db, "--org", "RVV", check=False)
if r.returncode != 1 or "no finished data-quality run" not in r.stderr:
    errors.append(f"report before any run: exit {r.returncode}, {r.stderr!r}")

out = run("dq", "run", "--db", db, "--as-of", "2026-11-01").stdout
print(out.strip())
score = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "dq_score.py"), "--db", db,
                        "--in", reg, "--json"], capture_output=True, text=True, check=True)
res = json.loads(score.stdout)
for k in res["kinds"]:
    rf, pf = FLOORS[k["kind"]]
    print(f"{k['kind']:<18} {k['check']:<24} injected {k['injected']:>4} recall "
          f"{k['recall'] if k['recall'] is not None else '-'} precision {k['precision']}")
    if not k["injected"]:
        errors.append(f"{k['kind']}: no fault injected; the test cannot judge it")
        continue
    if k["recall"] < rf:
        errors.append(f"{k['kind']}: recall {k['recall']:.3f} below {rf}")
    if k["precision"] is None or k["precision"] < pf:
        errors.append(f"{k['kind']}: precision {k['precision']} below {pf}")

# the failures CSV: exact header, rows carry a check and the sender's identifiers
f = run("dq", "failures", "--db", db, "--org", "RVV").stdout
lines = f.splitlines()
if not lines or lines[0] != HEADER:
    errors.append(f"failures header {lines[:1]!r}")
rows = list(csv.DictReader(io.StringIO(f)))
if not rows:
    errors.append("no failing records for RVV")
for row in rows:
    if not row["check"] or not row["dimension"] or not row["resource_type"]:
        errors.append(f"failure row without check/dimension/type: {row}")
        break
if not any(r["check"] == "message-rejected" and r["message_control_id"] for r in rows) and \
        any(r["check"] == "message-rejected" for r in rows):
    print("note: RVV's rejected messages carried no control id")
if not any(r["patient_local_id"] for r in rows):
    errors.append("no RVV failure names the patient's local id")

# report CSV and JSON
rc = run("dq", "report", "--db", db, "--org", "RVV").stdout.splitlines()
if not rc or not rc[0].startswith("org,run,finished,kind,name,dimension,tested,failed"):
    errors.append(f"report csv header {rc[:1]}")
rj = json.loads(run("dq", "report", "--db", db, "--org", "RVV", "--format", "json").stdout)
if not (0 <= rj["overall"] <= 100) or set(rj["dimensions"]) != {
        "completeness", "validity", "plausibility", "consistency", "timeliness", "conformance"}:
    errors.append(f"report json: {rj['overall']} {rj['dimensions']}")

# one organisation's run: only its records, and the trend grows
run("dq", "run", "--db", db, "--org", "RVV", "--as-of", "2026-11-01")
rj2 = json.loads(run("dq", "report", "--db", db, "--org", "RVV", "--format", "json").stdout)
if len(rj2["trend"]) != 2:
    errors.append(f"trend after two runs: {len(rj2['trend'])}")
orgs = {o for (o,) in db_rows(db, "SELECT DISTINCT org FROM dq_failure WHERE run_id = ?",
                               (rj2["run"]["id"],))}
if orgs != {"RVV"}:
    errors.append(f"--org RVV run reported {sorted(orgs)}")
bad_usage = run("dq", "failures", "--db", db, check=False)
if bad_usage.returncode != 2:
    errors.append(f"failures without --org: exit {bad_usage.returncode}")

if errors:
    print("\n".join("FAIL: " + e for e in errors))
    sys.exit(1)
print("ok")
