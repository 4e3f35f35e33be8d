/*
 * refresh.c - stored figures: the refresh and the pages' read (refresh.h).
 */
#include "analytics/refresh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/day.h"
#include "analytics/incr.h"
#include "analytics/secondary.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/analytics.h"
#include "store/store.h"
#include "store/txn.h"

void analytics_view_free(struct analytics_view *v)
{
    free(v->csv);
    memset(v, 0, sizeof *v);
}

static int store_table(struct store *s, const char *params, const struct secondary_table *t,
                       char **csv_out, char *err, size_t errlen)
{
    struct buf csv = BUF_INIT;
    secondary_table_csv(t, &csv);
    struct store_analytics_result r = {.name = t->name,
                                       .params = (char *)params,
                                       .at = t->at[0] ? (char *)t->at : NULL,
                                       .computed = (char *)t->computed,
                                       .output_id = t->output_id,
                                       .list_id = t->gate.list_id,
                                       .counted = t->counted,
                                       .excluded = t->excluded,
                                       .csv = csv.data ? csv.data : ""};
    int rc = store_analytics_result_put(s, &r);
    if (rc) {
        snprintf(err, errlen, "storing the figures: %s", store_errmsg(s));
        buf_release(&csv);
        return rc;
    }
    if (csv_out)
        *csv_out = buf_detach(&csv, NULL);
    else
        buf_release(&csv);
    return 0;
}

int analytics_view_get(struct store *s, const struct secondary_options *o, struct analytics_view *v,
                       char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    err[0] = '\0';
    int rc = secondary_window_params(o, v->params, err, errlen);
    if (rc)
        return rc;
    /* the gate first: an expired list refuses whatever is stored */
    if ((rc = optout_gate(s, o->today, &v->gate, err, errlen)) != 0)
        return rc;
    struct store_analytics_result r;
    rc = store_analytics_result_get(s, o->output, v->params, &r);
    if (rc && rc != WEFT_ENOTFOUND) {
        snprintf(err, errlen, "reading the stored figures: %s", store_errmsg(s));
        return rc;
    }
    if (rc == 0 && r.list_id == v->gate.list_id && r.csv) {
        v->csv = r.csv;
        r.csv = NULL;
        snprintf(v->computed, sizeof v->computed, "%s", r.computed ? r.computed : "");
        snprintf(v->at, sizeof v->at, "%s", r.at ? r.at : "");
        v->output_id = r.output_id;
        v->counted = r.counted;
        v->excluded = r.excluded;
        v->stored = true;
        store_analytics_result_clear(&r);
        return 0;
    }
    if (rc == 0)
        store_analytics_result_clear(&r);
    /* none stored for this window and list: computed now, kept for the next view */
    struct secondary_table t;
    if ((rc = secondary_run(s, o, &t, err, errlen)) != 0)
        return rc;
    rc = store_table(s, v->params, &t, &v->csv, err, errlen);
    if (rc == 0) {
        snprintf(v->computed, sizeof v->computed, "%s", t.computed);
        snprintf(v->at, sizeof v->at, "%s", t.at);
        v->output_id = t.output_id;
        v->counted = t.counted;
        v->excluded = t.excluded;
        v->gate = t.gate;
    }
    secondary_table_free(&t);
    return rc;
}

/* One output and window to compute: its options and the strings they point at. */
struct job {
    struct secondary_options so;
    char name[32], as_of[24], from[11];
    char params[64];
};

static bool parse_params(const char *name, const char *params, struct job *j)
{
    memset(j, 0, sizeof *j);
    if (snprintf(j->name, sizeof j->name, "%s", name) >= (int)sizeof j->name)
        return false;
    j->so.output = j->name;
    if (!strcmp(params, "at=now"))
        return true;
    if (!strncmp(params, "at=", 3) && strlen(params + 3) < sizeof j->as_of) {
        snprintf(j->as_of, sizeof j->as_of, "%s", params + 3);
        j->so.as_of = j->as_of;
        return true;
    }
    if (!strncmp(params, "as-of=", 6) && strlen(params + 6) == 10) {
        snprintf(j->as_of, sizeof j->as_of, "%s", params + 6);
        j->so.as_of = j->as_of;
        return true;
    }
    if (!strncmp(params, "from=", 5) && strlen(params) == 5 + 10 + 7 + 10 &&
        !strncmp(params + 15, " as-of=", 7)) {
        snprintf(j->from, sizeof j->from, "%.10s", params + 5);
        snprintf(j->as_of, sizeof j->as_of, "%s", params + 22);
        j->so.from = j->from;
        j->so.as_of = j->as_of;
        return true;
    }
    return false;
}

/* incr_run's store step: each output's figures, in its transaction. */
static int store_tables(struct store *s, const struct secondary_table *t, int n, void *ctx,
                        char *err, size_t errlen)
{
    const struct job *jobs = ctx;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = store_table(s, jobs[i].params, &t[i], NULL, err, errlen);
    return rc;
}

int analytics_refresh(struct store *s, const struct analytics_refresh_options *o,
                      struct store_analytics_result **done, int *n, struct incr_stats *stats,
                      char *err, size_t errlen)
{
    *done = NULL;
    *n = 0;
    err[0] = '\0';
    struct store_analytics_result *keys = NULL;
    int nkeys = 0;
    int rc = store_analytics_result_keys(s, &keys, &nkeys);
    if (rc) {
        snprintf(err, errlen, "reading the stored figures: %s", store_errmsg(s));
        return rc;
    }
    const char *const *names = secondary_outputs();
    int nnames = 0;
    while (names[nnames])
        nnames++;
    int cap = nnames + nkeys, nj = 0;
    struct job *jobs = xcalloc((size_t)(cap ? cap : 1), sizeof *jobs);
    /* every output's default window */
    for (int i = 0; i < nnames && rc == 0; i++) {
        struct job *j = &jobs[nj];
        snprintf(j->name, sizeof j->name, "%s", names[i]);
        j->so.output = j->name;
        if (o->as_of) {
            snprintf(j->as_of, sizeof j->as_of, "%s", o->as_of);
            j->so.as_of = j->as_of;
        }
        rc = secondary_window_params(&j->so, j->params, err, errlen);
        nj++;
    }
    /* and every window stored, once */
    for (int i = 0; i < nkeys && rc == 0; i++) {
        struct job *j = &jobs[nj];
        char e2[256];
        if (!parse_params(keys[i].name, keys[i].params, j) ||
            secondary_window_params(&j->so, j->params, e2, sizeof e2) != 0)
            continue; /* not a window this version computes: left as it is */
        bool dup = false;
        for (int k = 0; k < nj && !dup; k++)
            dup = !strcmp(jobs[k].name, j->name) && !strcmp(jobs[k].params, j->params);
        if (!dup)
            nj++;
    }
    store_analytics_results_free(keys, nkeys);
    if (rc) {
        free(jobs);
        return rc;
    }
    struct secondary_options *so = xcalloc((size_t)nj, sizeof *so);
    for (int i = 0; i < nj; i++) {
        so[i] = jobs[i].so;
        so[i].today = o->today;
        so[i].by = o->by;
        so[i].efi_codes = o->efi_codes;
    }
    struct secondary_table *t = xcalloc((size_t)nj, sizeof *t);
    /* computed (incrementally when it can be) and stored, all or nothing */
    /* the direct-care risk lists of the refresh's day, with the default code sets
     * (what the page uses) */
    int64_t risk_day = day_today();
    if (o->as_of)
        day_parse(o->as_of, &risk_day);
    if (o->efi_codes)
        risk_day = -1;
    rc = incr_run(s, so, nj, o->full, risk_day, t, stats, store_tables, jobs, err, errlen);
    if (rc == 0) {
        *done = xcalloc((size_t)nj, sizeof **done);
        for (int i = 0; i < nj; i++) {
            struct store_analytics_result *d = &(*done)[i];
            d->name = xstrdup(jobs[i].name);
            d->params = xstrdup(jobs[i].params);
            d->at = t[i].at[0] ? xstrdup(t[i].at) : NULL;
            d->computed = xstrdup(t[i].computed);
            d->output_id = t[i].output_id;
            d->list_id = t[i].gate.list_id;
            d->counted = t[i].counted;
            d->excluded = t[i].excluded;
        }
        *n = nj;
    }
    for (int i = 0; i < nj; i++)
        secondary_table_free(&t[i]);
    free(t);
    free(so);
    free(jobs);
    return rc;
}
