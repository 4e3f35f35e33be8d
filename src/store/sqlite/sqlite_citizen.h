/*
 * sqlite_citizen.h - SQLite implementations of the citizens' store
 * operations: objection cases with their steps, subject access requests
 * (sqlite_citizen.c).
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_CITIZEN_H
#define WEFT_STORE_SQLITE_SQLITE_CITIZEN_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_citizen_1;
extern const struct store_migration sqlite_migration_citizen_2;
extern const struct store_migration sqlite_migration_citizen_3;

int sqlite_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out);
int sqlite_objection_case(struct store *s, int64_t id, struct store_objection *out);
int sqlite_objection_list(struct store *s, const char *person_id, bool open_only,
                          struct store_objection **out, int *n);
int sqlite_objection_step_add(struct store *s, int64_t objection_id, const char *time,
                              const char *step, const char *by, const char *detail);
int sqlite_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                           int *n);
int sqlite_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out);
int sqlite_sar_get(struct store *s, int64_t id, struct store_sar *out);
int sqlite_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n);
int sqlite_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out);
int sqlite_audit_person(struct store *s, const char *person_id,
                        int (*fn)(const struct store_audit_row *, void *), void *ctx);
int sqlite_citizen_idp_add(struct store *s, const struct store_citizen_idp *in);
int sqlite_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out);
int sqlite_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n);
int sqlite_citizen_idp_remove(struct store *s, const char *name);
int sqlite_citizen_session_put(struct store *s, const struct store_citizen_session *in);
int sqlite_citizen_session_get(struct store *s, const char *id_hash,
                               struct store_citizen_session *out);
int sqlite_citizen_session_touch(struct store *s, const char *id_hash, const char *now);
int sqlite_citizen_session_revoke(struct store *s, const char *id_hash);

#endif
