/*
 * store_copy.c - a whole region from one store to another (store/copy.h),
 * on the backends' table-level operations (struct store_copy_ops).
 *
 * The comparison: each row's values are serialised the same way whatever
 * the backend (integers and reals as decimal text, booleans as 0/1, text
 * and blobs as their bytes, NULL marked) and hashed (BLAKE2b-128); a table's
 * digest is the sum of its rows' hashes, so it does not depend on the order
 * rows come back in, and any changed, lost or extra row changes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/store_int.h"

#define COPY_BATCH 500

static void names_free(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void store_copy_report_clear(struct store_copy_report *r)
{
    for (int i = 0; i < r->ntables; i++)
        free(r->tables[i].name);
    free(r->tables);
    names_free(r->skipped, r->nskipped);
    memset(r, 0, sizeof *r);
}

static bool has_name(char **v, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i], name) == 0)
            return true;
    return false;
}

/* ---- digests ------------------------------------------------------------ */

struct digest {
    uint64_t sum[2];
    int64_t rows;
};

static void digest_row(struct digest *d, const struct store_val *v, int n)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, STORE_COPY_DIGEST);
    for (int i = 0; i < n; i++) {
        char num[40];
        const char *p = num;
        size_t len = 0;
        unsigned char tag = 'V';
        switch (v[i].kind) {
        case STORE_VAL_NULL:
            tag = 'N';
            break;
        case STORE_VAL_INT:
            len = (size_t)snprintf(num, sizeof num, "%lld", (long long)v[i].i);
            break;
        case STORE_VAL_REAL:
            len = (size_t)snprintf(num, sizeof num, "%.17g", v[i].d);
            break;
        case STORE_VAL_TEXT:
            p = v[i].p;
            len = v[i].len;
            break;
        case STORE_VAL_BLOB:
            tag = 'B';
            p = v[i].p;
            len = v[i].len;
            break;
        }
        unsigned char head[9] = {tag};
        for (int b = 0; b < 8; b++)
            head[1 + b] = (unsigned char)((uint64_t)len >> (8 * b));
        crypto_generichash_update(&h, head, sizeof head);
        if (len)
            crypto_generichash_update(&h, (const unsigned char *)p, len);
    }
    unsigned char out[STORE_COPY_DIGEST];
    crypto_generichash_final(&h, out, sizeof out);
    for (int k = 0; k < 2; k++) {
        uint64_t x = 0;
        for (int b = 0; b < 8; b++)
            x |= (uint64_t)out[8 * k + b] << (8 * b);
        d->sum[k] += x;
    }
    d->rows++;
}

static void digest_out(const struct digest *d, unsigned char out[STORE_COPY_DIGEST])
{
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 8; b++)
            out[8 * k + b] = (unsigned char)(d->sum[k] >> (8 * b));
}

static int digest_cb(void *arg, const struct store_val *v, int n)
{
    digest_row(arg, v, n);
    return 0;
}

/* ---- copying one table ---------------------------------------------------- */

struct batch {
    struct store *dst;
    const char *table;
    const char *const *cols;
    int ncols;
    struct store_val *vals; /* COPY_BATCH rows */
    size_t *off;            /* TEXT/BLOB values: offsets into bytes */
    struct buf bytes;
    int nrows;
    struct digest d;
    int write_rc; /* a write failed (the target's error) */
};

static int batch_flush(struct batch *b)
{
    if (b->nrows == 0)
        return 0;
    int n = b->nrows * b->ncols;
    for (int i = 0; i < n; i++)
        if (b->vals[i].kind == STORE_VAL_TEXT || b->vals[i].kind == STORE_VAL_BLOB)
            b->vals[i].p = b->bytes.data + b->off[i];
    int rc = b->dst->ops->copy->write(b->dst, b->table, b->cols, b->ncols, b->vals, b->nrows);
    b->nrows = 0;
    buf_reset(&b->bytes);
    b->write_rc = rc;
    return rc;
}

static int batch_row(void *arg, const struct store_val *v, int n)
{
    struct batch *b = arg;
    digest_row(&b->d, v, n);
    struct store_val *to = b->vals + (size_t)b->nrows * (size_t)b->ncols;
    size_t *off = b->off + (size_t)b->nrows * (size_t)b->ncols;
    for (int i = 0; i < n; i++) {
        to[i] = v[i];
        if (v[i].kind == STORE_VAL_TEXT || v[i].kind == STORE_VAL_BLOB) {
            off[i] = b->bytes.len;
            buf_add(&b->bytes, v[i].p ? v[i].p : "", v[i].len);
            to[i].p = NULL;
        }
    }
    if (++b->nrows == COPY_BATCH)
        return batch_flush(b);
    return 0;
}

/* The columns of table both stores have, in the target's order. */
static int common_columns(struct store *src, struct store *dst, const char *table, char ***out,
                          int *n)
{
    char **sc = NULL, **dc = NULL;
    int ns = 0, nd = 0;
    int rc = src->ops->copy->columns(src, table, &sc, &ns);
    if (rc == 0)
        rc = dst->ops->copy->columns(dst, table, &dc, &nd);
    *out = NULL;
    *n = 0;
    if (rc == 0) {
        *out = xcalloc((size_t)(nd ? nd : 1), sizeof **out);
        for (int i = 0; i < nd; i++)
            if (has_name(sc, ns, dc[i]))
                (*out)[(*n)++] = xstrdup(dc[i]);
    }
    names_free(sc, ns);
    names_free(dc, nd);
    return rc;
}

static int count_rows(struct store *s, const char *table, int64_t *n)
{
    char **cols = NULL;
    int nc = 0;
    int rc = s->ops->copy->columns(s, table, &cols, &nc);
    struct digest d = {{0, 0}, 0};
    if (rc == 0 && nc > 0)
        rc = s->ops->copy->read(s, table, (const char *const *)cols, 1, digest_cb, &d);
    names_free(cols, nc);
    *n = d.rows;
    return rc;
}

/* Tables that `weft init` writes into a new store: replaced by the source's. */
static bool init_written(const char *t)
{
    return strcmp(t, "policy_version") == 0 || strcmp(t, "audit_entry") == 0 ||
           strcmp(t, "audit_head") == 0;
}

int store_copy(struct store *src, struct store *dst, struct store_copy_report *rep, bool *err_src)
{
    memset(rep, 0, sizeof *rep);
    *err_src = false;
    if (!src->ops->copy || !dst->ops->copy)
        return store_fail(src->ops->copy ? dst : src, WEFT_EUNSUPPORTED,
                          "copying is not built for %s", (src->ops->copy ? dst : src)->ops->name);
    int pending = 0;
    int rc = store_schema_pending(dst, &pending);
    if (rc != 0)
        return rc;
    if (pending > 0)
        return store_fail(dst, WEFT_EINVAL,
                          "the target's schema is %d migrations behind: run weft init on it first",
                          pending);
    char **st = NULL, **dt = NULL;
    int ns = 0, nd = 0;
    rc = src->ops->copy->tables(src, &st, &ns);
    if (rc != 0) {
        *err_src = true;
        return rc;
    }
    if ((rc = dst->ops->copy->tables(dst, &dt, &nd)) != 0) {
        names_free(st, ns);
        return rc;
    }
    if ((rc = src->ops->copy->snapshot(src, true)) != 0) {
        *err_src = true;
        goto out_names;
    }
    /* source tables the target lacks: only when empty */
    for (int i = 0; i < ns && rc == 0; i++) {
        if (has_name(dt, nd, st[i]))
            continue;
        int64_t n = 0;
        if ((rc = count_rows(src, st[i], &n)) != 0) {
            *err_src = true;
        } else if (n > 0) {
            rc = store_fail(dst, WEFT_EINVAL,
                            "the source's table %s holds %lld rows and the target (%s) has no"
                            " such table: nothing copied",
                            st[i], (long long)n, dst->ops->name);
        } else {
            rep->skipped = xrealloc(rep->skipped, (size_t)(rep->nskipped + 1) * sizeof(char *));
            rep->skipped[rep->nskipped++] = xstrdup(st[i]);
        }
    }
    if (rc != 0)
        goto out_snap;
    if ((rc = store_begin(dst)) != 0)
        goto out_snap;
    /* the target must be new */
    for (int i = 0; i < ns && rc == 0; i++) {
        if (!has_name(dt, nd, st[i]))
            continue;
        int64_t n = 0;
        if ((rc = count_rows(dst, st[i], &n)) != 0)
            break;
        if (n > (init_written(st[i]) ? 1 : 0))
            rc = store_fail(dst, WEFT_ECONFLICT,
                            "the target is not empty (table %s holds %lld rows): copy into a"
                            " store just made by weft init",
                            st[i], (long long)n);
        else if (n > 0)
            rc = dst->ops->copy->clear(dst, st[i]);
    }
    rep->tables = xcalloc((size_t)(ns ? ns : 1), sizeof *rep->tables);
    for (int i = 0; i < ns && rc == 0; i++) {
        if (!has_name(dt, nd, st[i]))
            continue;
        char **cols = NULL;
        int nc = 0;
        if ((rc = common_columns(src, dst, st[i], &cols, &nc)) != 0)
            break;
        struct store_copy_table *t = &rep->tables[rep->ntables++];
        t->name = xstrdup(st[i]);
        struct batch b = {.dst = dst,
                          .table = st[i],
                          .cols = (const char *const *)cols,
                          .ncols = nc,
                          .bytes = BUF_INIT};
        b.vals = xcalloc((size_t)COPY_BATCH * (size_t)(nc ? nc : 1), sizeof *b.vals);
        b.off = xcalloc((size_t)COPY_BATCH * (size_t)(nc ? nc : 1), sizeof *b.off);
        if (nc > 0) {
            rc = src->ops->copy->read(src, st[i], b.cols, nc, batch_row, &b);
            if (rc != 0 && b.write_rc == 0)
                *err_src = true;
            if (rc == 0)
                rc = batch_flush(&b);
        }
        t->rows_from = b.d.rows;
        digest_out(&b.d, t->digest_from);
        free(b.vals);
        free(b.off);
        buf_release(&b.bytes);
        names_free(cols, nc);
    }
    if (rc == 0)
        rc = dst->ops->copy->finish(dst);
    /* read back and compare */
    bool differ = false;
    for (int i = 0; i < rep->ntables && rc == 0; i++) {
        struct store_copy_table *t = &rep->tables[i];
        char **cols = NULL;
        int nc = 0;
        if ((rc = common_columns(src, dst, t->name, &cols, &nc)) != 0)
            break;
        struct digest d = {{0, 0}, 0};
        if (nc > 0)
            rc = dst->ops->copy->read(dst, t->name, (const char *const *)cols, nc, digest_cb, &d);
        names_free(cols, nc);
        t->rows_to = d.rows;
        digest_out(&d, t->digest_to);
        t->same = t->rows_to == t->rows_from &&
                  memcmp(t->digest_to, t->digest_from, STORE_COPY_DIGEST) == 0;
        differ |= !t->same;
    }
    if (rc == 0 && differ)
        rc = store_fail(dst, WEFT_ECONFLICT,
                        "the copy read back differs from the source: rolled back, nothing kept");
    if (rc == 0)
        rc = store_commit(dst);
    else
        store_rollback(dst);
out_snap:
    src->ops->copy->snapshot(src, false);
out_names:
    names_free(st, ns);
    names_free(dt, nd);
    return rc;
}
