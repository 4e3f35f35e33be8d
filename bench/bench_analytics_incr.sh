#!/usr/bin/env bash
# bench_analytics_incr.sh - the incremental analytics refresh (docs/ANALYTICS.md,
# "Incremental refresh"; issue 18's target: an update after 10,000 new feed
# messages in under 5 s at 1,000,000 people).
#
# A region of ANALYTICS_PEOPLE (default 100000) is generated and loaded as in
# bench_analytics.sh (bench/analytics_region.py, `weft load --org` per practice),
# nine in ten NHS numbers cleared, and a first full refresh stores the figures
# and the state.  Then for each K of INCR_MESSAGES (default "1000 10000"): K
# messages for K different people (new inpatient stays; one in ten a Patient
# moving practice) are loaded, and the refresh after them is timed:
#   - with MAIN_BIN (a build of main, which has no incremental update): its
#     refresh after the same messages, on a copy of the database;
#   - this build's `weft analytics refresh` (an update from the changed persons);
#   - this build's `weft analytics refresh --full` on the same data, and the
#     stored figures of the two compared (they must be byte for byte the same).
# Wall seconds and CPU seconds (user + system, GNU time: on a shared machine the
# wall time includes waiting for a core) and peak RSS.
set -u
bin="${WEFT_BIN:-./weft}"
main_bin="${MAIN_BIN:-}"
tmp="${BENCH_TMP:-$(mktemp -d)}"
[ -x /usr/bin/time ] || { echo "skip: /usr/bin/time (GNU time) not installed"; exit 0; }
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 0; }
d="$tmp/analytics-incr"
mkdir -p "$d"
n="${ANALYTICS_PEOPLE:-100000}"
asof="${ANALYTICS_AS_OF:-2026-11-01}"
here=$(dirname "$0")

load_dir() { # prefix
  for f in "$1"-G8*.ndjson; do
    org=$(basename "$f" .ndjson); org=${org##*-}
    "$bin" load --db "$d/weft.db" --org "$org" "$f" >"$d/load.log" 2>&1 \
      || { tail -5 "$d/load.log"; echo "load failed"; exit 1; }
  done
}

if [ -n "${ANALYTICS_DB:-}" ]; then
  cp "$ANALYTICS_DB" "$d/weft.db" || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
else
  python3 "$here/analytics_region.py" region "$d/region" "$n" || exit 1
  "$bin" init --db "$d/weft.db" >/dev/null || exit 1
  start=$(date +%s)
  load_dir "$d/region"
  echo "loaded $n people from 100 practices in $(( $(date +%s) - start )) s"
fi
people=$(sqlite3 "$d/weft.db" "SELECT count(*) FROM person")
items=$(sqlite3 "$d/weft.db" "SELECT count(*) FROM resource WHERE next_seq IS NULL AND deleted = 0")
sqlite3 "$d/weft.db" "SELECT nhs FROM person WHERE nhs IS NOT NULL" | awk 'NR % 10 != 0' >"$d/cleared.txt"
"$bin" optout import --db "$d/weft.db" --cleared "$d/cleared.txt" --checked "$(date -u +%F)" \
  >/dev/null || exit 1
echo "region: $people persons, $items current items; machine: $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

printf '%-34s %8s %8s %8s %8s\n' step changed wall cpu "rss MB"
run() { # label cmd...
  local label=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$d/t" "$@" >"$d/out" 2>"$d/err" \
    || { cat "$d/err"; echo "$label failed"; return 1; }
  read -r secs rss us ss <"$d/t"
  local changed
  changed=$(sed -n 's/.*updated from \([0-9]*\) changed persons.*/\1/p' "$d/err")
  printf '%-34s %8s %8.2f %8.2f %8.1f\n' "$label" "${changed:--}" "$secs" \
    "$(awk -v u="$us" -v s="$ss" 'BEGIN{ print u + s }')" "$(awk -v r="$rss" 'BEGIN{ print r / 1024 }')"
}
stored() { sqlite3 "$d/weft.db" "SELECT name, params, csv FROM analytics_result ORDER BY name, params" | sha256sum; }

run "full refresh (the first)" "$bin" analytics refresh --db "$d/weft.db" --as-of "$asof" || exit 1
run "refresh, nothing changed" "$bin" analytics refresh --db "$d/weft.db" --as-of "$asof" || exit 1
total=0
for k in ${INCR_MESSAGES:-1000 10000}; do
  total=$((total + 1))
  rm -f "$d"/chg-*.ndjson
  python3 "$here/analytics_region.py" changes "$d/chg" "$n" "$k" "$total" || exit 1
  load_dir "$d/chg"
  if [ -n "$main_bin" ]; then
    cp "$d/weft.db" "$d/main.db"
    run "main: refresh after $k messages" "$main_bin" analytics refresh --db "$d/main.db" \
      --as-of "$asof" || exit 1
    rm -f "$d/main.db"
  fi
  run "update after $k messages" "$bin" analytics refresh --db "$d/weft.db" --as-of "$asof" || exit 1
  a=$(stored)
  run "full refresh after $k messages" "$bin" analytics refresh --db "$d/weft.db" --as-of "$asof" \
    --full || exit 1
  b=$(stored)
  [ "$a" = "$b" ] && echo "  stored figures: update == full" \
    || { echo "  stored figures DIFFER between the update and the full refresh"; exit 1; }
done
[ -n "${ANALYTICS_KEEP:-}" ] || rm -rf "$d"
