#!/usr/bin/env bash
# demo.sh - `make demo`: build Weft, generate a small synthetic Kent-and-Medway-like
# region, register its organisations, agreements and feeds, start the server,
# send every feed through the real paths (HL7 v2 over MLLP, FHIR bundles over
# REST, social care CSV extracts into drop folders), load the hand-written
# sample, and print where to look.  The server keeps running until Ctrl-C.
#
# Environment: DEMO_DIR (default ./demo, recreated), PEOPLE (default 2000),
# SEED (1), HTTP (127.0.0.1:8080), MLLP (127.0.0.1:2575); DEMO_EXIT=1 checks that
# the API answers and stops instead of serving (scripts/fresh-machine.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
weft="$root/weft"
dir=${DEMO_DIR:-$root/demo}
people=${PEOPLE:-2000}
seed=${SEED:-1}
http=${HTTP:-127.0.0.1:8080}
mllp=${MLLP:-127.0.0.1:2575}
base="http://$http"

step() { printf '\n==> %s\n' "$*"; }

rm -rf "$dir"
mkdir -p "$dir"
db="$dir/weft.db"

step "creating the database $db"
"$weft" init --db "$db"

step "generating a synthetic region of $people people (seed $seed)"
"$weft" synth --people "$people" --seed "$seed" --out "$dir/region"

step "registering its organisations, agreements and feeds"
"$weft" synth register --db "$db" --in "$dir/region" --drop-root "$dir/drop"

step "starting weft serve (HTTP $http, MLLP $mllp)"
"$weft" serve --db "$db" --http "$http" --mllp "$mllp" --drop-interval 1 2>"$dir/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "weft serve did not start; see $dir/serve.log" >&2; tail -n 20 "$dir/serve.log" >&2; exit 1; }
  sleep 0.1
done

step "sending the region's feeds through MLLP, FHIR REST and CSV drop folders"
"$weft" replay-feeds "$dir/region" --mllp "$mllp" --http "$base" \
  --credentials "$dir/region/credentials.json" || echo "(some messages were refused: see 'weft feed status' and the feed inboxes; that is part of the demo's realistic imperfection)"

step "loading the hand-written sample region (sample/) with weft load"
for org in A81001 A81002 A81003; do
  "$weft" org add --db "$db" --ods "$org" --name "Sample practice $org" --type gp >/dev/null 2>&1 || true
  "$weft" org agreement --db "$db" --ods "$org" --kind jca --from 2020-01-01 >/dev/null 2>&1 || true
  "$weft" load --db "$db" --org "$org" --feed sample-gp "sample/gp-$org.json" | tail -n 3
done
"$weft" load --db "$db" --org RVV --feed sample-hospital sample/hospital-RVV.json | tail -n 3 || true

step "feed status"
"$weft" feed status --db "$db" || true

# A host system for the demo: the registered GP practice of a person with a
# rich record launches a GP (R8000) into that person's record.
person_line=$(awk -F, 'NR>1 && $2 != "" && $13 ~ /diabetes/ && $13 ~ /frail/ {print; exit}' "$dir/region/truth/people.csv")
[ -n "$person_line" ] || person_line=$(awk -F, 'NR>1 && $2 != "" {print; exit}' "$dir/region/truth/people.csv")
nhs=$(echo "$person_line" | cut -d, -f2)
gp=$(echo "$person_line" | cut -d, -f12)
openssl rand -hex 32 >"$dir/launcher.secret"
chmod 600 "$dir/launcher.secret"
"$weft" launcher add --db "$db" --name demo-gp-system --org "$gp" --issuer https://gp-system.example \
  --alg HS256 --secret-file "$dir/launcher.secret" >/dev/null
token=$("$weft" client add --db "$db" --name demo-reader)

cat <<MSG

==> Weft is serving the demo region at $base  (log: $dir/serve.log)

  Open a person's record as a GP, launched from their GP system (the link works once, for 5 minutes;
  make a new one with the same command):
    $(scripts/launch-url.sh --base "$base" --secret-file "$dir/launcher.secret" --iss https://gp-system.example --org "$gp" --patient "$nhs" --role R8000 --name "Dr Demo")

    scripts/launch-url.sh --base $base --secret-file $dir/launcher.secret \\
        --iss https://gp-system.example --org $gp --patient $nhs --role R8000
  (other roles: --role R8001 nurse, R8009 receptionist, R5105 Caldicott guardian ... see policy/)

  The FHIR R4 API (read-only demo client):
    curl -H 'Authorization: Bearer $token' '$base/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|$nhs'
    curl -H 'Authorization: Bearer $token' '$base/fhir/metadata'

  Feeds:  ./weft feed status --db $db      Audit:  ./weft audit verify --db $db
  HL7 v2 over MLLP on $mllp; CSV drop folders under $dir/drop/.

  Ctrl-C stops the server.
MSG
if [ "${DEMO_EXIT:-0}" = 1 ]; then
  step "DEMO_EXIT=1: checking the API, then stopping"
  curl -fsS "$base/health" >/dev/null
  curl -fsS -H "Authorization: Bearer $token" "$base/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|$nhs" |
    grep -q '"resourceType":"Patient"' || { echo "demo: the FHIR API did not find the demo person" >&2; exit 1; }
  echo "demo: ok (the FHIR API found the demo person)"
  exit 0
fi
wait $server
