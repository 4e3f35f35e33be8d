/*
 * pg_access.c - what the authorisation point and sign-in keep, for
 * PostgreSQL: organisations, agreements, launchers and used token ids,
 * sessions, break-glass, objection states, policy versions, and one
 * decision's facts in one statement (as sqlite_access.c).
 *
 * Several nodes share these tables: a one-time token id is recorded with
 * INSERT ... ON CONFLICT DO NOTHING, so a token used on one node is refused
 * on every other (the primary key decides, inside the database), and a
 * refusal does not abort the caller's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/pg/pg_int.h"
#include "store/pg/pg_ops.h"

/* Parameters from an array of texts. */
static void params_texts(struct pg_params *p, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        pg_p_text(p, v[i]);
}

/* Columns col0.. of row i into the n string fields. */
static void fill_strs(const PGresult *r, int i, int col0, char **const *f, int n)
{
    for (int k = 0; k < n; k++)
        *f[k] = pg_strdup(r, i, col0 + k);
}

/* A write of one row that answers WEFT_EEXIST (no error in the transaction)
 * when a unique key is taken: sql ends in ON CONFLICT DO NOTHING RETURNING. */
static int insert_returning(struct pg_store *ps, const char *sql, const struct pg_params *p,
                            int64_t *id_out, const char *what)
{
    int rc;
    PGresult *r = pg_run(ps, sql, p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : store_fail(&ps->base, WEFT_EEXIST, "%s: already exists", what);
    if (rc == 0 && id_out)
        *id_out = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- organisations and agreements ------------------------------------------------- */

int pg_org_put(struct store *s, const char *ods, const char *name, const char *type)
{
    char now[32];
    pg_now(now);
    const char *v[] = {ods, name, type, now};
    struct pg_params p = {0};
    params_texts(&p, v, 4);
    return pg_cmd(pg_of(s),
                  "INSERT INTO org (ods, name, type, created) VALUES ($1, $2, $3, $4)"
                  " ON CONFLICT (ods) DO UPDATE SET name = excluded.name, type = excluded.type",
                  &p, NULL);
}

static void org_fill(const PGresult *r, int i, struct store_org *o)
{
    memset(o, 0, sizeof *o);
    char **const f[] = {&o->ods, &o->name, &o->type, &o->created};
    fill_strs(r, i, 0, f, 4);
}

int pg_org_get(struct store *s, const char *ods, struct store_org *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, ods);
    int rc;
    PGresult *r =
        pg_run(pg_of(s), "SELECT ods, name, type, created FROM org WHERE ods = $1", &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        org_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_org_list(struct store *s, struct store_org **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r =
        pg_run(pg_of(s), "SELECT ods, name, type, created FROM org ORDER BY ods", NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        org_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                     const char *to, int64_t *id_out)
{
    pg_access_cache_forget(pg_of(s));
    char now[32];
    pg_now(now);
    const char *v[] = {ods, kind, from, to, now};
    struct pg_params p = {0};
    params_texts(&p, v, 5);
    return insert_returning(pg_of(s),
                            "INSERT INTO agreement (ods, kind, valid_from, valid_to, created)"
                            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
                            &p, id_out, "writing agreement");
}

int pg_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    pg_p_text(&p, ods);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, ods, kind, valid_from, valid_to, created FROM agreement"
                         " WHERE $1::text IS NULL OR ods = $1 ORDER BY ods, valid_from, id",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        struct store_agreement *a = &(*out)[i];
        a->id = pg_int(r, i, 0);
        char **const f[] = {&a->ods, &a->kind, &a->from, &a->to, &a->created};
        fill_strs(r, i, 1, f, 5);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force)
{
    struct pg_params p = {0};
    pg_p_text(&p, ods);
    pg_p_text(&p, day);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT 1 FROM agreement WHERE ods = $1 AND valid_from <= $2"
                         " AND (valid_to IS NULL OR valid_to >= $2) LIMIT 1",
                         &p, &rc);
    if (!r)
        return rc;
    *in_force = PQntuples(r) > 0;
    PQclear(r);
    return WEFT_OK;
}

/* ---- launchers and one-time token ids --------------------------------------------- */

int pg_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out)
{
    char now[32];
    pg_now(now);
    const char *v[] = {in->name, in->org, in->issuer, in->alg, in->key, now};
    struct pg_params p = {0};
    params_texts(&p, v, 6);
    return insert_returning(pg_of(s),
                            "INSERT INTO launcher (name, org, issuer, alg, key, created)"
                            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
                            &p, id_out, "writing launcher (name and issuer must be unique)");
}

static void launcher_fill(const PGresult *r, int i, struct store_launcher *l)
{
    memset(l, 0, sizeof *l);
    l->id = pg_int(r, i, 0);
    char **const f[] = {&l->name, &l->org, &l->issuer, &l->alg, &l->key, &l->created, &l->revoked};
    fill_strs(r, i, 1, f, 7);
}

int pg_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, issuer);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, name, org, issuer, alg, key, created, revoked FROM launcher"
                         " WHERE issuer = $1 AND revoked IS NULL",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0)
        launcher_fill(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_launcher_list(struct store *s, struct store_launcher **out, int *n)
{
    *out = NULL;
    *n = 0;
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, name, org, issuer, alg, key, created, revoked FROM launcher"
                         " ORDER BY name",
                         NULL, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++)
        launcher_fill(r, i, &(*out)[i]);
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

int pg_launcher_revoke(struct store *s, const char *name)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_text(&p, name);
    int64_t changed = 0;
    int rc =
        pg_cmd(pg_of(s), "UPDATE launcher SET revoked = $1 WHERE name = $2 AND revoked IS NULL", &p,
               &changed);
    return rc == 0 && changed == 0 ? WEFT_ENOTFOUND : rc;
}

int pg_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires)
{
    struct pg_store *ps = pg_of(s);
    char now[32];
    pg_now(now);
    /* Forget ids no live token could still carry: keeps the table small. */
    struct pg_params d = {0};
    pg_p_text(&d, now);
    int rc = pg_cmd(ps, "DELETE FROM launch_jti WHERE expires < $1", &d, NULL);
    if (rc != 0)
        return rc;
    const char *v[] = {issuer, jti, expires};
    struct pg_params p = {0};
    params_texts(&p, v, 3);
    return insert_returning(ps,
                            "INSERT INTO launch_jti (issuer, jti, expires) VALUES ($1, $2, $3)"
                            " ON CONFLICT DO NOTHING RETURNING 0",
                            &p, NULL, "recording token id");
}

/* ---- sessions --------------------------------------------------------------------- */

int pg_session_put(struct store *s, const struct store_session *in)
{
    const char *v[] = {in->id_hash, in->kind, in->parent,   in->user_id, in->user_name,
                       in->role,    in->org,  in->launcher, in->purpose, in->person_id,
                       in->scopes,  in->csrf, in->created,  in->expires, in->app};
    struct pg_params p = {0};
    params_texts(&p, v, 15);
    return insert_returning(pg_of(s),
                            "INSERT INTO access_session (id_hash, kind, parent, user_id,"
                            " user_name, role, org, launcher, purpose, person_id, scopes, csrf,"
                            " created, expires, app) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                            " $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING RETURNING 0",
                            &p, NULL, "writing session");
}

int pg_session_get(struct store *s, const char *id_hash, const char *now, struct store_session *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, id_hash);
    pg_p_text(&p, now);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id_hash, kind, parent, user_id, user_name, role, org, launcher,"
                         " purpose, person_id, scopes, csrf, created, expires, revoked, app"
                         " FROM access_session WHERE id_hash = $1 AND revoked IS NULL"
                         " AND expires > $2",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0) {
        char **const f[] = {&out->id_hash,   &out->kind,      &out->parent,  &out->user_id,
                            &out->user_name, &out->role,      &out->org,     &out->launcher,
                            &out->purpose,   &out->person_id, &out->scopes,  &out->csrf,
                            &out->created,   &out->expires,   &out->revoked, &out->app};
        fill_strs(r, 0, 0, f, 16);
    }
    PQclear(r);
    return rc;
}

int pg_session_revoke(struct store *s, const char *id_hash)
{
    char now[32];
    pg_now(now);
    struct pg_params p = {0};
    pg_p_text(&p, now);
    pg_p_text(&p, id_hash);
    int64_t changed = 0;
    int rc = pg_cmd(pg_of(s),
                    "UPDATE access_session SET revoked = $1 WHERE id_hash = $2 AND revoked IS NULL",
                    &p, &changed);
    return rc == 0 && changed == 0 ? WEFT_ENOTFOUND : rc;
}

int pg_session_count(struct store *s, const char *now,
                     void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx)
{
    struct pg_params p = {0};
    pg_p_text(&p, now);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT kind, count(*) FROM access_session WHERE revoked IS NULL"
                         " AND expires > $1 GROUP BY kind",
                         &p, &rc);
    if (!r)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        fn(PQgetvalue(r, i, 0), pg_int(r, i, 1), ctx);
    PQclear(r);
    return WEFT_OK;
}

/* ---- break-glass ------------------------------------------------------------------ */

int pg_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out)
{
    pg_access_cache_forget(pg_of(s));
    const char *v[] = {in->user_id, in->user_name,   in->role,        in->org,     in->person_id,
                       in->session, in->reason_code, in->reason_text, in->started, in->expires};
    struct pg_params p = {0};
    params_texts(&p, v, 10);
    return insert_returning(pg_of(s),
                            "INSERT INTO breakglass (user_id, user_name, role, org, person_id,"
                            " session, reason_code, reason_text, started, expires) VALUES ($1,"
                            " $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                            &p, id_out, "writing break-glass");
}

int pg_breakglass_active(struct store *s, const char *user_id, const char *org,
                         const char *person_id, const char *now, char **expires_out)
{
    const char *v[] = {user_id, org, person_id, now};
    struct pg_params p = {0};
    params_texts(&p, v, 4);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT max(expires) FROM breakglass WHERE user_id = $1 AND org = $2"
                         " AND person_id = $3 AND expires > $4",
                         &p, &rc);
    if (!r)
        return rc;
    rc = PQgetisnull(r, 0, 0) ? WEFT_ENOTFOUND : WEFT_OK;
    if (rc == 0 && expires_out)
        *expires_out = pg_strdup(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg_breakglass_list(struct store *s, const char *since, struct store_breakglass **out, int *n)
{
    *out = NULL;
    *n = 0;
    struct pg_params p = {0};
    pg_p_text(&p, since);
    int rc;
    PGresult *r = pg_run(pg_of(s),
                         "SELECT id, user_id, user_name, role, org, person_id, session,"
                         " reason_code, reason_text, started, expires FROM breakglass"
                         " WHERE $1::text IS NULL OR started >= $1 ORDER BY started DESC, id DESC",
                         &p, &rc);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    if (rows)
        *out = xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        struct store_breakglass *b = &(*out)[i];
        b->id = pg_int(r, i, 0);
        char **const f[] = {&b->user_id,   &b->user_name, &b->role,        &b->org,
                            &b->person_id, &b->session,   &b->reason_code, &b->reason_text,
                            &b->started,   &b->expires};
        fill_strs(r, i, 1, f, 10);
    }
    *n = rows;
    PQclear(r);
    return WEFT_OK;
}

/* ---- objection state and policy ---------------------------------------------------- */

int pg_objection_set(struct store *s, const char *person_id, const char *status, const char *date)
{
    pg_access_cache_forget(pg_of(s));
    char now[32];
    pg_now(now);
    const char *v[] = {person_id, status, date, now};
    struct pg_params p = {0};
    params_texts(&p, v, 4);
    return pg_cmd(pg_of(s),
                  "INSERT INTO objection (person_id, status, date, updated) VALUES ($1, $2, $3,"
                  " $4) ON CONFLICT (person_id) DO UPDATE SET status = excluded.status,"
                  " date = excluded.date, updated = excluded.updated",
                  &p, NULL);
}

int pg_objection_get(struct store *s, const char *person_id, char **status_out)
{
    struct pg_params p = {0};
    pg_p_text(&p, person_id);
    int rc;
    PGresult *r = pg_run(pg_of(s), "SELECT status FROM objection WHERE person_id = $1", &p, &rc);
    if (!r)
        return rc;
    if (PQntuples(r))
        *status_out = pg_strdup(r, 0, 0);
    PQclear(r);
    return WEFT_OK;
}

int pg_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                  int64_t *version_out)
{
    pg_access_cache_forget(pg_of(s));
    char now[32];
    pg_now(now);
    const char *v[] = {now, by, sha256, text};
    struct pg_params p = {0};
    params_texts(&p, v, 4);
    return insert_returning(pg_of(s),
                            "INSERT INTO policy_version (loaded, loaded_by, sha256, text)"
                            " VALUES ($1, $2, $3, $4) RETURNING version",
                            &p, version_out, "writing policy");
}

int pg_policy_current(struct store *s, int64_t *version_out, char **text_out)
{
    int rc;
    PGresult *r = text_out ? pg_run(pg_of(s),
                                    "SELECT version, text FROM policy_version"
                                    " ORDER BY version DESC LIMIT 1",
                                    NULL, &rc)
                           : pg_run(pg_of(s), "SELECT max(version) FROM policy_version", NULL, &rc);
    if (!r)
        return rc;
    rc = PQntuples(r) && !PQgetisnull(r, 0, 0) ? WEFT_OK : WEFT_ENOTFOUND;
    if (rc == 0) {
        *version_out = pg_int(r, 0, 0);
        if (text_out)
            *text_out = pg_strdup(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

/*
 * Facts cache.  Every decision reads its facts (store_access_facts): on
 * PostgreSQL a round trip on every API request.  They change rarely - a
 * policy loaded, an agreement added, an objection recorded, a break-glass
 * started - so a connection keeps the facts of its last decisions
 * (PG_ACCESS_CACHE, by organisation, day, person and user) and answers from
 * them while none of those tables has changed: the trigger of migration
 * pg12s-access-notify-1 sends NOTIFY PG_ACCESS_CHANNEL at the commit of any
 * statement on agreement, objection, breakglass or policy_version (any node,
 * any command), this session LISTENs before it keeps anything, and before
 * every answer from the cache the socket is read without waiting and a
 * notification forgets every kept fact (the client cache's scheme,
 * pg_meta.c).  A change therefore takes effect on every node once its
 * notification has crossed the local socket, and in any case within
 * PG_ACCESS_TTL_MS, the most kept facts are trusted without asking.  A
 * break-glass kept is checked against the time of each decision (it ends
 * when it expires, whether kept or not).  Inside a transaction the
 * database is always asked.  What is kept are facts, never decisions: every
 * decision is still made by the authorisation point (access/authz.c).
 */
void pg_access_cache_forget(struct pg_store *ps)
{
    for (int i = 0; i < PG_ACCESS_CACHE; i++)
        ps->access[i].key[0] = 0;
}

/* The cache key of one decision's facts; false when it does not fit. */
static bool facts_key(char *key, size_t cap, const char *org, const char *day,
                      const char *person_id, const char *user_id)
{
    int n = snprintf(key, cap, "%s\x1f%s\x1f%s\x1f%s", org ? org : "\x1e", day ? day : "\x1e",
                     person_id ? person_id : "\x1e", user_id ? user_id : "\x1e");
    return n > 0 && (size_t)n < cap;
}

static const struct pg_access_slot *facts_find(struct pg_store *ps, const char *key)
{
    int64_t now = pg_mono_ms();
    for (int i = 0; i < PG_ACCESS_CACHE; i++) {
        struct pg_access_slot *e = &ps->access[i];
        if (!e->key[0] || strcmp(e->key, key) != 0)
            continue;
        if (now - e->at_ms <= PG_ACCESS_TTL_MS)
            return e;
        e->key[0] = 0;
    }
    return NULL;
}

static void facts_put(struct pg_store *ps, const char *key, const struct store_access_facts *f,
                      int64_t at_ms)
{
    struct pg_access_slot *e = &ps->access[ps->access_next];
    ps->access_next = (ps->access_next + 1) % PG_ACCESS_CACHE;
    snprintf(e->key, sizeof e->key, "%s", key);
    e->at_ms = at_ms;
    e->f = *f;
}

int pg_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                    const char *user_id, const char *now, struct store_access_facts *out)
{
    struct pg_store *ps = pg_of(s);
    char key[sizeof ps->access[0].key];
    bool keyed = facts_key(key, sizeof key, org, day, person_id, user_id);
    bool cache = keyed && ps->access_listen && pg_notes_poll(ps);
    if (cache) {
        const struct pg_access_slot *e = facts_find(ps, key);
        if (e) {
            *out = e->f;
            /* the newest break-glass kept has ended since: none is active */
            if (out->breakglass_until[0] && (!now || strcmp(out->breakglass_until, now) <= 0))
                out->breakglass_until[0] = 0;
            return WEFT_OK;
        }
    }
    int rc;
    if (keyed && !cache && !ps->access_listen && s->txn_depth == 0) {
        /* listen first: a change committed after this point is notified, so
         * what the query below reads may be kept */
        rc = pg_exec(ps, "LISTEN " PG_ACCESS_CHANNEL);
        if (rc != 0)
            return rc;
        ps->access_listen = true;
        cache = true;
    }
    int64_t at = pg_mono_ms();
    const char *v[] = {org, day, person_id, user_id, now};
    struct pg_params p = {0};
    params_texts(&p, v, 5);
    PGresult *r = pg_run(ps,
                         "SELECT (SELECT max(version) FROM policy_version),"
                         " EXISTS (SELECT 1 FROM agreement WHERE ods = $1 AND valid_from <= $2"
                         " AND (valid_to IS NULL OR valid_to >= $2)),"
                         " (SELECT status FROM objection WHERE person_id = $3),"
                         " (SELECT max(expires) FROM breakglass WHERE user_id = $4 AND org = $1"
                         " AND person_id = $3 AND expires > $5)",
                         &p, &rc);
    if (!r)
        return rc;
    out->policy_version = pg_int(r, 0, 0);
    out->agreement_in_force = pg_bool(r, 0, 1);
    if (!PQgetisnull(r, 0, 2))
        snprintf(out->objection, sizeof out->objection, "%s", PQgetvalue(r, 0, 2));
    if (!PQgetisnull(r, 0, 3))
        snprintf(out->breakglass_until, sizeof out->breakglass_until, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    if (cache && ps->access_listen && s->txn_depth == 0)
        facts_put(ps, key, out, at);
    return WEFT_OK;
}
