#!/usr/bin/env bash
# pg-cluster.sh - a throwaway PostgreSQL cluster for the tests, in a folder of
# its own, owned by an unprivileged user, reachable only from this machine.
#
#   tests/pg-cluster.sh start [DIR]   make DIR (default: a fresh mktemp -d),
#                                     initdb, start the server; print
#                                     WEFT_PG_DIR=DIR and WEFT_TEST_DB=URL lines
#   tests/pg-cluster.sh env DIR       print those lines again for a running cluster
#   tests/pg-cluster.sh createdb DIR NAME   make database NAME, print its URL
#   tests/pg-cluster.sh down DIR      stop the server, keep the cluster (an outage)
#   tests/pg-cluster.sh up DIR        start it again after down
#   tests/pg-cluster.sh stop DIR      stop the server and remove DIR
#
# The server listens on 127.0.0.1 on a free port and on a Unix socket in DIR
# (so `host=DIR port=PORT dbname=weft user=weft` works too); authentication is
# "trust" for those two only: the cluster lives as long as a test run and
# holds nothing but test data.  initdb and postgres refuse to run as root, so
# as root (CI) they run as the user "postgres" (made by Debian's
# postgresql-common package) or else "nobody", through runuser.
# fsync stays on: the durability tests and the load benchmark measure what a
# real deployment does.
set -euo pipefail

die() { echo "pg-cluster: $*" >&2; exit 1; }

bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(readlink -f "$(command -v initdb)")"; return; }
  die "initdb not found: install the Debian package postgresql-15 (scripts/install-deps.sh)"
}

# Run "$@" as the cluster's owner (root cannot run the server).
as_owner() {
  if [ "$(id -u)" -ne 0 ]; then "$@"; return; fi
  runuser -u "$(cat "$DIR/owner")" -- "$@"
}

print_env() {
  local port
  port=$(cat "$DIR/port")
  echo "WEFT_PG_DIR=$DIR"
  echo "WEFT_TEST_DB=postgres://weft@127.0.0.1:$port/weft"
}

cmd=${1:-}
case "$cmd" in
start)
  BIN=$(bindir)
  if [ -n "${2:-}" ]; then DIR=$2; mkdir -p "$DIR"; else DIR=$(mktemp -d "${TMPDIR:-/tmp}/weft-pg.XXXXXX"); fi
  DIR=$(cd "$DIR" && pwd)
  [ -e "$DIR/data" ] && die "$DIR already holds a cluster"
  owner=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
    chown "$owner" "$DIR"
    chmod 0700 "$DIR"
  fi
  echo "$owner" >"$DIR/owner"
  # A free port: bound and released by the kernel's choice (a race with
  # another process taking it in between makes pg_ctl fail below, loudly).
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "$port" >"$DIR/port"
  [ "$(id -u)" -eq 0 ] && chown "$owner" "$DIR/owner" "$DIR/port"
  as_owner "$BIN/initdb" -D "$DIR/data" -U weft --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  # A small cluster shaped for tests on a shared 2-core machine: few
  # connections' worth of memory, no autovacuum storms mid-test.
  cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
max_connections = 200
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 4
logging_collector = off
EOF
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$DIR/server.log" >&2; die "the server did not start"; }
  as_owner "$BIN/createdb" -h "$DIR" -p "$port" -U weft weft \
    || die "createdb weft failed"
  print_env
  ;;
env)
  DIR=${2:?usage: pg-cluster.sh env DIR}
  [ -f "$DIR/port" ] || die "$DIR holds no cluster"
  print_env
  ;;
createdb)
  DIR=${2:?usage: pg-cluster.sh createdb DIR NAME}
  name=${3:?usage: pg-cluster.sh createdb DIR NAME}
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name '$name': lower-case letters, digits, _"
  BIN=$(bindir)
  port=$(cat "$DIR/port")
  as_owner "$BIN/createdb" -h "$DIR" -p "$port" -U weft "$name" || die "createdb $name failed"
  echo "postgres://weft@127.0.0.1:$port/$name"
  ;;
down)
  # stop the server but keep the cluster (a database outage in a test)
  DIR=${2:?usage: pg-cluster.sh down DIR}
  [ -d "$DIR/data" ] || die "$DIR holds no cluster"
  BIN=$(bindir)
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
  ;;
up)
  # start a cluster's server again after down (same port, same data)
  DIR=${2:?usage: pg-cluster.sh up DIR}
  [ -d "$DIR/data" ] || die "$DIR holds no cluster"
  BIN=$(bindir)
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$DIR/server.log" >&2; die "the server did not start"; }
  ;;
stop)
  DIR=${2:?usage: pg-cluster.sh stop DIR}
  [ -d "$DIR/data" ] || die "$DIR holds no cluster"
  BIN=$(bindir)
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  ;;
*)
  echo "usage: tests/pg-cluster.sh start [DIR] | env DIR | createdb DIR NAME | down DIR | up DIR | stop DIR" >&2
  exit 2
  ;;
esac
