/*
 * incr.h - the secondary outputs kept up to date incrementally (issue 18:
 * "an incremental update after 10,000 new feed messages in under 5 s").
 *
 * Every secondary output is a sum over persons: each cleared person adds to
 * some cells (a classified row and column, aggregate-table cells, a flow
 * row's days and lengths of stay), and the figures shown are those sums
 * after small-number suppression.  So the refresh keeps, besides the shown
 * figures:
 *   - the state (store_analytics_state_*): per output and window the raw,
 *     unsuppressed sums, as a dictionary of cells (key text -> value):
 *     "this row is there" counts, cell values, and for the flow the number
 *     of stays of each length in days (so medians of length of stay are
 *     exact: the multiset of lengths is kept, not a sum); for inpatients at
 *     a time, the stays themselves (admission and discharge minutes), since
 *     "now" moves; the NHS numbers each output counted (the compliance
 *     report's set); and the marks of the record it has seen;
 *   - each person's contribution (store_analytics_contrib_*): the cells that
 *     person added, as (cell, value) pairs, and their NHS number.
 * An update reads only the persons changed since the marks
 * (store_analytics_changed: new resource versions, their predecessors'
 * persons, persons whose items were moved in place), subtracts their stored
 * contributions, computes and adds their new ones (a person now without
 * items, or no longer cleared, adds nothing or only "not cleared"), then
 * rebuilds each output from the state and suppresses it exactly as a full
 * computation does (secondary_finish): the CSV is the same byte for byte.
 *
 * A full computation (every person read, the state and every contribution
 * rewritten) is made instead when there is no state, or the state is not for
 * this opt-out list (a new list loaded: never count someone the list in force
 * does not clear), these eFI code sets, this version of the engine, or
 * exactly these outputs and windows (a new day moves the default windows; a
 * page asking for a new window adds one).  An expired list refuses both
 * (optout_gate), as every secondary output does.
 */
#ifndef WEFT_ANALYTICS_INCR_H
#define WEFT_ANALYTICS_INCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secondary_options;
struct secondary_table;
struct store;

struct incr_stats {
    bool incremental;    /* false: a full computation */
    char why_full[96];   /* why it was full */
    int64_t persons;     /* the persons changed (incremental), or everyone read (full) */
    int64_t contributed; /* contributions stored */
};

/* Called inside the transaction that stores the state, with the outputs
 * computed (out[0..n-1], o's order): store them too (all or nothing). */
typedef int (*incr_store_fn)(struct store *s, const struct secondary_table *out, int n, void *ctx,
                             char *err, size_t errlen);

/*
 * With risk_day >= 0 (a day number) the same persons' direct-care risk list
 * rows (risklist.h: every living registered person, cleared or not: direct
 * care) are computed for that day and stored too (analytics_risk: all of
 * them after a full computation, the changed persons' after an update), so
 * that the risk list page reads its practice's rows instead of computing
 * them; risk_day < 0 removes any stored (they would be for other code sets).
 *
 * Compute the outputs o[0..n-1] (today, by and efi_codes are o[0]'s), as
 * secondary_run_many would, incrementally when the state allows it (above)
 * and full is false, else in full; record each for the compliance report,
 * store the state and contributions, and call store_fn, in one transaction.
 * out[i] is o[i]'s.  WEFT_EDENIED with err when the opt-out gate refuses;
 * WEFT_EBUSY when another refresh stored its state meanwhile (nothing is
 * stored: try again).
 */
int incr_run(struct store *s, const struct secondary_options *o, int n, bool full, int64_t risk_day,
             struct secondary_table *out, struct incr_stats *stats, incr_store_fn store_fn,
             void *store_ctx, char *err, size_t errlen);

#endif
