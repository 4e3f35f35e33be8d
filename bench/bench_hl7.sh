#!/usr/bin/env bash
# bench_hl7.sh - HL7 v2 parse throughput (one core) against Debian's
# python3-hl7 on the same messages, plus parse+map to FHIR JSON.
# Data: every message in $WEFT_DATA/hl7v2 (main folder).  Prints the rounds
# and a table of medians.  Env: HL7_BENCH_SECS (per round, default 1),
# HL7_BENCH_ROUNDS (default 5).
set -u
root=${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
data=${WEFT_DATA:-$root/../shared/data}/hl7v2
bin=${BENCH_BIN_DIR:-$root/build/rel/bench}/bench_hl7_parse
secs=${HL7_BENCH_SECS:-1}
rounds=${HL7_BENCH_ROUNDS:-5}
if [ ! -d "$data" ]; then
  echo "skipped: $data is absent"
  exit 0
fi
if [ ! -x "$bin" ]; then
  make -C "$root" -s "build/rel/bench/bench_hl7_parse" >/dev/null || exit 1
fi
out=$(mktemp)
# one core: both sides are single-threaded and run one after the other
"$bin" "$data" "$secs" "$rounds" | tee "$out"
if /usr/bin/python3 -c 'import hl7' 2>/dev/null; then
  /usr/bin/python3 "$root/bench/hl7_parse_python.py" "$data" "$secs" "$rounds" | tee -a "$out"
else
  echo "python3-hl7 not installed: no baseline"
fi
awk '
  /^messages/ && !n { n = $2; b = $4 }
  /^median parse / { split($3, a, "="); c = a[2]; split($4, m, "="); mb = m[2] }
  /^median parse_map / { split($3, a, "="); cm = a[2] }
  /^median parse_map_json / { split($3, a, "="); cj = a[2] }
  /^median python / { split($3, a, "="); py = a[2] }
  END {
    printf "\n| measurement (1 core, %d messages, %d bytes) | messages/s (median) |\n", n, b
    printf "|-|-|\n"
    printf "| weft hl7_msg_parse (full parse) | %d (%.0f MB/s) |\n", c, mb
    printf "| weft parse + map to a FHIR Bundle (jansson tree) | %d |\n", cm
    printf "| weft parse + map + serialise to JSON text | %d |\n", cj
    if (py > 0) {
      printf "| python3-hl7 hl7.parse | %d |\n", py
      printf "| ratio weft parse / python3-hl7 | %.0fx |\n", c / py
    }
    printf "| target | 500000 (%s) |\n", (c >= 500000 ? "met" : "NOT met")
  }' "$out"
rm -f "$out"
