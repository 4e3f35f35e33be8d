/*
 * secondary_int.h - the secondary outputs' engine as the incremental refresh
 * (incr.c) uses it: an output's definition, its checked options, and the
 * counting context one output is counted into.  Only src/analytics/secondary.c
 * and incr.c include this; everyone else uses secondary.h.
 */
#ifndef WEFT_ANALYTICS_SECONDARY_INT_H
#define WEFT_ANALYTICS_SECONDARY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/secondary.h"

struct agg;
struct analytics_person;
struct efi_codes;
struct flow;
struct store;

/* An output: a classifier (population, frailty), the flow engine (flow.h:
 * neither classify nor agg_init), or aggregate tables (agg.h). */
struct output_def {
    const char *name, *title, *row_heading;
    const char *const *cols;
    int ncols;
    bool needs_efi; /* the eFI code sets are loaded for it */
    /* true and *row, *col when p is counted in this output */
    bool (*classify)(const struct analytics_person *p, const struct efi_codes *efi, int64_t as_of,
                     const char **row, int *col);
    /* an output counted into aggregate tables (agg.h) instead: made for the
     * window [from, to] (at: a minute, for a point in time), then each
     * cleared person added (true when they add to a figure) */
    void (*agg_init)(struct agg *a, int64_t from, int64_t to);
    bool (*agg_add)(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to,
                    int64_t at);
    enum { WIN_NONE, WIN_DAYS, WIN_MONTHS, WIN_AT } window;
};

/* ---- row labels: a small open-addressing map label -> row ---------------------- */
struct rows {
    char **keys;
    int *idx;
    size_t cap;
    char **labels; /* by row */
    int64_t **cells;
    int n;
};

/* An output's options checked: its definition, window and key (params). */
struct prep {
    const struct output_def *def;
    int64_t as_of, from, at;
    bool has_from;
    char params[64]; /* the window as stored results are keyed (secondary_window_params) */
};

/* One output being counted: its figures (the flow's, aggregate tables, or
 * classified rows) and the NHS numbers of the persons it counted. */
struct run_ctx {
    const struct output_def *def;
    struct flow *flow; /* the flow output's figures, else NULL */
    struct agg *agg;   /* an aggregate-table output's, else NULL */
    int64_t from, to, at;
    const struct efi_codes *efi;
    int64_t as_of;
    struct rows rows;
    uint64_t *counted;
    size_t ncounted, cap;
};

/* The row of label k (made with ncols zero cells when new). */
int secondary_rows_get(struct rows *r, const char *k, int ncols);
void secondary_rows_free(struct rows *r);

/* Check an output's options (as secondary_run does). */
int secondary_prepare(const struct secondary_options *o, struct prep *pr, char *err, size_t errlen);
/* An empty counting context for pr's output and window; efi borrowed. */
void secondary_ctx_init(struct run_ctx *c, const struct prep *pr, const struct efi_codes *efi);
void secondary_ctx_free(struct run_ctx *c);
/* Count a cleared person into c (appending the NHS number to c->counted
 * when counted). */
void secondary_count_person(struct run_ctx *c, const struct analytics_person *p);
/* The counted output as a table (out), recorded for the compliance report
 * with c->counted (sorted here) and excluded.  Takes c's flow or agg. */
int secondary_finish(struct store *s, const struct secondary_options *o, const struct prep *pr,
                     struct run_ctx *c, int64_t excluded, const struct optout_gate *gate,
                     struct secondary_table *out, char *err, size_t errlen);

#endif
