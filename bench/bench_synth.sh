#!/usr/bin/env bash
# bench_synth.sh - weft synth throughput and memory: generates regions of
# increasing size (default 10,000 / 100,000 people; SYNTH_SIZES overrides,
# e.g. SYNTH_SIZES="10000 100000 1000000") on one core, and prints people/s,
# records/s, output size and peak RSS (GNU time's maxresident).  Memory
# should stay flat as the population grows: the generator streams.
set -u
bin="${WEFT_BIN:-./weft}"
tmp="${BENCH_TMP:-$(mktemp -d)}"
sizes="${SYNTH_SIZES:-10000 100000}"
[ -x /usr/bin/time ] || { echo "skip: /usr/bin/time (GNU time) not installed"; exit 0; }
printf '%-10s %8s %10s %12s %12s %10s %10s\n' people seconds people/s records records/s output_MB peak_RSS_MB
for n in $sizes; do
  out="$tmp/synth-$n"
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$tmp/time-$n" taskset -c 0 "$bin" synth --people "$n" --seed 1 \
      --out "$out" --quiet 2>/dev/null || { echo "weft synth failed for $n"; exit 1; }
  read -r secs rss <"$tmp/time-$n"
  recs=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['records']; print(sum(r.values()))" "$out/truth/summary.json")
  mb=$(du -sm "$out" | cut -f1)
  awk -v n="$n" -v s="$secs" -v r="$recs" -v mb="$mb" -v rss="$rss" 'BEGIN {
      if (s <= 0) s = 0.01;
      printf "%-10d %8.1f %10.0f %12d %12.0f %10d %10.1f\n", n, s, n / s, r, r / s, mb, rss / 1024 }'
  rm -rf "$out"
done
