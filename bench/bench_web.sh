#!/usr/bin/env bash
# bench_web.sh - the clinician's pages (docs/BENCHMARKS.md, "Web pages"):
#   1. server time to render each page for the largest Synthea patient (most
#      entries), measured inside the server process by build/rel/bench/bench_web
#      (web_view(): authorisation, scoped queries, HTML, audit append), with
#      the page cache off (cold: every query and the whole page made again)
#      and on (a repeat view at the same store snapshot);
#   2. concurrent viewers: wrk with a launched session's cookie against the
#      real `weft serve` on the summary page, page cache on (default) and off
#      (--web-cache 0), with GET /health on the same server as the baseline.
# Needs ./weft, build/rel/bench/bench_web, wrk, node (signs the launch token).
# WEB_DB=DB (a path or postgres:// URL) runs only part 2, against that database
# as it is (bench_scale.sh): WEB_ORG is a registered organisation with an
# agreement, WEB_NHS the NHS number of the patient to launch into; a launcher
# is added to it.  The latency column gives wrk's average, p50, p99 and max.
set -eu
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
weft=${WEFT_BIN:-$root/weft}
bin=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_web
data=${WEFT_DATA:-$root/../shared/data}/synthea-r4
tmp=${BENCH_TMP:-$(mktemp -d)}/web
runs=${BENCH_WEB_RUNS:-200}
secs=${BENCH_WEB_SECONDS:-10}
conns=${BENCH_WEB_CONNECTIONS:-32}
mkdir -p "$tmp"
org=${WEB_ORG:-A81001}
nhs=${WEB_NHS:-9991234578}
if [ -z "${WEB_DB:-}" ]; then
if [ ! -d "$data" ]; then echo "skip: no Synthea data at $data"; exit 0; fi
command -v wrk >/dev/null || { echo "skip: wrk not installed"; exit 0; }

# The largest patient by entry count, with a test NHS number added.
read -r file entries < <(node -e '
  const fs=require("fs"),p=require("path"),d=process.argv[1];let best=["",-1];
  for(const f of fs.readdirSync(d).filter(f=>f.endsWith(".json"))){
    const n=JSON.parse(fs.readFileSync(p.join(d,f))).entry.length; if(n>best[1]) best=[f,n];}
  console.log(best[0]+" "+best[1]);' "$data")
node -e '
  const fs=require("fs");const b=JSON.parse(fs.readFileSync(process.argv[1]));
  for(const e of b.entry) if(e.resource.resourceType==="Patient")
    (e.resource.identifier=e.resource.identifier||[]).push({system:"https://fhir.nhs.uk/Id/nhs-number",value:"9991234578"});
  fs.writeFileSync(process.argv[2], JSON.stringify(b));' "$data/$file" "$tmp/patient.json"
echo "patient: $file ($entries entries)"
echo

echo "### server time per page view (ms, $runs views each)"
echo '```'
WEFT_ROOT="$root" "$bin" --file "$tmp/patient.json" --runs "$runs" --db "$tmp/render.db"
echo '```'
rm -f "$tmp"/render.db*

db=$tmp/serve.db
rm -f "$db"*
"$weft" init --db "$db" >/dev/null
"$weft" org add --db "$db" --ods A81001 --name "Bench Practice" --type gp >/dev/null
"$weft" org agreement --db "$db" --ods A81001 --kind jca --from 2020-01-01 >/dev/null
fi
if [ -n "${WEB_DB:-}" ]; then db=$WEB_DB; fi
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret"
iss="iss-bench-$$-$(date +%s)"
"$weft" launcher add --db "$db" --name "epr-$iss" --org "$org" --issuer "$iss" --alg HS256 \
  --secret-file "$tmp/secret" >/dev/null
[ -n "${WEB_DB:-}" ] || "$weft" load --db "$db" --org A81001 "$tmp/patient.json" >/dev/null

serve() { # extra serve options...; sets port and pid
  rm -f "$tmp/port"
  "$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" --log-level warn \
    --assets "$root/node_modules/nhsuk-frontend/dist/nhsuk" "$@" 2>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  port=$(cat "$tmp/port")
}
launch() { # prints "cookie path"
  token=$(node -e '
    const c=require("crypto"),now=Math.floor(Date.now()/1000),b=o=>Buffer.from(JSON.stringify(o)).toString("base64url");
    const u=b({alg:"HS256",typ:"JWT"})+"."+b({iss:process.argv[2],aud:"weft",iat:now,nbf:now,exp:now+240,
      jti:"bench-"+now+"-"+Math.random(),sub:"bench-user",name:"Bench User",role:"R8000",org:process.argv[3],
      patient:process.argv[4],purpose:"TREAT"});
    console.log(u+"."+c.createHmac("sha256",require("fs").readFileSync(process.argv[1],"utf8")).update(u).digest("base64url"));' "$tmp/secret" "$iss" "$org" "$nhs")
  hdr=$(curl -s -o /dev/null -D - "http://127.0.0.1:$port/launch?token=$token")
  cookie=$(printf '%s' "$hdr" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(weft_session=[^;]*\).*/\1/p')
  loc=$(printf '%s' "$hdr" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  echo "$cookie $loc"
}
rate() { # wrk output -> requests/s
  awk '/Requests\/sec/ {print $2}'
}
lat() { awk '/Latency/ && !a {a=$2; m=$4} $1 == "50%" {p50=$2} $1 == "99%" {p99=$2}
  END {print a" avg, "p50" p50, "p99" p99, "m" max"}'; }

echo
echo "### concurrent viewers: wrk -t2 -c$conns -d${secs}s, keep-alive, one launched session"
echo
echo "| server | GET /health (baseline) | summary page | summary latency | status check |"
echo "|---|---|---|---|---|"
for mode in "page cache on (default)" "page cache off (--web-cache 0)"; do
  if [ "$mode" = "page cache on (default)" ]; then serve; else serve --web-cache 0; fi
  read -r cookie path < <(launch)
  code=$(curl -s -o "$tmp/page.html" -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port$path")
  h=$(wrk -t2 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/health" | rate)
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$path")
  s=$(printf '%s\n' "$out" | rate)
  l=$(printf '%s\n' "$out" | lat)
  non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
  echo "| $mode | $h req/s | $s pages/s | $l | first view $code, $(wc -c <"$tmp/page.html") bytes, non-2xx: ${non2xx:-0} |"
  kill -TERM "$pid"; wait "$pid" || true
done
[ -z "${WEB_DB:-}" ] || exit 0
reads=$("$weft" audit list --db "$db" --action read --limit 1 | wc -l)
echo
echo "audit: page views recorded (the last one listed: $reads line(s)); weft audit verify: $("$weft" audit verify --db "$db" >/dev/null && echo intact || echo BROKEN)"
