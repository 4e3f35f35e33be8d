#!/usr/bin/env bash
# bench_csv.sh - social care CSV extracts (docs/feeds/csv-social-care.md):
# rows/s for read (RFC 4180 reader), map (read + validate + map to FHIR
# Bundles) and load (all of that + the loading pipeline into a fresh SQLite
# store; once with a durable commit per Bundle, once with bulk commits made
# durable at the end as `weft load` does; CSV_BATCH rows per commit, in
# Bundles of CSV_BUNDLE rows, 0 = defaults), over a generated people extract and
# services extract of CSV_ROWS rows each (default 50000), CSV_RUNS runs
# (default 3), medians printed.
# Baseline in the same run: Python's csv module (C reader) reading the same
# files, rows/s, median of the same number of runs.
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_csv
tmp=${BENCH_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/weft-bench.XXXXXX")}
rows=${CSV_ROWS:-50000}
runs=${CSV_RUNS:-3}
batch=${CSV_BATCH:-0}
bundle=${CSV_BUNDLE:-0}
if [ ! -x "$bin" ]; then
  make -C "$root" -s build/rel/bench/bench_csv >/dev/null || { echo "cannot build bench_csv"; exit 1; }
fi
dir="$tmp/csv"
mkdir -p "$dir"
out=$("$bin" --rows "$rows" --runs "$runs" --dir "$dir" --batch "$batch" --bundle "$bundle") || { echo "$out"; exit 1; }
bulk=$("$bin" --rows "$rows" --runs "$runs" --dir "$dir" --batch "$batch" --bundle "$bundle" --bulk) || { echo "$bulk"; exit 1; }

py=$(/usr/bin/python3 - "$dir" "$runs" <<'EOF'
import csv, statistics, sys, time
d, runs = sys.argv[1], int(sys.argv[2])
for kind in ("people", "services"):
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        with open(f"{d}/{kind}_bench.csv", newline="", encoding="utf-8-sig") as f:
            n = sum(1 for _ in csv.reader(f)) - 1
        rates.append(n / (time.perf_counter() - t))
    print(f"{kind} {statistics.median(rates):.0f}")
EOF
)
get() { echo "$out" | awk -v m="$1" -v k="$2" '$1=="median" && $2==m && $3==k {print $4}'; }
bget() { echo "$bulk" | awk -v m="$1" -v k="$2" '$1=="median" && $2==m && $3==k {print $4}'; }
pyget() { echo "$py" | awk -v k="$1" '$1==k {print $2}'; }
echo "$out" | head -n 1
printf '%-34s %14s %14s\n' "measure (median rows/s)" "people" "services"
printf '%-34s %14s %14s\n' "python3 csv.reader (baseline)" "$(pyget people)" "$(pyget services)"
printf '%-34s %14s %14s\n' "weft read (csv.h)" "$(get read people)" "$(get read services)"
printf '%-34s %14s %14s\n' "weft read+validate+map" "$(get map people)" "$(get map services)"
printf '%-34s %14s %14s\n' "  same, rows per CPU second" "$(get mapcpu people)" "$(get mapcpu services)"
printf '%-34s %14s %14s\n' "weft read+validate+map+load" "$(get load people)" "$(get load services)"
printf '%-34s %14s %14s\n' "  same, rows per CPU second" "$(get loadcpu people)" "$(get loadcpu services)"
printf '%-34s %14s %14s\n' "  same, bulk commits" "$(bget load people)" "$(bget load services)"
awk -v a="$(get read people)" -v b="$(pyget people)" -v c="$(get load both)" \
  'BEGIN { if (b > 0) printf "read speed vs python csv (people): %.1fx\n", a / b;
           printf "loaded, people+services together: %s rows/s (target 200000)\n", c }'
echo "loaded with bulk commits, people+services together: $(bget load both) rows/s"
rm -rf "$dir"
