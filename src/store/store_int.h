/*
 * store_int.h - inside the store: the operations tables every backend fills
 * and the common part of a store handle.  Only src/store/ includes this.
 *
 * The public API is one header per noun group (store/records.h,
 * store/access.h, store/feeds.h, ...; store/store.h lists them) and a set of
 * thin dispatchers in src/store/store_NOUN.c that call through the noun's
 * table, s->ops->NOUN->op.  A backend is one table per noun plus its own
 * handle type whose first member is struct store (sqlite/sqlite_int.h).
 *
 * HOW TO ADD AN OPERATION (e.g. audit_export to the audit log):
 *   1. Declare the public function in the noun's header (store/audit.h:
 *      store_audit_export), with its contract and named parameters.
 *   2. Add ONE member line to that noun's table below (struct
 *      store_audit_ops), with the same named parameters:
 *          int (*audit_export)(struct store *s, ...);
 *   3. Write the dispatcher in the noun's file src/store/store_audit.c:
 *          int store_audit_export(struct store *s, ...)
 *          { return STORE_CALL(s, audit, audit_export, ...); }
 *   4. Implement it for SQLite in the noun's backend file
 *      src/store/sqlite/sqlite_audit.c (include "store/sqlite/sqlite_int.h":
 *      the db handle, statement cache, error helpers) and declare it in its
 *      header src/store/sqlite/sqlite_audit.h.
 *   5. Add ONE line to the noun's SQLite table in src/store/sqlite/sqlite_ops.c:
 *          .audit_export = sqlite_audit_export,
 *   An operation a backend leaves NULL (or a whole table left NULL) makes the
 *   dispatcher return WEFT_EUNSUPPORTED (STORE_CALL checks), so a half-built
 *   backend still links.
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

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/access.h"
#include "store/apps.h"
#include "store/audit.h"
#include "store/backup.h"
#include "store/copy.h"
#include "store/citizen.h"
#include "store/dq.h"
#include "store/proxy.h"
#include "store/bulk.h"
#include "store/feeds.h"
#include "store/gov.h"
#include "store/identity.h"
#include "store/meta.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

struct store_analytics_ops;

struct store_migration {
    const char *name; /* unique, stable, e.g. "core-1", "audit-1" */
    const char *sql;  /* one or more statements separated by ';' */
};

/*
 * One operations table per noun group.  Every operation takes the handle and
 * the same named parameters as its public function store_<op>, with the same
 * contract (the public header says it); the dispatcher may check arguments
 * first.  A NULL operation (or a NULL table) makes the dispatcher return
 * WEFT_EUNSUPPORTED.
 */

/* transactions and savepoints (store/txn.h) */
struct store_txn_ops {
    int (*begin)(struct store *s);
    int (*commit)(struct store *s);
    int (*rollback)(struct store *s);
    /* Whether the transaction begun on s is still open in the database
     * (false once the database gave it up, e.g. after a full disk or an
     * I/O error, or when none is open). */
    bool (*alive)(struct store *s);
    int (*savepoint)(struct store *s, const char *name);
    int (*release)(struct store *s, const char *name);
    int (*rollback_to)(struct store *s, const char *name);
};

/* resources, search, persons and merges (store/records.h) */
struct store_records_ops {
    int (*resource_put)(struct store *s, const struct store_put *in,
                        enum store_put_outcome *outcome, char id_out[STORE_ID_LEN + 1],
                        int *version_out);
    int (*resource_put_batch)(struct store *s, const struct store_put *in, int n,
                              struct store_put_result *out);
    int (*resource_get)(struct store *s, const char *type, const char *id, int version,
                        struct store_row *out);
    int (*resource_person)(struct store *s, const char *type, const char *id, char **person_id_out);
    int (*patient_person_kept)(struct store *s, const char *id, char **person_id_out, bool *kept);
    int (*resource_digest)(struct store *s, const char *type, const char *id,
                           unsigned char hash[STORE_HASH_LEN], int *version);
    /* may be NULL: store_resource_digest_many asks resource_digest per item */
    int (*resource_digest_many)(struct store *s, struct store_digest_item *items, int n);
    int (*resource_delete)(struct store *s, const char *type, const char *id);
    int (*search)(struct store *s, const struct store_query *q, struct store_result *out);
    int (*search_index_clear)(struct store *s);
    int (*search_index_add)(struct store *s, const struct store_ixitem *items, int n);
    int (*history)(struct store *s, const char *type, const char *id, int limit,
                   struct store_result *out);
    int (*person_by_nhs)(struct store *s, const char *nhs, char **person_id_out);
    int (*person_by_local)(struct store *s, const char *org, const char *system, const char *value,
                           const char *link_to_person, char **person_id_out);
    int (*person_get)(struct store *s, const char *person_id, struct store_person *out);
    int (*person_nhs_scan)(struct store *s, int (*fn)(const char *, const char *, void *),
                           void *ctx);
    int (*person_version)(struct store *s, const char *person_id, int64_t snapshot,
                          int64_t *max_seq, int64_t *count, int64_t *snapshot_out);
    int (*snapshot_since)(struct store *s, int64_t *snapshot, char time_out[32]);
    int (*person_find_local)(struct store *s, const char *org, const char *system,
                             const char *value, char **person_id_out);
    int (*person_merge)(struct store *s, const char *survivor, const char *retired,
                        const char *source_org, int64_t inbox_id, int64_t *merge_id_out);
    int (*person_merge_many)(struct store *s, const struct store_merge_pair *v, size_t n,
                             const char *source_org, int64_t *merge_ids_out);
    int (*person_unmerge)(struct store *s, int64_t merge_id);
    int (*person_merge_list)(struct store *s, int limit, struct store_merge **out, int *n);
    int (*person_find_nhs)(struct store *s, const char *nhs, char **person_id_out);
    int (*person_merged_into)(struct store *s, const char *retired, char **survivor_out,
                              int64_t *merge_id_out);
};

/* clients, organisations, agreements, launchers, sessions, break-glass,
 * objection state, policy (store/access.h) */
struct store_access_ops {
    int (*client_add)(struct store *s, const char *name, const char *org, const char *scopes,
                      const char *token_hash, const char *cert_sha256, int64_t *id_out);
    int (*client_by_hash)(struct store *s, const char *token_hash, struct store_client *out);
    int (*client_add_keys)(struct store *s, const char *name, const char *org, const char *scopes,
                           const char *purpose, const char *jwks, int64_t *id_out);
    int (*client_get)(struct store *s, int64_t id, struct store_client *out);
    int (*client_list)(struct store *s, struct store_client **out, int *n);
    int (*client_revoke)(struct store *s, int64_t id);
    int (*client_set_purpose)(struct store *s, int64_t id, const char *purpose);
    int (*org_put)(struct store *s, const char *ods, const char *name, const char *type);
    int (*org_get)(struct store *s, const char *ods, struct store_org *out);
    int (*org_list)(struct store *s, struct store_org **out, int *n);
    int (*agreement_add)(struct store *s, const char *ods, const char *kind, const char *from,
                         const char *to, int64_t *id_out);
    int (*agreement_list)(struct store *s, const char *ods, struct store_agreement **out, int *n);
    int (*agreement_in_force)(struct store *s, const char *ods, const char *day, bool *in_force);
    int (*launcher_add)(struct store *s, const struct store_launcher *in, int64_t *id_out);
    int (*launcher_by_issuer)(struct store *s, const char *issuer, struct store_launcher *out);
    int (*launcher_list)(struct store *s, struct store_launcher **out, int *n);
    int (*launcher_revoke)(struct store *s, const char *name);
    int (*jti_use)(struct store *s, const char *issuer, const char *jti, const char *expires);
    int (*session_put)(struct store *s, const struct store_session *in);
    int (*session_get)(struct store *s, const char *id_hash, const char *now,
                       struct store_session *out);
    int (*session_revoke)(struct store *s, const char *id_hash);
    int (*session_count)(struct store *s, const char *now,
                         void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx);
    int (*breakglass_add)(struct store *s, const struct store_breakglass *in, int64_t *id_out);
    int (*breakglass_active)(struct store *s, const char *user_id, const char *org,
                             const char *person_id, const char *now, char **expires_out);
    int (*breakglass_list)(struct store *s, const char *since, struct store_breakglass **out,
                           int *n);
    int (*objection_set)(struct store *s, const char *person_id, const char *status,
                         const char *date);
    int (*objection_get)(struct store *s, const char *person_id, char **status_out);
    int (*access_facts)(struct store *s, const char *org, const char *day, const char *person_id,
                        const char *user_id, const char *now, struct store_access_facts *out);
    int (*policy_put)(struct store *s, const char *text, const char *sha256, const char *by,
                      int64_t *version_out);
    int (*policy_current)(struct store *s, int64_t *version_out, char **text_out);
    int (*session_user_role)(struct store *s, const char *user_id, char **role_out, char **org_out);
};

/* SMART apps (store/apps.h) */
struct store_apps_ops {
    int (*app_add)(struct store *s, const struct store_app *in);
    int (*app_get)(struct store *s, const char *client_id, struct store_app *out);
    int (*app_list)(struct store *s, struct store_app **out, int *n);
    int (*app_revoke)(struct store *s, const char *client_id);
};

/* the audit log (store/audit.h) */
struct store_audit_ops {
    int (*audit_append)(struct store *s, struct store_audit_row *rows, int n,
                        store_audit_chain_fn chain, void *ctx);
    int (*audit_head)(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows);
    int (*audit_scan)(struct store *s, int64_t from, int64_t to,
                      int (*fn)(const struct store_audit_row *, void *), void *ctx);
    int (*audit_search)(struct store *s, const struct store_audit_filter *f,
                        int (*fn)(const struct store_audit_row *, void *), void *ctx);
    int (*audit_person)(struct store *s, const char *person_id,
                        int (*fn)(const struct store_audit_row *, void *), void *ctx);
};

/* the feed registry and the inbox (store/feeds.h) */
struct store_feeds_ops {
    int (*feed_add)(struct store *s, const struct store_feed *in, int64_t *id_out);
    int (*feed_get)(struct store *s, int64_t id, struct store_feed *out);
    int (*feed_by_name)(struct store *s, const char *name, struct store_feed *out);
    int (*feed_by_facility)(struct store *s, const char *facility, struct store_feed *out);
    int (*feed_by_client)(struct store *s, int64_t client_id, struct store_feed *out);
    int (*feed_set_disabled)(struct store *s, int64_t id, bool disabled);
    int (*feed_list)(struct store *s, struct store_feed **out, int *n);
    int (*feed_count)(struct store *s, int64_t feed_id, const char *day,
                      const struct store_feed_counts *add, const char *last_received,
                      const char *last_error);
    int (*feed_counts_get)(struct store *s, int64_t feed_id, const char *day,
                           struct store_feed_counts *today, struct store_feed_counts *total);
    int (*inbox_add)(struct store *s, const struct store_inbox_msg *in, int64_t *id_out);
    int (*inbox_set_outcome)(struct store *s, int64_t id, const char *outcome, const char *error,
                             int64_t resources, int64_t duplicate_of, bool bump);
    int (*inbox_set_feed)(struct store *s, int64_t id, int64_t feed_id);
    int (*inbox_list)(struct store *s, const struct store_inbox_filter *f,
                      struct store_inbox_msg **out, int *n);
    int (*inbox_claim)(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                       int64_t *first);
    int (*inbox_add_many)(struct store *s, const struct store_inbox_msg *in, int n,
                          int64_t *ids_out);
    int (*inbox_claim_many)(struct store *s, int n, const int64_t *feed_ids,
                            const char *const *controls, const int64_t *ids, int64_t *firsts);
    int (*inbox_unclaim)(struct store *s, int64_t feed_id, const char *control_id, int64_t id);
    int (*inbox_outcomes)(struct store *s, int64_t feed_id, int64_t out[5]);
    int (*inbox_pending_count)(struct store *s, int64_t feed_id, const char *kind, int64_t *n);
    int (*inbox_set_resubmit)(struct store *s, int64_t id, int64_t resubmit_of, const char *by);
    int (*inbox_add_journaled)(struct store *s, const struct store_inbox_msg *in,
                               const char *journal_id, int64_t seq, int64_t *id_out, bool *added);
    int (*inbox_journal_moved)(struct store *s, const char *journal_id, int64_t *seq);
};

/* the master person index (store/identity.h) */
struct store_identity_ops {
    int (*idrec_put)(struct store *s, const struct store_idrec *r, const char *const keys[4]);
    int (*idrec_candidates)(struct store *s, const char *link_system, const char *const keys[4],
                            int cap, bool without_nhs, struct store_idrec **out, int *n);
    int (*idrec_person)(struct store *s, const char *link_system, struct store_idrec *r);
    int (*person_nhs_link)(struct store *s, struct store_person_nhs_link *l);
    int (*idrec_get)(struct store *s, const char *link_system, const char *org,
                     const char *source_id, struct store_idrec *out);
    int (*idrec_of_person)(struct store *s, const char *link_system, const char *person_id,
                           struct store_idrec **out, int *n);
    int (*idrec_scan)(struct store *s, const char *link_system,
                      int (*fn)(const struct store_idrec *, void *), void *ctx);
    int (*iddecision_add)(struct store *s, const struct store_iddecision *d, int64_t *id_out);
    int (*iddecision_add_many)(struct store *s, const struct store_iddecision *d, size_t n);
    int (*iddecision_list)(struct store *s, const char *org, const char *source_id, int limit,
                           struct store_iddecision **out, int *n);
    int (*idreview_add)(struct store *s, const struct store_idreview *r, int64_t *id_out);
    int (*idreview_add_many)(struct store *s, const struct store_idreview *r, size_t n,
                             long *added);
    int (*idreview_list)(struct store *s, const char *status, int limit,
                         struct store_idreview **out, int *n);
    int (*idreview_open_for_person)(struct store *s, const char *link_system, const char *person_id,
                                    bool *out);
    int (*idreview_count)(struct store *s, const char *status, int64_t *out);
    int (*idreview_get)(struct store *s, int64_t id, struct store_idreview *out);
    int (*idreview_decide)(struct store *s, int64_t id, const char *status, const char *by,
                           int64_t decision_id);
    int (*idnonmatch_add)(struct store *s, const char *org, const char *source_id,
                          const char *other_org, const char *other_source_id, int64_t decision_id);
    int (*idnonmatch_persons)(struct store *s, const char *link_system,
                              int (*fn)(const char *person_id, void *), void *ctx);
    int (*idnonmatch_list)(struct store *s, const char *org, const char *source_id,
                           struct store_idrec **out, int *n);
    int (*person_split)(struct store *s, const char *person_id, const char *link_system,
                        const char *org, const char *source_id, char **new_person_out);
    int (*person_merge_of_local)(struct store *s, const char *org, const char *system,
                                 const char *value, int64_t *merge_id_out);
};

/* data quality (store/dq.h) */
struct store_dq_ops {
    int (*dq_scan)(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx);
    int (*dq_inbox_scan)(struct store *s, int (*fn)(const struct store_dq_inbox *, void *),
                         void *ctx);
    int (*dq_run_add)(struct store *s, const struct store_dq_run *in, int64_t *id_out);
    int (*dq_run_finish)(struct store *s, int64_t id, const char *finished, const char *status);
    int (*dq_run_list)(struct store *s, const char *org, int limit, struct store_dq_run **out,
                       int *n);
    int (*dq_result_add)(struct store *s, const struct store_dq_result *r);
    int (*dq_result_list)(struct store *s, int64_t run_id, const char *org,
                          int (*fn)(const struct store_dq_result *, void *), void *ctx);
    int (*dq_failure_add)(struct store *s, const struct store_dq_failure *f);
    int (*dq_failure_list)(struct store *s, int64_t run_id, const char *org,
                           int (*fn)(const struct store_dq_failure *, void *), void *ctx);
};

/* the governance console (store/gov.h) */
struct store_gov_ops {
    int (*bg_review_add)(struct store *s, const struct store_bg_review *in);
    int (*bg_review_list)(struct store *s, struct store_bg_review **out, int *n);
    int (*policy_version_list)(struct store *s, struct store_policy_version **out, int *n);
};

/* objection cases, subject access requests, citizen sign-in
 * (store/citizen.h) */
struct store_citizen_ops {
    int (*objection_put)(struct store *s, const struct store_objection *in, int64_t *id_out);
    int (*objection_case)(struct store *s, int64_t id, struct store_objection *out);
    int (*objection_list)(struct store *s, const char *person_id, bool open_only,
                          struct store_objection **out, int *n);
    int (*objection_step_add)(struct store *s, int64_t objection_id, const char *time,
                              const char *step, const char *by, const char *detail);
    int (*objection_steps)(struct store *s, int64_t objection_id, struct store_objection_step **out,
                           int *n);
    int (*sar_put)(struct store *s, const struct store_sar *in, int64_t *id_out);
    int (*sar_get)(struct store *s, int64_t id, struct store_sar *out);
    int (*sar_list)(struct store *s, const char *person_id, struct store_sar **out, int *n);
    int (*citizen_idp_add)(struct store *s, const struct store_citizen_idp *in);
    int (*citizen_idp_get)(struct store *s, const char *name, struct store_citizen_idp *out);
    int (*citizen_idp_list)(struct store *s, struct store_citizen_idp **out, int *n);
    int (*citizen_idp_remove)(struct store *s, const char *name);
    int (*citizen_session_put)(struct store *s, const struct store_citizen_session *in);
    int (*citizen_session_get)(struct store *s, const char *id_hash,
                               struct store_citizen_session *out);
    int (*citizen_session_touch)(struct store *s, const char *id_hash, const char *now);
    int (*citizen_session_revoke)(struct store *s, const char *id_hash);
};

/* proxy access grants (store/proxy.h) */
struct store_proxy_ops {
    int (*grant_add)(struct store *s, const struct store_proxy_grant *in, int64_t *id_out);
    int (*grant_get)(struct store *s, int64_t id, struct store_proxy_grant *out);
    int (*grant_list)(struct store *s, const char *person_id, struct store_proxy_grant **out,
                      int *n);
    int (*grant_revoke)(struct store *s, int64_t id, const char *time, const char *by,
                        const char *reason);
};

/* FHIR Bulk Data export jobs (store/bulk.h) */
struct store_bulk_ops {
    int (*job_add)(struct store *s, const struct store_bulk_job *in);
    int (*job_get)(struct store *s, const char *id, struct store_bulk_job *out);
    int (*job_update)(struct store *s, const struct store_bulk_job *in);
    int (*job_list)(struct store *s, const char *status, struct store_bulk_job **out, int *n);
};

/* Table-level access for copying a region between stores (store/copy.h,
 * store_copy.c).  A value as read from, or written to, a column: */
enum store_val_kind {
    STORE_VAL_NULL,
    STORE_VAL_INT,
    STORE_VAL_REAL,
    STORE_VAL_TEXT,
    STORE_VAL_BLOB
};
struct store_val {
    enum store_val_kind kind;
    int64_t i;     /* INT (booleans are 0/1) */
    double d;      /* REAL */
    const char *p; /* TEXT, BLOB: len bytes (valid during the callback only) */
    size_t len;
};
typedef int (*store_row_fn)(void *arg, const struct store_val *vals, int n);
struct store_copy_ops {
    /* the schema's tables but schema_migration: malloc'd names */
    int (*tables)(struct store *s, char ***names, int *n);
    /* a table's columns, in the schema's order: malloc'd names */
    int (*columns)(struct store *s, const char *table, char ***cols, int *n);
    /* begin (true) or end (false) one read-only snapshot that the reads
     * below see (no writer waits for it) */
    int (*snapshot)(struct store *s, bool begin);
    /* every row of table, columns cols, to fn (a non-zero return stops
     * and is returned) */
    int (*read)(struct store *s, const char *table, const char *const *cols, int ncols,
                store_row_fn fn, void *arg);
    /* insert nrows rows (ncols values each, row-major) as given, in the
     * open transaction */
    int (*write)(struct store *s, const char *table, const char *const *cols, int ncols,
                 const struct store_val *vals, int nrows);
    /* delete every row of table, in the open transaction */
    int (*clear)(struct store *s, const char *table);
    /* after the writes, in the transaction: what the backend derives (the
     * sequences' next values, SQLite's id keys) */
    int (*finish)(struct store *s);
};

/* A backend: the handle's life, schema, backup and settings, and its noun tables. */
struct store_ops {
    const char *name; /* "sqlite", "PostgreSQL": named in errors */
    void (*close)(struct store *s);
    int (*migrate)(struct store *s, int *from_version, int *to_version);
    int (*schema_version)(struct store *s, int *version);
    int (*schema_pending)(struct store *s, int *pending);
    int (*bulk)(struct store *s, bool on);
    int (*writer)(struct store *s); /* NULL: no upkeep to move off the writer */
    /* store_job_lock (store.h); NULL: every job is this handle's */
    int (*job_lock)(struct store *s, const char *job, bool *mine);
    /* store_lock_keys (store.h); NULL: writers take turns anyway (SQLite) */
    int (*lock_keys)(struct store *s, const uint32_t *keys, int n);
    int (*size_bytes)(struct store *s, int64_t *bytes); /* store_size_bytes (store.h) */
    int (*ping)(struct store *s); /* store_ping (store.h); NULL: always answers */
    int (*backup)(struct store *s, const char *dest, struct store_backup_info *info);
    int (*meta_get)(struct store *s, const char *key, char **value_out);
    int (*meta_set)(struct store *s, const char *key, const char *value);
    const struct store_txn_ops *txn;
    const struct store_records_ops *records;
    const struct store_access_ops *access;
    const struct store_apps_ops *apps;
    const struct store_audit_ops *audit;
    const struct store_feeds_ops *feeds;
    const struct store_identity_ops *identity;
    const struct store_dq_ops *dq;
    const struct store_gov_ops *gov;
    const struct store_citizen_ops *citizen;
    const struct store_analytics_ops *analytics; /* store/analytics_int.h */
    const struct store_proxy_ops *proxy;
    const struct store_copy_ops *copy;        /* store/copy.h */
    const struct store_bulk_ops *bulk_export; /* store/bulk.h */
};

/* The common head of every backend handle. */
struct store {
    const struct store_ops *ops;
    int txn_depth;            /* explicit transactions open (store_begin nesting) */
    struct store_txn *txn;    /* the transaction object open on this handle, or NULL */
    struct store_txn own;     /* the object of a transaction begun by store_begin() */
    char errmsg[512];         /* last error of this handle, see store_errmsg() */
    unsigned long txn_serial; /* the open transaction's number, unique in the process
                               * (store_txn_serial_next); meaningful while txn_depth > 0 */
    bool raced;               /* an operation met another writer (store_raced) */
    long keys_locked;         /* store_lock_keys' keys in the open transaction */
    bool holds_shared;        /* the open transaction holds a lock every writer may need
                               * (store_holds_shared) */
};

/* After a call that took such a lock (an audit append, a merge) in the open
 * transaction of a backend whose writers overlap. */
static inline void store_note_shared(struct store *s)
{
    if (s->txn_depth > 0 && s->ops->lock_keys)
        s->holds_shared = true;
}

/* A new transaction number, unique in the process and never 0: each
 * backend's begin stores one in s->txn_serial, so that a cache may hold
 * what one transaction read (the identity model, identity/mpi.c). */
unsigned long store_txn_serial_next(void);

/* Record the last error message of s (printf-style); returns code so that
 * backends can write `return store_fail(s, WEFT_EDB, "...", ...)`. */
int store_fail(struct store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Dispatch helpers: WEFT_EUNSUPPORTED when the backend lacks the operation.
 * STORE_CALL(s, noun, op, args...) calls s->ops->noun->op(s, args...);
 * STORE_CORE(s, op, args...) an operation of the backend's own table. */
#define STORE_UNSUPPORTED(s, op)                                                                   \
    store_fail((s), WEFT_EUNSUPPORTED, "not implemented on %s yet: %s", (s)->ops->name, #op)
#define STORE_CALL(s, noun, op, ...)                                                               \
    (assert((s) && (s)->ops), (s)->ops->noun && (s)->ops->noun->op                                 \
                                  ? (s)->ops->noun->op((s), __VA_ARGS__)                           \
                                  : STORE_UNSUPPORTED(s, op))
#define STORE_CALL0(s, noun, op)                                                                   \
    (assert((s) && (s)->ops),                                                                      \
     (s)->ops->noun && (s)->ops->noun->op ? (s)->ops->noun->op((s)) : STORE_UNSUPPORTED(s, op))
#define STORE_CORE(s, op, ...)                                                                     \
    ((s)->ops->op ? (s)->ops->op((s), __VA_ARGS__) : STORE_UNSUPPORTED(s, op))

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
int pg_store_open(struct store **out, const char *conninfo, bool create, char **errmsg);
/* ... and restore functions (store_restore picks one by URL). */
int sqlite_store_restore(const char *src, const char *path, struct store_backup_info *info,
                         char **errmsg);

#endif
