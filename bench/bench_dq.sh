#!/usr/bin/env bash
# bench_dq.sh - the data-quality engine (src/dq/) over synthetic regions:
# wall time and peak RSS of `weft dq run` per region size, and recall and
# precision per injected fault kind (bench/dq_score.py).
#
# Each region (DQ_SIZES, default "1000 100000" people, seed 1, default fault
# rates) is generated, registered and sent through the real feed paths
# (weft serve + weft replay-feeds: MLLP, FHIR REST, CSV drop folders) - at
# 100,000 people that setup takes about 40 minutes on this 2-core machine;
# the run itself is what is measured.  DQ_DB=PATH DQ_REGION=DIR measure an
# already loaded region instead (the database is copied first).
# Memory should stay flat as the region grows: the engine streams.
set -u
bin="${WEFT_BIN:-./weft}"
root="${WEFT_ROOT:-.}"
tmp="${BENCH_TMP:-$(mktemp -d)}"
[ -x /usr/bin/time ] || { echo "skip: /usr/bin/time (GNU time) not installed"; exit 0; }

load_region() { # n dir -> dir/weft.db, dir/region
  local n=$1 d=$2
  mkdir -p "$d"
  "$bin" synth --people "$n" --seed 1 --out "$d/region" --quiet || return 1
  "$bin" init --db "$d/weft.db" >/dev/null || return 1
  "$bin" synth register --db "$d/weft.db" --in "$d/region" --drop-root "$d/drop" >/dev/null || return 1
  "$bin" serve --db "$d/weft.db" --http 127.0.0.1:0 --port-file "$d/port" --mllp 127.0.0.1:0 \
      --mllp-port-file "$d/mport" --drop-interval 1 >"$d/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do [ -s "$d/port" ] && [ -s "$d/mport" ] && break; sleep 0.1; done
  "$bin" replay-feeds "$d/region" --http "http://127.0.0.1:$(cat "$d/port")" \
      --mllp "127.0.0.1:$(cat "$d/mport")" --credentials "$d/region/credentials.json" \
      --csv-wait 1200 --quiet >"$d/replay.log" 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null
  return 0
}

measure() { # label db region
  local label=$1 db=$2 region=$3
  /usr/bin/time -f '%e %M' -o "$tmp/dq-time" "$bin" dq run --db "$db" --as-of \
      "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['as_of'])" "$region/manifest.json")" \
      >"$tmp/dq-out" 2>&1 || { cat "$tmp/dq-out"; echo "weft dq run failed"; return 1; }
  read -r secs rss <"$tmp/dq-time"
  items=$(sed -n 's/.*: \([0-9]*\) items.*/\1/p' "$tmp/dq-out")
  people=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['people'])" "$region/manifest.json")
  printf '%-10s %10s %10s %8.1f %10.0f %12.1f\n' "$label" "$people" "$items" "$secs" \
      "$(awk -v i="$items" -v s="$secs" 'BEGIN{ if (s <= 0) s = 0.01; print i / s }')" \
      "$(awk -v r="$rss" 'BEGIN{ print r / 1024 }')"
  python3 "$root/bench/dq_score.py" --db "$db" --in "$region" >"$tmp/dq-score-$label"
  page_time "$label" "$db" "$region"
}

page_time() { # label db region: the report page of the organisation with most failing records
  local label=$1 db=$2 region=$3 d="$tmp/page-$1"
  mkdir -p "$d"
  openssl rand -hex 32 >"$d/secret"
  local org
  org=$(sqlite3 "$db" "SELECT org FROM dq_failure WHERE run_id = (SELECT max(id) FROM dq_run)
                        GROUP BY org ORDER BY count(*) DESC LIMIT 1")
  "$bin" launcher add --db "$db" --name "bench-$label" --org "$org" --issuer "iss-bench-$label" \
      --alg HS256 --secret-file "$d/secret" >/dev/null || return 1
  local nhs
  nhs=$(awk -F, 'NR > 1 && $6 != "" { print $6; exit }' "$region/truth/records.csv")
  "$bin" serve --db "$db" --http 127.0.0.1:0 --port-file "$d/port" --dq-interval 0 \
      --drop-interval 0 >"$d/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.1; done
  local base="http://127.0.0.1:$(cat "$d/port")"
  curl -s -c "$d/jar" -o /dev/null "$("$root/scripts/launch-url.sh" --base "$base" \
      --secret-file "$d/secret" --iss "iss-bench-$label" --org "$org" --patient "$nhs" --role R0001)"
  for _ in $(seq 20); do
    curl -s -b "$d/jar" -o /dev/null -w '%{http_code} %{time_total}\n' "$base/admin/dq/$org"
  done >"$d/times"
  kill "$pid"; wait "$pid" 2>/dev/null
  sort -k2 -n "$d/times" | awk -v org="$org" -v l="$label" '
      { s[NR] = $2; if ($1 != 200) bad++ }
      END { printf "report page /admin/dq/%s (%s): 20 requests, median %.1f ms, max %.1f ms%s\n",
                   org, l, s[10] * 1000, s[NR] * 1000, bad ? ", " bad " not 200" : "" }' >"$tmp/dq-page-$label"
}

printf '%-10s %10s %10s %8s %10s %12s\n' region people items seconds items/s peak_RSS_MB
labels=""
if [ -n "${DQ_DB:-}" ]; then
  cp "$DQ_DB" "$tmp/given.db"
  "$bin" init --db "$tmp/given.db" >/dev/null || exit 1
  measure given "$tmp/given.db" "$DQ_REGION" || exit 1
  labels=given
else
  for n in ${DQ_SIZES:-1000 100000}; do
    load_region "$n" "$tmp/dq-$n" || { echo "setup of $n people failed"; exit 1; }
    measure "$n" "$tmp/dq-$n/weft.db" "$tmp/dq-$n/region" || exit 1
    labels="$labels $n"
  done
fi
for l in $labels; do
  echo
  cat "$tmp/dq-score-$l"
  cat "$tmp/dq-page-$l" 2>/dev/null
done
