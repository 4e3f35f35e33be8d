#!/usr/bin/env bash
# weft-test-postgres-skip: checks the source tree (scripts/check-layers.sh); touches no database
# layers_check.sh - scripts/check-layers.sh (run by make test and make check)
# passes on this tree, and fails, naming the file and the include, on a copy
# of src/ given each kind of bad include: a lower layer including a higher
# one, a folder including a peer, a folder missing from the layer list, and
# an allow-list entry that no longer matches an include.  Lower and
# same-folder includes stay allowed.  docs/ARCHITECTURE.md "Layers".
set -u
root="${WEFT_ROOT:?}"
tmp="${WEFT_TMP:?}"
check="$root/scripts/check-layers.sh"
fail() { echo "FAIL: $*"; exit 1; }
cd "$tmp" || exit 1 # scratch files (out) stay in this test's folder

# 0. this tree follows the layering
"$check" "$root" >out 2>&1 || { cat out; fail "the tree itself fails the layering check"; }

fresh() { rm -rf "$tmp/c"; mkdir -p "$tmp/c"; cp -r "$root/src" "$tmp/c/src"; }
expect_fail() { # what, pattern
  "$check" "$tmp/c" >out 2>&1; rc=$?
  [ $rc -eq 1 ] || { cat out; fail "$1: exit $rc, want 1"; }
  grep -qF -- "$2" out || { cat out; fail "$1: output does not say '$2'"; }
}
expect_pass() { # what
  "$check" "$tmp/c" >out 2>&1 || { cat out; fail "$1: refused"; }
}

# 1. an unchanged copy passes (the check reads the tree it is given)
fresh
expect_pass "unchanged copy"

# 2. core (the lowest layer) including web (the highest but cmd)
fresh
printf '#include "web/html.h"\n' >>"$tmp/c/src/core/buf.c"
expect_fail "core -> web" 'src/core/buf.c: includes "web/html.h": core may not include web (a higher layer)'

# 3. the store including the FHIR API, from a header, with spaces after '#'
fresh
printf '#  include "fhir/api.h"\n' >>"$tmp/c/src/store/store.h"
expect_fail "store -> fhir" 'src/store/store.h: includes "fhir/api.h": store may not include fhir'

# 4. peers: feeds and dq share a layer and may not include each other
fresh
printf '#include "dq/dq.h"\n' >>"$tmp/c/src/feeds/ingest.c"
expect_fail "feeds -> dq" 'src/feeds/ingest.c: includes "dq/dq.h": feeds may not include dq (peers)'

# 5. a subfolder belongs to its folder: store/sqlite including access
fresh
f=$(ls "$tmp"/c/src/store/sqlite/*.c | head -1); rel=${f#"$tmp/c/"}
printf '#include "access/authz.h"\n' >>"$f"
expect_fail "store/sqlite -> access" "$rel: includes \"access/authz.h\": store may not include access"

# 6. a new folder must be given a place in the layer list
fresh
mkdir -p "$tmp/c/src/newmod"
printf '#include "core/buf.h"\n' >"$tmp/c/src/newmod/x.c"
expect_fail "unknown folder" 'folder src/newmod is not in the layer list'

# 7. downward and same-folder includes are fine
fresh
printf '#include "core/buf.h"\n#include "domain/category.h"\n' >>"$tmp/c/src/web/html.c"
printf '#include "html.h"\n' >>"$tmp/c/src/web/chart.c"
printf '#include <stdio.h>\n' >>"$tmp/c/src/core/buf.c"
expect_pass "downward, same-folder and system includes"

# 8. an allow-list entry whose include is gone fails (the list cannot go
# stale); only while the list has entries
entry=$(awk "/^ALLOW='/{on=1; next} on && /^'/{exit} on && NF==2 {print; exit}" "$check")
if [ -n "$entry" ]; then
  file=${entry%% *}; inc=${entry#* }
  fresh
  [ -f "$tmp/c/$file" ] || fail "allow-list names $file, which does not exist"
  grep -vF "\"$inc\"" "$tmp/c/$file" >"$tmp/x" && cp "$tmp/x" "$tmp/c/$file"
  expect_fail "stale allow-list entry" "allow-list entry \"$entry\" matches no include"
fi
echo "layers check: every case as expected"
