/*
 * sqlite_access.h - SQLite implementations of the access subsystem's store
 * operations (sqlite_access.c) and the audit log's (sqlite_audit.c).
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_ACCESS_H
#define WEFT_STORE_SQLITE_SQLITE_ACCESS_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_access_1;
extern const struct store_migration sqlite_migration_audit_1;
extern const struct store_migration sqlite_migration_audit_2;

int sqlite_org_put(struct store *s, const char *ods, const char *name, const char *type);
int sqlite_org_get(struct store *s, const char *ods, struct store_org *out);
int sqlite_org_list(struct store *s, struct store_org **out, int *n);
int sqlite_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                         const char *to, int64_t *id_out);
int sqlite_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n);
int sqlite_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force);
int sqlite_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out);
int sqlite_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out);
int sqlite_launcher_list(struct store *s, struct store_launcher **out, int *n);
int sqlite_launcher_revoke(struct store *s, const char *name);
int sqlite_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires);
int sqlite_session_put(struct store *s, const struct store_session *in);
int sqlite_session_get(struct store *s, const char *id_hash, const char *now,
                       struct store_session *out);
int sqlite_session_revoke(struct store *s, const char *id_hash);
int sqlite_session_count(struct store *s, const char *now,
                         void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx);
int sqlite_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out);
int sqlite_breakglass_active(struct store *s, const char *user_id, const char *org,
                             const char *person_id, const char *now, char **expires_out);
int sqlite_breakglass_list(struct store *s, const char *since, struct store_breakglass **out,
                           int *n);
int sqlite_objection_set(struct store *s, const char *person_id, const char *status,
                         const char *date);
int sqlite_objection_get(struct store *s, const char *person_id, char **status_out);
int sqlite_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                      int64_t *version_out);
int sqlite_policy_current(struct store *s, int64_t *version_out, char **text_out);
int sqlite_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                        const char *user_id, const char *now, struct store_access_facts *out);

int sqlite_audit_append(struct store *s, struct store_audit_row *rows, int n,
                        store_audit_chain_fn chain, void *ctx);
int sqlite_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows);
int sqlite_audit_scan(struct store *s, int64_t from, int64_t to,
                      int (*fn)(const struct store_audit_row *, void *), void *ctx);
int sqlite_audit_search(struct store *s, const struct store_audit_filter *f,
                        int (*fn)(const struct store_audit_row *, void *), void *ctx);

#endif
