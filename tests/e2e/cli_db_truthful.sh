#!/usr/bin/env bash
# cli_db_truthful.sh - the help texts promise only the database backends that
# are built: while `--db postgres://...` is refused with a clear error, no
# command's --help (nor `weft help`) may offer PostgreSQL.
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
fail() { echo "FAIL: $*"; exit 1; }

"$bin" init --db postgres://localhost/weft >"$tmp/pg" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  grep -qi "postgresql backend is not built" "$tmp/pg" || { cat "$tmp/pg"; fail "postgres refused without a clear error"; }
  "$bin" serve --db postgres://localhost/weft --http 127.0.0.1:0 >"$tmp/pgs" 2>&1 && fail "serve accepted postgres://"
  grep -qi "postgresql backend is not built" "$tmp/pgs" || { cat "$tmp/pgs"; fail "serve: postgres refused without a clear error"; }
  cmds=$("$bin" help 2>&1 | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}')
  [ -n "$cmds" ] || fail "weft help lists no commands"
  "$bin" help 2>&1 | grep -qi postgres && fail "weft help mentions PostgreSQL, which is not built"
  for c in $cmds; do
    "$bin" "$c" --help >"$tmp/help" 2>&1
    if grep -qi postgres "$tmp/help"; then
      grep -i postgres "$tmp/help"
      fail "weft $c --help offers PostgreSQL, which is not built"
    fi
  done
fi
echo "ok"
