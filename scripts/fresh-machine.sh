#!/usr/bin/env bash
# fresh-machine.sh - proves the README's two commands on a fresh Debian 12:
# builds a clean root with `debootstrap --variant=minbase bookworm` (the
# Debian mirror only: no make, git or curl in it), copies a clone of this
# repository (its committed HEAD) in, and runs, in a chroot, as root:
#
#   sh scripts/setup.sh demo    (with DEMO_EXIT=1 so it stops after checking the API)
#   sh scripts/setup.sh test
#
#   scripts/fresh-machine.sh [WORKDIR]      (default /var/tmp/weft-fresh; root needed)
#
# Everything runs in a private mount namespace (unshare -m), so /proc, /sys,
# /dev/pts and /dev/shm mounted for the chroot go away with it.  A
# policy-rc.d in the chroot stops package scripts from starting services
# (postgresql) on the host's network.  The demo's ports are chosen free on
# the host (a chroot shares the host's network).  The log is WORKDIR/log;
# its last lines go into docs/OPERATIONS.md.  MIRROR overrides the Debian
# mirror; WEFT_DATA=DIR copies the shared test data in beside the clone so
# the tests that need it run instead of skipping.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/weft-fresh}
mirror=${MIRROR:-http://deb.debian.org/debian}
root="$work/root"
log="$work/log"
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-machine: run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "fresh-machine: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
mkdir -p "$work"
# A root left by an earlier run is removed first (its mounts died with the
# namespace that made them; refuse if something is still mounted there).
if [ -d "$root" ]; then
  if grep -q " $root/" /proc/mounts; then
    echo "fresh-machine: something is still mounted under $root" >&2
    exit 1
  fi
  rm -rf "$root"
fi
exec > >(tee "$log") 2>&1
t0=$(date +%s)
stamp() { echo "[fresh-machine +$(($(date +%s) - t0))s] $*"; }

stamp "debootstrap --variant=minbase bookworm $root $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log"; exit 1; }
for c in make git curl node npm gcc; do
  if chroot "$root" sh -c "command -v $c" >/dev/null 2>&1; then
    stamp "unexpected: the fresh root already has $c"
  fi
done
stamp "fresh root has no make, git, curl, node, npm, gcc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"

stamp "copying a clone of $(git -C "$repo" rev-parse --short HEAD) ($(git -C "$repo" rev-parse --abbrev-ref HEAD)) to /root/weft"
git clone -q --no-hardlinks "$repo" "$root/root/weft"
rm -rf "$root/root/weft/.git"
if [ -n "${WEFT_DATA:-}" ] && [ -d "$WEFT_DATA" ]; then
  mkdir -p "$root/root/shared"
  cp -a "$WEFT_DATA" "$root/root/shared/data"
fi
# Behind a TLS-intercepting egress proxy (the machine this was first run on
# has one) npm in the chroot must trust the proxy's CA, as npm on the host
# does: when NODE_EXTRA_CA_CERTS names a file on the host it is copied in and
# named the same way inside.  On an ordinary network nothing is added.
extra_ca=""
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$root/etc/fresh-machine-extra-ca.pem"
  extra_ca=/etc/fresh-machine-extra-ca.pem
  stamp "npm in the chroot trusts the host's NODE_EXTRA_CA_CERTS too (egress proxy)"
fi
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
set -- $ports
http_port=$1 mllp_port=$2

rc=0
unshare -m --propagation private bash -s "$root" "$http_port" "$mllp_port" "$extra_ca" <<'INNER' || rc=$?
set -u
root=$1 http_port=$2 mllp_port=$3 extra_ca=$4
t0=$(date +%s)
stamp() { echo "[fresh-machine chroot +$(($(date +%s) - t0))s] $*"; }
# the root a mount point of its own, as on a real machine (tests that make
# private mount namespaces need / to be one)
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
mount -t tmpfs -o size=1g tmpfs "$root/dev/shm"
run() {
  chroot "$root" env -i HOME=/root TERM=dumb LANG=C.UTF-8 ${extra_ca:+NODE_EXTRA_CA_CERTS=$extra_ca} \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
stamp "sh scripts/setup.sh demo  (HTTP 127.0.0.1:$http_port, MLLP 127.0.0.1:$mllp_port, DEMO_EXIT=1)"
run sh -c "cd /root/weft && DEMO_EXIT=1 HTTP=127.0.0.1:$http_port MLLP=127.0.0.1:$mllp_port sh scripts/setup.sh demo"
demo_rc=$?
stamp "demo exit status $demo_rc"
run sh -c 'echo "node $(node --version), npm $(npm --version), $(gcc --version | head -n 1), $(chromium --version)"'
stamp "sh scripts/setup.sh test"
run sh -c "cd /root/weft && sh scripts/setup.sh test"
test_rc=$?
stamp "test exit status $test_rc"
[ $demo_rc -eq 0 ] && [ $test_rc -eq 0 ]
INNER
stamp "done: exit status $rc (log $log)"
exit $rc
