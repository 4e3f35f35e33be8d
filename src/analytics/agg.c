/*
 * agg.c - aggregate tables (agg.h).
 *
 * Workload: rows are sites, wards or organisation-and-service pairs (tens
 * to a few thousand in a region); every counted event finds its row through
 * an open-addressing hash of its labels, so a region of a million people
 * costs one hash probe per event, not a search of the rows.
 */
#include "analytics/agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/day.h"
#include "analytics/suppress.h"
#include "core/buf.h"
#include "core/err.h"

struct agg_table {
    char *measure;
    char **cols;
    int ncols;
    bool row_total;
    char **k1, **k2; /* by row */
    int64_t **cells; /* [row][col] */
    int nrows;
    int *slot; /* hash: row + 1, 0 empty */
    size_t cap;
};

struct agg_ratio {
    char *measure;
    int num, den;
};

void agg_init(struct agg *a, const char *key1, const char *key2)
{
    memset(a, 0, sizeof *a);
    a->keys[0] = key1;
    a->keys[1] = key2;
    a->nkeys = key2 ? 2 : 1;
}

static void table_clear(struct agg_table *t)
{
    for (int r = 0; r < t->nrows; r++) {
        free(t->k1[r]);
        free(t->k2[r]);
        free(t->cells[r]);
    }
    free(t->k1);
    free(t->k2);
    free(t->cells);
    free(t->slot);
    t->k1 = t->k2 = NULL;
    t->cells = NULL;
    t->slot = NULL;
    t->nrows = 0;
    t->cap = 0;
}

void agg_clear(struct agg *a)
{
    for (int i = 0; i < a->nt; i++)
        table_clear(a->t[i]);
}

void agg_each(const struct agg *a, agg_cell_fn fn, void *arg)
{
    for (int i = 0; i < a->nt; i++) {
        const struct agg_table *t = a->t[i];
        for (int r = 0; r < t->nrows; r++) {
            fn(arg, i, t->k1[r], t->k2[r], -1, 0);
            for (int c = 0; c < t->ncols; c++)
                if (t->cells[r][c])
                    fn(arg, i, t->k1[r], t->k2[r], c, t->cells[r][c]);
        }
    }
}

void agg_free(struct agg *a)
{
    for (int i = 0; i < a->nt; i++) {
        struct agg_table *t = a->t[i];
        for (int c = 0; c < t->ncols; c++)
            free(t->cols[c]);
        table_clear(t);
        free(t->cols);
        free(t->measure);
        free(t);
    }
    for (int i = 0; i < a->nratio; i++)
        free(a->ratio[i].measure);
    free(a->ratio);
    free(a->t);
    memset(a, 0, sizeof *a);
}

int agg_table(struct agg *a, const char *measure, const char *const *labels, int ncols,
              bool row_total)
{
    struct agg_table *t = xcalloc(1, sizeof *t);
    t->measure = xstrdup(measure);
    t->ncols = ncols;
    t->row_total = row_total;
    t->cols = xcalloc((size_t)(ncols ? ncols : 1), sizeof *t->cols);
    for (int c = 0; c < ncols; c++)
        t->cols[c] = xstrdup(labels[c]);
    a->t = xrealloc(a->t, (size_t)(a->nt + 1) * sizeof *a->t);
    a->t[a->nt] = t;
    return a->nt++;
}

static uint64_t hash2(const char *k1, const char *k2)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = k1; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (const char *s = k2 ? k2 : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static bool row_is(const struct agg_table *t, int r, const char *k1, const char *k2)
{
    return !strcmp(t->k1[r], k1) && !strcmp(t->k2[r], k2 ? k2 : "");
}

static int row_find(const struct agg_table *t, const char *k1, const char *k2, size_t *slot_out)
{
    if (!t->cap)
        return -1;
    size_t j = hash2(k1, k2) & (t->cap - 1);
    for (; t->slot[j]; j = (j + 1) & (t->cap - 1))
        if (row_is(t, t->slot[j] - 1, k1, k2))
            return t->slot[j] - 1;
    if (slot_out)
        *slot_out = j;
    return -1;
}

static int row_of(struct agg_table *t, const char *k1, const char *k2)
{
    if ((size_t)(t->nrows + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        int *slot = xcalloc(cap, sizeof *slot);
        for (int r = 0; r < t->nrows; r++) {
            size_t j = hash2(t->k1[r], t->k2[r]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = r + 1;
        }
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    size_t j = 0;
    int r = row_find(t, k1, k2, &j);
    if (r >= 0)
        return r;
    r = t->nrows++;
    size_t n = (size_t)t->nrows;
    t->k1 = xrealloc(t->k1, n * sizeof *t->k1);
    t->k2 = xrealloc(t->k2, n * sizeof *t->k2);
    t->cells = xrealloc(t->cells, n * sizeof *t->cells);
    t->k1[r] = xstrdup(k1);
    t->k2[r] = xstrdup(k2 ? k2 : "");
    t->cells[r] = xcalloc((size_t)(t->ncols ? t->ncols : 1), sizeof **t->cells);
    t->slot[j] = r + 1;
    return r;
}

void agg_add(struct agg *a, int ti, const char *k1, const char *k2, int col, int64_t n)
{
    struct agg_table *t = a->t[ti];
    if (col < 0 || col >= t->ncols)
        return;
    int r = row_of(t, k1, k2); /* before t->cells is read: it may move */
    t->cells[r][col] += n;
}

void agg_touch(struct agg *a, int ti, const char *k1, const char *k2)
{
    row_of(a->t[ti], k1, k2);
}

int64_t agg_get(const struct agg *a, int ti, const char *k1, const char *k2, int col)
{
    const struct agg_table *t = a->t[ti];
    int r = row_find(t, k1, k2, NULL);
    return r < 0 || col < 0 || col >= t->ncols ? 0 : t->cells[r][col];
}

void agg_ratio(struct agg *a, const char *measure, int num, int den)
{
    a->ratio = xrealloc(a->ratio, (size_t)(a->nratio + 1) * sizeof *a->ratio);
    a->ratio[a->nratio++] = (struct agg_ratio){xstrdup(measure), num, den};
}

/* ---- writing ------------------------------------------------------------------------ */

/* A table after suppression: rows in label order (order[i] the raw row of
 * the i-th), at[raw row] its place in that order, shown[(nr+1) x (nc+1)]. */
struct shown_table {
    int *order, *at;
    int64_t *shown;
};

static const struct agg_table *sort_t;
static int cmp_row(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    int c = strcmp(sort_t->k1[a], sort_t->k1[b]);
    return c ? c : strcmp(sort_t->k2[a], sort_t->k2[b]);
}

static void shown_make(const struct agg_table *t, struct shown_table *s)
{
    int nr = t->nrows ? t->nrows : 1, nc = t->ncols ? t->ncols : 1;
    s->order = xmalloc((size_t)nr * sizeof *s->order);
    s->at = xmalloc((size_t)nr * sizeof *s->at);
    for (int i = 0; i < t->nrows; i++)
        s->order[i] = i;
    sort_t = t;
    qsort(s->order, (size_t)t->nrows, sizeof *s->order, cmp_row);
    for (int i = 0; i < t->nrows; i++)
        s->at[s->order[i]] = i;
    int64_t *cells = xcalloc((size_t)nr * (size_t)nc, sizeof *cells);
    for (int i = 0; i < t->nrows; i++)
        memcpy(cells + (size_t)i * (size_t)nc, t->cells[s->order[i]],
               (size_t)t->ncols * sizeof *cells);
    s->shown = xcalloc((size_t)(nr + 1) * (size_t)(nc + 1), sizeof *s->shown);
    suppress_table(cells, nr, nc, s->shown);
    free(cells);
}

/* The shown value at place i of the sorted rows (t->nrows: the column
 * totals) and column c (t->ncols: the row total). */
static int64_t shown_at(const struct agg_table *t, const struct shown_table *s, int i, int c)
{
    int nr = t->nrows ? t->nrows : 1, nc = t->ncols ? t->ncols : 1;
    int si = i < t->nrows ? i : nr, sc = c < t->ncols ? c : nc;
    return s->shown[(size_t)si * (size_t)(nc + 1) + (size_t)sc];
}

/* A ratio at place i of den's sorted rows and column c, in tenths of a
 * percent; SUPPRESSED, or INT64_MIN for none (den shows 0). */
static int64_t ratio_at(const struct agg_table *num, const struct shown_table *sn,
                        const struct agg_table *den, const struct shown_table *sd, int i, int c)
{
    int64_t d = shown_at(den, sd, i, c), n = 0;
    if (i < den->nrows) {
        int row = sd->order[i];
        int rn = row_find(num, den->k1[row], den->k2[row], NULL);
        n = rn >= 0 ? shown_at(num, sn, sn->at[rn], c) : 0;
    } else {
        n = shown_at(num, sn, num->nrows, c);
    }
    if (d == SUPPRESSED || n == SUPPRESSED)
        return SUPPRESSED;
    if (d == 0)
        return INT64_MIN;
    return (n * 1000 + d / 2) / d;
}

static void emit_table(const struct agg *a, int ti, agg_figure_fn fn, void *arg,
                       const struct shown_table *all)
{
    const struct agg_table *t = a->t[ti];
    const struct shown_table *s = &all[ti];
    int last = t->row_total ? t->ncols : t->ncols - 1;
    char num[32];
    for (int i = 0; i <= t->nrows; i++) {
        int r = i < t->nrows ? s->order[i] : -1;
        const char *keys[2] = {r >= 0 ? t->k1[r] : "total", r >= 0 ? t->k2[r] : "total"};
        for (int c = 0; c <= last; c++)
            fn(arg, t->measure, keys, c < t->ncols ? t->cols[c] : "total",
               suppress_text(shown_at(t, s, i, c), num));
    }
    for (int k = 0; k < a->nratio; k++) {
        if (a->ratio[k].den != ti)
            continue;
        int ni = a->ratio[k].num;
        for (int i = 0; i <= t->nrows; i++) {
            int r = i < t->nrows ? s->order[i] : -1;
            const char *keys[2] = {r >= 0 ? t->k1[r] : "total", r >= 0 ? t->k2[r] : "total"};
            for (int c = 0; c <= last; c++) {
                int64_t v = ratio_at(a->t[ni], &all[ni], t, s, i, c);
                const char *text = "";
                if (v == SUPPRESSED) {
                    text = "*";
                } else if (v != INT64_MIN) {
                    snprintf(num, sizeof num, "%lld.%lld", (long long)(v / 10),
                             (long long)(v % 10));
                    text = num;
                }
                fn(arg, a->ratio[k].measure, keys, c < t->ncols ? t->cols[c] : "total", text);
            }
        }
    }
}

void agg_emit(const struct agg *a, agg_figure_fn fn, void *arg)
{
    struct shown_table *all = xcalloc((size_t)(a->nt ? a->nt : 1), sizeof *all);
    for (int i = 0; i < a->nt; i++)
        shown_make(a->t[i], &all[i]);
    for (int i = 0; i < a->nt; i++)
        emit_table(a, i, fn, arg, all);
    for (int i = 0; i < a->nt; i++) {
        free(all[i].order);
        free(all[i].at);
        free(all[i].shown);
    }
    free(all);
}

static void csv_field(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_adds(b, s);
        return;
    }
    buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_addc(b, '"');
        buf_addc(b, *s);
    }
    buf_addc(b, '"');
}

struct csv_ctx {
    struct buf *b;
    int nkeys;
};

static void csv_line(void *arg, const char *measure, const char *const *keys, const char *period,
                     const char *value)
{
    struct csv_ctx *x = arg;
    csv_field(x->b, measure);
    for (int k = 0; k < x->nkeys; k++) {
        buf_addc(x->b, ',');
        csv_field(x->b, keys[k]);
    }
    buf_addc(x->b, ',');
    csv_field(x->b, period);
    buf_addc(x->b, ',');
    buf_adds(x->b, value);
    buf_addc(x->b, '\n');
}

void agg_csv(const struct agg *a, struct buf *out)
{
    buf_adds(out, "measure");
    for (int k = 0; k < a->nkeys; k++)
        buf_addf(out, ",%s", a->keys[k]);
    buf_adds(out, ",period,value\n");
    struct csv_ctx x = {out, a->nkeys};
    agg_emit(a, csv_line, &x);
}

/* ---- months ------------------------------------------------------------------------- */

static int month_no(int64_t day)
{
    char t[11];
    day_text(day, t);
    return atoi(t) * 12 + (t[5] - '0') * 10 + (t[6] - '0') - 1;
}

int agg_month_index(int64_t from, int64_t day)
{
    if (day < from)
        return -1;
    return month_no(day) - month_no(from);
}

int agg_months(int64_t from, int64_t to, char out[][8], int max)
{
    int a = month_no(from), b = month_no(to), n = 0;
    for (int m = a; m <= b && n < max; m++, n++) {
        char t[24];
        snprintf(t, sizeof t, "%04d-%02d", (m / 12) % 10000, (m % 12 + 12) % 12 + 1);
        memcpy(out[n], t, 8);
        out[n][7] = '\0';
    }
    return n;
}

int64_t agg_month_last(int64_t from, int col)
{
    int m = month_no(from) + col + 1; /* the next month's first day, less one */
    char t[24];
    snprintf(t, sizeof t, "%04d-%02d-01", (m / 12) % 10000, m % 12 + 1);
    int64_t d = 0;
    day_parse(t, &d);
    return d - 1;
}
