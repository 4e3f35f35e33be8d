#!/usr/bin/env bash
# bench_analytics.sh - analytics (src/analytics/) at scale: wall time and
# peak RSS of a full refresh of the secondary outputs (population, frailty:
# every person read once, opt-out list applied, eFI assessed; flow,
# readmissions, ae, inpatients, service: the same read, counted into their
# tables) and of the opt-out list import, per region size.
#
# The region (ANALYTICS_PEOPLE, default 100000) is written as FHIR NDJSON
# (per person a Patient with NHS number, birth date and practice; a few
# Conditions from the eFI sets; current medicines) by a seeded generator
# (bench/analytics_region.py)
# and loaded with `weft load` - much faster than sending a synthetic region
# through the feeds, and it is the read side being measured.  ANALYTICS_DB=PATH
# measures an already loaded database instead (copied first; its persons'
# NHS numbers make the opt-out list).  Issue 18's target: a 1,000,000-person
# region's full refresh in under 5 minutes on this 2-core machine.
set -u
bin="${WEFT_BIN:-./weft}"
tmp="${BENCH_TMP:-$(mktemp -d)}"
[ -x /usr/bin/time ] || { echo "skip: /usr/bin/time (GNU time) not installed"; exit 0; }
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 0; }
d="$tmp/analytics"
mkdir -p "$d"
n="${ANALYTICS_PEOPLE:-100000}"

if [ -n "${ANALYTICS_DB:-}" ]; then
  cp "$ANALYTICS_DB" "$d/weft.db" || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
else
  python3 "$(dirname "$0")/analytics_region.py" region "$d/region" "$n" || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
  # each practice sends its own patients' records
  start=$(date +%s)
  for f in "$d"/region-G8*.ndjson; do
    org=$(basename "$f" .ndjson); org=${org#region-}
    "$bin" load --db "$d/weft.db" --org "$org" "$f" >"$d/load.log" 2>&1 \
      || { tail -5 "$d/load.log"; echo "load failed"; exit 1; }
  done
  echo "loaded $n people from 100 practices in $(( $(date +%s) - start )) s"
fi

people=$(sqlite3 "$d/weft.db" "SELECT count(*) FROM person")
items=$(sqlite3 "$d/weft.db" "SELECT count(*) FROM resource WHERE next_seq IS NULL AND deleted = 0")
# nine in ten persons with an NHS number are cleared
sqlite3 "$d/weft.db" "SELECT nhs FROM person WHERE nhs IS NOT NULL" | awk 'NR % 10 != 0' >"$d/cleared.txt"
# wall seconds, and CPU seconds (user + system): on a shared machine the
# wall time includes waiting for a core
printf '%-24s %10s %10s %8s %8s %12s %10s\n' step people items wall cpu "people/cpu-s" "rss MB"
run() { # label cmd...
  local label=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$d/t" "$@" >"$d/out" 2>"$d/err" || { cat "$d/err"; echo "$label failed"; return 1; }
  read -r secs rss us ss <"$d/t"
  local cpu
  cpu=$(awk -v u="$us" -v s="$ss" 'BEGIN{ print u + s }')
  printf '%-24s %10s %10s %8.2f %8.2f %12.0f %10.1f\n' "$label" "$people" "$items" "$secs" "$cpu" \
      "$(awk -v p="$people" -v s="$cpu" 'BEGIN{ if (s <= 0) s = 0.01; print p / s }')" \
      "$(awk -v r="$rss" 'BEGIN{ print r / 1024 }')"
}
run "optout import" "$bin" optout import --db "$d/weft.db" --cleared "$d/cleared.txt" \
    --checked "$(date -u +%F)" || exit 1
run "secondary population" "$bin" analytics secondary --db "$d/weft.db" --output population \
    --as-of 2026-11-01 || exit 1
run "secondary frailty" "$bin" analytics secondary --db "$d/weft.db" --output frailty \
    --as-of 2026-11-01 || exit 1
# patient flow and service management (figures from ADT, appointments,
# services and referrals: a region from `weft synth` replayed through the
# feeds, ANALYTICS_DB=PATH, has them; the generated one above has none)
asof="${ANALYTICS_AS_OF:-2026-11-01}"
run "secondary flow (28 d)" "$bin" analytics secondary --db "$d/weft.db" --output flow \
    --as-of "$asof" || exit 1
run "secondary readmissions" "$bin" analytics secondary --db "$d/weft.db" \
    --output readmissions --from "$(date -u -d "$asof - 364 days" +%F)" --as-of "$asof" || exit 1
run "secondary ae (365 d)" "$bin" analytics secondary --db "$d/weft.db" --output ae \
    --from "$(date -u -d "$asof - 364 days" +%F)" --as-of "$asof" || exit 1
run "secondary inpatients" "$bin" analytics secondary --db "$d/weft.db" --output inpatients \
    --as-of "$asof" || exit 1
run "secondary service (12 m)" "$bin" analytics secondary --db "$d/weft.db" --output service \
    --as-of "$asof" || exit 1
# every output at once, one scan (weft analytics refresh: default windows, stored)
if "$bin" analytics --help 2>&1 | grep -q "analytics refresh"; then
  run "refresh (7 outputs, 1 scan)" "$bin" analytics refresh --db "$d/weft.db" --as-of "$asof" || exit 1
fi
run "compliance report" "$bin" analytics compliance --db "$d/weft.db" || exit 1
echo
printf '%-24s %10s %6s %10s %10s %10s\n' "risk list of practice" patients runs "median ms" "worst ms" "cpu ms"
for org in $(sqlite3 "$d/weft.db" "SELECT org FROM person_local GROUP BY org ORDER BY count(*) DESC LIMIT 2"); do
  "${BENCH_BIN_DIR:-build/rel/bench}/bench_analytics" "$d/weft.db" "$org" 20 || exit 1
done
[ -n "${ANALYTICS_KEEP:-}" ] || rm -rf "$d"
