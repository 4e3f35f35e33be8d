/*
 * pg_citizen.c - objection cases, subject access requests, citizens'
 * identity providers and sessions for PostgreSQL (the model:
 * sqlite_citizen.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

static void texts(struct pg_params *p, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        pg_p_text(p, v[i]);
}

static void strs(const PGresult *r, int i, int col0, char **const *f, int n)
{
    for (int k = 0; k < n; k++)
        *f[k] = pg_strdup(r, i, col0 + k);
}

/* Run an INSERT ... RETURNING id; *id_out (may be NULL) gets the id. */
static int insert_id(struct pg_store *ps, const char *sql, const struct pg_params *p,
                     int64_t *id_out)
{
    int rc;
    PGresult *r = pg_run(ps, sql, p, &rc);
    if (!r)
        return rc;
    if (id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

/* ---- objection cases ------------------------------------------------------------------ */

#define OBJ_COLS                                                                                   \
    "id, person_id, org, reason, lodged, lodged_by, due, status, decided, decided_by,"             \
    " decided_role, rationale, withdrawn, withdrawn_by, withdrawn_reason"

static void obj_fill(const PGresult *r, int i, struct store_objection *o)
{
    memset(o, 0, sizeof *o);
    o->id = pg_int(r, i, 0);
    char **const f[] = {
        &o->person_id, &o->org,       &o->reason,       &o->lodged,          &o->lodged_by,
        &o->due,       &o->status,    &o->decided,      &o->decided_by,      &o->decided_role,
        &o->rationale, &o->withdrawn, &o->withdrawn_by, &o->withdrawn_reason};
    strs(r, i, 1, f, 14);
}

int pg_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out)
{
    struct pg_params p = {0};
    if (in->id == 0) {
        const char *v[] = {
            in->person_id, in->org,       in->reason,       in->lodged,          in->lodged_by,
            in->due,       in->status,    in->decided,      in->decided_by,      in->decided_role,
            in->rationale, in->withdrawn, in->withdrawn_by, in->withdrawn_reason};
        texts(&p, v, 14);
        return insert_id(pg_of(s),
                         "INSERT INTO objection_case (person_id, org, reason, lodged, lodged_by,"
                         " due, status, decided, decided_by, decided_role, rationale, withdrawn,"
                         " withdrawn_by, withdrawn_reason) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                         " $8, $9, $10, $11, $12, $13, $14) RETURNING id",
                         &p, id_out);
    }
    pg_p_int(&p, in->id);
    const char *v[] = {in->status,    in->decided,   in->decided_by,   in->decided_role,
                       in->rationale, in->withdrawn, in->withdrawn_by, in->withdrawn_reason};
    texts(&p, v, 8);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE objection_case SET status = $2, decided = $3, decided_by = $4,"
                    " decided_role = $5, rationale = $6, withdrawn = $7, withdrawn_by = $8,"
                    " withdrawn_reason = $9 WHERE id = $1",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no objection %lld", (long long)in->id);
    if (rc == 0 && id_out)
        *id_out = in->id;
    return rc;
}

int pg_objection_case(struct store *s, int64_t id, struct store_objection *out)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    int rc;
    PGresult *r =
        pg_run(pg_of(s), "SELECT " OBJ_COLS " FROM objection_case WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        obj_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_objection_list(struct store *s, const char *person_id, bool open_only,
                      struct store_objection **out, int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    pg_p_bool(&p, open_only);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT " OBJ_COLS " FROM objection_case WHERE ($1::text IS NULL OR"
                         " person_id = $1) AND (NOT $2::boolean OR status = 'lodged')"
                         " ORDER BY CASE WHEN $2::boolean THEN due END, id",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        obj_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_objection_step_add(struct store *s, int64_t objection_id, const char *time, const char *step,
                          const char *by, const char *detail)
{
    struct pg_params p = {0};
    pg_p_int(&p, objection_id);
    const char *v[] = {time, step, by, detail};
    texts(&p, v, 4);
    return pg_cmd(pg_of(s),
                  "INSERT INTO objection_step (objection_id, time, step, by, detail)"
                  " VALUES ($1, $2, $3, $4, $5)",
                  &p, NULL);
}

int pg_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                       int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    pg_p_int(&p, objection_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT objection_id, time, step, by, detail FROM objection_step"
                         " WHERE objection_id = $1 ORDER BY id",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        struct store_objection_step *st = &(*out)[i];
        st->objection_id = pg_int(r, i, 0);
        char **const f[] = {&st->time, &st->step, &st->by, &st->detail};
        strs(r, i, 1, f, 4);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

/* ---- subject access requests -------------------------------------------------------- */

#define SAR_COLS                                                                                   \
    "id, person_id, received, due, status, extension_reason, created, created_by, completed,"      \
    " package"

static void sar_fill(const PGresult *r, int i, struct store_sar *x)
{
    memset(x, 0, sizeof *x);
    x->id = pg_int(r, i, 0);
    char **const f[] = {&x->person_id,  &x->received,         &x->due,
                        &x->status,     &x->extension_reason, &x->created,
                        &x->created_by, &x->completed,        &x->package};
    strs(r, i, 1, f, 9);
}

int pg_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out)
{
    struct pg_params p = {0};
    if (in->id == 0) {
        const char *v[] = {in->person_id,        in->received, in->due,        in->status,
                           in->extension_reason, in->created,  in->created_by, in->completed};
        texts(&p, v, 8);
        return insert_id(pg_of(s),
                         "INSERT INTO sar (person_id, received, due, status, extension_reason,"
                         " created, created_by, completed) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                         " $8) RETURNING id",
                         &p, id_out);
    }
    pg_p_int(&p, in->id);
    const char *v[] = {in->due, in->status, in->extension_reason, in->completed, in->package};
    texts(&p, v, 5);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE sar SET due = $2, status = $3, extension_reason = $4, completed = $5,"
                    " package = $6 WHERE id = $1",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no subject access request %lld", (long long)in->id);
    if (rc == 0 && id_out)
        *id_out = in->id;
    return rc;
}

int pg_sar_get(struct store *s, int64_t id, struct store_sar *out)
{
    struct pg_params p = {0};
    pg_p_int(&p, id);
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT " SAR_COLS " FROM sar WHERE id = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r)
             ? WEFT_OK
             : store_fail(s, WEFT_ENOTFOUND, "no subject access request %lld", (long long)id);
    if (rc == 0)
        sar_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT " SAR_COLS " FROM sar WHERE $1::text IS NULL OR person_id = $1"
                         " ORDER BY id DESC",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        sar_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

/* ---- citizens' identity providers and sessions ---------------------------------------- */

#define IDP_COLS "name, issuer, client_id, key_pem, key_id, redirect_uri, created"

static void idp_fill(const PGresult *r, int i, struct store_citizen_idp *x)
{
    memset(x, 0, sizeof *x);
    char **const f[] = {&x->name,   &x->issuer,       &x->client_id, &x->key_pem,
                        &x->key_id, &x->redirect_uri, &x->created};
    strs(r, i, 0, f, 7);
}

int pg_citizen_idp_add(struct store *s, const struct store_citizen_idp *in)
{
    struct pg_params p = {0};
    const char *v[] = {in->name,   in->issuer,       in->client_id, in->key_pem,
                       in->key_id, in->redirect_uri, in->created};
    texts(&p, v, 7);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s),
                    "INSERT INTO citizen_idp (" IDP_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT DO NOTHING",
                    &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_EEXIST, "a provider named '%s' exists", in->name);
    return rc;
}

int pg_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, name);
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT " IDP_COLS " FROM citizen_idp WHERE name = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        idp_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT " IDP_COLS " FROM citizen_idp ORDER BY name", NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        idp_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_citizen_idp_remove(struct store *s, const char *name)
{
    struct pg_params p = {0};
    pg_p_text(&p, name);
    int64_t n = 0;
    int rc = pg_cmd(pg_of(s), "DELETE FROM citizen_idp WHERE name = $1", &p, &n);
    if (rc == 0 && n == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no provider named '%s'", name);
    return rc;
}

#define CS_COLS "id_hash, idp, sub, person_id, nhs, ial, csrf, created, last_seen, expires, revoked"

int pg_citizen_session_put(struct store *s, const struct store_citizen_session *in)
{
    struct pg_params p = {0};
    const char *v[] = {in->id_hash, in->idp,     in->sub,       in->person_id, in->nhs,    in->ial,
                       in->csrf,    in->created, in->last_seen, in->expires,   in->revoked};
    texts(&p, v, 11);
    return pg_cmd(pg_of(s),
                  "INSERT INTO citizen_session (" CS_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                  " $8, $9, $10, $11)",
                  &p, NULL);
}

int pg_citizen_session_get(struct store *s, const char *id_hash, struct store_citizen_session *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, id_hash);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT " CS_COLS " FROM citizen_session WHERE id_hash = $1"
                         " AND revoked IS NULL",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        char **const f[] = {&out->id_hash,   &out->idp,     &out->sub,    &out->person_id,
                            &out->nhs,       &out->ial,     &out->csrf,   &out->created,
                            &out->last_seen, &out->expires, &out->revoked};
        strs(r, 0, 0, f, 11);
    }
    PQclear(r);
    return rc;
}

int pg_citizen_session_touch(struct store *s, const char *id_hash, const char *now)
{
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_text(&p, id_hash);
    return pg_cmd(pg_of(s), "UPDATE citizen_session SET last_seen = $1 WHERE id_hash = $2", &p,
                  NULL);
}

int pg_citizen_session_revoke(struct store *s, const char *id_hash)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_text(&p, id_hash);
    return pg_cmd(pg_of(s),
                  "UPDATE citizen_session SET revoked = $1 WHERE id_hash = $2 AND revoked IS NULL",
                  &p, NULL);
}
