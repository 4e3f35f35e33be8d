/*
 * sqlite_proxy.c - SQLite table and operations for proxy access grants
 * (store/proxy.h).
 *
 * Workload: a handful of grants per person, written by staff; read on every
 * citizen page a proxy opens (by id: the primary key) and on the citizen's
 * home page (by person: two indexes, one per side of the grant).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_proxy.h"

const struct store_migration sqlite_migration_proxy_1 = {
    "proxy-1",
    "CREATE TABLE proxy_grant (id INTEGER PRIMARY KEY, proxy_person_id TEXT NOT NULL,"
    " proxy_nhs TEXT NOT NULL, person_id TEXT NOT NULL, nhs TEXT NOT NULL, name TEXT,"
    " scope TEXT NOT NULL, basis TEXT NOT NULL, reason TEXT NOT NULL, until TEXT NOT NULL,"
    " created TEXT NOT NULL, created_by TEXT NOT NULL, revoked TEXT, revoked_by TEXT,"
    " revoked_reason TEXT);"
    "CREATE INDEX proxy_grant_proxy ON proxy_grant (proxy_person_id, id);"
    "CREATE INDEX proxy_grant_person ON proxy_grant (person_id, id);",
};

#define GRANT_COLS                                                                                 \
    "id, proxy_person_id, proxy_nhs, person_id, nhs, name, scope, basis, reason, until, created,"  \
    " created_by, revoked, revoked_by, revoked_reason"

static void grant_fill(sqlite3_stmt *st, struct store_proxy_grant *g)
{
    memset(g, 0, sizeof *g);
    g->id = sqlite3_column_int64(st, 0);
    char **f[] = {
        &g->proxy_person_id, &g->proxy_nhs, &g->person_id,  &g->nhs,           &g->name,
        &g->scope,           &g->basis,     &g->reason,     &g->until,         &g->created,
        &g->created_by,      &g->revoked,   &g->revoked_by, &g->revoked_reason};
    for (int i = 0; i < 14; i++)
        *f[i] = sqlite_col_strdup(st, i + 1);
}

static int step_done(struct sqlite_store *ss, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, what);
}

int sqlite_proxy_grant_add(struct store *s, const struct store_proxy_grant *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO proxy_grant (proxy_person_id, proxy_nhs,"
                                       " person_id, nhs, name, scope, basis, reason, until,"
                                       " created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                                       " ?, ?)");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {in->proxy_person_id, in->proxy_nhs, in->person_id, in->nhs,   in->name,
                       in->scope,           in->basis,     in->reason,    in->until, in->created,
                       in->created_by};
    for (int i = 0; i < 11; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    int rc = step_done(ss, st, "adding a proxy grant");
    if (rc == WEFT_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_proxy_grant_get(struct store *s, int64_t id, struct store_proxy_grant *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " GRANT_COLS " FROM proxy_grant WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        grant_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_fail(s, WEFT_ENOTFOUND, "no proxy grant %lld", (long long)id);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading a proxy grant");
}

int sqlite_proxy_grant_list(struct store *s, const char *person_id, struct store_proxy_grant **out,
                            int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " GRANT_COLS " FROM proxy_grant WHERE ?1 IS NULL"
                                       " OR proxy_person_id = ?1 OR person_id = ?1 ORDER BY id");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        grant_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing proxy grants");
}

int sqlite_proxy_grant_revoke(struct store *s, int64_t id, const char *time, const char *by,
                              const char *reason)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE proxy_grant SET revoked = ?2, revoked_by = ?3,"
                                       " revoked_reason = ?4 WHERE id = ?1 AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite_bind_text(st, 2, time);
    sqlite_bind_text(st, 3, by);
    sqlite_bind_text(st, 4, reason);
    int rc = step_done(ss, st, "revoking a proxy grant");
    if (rc || sqlite3_changes(ss->db) > 0)
        return rc;
    struct store_proxy_grant g;
    rc = sqlite_proxy_grant_get(s, id, &g);
    if (rc)
        return rc;
    store_proxy_grant_clear(&g);
    return store_fail(s, WEFT_ECONFLICT, "proxy grant %lld is revoked already", (long long)id);
}
