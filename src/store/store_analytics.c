/*
 * store_analytics.c - dispatchers for the analytics store operations
 * (store/analytics.h) and the release functions of their structs.  The
 * implementations are in sqlite/sqlite_analytics.c and pg/pg_analytics.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/analytics_int.h"

void store_optout_list_clear(struct store_optout_list *l)
{
    free(l->checked);
    free(l->expires);
    free(l->imported);
    free(l->imported_by);
    free(l->sha256);
    memset(l, 0, sizeof *l);
}

void store_optout_lists_free(struct store_optout_list *l, int n)
{
    for (int i = 0; i < n; i++)
        store_optout_list_clear(&l[i]);
    free(l);
}

void store_analytics_output_clear(struct store_analytics_output *o)
{
    free(o->name);
    free(o->computed);
    free(o->params);
    free(o->by);
    free(o->counted_set);
    memset(o, 0, sizeof *o);
}

void store_analytics_outputs_free(struct store_analytics_output *o, int n)
{
    for (int i = 0; i < n; i++)
        store_analytics_output_clear(&o[i]);
    free(o);
}

void store_analytics_result_clear(struct store_analytics_result *r)
{
    free(r->name);
    free(r->params);
    free(r->at);
    free(r->computed);
    free(r->csv);
    memset(r, 0, sizeof *r);
}

void store_analytics_results_free(struct store_analytics_result *r, int n)
{
    for (int i = 0; i < n; i++)
        store_analytics_result_clear(&r[i]);
    free(r);
}

int store_analytics_result_put(struct store *s, const struct store_analytics_result *r)
{
    return STORE_CALL(s, analytics, result_put, r);
}

int store_analytics_result_get(struct store *s, const char *name, const char *params,
                               struct store_analytics_result *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, analytics, result_get, name, params, out);
}

int store_analytics_result_keys(struct store *s, struct store_analytics_result **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, analytics, result_keys, out, n);
}

int store_optout_list_add(struct store *s, const struct store_optout_list *in,
                          const char *const *nhs, int64_t n, int64_t *id_out)
{
    return STORE_CALL(s, analytics, optout_list_add, in, nhs, n, id_out);
}

int store_optout_list_current(struct store *s, struct store_optout_list *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, analytics, optout_list_current, out);
}

int store_optout_list_get(struct store *s, int64_t id, struct store_optout_list *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, analytics, optout_list_get, id, out);
}

int store_optout_list_all(struct store *s, struct store_optout_list **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, analytics, optout_list_all, out, n);
}

int store_optout_cleared_scan(struct store *s, int64_t id, int (*fn)(const char *, void *),
                              void *ctx)
{
    return STORE_CALL(s, analytics, optout_cleared_scan, id, fn, ctx);
}

int store_analytics_output_add(struct store *s, const struct store_analytics_output *in,
                               int64_t *id_out)
{
    return STORE_CALL(s, analytics, output_add, in, id_out);
}

int store_analytics_output_list(struct store *s, int limit, struct store_analytics_output **out,
                                int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, analytics, output_list, limit, out, n);
}

int store_analytics_scan(struct store *s, const char *const *types, const char *const *person_ids,
                         int n, int (*fn)(const struct store_analytics_item *, void *), void *ctx)
{
    return STORE_CALL(s, analytics, scan, types, person_ids, n, fn, ctx);
}

int store_analytics_org_persons(struct store *s, const char *org,
                                int (*fn)(const char *person_id, void *), void *ctx)
{
    return STORE_CALL(s, analytics, org_persons, org, fn, ctx);
}

int store_analytics_org_has_person(struct store *s, const char *org, const char *person_id,
                                   bool *yes)
{
    *yes = false;
    return STORE_CALL(s, analytics, org_has_person, org, person_id, yes);
}

int store_analytics_state_get(struct store *s, unsigned char **blob, size_t *len, int64_t *seq,
                              int64_t *moved, int64_t *generation)
{
    if (blob) {
        *blob = NULL;
        *len = 0;
    }
    *seq = *moved = *generation = 0;
    return STORE_CALL(s, analytics, state_get, blob, len, seq, moved, generation);
}

int store_analytics_state_put(struct store *s, const unsigned char *blob, size_t len, int64_t seq,
                              int64_t moved, int64_t generation)
{
    return STORE_CALL(s, analytics, state_put, blob, len, seq, moved, generation);
}

int store_analytics_contrib_get(struct store *s, const char *const *person_ids, int n,
                                int (*fn)(const char *person_id, const unsigned char *blob,
                                          size_t len, void *),
                                void *ctx)
{
    if (n <= 0)
        return 0;
    return STORE_CALL(s, analytics, contrib_get, person_ids, n, fn, ctx);
}

int store_analytics_contrib_put(struct store *s, const char *const *person_ids,
                                const unsigned char *const *blobs, const size_t *lens, int n)
{
    if (n <= 0)
        return 0;
    return STORE_CALL(s, analytics, contrib_put, person_ids, blobs, lens, n);
}

int store_analytics_contrib_clear(struct store *s)
{
    return STORE_CALL0(s, analytics, contrib_clear);
}

int store_analytics_marks(struct store *s, int64_t *seq, int64_t *moved)
{
    *seq = *moved = 0;
    return STORE_CALL(s, analytics, marks, seq, moved);
}

int store_analytics_changed(struct store *s, int64_t seq, int64_t moved,
                            int (*fn)(const char *person_id, void *), void *ctx)
{
    return STORE_CALL(s, analytics, changed, seq, moved, fn, ctx);
}

int store_analytics_risk_put(struct store *s, const struct store_analytics_risk *rows, int n)
{
    if (n <= 0)
        return 0;
    return STORE_CALL(s, analytics, risk_put, rows, n);
}

int store_analytics_risk_clear(struct store *s)
{
    return STORE_CALL0(s, analytics, risk_clear);
}

int store_analytics_risk_scan(struct store *s, const char *practice,
                              int (*fn)(const struct store_analytics_risk *, void *), void *ctx)
{
    return STORE_CALL(s, analytics, risk_scan, practice, fn, ctx);
}

int store_analytics_risk_day_get(struct store *s, int64_t *day, char computed[32])
{
    *day = 0;
    computed[0] = '\0';
    return STORE_CALL(s, analytics, risk_day_get, day, computed);
}

int store_analytics_risk_day_put(struct store *s, int64_t day, const char *computed)
{
    return STORE_CALL(s, analytics, risk_day_put, day, computed);
}
