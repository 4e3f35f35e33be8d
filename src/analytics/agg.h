/*
 * agg.h - aggregate tables for the secondary outputs that count events by
 * one or two labels (a site, a site and ward, an organisation and service)
 * and a period (a day, a month, a band): readmissions, ae, inpatients
 * (flow.h) and service (service.h).
 *
 * Each table is one measure: rows keyed by their labels, columns named when
 * the table is made; it is suppressed as one table with its totals
 * (suppress.h) when written.  A ratio is a derived measure, per row and
 * column, computed from the figures as shown (after suppression) of two of
 * its tables, so that it reveals nothing the shown counts do not.
 *
 * Written in long form, one figure per line:
 *   measure,KEY1[,KEY2],period,value
 * tables in the order made, rows in label order then "total" (the column
 * totals), each row's periods in column order then "total" (the row total;
 * left out for a table made with no row total, e.g. a caseload, where a sum
 * over months means nothing).
 */
#ifndef WEFT_ANALYTICS_AGG_H
#define WEFT_ANALYTICS_AGG_H

#include <stdbool.h>
#include <stdint.h>

struct buf;

struct agg_table;

struct agg {
    const char *keys[2]; /* the key columns' names, e.g. "site", "ward" */
    int nkeys;           /* 1 or 2 */
    struct agg_table **t;
    int nt;
    struct agg_ratio *ratio;
    int nratio;
};

void agg_init(struct agg *a, const char *key1, const char *key2 /* NULL: one key */);
void agg_free(struct agg *a);

/* A new table (measure) with ncols columns named labels[] (copied); its
 * index for agg_add.  row_total: write each row's total column. */
int agg_table(struct agg *a, const char *measure, const char *const *labels, int ncols,
              bool row_total);
/* Add n to cell (row keyed k1[, k2], column col) of table t; the row is
 * made on first use. */
void agg_add(struct agg *a, int t, const char *k1, const char *k2, int col, int64_t n);
/* Make the row (with zeros) if it is not there: a row shown although it
 * counted nothing (a site with discharges but no readmissions). */
void agg_touch(struct agg *a, int t, const char *k1, const char *k2);
/* Every row of every table, raw (before suppression): fn once per row with
 * col -1 and v 0 (the row is there), then once per cell that is not 0
 * (analytics/incr.c keeps a person's part of the figures this way). */
typedef void (*agg_cell_fn)(void *arg, int t, const char *k1, const char *k2, int col, int64_t v);
void agg_each(const struct agg *a, agg_cell_fn fn, void *arg);
/* Remove every row of every table; the tables and ratios stay. */
void agg_clear(struct agg *a);
/* The raw count of a cell (tests); 0 when the row does not exist. */
int64_t agg_get(const struct agg *a, int t, const char *k1, const char *k2, int col);
/* A derived measure: 100 * num / den per row of den and column (and the
 * totals), from the shown figures, one decimal; "*" when either is
 * withheld, "" when den shows 0.  Written after table den. */
void agg_ratio(struct agg *a, const char *measure, int num, int den);

/* One figure: keys[nkeys] then period and value, as text. */
typedef void (*agg_figure_fn)(void *arg, const char *measure, const char *const *keys,
                              const char *period, const char *value);
void agg_emit(const struct agg *a, agg_figure_fn fn, void *arg);
/* The header line and every figure, as CSV. */
void agg_csv(const struct agg *a, struct buf *out);

/* Month labels (YYYY-MM) of the calendar months meeting days [from, to], at
 * most 13 for a window of up to 366 days; fills out[][8], returns the count.
 * agg_month_index gives the column of a day in that list (-1 outside). */
int agg_months(int64_t from, int64_t to, char out[][8], int max);
int agg_month_index(int64_t from, int64_t day);
/* The last day of the month of column col of a window starting on from. */
int64_t agg_month_last(int64_t from, int col);

#endif
