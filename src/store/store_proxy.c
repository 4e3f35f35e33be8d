/*
 * store_proxy.c - dispatchers for proxy access grants (store/proxy.h) and the
 * release functions of their struct.  SQLite: sqlite/sqlite_proxy.c;
 * PostgreSQL: pg/pg_proxy.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

void store_proxy_grant_clear(struct store_proxy_grant *g)
{
    char **f[] = {
        &g->proxy_person_id, &g->proxy_nhs, &g->person_id,  &g->nhs,           &g->name,
        &g->scope,           &g->basis,     &g->reason,     &g->until,         &g->created,
        &g->created_by,      &g->revoked,   &g->revoked_by, &g->revoked_reason};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(g, 0, sizeof *g);
}

void store_proxy_grants_free(struct store_proxy_grant *g, int n)
{
    for (int i = 0; i < n; i++)
        store_proxy_grant_clear(&g[i]);
    free(g);
}

int store_proxy_grant_add(struct store *s, const struct store_proxy_grant *in, int64_t *id_out)
{
    return STORE_CALL(s, proxy, grant_add, in, id_out);
}

int store_proxy_grant_get(struct store *s, int64_t id, struct store_proxy_grant *out)
{
    memset(out, 0, sizeof *out);
    return STORE_CALL(s, proxy, grant_get, id, out);
}

int store_proxy_grant_list(struct store *s, const char *person_id, struct store_proxy_grant **out,
                           int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, proxy, grant_list, person_id, out, n);
}

int store_proxy_grant_revoke(struct store *s, int64_t id, const char *time, const char *by,
                             const char *reason)
{
    return STORE_CALL(s, proxy, grant_revoke, id, time, by, reason);
}
