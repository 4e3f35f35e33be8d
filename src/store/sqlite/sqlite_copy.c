/*
 * sqlite_copy.c - the table-level operations store_copy uses (store/copy.h,
 * struct store_copy_ops) for SQLite: the schema's tables and columns from
 * sqlite_master and table_info, rows as SQLite holds them, inserts through
 * one prepared statement per batch, and the id keys (resource.idk) derived
 * at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/paging.h"
#include "store/sqlite/sqlite_core.h"
#include "store/sqlite/sqlite_int.h"

static void add_name(char ***v, int *n, const char *name)
{
    *v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
    (*v)[(*n)++] = xstrdup(name);
}

/* A name that needs no quoting (the schema's own): letters, digits, _. */
static bool plain_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

int sqlite_copy_tables(struct store *s, char ***names, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    *names = NULL;
    *n = 0;
    sqlite3_stmt *st =
        sqlite_stmt(ss, "SELECT name FROM sqlite_master WHERE type = 'table'"
                        " AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migration'"
                        " ORDER BY name");
    if (!st)
        return WEFT_EDB;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        add_name(names, n, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return r == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing tables");
}

int sqlite_copy_columns(struct store *s, const char *table, char ***cols, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    *cols = NULL;
    *n = 0;
    if (!plain_name(table))
        return store_fail(s, WEFT_EINVAL, "bad table name");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s') ORDER BY cid", table);
    sqlite3_stmt *st = sqlite_stmt_text(ss, sql);
    if (!st)
        return WEFT_EDB;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        add_name(cols, n, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return r == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing columns");
}

int sqlite_copy_snapshot(struct store *s, bool begin)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (!begin)
        return sqlite_exec(ss, "COMMIT");
    /* a read transaction: its snapshot is taken by the first read, at once */
    int rc = sqlite_exec(ss, "BEGIN");
    if (rc == 0)
        rc = sqlite_exec(ss, "SELECT count(*) FROM schema_migration");
    return rc;
}

/* "SELECT c1, c2 ... FROM t" or "INSERT INTO t (c1, c2 ...) VALUES (?, ...)" */
static int build_sql(struct store *s, struct buf *b, bool insert, const char *table,
                     const char *const *cols, int ncols)
{
    if (!plain_name(table))
        return store_fail(s, WEFT_EINVAL, "bad table name");
    buf_adds(b, insert ? "INSERT INTO " : "SELECT ");
    if (insert)
        buf_addf(b, "%s (", table);
    for (int i = 0; i < ncols; i++) {
        if (!plain_name(cols[i]))
            return store_fail(s, WEFT_EINVAL, "bad column name");
        buf_addf(b, "%s%s", i ? ", " : "", cols[i]);
    }
    if (insert) {
        buf_adds(b, ") VALUES (");
        for (int i = 0; i < ncols; i++)
            buf_adds(b, i ? ", ?" : "?");
        buf_adds(b, ")");
    } else {
        buf_addf(b, " FROM %s", table);
    }
    return WEFT_OK;
}

/* The search index's posting lists (search_index.seqs) are the one column
 * the backends hold differently: SQLite as varint differences after
 * first_seq (store/paging.h), PostgreSQL as a bigint[] of every seq.  A copy
 * carries them as PostgreSQL's text form, "{s0,s1,...}" with first_seq
 * first, which PostgreSQL reads and writes as it is; so both sides of the
 * copy's comparison see the same values.  The columns' places in cols, or
 * -1 for another table. */
static void posting_cols(const char *table, const char *const *cols, int ncols, int *seqs,
                         int *first)
{
    *seqs = *first = -1;
    if (strcmp(table, "search_index") != 0)
        return;
    for (int i = 0; i < ncols; i++) {
        if (strcmp(cols[i], "seqs") == 0)
            *seqs = i;
        else if (strcmp(cols[i], "first_seq") == 0)
            *first = i;
    }
    if (*first < 0)
        *seqs = -1;
}

/* A stored list (first, blob) as "{s0,s1,...}" into b; false when the
 * bytes are not a list. */
static bool posting_text(struct buf *b, int64_t first, const unsigned char *p, size_t len)
{
    int n = store_ixpost_count(p, len);
    if (n < 0)
        return false;
    int64_t *v = xcalloc((size_t)n, sizeof *v);
    store_ixpost_decode(first, p, len, v);
    buf_reset(b);
    buf_addc(b, '{');
    for (int i = 0; i < n; i++)
        buf_addf(b, "%s%lld", i ? "," : "", (long long)v[i]);
    buf_addc(b, '}');
    free(v);
    return true;
}

/* "{s0,s1,...}" (ascending, distinct, s0 = first) as the stored bytes into
 * b; false when it is not such a list. */
static bool posting_bytes(struct buf *b, int64_t first, const char *p, size_t len)
{
    if (len < 2 || p[0] != '{' || p[len - 1] != '}')
        return false;
    int64_t *v = NULL;
    int n = 0, cap = 0;
    bool ok = true;
    for (size_t at = 1; ok && at < len - 1;) {
        char num[24];
        size_t k = 0;
        while (at < len - 1 && p[at] != ',' && k < sizeof num - 1)
            num[k++] = p[at++];
        num[k] = '\0';
        char *end;
        long long x = strtoll(num, &end, 10);
        ok = k > 0 && *end == '\0' && (n == 0 || x > v[n - 1]);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, (size_t)cap * sizeof *v);
        }
        v[n++] = x;
        if (at < len - 1 && p[at] == ',')
            at++;
    }
    ok = ok && n > 0 && v[0] == first;
    if (ok) {
        buf_reset(b);
        buf_grow(b, (size_t)n * STORE_IXPOST_MAXLEN);
        b->len = store_ixpost_encode(v, n, (unsigned char *)b->data);
    }
    free(v);
    return ok;
}

int sqlite_copy_read(struct store *s, const char *table, const char *const *cols, int ncols,
                     store_row_fn fn, void *arg)
{
    struct sqlite_store *ss = sqlite_of(s);
    struct buf sql = BUF_INIT;
    int rc = build_sql(s, &sql, false, table, cols, ncols);
    sqlite3_stmt *st = NULL;
    if (rc == 0 && sqlite3_prepare_v2(ss->db, sql.data, -1, &st, NULL) != SQLITE_OK)
        rc = sqlite_fail(ss, "reading a table");
    buf_release(&sql);
    if (rc != 0)
        return rc;
    struct store_val *v = xcalloc((size_t)ncols, sizeof *v);
    int pseqs, pfirst;
    posting_cols(table, cols, ncols, &pseqs, &pfirst);
    struct buf post = BUF_INIT;
    int r;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) {
            memset(&v[i], 0, sizeof v[i]);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                v[i].kind = STORE_VAL_INT;
                v[i].i = sqlite3_column_int64(st, i);
                break;
            case SQLITE_FLOAT:
                v[i].kind = STORE_VAL_REAL;
                v[i].d = sqlite3_column_double(st, i);
                break;
            case SQLITE_TEXT:
                v[i].kind = STORE_VAL_TEXT;
                v[i].p = (const char *)sqlite3_column_text(st, i);
                v[i].len = (size_t)sqlite3_column_bytes(st, i);
                break;
            case SQLITE_BLOB:
                v[i].kind = STORE_VAL_BLOB;
                v[i].p = sqlite3_column_blob(st, i);
                v[i].len = (size_t)sqlite3_column_bytes(st, i);
                break;
            default:
                v[i].kind = STORE_VAL_NULL;
            }
        }
        if (pseqs >= 0 && v[pseqs].kind == STORE_VAL_BLOB) {
            if (!posting_text(&post, sqlite3_column_int64(st, pfirst),
                              (const unsigned char *)v[pseqs].p, v[pseqs].len)) {
                rc = store_fail(s, WEFT_EDB, "search_index: a damaged posting list");
                break;
            }
            v[pseqs].kind = STORE_VAL_TEXT;
            v[pseqs].p = post.data;
            v[pseqs].len = post.len;
        }
        rc = fn(arg, v, ncols);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = sqlite_fail(ss, "reading a table");
    buf_release(&post);
    free(v);
    sqlite3_finalize(st);
    return rc;
}

int sqlite_copy_write(struct store *s, const char *table, const char *const *cols, int ncols,
                      const struct store_val *vals, int nrows)
{
    struct sqlite_store *ss = sqlite_of(s);
    struct buf sql = BUF_INIT;
    int rc = build_sql(s, &sql, true, table, cols, ncols);
    sqlite3_stmt *st = NULL;
    if (rc == 0 && sqlite3_prepare_v2(ss->db, sql.data, -1, &st, NULL) != SQLITE_OK)
        rc = sqlite_fail(ss, "writing a table");
    buf_release(&sql);
    int pseqs, pfirst;
    posting_cols(table, cols, ncols, &pseqs, &pfirst);
    struct buf post = BUF_INIT;
    for (int r = 0; r < nrows && rc == 0; r++) {
        const struct store_val *v = vals + (size_t)r * (size_t)ncols;
        for (int i = 0; i < ncols; i++) {
            if (i == pseqs && v[i].kind == STORE_VAL_TEXT) {
                if (v[pfirst].kind != STORE_VAL_INT ||
                    !posting_bytes(&post, v[pfirst].i, v[i].p, v[i].len)) {
                    rc = store_fail(s, WEFT_EINVAL,
                                    "search_index: a posting list that is not {first_seq,...}"
                                    " ascending");
                    break;
                }
                if (post.len) /* one seq: no bytes, but an empty BLOB, not NULL */
                    sqlite3_bind_blob(st, i + 1, post.data, (int)post.len, SQLITE_STATIC);
                else
                    sqlite3_bind_zeroblob(st, i + 1, 0);
                continue;
            }
            switch (v[i].kind) {
            case STORE_VAL_INT:
                sqlite3_bind_int64(st, i + 1, v[i].i);
                break;
            case STORE_VAL_REAL:
                sqlite3_bind_double(st, i + 1, v[i].d);
                break;
            case STORE_VAL_TEXT:
                sqlite3_bind_text(st, i + 1, v[i].p, (int)v[i].len, SQLITE_STATIC);
                break;
            case STORE_VAL_BLOB:
                sqlite3_bind_blob(st, i + 1, v[i].p, (int)v[i].len, SQLITE_STATIC);
                break;
            default:
                sqlite3_bind_null(st, i + 1);
            }
        }
        if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
            rc = sqlite_fail(ss, "writing a table");
        sqlite3_reset(st);
    }
    buf_release(&post);
    sqlite3_finalize(st);
    if (rc != 0)
        store_fail(s, rc, "copying into %s: %s", table, store_errmsg(s));
    return rc;
}

int sqlite_copy_clear(struct store *s, const char *table)
{
    if (!plain_name(table))
        return store_fail(s, WEFT_EINVAL, "bad table name");
    /* what weft init wrote into an append-only table (the audit log's first
     * entry) goes too: its guarding triggers are dropped for the DELETE and
     * made again from their own SQL, in the copy's transaction */
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                                       " AND tbl_name = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, table);
    struct buf drop = BUF_INIT, make = BUF_INIT;
    int r, rc = WEFT_OK;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!plain_name(name)) {
            rc = store_fail(s, WEFT_EINVAL, "bad trigger name");
            break;
        }
        buf_addf(&drop, "DROP TRIGGER %s;", name);
        buf_addf(&make, "%s;", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = sqlite_fail(ss, "listing triggers");
    buf_addf(&drop, "DELETE FROM %s;", table);
    if (rc == 0)
        rc = sqlite_exec(ss, drop.data);
    if (rc == 0 && make.len)
        rc = sqlite_exec(ss, make.data);
    buf_release(&drop);
    buf_release(&make);
    return rc;
}

int sqlite_copy_finish(struct store *s)
{
    /* the 64-bit id keys of the resource rows (sqlite_resource.c) */
    return sqlite_exec(sqlite_of(s), "UPDATE resource SET idk = weft_idkey(id) WHERE idk IS NULL");
}
