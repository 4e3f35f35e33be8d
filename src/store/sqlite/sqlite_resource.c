/*
 * sqlite_resource.c - resources and their history for SQLite.
 *
 * Every version is a row of table resource (see sqlite_migrate.c); the
 * current version of an item is the one with next_seq NULL.  The workload is
 * bulk loading where most items are new or unchanged, so a put is: one
 * indexed lookup of the current version's hash, then either nothing
 * (unchanged) or one insert (+ one update of the previous version's
 * next_seq, + the search terms).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_core.h"

#define HASH_LEN STORE_HASH_LEN

/*
 * core-4: resources are found by a 64-bit key of their id, not by the id
 * text.  The (id, version) index had 32-character random keys: about 46
 * bytes an entry, 15,000 pages at a million resources, more than the page
 * cache, and every commit rewrote the leaf pages its new rows landed on.
 * (idk, version) entries are about 20 bytes: the index is less than half
 * the size, so it stays cached and a commit touches fewer pages.
 */
const struct store_migration sqlite_migration_core_4 = {
    "core-4",
    "ALTER TABLE resource ADD COLUMN idk INTEGER;"
    "UPDATE resource SET idk = weft_idkey(id);"
    "CREATE INDEX resource_idk ON resource (idk, version);"
    "DROP INDEX resource_id;",
};

int64_t sqlite_idkey(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (int64_t)h;
}

static void idkey_sql(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *id = (const char *)sqlite3_value_text(argv[0]);
    if (id)
        sqlite3_result_int64(cx, sqlite_idkey(id));
    else
        sqlite3_result_null(cx);
}

int sqlite_register_functions(sqlite3 *db)
{
    if (sqlite3_create_function(db, "weft_idkey", 1,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                idkey_sql, NULL, NULL) != SQLITE_OK)
        return WEFT_EDB;
    return sqlite_search_functions(db);
}

void sqlite_row_fill(sqlite3_stmt *st, struct store_row *out)
{
    memset(out, 0, sizeof *out);
    out->seq = sqlite3_column_int64(st, 0);
    out->id = sqlite_col_strdup(st, 1);
    out->type = sqlite_col_strdup(st, 2);
    out->version = sqlite3_column_int(st, 3);
    out->deleted = sqlite3_column_int(st, 4) != 0;
    out->person_id = sqlite_col_strdup(st, 5);
    out->category = sqlite_col_strdup(st, 6);
    out->source_org = sqlite_col_strdup(st, 7);
    out->source_id = sqlite_col_strdup(st, 8);
    out->feed = sqlite_col_strdup(st, 9);
    out->effective = sqlite_col_strdup(st, 10);
    out->code = sqlite_col_strdup(st, 11);
    out->status = sqlite_col_strdup(st, 12);
    out->last_updated = sqlite_col_strdup(st, 13);
    const char *j = (const char *)sqlite3_column_text(st, 14);
    size_t jl = (size_t)sqlite3_column_bytes(st, 14);
    out->json = store_json_with_meta(j ? j : "{}", j ? jl : 2, out->version, out->last_updated,
                                     &out->json_len);
}

struct current {
    int64_t seq;
    int version;
    bool deleted;
    unsigned char hash[HASH_LEN];
    char type[64];
    char person[STORE_ID_LEN + 1]; /* "" when none */
};

/* Look up the current version of id: 0, WEFT_ENOTFOUND or an error. */
static int get_current(struct sqlite_store *ss, const char *id, struct current *cur)
{
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT seq, version, deleted, hash, type, person_id FROM resource"
                        " WHERE idk = ? AND id = ? ORDER BY version DESC LIMIT 1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, sqlite_idkey(id));
    sqlite_bind_text(st, 2, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return WEFT_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return sqlite_fail(ss, "reading resource");
    cur->seq = sqlite3_column_int64(st, 0);
    cur->version = sqlite3_column_int(st, 1);
    cur->deleted = sqlite3_column_int(st, 2) != 0;
    memset(cur->hash, 0, HASH_LEN);
    int hl = sqlite3_column_bytes(st, 3);
    memcpy(cur->hash, sqlite3_column_blob(st, 3), hl < HASH_LEN ? (size_t)hl : HASH_LEN);
    const char *t = (const char *)sqlite3_column_text(st, 4);
    snprintf(cur->type, sizeof cur->type, "%s", t ? t : "");
    const char *pp = (const char *)sqlite3_column_text(st, 5);
    snprintf(cur->person, sizeof cur->person, "%s", pp ? pp : "");
    sqlite3_reset(st);
    return WEFT_OK;
}

int sqlite_resource_digest(struct store *s, const char *type, const char *id,
                           unsigned char hash[STORE_HASH_LEN], int *version)
{
    struct current cur;
    int rc = get_current(sqlite_of(s), id, &cur);
    if (rc != 0)
        return rc;
    if (cur.deleted || strcmp(cur.type, type) != 0)
        return WEFT_ENOTFOUND;
    memcpy(hash, cur.hash, STORE_HASH_LEN);
    if (version)
        *version = cur.version;
    return WEFT_OK;
}

static int mark_replaced(struct sqlite_store *ss, int64_t old_seq, int64_t new_seq)
{
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE resource SET next_seq = ? WHERE seq = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, new_seq);
    sqlite3_bind_int64(st, 2, old_seq);
    int rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "updating resource");
    sqlite3_reset(st);
    return rc;
}

static int add_terms(struct sqlite_store *ss, int64_t seq, const char *const *terms, int n)
{
    if (n <= 0)
        return WEFT_OK;
    sqlite3_stmt *st =
        sqlite_stmt(ss, "INSERT OR IGNORE INTO resource_term (param, value, seq) VALUES (?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    char small[256];
    for (int i = 0; i < n; i++) {
        const char *param = terms[2 * i], *value = terms[2 * i + 1];
        if (!param || !value)
            continue;
        size_t len = strlen(value);
        char *low = len < sizeof small ? small : xmalloc(len + 1);
        for (size_t k = 0; k <= len; k++)
            low[k] = (char)tolower((unsigned char)value[k]);
        sqlite3_reset(st);
        sqlite_bind_text(st, 1, param);
        sqlite3_bind_text(st, 2, low, (int)len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, seq);
        int rc = sqlite3_step(st);
        if (low != small)
            free(low);
        if (rc != SQLITE_DONE) {
            rc = sqlite_fail(ss, "writing search terms");
            sqlite3_reset(st);
            return rc;
        }
    }
    sqlite3_reset(st);
    return WEFT_OK;
}

/*
 * A Patient whose new version links to another person (its sender corrected
 * the NHS number, say) takes along the current items from the same sender
 * that refer to it: they were filed under the old person only because of
 * this Patient.  Older versions stay where they were (history is not
 * rewritten); items from other senders are linked by their own Patients.
 */
static int move_patient_items(struct sqlite_store *ss, const char *patient_id, const char *org,
                              const char *from, const char *to)
{
    sqlite3_stmt *st = sqlite_stmt(
        ss, "UPDATE resource SET person_id = ?1 WHERE person_id = ?2 AND source_org = ?3"
            " AND next_seq IS NULL AND type <> 'Patient' AND instr(json, ?4) > 0");
    if (!st)
        return WEFT_EDB;
    char needle[STORE_ID_LEN + 16];
    snprintf(needle, sizeof needle, "\"Patient/%s\"", patient_id);
    sqlite_bind_text(st, 1, to);
    sqlite_bind_text(st, 2, from);
    sqlite_bind_text(st, 3, org);
    sqlite_bind_text(st, 4, needle);
    int rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "moving items");
    sqlite3_reset(st);
    return rc;
}

/* Insert one version row; *seq_out gets its seq. */
static int insert_version(struct sqlite_store *ss, const char *id, const struct store_put *in,
                          int version, bool deleted, const unsigned char *hash, const char *now,
                          int64_t *seq_out)
{
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO resource (id, type, version, deleted, person_id, category, source_org,"
            " source_id, feed, effective, code, status, last_updated, hash, json, idk)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, id);
    sqlite_bind_text(st, 2, in->type);
    sqlite3_bind_int(st, 3, version);
    sqlite3_bind_int(st, 4, deleted);
    sqlite_bind_text(st, 5, in->person_id);
    sqlite_bind_text(st, 6, in->category);
    sqlite_bind_text(st, 7, in->source_org);
    sqlite_bind_text(st, 8, in->source_id);
    sqlite_bind_text(st, 9, in->feed);
    sqlite_bind_text(st, 10, in->effective);
    sqlite_bind_text(st, 11, in->code);
    sqlite_bind_text(st, 12, in->status);
    sqlite_bind_text(st, 13, now);
    sqlite3_bind_blob(st, 14, hash, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, in->json, (int)in->json_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 16, sqlite_idkey(id));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(ss, "writing resource");
    *seq_out = sqlite3_last_insert_rowid(ss->db);
    return WEFT_OK;
}

/* Run fn's writes atomically: inside the caller's transaction when one is
 * open, else in a savepoint of their own. */
static int auto_begin(struct sqlite_store *ss, bool *own)
{
    *own = ss->base.txn_depth == 0;
    return *own ? sqlite_exec(ss, "SAVEPOINT weft_put") : WEFT_OK;
}

static int auto_end(struct sqlite_store *ss, bool own, int rc)
{
    if (!own)
        return rc;
    if (rc == 0)
        return sqlite_exec(ss, "RELEASE weft_put");
    sqlite3_exec(ss->db, "ROLLBACK TO weft_put; RELEASE weft_put", NULL, NULL, NULL);
    sqlite_person_cache_rollback(ss); /* ROLLBACK TO has no hook */
    return rc;
}

int sqlite_resource_put(struct store *s, const struct store_put *in,
                        enum store_put_outcome *outcome, char id_out[STORE_ID_LEN + 1],
                        int *version_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char id[STORE_ID_LEN + 1];
    if (in->id)
        memcpy(id, in->id, sizeof id);
    else
        store_resource_id(in->source_org, in->type, in->source_id, id);
    if (id_out)
        memcpy(id_out, id, sizeof id);
    size_t jl = in->json_len ? in->json_len : strlen(in->json);
    unsigned char hash[HASH_LEN];
    if (in->hash)
        memcpy(hash, in->hash, HASH_LEN);
    else
        store_content_hash(in->json, jl, hash);

    struct current cur;
    int rc = get_current(ss, id, &cur);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    bool exists = rc == 0;
    if (exists && !cur.deleted && memcmp(cur.hash, hash, HASH_LEN) == 0) {
        if (outcome)
            *outcome = STORE_PUT_UNCHANGED;
        if (version_out)
            *version_out = cur.version;
        return WEFT_OK;
    }
    if (exists && strcmp(cur.type, in->type) != 0)
        return store_fail(s, WEFT_ECONFLICT, "resource id %s already holds a %s", id, cur.type);

    bool own;
    if ((rc = auto_begin(ss, &own)) != 0)
        return rc;
    /* every version written in one transaction carries its start time */
    char now[32];
    if (s->txn_depth > 0)
        memcpy(now, ss->txn_now, sizeof now);
    else
        sqlite_now(now);
    struct store_put p = *in;
    p.json_len = jl;
    int version = exists ? cur.version + 1 : 1;
    int64_t seq = 0;
    rc = insert_version(ss, id, &p, version, false, hash, now, &seq);
    if (rc == 0 && exists)
        rc = mark_replaced(ss, cur.seq, seq);
    if (rc == 0)
        rc = add_terms(ss, seq, in->terms, in->nterms);
    if (rc == 0)
        rc = sqlite_index_add(ss, seq, in->type, in->index, in->nindex);
    if (rc == 0 && exists && cur.person[0] && in->person_id &&
        strcmp(cur.person, in->person_id) != 0 && strcmp(in->type, "Patient") == 0)
        rc = move_patient_items(ss, id, in->source_org, cur.person, in->person_id);
    rc = auto_end(ss, own, rc);
    if (rc != 0)
        return rc;
    if (outcome)
        *outcome = exists ? STORE_PUT_UPDATED : STORE_PUT_CREATED;
    if (version_out)
        *version_out = version;
    return WEFT_OK;
}

/* SQLite is in-process: a batch is the puts one by one, in one savepoint
 * when the caller has no transaction open (so a failure writes nothing). */
int sqlite_resource_put_batch(struct store *s, const struct store_put *in, int n,
                              struct store_put_result *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    bool own;
    int rc = auto_begin(ss, &own);
    sqlite_index_batch_begin(ss);
    for (int i = 0; i < n && rc == 0; i++) {
        struct store_put_result *o = &out[i];
        memset(o, 0, sizeof *o);
        o->rc = sqlite_resource_put(s, &in[i], &o->outcome, o->id, &o->version);
        if (o->rc == WEFT_ECONFLICT)
            snprintf(o->error, sizeof o->error, "%s", store_errmsg(s));
        else
            rc = o->rc;
    }
    int irc = sqlite_index_batch_end(ss, rc == 0);
    return auto_end(ss, own, rc ? rc : irc);
}

int sqlite_resource_get(struct store *s, const char *type, const char *id, int version,
                        struct store_row *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    if (version > 0) {
        st = sqlite_stmt(ss, "SELECT " SQLITE_ROW_COLS " FROM resource"
                             " WHERE idk = ? AND version = ? AND id = ? AND type = ?");
        if (!st)
            return WEFT_EDB;
        sqlite3_bind_int64(st, 1, sqlite_idkey(id));
        sqlite3_bind_int(st, 2, version);
        sqlite_bind_text(st, 3, id);
        sqlite_bind_text(st, 4, type);
    } else {
        st = sqlite_stmt(ss, "SELECT " SQLITE_ROW_COLS " FROM resource"
                             " WHERE idk = ? AND id = ? AND type = ? AND next_seq IS NULL");
        if (!st)
            return WEFT_EDB;
        sqlite3_bind_int64(st, 1, sqlite_idkey(id));
        sqlite_bind_text(st, 2, id);
        sqlite_bind_text(st, 3, type);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return WEFT_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return sqlite_fail(ss, "reading resource");
    sqlite_row_fill(st, out);
    sqlite3_reset(st);
    return WEFT_OK;
}

int sqlite_resource_person(struct store *s, const char *type, const char *id, char **person_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (person_id_out)
        *person_id_out = NULL;
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT person_id, deleted FROM resource WHERE idk = ?"
                                       " AND id = ? AND type = ? AND next_seq IS NULL");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, sqlite_idkey(id));
    sqlite_bind_text(st, 2, id);
    sqlite_bind_text(st, 3, type);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_int(st, 1)) {
            rc = WEFT_ENOTFOUND;
        } else {
            if (person_id_out)
                *person_id_out = sqlite_col_strdup(st, 0);
            rc = WEFT_OK;
        }
    } else {
        rc = rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading resource");
    }
    sqlite3_reset(st);
    return rc;
}

/* SQLite keeps nothing: the lookup is in-process and costs less than a
 * check would save. */
int sqlite_patient_person_kept(struct store *s, const char *id, char **person_id_out, bool *kept)
{
    *kept = false;
    return sqlite_resource_person(s, "Patient", id, person_id_out);
}

int sqlite_resource_delete(struct store *s, const char *type, const char *id)
{
    struct sqlite_store *ss = sqlite_of(s);
    struct current cur;
    int rc = get_current(ss, id, &cur);
    if (rc != 0)
        return rc;
    if (strcmp(cur.type, type) != 0)
        return WEFT_ENOTFOUND;
    if (cur.deleted)
        return WEFT_OK;
    /* The deleted version repeats the last content and index columns. */
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO resource (id, type, version, deleted, person_id, category, source_org,"
            " source_id, feed, effective, code, status, last_updated, hash, json, idk)"
            " SELECT id, type, version + 1, 1, person_id, category, source_org, source_id, feed,"
            " effective, code, status, ?, hash, json, idk FROM resource WHERE seq = ?");
    if (!st)
        return WEFT_EDB;
    bool own;
    if ((rc = auto_begin(ss, &own)) != 0)
        return rc;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, now);
    sqlite3_bind_int64(st, 2, cur.seq);
    rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "deleting resource");
    sqlite3_reset(st);
    if (rc == 0)
        rc = mark_replaced(ss, cur.seq, sqlite3_last_insert_rowid(ss->db));
    return auto_end(ss, own, rc);
}

int sqlite_history(struct store *s, const char *type, const char *id, int limit,
                   struct store_result *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    memset(out, 0, sizeof *out);
    out->total = -1;
    if (limit <= 0)
        limit = 100;
    sqlite3_stmt *st;
    if (id) {
        st = sqlite_stmt(ss, "SELECT " SQLITE_ROW_COLS " FROM resource WHERE idk = ? AND id = ?"
                             " AND type = ? ORDER BY version DESC LIMIT ?");
        if (!st)
            return WEFT_EDB;
        sqlite3_bind_int64(st, 1, sqlite_idkey(id));
        sqlite_bind_text(st, 2, id);
        sqlite_bind_text(st, 3, type);
        sqlite3_bind_int(st, 4, limit);
    } else if (type) {
        /* The newest limit versions of the type: the live ones from the
         * partial index resource_type (deleted = 0, search-1), the deletion
         * markers from resource_type_deleted (core-6), each side read newest
         * first and cut at limit, then merged; one scan of the table by seq
         * would walk every row of other types for a rare type. */
        st = sqlite_stmt(ss, "SELECT * FROM (SELECT " SQLITE_ROW_COLS
                             " FROM resource INDEXED BY resource_type"
                             " WHERE type = ?1 AND deleted = 0 ORDER BY seq DESC LIMIT ?2)"
                             " UNION ALL SELECT * FROM (SELECT " SQLITE_ROW_COLS
                             " FROM resource INDEXED BY resource_type_deleted"
                             " WHERE type = ?1 AND deleted <> 0 ORDER BY seq DESC LIMIT ?2)"
                             " ORDER BY seq DESC LIMIT ?2");
        if (!st)
            return WEFT_EDB;
        sqlite_bind_text(st, 1, type);
        sqlite3_bind_int(st, 2, limit);
    } else {
        st = sqlite_stmt(ss, "SELECT " SQLITE_ROW_COLS " FROM resource ORDER BY seq DESC LIMIT ?");
        if (!st)
            return WEFT_EDB;
        sqlite3_bind_int(st, 1, limit);
    }
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->nrows == cap) {
            cap = cap ? cap * 2 : 16;
            out->rows = xrealloc(out->rows, sizeof *out->rows * (size_t)cap);
        }
        sqlite_row_fill(st, &out->rows[out->nrows++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_result_clear(out);
        return sqlite_fail(ss, "reading history");
    }
    if (id && out->nrows == 0)
        return WEFT_ENOTFOUND;
    return WEFT_OK;
}
