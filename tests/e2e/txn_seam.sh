#!/usr/bin/env bash
# weft-test-postgres-skip: checks the source tree; touches no database
# txn_seam.sh - the store owns transactions (issue 22 item 1): outside
# src/store no code begins, commits or rolls back the handle's transaction or
# its savepoints directly; every writer uses the transaction object
# (store/txn.h: store_txn_begin/item/check/commit/rollback), so busy retries
# and broken-transaction detection are the same for all of them.
set -u
root="${WEFT_ROOT:?}"
fail() { echo "FAIL: $*"; exit 1; }
cd "$root" || fail "no repository at $root"
ops='store_begin|store_commit|store_rollback|store_savepoint|store_release|store_rollback_to'
# a call is the name followed by "(" (store_txn_* and comments are fine)
hits=$(grep -rnE "\\b($ops)[[:space:]]*\\(" src --include='*.c' --include='*.h' | grep -vE '^src/store/')
if [ -n "$hits" ]; then
  echo "$hits"
  fail "the handle's transaction used outside src/store: use struct store_txn (store/txn.h)"
fi
# the check must see what it checks: the transaction object is built on them
grep -qE '\bstore_begin[[:space:]]*\(' src/store/store_txn.c || fail "store_txn.c no longer calls store_begin (update this check)"
n=$(grep -rlE '\bstore_txn_begin[[:space:]]*\(' src --include='*.c' | grep -vc '^src/store/')
[ "$n" -ge 10 ] || fail "only $n files outside src/store begin a store_txn (update this check)"
echo "ok: only src/store touches the handle's transaction; $n files outside it use struct store_txn"
