/*
 * store_bulk.c - dispatchers for FHIR Bulk Data export jobs (store/bulk.h)
 * and the release functions of their struct.  SQLite: sqlite/sqlite_bulk.c;
 * PostgreSQL: pg/pg_bulk.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_bulk_job_clear(struct store_bulk_job *j)
{
    char **f[] = {
        &j->id,       &j->client_name, &j->org,      &j->purpose, &j->kind,    &j->group_id,
        &j->types,    &j->since,       &j->request,  &j->status,  &j->created, &j->transaction_time,
        &j->finished, &j->expires,     &j->progress, &j->output,  &j->error};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(j, 0, sizeof *j);
}

void store_bulk_jobs_free(struct store_bulk_job *j, int n)
{
    for (int i = 0; i < n; i++)
        store_bulk_job_clear(&j[i]);
    free(j);
}

int store_bulk_job_add(struct store *s, const struct store_bulk_job *in)
{
    return STORE_CALL(s, bulk_export, job_add, in);
}

int store_bulk_job_get(struct store *s, const char *id, struct store_bulk_job *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, bulk_export, job_get, id, out);
}

int store_bulk_job_update(struct store *s, const struct store_bulk_job *in)
{
    return STORE_CALL(s, bulk_export, job_update, in);
}

int store_bulk_job_list(struct store *s, const char *status, struct store_bulk_job **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, bulk_export, job_list, status, out, n);
}
