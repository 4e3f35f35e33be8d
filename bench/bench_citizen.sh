#!/usr/bin/env bash
# bench_citizen.sh - the citizen's pages and subject access (docs/BENCHMARKS.md,
# "Citizens"), for the largest Synthea patient (most entries) loaded from two
# organisations:
#   0. server time of GET /my (the signed-in person's home page with the
#      record summary: counts per category, newest items - issue 17's
#      target, < 20 ms p50) over BENCH_MY_RUNS sequential requests;
#   1. server time of GET /my/record (the person's record by category:
#      authorisation, one scoped query per category, citizen-withhold rules,
#      HTML, audit) over BENCH_MY_RUNS sequential requests to the real
#      `weft serve`, from the server's own request log (ms=); p50 and p95.
#      The citizen's session row is written directly (the OpenID sign-in is
#      not what is measured); no page cache exists for /my/.
#   2. `weft sar export` of the same person: wall time and peak RSS.
# Needs ./weft, curl, python3, node.
set -eu
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
weft=${WEFT_BIN:-$root/weft}
data=${WEFT_DATA:-$root/../shared/data}/synthea-r4
tmp=${BENCH_TMP:-$(mktemp -d)}/citizen
runs=${BENCH_MY_RUNS:-200}
mkdir -p "$tmp"
if [ ! -d "$data" ]; then echo "skip: no Synthea data at $data"; exit 0; fi
nhs=9991234578
read -r file entries < <(node -e '
  const fs=require("fs"),p=require("path"),d=process.argv[1];let best=["",-1];
  for(const f of fs.readdirSync(d).filter(f=>f.endsWith(".json"))){
    const n=JSON.parse(fs.readFileSync(p.join(d,f))).entry.length; if(n>best[1]) best=[f,n];}
  console.log(best[0]+" "+best[1]);' "$data")
node -e '
  const fs=require("fs");const b=JSON.parse(fs.readFileSync(process.argv[1]));
  for(const e of b.entry) if(e.resource.resourceType==="Patient")
    (e.resource.identifier=e.resource.identifier||[]).push({system:"https://fhir.nhs.uk/Id/nhs-number",value:process.argv[3]});
  fs.writeFileSync(process.argv[2], JSON.stringify(b));' "$data/$file" "$tmp/patient.json" "$nhs"
db=$tmp/weft.db
rm -f "$db"*
WEFT_POLICY="$root/policy/default.policy" "$weft" init --db "$db" >/dev/null
for o in G82001:gp RVV:acute; do
  "$weft" org add --db "$db" --ods "${o%%:*}" --name "Org ${o%%:*}" --type "${o#*:}" >/dev/null
  "$weft" org agreement --db "$db" --ods "${o%%:*}" --kind jca --from 2020-01-01 >/dev/null
  "$weft" load --db "$db" --org "${o%%:*}" "$tmp/patient.json" >/dev/null
done
items=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from resource where next_seq is null and deleted=0 and person_id is not null").fetchone()[0])' "$db")
echo "patient: $file ($entries entries) from 2 organisations: $items items"

# a signed-in P9 citizen (the session row as the sign-in writes it)
secret="wcs_bench$(date +%s)"
python3 - "$db" "$secret" "$nhs" <<'PY'
import hashlib, sqlite3, sys, datetime
db, secret, nhs = sys.argv[1:4]
c = sqlite3.connect(db)
pid = c.execute("select id from person where nhs = ?", (nhs,)).fetchone()[0]
now = datetime.datetime.utcnow()
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
c.execute("insert into citizen_session values (?,?,?,?,?,?,?,?,?,?,NULL)",
          (hashlib.sha256(secret.encode()).hexdigest(), "bench", "bench-sub", pid, nhs, "P9", "x",
           iso(now), iso(now + datetime.timedelta(days=1)), iso(now + datetime.timedelta(hours=1))))
c.commit()
PY
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
curl -s -H "Cookie: weft_citizen=$secret" "http://127.0.0.1:$port/my" | grep -q 'id="summary"' ||
  { echo "bench_citizen: GET /my shows no record summary" >&2; kill "$pid"; exit 1; }
# the server's CPU time (user + system, all its threads) per request: on a
# shared, loaded machine this is the figure that does not grow with the
# load average (server time from the log includes waiting for a core)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tck=$(getconf CLK_TCK)
c0=$(cpu)
for _ in $(seq 1 "$runs"); do
  curl -s -o /dev/null -H "Cookie: weft_citizen=$secret" "http://127.0.0.1:$port/my"
done
c1=$(cpu)
for _ in $(seq 1 "$runs"); do
  curl -s -o /dev/null -H "Cookie: weft_citizen=$secret" "http://127.0.0.1:$port/my/record"
done
c2=$(cpu)
cpu_my=$(awk -v a="$c0" -v b="$c1" -v n="$runs" -v t="$tck" 'BEGIN{printf "%.2f", (b-a)*1000/t/n}')
cpu_rec=$(awk -v a="$c1" -v b="$c2" -v n="$runs" -v t="$tck" 'BEGIN{printf "%.2f", (b-a)*1000/t/n}')
load=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$pid"; wait "$pid" || true
echo
echo "| measure | p50 | p95 | n |"
echo "|---|---|---|---|"
grep 'path=/my status=200' "$tmp/serve.log" | sed 's/.*ms=//' | sort -n | awk '
  {v[NR]=$1} END {if (NR==0) {print "| GET /my server ms | - | - | 0 |"; exit}
  printf "| GET /my (record summary) server time (ms) | %.2f | %.2f | %d |\n", v[int(NR*0.5+0.5)], v[int(NR*0.95+0.5)], NR}'
echo "| GET /my server CPU per request (ms, user+system) | $cpu_my | | $runs |"
echo "| GET /my/record server CPU per request (ms, user+system) | $cpu_rec | | $runs |"
echo "(load average during the run: $load)"
grep 'path=/my/record status=200' "$tmp/serve.log" | sed 's/.*ms=//' | sort -n | awk '
  {v[NR]=$1} END {if (NR==0) {print "| GET /my/record server ms | - | - | 0 |"; exit}
  printf "| GET /my/record server time (ms) | %.2f | %.2f | %d |\n", v[int(NR*0.5+0.5)], v[int(NR*0.95+0.5)], NR}'
id=$("$weft" sar create --db "$db" --nhs "$nhs" --received "$(date -u +%F)")
for i in 1 2 3; do
  rm -rf "$tmp/pkg"
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$weft" sar export --db "$db" --id "$id" --out "$tmp/pkg" >/dev/null
  read -r secs kb <"$tmp/time"
  echo "| weft sar export, run $i (s; peak RSS MB) | $secs | $((kb / 1024)) | $(du -sh "$tmp/pkg" | cut -f1) |"
done
rm -rf "$tmp"
