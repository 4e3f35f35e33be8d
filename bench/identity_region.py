#!/usr/bin/env python3
"""identity_region.py - score the master person index on a synthetic region.

  python3 bench/identity_region.py --people N [--seed S] [--fault-rate SPEC]
          [--bin ./weft] [--keep DIR] [--json]

Generates a region (weft synth), registers its organisations and feeds,
starts `weft serve` with MLLP and the drop folders, sends everything with
`weft replay-feeds` through the real feed paths, then scores identity with
bench/synth_score.py (pairwise PPV and sensitivity against truth/).  Prints
one JSON line: people, records, ppv, sensitivity, people_split,
persons_merged, replay_seconds.  --bin runs another build (e.g. main's) for a
side-by-side feed-path timing.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_file(path, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        time.sleep(0.05)
    sys.exit(f"{path} never written")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault-rate", default=None)
    ap.add_argument("--bin", default=os.path.join(ROOT, "weft"))
    ap.add_argument("--keep", default=None)
    ap.add_argument("--region", default=None, help="reuse a generated region")
    a = ap.parse_args()
    tmp = a.keep or tempfile.mkdtemp(prefix="weft-idbench-")
    os.makedirs(tmp, exist_ok=True)
    binp = os.path.abspath(a.bin)
    reg = a.region or os.path.join(tmp, "region")
    db = os.path.join(tmp, "weft.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    shutil.rmtree(os.path.join(tmp, "drop"), ignore_errors=True)
    if not a.region:
        shutil.rmtree(reg, ignore_errors=True)
        extra = ["--fault-rate", a.fault_rate] if a.fault_rate else []
        subprocess.run([binp, "synth", "--people", str(a.people), "--seed", str(a.seed), "--out",
                        reg, "--quiet", *extra], check=True, capture_output=True)
    subprocess.run([binp, "init", "--db", db], check=True, capture_output=True)
    subprocess.run([binp, "synth", "register", "--db", db, "--in", reg, "--drop-root",
                    os.path.join(tmp, "drop")], check=True, capture_output=True)
    for f in ("port", "mport"):
        if os.path.exists(os.path.join(tmp, f)):
            os.remove(os.path.join(tmp, f))
    log = open(os.path.join(tmp, "serve.log"), "w")
    srv = subprocess.Popen([binp, "serve", "--db", db, "--http", "127.0.0.1:0", "--port-file",
                            os.path.join(tmp, "port"), "--mllp", "127.0.0.1:0", "--mllp-port-file",
                            os.path.join(tmp, "mport"), "--drop-interval", "1", "--threads", "2"],
                           stdout=log, stderr=log)
    try:
        port, mport = wait_file(os.path.join(tmp, "port")), wait_file(os.path.join(tmp, "mport"))
        t0 = time.time()
        r = subprocess.run([binp, "replay-feeds", reg, "--http", f"http://127.0.0.1:{port}",
                            "--mllp", f"127.0.0.1:{mport}", "--credentials",
                            os.path.join(reg, "credentials.json"), "--csv-wait", "120", "--quiet"],
                           capture_output=True, text=True, timeout=3600)
        secs = time.time() - t0
    finally:
        srv.terminate()
        srv.wait(timeout=120)
    score = json.loads(subprocess.run([sys.executable, os.path.join(ROOT, "bench/synth_score.py"),
                                       "--db", db, "--in", reg, "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    out = {k: score.get(k) for k in ("records", "ppv", "sensitivity", "people_split",
                                      "persons_merging_people", "records_not_in_store", "faults_on_records_of_split_people")}
    out.update(people=a.people, fault_rate=a.fault_rate or "default", replay_seconds=round(secs, 1),
               replay_exit=r.returncode, db=db, region=reg)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
