/* sqlite_app.c - registered SMART apps for SQLite (`weft app`), and the app a
 * code or app token was issued to (access_session.app). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_app.h"
#include "store/sqlite/sqlite_core.h"

const struct store_migration sqlite_migration_apps_1 = {
    "apps-1",
    "CREATE TABLE smart_app (client_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " redirect_uris TEXT NOT NULL, scopes TEXT, created TEXT NOT NULL, revoked TEXT);"
    "ALTER TABLE access_session ADD COLUMN app TEXT;",
};

int sqlite_app_add(struct store *s, const struct store_app *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO smart_app (client_id, name, redirect_uris,"
                                       " scopes, created) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, in->client_id);
    sqlite_bind_text(st, 2, in->name);
    sqlite_bind_text(st, 3, in->redirect_uris);
    sqlite_bind_text(st, 4, in->scopes);
    sqlite_bind_text(st, 5, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return store_fail(s, WEFT_EEXIST, "an app with client id '%s' is already registered",
                          in->client_id);
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "writing app");
    return WEFT_OK;
}

static void fill(sqlite3_stmt *st, struct store_app *a)
{
    a->client_id = sqlite_col_strdup(st, 0);
    a->name = sqlite_col_strdup(st, 1);
    a->redirect_uris = sqlite_col_strdup(st, 2);
    a->scopes = sqlite_col_strdup(st, 3);
    a->created = sqlite_col_strdup(st, 4);
    a->revoked = sqlite_col_strdup(st, 5);
}

int sqlite_app_get(struct store *s, const char *client_id, struct store_app *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT client_id, name, redirect_uris, scopes, created,"
                                       " revoked FROM smart_app WHERE client_id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, client_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        fill(st, out);
        rc = WEFT_OK;
    } else {
        rc = rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading app");
    }
    sqlite3_reset(st);
    return rc;
}

int sqlite_app_list(struct store *s, struct store_app **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT client_id, name, redirect_uris, scopes, created,"
                                       " revoked FROM smart_app ORDER BY client_id");
    if (!st)
        return WEFT_EDB;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        memset(&(*out)[*n], 0, sizeof **out);
        fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        for (int i = 0; i < *n; i++)
            store_app_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing apps");
    }
    return WEFT_OK;
}

int sqlite_app_revoke(struct store *s, const char *client_id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "UPDATE smart_app SET revoked = ? WHERE client_id = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, client_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "revoking app");
    if (sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no active app with client id '%s'", client_id);
    return WEFT_OK;
}
