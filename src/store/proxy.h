/*
 * proxy.h - proxy access grants (issue 17): a person (the proxy) may act for
 * another (a parent for a child; a carer with the person's consent or a
 * lasting power of attorney) on the citizen's pages, within a scope, until an
 * end day, unless revoked.  The rules (who may grant, what a scope allows,
 * expiry) are access/proxy.c's; this is the storage.
 * (src/store/store_proxy.c; sqlite/sqlite_proxy.c; pg/pg_proxy.c)
 */
#ifndef WEFT_STORE_PROXY_H
#define WEFT_STORE_PROXY_H

#include <stdint.h>

struct store;

/* One grant.  Times are ISO 8601 UTC; until is the last day (YYYY-MM-DD,
 * UTC) on which the grant may be used.  scope: comma-separated, a subset of
 * "view,objection,copy" in that order.  basis: parent | consent | lpa. */
struct store_proxy_grant {
    int64_t id;
    char *proxy_person_id, *proxy_nhs; /* who acts */
    char *person_id, *nhs;             /* for whom */
    char *name;                        /* how the person is named to the proxy, or NULL */
    char *scope, *basis, *reason, *until;
    char *created, *created_by;
    char *revoked, *revoked_by, *revoked_reason; /* NULL unless revoked */
};
void store_proxy_grant_clear(struct store_proxy_grant *g);
void store_proxy_grants_free(struct store_proxy_grant *g, int n);
/* Add grant in (in->id ignored); *id_out gets its id. */
int store_proxy_grant_add(struct store *s, const struct store_proxy_grant *in, int64_t *id_out);
/* Grant id into *out (release with store_proxy_grant_clear); WEFT_ENOTFOUND
 * when there is none. */
int store_proxy_grant_get(struct store *s, int64_t id, struct store_proxy_grant *out);
/* Grants where person_id is the proxy or the person (NULL: every grant),
 * oldest first; *out (may be NULL when *n is 0) is freed with
 * store_proxy_grants_free. */
int store_proxy_grant_list(struct store *s, const char *person_id, struct store_proxy_grant **out,
                           int *n);
/* Mark grant id revoked at time by whom and why.  WEFT_ENOTFOUND when there
 * is none, WEFT_ECONFLICT when it is revoked already. */
int store_proxy_grant_revoke(struct store *s, int64_t id, const char *time, const char *by,
                             const char *reason);

#endif
