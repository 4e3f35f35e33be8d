#!/bin/sh
# check-layers.sh - fails when a file under src/ includes a header of a folder
# that is not below its own (docs/ARCHITECTURE.md "Layers").
#
#   scripts/check-layers.sh [ROOT]     check ROOT/src (default: this repository)
#   scripts/check-layers.sh --graph    print the folder include graph and exit
#
# A folder of src/ is a module (src/store/sqlite belongs to store; src/main.c
# is the folder "main").  LAYERS below is the one declaration of the order,
# lowest first: a folder may include its own headers and those of folders on
# lower lines, never a folder on its own line (peers) or above.  Only
# #include "..." lines count; system headers (<...>) are not ours.  A folder
# that is not in LAYERS fails the check until it is given a place.
set -eu

LAYERS='
core
domain
store
http
audit
identity
access
fhir
feeds dq
web synth
cmd
main
'

# Exact (file, include) pairs let through while another branch removes them
# ("src/FILE folder/header.h", one a line).  An entry that no longer matches
# an include fails the check, so the list cannot go stale.  Empty: the
# http/audit -> access cycles are gone (sign-in methods are registered with
# http by access; the principal type is core/principal.h).
ALLOW='
'

graph=0
if [ "${1:-}" = "--graph" ]; then
  graph=1
  shift
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
[ -d src ] || { echo "check-layers: no src/ under $root" >&2; exit 2; }

includes() {
  find src -name '*.[ch]' | LC_ALL=C sort | xargs grep -H -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' || true
}

check() {
  awk -v layers="$LAYERS" -v allow="$ALLOW" -v graph="$graph" '
  function folder_of_file(path,   p, n) {
    n = split(path, p, "/")
    return n == 2 ? "main" : p[2]          # src/main.c -> main; src/X/... -> X
  }
  BEGIN {
    nl = split(layers, lines, "\n"); rank = 0
    for (i = 1; i <= nl; i++) {
      if (lines[i] ~ /^[[:space:]]*$/) continue
      rank++; nf = split(lines[i], f, " ")
      for (j = 1; j <= nf; j++) lvl[f[j]] = rank
    }
    na = split(allow, al, "\n")
    for (i = 1; i <= na; i++) if (al[i] !~ /^[[:space:]]*$/) { allowed[al[i]] = 1; used[al[i]] = 0 }
    bad = 0
  }
  {
    file = $0; sub(/:.*/, "", file)
    inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
    from = folder_of_file(file)
    to = (inc ~ /\//) ? substr(inc, 1, index(inc, "/") - 1) : from
    if (graph) { if (from != to) edges[from " -> " to]++; next }
    if (!(from in lvl)) { unknown[from] = file; next }
    if (from == to) next
    if (!(to in lvl)) { printf "%s: includes \"%s\": folder %s is not in the layer list\n", file, inc, to; bad++; next }
    if (lvl[to] < lvl[from]) next
    key = file " " inc
    if (key in allowed) { used[key]++; next }
    printf "%s: includes \"%s\": %s may not include %s (%s)\n", file, inc, from, to,
           lvl[to] == lvl[from] ? "peers" : "a higher layer"
    bad++
  }
  END {
    if (graph) { for (e in edges) printf "%5d  %s\n", edges[e], e; exit 0 }
    for (u in unknown) { printf "%s: folder src/%s is not in the layer list (scripts/check-layers.sh LAYERS)\n", unknown[u], u; bad++ }
    for (k in used) if (!used[k]) { printf "allow-list entry \"%s\" matches no include: remove it\n", k; bad++ }
    if (bad) { printf "check-layers: %d include(s) against the layering (docs/ARCHITECTURE.md \"Layers\")\n", bad; exit 1 }
    print "check-layers: includes follow the layering"
  }'
}

if [ "$graph" = 1 ]; then
  includes | check | sort -k2
else
  includes | check
fi
