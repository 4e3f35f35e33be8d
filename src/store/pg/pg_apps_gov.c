/*
 * pg_apps_gov.c - SMART apps, the governance console's tables (break-glass
 * reviews, policy versions) and the sign-in role lookup, for PostgreSQL
 * (the models: sqlite_app.c, sqlite_gov.c, sqlite_citizen.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

/* ---- SMART apps --------------------------------------------------------------------- */

int pg_app_add(struct store *s, const struct store_app *in)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, in->client_id);
    pg_p_text(&p, in->name);
    pg_p_text(&p, in->redirect_uris);
    pg_p_text(&p, in->scopes);
    pg_p_text(&p, now);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "INSERT INTO smart_app (client_id, name, redirect_uris, scopes, created)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_EEXIST, "an app with client id '%s' is already registered",
                          in->client_id);
    return rc;
}

static void app_fill(const PGresult *r, int i, struct store_app *a)
{
    memset(a, 0, sizeof *a);
    char **const f[] = {&a->client_id, &a->name,    &a->redirect_uris,
                        &a->scopes,    &a->created, &a->revoked};
    for (int k = 0; k < 6; k++)
        *f[k] = pg_strdup(r, i, k);
}

int pg_app_get(struct store *s, const char *client_id, struct store_app *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, client_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT client_id, name, redirect_uris, scopes, created, revoked"
                         " FROM smart_app WHERE client_id = $1",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        app_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_app_list(struct store *s, struct store_app **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT client_id, name, redirect_uris, scopes, created, revoked"
                         " FROM smart_app ORDER BY client_id",
                         NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        app_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_app_revoke(struct store *s, const char *client_id)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_text(&p, client_id);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE smart_app SET revoked = $1 WHERE client_id = $2 AND revoked IS NULL",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no active app with client id '%s'", client_id);
    return rc;
}

/* ---- governance console -------------------------------------------------------------- */

int pg_bg_review_add(struct store *s, const struct store_bg_review *in)
{
    struct pg_params p = {0};
    pg_p_int(&p, in->breakglass_id);
    pg_p_text(&p, in->outcome);
    pg_p_text(&p, in->note);
    pg_p_text(&p, in->reviewer);
    pg_p_text(&p, in->reviewer_role);
    pg_p_text(&p, in->reviewed);
    return pg_cmd(pg_of(s),
                  "INSERT INTO breakglass_review (breakglass_id, outcome, note, reviewer,"
                  " reviewer_role, reviewed) VALUES ($1, $2, $3, $4, $5, $6)",
                  &p, NULL);
}

int pg_bg_review_list(struct store *s, struct store_bg_review **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT DISTINCT ON (breakglass_id) breakglass_id, outcome, note,"
                         " reviewer, reviewer_role, reviewed FROM breakglass_review"
                         " ORDER BY breakglass_id, id DESC",
                         NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        struct store_bg_review *v = &(*out)[i];
        v->breakglass_id = pg_int(r, i, 0);
        char **const f[] = {&v->outcome, &v->note, &v->reviewer, &v->reviewer_role, &v->reviewed};
        for (int k = 0; k < 5; k++)
            *f[k] = pg_strdup(r, i, 1 + k);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_policy_version_list(struct store *s, struct store_policy_version **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT version, loaded, loaded_by, sha256 FROM policy_version"
                         " ORDER BY version DESC",
                         NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        struct store_policy_version *v = &(*out)[i];
        v->version = pg_int(r, i, 0);
        v->loaded = pg_strdup(r, i, 1);
        v->loaded_by = pg_strdup(r, i, 2);
        v->sha256 = pg_strdup(r, i, 3);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

/* ---- the role a user last signed in with ----------------------------------------------- */

int pg_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out)
{
    struct pg_params p = {0};
    pg_p_text(&p, user_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT role, org FROM access_session WHERE user_id = $1"
                         " AND kind = 'session' AND role IS NOT NULL ORDER BY created DESC LIMIT 1",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : store_fail(s, WEFT_ENOTFOUND, "user %s never signed in", user_id);
    if (rc == 0) {
        *role_out = pg_strdup(r, 0, 0);
        if (org_out)
            *org_out = pg_strdup(r, 0, 1);
    }
    PQclear(r);
    return rc;
}
