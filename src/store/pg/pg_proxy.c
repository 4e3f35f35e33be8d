/*
 * pg_proxy.c - proxy access grants for PostgreSQL (the model:
 * sqlite_proxy.c; contracts: store/proxy.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

#define GRANT_COLS                                                                                 \
    "id, proxy_person_id, proxy_nhs, person_id, nhs, name, scope, basis, reason, until, created,"  \
    " created_by, revoked, revoked_by, revoked_reason"

static void grant_fill(const PGresult *r, int i, struct store_proxy_grant *g)
{
    memset(g, 0, sizeof *g);
    g->id = pg_int(r, i, 0);
    char **f[] = {
        &g->proxy_person_id, &g->proxy_nhs, &g->person_id,  &g->nhs,           &g->name,
        &g->scope,           &g->basis,     &g->reason,     &g->until,         &g->created,
        &g->created_by,      &g->revoked,   &g->revoked_by, &g->revoked_reason};
    for (int k = 0; k < 14; k++)
        *f[k] = pg_strdup(r, i, k + 1);
}

int pg_proxy_grant_add(struct store *s, const struct store_proxy_grant *in, int64_t *id_out)
{
    struct pg_params p = {0};
    const char *v[] = {in->proxy_person_id, in->proxy_nhs, in->person_id, in->nhs,   in->name,
                       in->scope,           in->basis,     in->reason,    in->until, in->created,
                       in->created_by};
    for (int i = 0; i < 11; i++)
        pg_p_text(&p, v[i]);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "INSERT INTO proxy_grant (proxy_person_id, proxy_nhs, person_id, nhs,"
                         " name, scope, basis, reason, until, created, created_by) VALUES ($1,"
                         " $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    if (id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_proxy_grant_get(struct store *s, int64_t id, struct store_proxy_grant *out)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT " GRANT_COLS " FROM proxy_grant WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK
                      : store_fail(s, WEFT_ENOTFOUND, "no proxy grant %lld", (long long)id);
    if (rc == 0)
        grant_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_proxy_grant_list(struct store *s, const char *person_id, struct store_proxy_grant **out,
                        int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT " GRANT_COLS " FROM proxy_grant WHERE $1::text IS NULL OR"
                         " proxy_person_id = $1 OR person_id = $1 ORDER BY id",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        grant_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_proxy_grant_revoke(struct store *s, int64_t id, const char *time, const char *by,
                          const char *reason)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    pg_p_text(&p, time);
    pg_p_text(&p, by);
    pg_p_text(&p, reason);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE proxy_grant SET revoked = $2, revoked_by = $3, revoked_reason = $4"
                    " WHERE id = $1 AND revoked IS NULL",
                    &p, &n);
    if (rc || n > 0)
        return rc;
    struct store_proxy_grant g;
    if ((rc = pg_proxy_grant_get(s, id, &g)) != 0)
        return rc;
    store_proxy_grant_clear(&g);
    return store_fail(s, WEFT_ECONFLICT, "proxy grant %lld is revoked already", (long long)id);
}
