#!/usr/bin/env bash
# weft-test-postgres-skip: checks the source tree; touches no database
# hex_seam.sh - one hex encoder (issue 22 item 5): bytes become hex text only
# through core/hex.h (hex_encode); no other file carries a digit table or a
# snprintf("%02x") loop.  core/buf.c's JSON string escaper (\u00XX) is the
# one other user of hex digits and is allowed.
set -u
root="${WEFT_ROOT:?}"
fail() { echo "FAIL: $*"; exit 1; }
cd "$root" || fail "no repository at $root"
hits=$(grep -rnE '"0123456789abcdef"|"%02x"' src --include='*.c' --include='*.h' |
  grep -vE '^src/core/hex\.c:|^src/core/buf\.c:[0-9]+:    static const char hex\[\] = "0123456789abcdef";')
if [ -n "$hits" ]; then
  echo "$hits"
  fail "a hand-written hex encoder outside core/hex.c: use hex_encode (core/hex.h)"
fi
grep -q 'hex_encode' src/core/hex.h || fail "core/hex.h has no hex_encode (update this check)"
n=$(grep -rlE '\bhex_encode[[:space:]]*\(' src --include='*.c' | grep -vc '^src/core/hex\.c')
[ "$n" -ge 10 ] || fail "only $n files call hex_encode (update this check)"
echo "ok: one hex encoder (core/hex.c), used by $n files"
