/*
 * pg_ops.c - the PostgreSQL backend's tables of operations, one per noun
 * group (store/store_int.h).  An operation not listed here - or a whole
 * table left out - is not built for PostgreSQL yet: the dispatcher answers
 * WEFT_EUNSUPPORTED with "not implemented on PostgreSQL yet: <op>", never a
 * silent success.  backup refuses, naming PostgreSQL's own tools
 * (docs/OPERATIONS.md).
 */
#include "store/pg/pg_ops.h"
/* other subsystems' pg headers, one #include per file, below this line */
#include "store/pg/pg_analytics.h"

static const struct store_txn_ops pg_txn_ops = {
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .alive = pg_alive,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
};

static const struct store_records_ops pg_records_ops = {
    .resource_put = pg_resource_put,
    .resource_put_batch = pg_resource_put_batch,
    .resource_get = pg_resource_get,
    .resource_person = pg_resource_person,
    .patient_person_kept = pg_patient_person_kept,
    .resource_digest = pg_resource_digest,
    .resource_digest_many = pg_resource_digest_many,
    .resource_delete = pg_resource_delete,
    .search = pg_search,
    .search_index_clear = pg_search_index_clear,
    .search_index_add = pg_search_index_add,
    .history = pg_history,
    .person_by_nhs = pg_person_by_nhs,
    .person_by_local = pg_person_by_local,
    .person_get = pg_person_get,
    .person_nhs_scan = pg_person_nhs_scan,
    .person_version = pg_person_version,
    .snapshot_since = pg_snapshot_since,
    .person_find_local = pg_person_find_local,
    .person_find_nhs = pg_person_find_nhs,
    .person_merge = pg_person_merge,
    .person_merge_many = pg_person_merge_many,
    .person_unmerge = pg_person_unmerge,
    .person_merge_list = pg_person_merge_list,
    .person_merged_into = pg_person_merged_into,
};

static const struct store_access_ops pg_access_ops = {
    .client_add = pg_client_add,
    .client_by_hash = pg_client_by_hash,
    .client_add_keys = pg_client_add_keys,
    .client_get = pg_client_get,
    .client_list = pg_client_list,
    .client_revoke = pg_client_revoke,
    .client_set_purpose = pg_client_set_purpose,
    .org_put = pg_org_put,
    .org_get = pg_org_get,
    .org_list = pg_org_list,
    .agreement_add = pg_agreement_add,
    .agreement_list = pg_agreement_list,
    .agreement_in_force = pg_agreement_in_force,
    .launcher_add = pg_launcher_add,
    .launcher_by_issuer = pg_launcher_by_issuer,
    .launcher_list = pg_launcher_list,
    .launcher_revoke = pg_launcher_revoke,
    .jti_use = pg_jti_use,
    .session_put = pg_session_put,
    .session_get = pg_session_get,
    .session_revoke = pg_session_revoke,
    .session_count = pg_session_count,
    .breakglass_add = pg_breakglass_add,
    .breakglass_active = pg_breakglass_active,
    .breakglass_list = pg_breakglass_list,
    .objection_set = pg_objection_set,
    .objection_get = pg_objection_get,
    .access_facts = pg_access_facts,
    .policy_put = pg_policy_put,
    .policy_current = pg_policy_current,
    .session_user_role = pg_session_user_role,
};

static const struct store_audit_ops pg_audit_ops = {
    .audit_append = pg_audit_append,
    .audit_head = pg_audit_head,
    .audit_scan = pg_audit_scan,
    .audit_search = pg_audit_search,
    .audit_person = pg_audit_person,
};

static const struct store_feeds_ops pg_feeds_ops = {
    .feed_add = pg_feed_add,
    .feed_get = pg_feed_get,
    .feed_by_name = pg_feed_by_name,
    .feed_by_facility = pg_feed_by_facility,
    .feed_by_client = pg_feed_by_client,
    .feed_set_disabled = pg_feed_set_disabled,
    .feed_list = pg_feed_list,
    .feed_count = pg_feed_count,
    .feed_counts_get = pg_feed_counts_get,
    .inbox_add = pg_inbox_add,
    .inbox_set_outcome = pg_inbox_set_outcome,
    .inbox_set_feed = pg_inbox_set_feed,
    .inbox_list = pg_inbox_list,
    .inbox_claim = pg_inbox_claim,
    .inbox_add_many = pg_inbox_add_many,
    .inbox_claim_many = pg_inbox_claim_many,
    .inbox_unclaim = pg_inbox_unclaim,
    .inbox_outcomes = pg_inbox_outcomes,
    .inbox_pending_count = pg_inbox_pending_count,
    .inbox_add_journaled = pg_inbox_add_journaled,
    .inbox_journal_moved = pg_inbox_journal_moved,
    .inbox_set_resubmit = pg_inbox_set_resubmit,
};

static const struct store_identity_ops pg_identity_ops = {
    .idrec_put = pg_idrec_put,
    .idrec_candidates = pg_idrec_candidates,
    .idrec_person = pg_idrec_person,
    .person_nhs_link = pg_person_nhs_link,
    .idrec_get = pg_idrec_get,
    .idrec_of_person = pg_idrec_of_person,
    .idrec_scan = pg_idrec_scan,
    .iddecision_add = pg_iddecision_add,
    .iddecision_add_many = pg_iddecision_add_many,
    .iddecision_list = pg_iddecision_list,
    .idreview_add = pg_idreview_add,
    .idreview_add_many = pg_idreview_add_many,
    .idreview_list = pg_idreview_list,
    .idreview_open_for_person = pg_idreview_open_for_person,
    .idreview_count = pg_idreview_count,
    .idreview_get = pg_idreview_get,
    .idreview_decide = pg_idreview_decide,
    .idnonmatch_add = pg_idnonmatch_add,
    .idnonmatch_persons = pg_idnonmatch_persons,
    .idnonmatch_list = pg_idnonmatch_list,
    .person_split = pg_person_split,
    .person_merge_of_local = pg_person_merge_of_local,
};

static const struct store_apps_ops pg_apps_ops = {
    .app_add = pg_app_add,
    .app_get = pg_app_get,
    .app_list = pg_app_list,
    .app_revoke = pg_app_revoke,
};

static const struct store_gov_ops pg_gov_ops = {
    .bg_review_add = pg_bg_review_add,
    .bg_review_list = pg_bg_review_list,
    .policy_version_list = pg_policy_version_list,
};

static const struct store_citizen_ops pg_citizen_ops = {
    .objection_put = pg_objection_put,
    .objection_case = pg_objection_case,
    .objection_list = pg_objection_list,
    .objection_step_add = pg_objection_step_add,
    .objection_steps = pg_objection_steps,
    .sar_put = pg_sar_put,
    .sar_get = pg_sar_get,
    .sar_list = pg_sar_list,
    .citizen_idp_add = pg_citizen_idp_add,
    .citizen_idp_get = pg_citizen_idp_get,
    .citizen_idp_list = pg_citizen_idp_list,
    .citizen_idp_remove = pg_citizen_idp_remove,
    .citizen_session_put = pg_citizen_session_put,
    .citizen_session_get = pg_citizen_session_get,
    .citizen_session_touch = pg_citizen_session_touch,
    .citizen_session_revoke = pg_citizen_session_revoke,
};

static const struct store_proxy_ops pg_proxy_ops = {
    .grant_add = pg_proxy_grant_add,
    .grant_get = pg_proxy_grant_get,
    .grant_list = pg_proxy_grant_list,
    .grant_revoke = pg_proxy_grant_revoke,
};

static const struct store_dq_ops pg_dq_ops = {
    .dq_scan = pg_dq_scan,
    .dq_inbox_scan = pg_dq_inbox_scan,
    .dq_run_add = pg_dq_run_add,
    .dq_run_finish = pg_dq_run_finish,
    .dq_run_list = pg_dq_run_list,
    .dq_result_add = pg_dq_result_add,
    .dq_result_list = pg_dq_result_list,
    .dq_failure_add = pg_dq_failure_add,
    .dq_failure_list = pg_dq_failure_list,
};

static const struct store_bulk_ops pg_bulk_ops = {
    .job_add = pg_bulk_job_add,
    .job_get = pg_bulk_job_get,
    .job_update = pg_bulk_job_update,
    .job_list = pg_bulk_job_list,
};

static const struct store_copy_ops pg_copy_ops = {
    .tables = pg_copy_tables,
    .columns = pg_copy_columns,
    .snapshot = pg_copy_snapshot,
    .read = pg_copy_read,
    .write = pg_copy_write,
    .clear = pg_copy_clear,
    .finish = pg_copy_finish,
};

const struct store_ops pg_ops = {
    .name = "PostgreSQL",
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .schema_pending = pg_schema_pending,
    .bulk = pg_bulk,
    .backup = pg_backup,
    .job_lock = pg_job_lock,
    .lock_keys = pg_lock_keys,
    .size_bytes = pg_size_bytes,
    .ping = pg_ping,
    .meta_get = pg_meta_get,
    .meta_set = pg_meta_set,
    .txn = &pg_txn_ops,
    .records = &pg_records_ops,
    .access = &pg_access_ops,
    .audit = &pg_audit_ops,
    .feeds = &pg_feeds_ops,
    .identity = &pg_identity_ops,
    .apps = &pg_apps_ops,
    .gov = &pg_gov_ops,
    .citizen = &pg_citizen_ops,
    .dq = &pg_dq_ops,
    .analytics = &pg_analytics_ops,
    .proxy = &pg_proxy_ops,
    .copy = &pg_copy_ops,
    .bulk_export = &pg_bulk_ops,
};
