/*
 * analytics_agg.h - the pages' view of an aggregate-table output
 * (analytics/agg.h): each measure as an accessible table, exactly the text of
 * the output's CSV (agg_emit), and the figures for charts.  Used by the
 * patient flow page (readmissions, A&E, inpatients) and the service page.
 */
#ifndef WEFT_WEB_ANALYTICS_AGG_H
#define WEFT_WEB_ANALYTICS_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

struct http_req;
struct principal;
struct store;

/* The figures of an output, as agg_emit gives them. */
struct agg_fig {
    char *measure, *k1, *k2, *period, *value;
};
struct agg_figs {
    struct agg_fig *v;
    int n, cap, nkeys;
    char *key_names[2];
};
/* The figures of an output's CSV as agg_csv writes it (the stored figures,
 * analytics/refresh.h): the header names the keys. */
void agg_figs_parse(const char *csv, struct agg_figs *f);
void agg_figs_free(struct agg_figs *f);
/* Each line of a CSV (quoted fields as the outputs write them), the header
 * first, to fn: nf fields (borrowed for the call). */
void analytics_csv_each(const char *csv, void (*fn)(void *arg, int nf, char **f), void *arg);

/* The value of (measure, k1[, k2], period), or NULL. */
const char *agg_figs_get(const struct agg_figs *f, const char *measure, const char *k1,
                         const char *k2, const char *period);

/* Measure as a table (id prefix-measure, data-measure): a row per key (the
 * first a row header), a column per period in the CSV's order; nothing when
 * the output has no such measure. */
void agg_figs_table(struct buf *b, const struct agg_figs *f, const char *measure,
                    const char *caption, const char *prefix);

/* The form choosing a window of days (first and last day, at most
 * FLOW_MAX_DAYS), GET to action; with error, an error summary and the inputs
 * marked invalid. */
void analytics_window_form(struct buf *b, const char *action, const char *from, const char *as_of,
                           const char *error);

/* A page's window arguments, from and as-of, as asked: NULL when absent or
 * empty (the output's default). */
void analytics_window_args(struct http_req *req, const char **from_arg, const char **as_of_arg);

/* The window of a page's query (from, as-of: NULL for the output's
 * defaults, secondary_window_from): NULL when valid, else the error to show
 * (in msg or static). */
const char *analytics_window_parse(const char *from_arg, const char *as_of_arg, const char *output,
                                   int64_t *from, int64_t *as_of, char msg[160]);

/* The value as a chart height: NAN for "*" or empty. */
double agg_figs_value(const char *v);

/* The start every analytics page shares: a staff session (else the answer
 * web_admin_user gives), the store (else 503), the decision allow
 * (authz_secondary_use or authz_risk_list; else 403 naming who the page is
 * for: for_whom) and ?format (none or csv; else 400).  The store with *csv
 * set, or NULL when the page has been answered. */
struct store *analytics_page_begin(struct http_req *req,
                                   int (*allow)(struct store *s, const struct principal *p,
                                                const char **reason),
                                   const char *for_whom, bool *csv);
#endif
