/*
 * gov.h - the governance console's records: reviews of break-glass events
 * and the list of loaded access policy versions.
 */
#ifndef WEFT_STORE_GOV_H
#define WEFT_STORE_GOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- governance console (store_gov.c, sqlite/sqlite_gov.c) --------------------------- */
/* The outcome of a governance review of one break-glass event. */
struct store_bg_review {
    int64_t breakglass_id;
    char *outcome; /* appropriate | inappropriate | follow-up */
    char *note, *reviewer, *reviewer_role, *reviewed;
};
void store_bg_reviews_free(struct store_bg_review *r, int n);
/* Record a review (a later review of the same event supersedes, both kept). */
int store_bg_review_add(struct store *s, const struct store_bg_review *in);
/* The newest review of every reviewed event, by breakglass_id. */
int store_bg_review_list(struct store *s, struct store_bg_review **out, int *n);
/* Loaded versions of the access policy, newest first (text not included). */
struct store_policy_version {
    int64_t version;
    char *loaded, *loaded_by, *sha256;
};
void store_policy_versions_free(struct store_policy_version *v, int n);
int store_policy_version_list(struct store *s, struct store_policy_version **out, int *n);

#endif
