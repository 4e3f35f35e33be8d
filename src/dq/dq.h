/*
 * dq.h - the data-quality engine: runs the checks of a rules file (rules.h)
 * over the whole store, per organisation, and keeps the run's results and
 * every failing record with the source's own identifiers (store_dq_*).
 *
 * One pass over the current items in person order (store_dq_scan) and one
 * over the inbox (store_dq_inbox_scan).  Memory is one person's record plus
 * fixed-size counters per organisation and per feed: it does not grow with
 * the region.  Failures are written as they are found, through a second
 * store handle, in batches of DQ_COMMIT_EVERY.
 *
 * With an organisation given, only that organisation's records are checked
 * and counted, but every source's Patients are still read, because the
 * consistency checks compare a source with the others.
 */
#ifndef WEFT_DQ_DQ_H
#define WEFT_DQ_DQ_H

#include <stddef.h>
#include <stdint.h>

#include "dq/rules.h"

struct store;

#define DQ_COMMIT_EVERY 5000

struct dq_options {
    const char *org;              /* NULL: every organisation */
    const char *as_of;            /* YYYY-MM-DD "today" for future dates; NULL: today (UTC) */
    const struct dq_rules *rules; /* required */
};

struct dq_summary {
    int64_t run_id;
    int64_t items, patients, messages, failures;
    int orgs;
    double seconds;
};

/* Run the checks: rd is read (one snapshot), results go through wr (another
 * handle on the same store; it must not be in a transaction).  0, or a
 * negative error with a message in err (the run is then recorded as
 * failed when it got that far). */
int dq_run(struct store *rd, struct store *wr, const struct dq_options *o, struct dq_summary *out,
           char *err, size_t errlen);

/* ---- reports (report.c) ------------------------------------------------------- */
struct buf;

/* Per-dimension and overall scores of one run for org: 0..100, -1 when the
 * dimension had nothing tested.  dims[i] follows dq_dimensions[]. */
struct dq_scores {
    double dims[8];
    double overall;
};

/* The report of org's newest run (and the trend over its earlier runs, up
 * to trend runs) as CSV or JSON into out.  WEFT_ENOTFOUND when no finished
 * run covered org. */
int dq_report(struct store *s, const char *org, const char *format, int trend, struct buf *out,
              char *err, size_t errlen);
/* The failing records of org's newest run as CSV (header
 * check,dimension,resource_type,source_id,patient_local_id,message_control_id,detail). */
int dq_failures_csv(struct store *s, const char *org, int (*write)(const char *, size_t, void *),
                    void *ctx, char *err, size_t errlen);
/* Scores of run_id for org. */
int dq_scores_get(struct store *s, int64_t run_id, const char *org, struct dq_scores *sc);

/* Append s as one CSV field (quoted when it holds , " CR or LF). */
void dq_csv_field(struct buf *b, const char *s);

#endif
