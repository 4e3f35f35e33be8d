/*
 * store_dq.c - dispatchers for the data-quality store operations (src/dq/)
 * and the release functions of their structs.  The SQLite implementations
 * are in sqlite/sqlite_dq.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_dq_run_clear(struct store_dq_run *r)
{
    free(r->started);
    free(r->finished);
    free(r->org);
    free(r->as_of);
    free(r->rules_sha256);
    free(r->status);
    memset(r, 0, sizeof *r);
}

void store_dq_runs_free(struct store_dq_run *r, int n)
{
    for (int i = 0; i < n; i++)
        store_dq_run_clear(&r[i]);
    free(r);
}

int store_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx)
{
    return STORE_CALL(s, dq, dq_scan, fn, ctx);
}

int store_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *),
                        void *ctx)
{
    return STORE_CALL(s, dq, dq_inbox_scan, fn, ctx);
}

int store_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out)
{
    return STORE_CALL(s, dq, dq_run_add, in, id_out);
}

int store_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status)
{
    return STORE_CALL(s, dq, dq_run_finish, id, finished, status);
}

int store_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out,
                      int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, dq, dq_run_list, org, limit, out, n);
}

int store_dq_result_add(struct store *s, const struct store_dq_result *r)
{
    return STORE_CALL(s, dq, dq_result_add, r);
}

int store_dq_result_list(struct store *s, int64_t run_id, const char *org,
                         int (*fn)(const struct store_dq_result *, void *), void *ctx)
{
    return STORE_CALL(s, dq, dq_result_list, run_id, org, fn, ctx);
}

int store_dq_failure_add(struct store *s, const struct store_dq_failure *f)
{
    return STORE_CALL(s, dq, dq_failure_add, f);
}

int store_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                          int (*fn)(const struct store_dq_failure *, void *), void *ctx)
{
    return STORE_CALL(s, dq, dq_failure_list, run_id, org, fn, ctx);
}
