#!/usr/bin/env bash
# soak.sh - an hour under load: starts the release weft on a synthetic
# region and runs scripts/soak.py against it - MLLP feeds, FHIR reads and
# searches, a launch with web pages and a CSV drop every minute - sampling
# the server's RSS and open descriptors each minute; checks at the end that
# nothing acknowledged was lost and the server stops cleanly.
#
#   scripts/soak.sh [DURATION_SECONDS]       (default 3600)
#
# Environment: SOAK_DIR (scratch, default /tmp/weft-soak, recreated), OUT
# (results: samples.csv, summary.json, rss.svg; default docs/soak), PEOPLE
# (region size, default 1000), RATE (MLLP messages/s, default 20), WEFT
# (binary, default ./weft: `make weft` first).  Method and figures in
# docs/OPERATIONS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${1:-3600}
dir=${SOAK_DIR:-/tmp/weft-soak}
out=${OUT:-$root/docs/soak}
weft=${WEFT:-$root/weft}
people=${PEOPLE:-1000}
rate=${RATE:-20}
[ -x "$weft" ] || { echo "soak: $weft not built (make weft)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir" "$out"
db="$dir/weft.db"
"$weft" init --db "$db" >/dev/null
"$weft" synth --people "$people" --seed 7 --out "$dir/region" >/dev/null
"$weft" synth register --db "$db" --in "$dir/region" --drop-root "$dir/drop" >/dev/null
"$weft" serve --db "$db" --http 127.0.0.1:0 --port-file "$dir/http.port" --mllp 127.0.0.1:0 \
  --mllp-port-file "$dir/mllp.port" --drop-interval 2 2>"$dir/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do [ -s "$dir/mllp.port" ] && [ -s "$dir/http.port" ] && break; sleep 0.1; done
http_port=$(cat "$dir/http.port")
mllp_port=$(cat "$dir/mllp.port")
echo "soak: weft serve pid $server, HTTP $http_port, MLLP $mllp_port; loading the region"
"$weft" replay-feeds "$dir/region" --mllp "127.0.0.1:$mllp_port" --http "http://127.0.0.1:$http_port" \
  --credentials "$dir/region/credentials.json" >"$dir/replay.log" 2>&1 || true
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/launcher.secret"
gp=$(awk -F, 'NR>1 && $12 != "" {print $12; exit}' "$dir/region/truth/people.csv")
"$weft" launcher add --db "$db" --name soak-gp-system --org "$gp" --issuer https://soak.example \
  --alg HS256 --secret-file "$dir/launcher.secret" >/dev/null
token=$("$weft" client add --db "$db" --name soak-reader)
rc=0
python3 scripts/soak.py --weft "$weft" --db "$db" --pid "$server" --http-port "$http_port" \
  --mllp-port "$mllp_port" --region "$dir/region" --drop-root "$dir/drop" \
  --secret-file "$dir/launcher.secret" --iss https://soak.example --token "$token" --launch-org "$gp" \
  --duration "$duration" --rate "$rate" --out "$out" || rc=$?
kill -TERM $server
trap - EXIT
if ! wait $server; then
  echo "soak: weft serve did not stop cleanly" >&2
  rc=1
fi
warn=$(grep -c ' WARN ' "$dir/serve.log" || true)
errs=$(grep -c ' ERROR ' "$dir/serve.log" || true)
echo "soak: server log: $warn WARN lines, $errs ERROR lines ($dir/serve.log)"
echo "soak: exit $rc"
exit $rc
