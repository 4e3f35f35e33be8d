/*
 * sqlite_gov.h - SQLite implementations of the governance console's store
 * operations (sqlite_gov.c): break-glass review outcomes, policy history.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_GOV_H
#define WEFT_STORE_SQLITE_SQLITE_GOV_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_gov_1;

int sqlite_bg_review_add(struct store *s, const struct store_bg_review *in);
int sqlite_bg_review_list(struct store *s, struct store_bg_review **out, int *n);
int sqlite_policy_version_list(struct store *s, struct store_policy_version **out, int *n);

#endif
