/*
 * pg_copy.c - the table-level operations store_copy uses (store/copy.h,
 * struct store_copy_ops) for PostgreSQL: tables and columns from the
 * catalogue, reads through a cursor in a REPEATABLE READ READ ONLY
 * snapshot (writers never wait for it), writes as COPY ... FROM STDIN (one
 * stream per batch, no statement per row), and at the end the sequences
 * moved past the largest value copied, so the next row made on the copy
 * does not collide with a copied one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

static bool plain_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static int names_of(struct pg_store *ps, const char *sql, const char *arg, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    if (arg)
        pg_p_text(&p, arg);
    int rc;
    PGresult *r = pg_run(ps, sql, &p, &rc);
    if (!r)
        return rc;
    int k = PQntuples(r);
    *out = xcalloc((size_t)(k ? k : 1), sizeof **out);
    for (int i = 0; i < k; i++)
        (*out)[(*n)++] = pg_strdup(r, i, 0);
    PQclear(r);
    return WEFT_OK;
}

/* Every table but the schema's bookkeeping and the writers' horizon (the
 * sessions writing now: pg_int.h, "Writers"), which are no data and which
 * SQLite has not. */
int pg_copy_tables(struct store *s, char ***names, int *n)
{
    return names_of(pg_of(s),
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()"
                    " AND tablename NOT IN ('schema_migration', 'writer_horizon') ORDER BY 1",
                    NULL, names, n);
}

int pg_copy_columns(struct store *s, const char *table, char ***cols, int *n)
{
    return names_of(pg_of(s),
                    "SELECT column_name::text FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = $1"
                    " ORDER BY ordinal_position",
                    table, cols, n);
}

int pg_copy_snapshot(struct store *s, bool begin)
{
    struct pg_store *ps = pg_of(s);
    return pg_exec(ps, begin ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "COMMIT");
}

static int col_list(struct store *s, struct buf *b, const char *table, const char *const *cols,
                    int ncols)
{
    if (!plain_name(table))
        return store_fail(s, WEFT_EINVAL, "bad table name");
    for (int i = 0; i < ncols; i++) {
        if (!plain_name(cols[i]))
            return store_fail(s, WEFT_EINVAL, "bad column name");
        buf_addf(b, "%s%s", i ? ", " : "", cols[i]);
    }
    return WEFT_OK;
}

int pg_copy_read(struct store *s, const char *table, const char *const *cols, int ncols,
                 store_row_fn fn, void *arg)
{
    struct pg_store *ps = pg_of(s);
    struct buf sql = BUF_INIT;
    buf_adds(&sql, "DECLARE weft_copy NO SCROLL CURSOR FOR SELECT ");
    int rc = col_list(s, &sql, table, cols, ncols);
    buf_addf(&sql, " FROM %s", table);
    if (rc == 0)
        rc = pg_exec(ps, sql.data);
    buf_release(&sql);
    if (rc != 0)
        return rc;
    struct store_val *v = xcalloc((size_t)ncols, sizeof *v);
    unsigned char **bytea = xcalloc((size_t)ncols, sizeof *bytea);
    for (;;) {
        PGresult *r = PQexec(ps->conn, "FETCH 1000 FROM weft_copy");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = pg_fail(ps, "reading a table", r);
            PQclear(r);
            break;
        }
        int nr = PQntuples(r);
        for (int i = 0; i < nr && rc == 0; i++) {
            for (int c = 0; c < ncols; c++) {
                memset(&v[c], 0, sizeof v[c]);
                if (PQgetisnull(r, i, c))
                    continue;
                const char *t = PQgetvalue(r, i, c);
                switch (PQftype(r, c)) {
                case OID_BOOL:
                    v[c].kind = STORE_VAL_INT;
                    v[c].i = t[0] == 't';
                    break;
                case OID_INT2:
                case OID_INT4:
                case OID_INT8:
                    v[c].kind = STORE_VAL_INT;
                    v[c].i = strtoll(t, NULL, 10);
                    break;
                case OID_FLOAT4:
                case OID_FLOAT8:
                case OID_NUMERIC:
                    v[c].kind = STORE_VAL_REAL;
                    v[c].d = strtod(t, NULL);
                    break;
                case OID_BYTEA: {
                    size_t len = 0;
                    bytea[c] = PQunescapeBytea((const unsigned char *)t, &len);
                    v[c].kind = STORE_VAL_BLOB;
                    v[c].p = (const char *)bytea[c];
                    v[c].len = len;
                    break;
                }
                default:
                    v[c].kind = STORE_VAL_TEXT;
                    v[c].p = t;
                    v[c].len = (size_t)PQgetlength(r, i, c);
                }
            }
            rc = fn(arg, v, ncols);
            for (int c = 0; c < ncols; c++) {
                PQfreemem(bytea[c]);
                bytea[c] = NULL;
            }
        }
        PQclear(r);
        if (rc != 0 || nr == 0)
            break;
    }
    free(v);
    free(bytea);
    if (PQtransactionStatus(ps->conn) != PQTRANS_INERROR)
        PQclear(PQexec(ps->conn, "CLOSE weft_copy"));
    return rc;
}

/* One value in COPY's text format. */
static void copy_text(struct buf *b, const struct store_val *v)
{
    switch (v->kind) {
    case STORE_VAL_NULL:
        buf_adds(b, "\\N");
        break;
    case STORE_VAL_INT:
        buf_addf(b, "%lld", (long long)v->i);
        break;
    case STORE_VAL_REAL:
        buf_addf(b, "%.17g", v->d);
        break;
    case STORE_VAL_BLOB:
        buf_adds(b, "\\\\x");
        for (size_t i = 0; i < v->len; i += 64) {
            char h[129];
            hex_encode(v->p + i, v->len - i < 64 ? v->len - i : 64, h);
            buf_adds(b, h);
        }
        break;
    case STORE_VAL_TEXT:
        for (size_t i = 0; i < v->len; i++) {
            char c = v->p[i];
            if (c == '\\')
                buf_adds(b, "\\\\");
            else if (c == '\n')
                buf_adds(b, "\\n");
            else if (c == '\r')
                buf_adds(b, "\\r");
            else if (c == '\t')
                buf_adds(b, "\\t");
            else
                buf_addc(b, c);
        }
        break;
    }
}

int pg_copy_write(struct store *s, const char *table, const char *const *cols, int ncols,
                  const struct store_val *vals, int nrows)
{
    struct pg_store *ps = pg_of(s);
    struct buf sql = BUF_INIT;
    buf_addf(&sql, "COPY %s (", table);
    int rc = col_list(s, &sql, table, cols, ncols);
    buf_adds(&sql, ") FROM STDIN");
    if (rc != 0) {
        buf_release(&sql);
        return rc;
    }
    if ((rc = pg_flush(ps)) != 0) {
        buf_release(&sql);
        return rc;
    }
    PGresult *r = PQexec(ps->conn, sql.data);
    buf_release(&sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        rc = pg_fail(ps, "copying into a table", r);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    struct buf data = BUF_INIT;
    for (int i = 0; i < nrows; i++) {
        for (int c = 0; c < ncols; c++) {
            if (c)
                buf_addc(&data, '\t');
            copy_text(&data, &vals[(size_t)i * (size_t)ncols + (size_t)c]);
        }
        buf_addc(&data, '\n');
    }
    bool sent = PQputCopyData(ps->conn, data.data, (int)data.len) == 1;
    buf_release(&data);
    PQputCopyEnd(ps->conn, sent ? NULL : "weft copy: sending failed");
    while ((r = PQgetResult(ps->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = pg_fail(ps, "copying into a table", r);
        PQclear(r);
    }
    if (rc != 0)
        store_fail(s, rc, "copying into %s: %s", table, store_errmsg(s));
    return rc;
}

int pg_copy_clear(struct store *s, const char *table)
{
    if (!plain_name(table))
        return store_fail(s, WEFT_EINVAL, "bad table name");
    /* what weft init wrote into an append-only table (the audit log's first
     * entry) goes too: its guard is off for this statement only, in the
     * copy's transaction */
    char sql[512];
    snprintf(sql, sizeof sql,
             "ALTER TABLE %s DISABLE TRIGGER USER; DELETE FROM %s;"
             " ALTER TABLE %s ENABLE TRIGGER USER",
             table, table, table);
    return pg_exec(pg_of(s), sql);
}

int pg_copy_finish(struct store *s)
{
    /* the planner's statistics of the tables just filled: without them
     * (autovacuum gets to them minutes later) the first scans plan as if
     * the tables were empty - relink's record scan after a copy ran for
     * many minutes until ANALYZE (docs/BENCHMARKS.md, identity) */
    int rc = pg_exec(pg_of(s), "ANALYZE");
    if (rc != 0)
        return rc;
    /* every identity column's sequence, and the version sequence, past the
     * largest value now in the table */
    return pg_exec(pg_of(s),
                   "DO $$ DECLARE c record; m bigint; BEGIN"
                   " FOR c IN SELECT table_name::text AS t, column_name::text AS col"
                   "  FROM information_schema.columns WHERE table_schema = current_schema()"
                   "  AND is_identity = 'YES' LOOP"
                   "  EXECUTE format('SELECT max(%I) FROM %I', c.col, c.t) INTO m;"
                   "  IF m IS NOT NULL THEN"
                   "   PERFORM setval(pg_get_serial_sequence(c.t, c.col), m); END IF;"
                   " END LOOP;"
                   " SELECT greatest(max(seq), max(next_seq)) INTO m FROM resource;"
                   " IF m IS NOT NULL THEN PERFORM setval('resource_seq', m); END IF;"
                   " END $$");
}
