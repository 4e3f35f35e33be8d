#!/usr/bin/env bash
# weft-test-postgres-skip: needs no database: an unreachable postgres:// address and the help texts (the same on both passes)
# cli_db_truthful.sh - the help texts promise only the database backends that
# are built: while `--db postgres://...` is refused with a clear error, no
# command's --help (nor `weft help`) may offer PostgreSQL.
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
fail() { echo "FAIL: $*"; exit 1; }

# 127.0.0.1:1: nothing listens there, so no init can succeed against it
"$bin" init --db postgres://127.0.0.1:1/weft >"$tmp/pg" 2>&1
rc=$?
[ $rc -ne 0 ] || { cat "$tmp/pg"; fail "init reported success against postgres://127.0.0.1:1"; }
[ $rc -lt 128 ] || { cat "$tmp/pg"; fail "init crashed on postgres:// (exit $rc)"; }
cmds=$("$bin" help 2>&1 | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$cmds" ] || fail "weft help lists no commands"
if grep -qi "postgresql backend is not built" "$tmp/pg"; then
  # not built: refused clearly everywhere, offered nowhere
  "$bin" serve --db postgres://127.0.0.1:1/weft --http 127.0.0.1:0 >"$tmp/pgs" 2>&1 && fail "serve accepted postgres://"
  grep -qi "postgresql backend is not built" "$tmp/pgs" || { cat "$tmp/pgs"; fail "serve: postgres refused without a clear error"; }
  "$bin" help 2>&1 | grep -qi postgres && fail "weft help mentions PostgreSQL, which is not built"
  for c in $cmds; do
    "$bin" "$c" --help >"$tmp/help" 2>&1
    if grep -qi postgres "$tmp/help"; then
      grep -i postgres "$tmp/help"
      fail "weft $c --help offers PostgreSQL, which is not built"
    fi
  done
  echo "postgres: not built, refused with a clear error, offered by no help text"
else
  # built: the failure is about the connection, and the help offers it
  grep -qiE "connect|postgres" "$tmp/pg" || { cat "$tmp/pg"; fail "postgres init failed without saying why"; }
  "$bin" init --help 2>&1 | grep -qi postgres || fail "PostgreSQL is built but init --help does not offer it"
  echo "postgres: built; an unreachable server is reported: $(head -c 200 "$tmp/pg")"
fi
echo "ok"
