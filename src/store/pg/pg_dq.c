/*
 * pg_dq.c - the data-quality engine's reads and its result tables for
 * PostgreSQL (the model: sqlite_dq.c).
 *
 * The scans stream: a cursor in one REPEATABLE READ transaction (one
 * snapshot, as SQLite's read transaction gives), fetched DQ_FETCH rows at a
 * time, each row handed to the callback and forgotten - one person's items
 * arrive together (ORDER BY the person index's columns), never the region.
 * The callback may use other handles (the engine writes through its own);
 * on this handle it must not end the scan's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

#define DQ_FETCH 500
#define DQ_FETCH_S "500"

/* Declare sql as a cursor, fetch it in chunks, call each(result, row, ctx)
 * per row; non-zero from each stops and is returned. */
static int scan(struct pg_store *ps, const char *sql, int (*each)(const PGresult *, int, void *),
                void *ctx, const char *what)
{
    bool own = ps->base.txn_depth == 0;
    int rc = pg_exec(ps, own ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "SELECT 1");
    if (rc != 0)
        return rc;
    struct buf decl = BUF_INIT;
    buf_addf(&decl, "DECLARE weft_dq_scan NO SCROLL CURSOR FOR %s", sql);
    rc = pg_exec(ps, decl.data);
    buf_release(&decl);
    while (rc == 0) {
        PGresult *r = PQexec(ps->conn, "FETCH " DQ_FETCH_S " FROM weft_dq_scan");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = pg_fail(ps, what, r);
            PQclear(r);
            break;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == 0; i++)
            rc = each(r, i, ctx);
        PQclear(r);
        if (n < DQ_FETCH)
            break;
    }
    if (own)
        PQclear(PQexec(ps->conn, rc == 0 ? "COMMIT" : "ROLLBACK"));
    else
        PQclear(PQexec(ps->conn, "CLOSE weft_dq_scan"));
    return rc;
}

static const char *col(const PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

struct item_ctx {
    int (*fn)(const struct store_dq_item *, void *);
    void *ctx;
};

static int item_row(const PGresult *r, int i, void *p)
{
    struct item_ctx *c = p;
    struct store_dq_item it = {
        .seq = pg_int(r, i, 0),
        .type = col(r, i, 1),
        .id = col(r, i, 2),
        .person_id = col(r, i, 3),
        .source_org = col(r, i, 4),
        .source_id = col(r, i, 5),
        .feed = col(r, i, 6),
        .effective = col(r, i, 7),
        .code = col(r, i, 8),
        .last_updated = col(r, i, 9),
        .json = col(r, i, 10),
        .json_len = (size_t)PQgetlength(r, i, 10),
    };
    return c->fn(&it, c->ctx);
}

int pg_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx)
{
    struct item_ctx c = {fn, ctx};
    /* items without a person first, as SQLite orders NULL */
    return scan(pg_of(s),
                "SELECT seq, type, id, person_id, source_org, source_id, feed, effective, code,"
                " last_updated, json FROM resource WHERE next_seq IS NULL AND NOT deleted"
                " ORDER BY person_id NULLS FIRST, type, COALESCE(effective, '')",
                item_row, &c, "scanning resources");
}

struct inbox_ctx {
    int (*fn)(const struct store_dq_inbox *, void *);
    void *ctx;
};

static int inbox_row(const PGresult *r, int i, void *p)
{
    struct inbox_ctx *c = p;
    struct store_dq_inbox m = {
        .id = pg_int(r, i, 0),
        .org = col(r, i, 1),
        .feed = col(r, i, 2),
        .kind = col(r, i, 3),
        .arrived = col(r, i, 4),
        .control_id = col(r, i, 5),
        .msg_type = col(r, i, 6),
        .event_time = col(r, i, 7),
        .outcome = col(r, i, 8),
        .error = col(r, i, 9),
    };
    /* the body: bytea as hex text, decoded into a buffer for the callback */
    char *body = NULL;
    if (!PQgetisnull(r, i, 10)) {
        size_t cap = (size_t)PQgetlength(r, i, 10) / 2 + 1;
        body = xmalloc(cap);
        m.body_len = pg_bytes(r, i, 10, (unsigned char *)body, cap - 1);
        body[m.body_len] = 0;
        m.body = body;
    }
    int rc = c->fn(&m, c->ctx);
    free(body);
    return rc;
}

int pg_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *), void *ctx)
{
    struct inbox_ctx c = {fn, ctx};
    /* a message that matched no feed: the feed of the nearest message on the
     * same connection (sqlite_dq.c says why) */
    return scan(pg_of(s),
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

int pg_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out)
{
    struct pg_params p = {0};
    pg_p_text(&p, in->started);
    pg_p_text(&p, in->org);
    pg_p_text(&p, in->as_of);
    pg_p_text(&p, in->rules_sha256);
    pg_p_text(&p, in->status ? in->status : "running");
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "INSERT INTO dq_run (started, org, as_of, rules_sha256, status)"
                         " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    if (id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status)
{
    struct pg_params p = {0};
    pg_p_text(&p, finished);
    pg_p_text(&p, status);
    pg_p_int(&p, id);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s), "UPDATE dq_run SET finished = $1, status = $2 WHERE id = $3", &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "data-quality run %lld not found", (long long)id);
    return rc;
}

int pg_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out, int *n)
{
    struct pg_params p = {0};
    pg_p_text(&p, org);
    pg_p_int(&p, limit > 0 ? limit : 100);
    int rc;
    PGresult *r =
        pg_run(pg_of(s),
               "SELECT id, started, finished, org, as_of, rules_sha256, status FROM dq_run"
               " WHERE finished IS NOT NULL AND status = 'ok' AND ($1::text IS NULL OR"
               " org IS NULL OR org = $1) ORDER BY id DESC LIMIT $2",
               &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + rows));
    for (int i = 0; i < rows; i++) {
        struct store_dq_run *x = &(*out)[(*n)++];
        memset(x, 0, sizeof *x);
        x->id = pg_int(r, i, 0);
        char **const f[] = {&x->started, &x->finished,     &x->org,
                            &x->as_of,   &x->rules_sha256, &x->status};
        for (int k = 0; k < 6; k++)
            *f[k] = pg_strdup(r, i, 1 + k);
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_dq_result_add(struct store *s, const struct store_dq_result *x)
{
    struct pg_params p = {0};
    pg_p_int(&p, x->run_id);
    pg_p_text(&p, x->org);
    pg_p_text(&p, x->check);
    pg_p_text(&p, x->dimension);
    pg_p_int(&p, x->tested);
    pg_p_int(&p, x->failed);
    pg_p_text(&p, NULL);
    snprintf(p.num[p.n - 1], sizeof p.num[0], "%.17g", x->threshold);
    p.v[p.n - 1] = p.num[p.n - 1];
    pg_p_text(&p, x->extra);
    return pg_cmd(pg_of(s),
                  "INSERT INTO dq_result (run_id, org, check_name, dimension, tested, failed,"
                  " threshold, extra) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  &p, NULL);
}

int pg_dq_result_list(struct store *s, int64_t run_id, const char *org,
                      int (*fn)(const struct store_dq_result *, void *), void *ctx)
{
    struct pg_params p = {0};
    pg_p_int(&p, run_id);
    pg_p_text(&p, org);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT org, check_name, dimension, tested, failed, threshold, extra"
                         " FROM dq_result WHERE run_id = $1 AND ($2::text IS NULL OR org = $2)"
                         " ORDER BY org, id",
                         &p, &rc);
    if (!r)
        return rc;
    rc = WEFT_OK;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        struct store_dq_result x = {.run_id = run_id,
                                    .org = col(r, i, 0),
                                    .check = col(r, i, 1),
                                    .dimension = col(r, i, 2),
                                    .tested = pg_int(r, i, 3),
                                    .failed = pg_int(r, i, 4),
                                    .threshold = strtod(PQgetvalue(r, i, 5), NULL),
                                    .extra = col(r, i, 6)};
        rc = fn(&x, ctx);
    }
    PQclear(r);
    return rc;
}

int pg_dq_failure_add(struct store *s, const struct store_dq_failure *f)
{
    struct pg_params p = {0};
    pg_p_int(&p, f->run_id);
    const char *v[] = {f->org,
                       f->check,
                       f->dimension,
                       f->resource_type,
                       f->source_id,
                       f->patient_local_id,
                       f->message_control_id,
                       f->detail};
    for (int i = 0; i < 8; i++)
        pg_p_text(&p, v[i] ? v[i] : "");
    return pg_cmd(pg_of(s),
                  "INSERT INTO dq_failure (run_id, org, check_name, dimension, resource_type,"
                  " source_id, patient_local_id, message_control_id, detail) VALUES ($1, $2, $3,"
                  " $4, $5, $6, $7, $8, $9)",
                  &p, NULL);
}

int pg_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                       int (*fn)(const struct store_dq_failure *, void *), void *ctx)
{
    struct pg_params p = {0};
    pg_p_int(&p, run_id);
    pg_p_text(&p, org);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT org, check_name, dimension, resource_type, source_id,"
                         " patient_local_id, message_control_id, detail FROM dq_failure"
                         " WHERE run_id = $1 AND ($2::text IS NULL OR org = $2) ORDER BY org, id",
                         &p, &rc);
    if (!r)
        return rc;
    rc = WEFT_OK;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        struct store_dq_failure x = {.run_id = run_id,
                                     .org = col(r, i, 0),
                                     .check = col(r, i, 1),
                                     .dimension = col(r, i, 2),
                                     .resource_type = col(r, i, 3),
                                     .source_id = col(r, i, 4),
                                     .patient_local_id = col(r, i, 5),
                                     .message_control_id = col(r, i, 6),
                                     .detail = col(r, i, 7)};
        rc = fn(&x, ctx);
    }
    PQclear(r);
    return rc;
}
