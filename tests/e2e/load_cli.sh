#!/usr/bin/env bash
# load_cli.sh - weft init / client / load from the command line: help texts,
# idempotent init, the config file, client tokens (printed once, only the
# hash stored, revocation), exit statuses.  On PostgreSQL too (WEFT_TEST_DB;
# rows read with api_harness.db_rows, the whole database dumped with pg_dump).
# weft-test-backends: sqlite postgres
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
root="${WEFT_ROOT:?}"
db="${WEFT_TEST_DB:-$tmp/cli.db}"
fail() { echo "FAIL: $*"; exit 1; }
py=/usr/bin/python3

for c in init load client; do
  "$bin" $c --help >"$tmp/help" 2>&1 || fail "$c --help exit $?"
  grep -q "usage: weft $c" "$tmp/help" || fail "$c --help has no usage line"
  grep -q -- "--db" "$tmp/help" || fail "$c --help does not describe --db"
done
"$bin" --help | grep -q "^  load " || fail "weft --help does not list load"

"$bin" init >"$tmp/o" 2>&1; [ $? -eq 2 ] && grep -q -- "--db" "$tmp/o" || fail "init without --db"
"$bin" init --db "$db" | grep -q "created, schema version" || fail "init"
"$bin" init --db "$db" | grep -q "already at schema version" || fail "init again"

# options from the config file; flags override it
printf 'db = %s\norg = A81002\n' "$db" >"$tmp/weft.conf"
"$bin" load --config "$tmp/weft.conf" "$root/sample/gp-A81002.json" >"$tmp/o" 2>&1 || { cat "$tmp/o"; fail "load via config"; }
grep -q "57 stored" "$tmp/o" || { cat "$tmp/o"; fail "config load counts"; }
org=$($py -c "import sys; sys.path.insert(0, sys.argv[2] + '/tests/e2e/lib'); from api_harness import db_rows; print(','.join(o for (o,) in db_rows(sys.argv[1], 'select distinct source_org from resource')))" "$db" "$root")
[ "$org" = A81002 ] || fail "org from config: $org"

# client add: token alone on stdout, 43 base64url chars; only its SHA-256 stored
"$bin" client add --db "$db" --name "GP system" --org A81001 >"$tmp/tok" 2>"$tmp/tok.err" || fail "client add"
[ "$(wc -l <"$tmp/tok")" -eq 1 ] || fail "client add printed more than the token"
tok=$(cat "$tmp/tok")
[[ "$tok" =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "token shape: $tok"
"$bin" client add --db "$db" --name "Lab feed" --write >"$tmp/tok2" 2>/dev/null || fail "client add --write"
$py - "$db" "$tok" "$root" <<'PY' || fail "client storage"
import subprocess, sys, hashlib
sys.path.insert(0, sys.argv[3] + "/tests/e2e/lib")
from api_harness import db_rows
db, tok = sys.argv[1], sys.argv[2]
rows = db_rows(db, "select name, org, scopes, token_hash from client order by id")
assert rows[0][3] == hashlib.sha256(tok.encode()).hexdigest(), "hash"
assert rows[0][2] == "system/*.rs", rows[0][2]
assert rows[1][2] == "system/*.rs system/*.cud", rows[1][2]
if db.startswith("postgres"):
    dump = subprocess.run(["pg_dump", "--data-only", db], capture_output=True, text=True,
                          check=True).stdout
    assert "GP system" in dump, "pg_dump holds no client rows"
else:
    import sqlite3
    dump = "\n".join(sqlite3.connect(db).iterdump())
assert tok not in dump, "token stored in clear"
PY
"$bin" client list --db "$db" >"$tmp/list" || fail "client list"
grep -q "GP system" "$tmp/list" && grep -q "A81001" "$tmp/list" || fail "list content"
grep -q "$tok" "$tmp/list" && fail "list shows a token"
"$bin" client revoke --db "$db" --id 1 2>/dev/null || fail "revoke"
"$bin" client revoke --db "$db" --id 1 >"$tmp/o" 2>&1; [ $? -eq 1 ] && grep -q "no active client with id 1" "$tmp/o" || fail "revoke twice"
"$bin" client list --db "$db" | awk '$1==1' | grep -o "[0-9]Z" | wc -l | grep -q '^2$' || fail "revoked time not listed"
"$bin" client frobnicate --db "$db" >"$tmp/o" 2>&1; [ $? -eq 2 ] && grep -q "unknown action" "$tmp/o" || fail "bad action"
"$bin" client add --db "$tmp/missing.db" --name x >"$tmp/o" 2>&1; [ $? -eq 1 ] && grep -q "missing.db" "$tmp/o" || fail "missing db"
echo ok
