#!/usr/bin/env bash
# bench_analytics_pages.sh - the analytics pages' time per view (issue 18:
# "analytics pages under 100 ms"; docs/BENCHMARKS.md, "Analytics pages").
#
#   ANALYTICS_DB=PATH [WEFT_BIN=./weft] [PAGES_RUNS=20] [ANALYTICS_AS_OF=2026-11-01]
#       [RISK_PRACTICE=ODS] [RISK_TODAY=1] bench/bench_analytics_pages.sh
#
# On a copy of the SQLite database: an opt-out list clearing nine in ten NHS
# numbers (unless one is loaded), `weft analytics refresh --as-of D` when the
# binary has it (timed), then `weft serve` and an ANALYST launched by a
# registered host system; each page (/analytics/flow and /analytics/service
# for the window ending D, and their CSVs) fetched PAGES_RUNS times one after
# another with curl: median, 95th percentile and worst time to the last byte
# (ms), and the status and size of the first view (bytes; "no-time" when a
# page does not say when its figures were computed).  The first view of a window the
# refresh did not store computes and stores it (reported apart as "first").
# A binary without `analytics refresh` (current main) computes on every view.
# Then the direct-care risk list (/analytics/risk-list and its CSV) of the GP
# practice with the most patients (RISK_PRACTICE to choose; registered as a GP
# practice with an agreement if the database has no such organisation), for a
# clinician (R8000) of that practice launched by its own system: the rows the
# refresh stored for today (RISK_TODAY=1 runs the refresh without --as-of, so
# that it stores them for today), or computed per view by a binary that
# stores none.  Needs curl, node (signs the launch token), sqlite3.
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
weft=${WEFT_BIN:-$root/weft}
runs=${PAGES_RUNS:-20}
asof=${ANALYTICS_AS_OF:-2026-11-01}
[ -n "${ANALYTICS_DB:-}" ] || { echo "skip: ANALYTICS_DB=PATH (a SQLite region) is needed"; exit 0; }
for c in curl node sqlite3; do command -v $c >/dev/null || { echo "skip: $c not installed"; exit 0; }; done
tmp=${BENCH_TMP:-$(mktemp -d)}/pages
mkdir -p "$tmp"
db=$tmp/weft.db
cp "$ANALYTICS_DB" "$db" || exit 1
"$weft" init --db "$db" >/dev/null || exit 1 # this binary's migrations
if [ -z "$(sqlite3 "$db" "SELECT id FROM optout_list LIMIT 1")" ]; then
  sqlite3 "$db" "SELECT nhs FROM person WHERE nhs IS NOT NULL" | awk 'NR % 10 != 0' >"$tmp/cleared.txt"
  "$weft" optout import --db "$db" --cleared "$tmp/cleared.txt" --checked "$(date -u +%F)" \
    >/dev/null 2>&1 || { echo "optout import failed"; exit 1; }
fi
refresh_asof="--as-of $asof"
[ -n "${RISK_TODAY:-}" ] && refresh_asof="" # the risk list is for today
if "$weft" analytics --help 2>&1 | grep -q "analytics refresh"; then
  # shellcheck disable=SC2086
  /usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$weft" analytics refresh --db "$db" $refresh_asof \
    >"$tmp/refresh.csv" 2>"$tmp/refresh.err" || { cat "$tmp/refresh.err"; exit 1; }
  read -r secs us ss rss <"$tmp/t"
  echo "refresh: $(($(wc -l <"$tmp/refresh.csv") - 1)) outputs stored in ${secs} s wall," \
    "$(awk -v u="$us" -v s="$ss" 'BEGIN{print u + s}') s CPU, $((rss / 1024)) MB peak"
else
  echo "refresh: not in this binary (pages compute on each view)"
fi
gp=${RISK_PRACTICE:-$(sqlite3 "$db" "SELECT org FROM person_local GROUP BY org ORDER BY count(*) DESC LIMIT 1")}
patients=$(sqlite3 "$db" "SELECT count(DISTINCT person_id) FROM person_local WHERE org = '$gp'")
gp_nhs=$(sqlite3 "$db" "SELECT p.nhs FROM person p JOIN person_local l ON l.person_id = p.id
  WHERE l.org = '$gp' AND p.nhs IS NOT NULL LIMIT 1")
if [ -z "$(sqlite3 "$db" "SELECT ods FROM org WHERE ods = '$gp'")" ]; then
  { "$weft" org add --db "$db" --ods "$gp" --name "Practice $gp" --type gp >/dev/null &&
    "$weft" org agreement --db "$db" --ods "$gp" --kind jca --from 2020-01-01 >/dev/null; } ||
    { echo "registering $gp failed"; exit 1; }
fi
org=$(sqlite3 "$db" "SELECT ods FROM org ORDER BY ods LIMIT 1")
nhs=$(sqlite3 "$db" "SELECT nhs FROM person WHERE nhs IS NOT NULL LIMIT 1")
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret"
iss="iss-pages-$$-$(date +%s)"
"$weft" launcher add --db "$db" --name "epr-$iss" --org "$org" --issuer "$iss" --alg HS256 \
  --secret-file "$tmp/secret" >/dev/null || { echo "launcher add failed"; exit 1; }
rm -f "$tmp/port"
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" --log-level warn 2>"$tmp/serve.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
token() { # role org nhs sub
  node -e '
  const c=require("crypto"),now=Math.floor(Date.now()/1000),b=o=>Buffer.from(JSON.stringify(o)).toString("base64url");
  const u=b({alg:"HS256",typ:"JWT"})+"."+b({iss:process.argv[2],aud:"weft",iat:now,nbf:now,exp:now+240,
    jti:"pages-"+now+"-"+Math.random(),sub:process.argv[6],name:"Bench User",role:process.argv[3],
    org:process.argv[4],patient:process.argv[5],purpose:"TREAT"});
  console.log(u+"."+c.createHmac("sha256",require("fs").readFileSync(process.argv[1],"utf8")).update(u).digest("base64url"));' \
  "$tmp/secret" "$iss" "$1" "$2" "$3" "$4"
}
session() { # token
  curl -s -o /dev/null -D - "http://127.0.0.1:$port/launch?token=$1" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: \(weft_session=[^;]*\).*/\1/p'
}
cookie=$(session "$(token ANALYST "$org" "$nhs" bench-analyst)")
[ -n "$cookie" ] || { echo "launch failed"; cat "$tmp/serve.log"; exit 1; }
# wall ms per view (curl, to the last byte); cpu: the server's CPU ms per view after the first
printf '%-44s %6s %9s %9s %9s %9s %7s %s\n' page runs "first ms" "median" "p95" "worst" cpu status
cpu_ms() { # the server's CPU time so far (user + system), ms
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000 / hz }' "/proc/$pid/stat"
}
views() { # cookie path...
  local ck=$1 path c0; shift
  for path in "$@"; do
    : >"$tmp/times"
    first=""
    status=""
    for i in $(seq 0 "$runs"); do
      out=$(curl -s -o "$tmp/body" -w '%{http_code} %{time_total}' -H "Cookie: $ck" \
        "http://127.0.0.1:$port$path")
      if [ -z "$status" ]; then # the first view: its status, size, and that it says when computed
        status="${out% *}/$(wc -c <"$tmp/body")B"
        case "$path" in *csv*) ;; *) grep -q "Computed at <time" "$tmp/body" || status="$status/no-time" ;; esac
      fi
      ms=$(awk -v t="${out#* }" 'BEGIN{printf "%.1f", t * 1000}')
      if [ "$i" = 0 ]; then first=$ms; c0=$(cpu_ms); else echo "$ms" >>"$tmp/times"; fi
    done
    sort -n "$tmp/times" | awk -v p="$path" -v r="$runs" -v f="$first" -v s="$status" \
      -v cpu="$(( ($(cpu_ms) - c0) / runs ))" '
      {v[NR] = $1} END {printf "%-44s %6d %9s %9.1f %9.1f %9.1f %7s %s\n", p, r, f,
        v[int((NR + 1) / 2)], v[int(NR * 0.95 + 0.999)], v[NR], cpu, s}'
  done
}
views "$cookie" "/analytics/flow?as-of=$asof" "/analytics/flow?format=csv&as-of=$asof" \
  "/analytics/service?as-of=$asof" "/analytics/service?format=csv&as-of=$asof"

# the risk list of the largest practice, for one of its clinicians (a server
# started again after the practice and its system are registered)
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null
iss="$iss-gp"
"$weft" launcher add --db "$db" --name "epr-$iss" --org "$gp" --issuer "$iss" --alg HS256 \
  --secret-file "$tmp/secret" >/dev/null || { echo "launcher add failed"; exit 1; }
rm -f "$tmp/port"
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" --log-level warn 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
gpck=$(session "$(token R8000 "$gp" "$gp_nhs" bench-gp)")
[ -n "$gpck" ] || { echo "launch at $gp failed"; cat "$tmp/serve.log"; exit 1; }
echo "risk list of $gp: $patients patients"
views "$gpck" "/analytics/risk-list" "/analytics/risk-list?format=csv"
[ -n "${ANALYTICS_KEEP:-}" ] || rm -rf "$tmp"
