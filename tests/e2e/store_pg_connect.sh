#!/usr/bin/env bash
# weft-test-backends: sqlite postgres
# store_pg_connect.sh - how every command reaches PostgreSQL.
#
# Always (no server needed): a server that does not answer makes init, load,
# serve, org list and audit verify exit non-zero with one clear line naming
# the host:port/db and libpq's reason; a malformed connection string is
# refused as such; a password in the URL is never printed.
# On PostgreSQL (WEFT_TEST_DB, from tests/run-tests.sh --backend postgres):
# the three ways to name the database - postgres://, postgresql:// and
# libpq's "host=/socket/dir port=N dbname=DB user=U" - all reach the same
# database through init, org add / org list and client add.
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
fail() { echo "FAIL: $*"; exit 1; }

dead=postgres://weft:s3cret-pw@127.0.0.1:1/weft
for cmd in "init --db $dead" "load --db $dead --org RXX /dev/null" \
           "serve --db $dead --http 127.0.0.1:0" "org list --db $dead" \
           "audit verify --db $dead"; do
  # shellcheck disable=SC2086
  timeout 30 "$bin" $cmd >"$tmp/out" 2>&1
  rc=$?
  [ $rc -ne 0 ] || { cat "$tmp/out"; fail "weft $cmd succeeded against a dead server"; }
  [ $rc -lt 124 ] || { cat "$tmp/out"; fail "weft $cmd: exit $rc (crash or hang)"; }
  grep -q "cannot connect to PostgreSQL at 127.0.0.1:1/weft" "$tmp/out" \
    || { cat "$tmp/out"; fail "weft ${cmd%% *}: the message does not name the server"; }
  grep -q "Connection refused" "$tmp/out" \
    || { cat "$tmp/out"; fail "weft ${cmd%% *}: libpq's reason missing"; }
  grep -q "s3cret-pw" "$tmp/out" && { cat "$tmp/out"; fail "weft ${cmd%% *} printed the password"; }
done
"$bin" init --db "host=/nonexistent/socket/dir port=5 dbname=weft" >"$tmp/out" 2>&1 \
  && fail "init reached a socket folder that does not exist"
grep -q "/nonexistent/socket/dir" "$tmp/out" || { cat "$tmp/out"; fail "socket form: folder not named"; }
"$bin" init --db "postgresql://weft@127.0.0.1:1/weft?no_such_option=1" >"$tmp/out" 2>&1 \
  && fail "init accepted a malformed connection string"
grep -q "bad PostgreSQL connection string" "$tmp/out" || { cat "$tmp/out"; fail "malformed string not reported as such"; }
echo "unreachable: $(head -c 160 "$tmp/out")"

if [ -z "${WEFT_TEST_DB:-}" ]; then
  echo "ok (SQLite pass: the connected forms run in the PostgreSQL pass)"
  exit 0
fi
url=$WEFT_TEST_DB                      # postgres://weft@127.0.0.1:PORT/DB
rest=${url#postgres://weft@127.0.0.1:}
port=${rest%%/*}
dbname=${rest#*/}
sockdir=${WEFT_TEST_PG_DIR:?}
pw_url="postgres://weft:s3cret-pw@127.0.0.1:$port/$dbname"   # trust auth: ignored, never shown
"$bin" init --db "$pw_url" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "init on PostgreSQL"; }
grep -q "created, schema version" "$tmp/out" || { cat "$tmp/out"; fail "init did not say it created the schema"; }
grep -q "s3cret-pw" "$tmp/out" && { cat "$tmp/out"; fail "init printed the password"; }
grep -q "weft:\*\*\*@127.0.0.1" "$tmp/out" || { cat "$tmp/out"; fail "init did not name the database"; }
"$bin" init --db "postgresql://weft@127.0.0.1:$port/$dbname" >"$tmp/out" 2>&1 \
  || { cat "$tmp/out"; fail "init again (postgresql://)"; }
grep -q "already at schema version" "$tmp/out" || { cat "$tmp/out"; fail "second init not a no-op"; }
kw="host=$sockdir port=$port dbname=$dbname user=weft"
"$bin" org add --db "$kw" --ods RSOCK --name "Socket Trust" --type acute >"$tmp/out" 2>&1 \
  || { cat "$tmp/out"; fail "org add over the Unix socket"; }
"$bin" org list --db "postgresql://weft@127.0.0.1:$port/$dbname" >"$tmp/out" 2>&1 \
  || { cat "$tmp/out"; fail "org list"; }
grep -q "RSOCK" "$tmp/out" || { cat "$tmp/out"; fail "the organisation added over the socket is not listed over TCP"; }
"$bin" client add --db "$url" --name c1 >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "client add"; }
echo "ok: postgres://, postgresql:// and host=$sockdir reach one database"
