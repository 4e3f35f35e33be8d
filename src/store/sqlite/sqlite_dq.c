/*
 * sqlite_dq.c - the data-quality engine's reads and its result tables.
 *
 * The scans are the engine's whole input, so they are built to stream: one
 * statement, stepped row by row inside one read transaction (one snapshot),
 * each row handed to the callback and forgotten.  The resource scan walks the
 * person index (resource_person: person_id, type, COALESCE(effective,'')) so
 * one person's items arrive together and the engine holds one person at a
 * time, never the region.  The statements are prepared here rather than in
 * the handle's statement cache: a scan outlives any number of other
 * statements the callback might cause.
 *
 * Tables (migration dq-1): dq_run (one row per run), dq_result (per run,
 * organisation and check: tested, failed, threshold, extra figures as JSON)
 * and dq_failure (per run, every failing record with the source's own
 * identifiers).  Runs are kept, so the trend over runs is a plain read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_dq.h"

const struct store_migration sqlite_migration_dq_1 = {
    "dq-1",
    "CREATE TABLE dq_run (id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT,"
    " org TEXT, as_of TEXT NOT NULL, rules_sha256 TEXT NOT NULL, status TEXT NOT NULL);"
    "CREATE TABLE dq_result (run_id INTEGER NOT NULL, org TEXT NOT NULL, check_name TEXT NOT NULL,"
    " dimension TEXT NOT NULL, tested INTEGER NOT NULL, failed INTEGER NOT NULL,"
    " threshold REAL NOT NULL, extra TEXT);"
    "CREATE INDEX dq_result_run ON dq_result (run_id, org);"
    "CREATE TABLE dq_failure (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, org TEXT NOT NULL,"
    " check_name TEXT NOT NULL, dimension TEXT NOT NULL, resource_type TEXT NOT NULL,"
    " source_id TEXT NOT NULL, patient_local_id TEXT NOT NULL, message_control_id TEXT NOT NULL,"
    " detail TEXT NOT NULL);"
    "CREATE INDEX dq_failure_run ON dq_failure (run_id, org, id);",
};

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Step st to the end, calling each(row) per row, inside a read transaction
 * unless the caller holds one. */
static int scan(struct sqlite_store *ss, const char *sql, int (*each)(sqlite3_stmt *, void *),
                void *ctx, const char *what)
{
    bool own = ss->base.txn_depth == 0;
    if (own && sqlite_exec(ss, "BEGIN") != 0)
        return WEFT_EDB;
    sqlite3_stmt *st = NULL;
    int rc = WEFT_OK;
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = sqlite_fail(ss, what);
    } else {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            if ((rc = each(st, ctx)) != 0)
                break;
        if (rc == 0 && step != SQLITE_DONE)
            rc = sqlite_fail(ss, what);
    }
    sqlite3_finalize(st);
    if (own)
        sqlite_exec(ss, "COMMIT");
    return rc;
}

struct item_ctx {
    int (*fn)(const struct store_dq_item *, void *);
    void *ctx;
};

static int item_row(sqlite3_stmt *st, void *p)
{
    struct item_ctx *c = p;
    struct store_dq_item it = {
        .seq = sqlite3_column_int64(st, 0),
        .type = col(st, 1),
        .id = col(st, 2),
        .person_id = col(st, 3),
        .source_org = col(st, 4),
        .source_id = col(st, 5),
        .feed = col(st, 6),
        .effective = col(st, 7),
        .code = col(st, 8),
        .last_updated = col(st, 9),
        .json = col(st, 10),
    };
    it.json_len = (size_t)sqlite3_column_bytes(st, 10);
    return c->fn(&it, c->ctx);
}

int sqlite_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx)
{
    struct item_ctx c = {fn, ctx};
    /* ORDER BY the person index's own columns: no sort, rows stream. */
    return scan(sqlite_of(s),
                "SELECT seq, type, id, person_id, source_org, source_id, feed, effective, code,"
                " last_updated, json FROM resource INDEXED BY resource_person"
                " WHERE next_seq IS NULL AND deleted = 0"
                " ORDER BY person_id, type, COALESCE(effective,'')",
                item_row, &c, "scanning resources");
}

struct inbox_ctx {
    int (*fn)(const struct store_dq_inbox *, void *);
    void *ctx;
};

static int inbox_row(sqlite3_stmt *st, void *p)
{
    struct inbox_ctx *c = p;
    struct store_dq_inbox m = {
        .id = sqlite3_column_int64(st, 0),
        .org = col(st, 1),
        .feed = col(st, 2),
        .kind = col(st, 3),
        .arrived = col(st, 4),
        .control_id = col(st, 5),
        .msg_type = col(st, 6),
        .event_time = col(st, 7),
        .outcome = col(st, 8),
        .error = col(st, 9),
        .body = (const char *)sqlite3_column_blob(st, 10),
    };
    m.body_len = (size_t)sqlite3_column_bytes(st, 10);
    return c->fn(&m, c->ctx);
}

int sqlite_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *),
                         void *ctx)
{
    struct inbox_ctx c = {fn, ctx};
    /* A message that matched no feed (its MSH was broken) is attributed to
     * the feed of the nearest message that came on the same connection
     * (peer address and port): a bounded look around by rowid. */
    return scan(sqlite_of(s),
                "SELECT i.id,"
                " COALESCE(f.org,"
                "  (SELECT f2.org FROM inbox i2 JOIN feed f2 ON f2.id = i2.feed_id"
                "   WHERE i.feed_id = 0 AND i.peer IS NOT NULL AND i2.id < i.id"
                "   AND i2.id > i.id - 5000 AND i2.peer = i.peer AND i2.feed_id <> 0"
                "   ORDER BY i2.id DESC LIMIT 1),"
                "  (SELECT f2.org FROM inbox i2 JOIN feed f2 ON f2.id = i2.feed_id"
                "   WHERE i.feed_id = 0 AND i.peer IS NOT NULL AND i2.id > i.id"
                "   AND i2.id < i.id + 5000 AND i2.peer = i.peer AND i2.feed_id <> 0"
                "   ORDER BY i2.id LIMIT 1)),"
                " f.name, i.kind, i.arrived, i.control_id, i.msg_type, i.event_time, i.outcome,"
                " i.error, CASE WHEN i.outcome IN ('applied', 'duplicate', 'pending') THEN NULL"
                " ELSE i.body END"
                " FROM inbox i LEFT JOIN feed f ON f.id = i.feed_id ORDER BY i.id",
                inbox_row, &c, "scanning the inbox");
}

static int step_done(struct sqlite_store *ss, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, what);
    sqlite3_reset(st);
    return rc;
}

int sqlite_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO dq_run (started, org, as_of, rules_sha256,"
                                       " status) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, in->started);
    sqlite_bind_text(st, 2, in->org);
    sqlite_bind_text(st, 3, in->as_of);
    sqlite_bind_text(st, 4, in->rules_sha256);
    sqlite_bind_text(st, 5, in->status ? in->status : "running");
    int rc = step_done(ss, st, "adding a data-quality run");
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE dq_run SET finished = ?, status = ? WHERE id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, finished);
    sqlite_bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, id);
    int rc = step_done(ss, st, "finishing a data-quality run");
    if (rc == 0 && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "data-quality run %lld not found", (long long)id);
    return rc;
}

int sqlite_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out,
                       int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT id, started, finished, org, as_of, rules_sha256, status FROM dq_run"
                        " WHERE finished IS NOT NULL AND status = 'ok'"
                        " AND (?1 IS NULL OR org IS NULL OR org = ?1) ORDER BY id DESC LIMIT ?2");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, org);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : 100);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        struct store_dq_run *r = &(*out)[(*n)++];
        r->id = sqlite3_column_int64(st, 0);
        r->started = sqlite_col_strdup(st, 1);
        r->finished = sqlite_col_strdup(st, 2);
        r->org = sqlite_col_strdup(st, 3);
        r->as_of = sqlite_col_strdup(st, 4);
        r->rules_sha256 = sqlite_col_strdup(st, 5);
        r->status = sqlite_col_strdup(st, 6);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_dq_runs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return sqlite_fail(ss, "listing data-quality runs");
    }
    return WEFT_OK;
}

int sqlite_dq_result_add(struct store *s, const struct store_dq_result *r)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO dq_result (run_id, org, check_name, dimension,"
                                       " tested, failed, threshold, extra)"
                                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite_bind_text(st, 2, r->org);
    sqlite_bind_text(st, 3, r->check);
    sqlite_bind_text(st, 4, r->dimension);
    sqlite3_bind_int64(st, 5, r->tested);
    sqlite3_bind_int64(st, 6, r->failed);
    sqlite3_bind_double(st, 7, r->threshold);
    sqlite_bind_text(st, 8, r->extra);
    return step_done(ss, st, "adding a data-quality result");
}

int sqlite_dq_result_list(struct store *s, int64_t run_id, const char *org,
                          int (*fn)(const struct store_dq_result *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db,
                           "SELECT org, check_name, dimension, tested, failed, threshold, extra"
                           " FROM dq_result WHERE run_id = ?1 AND (?2 IS NULL OR org = ?2)"
                           " ORDER BY org, rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(ss, "listing data-quality results");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite_bind_text(st, 2, org);
    int rc = WEFT_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_dq_result r = {.run_id = run_id,
                                    .org = col(st, 0),
                                    .check = col(st, 1),
                                    .dimension = col(st, 2),
                                    .tested = sqlite3_column_int64(st, 3),
                                    .failed = sqlite3_column_int64(st, 4),
                                    .threshold = sqlite3_column_double(st, 5),
                                    .extra = col(st, 6)};
        if ((rc = fn(&r, ctx)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "listing data-quality results");
    sqlite3_finalize(st);
    return rc;
}

int sqlite_dq_failure_add(struct store *s, const struct store_dq_failure *f)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO dq_failure (run_id, org, check_name, dimension, resource_type, source_id,"
            " patient_local_id, message_control_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, f->run_id);
    const char *v[] = {f->org,
                       f->check,
                       f->dimension,
                       f->resource_type,
                       f->source_id,
                       f->patient_local_id,
                       f->message_control_id,
                       f->detail};
    for (int i = 0; i < 8; i++)
        sqlite_bind_text(st, i + 2, v[i] ? v[i] : "");
    return step_done(ss, st, "adding a data-quality failure");
}

int sqlite_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                           int (*fn)(const struct store_dq_failure *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db,
                           "SELECT org, check_name, dimension, resource_type, source_id,"
                           " patient_local_id, message_control_id, detail FROM dq_failure"
                           " WHERE run_id = ?1 AND (?2 IS NULL OR org = ?2) ORDER BY org, id",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(ss, "listing data-quality failures");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite_bind_text(st, 2, org);
    int rc = WEFT_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_dq_failure f = {.run_id = run_id,
                                     .org = col(st, 0),
                                     .check = col(st, 1),
                                     .dimension = col(st, 2),
                                     .resource_type = col(st, 3),
                                     .source_id = col(st, 4),
                                     .patient_local_id = col(st, 5),
                                     .message_control_id = col(st, 6),
                                     .detail = col(st, 7)};
        if ((rc = fn(&f, ctx)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sqlite_fail(ss, "listing data-quality failures");
    sqlite3_finalize(st);
    return rc;
}
