/*
 * store_access.c - dispatchers for the access subsystem's store operations
 * (store/access.h: API clients, organisations, agreements, launchers, token ids, sessions,
 * break-glass, objections, policy versions) and the release functions of their structs. The SQLite
 * implementations are in sqlite/sqlite_access.c and sqlite/sqlite_client.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_org_clear(struct store_org *o)
{
    free(o->ods);
    free(o->name);
    free(o->type);
    free(o->created);
    memset(o, 0, sizeof *o);
}

void store_agreement_clear(struct store_agreement *a)
{
    free(a->ods);
    free(a->kind);
    free(a->from);
    free(a->to);
    free(a->created);
    memset(a, 0, sizeof *a);
}

void store_launcher_clear(struct store_launcher *l)
{
    free(l->name);
    free(l->org);
    free(l->issuer);
    free(l->alg);
    free(l->key);
    free(l->created);
    free(l->revoked);
    memset(l, 0, sizeof *l);
}

void store_session_clear(struct store_session *ss)
{
    char **f[] = {&ss->id_hash,   &ss->kind,      &ss->parent,  &ss->user_id,
                  &ss->user_name, &ss->role,      &ss->org,     &ss->launcher,
                  &ss->purpose,   &ss->person_id, &ss->scopes,  &ss->csrf,
                  &ss->created,   &ss->expires,   &ss->revoked, &ss->app};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(ss, 0, sizeof *ss);
}

void store_breakglass_clear(struct store_breakglass *b)
{
    char **f[] = {&b->user_id, &b->user_name,   &b->role,        &b->org,     &b->person_id,
                  &b->session, &b->reason_code, &b->reason_text, &b->started, &b->expires};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(b, 0, sizeof *b);
}

int store_org_put(struct store *s, const char *ods, const char *name, const char *type)
{
    return STORE_CALL(s, access, org_put, ods, name, type);
}

int store_org_get(struct store *s, const char *ods, struct store_org *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, access, org_get, ods, out);
}

int store_org_list(struct store *s, struct store_org **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, access, org_list, out, n);
}

int store_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                        const char *to, int64_t *id_out)
{
    return STORE_CALL(s, access, agreement_add, ods, kind, from, to, id_out);
}

int store_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, access, agreement_list, ods, out, n);
}

int store_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force)
{
    *in_force = false;
    return STORE_CALL(s, access, agreement_in_force, ods, day, in_force);
}

int store_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out)
{
    return STORE_CALL(s, access, launcher_add, in, id_out);
}

int store_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, access, launcher_by_issuer, issuer, out);
}

int store_launcher_list(struct store *s, struct store_launcher **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, access, launcher_list, out, n);
}

int store_launcher_revoke(struct store *s, const char *name)
{
    return STORE_CALL(s, access, launcher_revoke, name);
}

int store_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires)
{
    return STORE_CALL(s, access, jti_use, issuer, jti, expires);
}

int store_session_put(struct store *s, const struct store_session *in)
{
    return STORE_CALL(s, access, session_put, in);
}

int store_session_get(struct store *s, const char *id_hash, const char *now,
                      struct store_session *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, access, session_get, id_hash, now, out);
}

int store_session_revoke(struct store *s, const char *id_hash)
{
    return STORE_CALL(s, access, session_revoke, id_hash);
}

int store_session_count(struct store *s, const char *now,
                        void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx)
{
    return STORE_CALL(s, access, session_count, now, fn, ctx);
}

void store_app_clear(struct store_app *a)
{
    char **f[] = {&a->client_id, &a->name, &a->redirect_uris, &a->scopes, &a->created, &a->revoked};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(a, 0, sizeof *a);
}

int store_app_add(struct store *s, const struct store_app *in)
{
    return STORE_CALL(s, apps, app_add, in);
}

int store_app_get(struct store *s, const char *client_id, struct store_app *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, apps, app_get, client_id, out);
}

int store_app_list(struct store *s, struct store_app **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, apps, app_list, out, n);
}

int store_app_revoke(struct store *s, const char *client_id)
{
    return STORE_CALL(s, apps, app_revoke, client_id);
}

int store_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out)
{
    return STORE_CALL(s, access, breakglass_add, in, id_out);
}

int store_breakglass_active(struct store *s, const char *user_id, const char *org,
                            const char *person_id, const char *now, char **expires_out)
{
    if (expires_out)
        *expires_out = NULL;
    return STORE_CALL(s, access, breakglass_active, user_id, org, person_id, now, expires_out);
}

int store_breakglass_list(struct store *s, const char *since, struct store_breakglass **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, access, breakglass_list, since, out, n);
}

int store_objection_set(struct store *s, const char *person_id, const char *status,
                        const char *date)
{
    return STORE_CALL(s, access, objection_set, person_id, status, date);
}

int store_objection_get(struct store *s, const char *person_id, char **status_out)
{
    *status_out = NULL;
    return STORE_CALL(s, access, objection_get, person_id, status_out);
}

int store_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                     int64_t *version_out)
{
    return STORE_CALL(s, access, policy_put, text, sha256, by, version_out);
}

int store_policy_current(struct store *s, int64_t *version_out, char **text_out)
{
    *version_out = 0;
    if (text_out)
        *text_out = NULL;
    return STORE_CALL(s, access, policy_current, version_out, text_out);
}

int store_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                       const char *user_id, const char *now, struct store_access_facts *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, access, access_facts, org, day, person_id, user_id, now, out);
}

int store_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                     const char *token_hash, const char *cert_sha256, int64_t *id_out)
{
    return STORE_CALL(s, access, client_add, name, org, scopes, token_hash, cert_sha256, id_out);
}

int store_client_by_hash(struct store *s, const char *token_hash, struct store_client *out)
{
    return STORE_CALL(s, access, client_by_hash, token_hash, out);
}

int store_client_list(struct store *s, struct store_client **out, int *n)
{
    return STORE_CALL(s, access, client_list, out, n);
}

int store_client_set_purpose(struct store *s, int64_t id, const char *purpose)
{
    return STORE_CALL(s, access, client_set_purpose, id, purpose);
}

int store_client_revoke(struct store *s, int64_t id)
{
    return STORE_CALL(s, access, client_revoke, id);
}

void store_client_clear(struct store_client *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->org);
    free(c->created);
    free(c->revoked);
    free(c->scopes);
    free(c->client_cert_sha256);
    free(c->purpose);
    memset(c, 0, sizeof *c);
}
