#!/usr/bin/env bash
# weft-test-postgres-skip: configuration-file and option errors, and a corrupt SQLite file (random bytes) named once in each command's error; its databases are the files the config names
# cli_config_errors.sh - configuration mistakes are errors that say where they
# are, once: an unknown config key names the file and line, an unknown option
# is refused, a key meant for another command is accepted (one file serves
# every command), and a corrupt database is named in one message without a
# repeated prefix.
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
fail() { echo "FAIL: $*"; exit 1; }
cd "$tmp"

# 1. an unknown key in ./weft.conf: exit 2, "weft.conf:3: unknown key 'bogus-key'"
printf '# a comment\ndb = a.db\nbogus-key = 1\n' >weft.conf
"$bin" init >out 2>&1; rc=$?
[ $rc -eq 2 ] || { cat out; fail "unknown config key: exit $rc, want 2"; }
grep -q "weft.conf:3: unknown key 'bogus-key'" out || { cat out; fail "message does not name file and line"; }
[ -e a.db ] && fail "init ran despite the bad config file"
rm weft.conf

# 2. the same through --config and $WEFT_CONFIG, with the line number counted
printf 'db = a.db\n\n\n  zzz=2\n' >c.conf
"$bin" init --config c.conf >out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "c.conf:4: unknown key 'zzz'" out || { cat out; fail "--config: rc $rc"; }
WEFT_CONFIG=c.conf "$bin" feed list >out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "c.conf:4: unknown key 'zzz'" out || { cat out; fail "WEFT_CONFIG: rc $rc"; }

# 3. a line that is not key = value
printf 'db = a.db\njust words\n' >c.conf
"$bin" init --config c.conf >out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "c.conf:2: expected 'key = value'" out || { cat out; fail "no '=': rc $rc"; }

# 4. keys of other commands are fine in a shared file (serve's http, mllp;
#    synth's people) and the command's own keys are used
printf 'db = a.db\nhttp = 127.0.0.1:8080\nmllp = 127.0.0.1:2575\npeople = 10\nlog-level = info\n' >c.conf
"$bin" init --config c.conf >out 2>&1 || { cat out; fail "a shared config file was refused"; }
[ -s a.db ] || fail "init did not use db from the config file"

# 4b. every option of every command (as --help lists them, subcommands too)
#     is a valid config key: a command added without its option table in
#     main.c's list would make its keys errors
cmds=$("$bin" help 2>&1 | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$cmds" ] || fail "weft help lists no commands"
: >all.conf
for c in $cmds "synth register"; do
  # shellcheck disable=SC2086
  "$bin" $c --help 2>/dev/null | grep -oE '^  --[a-z0-9-]+' | sed 's/^  --//' |
    grep -vx 'config\|help' | sed 's/$/ = 1/' >>all.conf
done
[ "$(wc -l <all.conf)" -gt 40 ] || { cat all.conf; fail "too few options found in the help texts"; }
sed -i 's/^db = 1$/db = b.db/' all.conf
"$bin" init --config all.conf >out 2>&1 || { cat out; fail "a documented option is not a valid config key"; }

# 5. unknown options on the command line
"$bin" init --db a.db --bogus >out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '--bogus'" out || { cat out; fail "unknown option: rc $rc"; }
"$bin" serve --db a.db --htp 127.0.0.1:0 >out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "unknown option '--htp'" out || { cat out; fail "serve unknown option: rc $rc"; }

# 6. a corrupt database: one message, the database named once
head -c 8192 /dev/urandom >bad.db
for c in "init" "serve --http 127.0.0.1:0" "feed list" "audit verify" "org list" "client list"; do
  # shellcheck disable=SC2086
  "$bin" $c --db bad.db >out 2>&1 && fail "weft $c accepted a corrupt database"
  n=$(grep -o "bad.db" out | wc -l)
  [ "$n" -eq 1 ] || { cat out; fail "weft $c: 'bad.db' named $n times"; }
  grep -q "file is not a database" out || { cat out; fail "weft $c: reason missing"; }
  grep -q "cannot open.*cannot open" out && { cat out; fail "weft $c: repeated prefix"; }
  [ "$(wc -l <out)" -eq 1 ] || { cat out; fail "weft $c: more than one line"; }
done
echo ok
