#!/usr/bin/env bash
# bench_api.sh - the FHIR API of `weft serve` under load, with GET /health on
# the same server in the same run as the baseline (what the HTTP layer alone
# costs on this machine).
#
# Data: the shared Synthea R4 set (61 patients, 15,457 stored resources)
# loaded with `weft load` into a fresh database.  The server runs with its
# defaults (one worker per core, per-request audit of every read, log level
# warn so the terminal is not the bottleneck).
#
# Measured, RUNS times each (default 3), medians reported:
#   health   GET /health (no token, no store)                     wrk, keep-alive
#   read     GET /fhir/Observation/{id}                           wrk, keep-alive
#   search   GET /fhir/Observation?patient={median}&_count=10    wrk, keep-alive
#            (median: the patient of median record size, the typical case)
#   search-max the same for the largest patient (497 Observations: the most
#            index entries to count for Bundle.total)
#   everything: GET /fhir/Patient/{largest}/$everything, first page of 100
#            (median of 50 requests) and all pages of 100 following next links
#            (median of 20 walks), one keep-alive client (python http.client)
#   peak RSS of weft serve (VmHWM) after all of the above
# wrk: WRK_THREADS (1) threads, WRK_CONN (8) connections, WRK_SECS (5) s.
# API_DB=DB (a path or postgres:// URL) measures that database instead, as it
# is (bench_scale.sh): API_TOKEN is a bearer token that may read it, and
# API_BIG_NHS / API_MID_NHS the NHS numbers of the largest and the median
# patient (their Patient ids are looked up by identifier).  API_SERVE_ARGS:
# extra `weft serve` options (e.g. "--threads 8").  API_FRESH_DB=URL: the
# default data set into that empty database instead of a SQLite file in the
# temporary folder (a PostgreSQL database made with createdb; initialised
# here), to measure both backends on the same data.  API_PG_DIR=DIR (the
# cluster's folder from tests/pg-cluster.sh): also the PostgreSQL server's
# CPU per request of each case (its backends, from /proc), beside Weft's.
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
data=${WEFT_DATA:-$(cd "$root/.." && pwd)/shared/data}/synthea-r4
[ -n "${API_DB:-}" ] || [ -d "$data" ] || { echo "skip: $data not found"; exit 0; }
command -v wrk >/dev/null || { echo "skip: wrk not installed"; exit 0; }
RUNS=${RUNS:-3}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONN=${WRK_CONN:-8}
WRK_SECS=${WRK_SECS:-5}
tmp=${BENCH_TMP:-$(mktemp -d)}/api
mkdir -p "$tmp"
weft=${WEFT_BIN:-$root/weft} # WEFT_BIN: another build, e.g. a before/after comparison
[ -x "$weft" ] || make -s weft >/dev/null
if [ -n "${API_DB:-}" ]; then
  db=$API_DB
  token=${API_TOKEN:?API_TOKEN is needed with API_DB}
else
  if [ -n "${API_FRESH_DB:-}" ]; then
    db=$API_FRESH_DB
  else
    db="$tmp/api.db"
    rm -f "$db" "$db-wal" "$db-shm"
  fi
  "$weft" init --db "$db" >/dev/null 2>&1 || { echo "weft init failed"; exit 1; }
  "$weft" org add --db "$db" --ods SYN01 --name "Bench organisation" --type acute >/dev/null
  "$weft" org agreement --db "$db" --ods SYN01 --kind jca --from 2020-01-01 >/dev/null
  token=$("$weft" client add --db "$db" --name bench --org SYN01 --write 2>/dev/null)
  "$weft" load --db "$db" --org SYN01 --quiet "$data" >"$tmp/load.out" 2>&1 || { tail -3 "$tmp/load.out"; echo "load failed"; exit 1; }
fi
rm -f "$tmp/port"
# shellcheck disable=SC2086 # API_SERVE_ARGS is a list of options
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" --log-level warn ${API_SERVE_ARGS:-} 2>"$tmp/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
base="http://127.0.0.1:$port"

# the largest patient and one of its Observations
read -r big obs n mid <<<"$(/usr/bin/python3 - "$port" "$token" "${API_BIG_NHS:-}" "${API_MID_NHS:-}" <<'EOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
H = {"Authorization": "Bearer " + sys.argv[2]}
def get(p):
    c.request("GET", p, headers=H)
    return json.loads(c.getresponse().read())
if len(sys.argv) > 4 and sys.argv[3]:
    ids = [get("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|%s" % v)["entry"][0]["resource"]["id"]
           for v in sys.argv[3:5]]
else:
    ids = [e["resource"]["id"] for e in get("/fhir/Patient?_count=1000")["entry"] if e["search"]["mode"] == "match"]
tot = {i: get("/fhir/Patient/%s/$everything?_count=0" % i)["total"] for i in ids}
big = max(tot, key=tot.get)
mid = ids[1] if len(sys.argv) > 4 and sys.argv[3] else sorted(tot, key=tot.get)[len(tot) // 2]
o = get("/fhir/Observation?patient=%s&_count=1" % big)["entry"][0]["resource"]["id"]
print(big, o, tot[big], mid)
EOF
)"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wrk latency "1.23ms" / "456.00us" / "1.02s" -> milliseconds
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f\n", v}'; }
declare -A RPS P99 P50 CPUW CPUP
. "$root/bench/lib_cpu.sh"
pg_ticks() { # the cluster's backends (none measured without API_PG_DIR)
  [ -n "${API_PG_DIR:-}" ] || { echo 0; return; }
  pg_cluster_ticks "$API_PG_DIR"
}
run_wrk() { # name url [auth]
  local name=$1 url=$2 out w0 p0 w1 p1 n
  w0=$(ticks "$pid")
  p0=$(pg_ticks)
  if [ $# -ge 3 ]; then
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONN" -d"${WRK_SECS}s" --latency -H "Authorization: Bearer $token" "$url")
  else
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONN" -d"${WRK_SECS}s" --latency "$url")
  fi
  w1=$(ticks "$pid")
  p1=$(pg_ticks)
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx answers"; echo "$out"; exit 1; fi
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  CPUW[$name]+="$(awk -v a="$w0" -v b="$w1" -v t="$tck" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/t*1e6/n}') "
  CPUP[$name]+="$(awk -v a="$p0" -v b="$p1" -v t="$tck" -v n="$n" 'BEGIN{printf "%.1f", (b-a)/t*1e6/n}') "
  RPS[$name]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
  P50[$name]+="$(echo "$out" | awk '$1 == "50%" {print $2}' | to_ms) "
  P99[$name]+="$(echo "$out" | awk '$1 == "99%" {print $2}' | to_ms) "
}
for run in $(seq 1 "$RUNS"); do
  run_wrk health "$base/health"
  run_wrk read "$base/fhir/Observation/$obs" auth
  run_wrk search "$base/fhir/Observation?patient=$mid&_count=10" auth
  run_wrk search-max "$base/fhir/Observation?patient=$big&_count=10" auth
done

ev=$(/usr/bin/python3 - "$port" "$token" "$big" <<'EOF'
import http.client, json, statistics, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
H = {"Authorization": "Bearer " + sys.argv[2]}
big = sys.argv[3]
def get(p):
    c.request("GET", p, headers=H)
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body[:200])
    return body
first = []
for _ in range(50):
    t = time.perf_counter(); get("/fhir/Patient/%s/$everything?_count=100" % big); first.append(time.perf_counter() - t)
walks, n = [], 0
for _ in range(20):
    t = time.perf_counter(); path = "/fhir/Patient/%s/$everything?_count=100" % big; n = 0
    while path:
        b = json.loads(get(path)); n += len(b["entry"])
        nx = [l["url"] for l in b["link"] if l["relation"] == "next"]
        path = nx[0][nx[0].index("/fhir/"):] if nx else None
    walks.append(time.perf_counter() - t)
print("%.2f %.2f %d" % (statistics.median(first) * 1000, statistics.median(walks) * 1000, n))
EOF
)
read -r ev_first ev_all ev_n <<<"$ev"
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)

printf '%-10s %12s %10s %10s %10s %12s %12s\n' "case" "requests/s" "p50 ms" "p99 ms" "vs health" \
  "weft us/req" "pg us/req"
h=$(echo "${RPS[health]}" | tr ' ' '\n' | grep . | median)
for k in health read search search-max; do
  r=$(echo "${RPS[$k]}" | tr ' ' '\n' | grep . | median)
  printf '%-10s %12.0f %10.3f %10.3f %9.2fx %12.1f %12s\n' "$k" "$r" \
    "$(echo "${P50[$k]}" | tr ' ' '\n' | grep . | median)" \
    "$(echo "${P99[$k]}" | tr ' ' '\n' | grep . | median)" "$(echo "$r / $h" | bc -l)" \
    "$(echo "${CPUW[$k]}" | tr ' ' '\n' | grep . | median)" \
    "$([ -n "${API_PG_DIR:-}" ] && echo "${CPUP[$k]}" | tr ' ' '\n' | grep . | median || echo -)"
done
echo "everything patient=$big resources=$n: first page of 100 median ${ev_first} ms; all $ev_n in pages of 100 median ${ev_all} ms"
echo "peak RSS weft serve: $((rss_kb / 1024)) MB"
echo "(wrk -t$WRK_THREADS -c$WRK_CONN -d${WRK_SECS}s, $RUNS runs, medians; $(nproc) cores, serve options: ${API_SERVE_ARGS:-none})"
