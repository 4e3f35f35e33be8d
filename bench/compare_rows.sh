#!/usr/bin/env bash
# compare_rows.sh - what a build stores, as text, for checking that a
# refactoring changed no output (docs/BENCHMARKS.md, "Architecture work"):
#
#   bench/compare_rows.sh WEFT_BIN OUT_DIR     (then: cmp A/*.rows B/*.rows, A/*.terms B/*.terms)
#
# Loads the shared Synthea set and the UK Core examples with `weft load`, and a
# synthetic region (`weft synth --people 1000 --seed 1`, generated with
# WEFT_BIN unless REGION names one already generated) through `weft serve` +
# `weft replay-feeds --connections 1` (HL7 v2 over MLLP, FHIR bundles over
# HTTP, CSV through the drop folders; one feed at a time, so the order of
# writes is the same in every run).  Then dumps the resource and
# resource_term tables ordered by id and version: every column but the
# write times and seq, with the random person id replaced by the person's NHS
# number or the id of its first Patient.
set -eu
BIN=$(realpath "$1"); OUT=$2
data=${WEFT_DATA:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}
rm -rf "$OUT"; mkdir -p "$OUT"
dump() {
  sqlite3 "$1" "select r.id,r.type,r.version,r.deleted,r.category,r.source_org,r.source_id,r.feed,
     r.effective,r.code,r.status,hex(r.hash),
     coalesce(p.nhs,(select min(r2.id) from resource r2 where r2.person_id=r.person_id and r2.type='Patient')),
     r.next_seq is null, r.json from resource r left join person p on p.id=r.person_id order by r.id,r.version" >"$2.rows"
  sqlite3 "$1" "select r.id,r.version,t.param,t.value from resource_term t join resource r on r.seq=t.seq
     order by 1,2,3,4" >"$2.terms"
}
"$BIN" init --db "$OUT/load.db" >/dev/null 2>&1
"$BIN" load --db "$OUT/load.db" --org RVV --feed synthea "$data/synthea-r4" >"$OUT/synthea.load" 2>&1 || true
"$BIN" load --db "$OUT/load.db" --org RA9 --feed ukcore "$data/ukcore/json" >"$OUT/ukcore.load" 2>&1 || true
dump "$OUT/load.db" "$OUT/load"
if [ -n "${REGION:-}" ]; then cp -r "$REGION" "$OUT/region"; else
  "$BIN" synth --people 1000 --seed 1 --out "$OUT/region" --quiet; fi
"$BIN" init --db "$OUT/region.db" >/dev/null 2>&1
"$BIN" synth register --db "$OUT/region.db" --in "$OUT/region" --drop-root "$OUT/drop" >"$OUT/register.out"
"$BIN" serve --db "$OUT/region.db" --http 127.0.0.1:0 --port-file "$OUT/port" --mllp 127.0.0.1:0 \
  --mllp-port-file "$OUT/mport" --drop-interval 1 --threads 2 >"$OUT/serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null' EXIT
for _ in $(seq 200); do [ -s "$OUT/port" ] && [ -s "$OUT/mport" ] && break; sleep 0.1; done
"$BIN" replay-feeds "$OUT/region" --http "http://127.0.0.1:$(cat "$OUT/port")" --mllp "127.0.0.1:$(cat "$OUT/mport")" \
  --credentials "$OUT/region/credentials.json" --connections 1 --csv-wait 120 --quiet >"$OUT/replay.out" 2>&1 || true
kill $srv; wait $srv 2>/dev/null || true
dump "$OUT/region.db" "$OUT/region"
wc -l "$OUT"/*.rows "$OUT"/*.terms
