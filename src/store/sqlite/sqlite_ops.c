/*
 * sqlite_ops.c - the SQLite backend's table of operations.  One line per
 * operation; subsystems add theirs below the mark (see store/store_int.h).
 */
#include "store/sqlite/sqlite_core.h"
/* other subsystems' sqlite headers, one #include per file, below this line */
#include "store/sqlite/sqlite_access.h"

const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .resource_put = sqlite_resource_put,
    .resource_get = sqlite_resource_get,
    .resource_delete = sqlite_resource_delete,
    .resource_person = sqlite_resource_person,
    .search = sqlite_search,
    .history = sqlite_history,
    .person_by_nhs = sqlite_person_by_nhs,
    .person_by_local = sqlite_person_by_local,
    .person_get = sqlite_person_get,
    .person_find_local = sqlite_person_find_local,
    .client_add = sqlite_client_add,
    .client_by_hash = sqlite_client_by_hash,
    .client_list = sqlite_client_list,
    .client_revoke = sqlite_client_revoke,
    .meta_get = sqlite_meta_get,
    .meta_set = sqlite_meta_set,
    /* ---- other subsystems: one line per operation below this mark ---- */
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
    .breakglass_add = sqlite_breakglass_add,
    .breakglass_active = sqlite_breakglass_active,
    .breakglass_list = sqlite_breakglass_list,
    .objection_set = sqlite_objection_set,
    .objection_get = sqlite_objection_get,
    .policy_put = sqlite_policy_put,
    .policy_current = sqlite_policy_current,
    .audit_append = sqlite_audit_append,
    .audit_head = sqlite_audit_head,
    .audit_scan = sqlite_audit_scan,
    .audit_search = sqlite_audit_search,
};
