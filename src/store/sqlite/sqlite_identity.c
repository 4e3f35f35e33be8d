/*
 * sqlite_identity.c - the master person index's tables for SQLite.
 *
 * identity_record holds one row per source Patient with its normalised
 * demographics and four blocking keys, each indexed: the feed path asks for
 * the records sharing a key with a new Patient (at most cap rows per key),
 * so the work per Patient is bounded by block sizes.  Which person holds a
 * record is not stored here but read through person_local (org,
 * link_system, source_id): merges and unmerges move that row, so the index
 * can never disagree with them.
 *
 * identity_decision is append-only (who decided, score, model version);
 * identity_review is the queue; identity_nonmatch the "not the same person"
 * pairs, kept in both directions so one indexed lookup finds them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_core.h"
#include "store/sqlite/sqlite_identity.h"

const struct store_migration sqlite_migration_identity_1 = {
    "identity-1",
    "CREATE TABLE identity_record (org TEXT NOT NULL, source_id TEXT NOT NULL,"
    " demog TEXT NOT NULL, nhs TEXT, locals TEXT, k0 TEXT, k1 TEXT, k2 TEXT, k3 TEXT,"
    " updated TEXT NOT NULL, PRIMARY KEY (org, source_id));"
    "CREATE INDEX identity_record_k0 ON identity_record (k0, nhs);"
    "CREATE INDEX identity_record_k1 ON identity_record (k1, nhs);"
    "CREATE INDEX identity_record_k2 ON identity_record (k2, nhs);"
    "CREATE INDEX identity_record_k3 ON identity_record (k3, nhs);"
    "CREATE TABLE identity_decision (id INTEGER PRIMARY KEY, created TEXT NOT NULL,"
    " action TEXT NOT NULL, org TEXT, source_id TEXT, person_id TEXT, other_person TEXT,"
    " other_org TEXT, other_source_id TEXT, score REAL, model_version INTEGER,"
    " decided_by TEXT NOT NULL, merge_id INTEGER, note TEXT);"
    "CREATE INDEX identity_decision_record ON identity_decision (org, source_id);"
    "CREATE TABLE identity_review (id INTEGER PRIMARY KEY, created TEXT NOT NULL,"
    " org TEXT NOT NULL, source_id TEXT NOT NULL, other_org TEXT NOT NULL,"
    " other_source_id TEXT NOT NULL, score REAL, model_version INTEGER, status TEXT NOT NULL,"
    " decided_by TEXT, decided TEXT, decision_id INTEGER);"
    "CREATE INDEX identity_review_status ON identity_review (status, id);"
    "CREATE UNIQUE INDEX identity_review_pair ON identity_review"
    " (org, source_id, other_org, other_source_id);"
    "CREATE TABLE identity_nonmatch (org TEXT NOT NULL, source_id TEXT NOT NULL,"
    " other_org TEXT NOT NULL, other_source_id TEXT NOT NULL, decision_id INTEGER,"
    " PRIMARY KEY (org, source_id, other_org, other_source_id));",
};

/* review-other-1: the queue's records looked up from the second side too
 * (identity_review_pair leads with the first), so "is this person's record
 * under review" is two index probes per record, not a read of the queue. */
const struct store_migration sqlite_migration_review_other_1 = {
    "review-other-1",
    "CREATE INDEX identity_review_other ON identity_review (other_org, other_source_id);",
};

static int step_done(struct sqlite_store *ss, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, what);
}

int sqlite_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4])
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO identity_record (org, source_id, demog, nhs, locals, k0, k1, k2, k3,"
            " updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            " ON CONFLICT (org, source_id) DO UPDATE SET demog = ?3, nhs = ?4, locals = ?5,"
            " k0 = ?6, k1 = ?7, k2 = ?8, k3 = ?9, updated = ?10"
            " WHERE demog IS NOT ?3 OR nhs IS NOT ?4 OR locals IS NOT ?5");
    if (!st)
        return WEFT_EDB;
    /* in a transaction its start time, as the resources it writes carry
     * (formatting the clock per record was a tenth of this write) */
    char now[32];
    if (s->txn_depth > 0)
        memcpy(now, ss->txn_now, sizeof now);
    else
        sqlite_now(now);
    sqlite_bind_text(st, 1, r->org);
    sqlite_bind_text(st, 2, r->source_id);
    sqlite_bind_text(st, 3, r->demog);
    sqlite_bind_text(st, 4, r->nhs && *r->nhs ? r->nhs : NULL);
    sqlite_bind_text(st, 5, r->locals && *r->locals ? r->locals : NULL);
    for (int i = 0; i < 4; i++)
        sqlite_bind_text(st, 6 + i, keys[i] && *keys[i] ? keys[i] : NULL);
    sqlite_bind_text(st, 10, now);
    return step_done(ss, st, "writing identity record");
}

#define REC_COLS "r.org, r.source_id, r.demog, r.nhs, r.locals, pl.person_id, p.nhs"
#define REC_JOIN                                                                                   \
    " FROM identity_record r LEFT JOIN person_local pl ON pl.org = r.org AND pl.system = ?1"       \
    " AND pl.value = r.source_id LEFT JOIN person p ON p.id = pl.person_id"

static void rec_fill(sqlite3_stmt *st, struct store_idrec *r)
{
    r->org = sqlite_col_strdup(st, 0);
    r->source_id = sqlite_col_strdup(st, 1);
    r->demog = sqlite_col_strdup(st, 2);
    r->nhs = sqlite_col_strdup(st, 3);
    r->locals = sqlite_col_strdup(st, 4);
    r->person_id = sqlite_col_strdup(st, 5);
    r->person_nhs = sqlite_col_strdup(st, 6);
}

/* Step st to the end, appending each row to *out. */
static int collect(struct sqlite_store *ss, sqlite3_stmt *st, struct store_idrec **out, int *n)
{
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        rec_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading identity records");
}

static int cmp_rowid(const void *a, const void *b)
{
    sqlite3_int64 x = *(const sqlite3_int64 *)a, y = *(const sqlite3_int64 *)b;
    return x < y ? -1 : x > y;
}

int sqlite_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                            int cap, bool without_nhs, struct store_idrec **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* without_nhs: only records without an NHS number, straight from the
     * (key, nhs) indexes - a record that has one is never read.  A key's
     * block is read only when it holds at most cap such records: each key's
     * rowids are walked from its index alone (no table row), at most
     * cap + 1 of them, and an over-large block is dropped whole rather than
     * sampled; then the rows of the blocks kept, each once, in rowid order.
     * (One walk per key: counting first and then reading the union of the
     * blocks in one statement walked every kept block twice and built the
     * union in a temporary b-tree, most of the feed path's matching cost.
     * A record with an NHS number is not first probed with one four-way
     * EXISTS: where records without a number are common the probe was
     * mostly positive and paid on top of the walks; where they are rare
     * four empty walks cost a third more than it did.  Instructions
     * (callgrind), CSV extracts of 10,000 rows: +0.8% with every row
     * numbered; about -0.7% with 35% without, from the per-statement
     * costs.) */
    static const char *const walk_sql[2] = {
        "SELECT 0, id FROM (SELECT rowid AS id FROM identity_record WHERE k0 = ?1 LIMIT ?5 + 1)"
        " UNION ALL SELECT 1, id FROM (SELECT rowid AS id FROM identity_record WHERE k1 = ?2"
        " LIMIT ?5 + 1)"
        " UNION ALL SELECT 2, id FROM (SELECT rowid AS id FROM identity_record WHERE k2 = ?3"
        " LIMIT ?5 + 1)"
        " UNION ALL SELECT 3, id FROM (SELECT rowid AS id FROM identity_record WHERE k3 = ?4"
        " LIMIT ?5 + 1)",
        "SELECT 0, id FROM (SELECT rowid AS id FROM identity_record WHERE k0 = ?1 AND nhs IS NULL"
        " LIMIT ?5 + 1)"
        " UNION ALL SELECT 1, id FROM (SELECT rowid AS id FROM identity_record WHERE k1 = ?2"
        " AND nhs IS NULL LIMIT ?5 + 1)"
        " UNION ALL SELECT 2, id FROM (SELECT rowid AS id FROM identity_record WHERE k2 = ?3"
        " AND nhs IS NULL LIMIT ?5 + 1)"
        " UNION ALL SELECT 3, id FROM (SELECT rowid AS id FROM identity_record WHERE k3 = ?4"
        " AND nhs IS NULL LIMIT ?5 + 1)"};
    if (cap < 0)
        cap = 0;
    /* the four walks in one statement (a key absent is bound NULL and walks
     * nothing): one step per row instead of a statement per key */
    sqlite3_stmt *c = sqlite_stmt(ss, walk_sql[without_nhs ? 1 : 0]);
    if (!c)
        return WEFT_EDB;
    for (int i = 0; i < 4; i++)
        sqlite_bind_text(c, 1 + i, keys[i] && *keys[i] ? keys[i] : NULL);
    sqlite3_bind_int(c, 5, cap);
    sqlite3_int64 *ids = NULL;
    int *tag = NULL;
    size_t nids = 0, idcap = 0, per[4] = {0};
    int rc;
    while ((rc = sqlite3_step(c)) == SQLITE_ROW) {
        int k = sqlite3_column_int(c, 0);
        if (k < 0 || k > 3)
            continue;
        if (nids == idcap) {
            idcap = idcap ? idcap * 2 : 64;
            ids = xrealloc(ids, sizeof *ids * idcap);
            tag = xrealloc(tag, sizeof *tag * idcap);
        }
        tag[nids] = k;
        ids[nids++] = sqlite3_column_int64(c, 1);
        per[k]++;
    }
    sqlite3_reset(c);
    if (rc != SQLITE_DONE) {
        free(ids);
        free(tag);
        return sqlite_fail(ss, "reading identity records");
    }
    /* an over-large block (cap + 1 walked) is skipped whole */
    size_t kept = 0;
    for (size_t i = 0; i < nids; i++)
        if (per[tag[i]] <= (size_t)cap)
            ids[kept++] = ids[i];
    free(tag);
    nids = kept;
    if (nids == 0) {
        free(ids);
        return WEFT_OK;
    }
    /* each record once, in rowid order (as the union read them) */
    qsort(ids, nids, sizeof *ids, cmp_rowid);
    size_t u = 0;
    for (size_t i = 0; i < nids; i++)
        if (u == 0 || ids[u - 1] != ids[i])
            ids[u++] = ids[i];
    /* one row at a time by rowid: fetching eight at a time with
     * `rowid IN (?1, ..., ?8)` cost 2.5 times as much (the IN list is
     * built into a temporary b-tree per statement) */
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT org, source_id, demog, nhs, locals, NULL, NULL"
                                       " FROM identity_record WHERE rowid = ?1");
    if (!st) {
        free(ids);
        return WEFT_EDB;
    }
    *out = xrealloc(*out, sizeof **out * (size_t)(*n + (int)u));
    rc = SQLITE_DONE;
    for (size_t i = 0; i < u && rc == SQLITE_DONE; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            rec_fill(st, &(*out)[(*n)++]);
            rc = SQLITE_DONE;
        }
        sqlite3_reset(st);
    }
    free(ids);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading identity records");
}

/* store_person_nhs_link: the calls it stands for, one after another (a
 * SQLite call is a function call, not a round trip). */
int sqlite_person_nhs_link(struct store *s, struct store_person_nhs_link *l)
{
    char *known = NULL;
    int rc = sqlite_person_find_local(s, l->org, l->link_system, l->source_id, &known);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    free(known);
    l->source_known = rc == 0;
    if ((rc = sqlite_person_by_nhs(s, l->nhs, &l->person_id)) != 0)
        return rc;
    if (!l->source_known && (rc = sqlite_idrec_candidates(s, l->link_system, l->keys, l->cap, true,
                                                          &l->cands, &l->ncands)) != 0)
        return rc;
    for (int i = 0; i < l->nattach; i++)
        if ((rc = sqlite_person_by_local(s, l->attach_org[i], l->attach_system[i],
                                         l->attach_value[i], l->person_id, &l->attached[i])) != 0)
            return rc;
    return WEFT_OK;
}

int sqlite_idrec_person(struct store *s, const char *link_system, struct store_idrec *r)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT pl.person_id, p.nhs FROM person_local pl LEFT JOIN person p"
                        " ON p.id = pl.person_id WHERE pl.org = ?1 AND pl.system = ?2"
                        " AND pl.value = ?3");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, r->org);
    sqlite_bind_text(st, 2, link_system);
    sqlite_bind_text(st, 3, r->source_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r->person_id = sqlite_col_strdup(st, 0);
        r->person_nhs = sqlite_col_strdup(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WEFT_OK
                                                 : sqlite_fail(ss, "reading a record's person");
}

int sqlite_idrec_get(struct store *s, const char *link_system, const char *org,
                     const char *source_id, struct store_idrec *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT " REC_COLS REC_JOIN " WHERE r.org = ?2 AND r.source_id = ?3");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, link_system);
    sqlite_bind_text(st, 2, org);
    sqlite_bind_text(st, 3, source_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rec_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? store_fail(s, WEFT_ENOTFOUND, "no such source record")
                             : sqlite_fail(ss, "reading identity record");
}

int sqlite_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                           struct store_idrec **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT r.org, r.source_id, r.demog, r.nhs, r.locals, pl.person_id, p.nhs"
                        " FROM person_local pl JOIN identity_record r ON r.org = pl.org"
                        " AND r.source_id = pl.value LEFT JOIN person p ON p.id = pl.person_id"
                        " WHERE pl.person_id = ?2 AND pl.system = ?1 ORDER BY r.org, r.source_id");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, link_system);
    sqlite_bind_text(st, 2, person_id);
    return collect(ss, st, out, n);
}

int sqlite_idrec_scan(struct store *s, const char *link_system,
                      int (*fn)(const struct store_idrec *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " REC_COLS REC_JOIN " ORDER BY r.org, r.source_id");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, link_system);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_idrec r = {
            (char *)sqlite3_column_text(st, 0), (char *)sqlite3_column_text(st, 1),
            (char *)sqlite3_column_text(st, 2), (char *)sqlite3_column_text(st, 3),
            (char *)sqlite3_column_text(st, 4), (char *)sqlite3_column_text(st, 5),
            (char *)sqlite3_column_text(st, 6),
        };
        int x = fn(&r, ctx);
        if (x != 0) {
            sqlite3_reset(st);
            return x;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "scanning identity records");
}

/* One decision row stamped now (the many form reads the clock once). */
static int decision_insert(struct sqlite_store *ss, const struct store_iddecision *d,
                           const char *now, int64_t *id_out)
{
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO identity_decision (created, action, org, source_id, person_id,"
            " other_person, other_org, other_source_id, score, model_version, decided_by,"
            " merge_id, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, d->action);
    sqlite_bind_text(st, 3, d->org);
    sqlite_bind_text(st, 4, d->source_id);
    sqlite_bind_text(st, 5, d->person_id);
    sqlite_bind_text(st, 6, d->other_person);
    sqlite_bind_text(st, 7, d->other_org);
    sqlite_bind_text(st, 8, d->other_source_id);
    sqlite3_bind_double(st, 9, d->score);
    sqlite3_bind_int(st, 10, d->model_version);
    sqlite_bind_text(st, 11, d->decided_by);
    if (d->merge_id)
        sqlite3_bind_int64(st, 12, d->merge_id);
    sqlite_bind_text(st, 13, d->note);
    int rc = step_done(ss, st, "writing identity decision");
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out)
{
    char now[32];
    sqlite_now(now);
    return decision_insert(sqlite_of(s), d, now, id_out);
}

int sqlite_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                           struct store_iddecision **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT id, created, action, org, source_id, person_id, other_person, other_org,"
            " other_source_id, score, model_version, decided_by, merge_id, note"
            " FROM identity_decision WHERE ?1 IS NULL OR (org = ?1 AND source_id = ?2)"
            " OR (other_org = ?1 AND other_source_id = ?2) ORDER BY id DESC LIMIT ?3");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, org);
    sqlite_bind_text(st, 2, source_id);
    sqlite3_bind_int(st, 3, limit > 0 ? limit : 100);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_iddecision *d = &(*out)[(*n)++];
        d->id = sqlite3_column_int64(st, 0);
        d->created = sqlite_col_strdup(st, 1);
        d->action = sqlite_col_strdup(st, 2);
        d->org = sqlite_col_strdup(st, 3);
        d->source_id = sqlite_col_strdup(st, 4);
        d->person_id = sqlite_col_strdup(st, 5);
        d->other_person = sqlite_col_strdup(st, 6);
        d->other_org = sqlite_col_strdup(st, 7);
        d->other_source_id = sqlite_col_strdup(st, 8);
        d->score = sqlite3_column_double(st, 9);
        d->model_version = sqlite3_column_int(st, 10);
        d->decided_by = sqlite_col_strdup(st, 11);
        d->merge_id = sqlite3_column_int64(st, 12);
        d->note = sqlite_col_strdup(st, 13);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing identity decisions");
}

/* A queued pair's columns as parameters 1-7 (created, the two records,
 * score, model version) of either insert below. */
static void review_bind(sqlite3_stmt *st, const struct store_idreview *r, const char *now)
{
    sqlite_bind_text(st, 1, now);
    sqlite_bind_text(st, 2, r->org);
    sqlite_bind_text(st, 3, r->source_id);
    sqlite_bind_text(st, 4, r->other_org);
    sqlite_bind_text(st, 5, r->other_source_id);
    sqlite3_bind_double(st, 6, r->score);
    sqlite3_bind_int(st, 7, r->model_version);
}

/* One review row stamped now, unless the pair is queued already either
 * way round (the many form reads the clock once). */
static int review_insert(struct sqlite_store *ss, const struct store_idreview *r, const char *now,
                         int64_t *id_out)
{
    if (id_out)
        *id_out = 0;
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO identity_review (created, org, source_id, other_org, other_source_id,"
            " score, model_version, status) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open'"
            " WHERE NOT EXISTS (SELECT 1 FROM identity_review WHERE (org = ?2 AND"
            " source_id = ?3 AND other_org = ?4 AND other_source_id = ?5) OR (org = ?4 AND"
            " source_id = ?5 AND other_org = ?2 AND other_source_id = ?3))");
    if (!st)
        return WEFT_EDB;
    review_bind(st, r, now);
    int rc = step_done(ss, st, "queueing review");
    if (rc == 0 && id_out && sqlite3_changes(ss->db) > 0)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_idreview_add(struct store *s, const struct store_idreview *r, int64_t *id_out)
{
    char now[32];
    sqlite_now(now);
    return review_insert(sqlite_of(s), r, now, id_out);
}

/* In SQLite a prepared statement is the bulk path: the many forms are loops. */
int sqlite_iddecision_add_many(struct store *s, const struct store_iddecision *d, size_t n)
{
    char now[32];
    sqlite_now(now);
    int rc = WEFT_OK;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = decision_insert(sqlite_of(s), &d[i], now, NULL);
    return rc;
}

/* Inside a transaction (relink's: the write lock held, so nothing comes
 * between a look-up and its insert) each pair is looked up, then inserted
 * with a plain INSERT: the one-statement form (INSERT ... SELECT ... WHERE
 * NOT EXISTS, which reads the table it writes) makes SQLite build a
 * temporary table and an OR-set for every row, about a fifth of its cost. */
static int review_insert_locked(struct sqlite_store *ss, const struct store_idreview *r,
                                const char *now, int64_t *id_out)
{
    *id_out = 0;
    sqlite3_stmt *q = sqlite_stmt(
        ss, "SELECT EXISTS (SELECT 1 FROM identity_review WHERE org = ?1 AND source_id = ?2"
            " AND other_org = ?3 AND other_source_id = ?4) OR EXISTS (SELECT 1 FROM"
            " identity_review WHERE org = ?3 AND source_id = ?4 AND other_org = ?1 AND"
            " other_source_id = ?2)");
    if (!q)
        return WEFT_EDB;
    sqlite_bind_text(q, 1, r->org);
    sqlite_bind_text(q, 2, r->source_id);
    sqlite_bind_text(q, 3, r->other_org);
    sqlite_bind_text(q, 4, r->other_source_id);
    int x = sqlite3_step(q);
    int queued = x == SQLITE_ROW && sqlite3_column_int(q, 0) != 0;
    sqlite3_reset(q);
    if (x != SQLITE_ROW)
        return sqlite_fail(ss, "queueing review");
    if (queued)
        return WEFT_OK;
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO identity_review (created, org, source_id, other_org, other_source_id,"
            " score, model_version, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'open')");
    if (!st)
        return WEFT_EDB;
    review_bind(st, r, now);
    int rc = step_done(ss, st, "queueing review");
    if (rc == 0)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_idreview_add_many(struct store *s, const struct store_idreview *r, size_t n, long *added)
{
    char now[32];
    sqlite_now(now);
    bool locked = s->txn_depth > 0;
    int rc = WEFT_OK;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int64_t id = 0;
        rc = locked ? review_insert_locked(sqlite_of(s), &r[i], now, &id)
                    : review_insert(sqlite_of(s), &r[i], now, &id);
        *added += id != 0;
    }
    return rc;
}

#define REVIEW_COLS                                                                                \
    "id, created, org, source_id, other_org, other_source_id, score, model_version, status,"       \
    " decided_by, decided, decision_id"

static void review_fill(sqlite3_stmt *st, struct store_idreview *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->created = sqlite_col_strdup(st, 1);
    r->org = sqlite_col_strdup(st, 2);
    r->source_id = sqlite_col_strdup(st, 3);
    r->other_org = sqlite_col_strdup(st, 4);
    r->other_source_id = sqlite_col_strdup(st, 5);
    r->score = sqlite3_column_double(st, 6);
    r->model_version = sqlite3_column_int(st, 7);
    r->status = sqlite_col_strdup(st, 8);
    r->decided_by = sqlite_col_strdup(st, 9);
    r->decided = sqlite_col_strdup(st, 10);
    r->decision_id = sqlite3_column_int64(st, 11);
}

int sqlite_idreview_list(struct store *s, const char *status, int limit,
                         struct store_idreview **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " REVIEW_COLS " FROM identity_review"
                                       " WHERE ?1 IS NULL OR status = ?1 ORDER BY id LIMIT ?2");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, status);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : 100);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        review_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing reviews");
}

int sqlite_idreview_open_for_person(struct store *s, const char *link_system, const char *person_id,
                                    bool *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* the person's records drive (CROSS JOIN keeps them outer, "+" keeps the
     * status index out): by status, SQLite would walk every open pair */
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT EXISTS (SELECT 1 FROM person_local pl CROSS JOIN identity_review v"
            " ON v.org = pl.org AND v.source_id = pl.value WHERE pl.person_id = ?2"
            " AND pl.system = ?1 AND +v.status = 'open') OR EXISTS (SELECT 1 FROM person_local pl"
            " CROSS JOIN identity_review v ON v.other_org = pl.org AND v.other_source_id = pl.value"
            " WHERE pl.person_id = ?2 AND pl.system = ?1 AND +v.status = 'open')");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, link_system);
    sqlite_bind_text(st, 2, person_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "reading the review queue");
}

int sqlite_idreview_count(struct store *s, const char *status, int64_t *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT count(*) FROM identity_review"
                                       " WHERE ?1 IS NULL OR status = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, status);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "counting reviews");
}

int sqlite_idreview_get(struct store *s, int64_t id, struct store_idreview *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " REVIEW_COLS " FROM identity_review WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        review_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? store_fail(s, WEFT_ENOTFOUND, "no such review")
                             : sqlite_fail(ss, "reading review");
}

int sqlite_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                           int64_t decision_id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE identity_review SET status = ?, decided_by = ?,"
                                       " decided = ?, decision_id = ? WHERE id = ?"
                                       " AND status = 'open'");
    if (!st)
        return WEFT_EDB;
    char now[32];
    sqlite_now(now);
    sqlite_bind_text(st, 1, status);
    sqlite_bind_text(st, 2, by);
    sqlite_bind_text(st, 3, now);
    sqlite3_bind_int64(st, 4, decision_id);
    sqlite3_bind_int64(st, 5, id);
    int rc = step_done(ss, st, "deciding review");
    if (rc == 0 && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ECONFLICT, "review %lld is not open", (long long)id);
    return rc;
}

int sqlite_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                          const char *other_org, const char *other_source_id, int64_t decision_id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT OR IGNORE INTO identity_nonmatch (org, source_id, other_org, other_source_id,"
            " decision_id) VALUES (?1, ?2, ?3, ?4, ?5), (?3, ?4, ?1, ?2, ?5)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, org);
    sqlite_bind_text(st, 2, source_id);
    sqlite_bind_text(st, 3, other_org);
    sqlite_bind_text(st, 4, other_source_id);
    sqlite3_bind_int64(st, 5, decision_id);
    return step_done(ss, st, "writing not-the-same-person");
}

int sqlite_idnonmatch_persons(struct store *s, const char *link_system,
                              int (*fn)(const char *person_id, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT DISTINCT pl.person_id FROM identity_nonmatch n JOIN person_local pl"
            " ON pl.org = n.org AND pl.system = ?1 AND pl.value = n.source_id ORDER BY 1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, link_system);
    int rc, r = 0;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        r = fn((const char *)sqlite3_column_text(st, 0), ctx);
    sqlite3_reset(st);
    if (r != 0)
        return r;
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading not-the-same-person");
}

int sqlite_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                           struct store_idrec **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT other_org, other_source_id FROM identity_nonmatch"
                                       " WHERE org = ? AND source_id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, org);
    sqlite_bind_text(st, 2, source_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_idrec *r = &(*out)[(*n)++];
        *r = (struct store_idrec){0};
        r->org = sqlite_col_strdup(st, 0);
        r->source_id = sqlite_col_strdup(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading not-the-same-person");
}

/* One statement with text parameters; 0 or a store error. */
static int run_t(struct sqlite_store *ss, const char *sql, int nargs, ...)
{
    sqlite3_stmt *st = sqlite_stmt(ss, sql);
    if (!st)
        return WEFT_EDB;
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++)
        sqlite_bind_text(st, i + 1, va_arg(ap, const char *));
    va_end(ap);
    return step_done(ss, st, "splitting person");
}

static int count_t(struct sqlite_store *ss, const char *sql, const char *a, const char *b,
                   const char *c, int64_t *out)
{
    sqlite3_stmt *st = sqlite_stmt(ss, sql);
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, a);
    sqlite_bind_text(st, 2, b);
    sqlite_bind_text(st, 3, c);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "splitting person");
}

int sqlite_person_split(struct store *s, const char *person_id, const char *link_system,
                        const char *org, const char *source_id, char **new_person_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    int64_t same_org = 0, all = 0;
    int rc;
    /* the record is the person's */
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT 1 FROM person_local WHERE person_id = ? AND"
                                       " system = ? AND org = ? AND value = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    sqlite_bind_text(st, 2, link_system);
    sqlite_bind_text(st, 3, org);
    sqlite_bind_text(st, 4, source_id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? store_fail(s, WEFT_ENOTFOUND, "the record is not the person's")
                                 : sqlite_fail(ss, "splitting person");
    if ((rc = count_t(ss,
                      "SELECT count(*) FROM person_local WHERE person_id = ?1 AND system = ?2"
                      " AND org = ?3",
                      person_id, link_system, org, &same_org)) != 0 ||
        (rc = count_t(ss,
                      "SELECT count(*) FROM person_local WHERE person_id = ?1 AND system = ?2"
                      " AND ?3 IS NULL",
                      person_id, link_system, NULL, &all)) != 0)
        return rc;
    if (all < 2)
        return store_fail(s, WEFT_ECONFLICT, "the person holds only this record");
    if (same_org > 1)
        return store_fail(s, WEFT_ECONFLICT,
                          "the person holds another record from %s: its items cannot be told"
                          " apart; undo the merge that joined them instead",
                          org);
    unsigned char r[16];
    char id[33];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(id, sizeof id, r, sizeof r);
    char now[32];
    sqlite_now(now);
    if ((rc = run_t(ss, "INSERT INTO person (id, nhs, created) VALUES (?, NULL, ?)", 2, id, now)) !=
        0)
        goto out;
    /* the record's source id and its local identifiers (the locals lines) */
    if ((rc = run_t(ss,
                    "UPDATE person_local SET person_id = ?1 WHERE person_id = ?2 AND ((system = ?3"
                    " AND org = ?4 AND value = ?5) OR EXISTS (SELECT 1 FROM identity_record r"
                    " WHERE r.org = ?4 AND r.source_id = ?5 AND instr(char(10) || r.locals ||"
                    " char(10), char(10) || person_local.org || char(9) || person_local.system"
                    " || char(9) || person_local.value || char(10)) > 0))",
                    5, id, person_id, link_system, org, source_id)) != 0 ||
        (rc = run_t(ss,
                    "UPDATE resource SET person_id = ?1 WHERE person_id = ?2 AND source_org = ?3",
                    3, id, person_id, org)) != 0)
        goto out;
    *new_person_out = xstrdup(id);
out:
    sqlite_person_cache_clear(ss);
    return rc;
}

int sqlite_person_merge_of_local(struct store *s, const char *org, const char *system,
                                 const char *value, int64_t *merge_id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT m.id FROM person_merge_local l JOIN person_merge m ON m.id = l.merge_id"
            " WHERE l.org = ? AND l.system = ? AND l.value = ? AND m.undone IS NULL"
            " ORDER BY m.id DESC LIMIT 1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, org);
    sqlite_bind_text(st, 2, system);
    sqlite_bind_text(st, 3, value);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *merge_id_out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading merges");
}
