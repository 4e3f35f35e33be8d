/*
 * store_gov.c - dispatchers for the governance console's store operations
 * (break-glass review outcomes, policy history) and their release
 * functions.  SQLite: sqlite/sqlite_gov.c.
 */
#include <stdlib.h>

#include "store/store_int.h"

void store_bg_reviews_free(struct store_bg_review *r, int n)
{
    for (int i = 0; i < n; i++) {
        free(r[i].outcome);
        free(r[i].note);
        free(r[i].reviewer);
        free(r[i].reviewer_role);
        free(r[i].reviewed);
    }
    free(r);
}

void store_policy_versions_free(struct store_policy_version *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].loaded);
        free(v[i].loaded_by);
        free(v[i].sha256);
    }
    free(v);
}

int store_bg_review_add(struct store *s, const struct store_bg_review *in)
{
    return STORE_CALL(s, gov, bg_review_add, in);
}

int store_bg_review_list(struct store *s, struct store_bg_review **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, gov, bg_review_list, out, n);
}

int store_policy_version_list(struct store *s, struct store_policy_version **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, gov, policy_version_list, out, n);
}
