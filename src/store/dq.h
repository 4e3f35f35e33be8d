/*
 * dq.h - data quality: streamed scans of the current items and of the inbox
 * for src/dq/, and the runs, results and failing records it keeps.
 */
#ifndef WEFT_STORE_DQ_H
#define WEFT_STORE_DQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- data quality (src/dq/; store_dq.c, sqlite/sqlite_dq.c) ------------------------ */
/* One current item as the data-quality scan sees it; every pointer borrowed
 * for the callback only.  json is the stored text (without meta.versionId). */
struct store_dq_item {
    int64_t seq;
    const char *type, *id, *person_id, *source_org, *source_id, *feed;
    const char *effective, *code, *last_updated;
    const char *json;
    size_t json_len;
};
/* Every current, undeleted item in person order (person_id, type, effective;
 * items without a person first), streamed: one row in memory at a time.  fn
 * returning non-zero stops the scan and is returned.  Runs inside one read
 * transaction, so it sees one snapshot. */
int store_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx);

/* One inbox message as the data-quality scan sees it (borrowed). */
struct store_dq_inbox {
    int64_t id;
    const char *org;  /* the feed's organisation; for a message that matched no feed,
                         that of another message on the same connection; NULL if none */
    const char *feed; /* feed name, NULL when unmatched */
    const char *kind, *arrived, *control_id, *msg_type, *event_time, *outcome, *error;
    const char *body; /* only for messages not applied (rejected, partial), else NULL */
    size_t body_len;
};
/* Every inbox message in arrival order (streamed); see store_dq_scan. */
int store_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *),
                        void *ctx);

/* A run of the data-quality checks. */
struct store_dq_run {
    int64_t id;
    char *started, *finished; /* finished NULL while running or when it failed */
    char *org;                /* NULL: every organisation */
    char *as_of;              /* the day "future" is measured from (YYYY-MM-DD) */
    char *rules_sha256, *status;
};
void store_dq_run_clear(struct store_dq_run *r);
void store_dq_runs_free(struct store_dq_run *r, int n);
int store_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out);
int store_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status);
/* Finished runs that covered org (runs of every organisation and runs of
 * org alone; org NULL: all runs), newest first, at most limit (0: 100). */
int store_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out,
                      int *n);

/* One check's figures for one organisation in one run (borrowed on write;
 * on read valid for the callback). */
struct store_dq_result {
    int64_t run_id;
    const char *org, *check, *dimension;
    int64_t tested, failed;
    double threshold;  /* pass rate the check must reach (0..1) */
    const char *extra; /* JSON object text with check-specific figures, or NULL */
};
int store_dq_result_add(struct store *s, const struct store_dq_result *r);
/* Results of run_id for org (NULL: every organisation), by org and check. */
int store_dq_result_list(struct store *s, int64_t run_id, const char *org,
                         int (*fn)(const struct store_dq_result *, void *), void *ctx);

/* One failing record (borrowed; empty strings where not applicable). */
struct store_dq_failure {
    int64_t run_id;
    const char *org, *check, *dimension, *resource_type, *source_id, *patient_local_id,
        *message_control_id, *detail;
};
int store_dq_failure_add(struct store *s, const struct store_dq_failure *f);
/* Failures of run_id for org (NULL: all), in the order they were found. */
int store_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                          int (*fn)(const struct store_dq_failure *, void *), void *ctx);

#endif
