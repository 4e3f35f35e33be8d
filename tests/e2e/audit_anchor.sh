#!/usr/bin/env bash
# audit_anchor.sh - the audit chain's head anchored outside the database
# (issue 16 item 10): someone who can write the database deletes the newest
# entries and rewrites audit_head to the new last row, or rewrites the whole
# chain and its head.  The chain is then consistent with itself: verify
# without an anchor exits 0 but must say what it cannot prove; verify
# --anchor FILE must say TAMPERED.  Also: `weft audit anchor` appends lines,
# `weft serve --audit-anchor FILE` writes them at start and stop, a damaged
# anchor file is refused naming its line, `weft audit list --nhs N`.
# On PostgreSQL too (WEFT_TEST_DB): the tampering is done with psql on
# copies made with CREATE DATABASE ... TEMPLATE, the chain recomputed in
# PL/pgSQL (sha256() over the same encoding as src/audit/audit.c).  Several
# nodes sharing the anchor job: serve_two_nodes.py.
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
  copy_db() { # NAME: a fresh copy of $db, its URL
    sql "$admin" "CREATE DATABASE ${db##*/}_$1 TEMPLATE ${db##*/}" >&2 || return 1
    echo "${db%/*}/${db##*/}_$1"
  }
  drop="DROP TRIGGER audit_entry_append_only ON audit_entry;"
  ;;
*)
  command -v sqlite3 >/dev/null || { echo "skip: sqlite3 command not installed"; exit 77; }
  sql() { sqlite3 "$1" "$2"; }
  copy_db() { cp "$db" "$T/$1.db" && echo "$T/$1.db"; }
  drop="DROP TRIGGER audit_entry_no_update; DROP TRIGGER audit_entry_no_delete;"
  ;;
esac
A=$T/anchor.log
$W init --db "$db" >/dev/null || fail "init"
for i in 1 2 3 4; do
  $W org add --db "$db" --ods "ORG$i" --name "Org $i" --type gp >/dev/null || fail "org add"
done
$W audit anchor --db "$db" --anchor "$A" || fail "audit anchor"
for i in 5 6 7 8; do
  $W org add --db "$db" --ods "ORG$i" --name "Org $i" --type gp >/dev/null || fail "org add"
done
$W audit anchor --db "$db" --anchor "$A" || fail "audit anchor (2)"
[ "$(wc -l <"$A")" -eq 2 ] || fail "anchor file should hold 2 lines: $(cat "$A")"
[ "$(stat -c %a "$A")" = 600 ] || fail "anchor file mode $(stat -c %a "$A")"
n=$(sql "$db" "SELECT count(*) FROM audit_entry")
grep -q "seq=$n rows=$n hash=" "$A" || fail "newest anchor does not name entry $n: $(cat "$A")"

out=$($W audit verify --db "$db" --anchor "$A") || fail "intact log with anchors: $out"
case "$out" in *"2 anchor(s) hold"*"entry $n"*) ;; *) fail "verify --anchor output: $out" ;; esac
out=$($W audit verify --db "$db") || fail "intact log: $out"
case "$out" in *"not proven without an anchor"*) ;; *) fail "verify without anchor must say what it cannot prove: $out" ;; esac

# 1. tail truncated and the head rewritten to the new last row
t=$(copy_db t) || fail "cannot copy the database"
sql "$t" "$drop DELETE FROM audit_entry WHERE seq > $((n - 3));
  UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_entry),
    hash = (SELECT hash FROM audit_entry ORDER BY seq DESC LIMIT 1),
    rows = (SELECT count(*) FROM audit_entry);" >/dev/null || fail "truncate sql"
out=$($W audit verify --db "$t") || fail "the chain alone should look intact here: $out"
case "$out" in *"not proven without an anchor"*) ;; *) fail "truncated, no anchor: $out" ;; esac
out=$($W audit verify --db "$t" --anchor "$A")
[ $? -eq 1 ] || fail "truncated tail + rewritten head not detected with the anchor: $out"
case "$out" in *TAMPERED*"entry $n"*truncated*) ;; *) fail "truncation output: $out" ;; esac
echo "detected truncation: $out"

# 2. the whole chain rewritten: entry 2 edited, every hash and the head recomputed
r=$(copy_db r) || fail "cannot copy the database"
case "$db" in
postgres*)
  sql "$r" "$drop UPDATE audit_entry SET what = 'Organization/ORGX' WHERE seq = 2;
DO \$\$
DECLARE e record; p bytea := decode(repeat('00', 32), 'hex'); enc text; h bytea; v text;
BEGIN
  FOR e IN SELECT * FROM audit_entry ORDER BY seq LOOP
    enc := 'weft-audit-1,' || e.seq || ',';
    FOREACH v IN ARRAY ARRAY[e.time, e.action, e.outcome, e.user_id, e.user_name, e.role, e.org,
        e.launcher, e.client, e.purpose, e.person_id, e.session_id, e.request_id, e.what, e.reason] LOOP
      enc := enc || CASE WHEN v IS NULL THEN '-,' ELSE octet_length(v) || ':' || v || ',' END;
    END LOOP;
    enc := enc || e.count || ',';
    h := sha256(p || convert_to(enc, 'UTF8'));
    UPDATE audit_entry SET prev = p, hash = h WHERE seq = e.seq;
    p := h;
  END LOOP;
  UPDATE audit_head SET hash = p WHERE id = 1;
END \$\$;" >/dev/null || fail "rewrite sql"
  ;;
*)
  python3 - "$r" <<'PY' || fail "rewrite script"
import hashlib, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.executescript("DROP TRIGGER audit_entry_no_update; DROP TRIGGER audit_entry_no_delete;")
cols = ["time", "action", "outcome", "user_id", "user_name", "role", "org", "launcher", "client",
        "purpose", "person_id", "session_id", "request_id", "what", "reason"]
con.execute("UPDATE audit_entry SET what = 'Organization/ORGX' WHERE seq = 2")
prev = bytes(32)
rows = con.execute(f"SELECT seq, {', '.join(cols)}, count FROM audit_entry ORDER BY seq").fetchall()
for r in rows:
    enc = b"weft-audit-1," + str(r[0]).encode() + b","
    for v in r[1:16]:
        enc += b"-," if v is None else str(len(v.encode())).encode() + b":" + v.encode() + b","
    enc += str(r[16]).encode() + b","
    h = hashlib.sha256(prev + enc).digest()
    con.execute("UPDATE audit_entry SET prev = ?, hash = ? WHERE seq = ?", (prev, h, r[0]))
    prev = h
con.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
con.commit()
PY
  ;;
esac
out=$($W audit verify --db "$r") || fail "a consistently rewritten chain should pass the chain check: $out"
out=$($W audit verify --db "$r" --anchor "$A")
[ $? -eq 1 ] || fail "rewritten chain not detected with the anchor: $out"
case "$out" in *TAMPERED*rewritten*) ;; *) fail "rewrite output: $out" ;; esac
echo "detected rewrite: $out"

# 3. a damaged anchor file is refused, naming the line
printf 'weft-audit-anchor 1 2026-01-01T00:00:00.000Z seq=1 rows=1 hash=zz\n' >"$T/bad.log"
out=$($W audit verify --db "$db" --anchor "$T/bad.log" 2>&1)
[ $? -eq 1 ] || fail "bad anchor file accepted: $out"
case "$out" in *"line 1 is not an anchor line"*) ;; *) fail "bad anchor file: $out" ;; esac

# 4. weft serve anchors at start and at stop
S=$T/serve-anchor.log
$W serve --db "$db" --http 127.0.0.1:0 --port-file "$T/port" --audit-anchor "$S" \
    --audit-anchor-interval 1 --dq-interval 0 >"$T/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { kill $pid; fail "serve did not start: $(cat "$T/serve.log")"; }
for _ in $(seq 100); do [ -s "$S" ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
[ -s "$S" ] || fail "serve wrote no anchor"
out=$($W audit verify --db "$db" --anchor "$S") || fail "serve's anchor does not verify: $out"

# 5. audit list --nhs: an unknown valid number, an invalid one
out=$($W audit list --db "$db" --nhs 9434765919) || fail "list --nhs: $out"
case "$out" in *"no person in the record holds NHS number"*) ;; *) fail "list --nhs unknown: $out" ;; esac
$W audit list --db "$db" --nhs 9434765918 >/dev/null 2>&1
[ $? -eq 2 ] || fail "list --nhs with an invalid number should be a usage error"
echo "ok"
