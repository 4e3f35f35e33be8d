#!/usr/bin/env bash
# scale_reads.sh - the read figures of bench_scale.sh for one database
# (issue 12, "Scale"), so kept stores of different sizes can be measured
# again back to back, alternating, on the same machine state:
#
#   bench/scale_reads.sh SIZE BACKEND DB ODS BIG_NHS MID_NHS WORKDIR
#
# SIZE and BACKEND only label the output lines; DB is the store (a SQLite
# path or a postgres:// URL) holding a region loaded as bench_scale.sh loads
# it; ODS the practice of the largest patient (BIG_NHS), MID_NHS the median
# patient.  Runs bench/bench_api.sh (read by id, the patient-scoped search of
# the median and the largest patient, $everything of the largest, weft serve's
# peak RSS) and bench/bench_web.sh (the summary page of the largest patient,
# page cache on and off) and prints "SIZE<TAB>BACKEND<TAB>figure<TAB>value"
# lines (bench/scale_table.py makes the table).  Env as bench_scale.sh's:
# WEFT_BIN, RUNS, WRK_CONN, WRK_SECS, BENCH_WEB_SECONDS.
set -u
[ $# -eq 7 ] || { echo "usage: scale_reads.sh SIZE BACKEND DB ODS BIG_NHS MID_NHS WORKDIR" >&2; exit 2; }
n=$1 b=$2 db=$3 ods=$4 big=$5 mid=$6 w=$7
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1
weft=${WEFT_BIN:-$root/weft}
export WEFT_BIN=$weft
mkdir -p "$w"
put() { printf '%s\t%s\t%s\t%s\n' "$n" "$b" "$1" "$2"; }
token=$("$weft" client add --db "$db" --name "bench-$$-$(date +%s%N)" --org "$ods" 2>/dev/null) ||
  { echo "$b $n: cannot add an API client" >&2; exit 1; }
put "load average (reads)" "$(cut -d' ' -f1 /proc/loadavg)"
API_DB=$db API_TOKEN=$token API_BIG_NHS=$big API_MID_NHS=$mid BENCH_TMP=$w bench/bench_api.sh \
  >"$w/api.out" 2>&1 || { cat "$w/api.out" >&2; echo "$b $n: bench_api failed" >&2; exit 1; }
for c in read search search-max; do
  read -r rps p50 p99 < <(awk -v c="$c" '$1 == c {print $2, $3, $4}' "$w/api.out")
  put "$c req/s" "$rps"; put "$c p50 ms" "$p50"; put "$c p99 ms" "$p99"
done
put "everything first page ms" "$(sed -n 's/.*first page of 100 median \([0-9.]*\) ms.*/\1/p' "$w/api.out")"
put "everything all pages ms" "$(sed -n 's/.*in pages of 100 median \([0-9.]*\) ms.*/\1/p' "$w/api.out")"
put "serve RSS MB after reads" "$(sed -n 's/^peak RSS weft serve: \([0-9]*\) MB/\1/p' "$w/api.out")"
WEB_DB=$db WEB_ORG=$ods WEB_NHS=$big BENCH_TMP=$w bench/bench_web.sh >"$w/web.out" 2>&1 ||
  { cat "$w/web.out" >&2; echo "$b $n: bench_web failed" >&2; exit 1; }
# "| page cache on (default) | H req/s | S pages/s | A avg, P50 p50, P99 p99, M max | ..."
for mode in on off; do
  row=$(grep "page cache $mode" "$w/web.out")
  put "summary page cache $mode pages/s" "$(echo "$row" | awk -F'|' '{print $4}' | awk '{print $1}')"
  for q in p50 p99; do
    v=$(echo "$row" | awk -F'|' '{print $5}' | tr ',' '\n' | awk -v q="$q" '$2 == q {print $1}')
    put "summary page cache $mode $q ms" "$(echo "$v" | awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f\n", v}')"
  done
done
