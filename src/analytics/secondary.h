/*
 * secondary.h - secondary uses: aggregate outputs for planners and analysts.
 *
 * Every output here:
 *   - refuses to run unless a national data opt-out list is in force and has
 *     not expired (optout_gate), saying why;
 *   - counts only people whose NHS number is on that list (people without
 *     one cannot be checked and are not counted);
 *   - shows aggregates only, with no identifiers, after small-number
 *     suppression (suppress.h);
 *   - is recorded (store_analytics_output_add) with the list it used and the
 *     set of people it counted, so that the compliance report can show that
 *     nobody outside the list was counted.
 */
#ifndef WEFT_ANALYTICS_SECONDARY_H
#define WEFT_ANALYTICS_SECONDARY_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/optout.h"

struct buf;
struct store;

struct secondary_options {
    const char *output;    /* a name of secondary_outputs() */
    const char *as_of;     /* YYYY-MM-DD ages are measured at, the last day of a window;
                              inpatients: YYYY-MM-DD (its 23:59) or YYYY-MM-DDTHH:MM;
                              NULL: today (inpatients: now) */
    const char *today;     /* YYYY-MM-DD for the opt-out list's expiry; NULL: today */
    const char *by;        /* who asked (recorded) */
    const char *efi_codes; /* the eFI code sets file; NULL: efi_codes_load's default */
    const char *from;      /* flow, readmissions, ae: the window's first day; NULL: 27
                              days before as_of; service: NULL is the first day of the
                              month 11 months before as_of's */
};

struct agg;
struct flow;

/* A suppressed table, ready to show. */
struct secondary_table {
    char *name, *title, *row_heading;
    int rows, cols;
    char **row_labels, **col_labels;
    int64_t *shown; /* (rows + 1) * (cols + 1), suppress_table's layout */
    int64_t output_id, counted, excluded;
    struct flow *flow; /* the "flow" output: its figures (flow.h) instead of the cells */
    struct agg *agg;   /* readmissions, ae, inpatients, service: their tables (agg.h) */
    int64_t from, to;  /* the window the figures are for (day numbers) */
    char at[24];       /* inpatients: the time, YYYY-MM-DDTHH:MM */
    char computed[32];
    struct optout_gate gate;
};
void secondary_table_free(struct secondary_table *t);

/* The first day of an output's window when none is given: the first day of
 * the month 11 months before as_of's for "service", else 27 days before. */
int64_t secondary_window_from(const char *output, int64_t as_of);

/* The outputs' names, NULL-terminated. */
const char *const *secondary_outputs(void);

/* Compute an output.  WEFT_EDENIED with err when the opt-out gate refuses,
 * WEFT_EINVAL for an unknown output or bad date, or a store error. */
int secondary_run(struct store *s, const struct secondary_options *o, struct secondary_table *out,
                  char *err, size_t errlen);

/* The outputs o[0..n-1] computed in one scan of the record: each person
 * read once, the opt-out list applied once, then counted into every output
 * (each recorded for the compliance report as secondary_run records one).
 * today, by and efi_codes are o[0]'s.  out[i] is o[i]'s; on an error none is
 * kept (err says why: the first output refused, or the read). */
int secondary_run_many(struct store *s, const struct secondary_options *o, int n,
                       struct secondary_table *out, char *err, size_t errlen);

/* The window of an output's options as stored figures are keyed
 * (store_analytics_result.params): "from=D as-of=D", "as-of=D", "at=now"
 * (inpatients without --as-of) or "at=YYYY-MM-DDTHH:MM".  WEFT_EINVAL with
 * err as secondary_run would refuse the options. */
int secondary_window_params(const struct secondary_options *o, char params[64], char *err,
                            size_t errlen);

/* The table as CSV: a first column of row labels, a column per column label
 * and "total", a last row "total"; "*" for suppressed counts.  The "flow"
 * output has its own columns (flow_csv), the aggregate-table outputs theirs
 * (agg_csv). */
void secondary_table_csv(const struct secondary_table *t, struct buf *out);

/*
 * The compliance report as CSV, one row per secondary output produced:
 * output_id,output,computed,by,list_id,list_checked,list_expires,
 * list_count,counted,excluded,counted_outside_list
 * counted_outside_list is recomputed here: every NHS number the output
 * recorded as counted is looked up in the list it names again.  *outside
 * (may be NULL) gets the total over all outputs (0 when compliant).
 */
int secondary_compliance(struct store *s, struct buf *csv, int64_t *outside, char *err,
                         size_t errlen);

#endif
