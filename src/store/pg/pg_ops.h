/*
 * pg_ops.h - the PostgreSQL backend's operations, as pg_ops.c puts them in
 * the operations table (contracts: store/store.h).  Only src/store/pg/
 * includes this.
 */
#ifndef WEFT_STORE_PG_PG_OPS_H
#define WEFT_STORE_PG_PG_OPS_H

#include "store/pg/pg_int.h"

/* pg_meta.c */
int pg_meta_get(struct store *s, const char *key, char **value_out);
int pg_meta_set(struct store *s, const char *key, const char *value);
int pg_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                  const char *token_hash, const char *cert_sha256, int64_t *id_out);
int pg_client_by_hash(struct store *s, const char *token_hash, struct store_client *out);
int pg_client_add_keys(struct store *s, const char *name, const char *org, const char *scopes,
                       const char *purpose, const char *jwks, int64_t *id_out);
int pg_client_get(struct store *s, int64_t id, struct store_client *out);
int pg_client_list(struct store *s, struct store_client **out, int *n);
int pg_client_revoke(struct store *s, int64_t id);
int pg_client_set_purpose(struct store *s, int64_t id, const char *purpose);

/* pg_person.c */
int pg_person_by_nhs(struct store *s, const char *nhs, char **person_id_out);
int pg_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                       const char *link_to_person, char **person_id_out);
int pg_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                         char **person_id_out);
int pg_person_find_nhs(struct store *s, const char *nhs, char **person_id_out);
int pg_person_get(struct store *s, const char *person_id, struct store_person *out);
int pg_person_nhs_scan(struct store *s, int (*fn)(const char *, const char *, void *), void *ctx);
int pg_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                      int64_t *count, int64_t *snapshot_out);
/* The newest committed seq: the snapshot a first page reads at. */
int pg_snapshot_now(struct pg_store *ps, int64_t *snap);
int pg_snapshot_since(struct store *s, int64_t *snapshot, char time_out[32]);

/* pg_resource.c */
/* Fill out from row i of r (columns seq, id, type, version, deleted,
 * person_id, category, source_org, source_id, feed, effective, code, status,
 * last_updated, json); the JSON gets its meta spliced in. */
void pg_row_fill(const PGresult *r, int i, struct store_row *out);
int pg_resource_put(struct store *s, const struct store_put *in, enum store_put_outcome *outcome,
                    char id_out[STORE_ID_LEN + 1], int *version_out);
int pg_resource_put_batch(struct store *s, const struct store_put *in, int n,
                          struct store_put_result *out);
int pg_resource_get(struct store *s, const char *type, const char *id, int version,
                    struct store_row *out);
int pg_resource_person(struct store *s, const char *type, const char *id, char **person_id_out);
int pg_patient_person_kept(struct store *s, const char *id, char **person_id_out, bool *kept);
int pg_resource_digest_many(struct store *s, struct store_digest_item *items, int n);
int pg_resource_digest(struct store *s, const char *type, const char *id,
                       unsigned char hash[STORE_HASH_LEN], int *version);
int pg_resource_delete(struct store *s, const char *type, const char *id);
int pg_history(struct store *s, const char *type, const char *id, int limit,
               struct store_result *out);

/* pg_search.c */
int pg_search(struct store *s, const struct store_query *q, struct store_result *out);
int pg_search_index_clear(struct store *s);
int pg_search_index_add(struct store *s, const struct store_ixitem *items, int n);

/* pg_access.c */
int pg_org_put(struct store *s, const char *ods, const char *name, const char *type);
int pg_org_get(struct store *s, const char *ods, struct store_org *out);
int pg_org_list(struct store *s, struct store_org **out, int *n);
int pg_agreement_add(struct store *s, const char *ods, const char *kind, const char *from,
                     const char *to, int64_t *id_out);
int pg_agreement_list(struct store *s, const char *ods, struct store_agreement **out, int *n);
int pg_agreement_in_force(struct store *s, const char *ods, const char *day, bool *in_force);
int pg_launcher_add(struct store *s, const struct store_launcher *in, int64_t *id_out);
int pg_launcher_by_issuer(struct store *s, const char *issuer, struct store_launcher *out);
int pg_launcher_list(struct store *s, struct store_launcher **out, int *n);
int pg_launcher_revoke(struct store *s, const char *name);
int pg_jti_use(struct store *s, const char *issuer, const char *jti, const char *expires);
int pg_session_put(struct store *s, const struct store_session *in);
int pg_session_get(struct store *s, const char *id_hash, const char *now,
                   struct store_session *out);
int pg_session_revoke(struct store *s, const char *id_hash);
int pg_session_count(struct store *s, const char *now,
                     void (*fn)(const char *kind, int64_t n, void *ctx), void *ctx);
int pg_breakglass_add(struct store *s, const struct store_breakglass *in, int64_t *id_out);
int pg_breakglass_active(struct store *s, const char *user_id, const char *org,
                         const char *person_id, const char *now, char **expires_out);
int pg_breakglass_list(struct store *s, const char *since, struct store_breakglass **out, int *n);
int pg_objection_set(struct store *s, const char *person_id, const char *status, const char *date);
int pg_objection_get(struct store *s, const char *person_id, char **status_out);
int pg_policy_put(struct store *s, const char *text, const char *sha256, const char *by,
                  int64_t *version_out);
int pg_policy_current(struct store *s, int64_t *version_out, char **text_out);
int pg_access_facts(struct store *s, const char *org, const char *day, const char *person_id,
                    const char *user_id, const char *now, struct store_access_facts *out);

/* pg_audit.c */
int pg_audit_append(struct store *s, struct store_audit_row *rows, int n,
                    store_audit_chain_fn chain, void *ctx);
int pg_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows);
int pg_audit_scan(struct store *s, int64_t from, int64_t to,
                  int (*fn)(const struct store_audit_row *, void *), void *ctx);
int pg_audit_search(struct store *s, const struct store_audit_filter *f,
                    int (*fn)(const struct store_audit_row *, void *), void *ctx);
int pg_audit_person(struct store *s, const char *person_id,
                    int (*fn)(const struct store_audit_row *, void *), void *ctx);

/* pg_identity.c */
int pg_idrec_put(struct store *s, const struct store_idrec *r, const char *const keys[4]);
int pg_idrec_candidates(struct store *s, const char *link_system, const char *const keys[4],
                        int cap, bool without_nhs, struct store_idrec **out, int *n);
int pg_idrec_person(struct store *s, const char *link_system, struct store_idrec *r);
int pg_person_nhs_link(struct store *s, struct store_person_nhs_link *l);
extern const char pg_candidates_if_new_sql[];
int pg_idrec_get(struct store *s, const char *link_system, const char *org, const char *source_id,
                 struct store_idrec *out);
int pg_idrec_of_person(struct store *s, const char *link_system, const char *person_id,
                       struct store_idrec **out, int *n);
int pg_idrec_scan(struct store *s, const char *link_system,
                  int (*fn)(const struct store_idrec *, void *), void *ctx);
int pg_iddecision_add(struct store *s, const struct store_iddecision *d, int64_t *id_out);
int pg_iddecision_add_many(struct store *s, const struct store_iddecision *d, size_t n);
int pg_iddecision_list(struct store *s, const char *org, const char *source_id, int limit,
                       struct store_iddecision **out, int *n);
int pg_idreview_add(struct store *s, const struct store_idreview *rv, int64_t *id_out);
int pg_idreview_add_many(struct store *s, const struct store_idreview *rv, size_t n, long *added);
int pg_idreview_open_for_person(struct store *s, const char *link_system, const char *person_id,
                                bool *out);
int pg_idreview_count(struct store *s, const char *status, int64_t *out);
int pg_idreview_list(struct store *s, const char *status, int limit, struct store_idreview **out,
                     int *n);
int pg_idreview_get(struct store *s, int64_t id, struct store_idreview *out);
int pg_idreview_decide(struct store *s, int64_t id, const char *status, const char *by,
                       int64_t decision_id);
int pg_idnonmatch_add(struct store *s, const char *org, const char *source_id,
                      const char *other_org, const char *other_source_id, int64_t decision_id);
int pg_idnonmatch_persons(struct store *s, const char *link_system,
                          int (*fn)(const char *person_id, void *), void *ctx);
int pg_idnonmatch_list(struct store *s, const char *org, const char *source_id,
                       struct store_idrec **out, int *n);

/* pg_feeds.c */
int pg_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out);
int pg_feed_get(struct store *s, int64_t id, struct store_feed *out);
int pg_feed_by_name(struct store *s, const char *name, struct store_feed *out);
int pg_feed_by_facility(struct store *s, const char *facility, struct store_feed *out);
int pg_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out);
int pg_feed_list(struct store *s, struct store_feed **out, int *n);
int pg_feed_set_disabled(struct store *s, int64_t id, bool disabled);
int pg_feed_count(struct store *s, int64_t feed_id, const char *day,
                  const struct store_feed_counts *add, const char *last_received,
                  const char *last_error);
int pg_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                       struct store_feed_counts *today, struct store_feed_counts *total);
int pg_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out);
int pg_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                         int64_t resources, int64_t duplicate_of, bool bump);
int pg_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id);
int pg_inbox_list(struct store *s, const struct store_inbox_filter *f, struct store_inbox_msg **out,
                  int *n);
int pg_inbox_add_many(struct store *s, const struct store_inbox_msg *in, int n, int64_t *ids_out);
int pg_inbox_claim_many(struct store *s, int n, const int64_t *feed_ids,
                        const char *const *controls, const int64_t *ids, int64_t *firsts);
int pg_inbox_unclaim(struct store *s, int64_t feed_id, const char *control_id, int64_t id);
int pg_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                   int64_t *first);
int pg_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5]);
int pg_inbox_pending_count(struct store *s, int64_t feed_id, const char *kind, int64_t *n);
int pg_inbox_add_journaled(struct store *s, const struct store_inbox_msg *in,
                           const char *journal_id, int64_t seq, int64_t *id_out, bool *added);
int pg_inbox_journal_moved(struct store *s, const char *journal_id, int64_t *seq);
int pg_inbox_set_resubmit(struct store *s, int64_t id, int64_t resubmit_of, const char *by);

/* pg_merge.c */
int pg_person_merge(struct store *s, const char *survivor, const char *retired,
                    const char *source_org, int64_t inbox_id, int64_t *merge_id_out);
int pg_person_merge_many(struct store *s, const struct store_merge_pair *v, size_t n,
                         const char *source_org, int64_t *merge_ids_out);
int pg_person_unmerge(struct store *s, int64_t merge_id);
int pg_person_merge_list(struct store *s, int limit, struct store_merge **out, int *n);
int pg_person_merged_into(struct store *s, const char *retired, char **survivor_out,
                          int64_t *merge_id_out);
int pg_person_merge_of_local(struct store *s, const char *org, const char *system,
                             const char *value, int64_t *merge_id_out);
int pg_person_split(struct store *s, const char *person_id, const char *link_system,
                    const char *org, const char *source_id, char **new_person_out);

/* pg_apps_gov.c */
int pg_app_add(struct store *s, const struct store_app *in);
int pg_app_get(struct store *s, const char *client_id, struct store_app *out);
int pg_app_list(struct store *s, struct store_app **out, int *n);
int pg_app_revoke(struct store *s, const char *client_id);
int pg_bg_review_add(struct store *s, const struct store_bg_review *in);
int pg_bg_review_list(struct store *s, struct store_bg_review **out, int *n);
int pg_policy_version_list(struct store *s, struct store_policy_version **out, int *n);
int pg_session_user_role(struct store *s, const char *user_id, char **role_out, char **org_out);

/* pg_proxy.c */
int pg_proxy_grant_add(struct store *s, const struct store_proxy_grant *in, int64_t *id_out);
int pg_proxy_grant_get(struct store *s, int64_t id, struct store_proxy_grant *out);
int pg_proxy_grant_list(struct store *s, const char *person_id, struct store_proxy_grant **out,
                        int *n);
int pg_proxy_grant_revoke(struct store *s, int64_t id, const char *time, const char *by,
                          const char *reason);

/* pg_citizen.c */
int pg_objection_put(struct store *s, const struct store_objection *in, int64_t *id_out);
int pg_objection_case(struct store *s, int64_t id, struct store_objection *out);
int pg_objection_list(struct store *s, const char *person_id, bool open_only,
                      struct store_objection **out, int *n);
int pg_objection_step_add(struct store *s, int64_t objection_id, const char *time, const char *step,
                          const char *by, const char *detail);
int pg_objection_steps(struct store *s, int64_t objection_id, struct store_objection_step **out,
                       int *n);
int pg_sar_put(struct store *s, const struct store_sar *in, int64_t *id_out);
int pg_sar_get(struct store *s, int64_t id, struct store_sar *out);
int pg_sar_list(struct store *s, const char *person_id, struct store_sar **out, int *n);
int pg_citizen_idp_add(struct store *s, const struct store_citizen_idp *in);
int pg_citizen_idp_get(struct store *s, const char *name, struct store_citizen_idp *out);
int pg_citizen_idp_list(struct store *s, struct store_citizen_idp **out, int *n);
int pg_citizen_idp_remove(struct store *s, const char *name);
int pg_citizen_session_put(struct store *s, const struct store_citizen_session *in);
int pg_citizen_session_get(struct store *s, const char *id_hash, struct store_citizen_session *out);
int pg_citizen_session_touch(struct store *s, const char *id_hash, const char *now);
int pg_citizen_session_revoke(struct store *s, const char *id_hash);

/* pg_dq.c */
int pg_dq_scan(struct store *s, int (*fn)(const struct store_dq_item *, void *), void *ctx);
int pg_dq_inbox_scan(struct store *s, int (*fn)(const struct store_dq_inbox *, void *), void *ctx);
int pg_dq_run_add(struct store *s, const struct store_dq_run *in, int64_t *id_out);
int pg_dq_run_finish(struct store *s, int64_t id, const char *finished, const char *status);
int pg_dq_run_list(struct store *s, const char *org, int limit, struct store_dq_run **out, int *n);
int pg_dq_result_add(struct store *s, const struct store_dq_result *x);
int pg_dq_result_list(struct store *s, int64_t run_id, const char *org,
                      int (*fn)(const struct store_dq_result *, void *), void *ctx);
int pg_dq_failure_add(struct store *s, const struct store_dq_failure *f);
int pg_dq_failure_list(struct store *s, int64_t run_id, const char *org,
                       int (*fn)(const struct store_dq_failure *, void *), void *ctx);

/* pg_copy.c (store_copy's table-level operations) */
int pg_copy_tables(struct store *s, char ***names, int *n);
int pg_copy_columns(struct store *s, const char *table, char ***cols, int *n);
int pg_copy_snapshot(struct store *s, bool begin);
int pg_copy_read(struct store *s, const char *table, const char *const *cols, int ncols,
                 store_row_fn fn, void *arg);
int pg_copy_write(struct store *s, const char *table, const char *const *cols, int ncols,
                  const struct store_val *vals, int nrows);
int pg_copy_clear(struct store *s, const char *table);
int pg_copy_finish(struct store *s);

/* pg_bulk.c */
int pg_bulk_job_add(struct store *s, const struct store_bulk_job *in);
int pg_bulk_job_get(struct store *s, const char *id, struct store_bulk_job *out);
int pg_bulk_job_update(struct store *s, const struct store_bulk_job *in);
int pg_bulk_job_list(struct store *s, const char *status, struct store_bulk_job **out, int *n);

#endif
