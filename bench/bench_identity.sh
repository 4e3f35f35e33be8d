#!/usr/bin/env bash
# bench_identity.sh - the master person index's accuracy and speed:
#   1. a synthetic region (IDENTITY_PEOPLE, default 10,000) sent through the
#      real feed paths, scored pairwise against truth/ (PPV, sensitivity),
#      with default faults and with every person-level fault rate tripled;
#   2. FEBRL 1-3 and Splink's fake_1000, each record one FHIR Patient through
#      `weft load`, then `weft person estimate` and `relink`: pairwise F1.
# Figures are recorded in docs/BENCHMARKS.md ("Identity").  IDENTITY_BASE=BIN
# also sends the default region through another build (e.g. main's) for a
# side-by-side feed-path time.
set -u
root="${WEFT_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${WEFT_BIN:-$root/weft}"
tmp="${BENCH_TMP:-$(mktemp -d)}/identity"
people="${IDENTITY_PEOPLE:-10000}"
tripled="missing-nhs=0.06,sc-missing-nhs=1,bad-check-digit=0.015,typo=0.06,nickname=0.15"
tripled="$tripled,address-change=0.15,swap-day-month=0.03,missing-postcode=0.06,duplicate=0.03"
mkdir -p "$tmp"
row() {
  python3 -c 'import json,sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
print("%-10s %-9s %-8d %8d %9.5f %11.5f %6d %8.1f" % (sys.argv[1], sys.argv[2], r["people"],
      r["records"], r["ppv"], r["sensitivity"], r["records_not_in_store"], r["replay_seconds"]))' "$@"
}
printf '%-10s %-9s %-8s %8s %9s %11s %6s %8s\n' build faults people records ppv sensitivity lost replay_s
python3 "$root/bench/identity_region.py" --people "$people" --bin "$bin" --keep "$tmp/default" \
  | row this default || exit 1
if [ -n "${IDENTITY_BASE:-}" ]; then
  python3 "$root/bench/identity_region.py" --people "$people" --bin "$IDENTITY_BASE" \
    --keep "$tmp/base" --region "$tmp/default/region" | row base default || exit 1
fi
python3 "$root/bench/identity_region.py" --people "$people" --bin "$bin" --keep "$tmp/tripled" \
  --fault-rate "$tripled" | row this tripled || exit 1
echo
printf '%-10s %8s %10s %9s %8s %10s %9s %8s\n' set records precision recall f1 load_s relink_s
python3 "$root/bench/linkage_score.py" --bin "$bin" --json | python3 -c 'import json,sys
for k, r in json.load(sys.stdin).items():
    a = r["after_relink"]
    print("%-10s %8d %10.5f %9.5f %8.5f %10.2f %9.2f" % (k, r["records"], a["precision"],
          a["recall"], a["f1"], r["load_seconds"], r["relink_seconds"]))' || exit 1
rm -rf "$tmp"
