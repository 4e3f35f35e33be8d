#!/usr/bin/env bash
# bench_bulk.sh - FHIR Bulk Data export (src/analytics/bulk.c) speed: the
# Patients and Observations of a synthetic region exported through the real
# server ($export?_type=Patient,Observation, kick-off to manifest, polled
# every 50 ms), by a direct client (stored JSON written as it is) and by a
# secondary client (opt-out list of every person, each resource parsed and
# de-identified), plus the download of the files.
#
# The region (BULK_PEOPLE, default 10000) is made by `weft synth` and sent
# through the real feeds (weft serve + weft replay-feeds); BULK_DB=PATH
# measures an already loaded database instead (copied first).  Issue 18's
# target: >= 50,000 resources/s.
set -u
bin="${WEFT_BIN:-./weft}"
tmp="${BENCH_TMP:-$(mktemp -d)}"
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 0; }
d="$tmp/bulk"
mkdir -p "$d"
n="${BULK_PEOPLE:-10000}"

if [ -n "${BULK_DB:-}" ]; then
  cp "$BULK_DB" "$d/weft.db" || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
else
  "$bin" synth --people "$n" --seed 1 --out "$d/region" --quiet || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
  "$bin" synth register --db "$d/weft.db" --in "$d/region" --drop-root "$d/drop" >/dev/null || exit 1
  "$bin" serve --db "$d/weft.db" --http 127.0.0.1:0 --port-file "$d/lport" --mllp 127.0.0.1:0 \
      --mllp-port-file "$d/mport" --drop-interval 1 >"$d/load-serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [ -s "$d/lport" ] && [ -s "$d/mport" ] && break; sleep 0.1; done
  "$bin" replay-feeds "$d/region" --http "http://127.0.0.1:$(cat "$d/lport")" \
      --mllp "127.0.0.1:$(cat "$d/mport")" --credentials "$d/region/credentials.json" \
      --csv-wait 1200 --quiet >"$d/replay.log" 2>&1 || { kill "$pid"; tail -3 "$d/replay.log"; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null
fi
db="$d/weft.db"
direct=$("$bin" client add --db "$db" --name bench-direct 2>/dev/null) || exit 1
secondary=$("$bin" client add --db "$db" --name bench-secondary --purpose secondary 2>/dev/null) || exit 1
sqlite3 "$db" "SELECT nhs FROM person WHERE nhs IS NOT NULL" >"$d/cleared.txt"
"$bin" optout import --db "$db" --cleared "$d/cleared.txt" --checked "$(date -u +%F)" >/dev/null 2>&1 \
  || { echo "optout import failed"; exit 1; }
people=$(sqlite3 "$db" "SELECT count(*) FROM person")
"$bin" serve --db "$db" --http 127.0.0.1:0 --port-file "$d/port" --export-dir "$d/exports" \
    --log-level warn >"$d/serve.log" 2>&1 &
spid=$!
for _ in $(seq 200); do [ -s "$d/port" ] && break; sleep 0.1; done
python3 - "$(cat "$d/port")" "$direct" "$secondary" "$people" <<'PY'
import http.client, json, sys, time
port, direct, secondary, people = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def req(path, token, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request(method, path, headers={"Authorization": "Bearer " + token, "Prefer": "respond-async",
                                     "Accept": "application/fhir+json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body
print("people=%s" % people)
print("%-10s %10s %9s %12s %12s %12s" % ("client", "resources", "seconds", "resources/s", "download_s", "MB"))
for name, tok in (("direct", direct), ("secondary", secondary)):
    best = None
    for _ in range(3):
        t0 = time.time()
        st, hd, body = req("/fhir/$export?_type=Patient,Observation", tok)
        assert st == 202, (st, body)
        loc = hd["content-location"]
        loc = loc[loc.index("/fhir/"):]
        while True:
            st, hd, body = req(loc, tok)
            if st != 202:
                break
            time.sleep(0.05)
        secs = time.time() - t0
        assert st == 200, (st, body)
        man = json.loads(body)
        count = sum(o["count"] for o in man["output"])
        t1 = time.time()
        size = 0
        for o in man["output"]:
            u = o["url"]
            st, _, data = req(u[u.index("/fhir/"):], tok)
            assert st == 200
            size += len(data)
        dl = time.time() - t1
        req(loc, tok, "DELETE")
        if best is None or secs < best[1]:
            best = (count, secs, dl, size)
    count, secs, dl, size = best
    print("%-10s %10d %9.2f %12.0f %12.2f %12.1f" % (name, count, secs, count / secs, dl, size / 1e6))
PY
rc=$?
kill "$spid"; wait "$spid" 2>/dev/null
exit $rc
