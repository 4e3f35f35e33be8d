/*
 * sqlite_ops.c - the SQLite backend's operations tables, one per noun group
 * (src/store/store_int.h).  One line per operation, in the noun's table.
 */
#include "store/sqlite/sqlite_core.h"
/* other subsystems' sqlite headers, one #include per file, below this line */
#include "store/sqlite/sqlite_access.h"
#include "store/sqlite/sqlite_backup.h"
#include "store/sqlite/sqlite_feeds.h"
#include "store/sqlite/sqlite_app.h"
#include "store/sqlite/sqlite_dq.h"
#include "store/sqlite/sqlite_gov.h"
#include "store/sqlite/sqlite_citizen.h"
#include "store/sqlite/sqlite_proxy.h"
#include "store/sqlite/sqlite_identity.h"
#include "store/sqlite/sqlite_analytics.h"
#include "store/sqlite/sqlite_copy.h"
#include "store/sqlite/sqlite_bulk.h"

static const struct store_txn_ops sqlite_txn_ops = {
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .alive = sqlite_alive,
    .savepoint = sqlite_savepoint,
    .release = sqlite_release,
    .rollback_to = sqlite_rollback_to,
};

static const struct store_records_ops sqlite_records_ops = {
    .resource_put = sqlite_resource_put,
    .resource_put_batch = sqlite_resource_put_batch,
    .resource_get = sqlite_resource_get,
    .resource_person = sqlite_resource_person,
    .patient_person_kept = sqlite_patient_person_kept,
    .resource_digest = sqlite_resource_digest,
    .resource_delete = sqlite_resource_delete,
    .search = sqlite_search,
    .search_index_clear = sqlite_search_index_clear,
    .search_index_add = sqlite_search_index_add,
    .history = sqlite_history,
    .person_by_nhs = sqlite_person_by_nhs,
    .person_by_local = sqlite_person_by_local,
    .person_get = sqlite_person_get,
    .person_nhs_scan = sqlite_person_nhs_scan,
    .person_version = sqlite_person_version,
    .snapshot_since = sqlite_snapshot_since,
    .person_find_local = sqlite_person_find_local,
    .person_merge = sqlite_person_merge,
    .person_merge_many = sqlite_person_merge_many,
    .person_unmerge = sqlite_person_unmerge,
    .person_merge_list = sqlite_person_merge_list,
    .person_find_nhs = sqlite_person_find_nhs,
    .person_merged_into = sqlite_person_merged_into,
};

static const struct store_access_ops sqlite_access_ops = {
    .client_add = sqlite_client_add,
    .client_by_hash = sqlite_client_by_hash,
    .client_add_keys = sqlite_client_add_keys,
    .client_get = sqlite_client_get,
    .client_list = sqlite_client_list,
    .client_revoke = sqlite_client_revoke,
    .client_set_purpose = sqlite_client_set_purpose,
    .org_put = sqlite_org_put,
    .org_get = sqlite_org_get,
    .org_list = sqlite_org_list,
    .agreement_add = sqlite_agreement_add,
    .agreement_list = sqlite_agreement_list,
    .agreement_in_force = sqlite_agreement_in_force,
    .launcher_add = sqlite_launcher_add,
    .launcher_by_issuer = sqlite_launcher_by_issuer,
    .launcher_list = sqlite_launcher_list,
    .launcher_revoke = sqlite_launcher_revoke,
    .jti_use = sqlite_jti_use,
    .session_put = sqlite_session_put,
    .session_get = sqlite_session_get,
    .session_revoke = sqlite_session_revoke,
    .session_count = sqlite_session_count,
    .breakglass_add = sqlite_breakglass_add,
    .breakglass_active = sqlite_breakglass_active,
    .breakglass_list = sqlite_breakglass_list,
    .objection_set = sqlite_objection_set,
    .objection_get = sqlite_objection_get,
    .access_facts = sqlite_access_facts,
    .policy_put = sqlite_policy_put,
    .policy_current = sqlite_policy_current,
    .session_user_role = sqlite_session_user_role,
};

static const struct store_apps_ops sqlite_apps_ops = {
    .app_add = sqlite_app_add,
    .app_get = sqlite_app_get,
    .app_list = sqlite_app_list,
    .app_revoke = sqlite_app_revoke,
};

static const struct store_audit_ops sqlite_audit_ops = {
    .audit_append = sqlite_audit_append,
    .audit_head = sqlite_audit_head,
    .audit_scan = sqlite_audit_scan,
    .audit_search = sqlite_audit_search,
    .audit_person = sqlite_audit_person,
};

static const struct store_feeds_ops sqlite_feeds_ops = {
    .feed_add = sqlite_feed_add,
    .feed_get = sqlite_feed_get,
    .feed_by_name = sqlite_feed_by_name,
    .feed_by_facility = sqlite_feed_by_facility,
    .feed_by_client = sqlite_feed_by_client,
    .feed_set_disabled = sqlite_feed_set_disabled,
    .feed_list = sqlite_feed_list,
    .feed_count = sqlite_feed_count,
    .feed_counts_get = sqlite_feed_counts_get,
    .inbox_add = sqlite_inbox_add,
    .inbox_set_outcome = sqlite_inbox_set_outcome,
    .inbox_set_feed = sqlite_inbox_set_feed,
    .inbox_list = sqlite_inbox_list,
    .inbox_claim = sqlite_inbox_claim,
    .inbox_add_many = sqlite_inbox_add_many,
    .inbox_claim_many = sqlite_inbox_claim_many,
    .inbox_unclaim = sqlite_inbox_unclaim,
    .inbox_outcomes = sqlite_inbox_outcomes,
    .inbox_pending_count = sqlite_inbox_pending_count,
    .inbox_add_journaled = sqlite_inbox_add_journaled,
    .inbox_journal_moved = sqlite_inbox_journal_moved,
    .inbox_set_resubmit = sqlite_inbox_set_resubmit,
};

static const struct store_identity_ops sqlite_identity_ops = {
    .idrec_put = sqlite_idrec_put,
    .idrec_candidates = sqlite_idrec_candidates,
    .idrec_person = sqlite_idrec_person,
    .person_nhs_link = sqlite_person_nhs_link,
    .idrec_get = sqlite_idrec_get,
    .idrec_of_person = sqlite_idrec_of_person,
    .idrec_scan = sqlite_idrec_scan,
    .iddecision_add = sqlite_iddecision_add,
    .iddecision_add_many = sqlite_iddecision_add_many,
    .iddecision_list = sqlite_iddecision_list,
    .idreview_add = sqlite_idreview_add,
    .idreview_add_many = sqlite_idreview_add_many,
    .idreview_list = sqlite_idreview_list,
    .idreview_open_for_person = sqlite_idreview_open_for_person,
    .idreview_count = sqlite_idreview_count,
    .idreview_get = sqlite_idreview_get,
    .idreview_decide = sqlite_idreview_decide,
    .idnonmatch_add = sqlite_idnonmatch_add,
    .idnonmatch_persons = sqlite_idnonmatch_persons,
    .idnonmatch_list = sqlite_idnonmatch_list,
    .person_split = sqlite_person_split,
    .person_merge_of_local = sqlite_person_merge_of_local,
};

static const struct store_dq_ops sqlite_dq_ops = {
    .dq_scan = sqlite_dq_scan,
    .dq_inbox_scan = sqlite_dq_inbox_scan,
    .dq_run_add = sqlite_dq_run_add,
    .dq_run_finish = sqlite_dq_run_finish,
    .dq_run_list = sqlite_dq_run_list,
    .dq_result_add = sqlite_dq_result_add,
    .dq_result_list = sqlite_dq_result_list,
    .dq_failure_add = sqlite_dq_failure_add,
    .dq_failure_list = sqlite_dq_failure_list,
};

static const struct store_gov_ops sqlite_gov_ops = {
    .bg_review_add = sqlite_bg_review_add,
    .bg_review_list = sqlite_bg_review_list,
    .policy_version_list = sqlite_policy_version_list,
};

static const struct store_citizen_ops sqlite_citizen_ops = {
    .objection_put = sqlite_objection_put,
    .objection_case = sqlite_objection_case,
    .objection_list = sqlite_objection_list,
    .objection_step_add = sqlite_objection_step_add,
    .objection_steps = sqlite_objection_steps,
    .sar_put = sqlite_sar_put,
    .sar_get = sqlite_sar_get,
    .sar_list = sqlite_sar_list,
    .citizen_idp_add = sqlite_citizen_idp_add,
    .citizen_idp_get = sqlite_citizen_idp_get,
    .citizen_idp_list = sqlite_citizen_idp_list,
    .citizen_idp_remove = sqlite_citizen_idp_remove,
    .citizen_session_put = sqlite_citizen_session_put,
    .citizen_session_get = sqlite_citizen_session_get,
    .citizen_session_touch = sqlite_citizen_session_touch,
    .citizen_session_revoke = sqlite_citizen_session_revoke,
};

static const struct store_proxy_ops sqlite_proxy_ops = {
    .grant_add = sqlite_proxy_grant_add,
    .grant_get = sqlite_proxy_grant_get,
    .grant_list = sqlite_proxy_grant_list,
    .grant_revoke = sqlite_proxy_grant_revoke,
};

static const struct store_copy_ops sqlite_copy_ops = {
    .tables = sqlite_copy_tables,
    .columns = sqlite_copy_columns,
    .snapshot = sqlite_copy_snapshot,
    .read = sqlite_copy_read,
    .write = sqlite_copy_write,
    .clear = sqlite_copy_clear,
    .finish = sqlite_copy_finish,
};

static const struct store_bulk_ops sqlite_bulk_ops = {
    .job_add = sqlite_bulk_job_add,
    .job_get = sqlite_bulk_job_get,
    .job_update = sqlite_bulk_job_update,
    .job_list = sqlite_bulk_job_list,
};

const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .schema_pending = sqlite_schema_pending,
    .bulk = sqlite_bulk,
    .writer = sqlite_writer,
    .backup = sqlite_backup,
    .meta_get = sqlite_meta_get,
    .meta_set = sqlite_meta_set,
    .txn = &sqlite_txn_ops,
    .records = &sqlite_records_ops,
    .access = &sqlite_access_ops,
    .apps = &sqlite_apps_ops,
    .audit = &sqlite_audit_ops,
    .feeds = &sqlite_feeds_ops,
    .identity = &sqlite_identity_ops,
    .dq = &sqlite_dq_ops,
    .gov = &sqlite_gov_ops,
    .citizen = &sqlite_citizen_ops,
    .analytics = &sqlite_analytics_ops,
    .proxy = &sqlite_proxy_ops,
    .copy = &sqlite_copy_ops,
    .bulk_export = &sqlite_bulk_ops,
};
