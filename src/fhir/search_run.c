/*
 * search_run.c - running a search whose specification parameters the store
 * does not index (see search.h, fhir_search_resolve and fhir_search_run).
 *
 * The store narrows first with everything it indexes (type, person, record
 * category, code, date, Patient terms, scope, and across patients the
 * search index: every token, reference, string and date parameter without
 * a modifier the index cannot serve, fhir/searchparam.h); the rest is
 * matched here on each item's JSON.  Within one patient that is the
 * person's items of one type, which the specification allows a server to
 * evaluate directly; across patients the store's narrowing must leave at
 * most FHIR_SEARCH_SCAN_MAX items, else the search is refused as too
 * costly rather than run slowly - which only a search with nothing indexed
 * to narrow it by, or a very common value, now meets.  All pages of the store query are read at one
 * snapshot, so the matches, their order and the total are the same on every
 * page of the answer: the answer's cursor is an offset into them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "fhir/jload.h"
#include "fhir/search.h"
#include "fhir/searchparam.h"
#include "store/records.h"

#define SCAN_PAGE 500

bool fhir_search_filtered(const struct fhir_search *fs)
{
    /* a chain resolved into patient=ID leaves its filter empty (sp NULL) */
    for (int i = 0; i < fs->nfilters; i++)
        if (fs->filters[i].sp)
            return true;
    return fs->sort_sp != NULL;
}

/* One match kept for the answer. */
struct kept {
    struct store_row row;
    char *key; /* sort key (sort_sp), or NULL */
    int order; /* position in store order: ties keep it */
};

static int kept_cmp_asc(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c == 0)
        c = strcmp(x->row.id, y->row.id);
    return c;
}

static int kept_cmp_desc(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    int c = strcmp(y->key, x->key);
    if (c == 0)
        c = strcmp(x->row.id, y->row.id);
    return c;
}

static bool row_matches(const struct fhir_search *fs, const json_t *r)
{
    for (int i = 0; i < fs->nfilters; i++)
        if (fs->filters[i].sp && !fhir_sp_match(&fs->filters[i], r))
            return false;
    return true;
}

/* "+N" -> N; false when c is not such a cursor */
static bool offset_parse(const char *c, long *off)
{
    if (!c || c[0] != '+')
        return false;
    char *end = NULL;
    long n = strtol(c + 1, &end, 10);
    if (end == c + 1 || *end || n < 0)
        return false;
    *off = n;
    return true;
}

static int run_filtered(struct fhir_search *fs, const struct store_query *q0,
                        int (*run)(void *, const struct store_query *, struct store_result *),
                        void *ctx, struct store_result *out)
{
    memset(out, 0, sizeof *out);
    long offset = 0;
    if (q0->after && !offset_parse(q0->after, &offset))
        return WEFT_EINVAL;
    int limit = q0->limit > 0 ? q0->limit : 0;
    bool sorting = fs->sort_sp != NULL;
    /* without a sort of our own and without a total, the first offset +
     * limit + 1 matches are enough */
    long stop = (!sorting && !q0->want_total) ? offset + limit + 1 : -1;

    struct store_query q = *q0;
    q.after = NULL;
    q.limit = SCAN_PAGE;
    q.want_total = false;
    struct kept *kept = NULL;
    int nkept = 0, cap = 0;
    long matches = 0, scanned = 0;
    int rc = WEFT_OK;
    for (;;) {
        struct store_result page;
        memset(&page, 0, sizeof page);
        rc = run(ctx, &q, &page);
        if (rc) {
            store_result_clear(&page);
            break;
        }
        q.snapshot = page.snapshot;
        out->snapshot = page.snapshot;
        for (int i = 0; i < page.nrows; i++) {
            struct store_row *row = &page.rows[i];
            if (++scanned > FHIR_SEARCH_SCAN_MAX) {
                rc = WEFT_ETOOBIG;
                break;
            }
            bool may = !row->deleted;
            for (int k = 0; k < fs->nfilters && may; k++)
                may = fhir_sp_may_match(&fs->filters[k], row->json, row->json_len);
            json_t *r = may ? jload_parse(row->json, row->json_len) : NULL;
            bool ok = r && row_matches(fs, r);
            if (!ok) {
                json_decref(r);
                continue;
            }
            long index = matches++;
            bool keep = sorting || (index >= offset && index < offset + limit);
            if (keep) {
                if (nkept == cap) {
                    cap = cap ? cap * 2 : 64;
                    kept = xrealloc(kept, sizeof *kept * (size_t)cap);
                }
                struct kept *k = &kept[nkept++];
                k->row = *row;
                memset(row, 0, sizeof *row);
                k->order = (int)index;
                k->key = NULL;
                if (sorting) {
                    char key[256];
                    fhir_sp_sort_key(fs->sort_sp, r, fs->sort_desc, key, sizeof key);
                    k->key = xstrdup(key);
                }
            }
            json_decref(r);
            if (stop >= 0 && matches >= stop)
                break;
        }
        char *next = page.next;
        page.next = NULL;
        store_result_clear(&page);
        bool done = !next || rc || (stop >= 0 && matches >= stop);
        free((char *)q.after);
        q.after = next;
        if (done)
            break;
    }
    free((char *)q.after);
    if (rc) {
        for (int i = 0; i < nkept; i++) {
            store_row_clear(&kept[i].row);
            free(kept[i].key);
        }
        free(kept);
        return rc;
    }
    int first = 0, n = nkept;
    if (sorting) {
        /* items without a value sort last either way */
        qsort(kept, (size_t)nkept, sizeof *kept, fs->sort_desc ? kept_cmp_desc : kept_cmp_asc);
        int with = 0;
        struct kept *tmp = xmalloc(sizeof *tmp * (size_t)(nkept ? nkept : 1));
        for (int i = 0; i < nkept; i++)
            if (kept[i].key[0])
                tmp[with++] = kept[i];
        int w = with;
        for (int i = 0; i < nkept; i++)
            if (!kept[i].key[0])
                tmp[w++] = kept[i];
        memcpy(kept, tmp, sizeof *kept * (size_t)nkept);
        free(tmp);
        first = offset < nkept ? (int)offset : nkept;
        n = nkept - first < limit ? nkept - first : limit;
    }
    out->rows = xcalloc((size_t)(n ? n : 1), sizeof *out->rows);
    for (int i = 0; i < nkept; i++) {
        if (i >= first && i < first + n)
            out->rows[out->nrows++] = kept[i].row;
        else
            store_row_clear(&kept[i].row);
        free(kept[i].key);
    }
    free(kept);
    out->total = q0->want_total ? matches : -1;
    if (offset + limit < matches) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "+%ld", offset + limit);
        out->next = buf_detach(&b, NULL);
    }
    return WEFT_OK;
}

/* One search-index condition from the store's own parameters: code (the
 * code of each value, any system) and date (the days of the range). */
static void ix_store_params(struct fhir_search *fs)
{
    /* the loader writes these rows only for types with such parameters */
    if (fs->q.ncodes > 0 && fhir_sp_find(fs->q.type, "code")) {
        struct store_ixcond *c = &fs->ix[fs->nix++];
        struct store_ixval *vals = xcalloc((size_t)fs->q.ncodes, sizeof *vals);
        for (int i = 0; i < fs->q.ncodes; i++) {
            const char *bar = strchr(fs->q.codes[i], '|');
            struct fhir_sp_ixrows one = FHIR_SP_IXROWS_INIT;
            fhir_sp_ixrows_add(&one, "code", bar ? bar + 1 : fs->q.codes[i]);
            const char *pair[2] = {NULL, ""};
            if (one.n == 1)
                fhir_sp_ixrows_pairs(&one, pair);
            vals[i].op = STORE_IX_EQ;
            vals[i].a = xstrdup(pair[1]);
            fhir_sp_ixrows_release(&one);
        }
        *c = (struct store_ixcond){"code", vals, fs->q.ncodes};
    }
    if ((fs->q.date_ge || fs->q.date_lt) && fhir_sp_find(fs->q.type, "date")) {
        struct store_ixcond *c = &fs->ix[fs->nix++];
        struct store_ixval *v = xcalloc(1, sizeof *v);
        v->op = STORE_IX_RANGE;
        char day[11]; /* the day of each bound (a partial date is shorter) */
        if (fs->q.date_ge) {
            snprintf(day, sizeof day, "%s", fs->q.date_ge);
            v->a = xstrdup(day);
        }
        if (fs->q.date_lt) {
            snprintf(day, sizeof day, "%s", fs->q.date_lt);
            v->b = xstrdup(day);
        }
        *c = (struct store_ixcond){"date", v, 1};
    }
}

/* Narrow a search of one type across patients by the search index: a
 * condition for each filter the index can narrow and for the store's code
 * and date.  Within one patient the person's own items are read. */
static void ix_build(struct fhir_search *fs)
{
    if (fs->ix_built)
        return;
    fs->ix_built = true;
    fs->nunindexed = 0;
    for (int i = 0; i < fs->nfilters; i++)
        if (fs->filters[i].sp && !fhir_sp_index_cond(&fs->filters[i], &fs->ix[fs->nix]))
            fs->nunindexed++;
        else if (fs->filters[i].sp)
            fs->nix++;
    if (!fs->index_ready || fs->q.person_id || !fs->q.type) {
        for (int i = 0; i < fs->nix; i++)
            fhir_sp_index_cond_free(&fs->ix[i]);
        fs->nix = 0;
        return;
    }
    ix_store_params(fs);
    fs->q.ix = fs->ix;
    fs->q.nix = fs->nix;
}

int fhir_search_run(struct fhir_search *fs, const struct fhir_search_exec *x,
                    struct store_result *out)
{
    ix_build(fs);
    if (!fhir_search_filtered(fs))
        return x->run(x->ctx, &fs->q, out);
    return run_filtered(fs, &fs->q, x->run, x->ctx, out);
}

/* ---- chains and _has ------------------------------------------------------------------------ */

static int chain_fail(struct fhir_search *fs, const struct fhir_search_chain *c, const char *msg)
{
    snprintf(fs->err_param, sizeof fs->err_param, "%s", c->name);
    snprintf(fs->err_msg, sizeof fs->err_msg, "%s", msg);
    return WEFT_EINVAL;
}

/* Every item the inner search of c finds (at most FHIR_SP_MAX_VALUES), each
 * handed to take(). */
static int inner_search(struct fhir_search *fs, const struct fhir_search_chain *c,
                        const struct fhir_search_exec *x, const char *person_id,
                        int (*take)(struct fhir_search *, const struct fhir_search_chain *,
                                    const struct store_row *),
                        long *found)
{
    struct url_kv kv = {c->name, c->value};
    struct fhir_search in;
    int rc = fhir_search_parse(&in, FHIR_SEARCH_TYPE, c->type, &kv, 1, false);
    if (rc == 0 && (in.nchains > 0 || in.patient_id || in.nids > 0))
        rc = chain_fail(&in, c,
                        "a chained or _has parameter cannot itself name a patient, an "
                        "_id or another chain");
    if (rc) {
        snprintf(fs->err_param, sizeof fs->err_param, "%s", in.err_param);
        snprintf(fs->err_msg, sizeof fs->err_msg, "chained search %.30s?%.40s: %.150s", c->type,
                 c->name, in.err_msg);
        fhir_search_free(&in);
        return WEFT_EINVAL;
    }
    in.q.person_id = person_id;
    in.index_ready = fs->index_ready;
    in.q.sort = STORE_SORT_SEQ;
    in.q.limit = FHIR_COUNT_MAX;
    in.q.want_total = false;
    *found = 0;
    struct fhir_search_exec inner = {x->run_inner, x->run_inner, x->ctx};
    for (;;) {
        struct store_result res;
        rc = fhir_search_run(&in, &inner, &res);
        if (rc) {
            store_result_clear(&res);
            break;
        }
        for (int i = 0; i < res.nrows && rc == 0; i++)
            if (!res.rows[i].deleted) {
                rc = take(fs, c, &res.rows[i]);
                (*found)++;
            }
        in.q.snapshot = res.snapshot;
        free(in.after);
        in.after = res.next;
        in.q.after = in.after;
        res.next = NULL;
        store_result_clear(&res);
        if (rc || !in.after)
            break;
    }
    fhir_search_free(&in);
    return rc;
}

static int take_chain(struct fhir_search *fs, const struct fhir_search_chain *c,
                      const struct store_row *row)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s/%s", row->type, row->id);
    char err[256];
    int rc = fhir_sp_filter_add(&fs->filters[c->filter], b.data, err, sizeof err);
    buf_release(&b);
    if (rc == WEFT_EINVAL && fs->filters[c->filter].nvalues >= FHIR_SP_MAX_VALUES)
        return WEFT_ETOOBIG;
    return rc;
}

static int take_has(struct fhir_search *fs, const struct fhir_search_chain *c,
                    const struct store_row *row)
{
    const struct fhir_sp *ref = fhir_sp_find(c->type, c->ref);
    json_t *r = jload_parse(row->json, row->json_len);
    if (!r || !ref)
        return WEFT_OK;
    const json_t *nodes[64];
    int n = fhir_sp_eval(ref->path, r, nodes, 64);
    struct fhir_sp_filter *f = &fs->filters[c->filter];
    int rc = WEFT_OK;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *s = json_string_value(json_object_get(nodes[i], "reference"));
        char type[64], id[65];
        if (!s || !fhir_sp_ref_split(s, type, id) || strcmp(type, f->sp->type) != 0)
            continue;
        bool dup = false;
        for (int k = 0; k < f->nvalues && !dup; k++)
            dup = strcmp(fhir_sp_filter_value(f, k), id) == 0;
        if (dup)
            continue;
        char err[256];
        rc = fhir_sp_filter_add(f, id, err, sizeof err);
        if (rc)
            rc = WEFT_ETOOBIG;
    }
    json_decref(r);
    return rc;
}

int fhir_search_resolve(struct fhir_search *fs, const struct fhir_search_exec *x, bool has_pass,
                        const char *person_id)
{
    for (int i = 0; i < fs->nchains; i++) {
        struct fhir_search_chain *c = &fs->chains[i];
        if (c->has != has_pass)
            continue;
        long found = 0;
        int rc = inner_search(fs, c, x, has_pass ? person_id : NULL,
                              has_pass ? take_has : take_chain, &found);
        if (rc)
            return rc;
        struct fhir_sp_filter *f = &fs->filters[c->filter];
        /* a chain through patient or subject that names one Patient: the
         * search is within that patient's record, as patient=ID */
        if (!has_pass && !fs->patient_id && f->nvalues == 1 && strcmp(c->type, "Patient") == 0 &&
            (strcmp(f->sp->code, "patient") == 0 || strcmp(f->sp->code, "subject") == 0) &&
            fhir_sp_find(f->sp->type, "patient") && found == 1) {
            char type[64], id[65];
            if (fhir_sp_ref_split(fhir_sp_filter_value(f, 0), type, id)) {
                fs->patient_id = xstrdup(id);
                fhir_sp_filter_free(f); /* sp NULL: matches everything */
            }
        }
    }
    return WEFT_OK;
}
