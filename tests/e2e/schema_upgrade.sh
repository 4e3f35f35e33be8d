#!/usr/bin/env bash
# weft-test-postgres-skip: makes a SQLite file one migration behind with sqlite3 (an old SQLite schema upgraded in place)
# schema_upgrade.sh - a database made by an older weft (one migration behind
# this build) is refused by `weft serve` and the data commands with the
# command that upgrades it; `weft init` upgrades it in place, keeping the
# data; then serve starts and the data reads back.
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
db="$tmp/old.db"
fail() { echo "FAIL: $*"; exit 1; }

"$bin" init --db "$db" >/dev/null 2>&1 || fail "init"
"$bin" org add --db "$db" --ods RVV --name "East Kent" --type acute >/dev/null 2>&1 || fail "org add"
# make it one migration behind: undo the newest migration that only adds an index
/usr/bin/python3 - "$db" <<'PY' || fail "could not age the database"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DROP INDEX resource_type_deleted")
c.execute("DELETE FROM schema_migration WHERE name = 'core-6'")
c.commit()
PY

out=$("$bin" serve --db "$db" --http 127.0.0.1:0 2>&1); rc=$?
[ $rc -ne 0 ] || fail "serve started on an old schema"
echo "$out" | grep -q "older weft (1 schema migration to apply)" || fail "serve message: $out"
echo "$out" | grep -q "upgrade it first with: weft init --db $db" || fail "serve message does not say how to upgrade: $out"

out=$("$bin" org list --db "$db" 2>&1); rc=$?
[ $rc -ne 0 ] || fail "org list ran on an old schema"
echo "$out" | grep -q "upgrade it first with: weft init --db $db" || fail "org list message: $out"

"$bin" init --db "$db" >"$tmp/init.out" 2>&1 || fail "init (upgrade) failed: $(cat "$tmp/init.out")"
grep -q "schema version" "$tmp/init.out" || fail "init did not report the schema: $(cat "$tmp/init.out")"
"$bin" org list --db "$db" 2>&1 | grep -q "RVV" || fail "the organisation is gone after the upgrade"
/usr/bin/python3 - "$db" <<'PY' || fail "core-6 not applied by init"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("SELECT count(*) FROM schema_migration WHERE name = 'core-6'").fetchone()[0] == 1
assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'resource_type_deleted'").fetchone()[0] == 1
PY

# up = it wrote its port file (an event, not a sleep); then SIGTERM must
# stop it cleanly (exit 0)
"$bin" serve --db "$db" --http 127.0.0.1:0 --port-file "$tmp/port" >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ -s "$tmp/port" ] && break
  kill -0 $pid 2>/dev/null || { wait $pid; fail "serve exited ($?) after the upgrade: $(cat "$tmp/serve.log")"; }
  sleep 0.1
done
[ -s "$tmp/port" ] || { kill -KILL $pid; fail "serve did not start within 60 s after the upgrade"; }
curl -sf "http://127.0.0.1:$(cat "$tmp/port")/health" >/dev/null || { kill -KILL $pid; fail "serve up but /health failed"; }
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 0 ] || fail "serve exited $rc after SIGTERM: $(tail -20 "$tmp/serve.log")"
grep -q "stopped" "$tmp/serve.log" || fail "no 'stopped' line after SIGTERM"
echo "ok"
