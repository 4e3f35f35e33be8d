#!/usr/bin/env bash
# weft-test-postgres-skip: checks the source tree; touches no database
# identity_seam.sh - identity owns "who is this" (issue 22 item 3): no module
# outside src/identity calls the store operations that create, link, merge or
# split persons or record identity decisions; they go through the identity
# API (src/identity/identity.h).  The store (src/store) implements them and is
# the only other place they may appear.  Also: the matching internals
# (identity/mpi.h) are included only inside src/identity and by `weft person`
# (src/cmd/cmd_person.c), the identity command.
set -u
root="${WEFT_ROOT:?}"
fail() { echo "FAIL: $*"; exit 1; }
cd "$root" || fail "no repository at $root"
[ -f src/identity/identity.h ] || fail "src/identity/identity.h (the identity API) is missing"

ops='store_person_by_nhs|store_person_by_local|store_person_nhs_link|store_person_merge|store_person_merge_many|store_iddecision_add_many|store_idreview_add_many|store_person_unmerge|store_person_split|store_idrec_put|store_iddecision_add|store_idreview_add|store_idreview_decide|store_idnonmatch_add'
# a call is the name followed by "(" (comments naming an operation are fine)
hits=$(grep -rnE "\\b($ops)[[:space:]]*\\(" src --include='*.c' --include='*.h' |
  grep -vE '^src/(identity|store)/')
if [ -n "$hits" ]; then
  echo "$hits"
  fail "person-creating or person-linking store operations called outside src/identity"
fi
# the check must see what it checks: the operations exist and identity calls them
for op in store_person_by_nhs store_person_by_local store_person_nhs_link store_person_merge; do
  grep -rqE "\\b$op[[:space:]]*\\(" src/identity || fail "src/identity no longer calls $op (update this check)"
  grep -qE "\\b$op[[:space:]]*\\(" src/store/*.h || fail "$op is not a store operation (update this check)"
done

inc=$(grep -rnE '#include "identity/(mpi|block|model|link)\.h"' src --include='*.c' --include='*.h' |
  grep -vE '^src/identity/|^src/cmd/cmd_person\.c:')
if [ -n "$inc" ]; then
  echo "$inc"
  fail "identity internals included outside src/identity: use identity/identity.h"
fi
echo "ok: person-creating store operations are called only from src/identity"
