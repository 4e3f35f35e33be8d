/*
 * secondary.c - secondary outputs and the compliance report (secondary.h).
 *
 * An output is a classifier: for each person, a row label (an organisation,
 * never a person) and a column, or "not in this output".  The engine reads
 * every person once (analytics/read.h), drops everyone not cleared by the
 * opt-out list in force before the classifier sees them, counts, suppresses
 * small numbers and records what it did.
 */
#include "analytics/secondary.h"
#include "analytics/secondary_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/agg.h"
#include "analytics/day.h"
#include "analytics/efi.h"
#include "analytics/flow.h"
#include "analytics/read.h"
#include "analytics/service.h"
#include "analytics/suppress.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/analytics.h"
#include "store/store.h"

#define NO_PRACTICE "no registered practice"

/* ---- readmissions, ae, inpatients (flow.h) ----------------------------------------- */
static bool add_readmissions(struct agg *a, const struct analytics_person *p, int64_t from,
                             int64_t to, int64_t at)
{
    (void)at;
    return flow_readmissions_add(a, p, from, to);
}
static bool add_ae(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to,
                   int64_t at)
{
    (void)at;
    return flow_ae_add(a, p, from, to);
}
static bool add_service(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to,
                        int64_t at)
{
    (void)at;
    return service_add(a, p, from, to);
}
static void init_inpatients(struct agg *a, int64_t from, int64_t to)
{
    (void)from;
    (void)to;
    flow_inpatients_init(a);
}
static bool add_inpatients(struct agg *a, const struct analytics_person *p, int64_t from,
                           int64_t to, int64_t at)
{
    (void)from;
    (void)to;
    return flow_inpatients_add(a, p, at);
}

/* ---- population: registered people by practice and age band ---------------- */
static const char *const age_cols[] = {"0-17", "18-64", "65-74", "75-84", "85+", "age unknown"};

static bool classify_population(const struct analytics_person *p, const struct efi_codes *efi,
                                int64_t as_of, const char **row, int *col)
{
    (void)efi;
    if (p->deceased)
        return false;
    bool known = p->birth != ANALYTICS_NO_BIRTH;
    int age = known ? day_age(p->birth, as_of) : -1;
    if (known && age < 0) /* born after the as-of day */
        return false;
    *row = p->gp ? p->gp : NO_PRACTICE;
    *col = age < 0 ? 5 : age < 18 ? 0 : age < 65 ? 1 : age < 75 ? 2 : age < 85 ? 3 : 4;
    return true;
}

/* ---- frailty: people aged 65+ by practice and eFI band ------------------------ */
static const char *const band_cols[] = {"fit", "mild", "moderate", "severe"};

static bool classify_frailty(const struct analytics_person *p, const struct efi_codes *efi,
                             int64_t as_of, const char **row, int *col)
{
    struct efi_result r;
    if (p->deceased || efi_assess(efi, p, as_of, &r) != 0)
        return false;
    *row = p->gp ? p->gp : NO_PRACTICE;
    *col = (int)r.band;
    efi_result_free(&r);
    return true;
}

static const struct output_def outputs[] = {
    {"population", "Registered population by GP practice and age band", "practice", age_cols, 6,
     false, classify_population, NULL, NULL, WIN_NONE},
    {"frailty", "People aged 65 and over by GP practice and electronic Frailty Index band",
     "practice", band_cols, 4, true, classify_frailty, NULL, NULL, WIN_NONE},
    /* its own engine (flow.h): inpatient stays, not people, are counted */
    {"flow",
     "Patient flow from ADT: admissions, discharges, occupancy and length of stay by site and ward",
     "site", NULL, 0, false, NULL, NULL, NULL, WIN_DAYS},
    {"readmissions", "Emergency readmissions within 30 days of discharge by site and month", "site",
     NULL, 0, false, NULL, flow_readmissions_init, add_readmissions, WIN_DAYS},
    {"ae", "A&E attendances and the share admitted by site, per day and per month", "site", NULL, 0,
     false, NULL, flow_ae_init, add_ae, WIN_DAYS},
    {"inpatients", "Inpatients in hospital at a time by site and ward and days in so far", "site",
     NULL, 0, false, NULL, init_inpatients, add_inpatients, WIN_AT},
    {"service", "Service management: activity per organisation and service per month",
     "organisation", NULL, 0, false, NULL, service_init, add_service, WIN_MONTHS},
};
#define NOUTPUTS ((int)(sizeof outputs / sizeof outputs[0]))

int64_t secondary_window_from(const char *output, int64_t as_of)
{
    if (!output || strcmp(output, "service") != 0)
        return as_of - 27;
    /* twelve calendar months ending with as-of's */
    char t[11], f[24];
    day_text(as_of, t);
    int y = atoi(t), m = (t[5] - '0') * 10 + (t[6] - '0') - 11;
    if (m < 1)
        m += 12, y--;
    snprintf(f, sizeof f, "%04d-%02d-01", y % 10000, m % 100);
    int64_t from = as_of - 27;
    day_parse(f, &from);
    return from;
}

const char *const *secondary_outputs(void)
{
    static const char *names[NOUTPUTS + 1];
    for (int i = 0; i < NOUTPUTS; i++)
        names[i] = outputs[i].name;
    return names;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int secondary_rows_get(struct rows *r, const char *k, int ncols)
{
    if ((size_t)(r->n + 1) * 2 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        char **keys = xcalloc(cap, sizeof *keys);
        int *idx = xcalloc(cap, sizeof *idx);
        for (size_t i = 0; i < r->cap; i++)
            if (r->keys[i]) {
                size_t j = fnv(r->keys[i]) & (cap - 1);
                while (keys[j])
                    j = (j + 1) & (cap - 1);
                keys[j] = r->keys[i];
                idx[j] = r->idx[i];
            }
        free(r->keys);
        free(r->idx);
        r->keys = keys;
        r->idx = idx;
        r->cap = cap;
    }
    size_t j = fnv(k) & (r->cap - 1);
    for (; r->keys[j]; j = (j + 1) & (r->cap - 1))
        if (!strcmp(r->keys[j], k))
            return r->idx[j];
    r->keys[j] = xstrdup(k);
    r->idx[j] = r->n;
    r->labels = xrealloc(r->labels, (size_t)(r->n + 1) * sizeof *r->labels);
    r->cells = xrealloc(r->cells, (size_t)(r->n + 1) * sizeof *r->cells);
    r->labels[r->n] = r->keys[j];
    r->cells[r->n] = xcalloc((size_t)ncols, sizeof **r->cells);
    return r->n++;
}

void secondary_rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->cap; i++)
        free(r->keys[i]);
    for (int i = 0; i < r->n; i++)
        free(r->cells[i]);
    free(r->keys);
    free(r->idx);
    free(r->labels);
    free(r->cells);
}

/* ---- the run -------------------------------------------------------------------- */

void secondary_count_person(struct run_ctx *c, const struct analytics_person *p)
{
    if (c->flow) {
        bool counted = false;
        for (int i = 0; i < p->nitems; i++) {
            struct flow_stay st;
            char site[128], ward[128];
            if (flow_stay_of(&p->items[i], &st, site, ward))
                counted |= flow_add(c->flow, &st);
        }
        if (!counted)
            return;
    } else if (c->agg) {
        if (!c->def->agg_add(c->agg, p, c->from, c->to, c->at))
            return;
    } else {
        const char *row;
        int col;
        if (!c->def->classify(p, c->efi, c->as_of, &row, &col))
            return;
        int r = secondary_rows_get(&c->rows, row, c->def->ncols);
        c->rows.cells[r][col]++;
    }
    if (c->ncounted == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->counted = xrealloc(c->counted, c->cap * sizeof *c->counted);
    }
    c->counted[c->ncounted++] = optout_nhs_key(p->nhs);
}

/* The one scan: each person read once, the opt-out applied once, then
 * counted into every output of the run. */
struct pass {
    struct run_ctx *c;
    int n;
    const struct optout_set *cleared;
    int64_t excluded;
};

static int pass_person(const struct analytics_person *p, void *pp)
{
    struct pass *x = pp;
    /* the opt-out applies before anything else looks at the person */
    if (!p->nhs || !optout_set_has(x->cleared, p->nhs)) {
        x->excluded++;
        return 0;
    }
    for (int i = 0; i < x->n; i++)
        secondary_count_person(&x->c[i], p);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const char *const *sort_labels;
static int cmp_row(const void *a, const void *b)
{
    return strcmp(sort_labels[*(const int *)a], sort_labels[*(const int *)b]);
}

void secondary_table_free(struct secondary_table *t)
{
    for (int i = 0; i < t->rows; i++)
        free(t->row_labels[i]);
    for (int i = 0; i < t->cols; i++)
        free(t->col_labels[i]);
    free(t->row_labels);
    free(t->col_labels);
    free(t->shown);
    free(t->name);
    free(t->title);
    free(t->row_heading);
    if (t->flow) {
        flow_free(t->flow);
        free(t->flow);
    }
    if (t->agg) {
        agg_free(t->agg);
        free(t->agg);
    }
    memset(t, 0, sizeof *t);
}

static void minute_text(int64_t at, char out[24])
{
    int64_t d = at >= 0 ? at / 1440 : (at - 1439) / 1440, m = at - d * 1440;
    char dt[11];
    snprintf(out, 24, "%sT%02d:%02d", day_text(d, dt), (int)(m / 60), (int)(m % 60));
}

int secondary_prepare(const struct secondary_options *o, struct prep *pr, char *err, size_t errlen)
{
    memset(pr, 0, sizeof *pr);
    const struct output_def *def = NULL;
    for (int i = 0; i < NOUTPUTS; i++)
        if (o->output && !strcmp(o->output, outputs[i].name))
            def = &outputs[i];
    if (!def) {
        struct buf b = BUF_INIT;
        for (int i = 0; i < NOUTPUTS; i++)
            buf_addf(&b, "%s%s", i ? ", " : "", outputs[i].name);
        snprintf(err, errlen, "unknown output '%s' (outputs: %s)", o->output ? o->output : "",
                 b.data);
        buf_release(&b);
        return WEFT_EINVAL;
    }
    int64_t as_of = day_today();
    if (o->as_of && !day_parse(o->as_of, &as_of)) {
        snprintf(err, errlen, "--as-of '%s' is not a date (YYYY-MM-DD)", o->as_of);
        return WEFT_EINVAL;
    }
    int64_t from = as_of - 27, at = 0;
    bool has_from = def->window == WIN_DAYS || def->window == WIN_MONTHS;
    if (def->window == WIN_MONTHS)
        from = secondary_window_from(def->name, as_of);
    if (!has_from && o->from) {
        snprintf(err, errlen,
                 "--from applies to the flow, readmissions, ae and service outputs only");
        return WEFT_EINVAL;
    }
    if (has_from && o->from) {
        if (!day_parse(o->from, &from)) {
            snprintf(err, errlen, "--from '%s' is not a date (YYYY-MM-DD)", o->from);
            return WEFT_EINVAL;
        }
        if (from > as_of || as_of - from >= FLOW_MAX_DAYS) {
            snprintf(err, errlen,
                     "--from must be on or before --as-of and at most %d days before it",
                     FLOW_MAX_DAYS - 1);
            return WEFT_EINVAL;
        }
    }
    char as_of_txt[11], from_txt[11], at_txt[24];
    if (def->window == WIN_AT) { /* a time: --as-of's, the end of its day, or now */
        if (!o->as_of) {
            at = (int64_t)time(NULL) / 60;
        } else if (strlen(o->as_of) == 10) {
            at = as_of * 1440 + 1439;
        } else if (!flow_minute_parse(o->as_of, &at)) {
            snprintf(err, errlen, "--as-of '%s' is not a date or time (YYYY-MM-DDTHH:MM)",
                     o->as_of);
            return WEFT_EINVAL;
        }
        minute_text(at, at_txt);
        snprintf(pr->params, sizeof pr->params, "at=%s", o->as_of ? at_txt : "now");
    } else if (has_from) {
        snprintf(pr->params, sizeof pr->params, "from=%s as-of=%s", day_text(from, from_txt),
                 day_text(as_of, as_of_txt));
    } else {
        snprintf(pr->params, sizeof pr->params, "as-of=%s", day_text(as_of, as_of_txt));
    }
    pr->def = def;
    pr->as_of = as_of;
    pr->from = from;
    pr->at = at;
    pr->has_from = has_from;
    return 0;
}

int secondary_window_params(const struct secondary_options *o, char params[64], char *err,
                            size_t errlen)
{
    struct prep pr;
    int rc = secondary_prepare(o, &pr, err, errlen);
    if (rc == 0)
        memcpy(params, pr.params, sizeof pr.params);
    return rc;
}

int secondary_finish(struct store *s, const struct secondary_options *o, const struct prep *pr,
                     struct run_ctx *c, int64_t excluded, const struct optout_gate *gate,
                     struct secondary_table *out, char *err, size_t errlen)
{
    const struct output_def *def = pr->def;
    /* rows in label order; the table is suppressed as a whole */
    int nr = c->rows.n, nc = def->ncols;
    int *order = xmalloc((size_t)(nr ? nr : 1) * sizeof *order);
    for (int i = 0; i < nr; i++)
        order[i] = i;
    sort_labels = (const char *const *)c->rows.labels;
    qsort(order, (size_t)nr, sizeof *order, cmp_row);
    int64_t *cells = xcalloc((size_t)(nr ? nr : 1) * (size_t)nc, sizeof *cells);
    out->row_labels = xcalloc((size_t)(nr ? nr : 1), sizeof *out->row_labels);
    for (int i = 0; i < nr; i++) {
        memcpy(cells + (size_t)i * (size_t)nc, c->rows.cells[order[i]], (size_t)nc * sizeof *cells);
        out->row_labels[i] = xstrdup(c->rows.labels[order[i]]);
    }
    free(order);
    out->rows = nr;
    out->cols = nc;
    out->col_labels = xcalloc((size_t)(nc ? nc : 1), sizeof *out->col_labels);
    for (int i = 0; i < nc; i++)
        out->col_labels[i] = xstrdup(def->cols[i]);
    out->shown = xcalloc((size_t)(nr + 1) * (size_t)(nc + 1), sizeof *out->shown);
    if (nr > 0 && nc > 0)
        suppress_table(cells, nr, nc, out->shown);
    free(cells);
    out->name = xstrdup(def->name);
    out->title = xstrdup(def->title);
    out->row_heading = xstrdup(def->row_heading);
    out->gate = *gate;
    out->flow = c->flow;
    c->flow = NULL;
    out->agg = c->agg;
    c->agg = NULL;
    out->from = pr->from;
    out->to = pr->as_of;
    if (def->window == WIN_AT)
        minute_text(pr->at, out->at);
    out->counted = (int64_t)c->ncounted;
    out->excluded = excluded;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out->computed, sizeof out->computed, "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (c->ncounted) /* an output that counted nobody has no array */
        qsort(c->counted, c->ncounted, sizeof *c->counted, cmp_u64);
    size_t blen;
    unsigned char *blob = optout_set_encode(c->counted, c->ncounted, &blen);
    char params[64];
    if (def->window == WIN_AT)
        snprintf(params, sizeof params, "at=%s", out->at);
    else
        snprintf(params, sizeof params, "%s", pr->params);
    struct store_analytics_output rec = {.name = (char *)def->name,
                                         .computed = out->computed,
                                         .params = params,
                                         .by = (char *)(o->by ? o->by : "unknown"),
                                         .list_id = gate->list_id,
                                         .counted = out->counted,
                                         .excluded = out->excluded,
                                         .counted_set = blob,
                                         .counted_set_len = blen};
    int rc = store_analytics_output_add(s, &rec, &out->output_id);
    free(blob);
    if (rc)
        snprintf(err, errlen, "recording the output: %s", store_errmsg(s));
    return rc;
}

void secondary_ctx_init(struct run_ctx *c, const struct prep *pr, const struct efi_codes *efi)
{
    const struct output_def *def = pr->def;
    *c = (struct run_ctx){.def = def, .efi = efi, .as_of = pr->as_of};
    if (def->classify == NULL && def->agg_init == NULL) {
        c->flow = xmalloc(sizeof *c->flow);
        flow_init(c->flow, pr->from, pr->as_of);
    }
    if (def->agg_init) {
        c->agg = xmalloc(sizeof *c->agg);
        def->agg_init(c->agg, pr->from, pr->as_of);
        c->from = pr->from;
        c->to = pr->as_of;
        c->at = pr->at;
    }
}

void secondary_ctx_free(struct run_ctx *c)
{
    if (c->flow) {
        flow_free(c->flow);
        free(c->flow);
    }
    if (c->agg) {
        agg_free(c->agg);
        free(c->agg);
    }
    free(c->counted);
    secondary_rows_free(&c->rows);
}

int secondary_run_many(struct store *s, const struct secondary_options *o, int n,
                       struct secondary_table *out, char *err, size_t errlen)
{
    err[0] = '\0';
    for (int i = 0; i < n; i++)
        memset(&out[i], 0, sizeof out[i]);
    if (n <= 0)
        return 0;
    struct prep *pr = xcalloc((size_t)n, sizeof *pr);
    bool needs_efi = false;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = secondary_prepare(&o[i], &pr[i], err, errlen);
        needs_efi |= rc == 0 && pr[i].def->needs_efi;
    }
    if (rc) {
        free(pr);
        return rc;
    }
    struct optout_gate gate;
    if ((rc = optout_gate(s, o[0].today, &gate, err, errlen)) != 0) {
        free(pr);
        return rc;
    }
    struct efi_codes *efi = NULL;
    if (needs_efi && (rc = efi_codes_load(o[0].efi_codes, &efi, err, errlen)) != 0) {
        free(pr);
        return rc;
    }
    struct optout_set cleared;
    if ((rc = optout_set_load(s, gate.list_id, &cleared)) != 0) {
        snprintf(err, errlen, "reading the opt-out list: %s", store_errmsg(s));
        efi_codes_free(efi);
        free(pr);
        return rc;
    }
    struct run_ctx *c = xcalloc((size_t)n, sizeof *c);
    for (int i = 0; i < n; i++)
        secondary_ctx_init(&c[i], &pr[i], efi);
    struct pass x = {c, n, &cleared, 0};
    rc = analytics_read_persons(s, NULL, pass_person, &x);
    optout_set_free(&cleared);
    if (rc)
        snprintf(err, errlen, "reading the record: %s", store_errmsg(s));
    for (int i = 0; i < n && rc == 0; i++)
        rc = secondary_finish(s, &o[i], &pr[i], &c[i], x.excluded, &gate, &out[i], err, errlen);
    for (int i = 0; i < n; i++)
        secondary_ctx_free(&c[i]);
    free(c);
    free(pr);
    efi_codes_free(efi);
    if (rc)
        for (int i = 0; i < n; i++)
            secondary_table_free(&out[i]);
    return rc;
}

int secondary_run(struct store *s, const struct secondary_options *o, struct secondary_table *out,
                  char *err, size_t errlen)
{
    return secondary_run_many(s, o, 1, out, err, errlen);
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

void secondary_table_csv(const struct secondary_table *t, struct buf *out)
{
    if (t->flow) {
        flow_csv(t->flow, out);
        return;
    }
    if (t->agg) {
        agg_csv(t->agg, out);
        return;
    }
    char num[24];
    csv_field(out, t->row_heading);
    for (int c = 0; c < t->cols; c++) {
        buf_addc(out, ',');
        csv_field(out, t->col_labels[c]);
    }
    buf_adds(out, ",total\n");
    for (int r = 0; r <= t->rows; r++) {
        csv_field(out, r < t->rows ? t->row_labels[r] : "total");
        for (int c = 0; c <= t->cols; c++)
            buf_addf(out, ",%s",
                     suppress_text(t->shown[(size_t)r * (size_t)(t->cols + 1) + (size_t)c], num));
        buf_addc(out, '\n');
    }
}

int secondary_compliance(struct store *s, struct buf *csv, int64_t *outside, char *err,
                         size_t errlen)
{
    err[0] = '\0';
    if (outside)
        *outside = 0;
    struct store_analytics_output *outs;
    int n;
    int rc = store_analytics_output_list(s, 0, &outs, &n);
    if (rc) {
        snprintf(err, errlen, "reading the outputs: %s", store_errmsg(s));
        return rc;
    }
    buf_adds(csv, "output_id,output,computed,by,list_id,list_checked,list_expires,list_count,"
                  "counted,excluded,counted_outside_list\n");
    int64_t loaded_id = -1;
    struct optout_set set = {0};
    for (int i = 0; i < n && rc == 0; i++) {
        struct store_analytics_output *o = &outs[i];
        struct store_optout_list l;
        if ((rc = store_optout_list_get(s, o->list_id, &l)) != 0) {
            snprintf(err, errlen, "output %lld names list %lld: %s", (long long)o->id,
                     (long long)o->list_id, store_errmsg(s));
            break;
        }
        if (loaded_id != o->list_id) {
            optout_set_free(&set);
            if ((rc = optout_set_load(s, o->list_id, &set)) != 0) {
                snprintf(err, errlen, "reading list %lld: %s", (long long)o->list_id,
                         store_errmsg(s));
                store_optout_list_clear(&l);
                break;
            }
            loaded_id = o->list_id;
        }
        uint64_t *v;
        size_t nv;
        int64_t out_of_list = 0;
        if (optout_set_decode(o->counted_set, o->counted_set_len, &v, &nv) != 0) {
            out_of_list = -1; /* unreadable record: reported, never passed */
        } else {
            for (size_t k = 0; k < nv; k++) {
                char nhs[16];
                snprintf(nhs, sizeof nhs, "%010llu", (unsigned long long)v[k]);
                out_of_list += !optout_set_has(&set, nhs);
            }
            if ((int64_t)nv != o->counted) /* the set must be the whole count */
                out_of_list += o->counted > (int64_t)nv ? o->counted - (int64_t)nv : 0;
            free(v);
        }
        buf_addf(csv, "%lld,", (long long)o->id);
        csv_field(csv, o->name ? o->name : "");
        buf_addf(csv, ",%s,", o->computed ? o->computed : "");
        csv_field(csv, o->by ? o->by : "");
        buf_addf(csv, ",%lld,%s,%s,%lld,%lld,%lld,", (long long)l.id, l.checked, l.expires,
                 (long long)l.count, (long long)o->counted, (long long)o->excluded);
        if (out_of_list < 0)
            buf_adds(csv, "unreadable\n");
        else
            buf_addf(csv, "%lld\n", (long long)out_of_list);
        if (outside)
            *outside += out_of_list < 0 ? 1 : out_of_list;
        store_optout_list_clear(&l);
    }
    optout_set_free(&set);
    store_analytics_outputs_free(outs, n);
    return rc;
}
