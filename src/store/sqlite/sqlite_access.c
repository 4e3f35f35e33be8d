/*
 * sqlite_access.c - SQLite tables and operations of the access subsystem:
 * organisations and their sharing agreements, launchers (host systems that
 * sign launch tokens), used token ids, sessions/tokens/codes, break-glass
 * events, objection state and the versioned policy text.
 *
 * Workload: the authorisation point asks agreement_in_force, session_get,
 * breakglass_active and objection_get on every request, so each is one
 * indexed lookup through a cached statement; everything else is rare.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_access.h"

const struct store_migration sqlite_migration_access_1 = {
    "access-1",
    "CREATE TABLE org (ods TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,"
    " created TEXT NOT NULL);"
    "CREATE TABLE agreement (id INTEGER PRIMARY KEY, ods TEXT NOT NULL, kind TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, created TEXT NOT NULL);"
    "CREATE INDEX agreement_ods ON agreement (ods, valid_from);"
    "CREATE TABLE launcher (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, org TEXT NOT NULL,"
    " issuer TEXT NOT NULL UNIQUE, alg TEXT NOT NULL, key TEXT NOT NULL, created TEXT NOT NULL,"
    " revoked TEXT);"
    "CREATE TABLE launch_jti (issuer TEXT NOT NULL, jti TEXT NOT NULL, expires TEXT NOT NULL,"
    " PRIMARY KEY (issuer, jti));"
    "CREATE INDEX launch_jti_expires ON launch_jti (expires);"
    "CREATE TABLE access_session (id_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT,"
    " user_id TEXT, user_name TEXT, role TEXT, org TEXT, launcher TEXT, purpose TEXT,"
    " person_id TEXT, scopes TEXT, csrf TEXT, created TEXT NOT NULL, expires TEXT NOT NULL,"
    " revoked TEXT);"
    "CREATE INDEX access_session_expires ON access_session (expires);"
    "CREATE TABLE breakglass (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, user_name TEXT,"
    " role TEXT, org TEXT NOT NULL, person_id TEXT NOT NULL, session TEXT,"
    " reason_code TEXT NOT NULL, reason_text TEXT NOT NULL, started TEXT NOT NULL,"
    " expires TEXT NOT NULL);"
    "CREATE INDEX breakglass_user ON breakglass (user_id, org, person_id, expires);"
    "CREATE INDEX breakglass_started ON breakglass (started);"
    "CREATE TABLE objection (person_id TEXT PRIMARY KEY, status TEXT NOT NULL,"
    " date TEXT NOT NULL, updated TEXT NOT NULL);"
    "CREATE TABLE policy_version (version INTEGER PRIMARY KEY, loaded TEXT NOT NULL,"
    " loaded_by TEXT, sha256 TEXT NOT NULL, text TEXT NOT NULL);",
};

/* Step a write statement to completion; maps a UNIQUE clash to WEFT_EEXIST. */
static int step_write(struct sqlite_store *ss, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(ss->db);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return WEFT_OK;
    if (rc == SQLITE_CONSTRAINT &&
        (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
        return store_fail(&ss->base, WEFT_EEXIST, "%s: already exists", what);
    return sqlite_fail(ss, what);
}

/* ---- organisations ---------------------------------------------------------- */

int sqlite_org_put(struct store *s, const char *ods, const char *name, const char *type)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "INSERT INTO org (ods, name, type, created) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (ods) DO UPDATE SET name = excluded.name,"
                        " type = excluded.type");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, ods);
    sqlite_bind_text(st, 2, name);
    sqlite_bind_text(st, 3, type);
    sqlite_bind_text(st, 4, now);
    return step_write(ss, st, "writing organisation");
}

static void org_fill(sqlite3_stmt *st, struct store_org *o)
{
    o->ods = sqlite_col_strdup(st, 0);
    o->name = sqlite_col_strdup(st, 1);
    o->type = sqlite_col_strdup(st, 2);
    o->created = sqlite_col_strdup(st, 3);
}

int sqlite_org_get(struct store *s, const char *ods, struct store_org *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT ods, name, type, created FROM org WHERE ods = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, ods);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        org_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading organisation");
}

int sqlite_org_list(struct store *s, struct store_org **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT ods, name, type, created FROM org ORDER BY ods");
    if (!st)
        return WEFT_EDB;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        memset(&(*out)[*n], 0, sizeof **out);
        org_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing organisations");
}

/* ---- agreements ---------------------------------------------------------------- */

int sqlite_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                         const char *to, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO agreement (ods, kind, valid_from, valid_to,"
                                       " created) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, ods);
    sqlite_bind_text(st, 2, kind);
    sqlite_bind_text(st, 3, from);
    sqlite_bind_text(st, 4, to);
    sqlite_bind_text(st, 5, now);
    int rc = step_write(ss, st, "writing agreement");
    if (rc == WEFT_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, ods, kind, valid_from, valid_to, created"
                                       " FROM agreement WHERE ?1 IS NULL OR ods = ?1"
                                       " ORDER BY ods, valid_from, id");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, ods);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_agreement *a = &(*out)[(*n)++];
        a->id = sqlite3_column_int64(st, 0);
        a->ods = sqlite_col_strdup(st, 1);
        a->kind = sqlite_col_strdup(st, 2);
        a->from = sqlite_col_strdup(st, 3);
        a->to = sqlite_col_strdup(st, 4);
        a->created = sqlite_col_strdup(st, 5);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing agreements");
}

int sqlite_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT 1 FROM agreement WHERE ods = ?1 AND valid_from <= ?2"
                                       " AND (valid_to IS NULL OR valid_to >= ?2) LIMIT 1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, ods);
    sqlite_bind_text(st, 2, day);
    int rc = sqlite3_step(st);
    *in_force = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading agreements");
}

/* ---- launchers and token ids ------------------------------------------------------ */

int sqlite_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO launcher (name, org, issuer, alg, key, created)"
                                       " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, in->name);
    sqlite_bind_text(st, 2, in->org);
    sqlite_bind_text(st, 3, in->issuer);
    sqlite_bind_text(st, 4, in->alg);
    sqlite_bind_text(st, 5, in->key);
    sqlite_bind_text(st, 6, now);
    int rc = step_write(ss, st, "writing launcher (name and issuer must be unique)");
    if (rc == WEFT_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

static void launcher_fill(sqlite3_stmt *st, struct store_launcher *l)
{
    l->id = sqlite3_column_int64(st, 0);
    l->name = sqlite_col_strdup(st, 1);
    l->org = sqlite_col_strdup(st, 2);
    l->issuer = sqlite_col_strdup(st, 3);
    l->alg = sqlite_col_strdup(st, 4);
    l->key = sqlite_col_strdup(st, 5);
    l->created = sqlite_col_strdup(st, 6);
    l->revoked = sqlite_col_strdup(st, 7);
}

int sqlite_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, name, org, issuer, alg, key, created, revoked"
                                       " FROM launcher WHERE issuer = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, issuer);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        launcher_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading launcher");
}

int sqlite_launcher_list(struct store *s, struct store_launcher **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, name, org, issuer, alg, key, created, revoked"
                                       " FROM launcher ORDER BY name");
    if (!st)
        return WEFT_EDB;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        launcher_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing launchers");
}

int sqlite_launcher_revoke(struct store *s, const char *name)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "UPDATE launcher SET revoked = ? WHERE name = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, name);
    int rc = step_write(ss, st, "revoking launcher");
    if (rc == WEFT_OK && sqlite3_changes(ss->db) == 0)
        return WEFT_ENOTFOUND;
    return rc;
}

int sqlite_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    /* Forget ids no live token could still carry: keeps the table small. */
    sqlite3_stmt *st = sqlite_stmt(ss, "DELETE FROM launch_jti WHERE expires < ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    int rc = step_write(ss, st, "purging token ids");
    if (rc)
        return rc;
    st = sqlite_stmt(ss, "INSERT INTO launch_jti (issuer, jti, expires) VALUES (?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, issuer);
    sqlite_bind_text(st, 2, jti);
    sqlite_bind_text(st, 3, expires);
    return step_write(ss, st, "recording token id");
}

/* ---- sessions ---------------------------------------------------------------------- */

int sqlite_session_put(struct store *s, const struct store_session *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO access_session (id_hash, kind, parent, user_id, user_name, role, org,"
            " launcher, purpose, person_id, scopes, csrf, created, expires, app)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {in->id_hash, in->kind, in->parent,   in->user_id, in->user_name,
                       in->role,    in->org,  in->launcher, in->purpose, in->person_id,
                       in->scopes,  in->csrf, in->created,  in->expires, in->app};
    for (int i = 0; i < 15; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    return step_write(ss, st, "writing session");
}

int sqlite_session_get(struct store *s, const char *id_hash, const char *now,
                       struct store_session *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT id_hash, kind, parent, user_id, user_name, role, org, launcher, purpose,"
            " person_id, scopes, csrf, created, expires, revoked, app FROM access_session"
            " WHERE id_hash = ? AND revoked IS NULL AND expires > ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, id_hash);
    sqlite_bind_text(st, 2, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char **f[] = {&out->id_hash,   &out->kind,      &out->parent,  &out->user_id,
                      &out->user_name, &out->role,      &out->org,     &out->launcher,
                      &out->purpose,   &out->person_id, &out->scopes,  &out->csrf,
                      &out->created,   &out->expires,   &out->revoked, &out->app};
        for (int i = 0; i < 16; i++)
            *f[i] = sqlite_col_strdup(st, i);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading session");
}

int sqlite_session_revoke(struct store *s, const char *id_hash)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "UPDATE access_session SET revoked = ? WHERE id_hash = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, id_hash);
    int rc = step_write(ss, st, "revoking session");
    if (rc == WEFT_OK && sqlite3_changes(ss->db) == 0)
        return WEFT_ENOTFOUND;
    return rc;
}

/* ---- break-glass ---------------------------------------------------------------------- */

int sqlite_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO breakglass (user_id, user_name, role, org, person_id, session,"
            " reason_code, reason_text, started, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {in->user_id, in->user_name,   in->role,        in->org,     in->person_id,
                       in->session, in->reason_code, in->reason_text, in->started, in->expires};
    for (int i = 0; i < 10; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    int rc = step_write(ss, st, "writing break-glass");
    if (rc == WEFT_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_breakglass_active(struct store *s, const char *user_id, const char *org,
                             const char *person_id, const char *now, char **expires_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT max(expires) FROM breakglass WHERE user_id = ? AND org = ? AND person_id = ?"
            " AND expires > ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, user_id);
    sqlite_bind_text(st, 2, org);
    sqlite_bind_text(st, 3, person_id);
    sqlite_bind_text(st, 4, now);
    int rc = sqlite3_step(st);
    char *exp = rc == SQLITE_ROW ? sqlite_col_strdup(st, 0) : NULL;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sqlite_fail(ss, "reading break-glass");
    if (!exp)
        return WEFT_ENOTFOUND;
    if (expires_out)
        *expires_out = exp;
    else
        free(exp);
    return WEFT_OK;
}

int sqlite_breakglass_list(struct store *s, const char *since, struct store_breakglass **out,
                           int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT id, user_id, user_name, role, org, person_id, session, reason_code,"
            " reason_text, started, expires FROM breakglass WHERE ?1 IS NULL OR started >= ?1"
            " ORDER BY started DESC, id DESC");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, since);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_breakglass *b = &(*out)[(*n)++];
        b->id = sqlite3_column_int64(st, 0);
        char **f[] = {&b->user_id, &b->user_name,   &b->role,        &b->org,     &b->person_id,
                      &b->session, &b->reason_code, &b->reason_text, &b->started, &b->expires};
        for (int i = 0; i < 10; i++)
            *f[i] = sqlite_col_strdup(st, i + 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing break-glass");
}

/* ---- objections ------------------------------------------------------------------------- */

int sqlite_objection_set(struct store *s, const char *person_id, const char *status,
                         const char *date)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO objection (person_id, status, date, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (person_id) DO UPDATE SET status = excluded.status,"
            " date = excluded.date, updated = excluded.updated");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    sqlite_bind_text(st, 2, status);
    sqlite_bind_text(st, 3, date);
    sqlite_bind_text(st, 4, now);
    return step_write(ss, st, "writing objection");
}

int sqlite_objection_get(struct store *s, const char *person_id, char **status_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT status FROM objection WHERE person_id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *status_out = sqlite_col_strdup(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading objection");
}

/* ---- policy ------------------------------------------------------------------------------ */

int sqlite_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                      int64_t *version_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "INSERT INTO policy_version (loaded, loaded_by, sha256, text)"
                        " VALUES (?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, by);
    sqlite_bind_text(st, 3, sha256);
    sqlite_bind_text(st, 4, text);
    int rc = step_write(ss, st, "writing policy");
    if (rc == WEFT_OK && version_out)
        *version_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_policy_current(struct store *s, int64_t *version_out, char **text_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* Two statements: the version alone is asked on every request (cheap
     * check that the cached parse is still current); the text only on change. */
    sqlite3_stmt *st = text_out ? sqlite_stmt(ss, "SELECT version, text FROM policy_version"
                                                  " ORDER BY version DESC LIMIT 1")
                                : sqlite_stmt(ss, "SELECT max(version) FROM policy_version");
    if (!st)
        return WEFT_EDB;
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (found) {
        *version_out = sqlite3_column_int64(st, 0);
        if (text_out)
            *text_out = sqlite_col_strdup(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(ss, "reading policy");
    return found ? WEFT_OK : WEFT_ENOTFOUND;
}

/* ---- one decision's facts ------------------------------------------------------------------ */

int sqlite_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                        const char *user_id, const char *now, struct store_access_facts *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT (SELECT max(version) FROM policy_version),"
                        " EXISTS (SELECT 1 FROM agreement WHERE ods = ?1 AND valid_from <= ?2"
                        "         AND (valid_to IS NULL OR valid_to >= ?2)),"
                        " (SELECT status FROM objection WHERE person_id = ?3),"
                        " (SELECT max(expires) FROM breakglass WHERE user_id = ?4 AND org = ?1"
                        "         AND person_id = ?3 AND expires > ?5)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, org);
    sqlite_bind_text(st, 2, day);
    sqlite_bind_text(st, 3, person_id);
    sqlite_bind_text(st, 4, user_id);
    sqlite_bind_text(st, 5, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->policy_version = sqlite3_column_int64(st, 0);
        out->agreement_in_force = sqlite3_column_int(st, 1) != 0;
        const unsigned char *t = sqlite3_column_text(st, 2);
        if (t)
            snprintf(out->objection, sizeof out->objection, "%s", (const char *)t);
        t = sqlite3_column_text(st, 3);
        if (t)
            snprintf(out->breakglass_until, sizeof out->breakglass_until, "%s", (const char *)t);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading access facts");
}

int sqlite_session_count(struct store *s, const char *now,
                         void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT kind, count(*) FROM access_session"
                                       " WHERE revoked IS NULL AND expires > ? GROUP BY kind");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "counting sessions");
}
