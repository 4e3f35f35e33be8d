/*
 * store_int.h - inside the store: the operations table every backend fills
 * and the common part of a store handle.  Only src/store/ includes this.
 *
 * The public API (store.h) is a set of thin dispatchers in store.c (and, for
 * other subsystems, in their own src/store/store_NOUN.c) that call through
 * s->ops.  A backend is a table of operations plus its own handle type whose
 * first member is struct store (src/store/sqlite/sqlite_int.h).
 *
 * HOW TO ADD AN OPERATION (e.g. audit_append for the audit log):
 *   1. Declare the public function in store.h (store_audit_append), with its
 *      contract.
 *   2. Add ONE member line to struct store_ops below, in the block for other
 *      subsystems:   int (*audit_append)(struct store *, ...);
 *   3. Write the dispatcher in your own file src/store/store_audit.c:
 *          int store_audit_append(struct store *s, ...)
 *          { return STORE_CALL(s, audit_append, ...); }
 *   4. Implement it for SQLite in your own file src/store/sqlite/sqlite_audit.c
 *      (include "store/sqlite/sqlite_int.h": the db handle, statement cache,
 *      error helpers) and declare it in your own header
 *      src/store/sqlite/sqlite_audit.h.
 *   5. Add ONE line to the SQLite ops table in src/store/sqlite/sqlite_ops.c:
 *          .audit_append = sqlite_audit_append,
 *      and ONE #include of your header at the top of that file (once per file).
 *   An operation a backend leaves NULL makes the dispatcher return
 *   WEFT_EUNSUPPORTED (STORE_CALL checks), so a half-built backend still links.
 *
 * HOW TO ADD A MIGRATION (a new table or index):
 *   1. In your own backend file define
 *          const struct store_migration sqlite_migration_audit_1 = {
 *              "audit-1", "CREATE TABLE audit_entry (...); CREATE INDEX ...;"};
 *      Names are unique and never change; the SQL never changes once
 *      committed (forward-only: fix mistakes with a new migration).
 *   2. Add ONE line to the list in src/store/sqlite/sqlite_migrate.c:
 *          &sqlite_migration_audit_1,
 *      and declare it (extern) in your header.
 *   Migrations run in list order; each one is applied at most once and is
 *   recorded by name in the schema_migration table, so lines added by two
 *   people at once never clash.  The schema version is the number of applied
 *   migrations.  Append new lines at the end of the list.
 *   Keep SQL portable (TEXT, INTEGER, BLOB, plain CREATE TABLE/INDEX): the
 *   PostgreSQL backend will carry the same migrations in its own dialect.
 */
#ifndef WEFT_STORE_STORE_INT_H
#define WEFT_STORE_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct store_analytics_ops;

struct store_migration {
    const char *name; /* unique, stable, e.g. "core-1", "audit-1" */
    const char *sql;  /* one or more statements separated by ';' */
};

struct store_ops {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(struct store *);
    int (*migrate)(struct store *, int *from_version, int *to_version);
    int (*schema_version)(struct store *, int *version);
    int (*schema_pending)(struct store *, int *pending);
    int (*begin)(struct store *);
    int (*commit)(struct store *);
    int (*rollback)(struct store *);
    int (*bulk)(struct store *, bool on);
    int (*backup)(struct store *, const char *dest, struct store_backup_info *);

    /* resources */
    int (*resource_put)(struct store *, const struct store_put *, enum store_put_outcome *,
                        char id_out[STORE_ID_LEN + 1], int *version_out);
    int (*resource_get)(struct store *, const char *type, const char *id, int version,
                        struct store_row *);
    int (*resource_delete)(struct store *, const char *type, const char *id);
    int (*resource_person)(struct store *, const char *type, const char *id, char **person_id_out);
    int (*resource_digest)(struct store *, const char *type, const char *id,
                           unsigned char hash[STORE_HASH_LEN], int *version);
    int (*search)(struct store *, const struct store_query *, struct store_result *);
    int (*history)(struct store *, const char *type, const char *id, int limit,
                   struct store_result *);

    /* persons */
    int (*person_by_nhs)(struct store *, const char *nhs, char **person_id_out);
    int (*person_by_local)(struct store *, const char *org, const char *system, const char *value,
                           const char *link_to_person, char **person_id_out);
    int (*person_get)(struct store *, const char *person_id, struct store_person *);
    int (*person_version)(struct store *, const char *person_id, int64_t snapshot, int64_t *max_seq,
                          int64_t *count, int64_t *snapshot_out);
    int (*person_find_local)(struct store *, const char *org, const char *system, const char *value,
                             char **person_id_out);

    /* clients */
    int (*client_add)(struct store *, const char *name, const char *org, const char *scopes,
                      const char *token_hash, int64_t *id_out);
    int (*client_by_hash)(struct store *, const char *token_hash, struct store_client *);
    int (*client_list)(struct store *, struct store_client **out, int *n);
    int (*client_revoke)(struct store *, int64_t id);

    /* meta */
    int (*meta_get)(struct store *, const char *key, char **value_out);
    int (*meta_set)(struct store *, const char *key, const char *value);

    /* ---- other subsystems: one line per operation below this mark ---- */
    /* access (src/store/store_access.c, sqlite/sqlite_access.c) */
    int (*org_put)(struct store *, const char *, const char *, const char *);
    int (*org_get)(struct store *, const char *, struct store_org *);
    int (*org_list)(struct store *, struct store_org **, int *);
    int (*agreement_add)(struct store *, const char *, const char *, const char *, const char *,
                         int64_t *);
    int (*agreement_list)(struct store *, const char *, struct store_agreement **, int *);
    int (*agreement_in_force)(struct store *, const char *, const char *, bool *);
    int (*launcher_add)(struct store *, const struct store_launcher *, int64_t *);
    int (*launcher_by_issuer)(struct store *, const char *, struct store_launcher *);
    int (*launcher_list)(struct store *, struct store_launcher **, int *);
    int (*launcher_revoke)(struct store *, const char *);
    int (*jti_use)(struct store *, const char *, const char *, const char *);
    int (*session_put)(struct store *, const struct store_session *);
    int (*session_get)(struct store *, const char *, const char *, struct store_session *);
    int (*session_revoke)(struct store *, const char *);
    int (*session_count)(struct store *, const char *, void (*)(const char *, int64_t, void *),
                         void *);
    int (*breakglass_add)(struct store *, const struct store_breakglass *, int64_t *);
    int (*breakglass_active)(struct store *, const char *, const char *, const char *, const char *,
                             char **);
    int (*breakglass_list)(struct store *, const char *, struct store_breakglass **, int *);
    int (*objection_set)(struct store *, const char *, const char *, const char *);
    int (*objection_get)(struct store *, const char *, char **);
    int (*policy_put)(struct store *, const char *, const char *, const char *, int64_t *);
    int (*policy_current)(struct store *, int64_t *, char **);
    int (*access_facts)(struct store *, const char *, const char *, const char *, const char *,
                        const char *, struct store_access_facts *);
    /* audit (src/store/store_audit.c, sqlite/sqlite_audit.c) */
    int (*audit_append)(struct store *, struct store_audit_row *, int, store_audit_chain_fn,
                        void *);
    int (*audit_head)(struct store *, int64_t *, unsigned char[32], int64_t *);
    int (*audit_scan)(struct store *, int64_t, int64_t,
                      int (*)(const struct store_audit_row *, void *), void *);
    int (*audit_search)(struct store *, const struct store_audit_filter *,
                        int (*)(const struct store_audit_row *, void *), void *);
    /* feeds, inbox, merges (src/store/store_feeds.c, sqlite/sqlite_feeds.c, sqlite_merge.c) */
    int (*savepoint)(struct store *, const char *, int);
    int (*checkpoint)(struct store *, int);
    int (*feed_add)(struct store *, const struct store_feed *, int64_t *);
    int (*feed_get)(struct store *, int64_t, const char *, const char *, int64_t,
                    struct store_feed *);
    int (*feed_list)(struct store *, struct store_feed **, int *);
    int (*feed_set_disabled)(struct store *, int64_t, bool);
    int (*feed_count)(struct store *, int64_t, const char *, const struct store_feed_counts *,
                      const char *, const char *);
    int (*feed_counts_get)(struct store *, int64_t, const char *, struct store_feed_counts *,
                           struct store_feed_counts *);
    int (*inbox_add)(struct store *, const struct store_inbox_msg *, int64_t *);
    int (*inbox_set_outcome)(struct store *, int64_t, const char *, const char *, int64_t, int64_t,
                             bool);
    int (*inbox_set_feed)(struct store *, int64_t, int64_t);
    int (*inbox_list)(struct store *, const struct store_inbox_filter *, struct store_inbox_msg **,
                      int *);
    int (*inbox_claim)(struct store *, int64_t, const char *, int64_t, int64_t *);
    int (*inbox_outcomes)(struct store *, int64_t, int64_t[5]);
    int (*person_merge)(struct store *, const char *, const char *, const char *, int64_t,
                        int64_t *);
    int (*person_unmerge)(struct store *, int64_t);
    int (*person_merge_list)(struct store *, int, struct store_merge **, int *);
    int (*person_find_nhs)(struct store *, const char *, char **);
    int (*person_merged_into)(struct store *, const char *, char **, int64_t *);
    /* SMART apps (src/store/store_access.c, sqlite/sqlite_app.c) */
    int (*app_add)(struct store *, const struct store_app *);
    int (*app_get)(struct store *, const char *, struct store_app *);
    int (*app_list)(struct store *, struct store_app **, int *);
    int (*app_revoke)(struct store *, const char *);
    /* data quality (src/store/store_dq.c, sqlite/sqlite_dq.c) */
    int (*dq_scan)(struct store *, int (*)(const struct store_dq_item *, void *), void *);
    int (*dq_inbox_scan)(struct store *, int (*)(const struct store_dq_inbox *, void *), void *);
    int (*dq_run_add)(struct store *, const struct store_dq_run *, int64_t *);
    int (*dq_run_finish)(struct store *, int64_t, const char *, const char *);
    int (*dq_run_list)(struct store *, const char *, int, struct store_dq_run **, int *);
    int (*dq_result_add)(struct store *, const struct store_dq_result *);
    int (*dq_result_list)(struct store *, int64_t, const char *,
                          int (*)(const struct store_dq_result *, void *), void *);
    int (*dq_failure_add)(struct store *, const struct store_dq_failure *);
    int (*dq_failure_list)(struct store *, int64_t, const char *,
                           int (*)(const struct store_dq_failure *, void *), void *);
    /* governance console (src/store/store_gov.c, sqlite/sqlite_gov.c) */
    int (*bg_review_add)(struct store *, const struct store_bg_review *);
    int (*bg_review_list)(struct store *, struct store_bg_review **, int *);
    int (*policy_version_list)(struct store *, struct store_policy_version **, int *);
    /* citizens (src/store/store_citizen.c, sqlite/sqlite_citizen.c) */
    int (*objection_put)(struct store *, const struct store_objection *, int64_t *);
    int (*objection_case)(struct store *, int64_t, struct store_objection *);
    int (*objection_list)(struct store *, const char *, bool, struct store_objection **, int *);
    int (*objection_step_add)(struct store *, int64_t, const char *, const char *, const char *,
                              const char *);
    int (*objection_steps)(struct store *, int64_t, struct store_objection_step **, int *);
    int (*sar_put)(struct store *, const struct store_sar *, int64_t *);
    int (*sar_get)(struct store *, int64_t, struct store_sar *);
    int (*sar_list)(struct store *, const char *, struct store_sar **, int *);
    int (*session_user_role)(struct store *, const char *, char **, char **);
    int (*audit_person)(struct store *, const char *,
                        int (*)(const struct store_audit_row *, void *), void *);
    int (*citizen_idp_add)(struct store *, const struct store_citizen_idp *);
    int (*citizen_idp_get)(struct store *, const char *, struct store_citizen_idp *);
    int (*citizen_idp_list)(struct store *, struct store_citizen_idp **, int *);
    int (*citizen_idp_remove)(struct store *, const char *);
    int (*citizen_session_put)(struct store *, const struct store_citizen_session *);
    int (*citizen_session_get)(struct store *, const char *, struct store_citizen_session *);
    int (*citizen_session_touch)(struct store *, const char *, const char *);
    int (*citizen_session_revoke)(struct store *, const char *);
    /* identity (src/store/store_identity.c, sqlite/sqlite_identity.c) */
    int (*idrec_put)(struct store *, const struct store_idrec *, const char *const[4]);
    int (*idrec_candidates)(struct store *, const char *, const char *const[4], int, bool,
                            struct store_idrec **, int *);
    int (*idrec_get)(struct store *, const char *, const char *, const char *,
                     struct store_idrec *);
    int (*idrec_of_person)(struct store *, const char *, const char *, struct store_idrec **,
                           int *);
    int (*idrec_scan)(struct store *, const char *, int (*)(const struct store_idrec *, void *),
                      void *);
    int (*iddecision_add)(struct store *, const struct store_iddecision *, int64_t *);
    int (*iddecision_list)(struct store *, const char *, const char *, int,
                           struct store_iddecision **, int *);
    int (*idreview_add)(struct store *, const struct store_idreview *, int64_t *);
    int (*idreview_list)(struct store *, const char *, int, struct store_idreview **, int *);
    int (*idreview_get)(struct store *, int64_t, struct store_idreview *);
    int (*idreview_decide)(struct store *, int64_t, const char *, const char *, int64_t);
    int (*idnonmatch_add)(struct store *, const char *, const char *, const char *, const char *,
                          int64_t);
    int (*idnonmatch_list)(struct store *, const char *, const char *, struct store_idrec **,
                           int *);
    int (*person_split)(struct store *, const char *, const char *, const char *, const char *,
                        char **);
    int (*person_merge_of_local)(struct store *, const char *, const char *, const char *,
                                 int64_t *);
    /* analytics: its own table (store/analytics_int.h); NULL: unsupported */
    const struct store_analytics_ops *analytics;
};

/* The common head of every backend handle. */
struct store {
    const struct store_ops *ops;
    int txn_depth;    /* explicit transactions open (store_begin nesting) */
    char errmsg[512]; /* last error of this handle, see store_errmsg() */
};

/* Record the last error message of s (printf-style); returns code so that
 * backends can write `return store_fail(s, WEFT_EDB, "...", ...)`. */
int store_fail(struct store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Dispatch helper: WEFT_EUNSUPPORTED when the backend lacks the operation. */
#define STORE_CALL(s, op, ...)                                                                     \
    ((s)->ops->op ? (s)->ops->op((s), __VA_ARGS__)                                                 \
                  : store_fail((s), WEFT_EUNSUPPORTED, "operation %s not supported by %s", #op,    \
                               (s)->ops->name))
#define STORE_CALL0(s, op)                                                                         \
    ((s)->ops->op ? (s)->ops->op((s))                                                              \
                  : store_fail((s), WEFT_EUNSUPPORTED, "operation %s not supported by %s", #op,    \
                               (s)->ops->name))

/* The stored JSON (without meta.versionId/lastUpdated) with those two added
 * to its top-level meta (created when absent).  Returns a malloc'd string the
 * caller frees; its length in *len_out. */
char *store_json_with_meta(const char *json, size_t len, int version, const char *last_updated,
                           size_t *len_out);
/* The same into dst, which the caller sizes len + STORE_META_ADD_MAX(strlen
 * of last_updated) + 1; returns the length written (NUL-terminated). */
#define STORE_META_ADD_MAX(lu_len) (56 + (lu_len))
size_t store_json_with_meta_into(char *dst, const char *json, size_t len, int version,
                                 const char *last_updated);

/* Backends' open functions (store_open picks one by URL). */
int sqlite_store_open(struct store **out, const char *path, bool create, char **errmsg);
/* ... and restore functions (store_restore picks one by URL). */
int sqlite_store_restore(const char *src, const char *path, struct store_backup_info *info,
                         char **errmsg);

#endif
