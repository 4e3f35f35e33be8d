/*
 * refresh.h - stored figures of the secondary outputs (issue 18's "analytics
 * pages under 100 ms"): the refresh that computes them and the read the pages
 * make instead of computing on each view.
 *
 * `weft analytics refresh` computes every secondary output for its default
 * window (as of today, or --as-of), and again every window already stored
 * (a window a page asked for), all in one scan of the record
 * (secondary_run_many), records each output for the compliance report as any
 * secondary output is, and stores each output's CSV (table analytics_result,
 * store_analytics_result_put), replacing what was stored for that output and
 * window.
 *
 * A page asks analytics_view_get: the opt-out gate first (no list in force,
 * or an expired one: refused, whatever is stored), then the stored figures of
 * its output and window if they were computed with the list in force;
 * otherwise (none stored, or a newer list loaded since: figures that may
 * count someone no longer cleared are never shown) the output is computed for
 * this view and stored for the next.  The figures carry the time they were
 * computed, which the pages show.
 */
#ifndef WEFT_ANALYTICS_REFRESH_H
#define WEFT_ANALYTICS_REFRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/optout.h"

struct store;
struct secondary_options;
struct store_analytics_result;

/* Figures to show: an output's CSV for a window. */
struct analytics_view {
    char *csv;
    char params[64];
    char computed[32]; /* when the figures were computed (ISO 8601 UTC) */
    char at[24];       /* inpatients: the minute they are for */
    int64_t output_id, counted, excluded;
    struct optout_gate gate; /* the list in force (the one the figures used) */
    bool stored;             /* read from the store, not computed for this view */
};
void analytics_view_free(struct analytics_view *v);

/* The figures of output o->output for o's window, as above.  WEFT_EDENIED
 * with err when the opt-out gate refuses, WEFT_EINVAL for bad options, or a
 * store error. */
int analytics_view_get(struct store *s, const struct secondary_options *o, struct analytics_view *v,
                       char *err, size_t errlen);

struct analytics_refresh_options {
    const char *as_of;     /* YYYY-MM-DD; NULL: today (inpatients: now) */
    const char *today;     /* for the opt-out list's expiry; NULL: today */
    const char *by;        /* who asked (recorded) */
    const char *efi_codes; /* NULL: the default */
    bool full;             /* every person read again, even when an update would do */
};

/* Compute and store every output's default window and every stored window:
 * an update from the persons changed since the last refresh when it can be
 * (analytics/incr.h), else (or with o->full) one scan of everyone.  *done (n
 * of them: name, params, at, computed, output_id, counted, excluded; no csv)
 * says what was stored; release with store_analytics_results_free; *stats
 * (may be NULL) says which it was and how many persons were read.
 * WEFT_EDENIED with err when the opt-out gate refuses (nothing is stored);
 * WEFT_EBUSY when another refresh stored meanwhile (nothing is stored). */
struct incr_stats;
int analytics_refresh(struct store *s, const struct analytics_refresh_options *o,
                      struct store_analytics_result **done, int *n, struct incr_stats *stats,
                      char *err, size_t errlen);

#endif
