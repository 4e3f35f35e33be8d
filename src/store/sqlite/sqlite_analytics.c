/*
 * sqlite_analytics.c - analytics' tables and reads (store/analytics.h).
 *
 * Tables (migration analytics-1):
 *   optout_list     one row per loaded national data opt-out list: check
 *                   date, last day of use, who loaded it, digest of the file
 *   optout_cleared  (list_id, nhs): the NHS numbers the list clears; a
 *                   WITHOUT ROWID table clustered on its key, so a list is
 *                   one range read in NHS number order.  Nothing is written
 *                   on anyone's record: a list replaces nothing, and the
 *                   list in force is simply the newest.
 *   analytics_result (migration analytics-results-1) the stored figures
 *                   (CSV) of each output and window that the pages show.
 *   analytics_state, analytics_contrib, analytics_moved (migration
 *                   analytics-incremental-1) the incremental refresh's raw
 *                   figures, each person's part of them, and the persons
 *                   whose items were moved in place (store/analytics.h).
 *   analytics_output every secondary output produced: which list it used,
 *                   how many persons it counted and left out, and the set of
 *                   NHS numbers counted (compressed), which the compliance
 *                   report checks against the list again.
 *
 * The scan streams like the data-quality scan (sqlite_dq.c): one statement
 * on the person index, stepped inside one read transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_analytics.h"

const struct store_migration sqlite_migration_analytics_1 = {
    "analytics-1",
    "CREATE TABLE optout_list (id INTEGER PRIMARY KEY, checked TEXT NOT NULL,"
    " expires TEXT NOT NULL, imported TEXT NOT NULL, imported_by TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, count INTEGER NOT NULL);"
    "CREATE TABLE optout_cleared (list_id INTEGER NOT NULL, nhs TEXT NOT NULL,"
    " PRIMARY KEY (list_id, nhs)) WITHOUT ROWID;"
    "CREATE TABLE analytics_output (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " computed TEXT NOT NULL, params TEXT, by_whom TEXT, list_id INTEGER NOT NULL,"
    " counted INTEGER NOT NULL, excluded INTEGER NOT NULL, counted_set BLOB);",
};

/* analytics-results-1: the stored figures of each output and window
 * (store_analytics_result), one row per (name, params). */
const struct store_migration sqlite_migration_analytics_results_1 = {
    "analytics-results-1",
    "CREATE TABLE analytics_result (name TEXT NOT NULL, params TEXT NOT NULL, at TEXT,"
    " computed TEXT NOT NULL, output_id INTEGER NOT NULL, list_id INTEGER NOT NULL,"
    " counted INTEGER NOT NULL, excluded INTEGER NOT NULL, csv TEXT NOT NULL,"
    " PRIMARY KEY (name, params)) WITHOUT ROWID;",
};

/* analytics-incremental-1: the incremental refresh's state (store/analytics.h).
 * The triggers note a person whose current items are moved to or from them
 * in place (merges, splits, items following a corrected Patient) or whose
 * NHS number changes: no new resource version says so. */
const struct store_migration sqlite_migration_analytics_incremental_1 = {
    "analytics-incremental-1",
    "CREATE TABLE analytics_state (name TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
    " moved INTEGER NOT NULL, generation INTEGER NOT NULL, blob BLOB NOT NULL);"
    "CREATE TABLE analytics_contrib (person_id TEXT PRIMARY KEY, blob BLOB NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE analytics_moved (id INTEGER PRIMARY KEY, person_id TEXT NOT NULL);"
    "CREATE TRIGGER analytics_moved_items AFTER UPDATE OF person_id ON resource"
    " WHEN OLD.person_id IS NOT NEW.person_id AND NEW.next_seq IS NULL BEGIN"
    " INSERT INTO analytics_moved (person_id) SELECT OLD.person_id"
    " WHERE OLD.person_id IS NOT NULL;"
    " INSERT INTO analytics_moved (person_id) SELECT NEW.person_id"
    " WHERE NEW.person_id IS NOT NULL; END;"
    "CREATE TRIGGER analytics_moved_nhs AFTER UPDATE OF nhs ON person"
    " WHEN OLD.nhs IS NOT NEW.nhs BEGIN"
    " INSERT INTO analytics_moved (person_id) VALUES (NEW.id); END;"
    "CREATE TABLE analytics_risk (person_id TEXT PRIMARY KEY, practice TEXT NOT NULL,"
    " name TEXT, nhs TEXT, age INTEGER NOT NULL, assessed INTEGER NOT NULL,"
    " efi_count INTEGER NOT NULL, band INTEGER NOT NULL, ae INTEGER NOT NULL,"
    " admissions INTEGER NOT NULL, ambulance INTEGER NOT NULL, deficits TEXT) WITHOUT ROWID;"
    "CREATE INDEX analytics_risk_practice ON analytics_risk (practice);"
    "CREATE TABLE analytics_risk_day (one INTEGER PRIMARY KEY CHECK (one = 1),"
    " day INTEGER NOT NULL, computed TEXT NOT NULL);",
};

static int list_add(struct store *s, const struct store_optout_list *in, const char *const *nhs,
                    int64_t n, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    int rc = store_begin(s);
    if (rc)
        return rc;
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO optout_list (checked, expires, imported,"
                                       " imported_by, sha256, count) VALUES (?, ?, ?, ?, ?, 0)");
    if (!st) {
        store_rollback(s);
        return WEFT_EDB;
    }
    sqlite_bind_text(st, 1, in->checked);
    sqlite_bind_text(st, 2, in->expires);
    sqlite_bind_text(st, 3, in->imported);
    sqlite_bind_text(st, 4, in->imported_by);
    sqlite_bind_text(st, 5, in->sha256);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sqlite_fail(ss, "storing an opt-out list");
        sqlite3_reset(st);
        store_rollback(s);
        return rc;
    }
    sqlite3_reset(st);
    int64_t id = sqlite3_last_insert_rowid(ss->db);
    st = sqlite_stmt(ss, "INSERT OR IGNORE INTO optout_cleared (list_id, nhs) VALUES (?, ?)");
    if (!st) {
        store_rollback(s);
        return WEFT_EDB;
    }
    for (int64_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite_bind_text(st, 2, nhs[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = sqlite_fail(ss, "storing an opt-out list");
            sqlite3_reset(st);
            store_rollback(s);
            return rc;
        }
    }
    sqlite3_reset(st);
    st = sqlite_stmt(ss, "UPDATE optout_list SET count ="
                         " (SELECT count(*) FROM optout_cleared WHERE list_id = ?1) WHERE id = ?1");
    if (!st) {
        store_rollback(s);
        return WEFT_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sqlite_fail(ss, "storing an opt-out list");
        sqlite3_reset(st);
        store_rollback(s);
        return rc;
    }
    sqlite3_reset(st);
    if ((rc = store_commit(s)) != 0)
        return rc;
    *id_out = id;
    return WEFT_OK;
}

#define LIST_COLS "id, checked, expires, imported, imported_by, sha256, count"

static void list_row(sqlite3_stmt *st, struct store_optout_list *l)
{
    l->id = sqlite3_column_int64(st, 0);
    l->checked = sqlite_col_strdup(st, 1);
    l->expires = sqlite_col_strdup(st, 2);
    l->imported = sqlite_col_strdup(st, 3);
    l->imported_by = sqlite_col_strdup(st, 4);
    l->sha256 = sqlite_col_strdup(st, 5);
    l->count = sqlite3_column_int64(st, 6);
}

static int list_one(struct sqlite_store *ss, sqlite3_stmt *st, struct store_optout_list *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        list_row(st, out);
        rc = WEFT_OK;
    } else if (rc == SQLITE_DONE) {
        rc = WEFT_ENOTFOUND;
    } else {
        rc = sqlite_fail(ss, "reading opt-out lists");
    }
    sqlite3_reset(st);
    return rc;
}

static int list_current(struct store *s, struct store_optout_list *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " LIST_COLS " FROM optout_list"
                                       " ORDER BY checked DESC, id DESC LIMIT 1");
    return st ? list_one(ss, st, out) : WEFT_EDB;
}

static int list_get(struct store *s, int64_t id, struct store_optout_list *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " LIST_COLS " FROM optout_list WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    return list_one(ss, st, out);
}

static int list_all(struct store *s, struct store_optout_list **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT " LIST_COLS " FROM optout_list ORDER BY checked DESC, id DESC");
    if (!st)
        return WEFT_EDB;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        list_row(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_optout_lists_free(*out, *n);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing opt-out lists");
    }
    return WEFT_OK;
}

/* Statements the scans step are prepared here, not cached: a scan outlives
 * any number of statements its callback may run. */
static int cleared_scan(struct store *s, int64_t id, int (*fn)(const char *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db, "SELECT nhs FROM optout_cleared WHERE list_id = ? ORDER BY nhs",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(ss, "reading an opt-out list");
    sqlite3_bind_int64(st, 1, id);
    int step, rc = WEFT_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn((const char *)sqlite3_column_text(st, 0), ctx)) != 0)
            break;
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "reading an opt-out list");
    sqlite3_finalize(st);
    return rc;
}

static int output_add(struct store *s, const struct store_analytics_output *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO analytics_output (name, computed, params,"
                                       " by_whom, list_id, counted, excluded, counted_set)"
                                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, in->name);
    sqlite_bind_text(st, 2, in->computed);
    sqlite_bind_text(st, 3, in->params);
    sqlite_bind_text(st, 4, in->by);
    sqlite3_bind_int64(st, 5, in->list_id);
    sqlite3_bind_int64(st, 6, in->counted);
    sqlite3_bind_int64(st, 7, in->excluded);
    sqlite3_bind_blob(st, 8, in->counted_set ? (const void *)in->counted_set : "",
                      (int)in->counted_set_len, SQLITE_TRANSIENT);
    int rc =
        sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "recording a secondary output");
    sqlite3_reset(st);
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

static int output_list(struct store *s, int limit, struct store_analytics_output **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT id, name, computed, params, by_whom, list_id,"
                                       " counted, excluded, counted_set FROM analytics_output"
                                       " ORDER BY id DESC LIMIT ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int(st, 1, limit > 0 ? limit : 1000);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        struct store_analytics_output *o = &(*out)[(*n)++];
        memset(o, 0, sizeof *o);
        o->id = sqlite3_column_int64(st, 0);
        o->name = sqlite_col_strdup(st, 1);
        o->computed = sqlite_col_strdup(st, 2);
        o->params = sqlite_col_strdup(st, 3);
        o->by = sqlite_col_strdup(st, 4);
        o->list_id = sqlite3_column_int64(st, 5);
        o->counted = sqlite3_column_int64(st, 6);
        o->excluded = sqlite3_column_int64(st, 7);
        int len = sqlite3_column_bytes(st, 8);
        const void *blob = sqlite3_column_blob(st, 8);
        o->counted_set = xmalloc((size_t)len + 1);
        if (len > 0)
            memcpy(o->counted_set, blob, (size_t)len);
        o->counted_set_len = (size_t)len;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_analytics_outputs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing secondary outputs");
    }
    return WEFT_OK;
}

static int result_put(struct store *s, const struct store_analytics_result *r)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT OR REPLACE INTO analytics_result (name, params, at,"
                                       " computed, output_id, list_id, counted, excluded, csv)"
                                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, r->name);
    sqlite_bind_text(st, 2, r->params);
    sqlite_bind_text(st, 3, r->at);
    sqlite_bind_text(st, 4, r->computed);
    sqlite3_bind_int64(st, 5, r->output_id);
    sqlite3_bind_int64(st, 6, r->list_id);
    sqlite3_bind_int64(st, 7, r->counted);
    sqlite3_bind_int64(st, 8, r->excluded);
    sqlite_bind_text(st, 9, r->csv ? r->csv : "");
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? WEFT_OK
                 : sqlite_fail(ss, "storing a secondary output's figures");
    sqlite3_reset(st);
    return rc;
}

static void result_row(sqlite3_stmt *st, struct store_analytics_result *o, bool csv)
{
    o->name = sqlite_col_strdup(st, 0);
    o->params = sqlite_col_strdup(st, 1);
    o->at = sqlite_col_strdup(st, 2);
    o->computed = sqlite_col_strdup(st, 3);
    o->output_id = sqlite3_column_int64(st, 4);
    o->list_id = sqlite3_column_int64(st, 5);
    o->counted = sqlite3_column_int64(st, 6);
    o->excluded = sqlite3_column_int64(st, 7);
    if (csv)
        o->csv = sqlite_col_strdup(st, 8);
}

static int result_get(struct store *s, const char *name, const char *params,
                      struct store_analytics_result *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT name, params, at, computed, output_id, list_id,"
                                       " counted, excluded, csv FROM analytics_result"
                                       " WHERE name = ? AND params = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, name);
    sqlite_bind_text(st, 2, params);
    int step = sqlite3_step(st), rc = WEFT_OK;
    if (step == SQLITE_ROW)
        result_row(st, out, true);
    else if (step == SQLITE_DONE)
        rc = WEFT_ENOTFOUND;
    else
        rc = sqlite_fail(ss, "reading a secondary output's figures");
    sqlite3_reset(st);
    return rc;
}

static int result_keys(struct store *s, struct store_analytics_result **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT name, params, at, computed, output_id, list_id,"
                                       " counted, excluded FROM analytics_result"
                                       " ORDER BY name, params");
    if (!st)
        return WEFT_EDB;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        struct store_analytics_result *o = &(*out)[(*n)++];
        memset(o, 0, sizeof *o);
        result_row(st, o, false);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_analytics_results_free(*out, *n);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing stored secondary outputs");
    }
    return WEFT_OK;
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Type names go into the SQL text: only [A-Za-z] is accepted (they are
 * FHIR type names chosen by the engine, never user input). */
static int types_clause(struct buf *sql, const char *const *types)
{
    if (!types)
        return 0;
    buf_adds(sql, " AND r.type IN (");
    for (int i = 0; types[i]; i++) {
        for (const char *c = types[i]; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')))
                return WEFT_EINVAL;
        buf_addf(sql, "%s'%s'", i ? "," : "", types[i]);
    }
    buf_adds(sql, ")");
    return 0;
}

static int scan(struct store *s, const char *const *types, const char *const *person_ids, int n,
                int (*fn)(const struct store_analytics_item *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    struct buf sql = BUF_INIT;
    buf_adds(&sql, "SELECT r.person_id, p.nhs, r.type, r.id, r.source_org, r.category,"
                   " r.effective, r.code, r.status, r.json"
                   " FROM resource r INDEXED BY resource_person"
                   " LEFT JOIN person p ON p.id = r.person_id"
                   " WHERE r.next_seq IS NULL AND r.deleted = 0");
    buf_adds(&sql, person_ids ? " AND r.person_id = ?1" : " AND r.person_id IS NOT NULL");
    if (types_clause(&sql, types) != 0) {
        buf_release(&sql);
        return store_fail(s, WEFT_EINVAL, "analytics scan: bad type name");
    }
    buf_adds(&sql, " ORDER BY r.person_id, r.type, COALESCE(r.effective,'')");
    bool own = s->txn_depth == 0;
    if (own && sqlite_exec(ss, "BEGIN") != 0) {
        buf_release(&sql);
        return WEFT_EDB;
    }
    sqlite3_stmt *st = NULL;
    int rc = WEFT_OK;
    if (sqlite3_prepare_v2(ss->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        rc = sqlite_fail(ss, "scanning the record");
    } else {
        for (int k = 0; rc == 0 && k < (person_ids ? n : 1); k++) {
            sqlite3_reset(st);
            if (person_ids)
                sqlite_bind_text(st, 1, person_ids[k]);
            int step;
            while ((step = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_analytics_item it = {
                    .person_id = col(st, 0),
                    .nhs = col(st, 1),
                    .type = col(st, 2),
                    .id = col(st, 3),
                    .source_org = col(st, 4),
                    .category = col(st, 5),
                    .effective = col(st, 6),
                    .code = col(st, 7),
                    .status = col(st, 8),
                    .json = col(st, 9),
                };
                it.json_len = (size_t)sqlite3_column_bytes(st, 9);
                if ((rc = fn(&it, ctx)) != 0)
                    break;
            }
            if (rc == 0 && step != SQLITE_DONE)
                rc = sqlite_fail(ss, "scanning the record");
        }
    }
    sqlite3_finalize(st);
    if (own)
        sqlite_exec(ss, "COMMIT");
    buf_release(&sql);
    return rc;
}

static int org_persons(struct store *s, const char *org, int (*fn)(const char *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = NULL;
    /* person_local's key starts with org: one range read */
    if (sqlite3_prepare_v2(ss->db,
                           "SELECT DISTINCT person_id FROM person_local WHERE org = ?"
                           " ORDER BY person_id",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(ss, "listing an organisation's persons");
    sqlite_bind_text(st, 1, org);
    int step, rc = WEFT_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn((const char *)sqlite3_column_text(st, 0), ctx)) != 0)
            break;
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "listing an organisation's persons");
    sqlite3_finalize(st);
    return rc;
}

static int org_has_person(struct store *s, const char *org, const char *person_id, bool *yes)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT 1 FROM person_local INDEXED BY person_local_person"
                                       " WHERE person_id = ? AND org = ? LIMIT 1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    sqlite_bind_text(st, 2, org);
    int rc = sqlite3_step(st);
    *yes = rc == SQLITE_ROW;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE
             ? WEFT_OK
             : sqlite_fail(ss, "reading an organisation's persons");
    sqlite3_reset(st);
    return rc;
}

static int state_get(struct store *s, unsigned char **blob, size_t *len, int64_t *seq,
                     int64_t *moved, int64_t *generation)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT seq, moved, generation, blob FROM analytics_state"
                                       " WHERE name = 'incremental'");
    if (!st)
        return WEFT_EDB;
    int step = sqlite3_step(st), rc = WEFT_OK;
    if (step == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        *moved = sqlite3_column_int64(st, 1);
        *generation = sqlite3_column_int64(st, 2);
        if (blob) {
            const void *b = sqlite3_column_blob(st, 3);
            *len = (size_t)sqlite3_column_bytes(st, 3);
            *blob = xmalloc(*len ? *len : 1);
            if (*len)
                memcpy(*blob, b, *len);
        }
    } else if (step == SQLITE_DONE) {
        rc = WEFT_ENOTFOUND;
    } else {
        rc = sqlite_fail(ss, "reading the analytics state");
    }
    sqlite3_reset(st);
    return rc;
}

static int state_put(struct store *s, const unsigned char *blob, size_t len, int64_t seq,
                     int64_t moved, int64_t generation)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT OR REPLACE INTO analytics_state (name, seq, moved,"
                                       " generation, blob) VALUES ('incremental', ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, moved);
    sqlite3_bind_int64(st, 3, generation);
    sqlite3_bind_blob64(st, 4, len ? (const void *)blob : "", len, SQLITE_STATIC);
    int rc =
        sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "storing the analytics state");
    sqlite3_reset(st);
    return rc;
}

static int contrib_get(struct store *s, const char *const *person_ids, int n,
                       int (*fn)(const char *, const unsigned char *, size_t, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT blob FROM analytics_contrib WHERE person_id = ?");
    if (!st)
        return WEFT_EDB;
    int rc = WEFT_OK;
    for (int i = 0; i < n && rc == 0; i++) {
        sqlite_bind_text(st, 1, person_ids[i]);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            rc = fn(person_ids[i], sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                    ctx);
        else if (step != SQLITE_DONE)
            rc = sqlite_fail(ss, "reading analytics contributions");
        sqlite3_reset(st);
    }
    return rc;
}

static int contrib_put(struct store *s, const char *const *person_ids,
                       const unsigned char *const *blobs, const size_t *lens, int n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *put = sqlite_stmt(ss, "INSERT OR REPLACE INTO analytics_contrib (person_id,"
                                        " blob) VALUES (?, ?)");
    sqlite3_stmt *del = sqlite_stmt(ss, "DELETE FROM analytics_contrib WHERE person_id = ?");
    if (!put || !del)
        return WEFT_EDB;
    int rc = WEFT_OK;
    for (int i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *st = lens[i] ? put : del;
        sqlite_bind_text(st, 1, person_ids[i]);
        if (lens[i])
            sqlite3_bind_blob64(st, 2, blobs[i], lens[i], SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sqlite_fail(ss, "storing analytics contributions");
        sqlite3_reset(st);
    }
    return rc;
}

static int contrib_clear(struct store *s)
{
    return sqlite_exec(sqlite_of(s), "DELETE FROM analytics_contrib");
}

static int marks(struct store *s, int64_t *seq, int64_t *moved)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT (SELECT COALESCE(MAX(seq), 0) FROM resource),"
                                       " (SELECT COALESCE(MAX(id), 0) FROM analytics_moved)");
    if (!st)
        return WEFT_EDB;
    int rc = WEFT_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        *moved = sqlite3_column_int64(st, 1);
    } else {
        rc = sqlite_fail(ss, "reading the record's marks");
    }
    sqlite3_reset(st);
    return rc;
}

static int changed(struct store *s, int64_t seq, int64_t moved, int (*fn)(const char *, void *),
                   void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* seq is resource's rowid and analytics_moved's id its key: range reads;
     * a predecessor is found by resource_idk (idk, version), then its id */
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT person_id FROM resource WHERE seq > ?1 AND person_id IS NOT NULL"
            " UNION SELECT o.person_id FROM resource n JOIN resource o INDEXED BY resource_idk"
            " ON o.idk = n.idk AND o.version = n.version - 1 AND o.id = n.id"
            " WHERE n.seq > ?1 AND o.person_id IS NOT NULL"
            " UNION SELECT person_id FROM analytics_moved WHERE id > ?2"
            " ORDER BY 1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, moved);
    int step, rc = WEFT_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn((const char *)sqlite3_column_text(st, 0), ctx)) != 0)
            break;
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "listing the persons changed");
    sqlite3_reset(st);
    return rc;
}

static int risk_put(struct store *s, const struct store_analytics_risk *rows, int n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *put = sqlite_stmt(
        ss, "INSERT OR REPLACE INTO analytics_risk (person_id, practice, name, nhs, age, assessed,"
            " efi_count, band, ae, admissions, ambulance, deficits)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlite3_stmt *del = sqlite_stmt(ss, "DELETE FROM analytics_risk WHERE person_id = ?");
    if (!put || !del)
        return WEFT_EDB;
    int rc = WEFT_OK;
    for (int i = 0; i < n && rc == 0; i++) {
        const struct store_analytics_risk *r = &rows[i];
        sqlite3_stmt *st = r->practice ? put : del;
        sqlite_bind_text(st, 1, r->person_id);
        if (r->practice) {
            sqlite_bind_text(st, 2, r->practice);
            sqlite_bind_text(st, 3, r->name);
            sqlite_bind_text(st, 4, r->nhs);
            sqlite3_bind_int(st, 5, r->age);
            sqlite3_bind_int(st, 6, r->assessed);
            sqlite3_bind_int(st, 7, r->efi_count);
            sqlite3_bind_int(st, 8, r->band);
            sqlite3_bind_int(st, 9, r->ae);
            sqlite3_bind_int(st, 10, r->admissions);
            sqlite3_bind_int(st, 11, r->ambulance);
            sqlite_bind_text(st, 12, r->deficits);
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sqlite_fail(ss, "storing risk list rows");
        sqlite3_reset(st);
    }
    return rc;
}

static int risk_clear(struct store *s)
{
    return sqlite_exec(sqlite_of(s), "DELETE FROM analytics_risk; DELETE FROM analytics_risk_day");
}

static int risk_scan(struct store *s, const char *practice,
                     int (*fn)(const struct store_analytics_risk *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db,
                           "SELECT person_id, practice, name, nhs, age, assessed, efi_count, band,"
                           " ae, admissions, ambulance, deficits FROM analytics_risk"
                           " INDEXED BY analytics_risk_practice WHERE practice = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(ss, "reading risk list rows");
    sqlite_bind_text(st, 1, practice);
    int step, rc = WEFT_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_analytics_risk r = {
            .person_id = col(st, 0),
            .practice = col(st, 1),
            .name = col(st, 2),
            .nhs = col(st, 3),
            .age = sqlite3_column_int(st, 4),
            .assessed = sqlite3_column_int(st, 5) != 0,
            .efi_count = sqlite3_column_int(st, 6),
            .band = sqlite3_column_int(st, 7),
            .ae = sqlite3_column_int(st, 8),
            .admissions = sqlite3_column_int(st, 9),
            .ambulance = sqlite3_column_int(st, 10),
            .deficits = col(st, 11),
        };
        if ((rc = fn(&r, ctx)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "reading risk list rows");
    sqlite3_finalize(st);
    return rc;
}

static int risk_day_get(struct store *s, int64_t *day, char computed[32])
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT day, computed FROM analytics_risk_day");
    if (!st)
        return WEFT_EDB;
    int step = sqlite3_step(st), rc = WEFT_OK;
    if (step == SQLITE_ROW) {
        *day = sqlite3_column_int64(st, 0);
        snprintf(computed, 32, "%s", col(st, 1) ? col(st, 1) : "");
    } else if (step == SQLITE_DONE) {
        rc = WEFT_ENOTFOUND;
    } else {
        rc = sqlite_fail(ss, "reading the risk list's day");
    }
    sqlite3_reset(st);
    return rc;
}

static int risk_day_put(struct store *s, int64_t day, const char *computed)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (day < 0)
        return sqlite_exec(ss, "DELETE FROM analytics_risk_day");
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT OR REPLACE INTO analytics_risk_day (one, day,"
                                       " computed) VALUES (1, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, day);
    sqlite_bind_text(st, 2, computed);
    int rc =
        sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "storing the risk list's day");
    sqlite3_reset(st);
    return rc;
}

const struct store_analytics_ops sqlite_analytics_ops = {
    .risk_put = risk_put,
    .risk_clear = risk_clear,
    .risk_scan = risk_scan,
    .risk_day_get = risk_day_get,
    .risk_day_put = risk_day_put,
    .state_get = state_get,
    .state_put = state_put,
    .contrib_get = contrib_get,
    .contrib_put = contrib_put,
    .contrib_clear = contrib_clear,
    .marks = marks,
    .changed = changed,
    .org_persons = org_persons,
    .org_has_person = org_has_person,
    .optout_list_add = list_add,
    .optout_list_current = list_current,
    .optout_list_get = list_get,
    .optout_list_all = list_all,
    .optout_cleared_scan = cleared_scan,
    .output_add = output_add,
    .output_list = output_list,
    .result_put = result_put,
    .result_get = result_get,
    .result_keys = result_keys,
    .scan = scan,
};
