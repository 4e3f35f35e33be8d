#!/usr/bin/env bash
# access_audit_tamper.sh - `weft audit verify` on a log written by the real
# binary (org, agreement, launcher and policy changes), then tampered with by
# sqlite3 (psql on PostgreSQL) directly: an edited field, a deleted entry, an
# inserted entry, two entries swapped, a truncated tail, an edited head.  Each
# must make verify exit non-zero naming the entry; the untouched copy must
# verify (exit 0).  On PostgreSQL (WEFT_TEST_DB) each tampered copy is a
# database made from the original with CREATE DATABASE ... TEMPLATE.
# weft-test-backends: sqlite postgres
set -u
W=${WEFT_BIN:?}
T=${WEFT_TMP:?}
fail() { echo "FAIL: $*"; exit 1; }
db=${WEFT_TEST_DB:-$T/weft.db}
case "$db" in
postgres*)
  command -v psql >/dev/null || { echo "skip: psql not installed"; exit 77; }
  sql() { psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
  admin=${db%/*}/postgres # the cluster's maintenance database, to copy the test's
  copy_db() { # N: a fresh copy of $db, the Nth: its URL
    sql "$admin" "CREATE DATABASE ${db##*/}_t$1 TEMPLATE ${db##*/}" >&2 || return 1
    echo "${db%/*}/${db##*/}_t$1"
  }
  drop="DROP TRIGGER audit_entry_append_only ON audit_entry;"
  zero32="decode(repeat('00', 32), 'hex')"
  ;;
*)
  command -v sqlite3 >/dev/null || { echo "skip: sqlite3 command not installed"; exit 77; }
  sql() { sqlite3 "$1" "$2"; }
  copy_db() { cp "$db" "$T/t.db" && echo "$T/t.db"; }
  drop="DROP TRIGGER audit_entry_no_update; DROP TRIGGER audit_entry_no_delete;"
  zero32="zeroblob(32)"
  ;;
esac
$W init --db "$db" >/dev/null || fail "init"
for i in 1 2 3 4 5 6; do
  $W org add --db "$db" --ods "ORG$i" --name "Org $i" --type gp >/dev/null || fail "org add"
  $W org agreement --db "$db" --ods "ORG$i" --kind dpa --from 2024-01-01 >/dev/null || fail "agreement"
done
$W policy load --db "$db" --file "$WEFT_ROOT/policy/default.policy" >/dev/null || fail "policy load"
n=$(sql "$db" "SELECT count(*) FROM audit_entry")
[ "$n" -ge 14 ] || fail "expected at least 14 audit entries, got $n"
out=$($W audit verify --db "$db") || fail "intact log did not verify: $out"
case "$out" in *"$n entries"*) ;; *) fail "verify output: $out" ;; esac

# the append-only triggers stop casual edits
sql "$db" "UPDATE audit_entry SET reason = 'x' WHERE seq = 3" 2>/dev/null && fail "UPDATE was allowed"
sql "$db" "DELETE FROM audit_entry WHERE seq = 3" 2>/dev/null && fail "DELETE was allowed"

cols="time, action, outcome, user_id, user_name, role, org, launcher, client, purpose, person_id, session_id, request_id, what, count, reason"
copies=0
check_tampered() { # name, sql, expected entry number
  copies=$((copies + 1))
  t=$(copy_db $copies) || fail "$1: cannot copy the database"
  sql "$t" "$drop $2" || fail "$1: sql failed"
  out=$($W audit verify --db "$t")
  rc=$?
  [ $rc -ne 0 ] || fail "$1: verify exited 0 on a tampered log: $out"
  case "$out" in *"TAMPERED at entry $3:"*) ;; *) fail "$1: wanted entry $3 named, got: $out" ;; esac
  echo "detected $1: $out"
}
check_tampered edit "UPDATE audit_entry SET what = replace(what, 'ORG3', 'ORG9') WHERE seq = 6" 6
check_tampered edit-outcome "UPDATE audit_entry SET outcome = 'denied' WHERE seq = 2" 2
check_tampered delete "DELETE FROM audit_entry WHERE seq = 5" 5
check_tampered insert "UPDATE audit_entry SET seq = seq + 100 WHERE seq >= 4; UPDATE audit_entry SET seq = seq - 99 WHERE seq >= 100; INSERT INTO audit_entry (seq, $cols, prev, hash) SELECT 4, $cols, prev, hash FROM audit_entry WHERE seq = 3" 4
check_tampered reorder "UPDATE audit_entry SET seq = -1 WHERE seq = 7; UPDATE audit_entry SET seq = 7 WHERE seq = 8; UPDATE audit_entry SET seq = 8 WHERE seq = -1" 7
check_tampered truncate "DELETE FROM audit_entry WHERE seq > $((n - 2))" $((n - 1))
check_tampered head "UPDATE audit_head SET hash = $zero32" "$n"
out=$($W audit verify --db "$db") || fail "the original was changed: $out"
echo "ok: intact log verifies; 7 kinds of tampering detected"
