/*
 * sqlite_dq.h - SQLite implementations of the data-quality store operations
 * (sqlite_dq.c): the streamed scans the checks read and the tables that keep
 * every run's results and failing records.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_DQ_H
#define WEFT_STORE_SQLITE_SQLITE_DQ_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_dq_1;

int sqlite_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx);
int sqlite_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *),
                         void *ctx);
int sqlite_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out);
int sqlite_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status);
int sqlite_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out,
                       int *n);
int sqlite_dq_result_add(struct store *s, const struct store_dq_result *r);
int sqlite_dq_result_list(struct store *s, int64_t run_id, const char *org,
                          int (*fn)(const struct store_dq_result *, void *), void *ctx);
int sqlite_dq_failure_add(struct store *s, const struct store_dq_failure *f);
int sqlite_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                           int (*fn)(const struct store_dq_failure *, void *), void *ctx);

#endif
