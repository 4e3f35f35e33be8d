#!/usr/bin/python3
"""hl7_parse_python.py - the baseline for bench_hl7_parse: Debian's python3-hl7
(`hl7.parse`) parsing the same messages, split the same way (a new message at
each line starting "MSH"; FHS/BHS/BTS/FTS envelope lines dropped).

    hl7_parse_python.py DIR [SECONDS_PER_ROUND] [ROUNDS]

Prints "round python N msgs_per_s=X" per round and "median python msgs_per_s=X".
Rates are per CPU-second of this thread (time.thread_time), as on the C side.
"""
import os
import re
import sys
import time

import hl7


def load(d):
    msgs = []
    for name in sorted(os.listdir(d)):
        if not (name.endswith(".hl7") or name.endswith(".txt")):
            continue
        with open(os.path.join(d, name), "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        lines = [l for l in re.split(r"\r\n|\r|\n", text) if l.strip()]
        cur = []
        for line in lines:
            tag = line[:3]
            if tag in ("FHS", "BHS", "BTS", "FTS"):
                continue
            if tag == "MSH" and cur:
                msgs.append("\r".join(cur))
                cur = []
            cur.append(line)
        if cur and cur[0].startswith("MSH"):
            msgs.append("\r".join(cur))
    return msgs


def main():
    d = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    msgs = load(d)
    ok = []
    for m in msgs:  # keep what python-hl7 accepts, as the C side keeps what it parses
        try:
            hl7.parse(m)
            ok.append(m)
        except Exception:
            pass
    print("messages %d" % len(ok))
    rates = []
    for r in range(rounds):
        n = 0
        t0 = time.thread_time()
        while True:
            for m in ok:
                p = hl7.parse(m)
                p.segment("MSH")
            n += len(ok)
            t1 = time.thread_time()
            if t1 - t0 >= secs:
                break
        rates.append(n / (t1 - t0))
        print("round python %d msgs_per_s=%.0f" % (r + 1, rates[-1]))
    rates.sort()
    print("median python msgs_per_s=%.0f" % rates[len(rates) // 2])


if __name__ == "__main__":
    main()
