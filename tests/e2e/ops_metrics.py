#!/usr/bin/env python3
# weft-test-backends: sqlite postgres
"""ops_metrics.py - `weft serve --metrics HOST:PORT`: a separate listener
serving /metrics in the Prometheus text format, checked with
`promtool check metrics` (Debian's prometheus package) and for the numbers
it must carry after known traffic:
  - HTTP requests by route class and status (FHIR 200s, a 400, a 404),
    with a latency histogram;
  - feed messages by feed, kind and outcome (HL7 applied and rejected, a CSV
    file), and the feed lag histogram;
  - audit entries committed and the audit write latency histogram, the
    audit queue depth;
  - the store's size (SQLite: its file, with the WAL file's; PostgreSQL:
    pg_database_size); scheduled job runs (drop-folder passes, audit anchors, WAL
    checkpoints on SQLite).
The service's own HTTP port does not serve /metrics; the metrics port
serves nothing else."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from feeds_harness import (TMP, Mllp, ack_code, adt, check, new_db, nhs, org, oru,  # noqa
                           reader_token, start, weft_ok)
from access_lib import add_hs_launcher, claims, launch, sign  # noqa: E402

promtool = shutil.which("promtool")
if not promtool:
    print("skip: promtool not installed (Debian package prometheus; make deps installs it)")
    sys.exit(77)

db = new_db()
org(db, "RVV", "acute")
org(db, "KENTCC", "social-care")
weft_ok("feed", "add", "--db", db, "--org", "RVV", "--kind", "hl7v2", "--facility", "METPAS")
folder = os.path.join(TMP, "kent")
weft_ok("feed", "add", "--db", db, "--org", "KENTCC", "--kind", "csv", "--folder", folder)
reader = reader_token(db)
secret = add_hs_launcher(db, "gp-system", "RVV", "https://gp.example")
mpf = os.path.join(TMP, "metrics.port")
srv = start(db, "--drop-interval", "1", "--metrics", "127.0.0.1:0", "--metrics-port-file", mpf,
            "--audit-anchor", os.path.join(TMP, "anchors.log"), "--audit-anchor-interval", "1")
deadline = time.time() + 10
while not os.path.exists(mpf):
    check(time.time() < deadline, "no metrics port file")
    time.sleep(0.05)
mport = int(open(mpf).read())
check(mport != srv.port, "metrics on the service's own port")


def scrape(path="/metrics"):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, None, ""


try:
    m = Mllp(srv.mllp_port)
    for i in range(10):
        ack = m.call(adt("METPAS", "M%d" % i, "A01", "MT%d" % i, nhs(5100 + i)))
        check(ack_code(ack) == "AA", ack)
    for i in range(3):
        ack = m.call(oru("METPAS", "MX%d" % i, "MT%d" % i, nhs(5100 + i), order="O%d" % i)
                     .replace("OBR|", "ZZZ|"))
        check(ack_code(ack) != "AA", "an ORU without OBR was accepted: %r" % ack)
    m.close()
    tok = sign({"alg": "HS256", "typ": "JWT"},
               claims("https://gp.example", "u1", "R8000", "RVV", nhs(5100)), "HS256", secret)
    st, _, _, cookie = launch(srv, tok)
    check(st in (302, 303) and cookie, "launch: %d" % st)
    for _ in range(5):
        st, _, _ = srv.request("GET", "/fhir/Patient?_count=5", token=reader)
        check(st == 200, "search %d" % st)
    st, _, _ = srv.request("GET", "/fhir/Patient?birthdate=not-a-date", token=reader)
    check(st == 400, "bad search %d" % st)
    st, _, _ = srv.request("GET", "/fhir/Nonsense/1", token=reader)
    check(st == 404, "unknown type %d" % st)
    os.makedirs(folder, exist_ok=True)
    p = os.path.join(folder, "people.csv")
    with open(p + ".tmp", "w") as f:
        f.write("person_id,nhs_number,family_name,given_names,date_of_birth,sex,postcode\n"
                "A1,%s,Testa,Amy,1950-02-03,F,CT1 1AA\n" % nhs(5200))
    os.utime(p + ".tmp", (time.time() - 120, time.time() - 120))
    os.rename(p + ".tmp", p)
    deadline = time.time() + 30
    while os.path.exists(p):
        check(time.time() < deadline, "CSV not picked up")
        time.sleep(0.2)
    time.sleep(1.5)  # the audit writer's group commit, another drop pass
    st, ctype, text = scrape()
    check(st == 200, "GET /metrics: %d" % st)
    check(ctype and ctype.startswith("text/plain") and "0.0.4" in ctype, "type %r" % ctype)
    st2, _, _ = scrape("/other")
    check(st2 == 404, "metrics port serves /other: %d" % st2)
    st3, _, _ = srv.request("GET", "/metrics", raw=True)
    check(st3 == 404, "the service port serves /metrics: %d" % st3)
finally:
    srv.stop()

path = os.path.join(TMP, "metrics.txt")
open(path, "w").write(text)
p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
check(p.returncode == 0, "promtool check metrics failed:\n%s%s" % (p.stdout, p.stderr))

samples = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        samples[k] = float(v)


def val(key):
    check(key in samples, "no sample %s in:\n%s" % (key, text))
    return samples[key]


check(val('weft_http_requests_total{class="fhir",status="200"}') >= 5, "fhir 200s")
check(val('weft_http_requests_total{class="fhir",status="400"}') == 1, "fhir 400")
check(val('weft_http_requests_total{class="fhir",status="404"}') == 1, "fhir 404")
check(val('weft_http_request_duration_seconds_count{class="fhir"}') >= 7, "latency count")
check(val('weft_http_request_duration_seconds_bucket{class="fhir",le="+Inf"}') ==
      val('weft_http_request_duration_seconds_count{class="fhir"}'), "+Inf bucket != count")
# `weft feed add` names the feeds after the organisation: rvv-hl7v2, kentcc-csv
check(val('weft_feed_messages_total{feed="rvv-hl7v2",kind="hl7v2",outcome="applied"}') == 10,
      "10 HL7 applied")
check(val('weft_feed_messages_total{feed="rvv-hl7v2",kind="hl7v2",outcome="rejected"}') == 3,
      "3 HL7 rejected")
check(val('weft_feed_messages_total{feed="kentcc-csv",kind="csv",outcome="applied"}') == 1,
      "the CSV file")
check(val('weft_feed_lag_seconds_count{feed="rvv-hl7v2"}') == 10,
      "lag observed for the 10 applied messages")
check(val("weft_audit_entries_total") >= 5, "audit entries (the FHIR reads are audited)")
check(val("weft_audit_write_duration_seconds_count") >= 1, "audit write latency")
check("weft_audit_queue_depth" in samples, "audit queue depth")
check(val("weft_store_size_bytes") > 0, "store size")
if db.startswith("postgres"):
    # pg_database_size: a PostgreSQL database is several MB even when new
    check(val("weft_store_size_bytes") > 1e6, "store size %r" % val("weft_store_size_bytes"))
else:
    check("weft_store_wal_size_bytes" in samples, "WAL size")
check(val('weft_job_runs_total{job="drop-pass",result="ok"}') >= 1, "drop passes")
check(val('weft_job_runs_total{job="audit-anchor",result="ok"}') >= 1, "audit anchor runs")
if not db.startswith("postgres"):  # SQLite's checkpointer (PostgreSQL checkpoints itself)
    check(val('weft_job_runs_total{job="wal-checkpoint",result="ok"}') >= 1, "WAL checkpoints")
for job in ("drop-pass", "audit-anchor", "wal-checkpoint", "wal-restart"):
    check(samples.get('weft_job_runs_total{job="%s",result="failed"}' % job, 0) == 0,
          "a failed %s" % job)
check(val('weft_sessions_open{kind="session"}') == 1, "one open session after one launch")
check(val('weft_http_requests_total{class="launch",status="303"}') +
      samples.get('weft_http_requests_total{class="launch",status="302"}', 0) == 1, "launch")
for n in range(5100, 5110):
    check(nhs(n) not in text, "an NHS number in the metrics")
print("ok: promtool check metrics passes; %d samples; HTTP by class/status, feeds by outcome, "
      "lag, audit, store sizes, jobs" % len(samples))
