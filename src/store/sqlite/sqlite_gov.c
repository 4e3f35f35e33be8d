/*
 * sqlite_gov.c - the governance console's tables and reads: the outcome of
 * each break-glass review (migration gov-1: every review kept, the newest
 * one stands) and the access policy's version history (policy_version,
 * migration access-1).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_gov.h"

const struct store_migration sqlite_migration_gov_1 = {
    "gov-1",
    "CREATE TABLE breakglass_review (id INTEGER PRIMARY KEY, breakglass_id INTEGER NOT NULL,"
    " outcome TEXT NOT NULL, note TEXT, reviewer TEXT NOT NULL, reviewer_role TEXT,"
    " reviewed TEXT NOT NULL);"
    "CREATE INDEX breakglass_review_bg ON breakglass_review (breakglass_id, id);",
};

int sqlite_bg_review_add(struct store *s, const struct store_bg_review *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "INSERT INTO breakglass_review (breakglass_id, outcome, note,"
                        " reviewer, reviewer_role, reviewed) VALUES (?,?,?,?,?,?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, in->breakglass_id);
    sqlite_bind_text(st, 2, in->outcome);
    sqlite_bind_text(st, 3, in->note);
    sqlite_bind_text(st, 4, in->reviewer);
    sqlite_bind_text(st, 5, in->reviewer_role);
    sqlite_bind_text(st, 6, in->reviewed);
    int rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "recording a review");
    sqlite3_reset(st);
    return rc;
}

int sqlite_bg_review_list(struct store *s, struct store_bg_review **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT breakglass_id, outcome, note, reviewer, reviewer_role, reviewed"
            " FROM breakglass_review r WHERE id = (SELECT max(id) FROM breakglass_review"
            " WHERE breakglass_id = r.breakglass_id) ORDER BY breakglass_id");
    if (!st)
        return WEFT_EDB;
    *out = NULL;
    *n = 0;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_bg_review *r = &(*out)[(*n)++];
        r->breakglass_id = sqlite3_column_int64(st, 0);
        r->outcome = sqlite_col_strdup(st, 1);
        r->note = sqlite_col_strdup(st, 2);
        r->reviewer = sqlite_col_strdup(st, 3);
        r->reviewer_role = sqlite_col_strdup(st, 4);
        r->reviewed = sqlite_col_strdup(st, 5);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing reviews");
}

int sqlite_policy_version_list(struct store *s, struct store_policy_version **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT version, loaded, loaded_by, sha256 FROM policy_version ORDER BY version DESC");
    if (!st)
        return WEFT_EDB;
    *out = NULL;
    *n = 0;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_policy_version *v = &(*out)[(*n)++];
        v->version = sqlite3_column_int64(st, 0);
        v->loaded = sqlite_col_strdup(st, 1);
        v->loaded_by = sqlite_col_strdup(st, 2);
        v->sha256 = sqlite_col_strdup(st, 3);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing policy versions");
}
