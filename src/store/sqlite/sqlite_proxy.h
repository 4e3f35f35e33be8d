/*
 * sqlite_proxy.h - SQLite implementations of the proxy access grant
 * operations (sqlite_proxy.c; contracts: store/proxy.h).
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_PROXY_H
#define WEFT_STORE_SQLITE_SQLITE_PROXY_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_proxy_1;

int sqlite_proxy_grant_add(struct store *s, const struct store_proxy_grant *in, int64_t *id_out);
int sqlite_proxy_grant_get(struct store *s, int64_t id, struct store_proxy_grant *out);
int sqlite_proxy_grant_list(struct store *s, const char *person_id, struct store_proxy_grant **out,
                            int *n);
int sqlite_proxy_grant_revoke(struct store *s, int64_t id, const char *time, const char *by,
                              const char *reason);

#endif
