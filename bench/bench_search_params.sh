#!/usr/bin/env bash
# bench_search_params.sh - latency of FHIR R4 specification search parameters
# (fhir/searchparam.c, matched item by item within one patient) on the
# largest Synthea patient, beside the store-indexed patient search as the
# baseline, one keep-alive client, sequential requests.
#
# Data: the shared Synthea R4 set loaded with `weft load` into a fresh
# database; the release ./weft serves it (log level warn, audit on).
# Measured: N (default 300) requests per case after 20 warm-up ones; p50 and
# p99 in milliseconds, and the server's CPU (user + system) per request, the
# figure that stays steady when the machine is shared.  Target (issue 21): p99 < 10 ms for every
# patient-scoped search.
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
data=${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}/synthea-r4
[ -d "$data" ] || { echo "skip: $data not found"; exit 0; }
N=${N:-300}
tmp=${BENCH_TMP:-$(mktemp -d)}/search_params
mkdir -p "$tmp"
weft=${WEFT_BIN:-$root/weft}
[ -x "$weft" ] || make -s weft >/dev/null
db="$tmp/sp.db"
rm -f "$db" "$db-wal" "$db-shm"
"$weft" init --db "$db" >/dev/null 2>&1 || { echo "weft init failed"; exit 1; }
"$weft" org add --db "$db" --ods SYN01 --name "Bench organisation" --type acute >/dev/null
"$weft" org agreement --db "$db" --ods SYN01 --kind jca --from 2020-01-01 >/dev/null
token=$("$weft" client add --db "$db" --name bench --org SYN01 --write 2>/dev/null)
"$weft" load --db "$db" --org SYN01 --quiet "$data" >"$tmp/load.out" 2>&1 || { tail -3 "$tmp/load.out"; echo "load failed"; exit 1; }
rm -f "$tmp/port"
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" --log-level warn 2>"$tmp/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")

/usr/bin/python3 - "$port" "$token" "$N" "$pid" <<'EOF'
import http.client, json, os, sys, time, urllib.parse
def cpu():  # user + system seconds of weft serve (the machine is shared: CPU per request is the steady figure)
    f = open("/proc/%s/stat" % sys.argv[4]).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
H = {"Authorization": "Bearer " + sys.argv[2]}
N = int(sys.argv[3])
def get(p):
    c.request("GET", p, headers=H)
    r = c.getresponse()
    b = r.read()
    assert r.status == 200, (p, r.status, b[:300])
    return json.loads(b)
ids = [e["resource"]["id"] for e in get("/fhir/Patient?_count=1000")["entry"] if e["search"]["mode"] == "match"]
tot = {i: get("/fhir/Observation?patient=%s&_count=0" % i)["total"] for i in ids}
P = max(tot, key=tot.get)
ident = get("/fhir/Patient/%s" % P)["identifier"][0]
tok = urllib.parse.quote("%s|%s" % (ident["system"], ident["value"]))
E = get("/fhir/Encounter?patient=%s&_count=1" % P)["entry"][0]["resource"]["id"]
cases = [
    ("patient (indexed baseline)", "/fhir/Observation?patient=%s&_count=10" % P),
    ("category+date", "/fhir/Observation?patient=%s&category=vital-signs&date=ge2015&_count=10" % P),
    ("value-quantity=gt100", "/fhir/Observation?patient=%s&value-quantity=gt100&_count=10" % P),
    ("code-value-quantity", "/fhir/Observation?patient=%s&code-value-quantity=%s&_count=10" % (P, urllib.parse.quote("http://loinc.org|8867-4$gt80"))),
    ("_sort=-value-quantity", "/fhir/Observation?patient=%s&_sort=-value-quantity&_count=10" % P),
    ("status:not", "/fhir/Observation?patient=%s&status:not=final&_count=10" % P),
    ("chain subject:Patient.identifier", "/fhir/Observation?subject:Patient.identifier=%s&_count=10" % tok),
    ("Condition clinical-status", "/fhir/Condition?patient=%s&clinical-status=active" % P),
    ("Patient name:contains", "/fhir/Patient?name:contains=ar&_count=10"),
    # a reference to a patient's own item: no index rows; within the patient, and across
    # patients (narrowed to the person of the Encounter named)
    ("encounter (in the patient)", "/fhir/Observation?patient=%s&encounter=Encounter/%s" % (P, E)),
    ("encounter (across patients)", "/fhir/Observation?encounter=Encounter/%s" % E),
    # across patients through the search index (posting lists: docs/FHIR_SEARCH.md)
    ("code (across patients, index)", "/fhir/Observation?code=%s&_count=10" % urllib.parse.quote("http://loinc.org|72514-3")),
    ("vaccine-code (across, index)", "/fhir/Immunization?vaccine-code=140&_count=10"),
    ("Encounter date (across, index)", "/fhir/Encounter?date=2015&_count=10"),
]
print("largest patient: %d Observations" % tot[P])
print("%-36s %8s %8s %8s %10s" % ("case", "total", "p50 ms", "p99 ms", "cpu ms/req"))
for name, path in cases:
    for _ in range(20):
        b = get(path)
    t = []
    c0 = cpu()
    for _ in range(N):
        s = time.perf_counter(); get(path); t.append((time.perf_counter() - s) * 1000)
    c1 = cpu()
    t.sort()
    print("%-36s %8s %8.2f %8.2f %10.2f" % (name, b.get("total"), t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.99))],
                                           (c1 - c0) * 1000 / N))
EOF
