/*
 * pg_audit.c - the hash-chained audit log for PostgreSQL (the chain itself
 * is computed in src/audit/audit.c; this keeps it).
 *
 * One chain for every node: an append reads the head and writes rows and
 * the new head under the transaction-scoped advisory lock PG_AUDIT_LOCK, so
 * two nodes' appends queue and each links to the other's.  A caller's
 * transaction already holds the writer lock (store_begin); it takes the
 * audit lock after it, which is the only order either lock is ever taken in
 * together, so the two cannot deadlock.
 *
 * Scans read the log in chunks of seq (AUDIT_CHUNK rows a statement), so
 * `weft audit verify` of a large log holds one chunk in memory, not the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

#define PG_AUDIT_LOCK "7700414802"
#define AUDIT_CHUNK 5000

#define AUDIT_COLS                                                                                 \
    "seq, time, action, outcome, user_id, user_name, role, org, launcher, client, purpose,"        \
    " person_id, session_id, request_id, what, count, reason, prev, hash"

/* Row i of r as borrowed pointers (valid until r is cleared). */
static void row_borrow(const PGresult *r, int i, struct store_audit_row *a)
{
    memset(a, 0, sizeof *a);
    a->seq = pg_int(r, i, 0);
    const char **f[] = {&a->time,      &a->action,     &a->outcome,    &a->user_id, &a->user_name,
                        &a->role,      &a->org,        &a->launcher,   &a->client,  &a->purpose,
                        &a->person_id, &a->session_id, &a->request_id, &a->what};
    for (int k = 0; k < 14; k++)
        *f[k] = PQgetisnull(r, i, k + 1) ? NULL : PQgetvalue(r, i, k + 1);
    a->count = pg_int(r, i, 15);
    a->reason = PQgetisnull(r, i, 16) ? NULL : PQgetvalue(r, i, 16);
    if (pg_bytes(r, i, 17, a->prev, 32) != 32)
        memset(a->prev, 0xff, 32); /* not a hash: verify reports the link broken */
    if (pg_bytes(r, i, 18, a->hash, 32) != 32)
        memset(a->hash, 0xff, 32);
}

static int read_head(struct pg_store *ps, int64_t *seq, unsigned char hash[32], int64_t *rows)
{
    *seq = 0;
    memset(hash, 0, 32);
    if (rows)
        *rows = 0;
    int rc;
    PGresult *r = pg_run(ps, "SELECT seq, hash, rows FROM audit_head WHERE id = 1", NULL, &rc);
    if (!r)
        return rc;
    if (PQntuples(r)) {
        *seq = pg_int(r, 0, 0);
        pg_bytes(r, 0, 1, hash, 32);
        if (rows)
            *rows = pg_int(r, 0, 2);
    }
    PQclear(r);
    return WEFT_OK;
}

int pg_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows)
{
    return read_head(pg_of(s), seq, hash, rows);
}

/*
 * The rows and the new head in ONE statement, whatever n: the batch goes as
 * one array per column (text arrays; the hashes as hex) unnested into
 * audit_entry, and the head is set by the same statement.  One statement
 * text for every batch size, so it stays prepared; one round trip where a
 * batch of n took n + 1.
 */
static int append_rows(struct pg_store *ps, struct store_audit_row *rows, int n,
                       store_audit_chain_fn chain, void *ctx)
{
    int rc = pg_exec(ps, "SELECT pg_advisory_xact_lock(" PG_AUDIT_LOCK ")");
    int64_t seq, count;
    unsigned char hash[32];
    if (rc == 0)
        rc = read_head(ps, &seq, hash, &count);
    if (rc)
        return rc;
    chain(rows, n, seq, hash, ctx);
    enum { NCOL = 19 };
    struct buf a[NCOL];
    for (int k = 0; k < NCOL; k++) {
        a[k] = (struct buf)BUF_INIT;
        buf_addc(&a[k], '{');
    }
    for (int i = 0; i < n; i++) {
        const struct store_audit_row *r = &rows[i];
        char num[2][24], hx[2][65];
        snprintf(num[0], sizeof num[0], "%lld", (long long)r->seq);
        snprintf(num[1], sizeof num[1], "%lld", (long long)r->count);
        hex_encode(r->prev, 32, hx[0]);
        hex_encode(r->hash, 32, hx[1]);
        const char *v[NCOL] = {num[0],       r->time,      r->action,     r->outcome,    r->user_id,
                               r->user_name, r->role,      r->org,        r->launcher,   r->client,
                               r->purpose,   r->person_id, r->session_id, r->request_id, r->what,
                               num[1],       r->reason,    hx[0],         hx[1]};
        for (int k = 0; k < NCOL; k++)
            pg_array_add(&a[k], v[k]);
    }
    struct pg_params p = {0};
    for (int k = 0; k < NCOL; k++) {
        buf_addc(&a[k], '}');
        pg_p_text(&p, a[k].data);
    }
    pg_p_int(&p, rows[n - 1].seq);
    pg_p_bytes(&p, rows[n - 1].hash, 32);
    pg_p_int(&p, count + n);
    rc = pg_cmd(ps,
                "WITH ins AS (INSERT INTO audit_entry (" AUDIT_COLS ") SELECT u.seq, u.time,"
                " u.action, u.outcome, u.user_id, u.user_name, u.role, u.org, u.launcher,"
                " u.client, u.purpose, u.person_id, u.session_id, u.request_id, u.what, u.count,"
                " u.reason, decode(u.prev, 'hex'), decode(u.hash, 'hex') FROM unnest($1::bigint[],"
                " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
                " $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],"
                " $14::text[], $15::text[], $16::bigint[], $17::text[], $18::text[], $19::text[])"
                " AS u(" AUDIT_COLS "))"
                " INSERT INTO audit_head (id, seq, hash, rows) VALUES (1, $20, $21, $22)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " rows = excluded.rows",
                &p, NULL);
    for (int k = 0; k < NCOL; k++)
        buf_release(&a[k]);
    return rc;
}

int pg_audit_append(struct store *s, struct store_audit_row *rows, int n,
                    store_audit_chain_fn chain, void *ctx)
{
    if (n <= 0)
        return WEFT_OK;
    struct pg_store *ps = pg_of(s);
    bool own = s->txn_depth == 0;
    /* its own transaction takes only the audit lock: reads audited while a
     * load holds the writer lock need not wait for the load */
    if (own && pg_exec(ps, "BEGIN") != 0)
        return WEFT_EDB;
    int rc = append_rows(ps, rows, n, chain, ctx);
    if (!own)
        return rc;
    if (rc) {
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        return rc;
    }
    PGresult *r = PQexec(ps->conn, "COMMIT");
    rc = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0
             ? WEFT_OK
             : pg_fail(ps, "committing the audit log", r);
    PQclear(r);
    return rc;
}

/* Rows of r to fn; fn's non-zero stops (returned). */
static int each_row(const PGresult *r, int (*fn)(const struct store_audit_row *, void *), void *ctx,
                    int64_t *last_seq)
{
    struct store_audit_row a;
    for (int i = 0; i < PQntuples(r); i++) {
        row_borrow(r, i, &a);
        if (last_seq)
            *last_seq = a.seq;
        int out = fn(&a, ctx);
        if (out)
            return out;
    }
    return WEFT_OK;
}

int pg_audit_scan(struct store *s, int64_t from, int64_t to,
                  int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    struct pg_store *ps = pg_of(s);
    int64_t at = from;
    for (;;) {
        struct pg_params p = {0};
        pg_p_int(&p, at);
        pg_p_int(&p, to);
        pg_p_int(&p, AUDIT_CHUNK);
        int rc;
        PGresult *r = pg_run(ps,
                             "SELECT " AUDIT_COLS " FROM audit_entry WHERE seq >= $1"
                             " AND seq <= $2 ORDER BY seq LIMIT $3",
                             &p, &rc);
        if (!r)
            return rc;
        int n = PQntuples(r);
        int64_t last = at;
        int out = each_row(r, fn, ctx, &last);
        PQclear(r);
        if (out)
            return out;
        if (n < AUDIT_CHUNK || last >= to)
            return WEFT_OK;
        at = last + 1;
    }
}

int pg_audit_search(struct store *s, const struct store_audit_filter *f,
                    int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    struct buf sql = BUF_INIT;
    struct pg_params p = {0};
    buf_adds(&sql, "SELECT " AUDIT_COLS " FROM audit_entry WHERE true");
    const struct {
        const char *v, *cond;
    } conds[] = {
        {f->person_id, "person_id ="}, {f->user_id, "user_id ="},
        {f->action, "action ="},       {f->org, "org ="},
        {f->time_ge, "time >="},       {f->time_lt, "time <"},
    };
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        if (!conds[i].v)
            continue;
        pg_p_text(&p, conds[i].v);
        buf_addf(&sql, " AND %s $%d", conds[i].cond, p.n);
    }
    if (f->before_seq > 0) {
        pg_p_int(&p, f->before_seq);
        buf_addf(&sql, " AND seq < $%d::bigint", p.n);
    }
    pg_p_int(&p, f->limit > 0 ? f->limit : 100);
    buf_addf(&sql, " ORDER BY seq DESC LIMIT $%d::bigint", p.n);
    int rc;
    PGresult *r = pg_run_text(pg_of(s), sql.data, &p, &rc);
    buf_release(&sql);
    if (!r)
        return rc;
    int out = each_row(r, fn, ctx, NULL);
    PQclear(r);
    return out;
}

int pg_audit_person(struct store *s, const char *person_id,
                    int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    int rc;
    PGresult *r =
        pg_run(pg_of(s), "SELECT " AUDIT_COLS " FROM audit_entry WHERE person_id = $1 ORDER BY seq",
               &p, &rc);
    if (!r)
        return rc;
    int out = each_row(r, fn, ctx, NULL);
    PQclear(r);
    return out;
}
