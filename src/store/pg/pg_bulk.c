/*
 * pg_bulk.c - FHIR Bulk Data export jobs for PostgreSQL (the model:
 * sqlite_bulk.c; contracts: store/bulk.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

#define JOB_COLS                                                                                   \
    "id, client_name, org, purpose, kind, group_id, types, since, request, status, created,"       \
    " transaction_time, finished, expires, progress, output, error, client_id, count"

static void job_fill(const PGresult *r, int i, struct store_bulk_job *j)
{
    memset(j, 0, sizeof *j);
    char **f[] = {
        &j->id,       &j->client_name, &j->org,      &j->purpose, &j->kind,    &j->group_id,
        &j->types,    &j->since,       &j->request,  &j->status,  &j->created, &j->transaction_time,
        &j->finished, &j->expires,     &j->progress, &j->output,  &j->error};
    for (int k = 0; k < 17; k++)
        *f[k] = pg_strdup(r, i, k);
    j->client_id = pg_int(r, i, 17);
    j->count = pg_int(r, i, 18);
}

int pg_bulk_job_add(struct store *s, const struct store_bulk_job *in)
{
    struct pg_params p = {0};
    const char *v[] = {
        in->id,       in->client_name, in->org,      in->purpose, in->kind,    in->group_id,
        in->types,    in->since,       in->request,  in->status,  in->created, in->transaction_time,
        in->finished, in->expires,     in->progress, in->output,  in->error};
    for (int i = 0; i < 17; i++)
        pg_p_text(&p, v[i]);
    pg_p_int(&p, in->client_id);
    pg_p_int(&p, in->count);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "INSERT INTO bulk_job (" JOB_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                    " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                    " ON CONFLICT (id) DO NOTHING",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_EEXIST, "an export job with this id already exists");
    return rc;
}

int pg_bulk_job_get(struct store *s, const char *id, struct store_bulk_job *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, id);
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT " JOB_COLS " FROM bulk_job WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : store_fail(s, WEFT_ENOTFOUND, "no export job with this id");
    if (rc == 0)
        job_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_bulk_job_update(struct store *s, const struct store_bulk_job *in)
{
    struct pg_params p = {0};
    const char *v[] = {in->status,   in->transaction_time, in->finished, in->expires,
                       in->progress, in->output,           in->error};
    for (int i = 0; i < 7; i++)
        pg_p_text(&p, v[i]);
    pg_p_int(&p, in->count);
    pg_p_text(&p, in->id);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE bulk_job SET status = $1, transaction_time = $2, finished = $3,"
                    " expires = $4, progress = $5, output = $6, error = $7, count = $8"
                    " WHERE id = $9",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no export job with this id");
    return rc;
}

int pg_bulk_job_list(struct store *s, const char *status, struct store_bulk_job **out, int *n)
{
    struct pg_params p = {0};
    pg_p_text(&p, status);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT " JOB_COLS " FROM bulk_job WHERE $1::text IS NULL OR"
                         " status = $1 ORDER BY created, id",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows > 0) {
        *out = xcalloc((size_t)rows, sizeof **out);
        for (int i = 0; i < rows; i++)
            job_fill(r, i, &(*out)[i]);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}
