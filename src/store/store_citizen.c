/*
 * store_citizen.c - dispatchers for the citizens' store operations
 * (objection cases and their steps, subject access requests) and the release
 * functions of their structs.  SQLite: sqlite/sqlite_citizen.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_objection_clear(struct store_objection *o)
{
    char **f[] = {
        &o->person_id, &o->org,       &o->reason,       &o->lodged,          &o->lodged_by,
        &o->due,       &o->status,    &o->decided,      &o->decided_by,      &o->decided_role,
        &o->rationale, &o->withdrawn, &o->withdrawn_by, &o->withdrawn_reason};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(o, 0, sizeof *o);
}

void store_objections_free(struct store_objection *o, int n)
{
    for (int i = 0; i < n; i++)
        store_objection_clear(&o[i]);
    free(o);
}

void store_objection_steps_free(struct store_objection_step *st, int n)
{
    for (int i = 0; i < n; i++) {
        free(st[i].time);
        free(st[i].step);
        free(st[i].by);
        free(st[i].detail);
    }
    free(st);
}

void store_sar_clear(struct store_sar *r)
{
    char **f[] = {&r->person_id, &r->received,   &r->due,       &r->status, &r->extension_reason,
                  &r->created,   &r->created_by, &r->completed, &r->package};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(r, 0, sizeof *r);
}

void store_sars_free(struct store_sar *r, int n)
{
    for (int i = 0; i < n; i++)
        store_sar_clear(&r[i]);
    free(r);
}

int store_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out)
{
    return STORE_CALL(s, citizen, objection_put, in, id_out);
}

int store_objection_case(struct store *s, int64_t id, struct store_objection *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, citizen, objection_case, id, out);
}

int store_objection_list(struct store *s, const char *person_id, bool open_only,
                         struct store_objection **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, citizen, objection_list, person_id, open_only, out, n);
}

int store_objection_step_add(struct store *s, int64_t objection_id, const char *time,
                             const char *step, const char *by, const char *detail)
{
    return STORE_CALL(s, citizen, objection_step_add, objection_id, time, step, by, detail);
}

int store_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                          int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, citizen, objection_steps, objection_id, out, n);
}

int store_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out)
{
    return STORE_CALL(s, citizen, sar_put, in, id_out);
}

int store_sar_get(struct store *s, int64_t id, struct store_sar *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, citizen, sar_get, id, out);
}

int store_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, citizen, sar_list, person_id, out, n);
}

int store_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out)
{
    *role_out = NULL;
    *org_out = NULL;
    return STORE_CALL(s, access, session_user_role, user_id, role_out, org_out);
}

int store_audit_person(struct store *s, const char *person_id,
                       int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    return STORE_CALL(s, audit, audit_person, person_id, fn, ctx);
}

void store_citizen_idp_clear(struct store_citizen_idp *p)
{
    char **f[] = {&p->name,   &p->issuer,       &p->client_id, &p->key_pem,
                  &p->key_id, &p->redirect_uri, &p->created};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(p, 0, sizeof *p);
}

void store_citizen_session_clear(struct store_citizen_session *ss)
{
    char **f[] = {&ss->id_hash, &ss->idp,     &ss->sub,       &ss->person_id, &ss->nhs,    &ss->ial,
                  &ss->csrf,    &ss->created, &ss->last_seen, &ss->expires,   &ss->revoked};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(ss, 0, sizeof *ss);
}

int store_citizen_idp_add(struct store *s, const struct store_citizen_idp *in)
{
    return STORE_CALL(s, citizen, citizen_idp_add, in);
}

int store_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, citizen, citizen_idp_get, name, out);
}

int store_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, citizen, citizen_idp_list, out, n);
}

int store_citizen_idp_remove(struct store *s, const char *name)
{
    return STORE_CALL(s, citizen, citizen_idp_remove, name);
}

int store_citizen_session_put(struct store *s, const struct store_citizen_session *in)
{
    return STORE_CALL(s, citizen, citizen_session_put, in);
}

int store_citizen_session_get(struct store *s, const char *id_hash,
                              struct store_citizen_session *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, citizen, citizen_session_get, id_hash, out);
}

int store_citizen_session_touch(struct store *s, const char *id_hash, const char *now)
{
    return STORE_CALL(s, citizen, citizen_session_touch, id_hash, now);
}

int store_citizen_session_revoke(struct store *s, const char *id_hash)
{
    return STORE_CALL(s, citizen, citizen_session_revoke, id_hash);
}
