/*
 * pg_meta.c - settings (meta) and API clients for PostgreSQL (only token
 * hashes are kept).  Each operation is one statement in its own implicit
 * transaction, or part of the caller's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

int pg_meta_get(struct store *s, const char *key, char **value_out)
{
    struct pg_store *ps = pg_of(s);
    *value_out = NULL;
    struct pg_params p = {0};
    pg_p_text(&p, key);
    int rc;
    PGresult *r = pg_run(ps, "SELECT value FROM meta WHERE key = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        *value_out = pg_strdup(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg_meta_set(struct store *s, const char *key, const char *value)
{
    struct pg_params p = {0};
    pg_p_text(&p, key);
    pg_p_text(&p, value);
    return pg_cmd(pg_of(s),
                  "INSERT INTO meta (key, value) VALUES ($1, $2)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                  &p, NULL);
}

int pg_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                  const char *token_hash, const char *cert_sha256, int64_t *id_out)
{
    struct pg_store *ps = pg_of(s);
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, name);
    pg_p_text(&p, org);
    pg_p_text(&p, scopes);
    pg_p_text(&p, token_hash);
    pg_p_text(&p, now);
    pg_p_text(&p, cert_sha256);
    int rc;
    PGresult *r = pg_run(ps,
                         "INSERT INTO client (name, org, scopes, token_hash, created,"
                         " client_cert_sha256)"
                         " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_hash) DO NOTHING"
                         " RETURNING id",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK
                      : store_fail(s, WEFT_EEXIST, "a client with this token already exists");
    if (rc == 0 && id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

static void client_fill(const PGresult *r, int i, struct store_client *c)
{
    memset(c, 0, sizeof *c);
    c->id = pg_int(r, i, 0);
    c->name = pg_strdup(r, i, 1);
    c->org = pg_strdup(r, i, 2);
    c->scopes = pg_strdup(r, i, 3);
    c->created = pg_strdup(r, i, 4);
    c->revoked = pg_strdup(r, i, 5);
    c->client_cert_sha256 = pg_strdup(r, i, 6);
    c->purpose = pg_strdup(r, i, 7);
}

int pg_client_by_hash(struct store *s, const char *token_hash, struct store_client *out)
{
    memset(out, 0, sizeof *out);
    struct pg_params p = {0};
    pg_p_text(&p, token_hash);
    int rc;
    PGresult *r =
        pg_run(pg_of(s),
               "SELECT id, name, org, scopes, created, revoked, client_cert_sha256, purpose"
               " FROM client"
               " WHERE token_hash = $1 AND revoked IS NULL",
               &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        client_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_client_list(struct store *s, struct store_client **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r =
        pg_run(pg_of(s),
               "SELECT id, name, org, scopes, created, revoked, client_cert_sha256, purpose"
               " FROM client ORDER BY id",
               NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows > 0) {
        *out = xcalloc((size_t)rows, sizeof **out);
        for (int i = 0; i < rows; i++)
            client_fill(r, i, &(*out)[i]);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_client_revoke(struct store *s, int64_t id)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_int(&p, id);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s), "UPDATE client SET revoked = $1 WHERE id = $2 AND revoked IS NULL",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no active client with id %lld", (long long)id);
    return rc;
}

int pg_client_set_purpose(struct store *s, int64_t id, const char *purpose)
{
    struct pg_params p = {0};
    pg_p_text(&p, purpose);
    pg_p_int(&p, id);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s), "UPDATE client SET purpose = $1 WHERE id = $2", &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no client with id %lld", (long long)id);
    return rc;
}
