/* sqlite_client.c - API clients for SQLite (only token hashes are kept). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_core.h"

/* client-cert-1: an API client's token may be bound to a TLS client
 * certificate (lower-case hex SHA-256 of the DER certificate; NULL: not
 * bound). */
const struct store_migration sqlite_migration_client_cert_1 = {
    "client-cert-1",
    "ALTER TABLE client ADD COLUMN client_cert_sha256 TEXT;",
};

/* client-purpose-1: what an API client's access is for (store/access.h):
 * direct care (every client so far) or secondary uses. */
const struct store_migration sqlite_migration_client_purpose_1 = {
    "client-purpose-1",
    "ALTER TABLE client ADD COLUMN purpose TEXT NOT NULL DEFAULT 'direct';",
};

int sqlite_client_set_purpose(struct store *s, int64_t id, const char *purpose)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE client SET purpose = ? WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, purpose);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "setting a client's purpose");
    return sqlite3_changes(ss->db)
               ? WEFT_OK
               : store_fail(s, WEFT_ENOTFOUND, "no client with id %lld", (long long)id);
}

int sqlite_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                      const char *token_hash, const char *cert_sha256, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO client (name, org, scopes, token_hash,"
                                       " created, client_cert_sha256) VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, name);
    sqlite_bind_text(st, 2, org);
    sqlite_bind_text(st, 3, scopes);
    sqlite_bind_text(st, 4, token_hash);
    sqlite_bind_text(st, 5, now);
    sqlite_bind_text(st, 6, cert_sha256);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return store_fail(s, WEFT_EEXIST, "a client with this token already exists");
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "writing client");
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return WEFT_OK;
}

static void fill(sqlite3_stmt *st, struct store_client *c)
{
    c->id = sqlite3_column_int64(st, 0);
    c->name = sqlite_col_strdup(st, 1);
    c->org = sqlite_col_strdup(st, 2);
    c->scopes = sqlite_col_strdup(st, 3);
    c->created = sqlite_col_strdup(st, 4);
    c->revoked = sqlite_col_strdup(st, 5);
    c->client_cert_sha256 = sqlite_col_strdup(st, 6);
    c->purpose = sqlite_col_strdup(st, 7);
}

int sqlite_client_by_hash(struct store *s, const char *token_hash, struct store_client *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT id, name, org, scopes, created, revoked, client_cert_sha256, purpose"
            " FROM client"
            " WHERE token_hash = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, token_hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        fill(st, out);
        rc = WEFT_OK;
    } else {
        rc = rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading client");
    }
    sqlite3_reset(st);
    return rc;
}

int sqlite_client_list(struct store *s, struct store_client **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT id, name, org, scopes, created, revoked, client_cert_sha256, purpose"
            " FROM client ORDER BY id");
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
            store_client_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing clients");
    }
    return WEFT_OK;
}

int sqlite_client_revoke(struct store *s, int64_t id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "UPDATE client SET revoked = ? WHERE id = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "revoking client");
    if (sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no active client with id %lld", (long long)id);
    return WEFT_OK;
}
