/*
 * sqlite_citizen.c - SQLite tables and operations for what citizens ask of
 * the record: objection cases (GDPR art. 21) with every step they went
 * through, and subject access requests.
 *
 * Workload: a handful of rows per person, written by people (lodging,
 * deciding, exporting), read on the citizen's and reviewers' pages.  The
 * authorisation point does not read these tables: it reads the one-row
 * objection state (sqlite_access.c), which the access module keeps equal to
 * the newest case's status in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_citizen.h"

const struct store_migration sqlite_migration_citizen_1 = {
    "citizen-1",
    "CREATE TABLE objection_case (id INTEGER PRIMARY KEY, person_id TEXT NOT NULL,"
    " org TEXT NOT NULL, reason TEXT NOT NULL, lodged TEXT NOT NULL, lodged_by TEXT NOT NULL,"
    " due TEXT NOT NULL, status TEXT NOT NULL, decided TEXT, decided_by TEXT, decided_role TEXT,"
    " rationale TEXT, withdrawn TEXT, withdrawn_by TEXT, withdrawn_reason TEXT);"
    "CREATE INDEX objection_case_person ON objection_case (person_id, id);"
    "CREATE INDEX objection_case_status ON objection_case (status, due);"
    "CREATE TABLE objection_step (id INTEGER PRIMARY KEY, objection_id INTEGER NOT NULL,"
    " time TEXT NOT NULL, step TEXT NOT NULL, by TEXT NOT NULL, detail TEXT);"
    "CREATE INDEX objection_step_case ON objection_step (objection_id, id);"
    "CREATE TABLE sar (id INTEGER PRIMARY KEY, person_id TEXT NOT NULL, received TEXT NOT NULL,"
    " due TEXT NOT NULL, status TEXT NOT NULL, extension_reason TEXT, created TEXT NOT NULL,"
    " created_by TEXT NOT NULL, completed TEXT);"
    "CREATE INDEX sar_person ON sar (person_id, id);"
    "CREATE INDEX access_session_user ON access_session (user_id, created);",
};

static int step_done(struct sqlite_store *ss, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, what);
}

/* ---- objection cases ------------------------------------------------------------------- */

#define OBJ_COLS                                                                                   \
    "id, person_id, org, reason, lodged, lodged_by, due, status, decided, decided_by,"             \
    " decided_role, rationale, withdrawn, withdrawn_by, withdrawn_reason"

static void obj_fill(sqlite3_stmt *st, struct store_objection *o)
{
    o->id = sqlite3_column_int64(st, 0);
    char **f[] = {
        &o->person_id, &o->org,       &o->reason,       &o->lodged,          &o->lodged_by,
        &o->due,       &o->status,    &o->decided,      &o->decided_by,      &o->decided_role,
        &o->rationale, &o->withdrawn, &o->withdrawn_by, &o->withdrawn_reason};
    for (int i = 0; i < 14; i++)
        *f[i] = sqlite_col_strdup(st, i + 1);
}

int sqlite_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st;
    if (in->id == 0) {
        st = sqlite_stmt(ss,
                         "INSERT INTO objection_case (person_id, org, reason, lodged,"
                         " lodged_by, due, status, decided, decided_by, decided_role,"
                         " rationale, withdrawn, withdrawn_by, withdrawn_reason)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
        if (!st)
            return WEFT_EDB;
        const char *v[] = {
            in->person_id, in->org,       in->reason,       in->lodged,          in->lodged_by,
            in->due,       in->status,    in->decided,      in->decided_by,      in->decided_role,
            in->rationale, in->withdrawn, in->withdrawn_by, in->withdrawn_reason};
        for (int i = 0; i < 14; i++)
            sqlite_bind_text(st, i + 1, v[i]);
        int rc = step_done(ss, st, "adding an objection");
        if (rc == WEFT_OK && id_out)
            *id_out = sqlite3_last_insert_rowid(ss->db);
        return rc;
    }
    st = sqlite_stmt(ss, "UPDATE objection_case SET status = ?2, decided = ?3, decided_by = ?4,"
                         " decided_role = ?5, rationale = ?6, withdrawn = ?7, withdrawn_by = ?8,"
                         " withdrawn_reason = ?9 WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, in->id);
    const char *v[] = {in->status,    in->decided,   in->decided_by,   in->decided_role,
                       in->rationale, in->withdrawn, in->withdrawn_by, in->withdrawn_reason};
    for (int i = 0; i < 8; i++)
        sqlite_bind_text(st, i + 2, v[i]);
    int rc = step_done(ss, st, "updating an objection");
    if (rc == WEFT_OK && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no objection %lld", (long long)in->id);
    if (rc == WEFT_OK && id_out)
        *id_out = in->id;
    return rc;
}

int sqlite_objection_case(struct store *s, int64_t id, struct store_objection *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " OBJ_COLS " FROM objection_case WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        obj_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_fail(s, WEFT_ENOTFOUND, "no objection %lld", (long long)id);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading an objection");
}

int sqlite_objection_list(struct store *s, const char *person_id, bool open_only,
                          struct store_objection **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT " OBJ_COLS " FROM objection_case WHERE (?1 IS NULL OR person_id = ?1)"
            " AND (?2 = 0 OR status = 'lodged') ORDER BY CASE WHEN ?2 THEN due END, id");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    sqlite3_bind_int(st, 2, open_only);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_objection *o = &(*out)[(*n)++];
        memset(o, 0, sizeof *o);
        obj_fill(st, o);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing objections");
}

int sqlite_objection_step_add(struct store *s, int64_t objection_id, const char *time,
                              const char *step, const char *by, const char *detail)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO objection_step (objection_id, time, step, by,"
                                       " detail) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, objection_id);
    sqlite_bind_text(st, 2, time);
    sqlite_bind_text(st, 3, step);
    sqlite_bind_text(st, 4, by);
    sqlite_bind_text(st, 5, detail);
    return step_done(ss, st, "recording an objection step");
}

int sqlite_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                           int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT objection_id, time, step, by, detail FROM"
                                       " objection_step WHERE objection_id = ? ORDER BY id");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, objection_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_objection_step *e = &(*out)[(*n)++];
        e->objection_id = sqlite3_column_int64(st, 0);
        e->time = sqlite_col_strdup(st, 1);
        e->step = sqlite_col_strdup(st, 2);
        e->by = sqlite_col_strdup(st, 3);
        e->detail = sqlite_col_strdup(st, 4);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading objection steps");
}

/* ---- subject access requests --------------------------------------------------------------- */

#define SAR_COLS                                                                                   \
    "id, person_id, received, due, status, extension_reason, created, created_by, completed,"      \
    " package"

static void sar_fill(sqlite3_stmt *st, struct store_sar *r)
{
    r->id = sqlite3_column_int64(st, 0);
    char **f[] = {&r->person_id,        &r->received, &r->due,        &r->status,
                  &r->extension_reason, &r->created,  &r->created_by, &r->completed};
    for (int i = 0; i < 8; i++)
        *f[i] = sqlite_col_strdup(st, i + 1);
    r->package = sqlite_col_strdup(st, 9);
}

int sqlite_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st;
    if (in->id == 0) {
        st = sqlite_stmt(ss, "INSERT INTO sar (person_id, received, due, status,"
                             " extension_reason, created, created_by, completed)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        if (!st)
            return WEFT_EDB;
        const char *v[] = {in->person_id,        in->received, in->due,        in->status,
                           in->extension_reason, in->created,  in->created_by, in->completed};
        for (int i = 0; i < 8; i++)
            sqlite_bind_text(st, i + 1, v[i]);
        int rc = step_done(ss, st, "adding a subject access request");
        if (rc == WEFT_OK && id_out)
            *id_out = sqlite3_last_insert_rowid(ss->db);
        return rc;
    }
    st = sqlite_stmt(ss, "UPDATE sar SET due = ?2, status = ?3, extension_reason = ?4,"
                         " completed = ?5, package = ?6 WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, in->id);
    sqlite_bind_text(st, 2, in->due);
    sqlite_bind_text(st, 3, in->status);
    sqlite_bind_text(st, 4, in->extension_reason);
    sqlite_bind_text(st, 5, in->completed);
    sqlite_bind_text(st, 6, in->package);
    int rc = step_done(ss, st, "updating a subject access request");
    if (rc == WEFT_OK && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no subject access request %lld", (long long)in->id);
    if (rc == WEFT_OK && id_out)
        *id_out = in->id;
    return rc;
}

int sqlite_sar_get(struct store *s, int64_t id, struct store_sar *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " SAR_COLS " FROM sar WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sar_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_fail(s, WEFT_ENOTFOUND, "no subject access request %lld", (long long)id);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading a subject access request");
}

int sqlite_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT " SAR_COLS " FROM sar WHERE ?1 IS NULL OR person_id = ?1 ORDER BY id DESC");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_sar *r = &(*out)[(*n)++];
        memset(r, 0, sizeof *r);
        sar_fill(st, r);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing subject access requests");
}

/* ---- the role a member of staff signed in with ------------------------------------------- */

int sqlite_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT role, org FROM access_session WHERE user_id = ?"
                                       " AND kind = 'session' AND role IS NOT NULL"
                                       " ORDER BY created DESC LIMIT 1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, user_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *role_out = sqlite_col_strdup(st, 0);
        *org_out = sqlite_col_strdup(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_fail(s, WEFT_ENOTFOUND, "user %s never signed in", user_id);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading sessions");
}

/* ---- citizen sign-in ------------------------------------------------------------------------ */

/* citizen-3: where a subject access package was written, for the person's
 * download from the portal. */
const struct store_migration sqlite_migration_citizen_3 = {
    "citizen-3",
    "ALTER TABLE sar ADD COLUMN package TEXT;",
};

const struct store_migration sqlite_migration_citizen_2 = {
    "citizen-2",
    "CREATE TABLE citizen_idp (name TEXT PRIMARY KEY, issuer TEXT NOT NULL,"
    " client_id TEXT NOT NULL, key_pem TEXT NOT NULL, key_id TEXT, redirect_uri TEXT NOT NULL,"
    " created TEXT NOT NULL);"
    "CREATE TABLE citizen_session (id_hash TEXT PRIMARY KEY, idp TEXT NOT NULL, sub TEXT NOT NULL,"
    " person_id TEXT, nhs TEXT, ial TEXT, csrf TEXT NOT NULL, created TEXT NOT NULL,"
    " last_seen TEXT NOT NULL, expires TEXT NOT NULL, revoked TEXT);"
    "CREATE INDEX citizen_session_expires ON citizen_session (expires);",
};

#define IDP_COLS "name, issuer, client_id, key_pem, key_id, redirect_uri, created"

static void idp_fill(sqlite3_stmt *st, struct store_citizen_idp *p)
{
    char **f[] = {&p->name,   &p->issuer,       &p->client_id, &p->key_pem,
                  &p->key_id, &p->redirect_uri, &p->created};
    for (int i = 0; i < 7; i++)
        *f[i] = sqlite_col_strdup(st, i);
}

int sqlite_citizen_idp_add(struct store *s, const struct store_citizen_idp *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "INSERT INTO citizen_idp (" IDP_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {in->name,   in->issuer,       in->client_id, in->key_pem,
                       in->key_id, in->redirect_uri, in->created};
    for (int i = 0; i < 7; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(ss->db);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return WEFT_OK;
    if (rc == SQLITE_CONSTRAINT && ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return store_fail(s, WEFT_EEXIST, "a provider named '%s' exists", in->name);
    return sqlite_fail(ss, "adding a provider");
}

int sqlite_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " IDP_COLS " FROM citizen_idp WHERE name = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        idp_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_fail(s, WEFT_ENOTFOUND, "no provider named '%s'", name);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading a provider");
}

int sqlite_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " IDP_COLS " FROM citizen_idp ORDER BY name");
    if (!st)
        return WEFT_EDB;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        idp_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing providers");
}

int sqlite_citizen_idp_remove(struct store *s, const char *name)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "DELETE FROM citizen_idp WHERE name = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, name);
    int rc = step_done(ss, st, "removing a provider");
    if (rc == WEFT_OK && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no provider named '%s'", name);
    return rc;
}

#define CS_COLS "id_hash, idp, sub, person_id, nhs, ial, csrf, created, last_seen, expires, revoked"

int sqlite_citizen_session_put(struct store *s, const struct store_citizen_session *in)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO citizen_session (" CS_COLS ")"
                                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    const char *v[] = {in->id_hash, in->idp,     in->sub,       in->person_id, in->nhs,    in->ial,
                       in->csrf,    in->created, in->last_seen, in->expires,   in->revoked};
    for (int i = 0; i < 11; i++)
        sqlite_bind_text(st, i + 1, v[i]);
    return step_done(ss, st, "opening a citizen session");
}

int sqlite_citizen_session_get(struct store *s, const char *id_hash,
                               struct store_citizen_session *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " CS_COLS " FROM citizen_session"
                                       " WHERE id_hash = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, id_hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char **f[] = {&out->id_hash,   &out->idp,     &out->sub,    &out->person_id,
                      &out->nhs,       &out->ial,     &out->csrf,   &out->created,
                      &out->last_seen, &out->expires, &out->revoked};
        for (int i = 0; i < 11; i++)
            *f[i] = sqlite_col_strdup(st, i);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return WEFT_ENOTFOUND;
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading a citizen session");
}

int sqlite_citizen_session_touch(struct store *s, const char *id_hash, const char *now)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "UPDATE citizen_session SET last_seen = ? WHERE id_hash = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, id_hash);
    return step_done(ss, st, "touching a citizen session");
}

int sqlite_citizen_session_revoke(struct store *s, const char *id_hash)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "UPDATE citizen_session SET revoked = ? WHERE id_hash = ? AND revoked IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, id_hash);
    return step_done(ss, st, "ending a citizen session");
}
