#!/usr/bin/env bash
# bench_bulk.sh - FHIR Bulk Data export (src/analytics/bulk.c) speed: the
# Patients and Observations of a synthetic region exported through the real
# server ($export?_type=Patient,Observation, kick-off to manifest, polled
# every 50 ms), by a direct client (stored JSON written as it is) and by a
# secondary client (opt-out list of every person, each resource
# de-identified), plus the download of the files.  Issue 18's target:
# >= 50,000 resources/s.
#
# The region (BULK_PEOPLE, default 10000) is made by `weft synth --seed 1`
# and put in the store one of two ways (BULK_LOAD):
#   feeds (default)  sent through the real feeds (weft serve + weft
#                    replay-feeds): every organisation's records (slow: 7.5
#                    minutes for 10,000 people);
#   load             split by bench/scale_region.py as bench_scale.sh does and
#                    the bulk set loaded with `weft load --org ODS` per GP:
#                    the GP records of people 1,000..N (for 100,000 people).
# BULK_DB=PATH measures an already loaded database instead (a copy: .backup);
# BULK_KEEP=PATH keeps a copy of the database built here.
#
# Each run starts `weft serve` on the database, exports once per client and
# stops it; BULK_RUNS rounds (default 3), medians and bests reported.
# BULK_BASE_BIN=PATH measures a second build (e.g. main's) in the same
# rounds, alternating with this one, for a side-by-side ratio.
#
# Floors, for what is left: the rows read alone (SQLite reading the JSON of
# the current Patients and Observations through the (type) index, inside one
# statement) and the bytes written alone (the
# exported files' bytes written and fsync'd in 1 MiB writes).
set -u
bin="${WEFT_BIN:-./weft}"
tmp="${BENCH_TMP:-$(mktemp -d)}"
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 0; }
d="$tmp/bulk"
mkdir -p "$d"
n="${BULK_PEOPLE:-10000}"
runs="${BULK_RUNS:-3}"
wait_file() { for _ in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

if [ -n "${BULK_DB:-}" ]; then
  sqlite3 "$BULK_DB" ".backup '$d/weft.db'" || exit 1 # with what its WAL holds
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
elif [ "${BULK_LOAD:-feeds}" = load ]; then
  t0=$(date +%s)
  "$bin" synth --people "$n" --seed 1 --out "$d/region" --quiet || exit 1
  python3 bench/scale_region.py "$d/region" "$d/split" >"$d/split.json" || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
  "$bin" synth register --db "$d/weft.db" --in "$d/region" --drop-root "$d/drop" \
      --credentials "$d/credentials.json" >/dev/null || exit 1
  for g in "$d"/split/bulk/*/; do
    # exit status 1 when a bundle was rejected (the generator's malformed fault): not fatal
    "$bin" load --db "$d/weft.db" --org "$(basename "$g")" --quiet "$g" >"$d/load1.log" 2>&1
    grep -q ' entries in ' "$d/load1.log" || { tail -3 "$d/load1.log"; echo "load failed"; exit 1; }
  done
  echo "region: $n people made and loaded in $(( $(date +%s) - t0 )) s" >&2
  rm -rf "$d/region" "$d/split"
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
[ -n "${BULK_KEEP:-}" ] && { sqlite3 "$db" ".backup '$BULK_KEEP'" || exit 1; }
[ "$runs" -gt 0 ] || exit 0 # BULK_RUNS=0: only build (and keep) the database
direct=$("$bin" client add --db "$db" --name bench-direct 2>/dev/null) || exit 1
secondary=$("$bin" client add --db "$db" --name bench-secondary --purpose secondary 2>/dev/null) || exit 1
sqlite3 "$db" "SELECT nhs FROM person WHERE nhs IS NOT NULL" >"$d/cleared.txt"
"$bin" optout import --db "$db" --cleared "$d/cleared.txt" --checked "$(date -u +%F)" >/dev/null 2>&1 \
  || { echo "optout import failed"; exit 1; }
people=$(sqlite3 "$db" "SELECT count(*) FROM person")
echo "people=$people load_average=$(cut -d' ' -f1 /proc/loadavg)"

# one round: serve with binary $1 (label $2), export once per client, stop
measure() {
  rm -rf "$d/exports" "$d/port"
  "$1" serve --db "$db" --http 127.0.0.1:0 --port-file "$d/port" --export-dir "$d/exports" \
      --log-level warn >"$d/serve.log" 2>&1 &
  local spid=$!
  wait_file "$d/port" || { kill "$spid"; echo "serve did not start"; return 1; }
  python3 - "$(cat "$d/port")" "$direct" "$secondary" "$2" "$d/floor.ndjson" <<'PY' >>"$d/runs.txt"
import http.client, json, os, sys, time
port, direct, secondary, label, floor = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def req(path, token, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    c.request(method, path, headers={"Authorization": "Bearer " + token, "Prefer": "respond-async",
                                     "Accept": "application/fhir+json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body
for name, tok in (("direct", direct), ("secondary", secondary)):
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
    keep = name == "direct" and not os.path.exists(floor)
    out = open(floor, "wb") if keep else None
    for o in man["output"]:
        u = o["url"]
        st, _, data = req(u[u.index("/fhir/"):], tok)
        assert st == 200
        size += len(data)
        if out:
            out.write(data)
    if out:
        out.close()
    dl = time.time() - t1
    req(loc, tok, "DELETE")
    print(label, name, count, "%.3f" % secs, "%.3f" % dl, size)
PY
  local rc=$?
  kill "$spid"; wait "$spid" 2>/dev/null
  return $rc
}
rm -f "$d/runs.txt" "$d/floor.ndjson"
for r in $(seq "$runs"); do
  measure "$bin" this || exit 1
  if [ -n "${BULK_BASE_BIN:-}" ]; then measure "$BULK_BASE_BIN" base || exit 1; fi
done

# the floors: the same rows read by sqlite3, the same bytes written and fsync'd
python3 - "$db" "$d/floor.ndjson" "$d/floor.out" <<'PY' >>"$d/runs.txt"
import os, sqlite3, sys, time
db, src, dst = sys.argv[1:4]
best = None
for _ in range(3):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    t0 = time.time()
    n = 0
    for t in ("Patient", "Observation"):
            # the JSON of every current row, read inside SQLite (no per-row cost outside it)
        k, = c.execute("SELECT count(*) FROM resource WHERE type = ? AND deleted = 0 "
                       "AND next_seq IS NULL AND length(json) > 0", (t,)).fetchone()
        n += k
    s = time.time() - t0
    c.close()
    best = s if best is None or s < best else best
print("floor read", n, "%.3f" % best, 0, 0)
data = open(src, "rb").read()
lines = data.count(b"\n")
best = None
for _ in range(3):
    t0 = time.time()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for i in range(0, len(data), 1 << 20):
        os.write(fd, data[i:i + (1 << 20)])
    os.fsync(fd)
    os.close(fd)
    s = time.time() - t0
    os.unlink(dst)
    best = s if best is None or s < best else best
print("floor write", lines, "%.3f" % best, 0, len(data))
PY
python3 - "$d/runs.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, name, count, secs, dl, size = line.split()
    rows.setdefault((label, name), []).append((int(count), float(secs), float(dl), int(size)))
print("%-6s %-10s %4s %10s %9s %12s %12s %11s %7s" % ("build", "client", "runs", "resources", "median_s",
      "median_res/s", "best_res/s", "download_s", "MB"))
for (label, name), v in rows.items():
    count = v[0][0]
    med = statistics.median(s for _, s, _, _ in v)
    best = min(s for _, s, _, _ in v)
    print("%-6s %-10s %4d %10d %9.2f %12.0f %12.0f %11.2f %7.1f" % (label, name, len(v), count, med,
          count / med, count / best, statistics.median(x for _, _, x, _ in v), v[0][3] / 1e6))
for name in ("direct", "secondary"):
    a, b = rows.get(("this", name)), rows.get(("base", name))
    if a and b:
        print("ratio %s: %.2fx (median this / median base resources/s)" % (
            name, statistics.median(s for _, s, _, _ in b) / statistics.median(s for _, s, _, _ in a)))
PY
