/*
 * store_identity.c - dispatchers for the master person index's operations
 * (store.h, "the master person index") and the release functions of their
 * structs.  The SQLite implementation is sqlite/sqlite_identity.c.
 */
#include <stdlib.h>

#include "core/buf.h"
#include "store/store_int.h"

void store_idrec_clear(struct store_idrec *r)
{
    free(r->org);
    free(r->source_id);
    free(r->demog);
    free(r->nhs);
    free(r->locals);
    free(r->person_id);
    free(r->person_nhs);
    *r = (struct store_idrec){0};
}

void store_idrecs_free(struct store_idrec *r, int n)
{
    for (int i = 0; i < n; i++)
        store_idrec_clear(&r[i]);
    free(r);
}

void store_iddecisions_free(struct store_iddecision *d, int n)
{
    for (int i = 0; i < n; i++) {
        free(d[i].created);
        free(d[i].action);
        free(d[i].org);
        free(d[i].source_id);
        free(d[i].person_id);
        free(d[i].other_person);
        free(d[i].other_org);
        free(d[i].other_source_id);
        free(d[i].decided_by);
        free(d[i].note);
    }
    free(d);
}

void store_idreviews_free(struct store_idreview *r, int n)
{
    for (int i = 0; i < n; i++) {
        free(r[i].created);
        free(r[i].org);
        free(r[i].source_id);
        free(r[i].other_org);
        free(r[i].other_source_id);
        free(r[i].status);
        free(r[i].decided_by);
        free(r[i].decided);
    }
    free(r);
}

int store_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4])
{
    return STORE_CALL(s, identity, idrec_put, r, keys);
}

int store_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                           int cap, bool without_nhs, struct store_idrec **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, identity, idrec_candidates, link_system, keys, cap, without_nhs, out, n);
}

int store_person_nhs_link(struct store *s, struct store_person_nhs_link *l)
{
    l->source_known = false;
    l->person_id = NULL;
    l->cands = NULL;
    l->ncands = 0;
    l->attached = xcalloc((size_t)(l->nattach > 0 ? l->nattach : 1), sizeof *l->attached);
    int rc = STORE_CALL(s, identity, person_nhs_link, l);
    if (rc != 0)
        store_person_nhs_link_clear(l);
    return rc;
}

void store_person_nhs_link_clear(struct store_person_nhs_link *l)
{
    free(l->person_id);
    l->person_id = NULL;
    store_idrecs_free(l->cands, l->ncands);
    l->cands = NULL;
    l->ncands = 0;
    for (int i = 0; l->attached && i < l->nattach; i++)
        free(l->attached[i]);
    free(l->attached);
    l->attached = NULL;
}

int store_idrec_person(struct store *s, const char *link_system, struct store_idrec *r)
{
    free(r->person_id);
    free(r->person_nhs);
    r->person_id = r->person_nhs = NULL;
    return STORE_CALL(s, identity, idrec_person, link_system, r);
}

int store_idrec_get(struct store *s, const char *link_system, const char *org,
                    const char *source_id, struct store_idrec *out)
{
    *out = (struct store_idrec){0};
    return STORE_CALL(s, identity, idrec_get, link_system, org, source_id, out);
}

int store_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                          struct store_idrec **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, identity, idrec_of_person, link_system, person_id, out, n);
}

int store_idrec_scan(struct store *s, const char *link_system,
                     int (*fn)(const struct store_idrec *, void *), void *ctx)
{
    return STORE_CALL(s, identity, idrec_scan, link_system, fn, ctx);
}

int store_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out)
{
    return STORE_CALL(s, identity, iddecision_add, d, id_out);
}

int store_iddecision_add_many(struct store *s, const struct store_iddecision *d, size_t n)
{
    if (n == 0)
        return WEFT_OK;
    return STORE_CALL(s, identity, iddecision_add_many, d, n);
}

int store_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                          struct store_iddecision **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, identity, iddecision_list, org, source_id, limit, out, n);
}

int store_idreview_add(struct store *s, const struct store_idreview *r, int64_t *id_out)
{
    return STORE_CALL(s, identity, idreview_add, r, id_out);
}

int store_idreview_add_many(struct store *s, const struct store_idreview *r, size_t n, long *added)
{
    *added = 0;
    if (n == 0)
        return WEFT_OK;
    return STORE_CALL(s, identity, idreview_add_many, r, n, added);
}

int store_idreview_list(struct store *s, const char *status, int limit, struct store_idreview **out,
                        int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, identity, idreview_list, status, limit, out, n);
}

int store_idreview_open_for_person(struct store *s, const char *link_system, const char *person_id,
                                   bool *out)
{
    *out = false;
    return STORE_CALL(s, identity, idreview_open_for_person, link_system, person_id, out);
}

int store_idreview_count(struct store *s, const char *status, int64_t *out)
{
    *out = 0;
    return STORE_CALL(s, identity, idreview_count, status, out);
}

int store_idreview_get(struct store *s, int64_t id, struct store_idreview *out)
{
    *out = (struct store_idreview){0};
    return STORE_CALL(s, identity, idreview_get, id, out);
}

int store_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                          int64_t decision_id)
{
    return STORE_CALL(s, identity, idreview_decide, id, status, by, decision_id);
}

int store_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                         const char *other_org, const char *other_source_id, int64_t decision_id)
{
    return STORE_CALL(s, identity, idnonmatch_add, org, source_id, other_org, other_source_id,
                      decision_id);
}

int store_idnonmatch_persons(struct store *s, const char *link_system,
                             int (*fn)(const char *person_id, void *), void *ctx)
{
    return STORE_CALL(s, identity, idnonmatch_persons, link_system, fn, ctx);
}

int store_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                          struct store_idrec **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, identity, idnonmatch_list, org, source_id, out, n);
}

int store_person_split(struct store *s, const char *person_id, const char *link_system,
                       const char *org, const char *source_id, char **new_person_out)
{
    *new_person_out = NULL;
    return STORE_CALL(s, identity, person_split, person_id, link_system, org, source_id,
                      new_person_out);
}

int store_person_merge_of_local(struct store *s, const char *org, const char *system,
                                const char *value, int64_t *merge_id_out)
{
    *merge_id_out = 0;
    return STORE_CALL(s, identity, person_merge_of_local, org, system, value, merge_id_out);
}
