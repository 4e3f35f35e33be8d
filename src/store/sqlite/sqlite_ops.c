/*
 * sqlite_ops.c - the SQLite backend's table of operations.  One line per
 * operation; subsystems add theirs below the mark (see store/store_int.h).
 */
#include "store/sqlite/sqlite_core.h"
/* other subsystems' sqlite headers, one #include per file, below this line */

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
    .search = sqlite_search,
    .history = sqlite_history,
    .person_by_nhs = sqlite_person_by_nhs,
    .person_by_local = sqlite_person_by_local,
    .person_get = sqlite_person_get,
    .client_add = sqlite_client_add,
    .client_by_hash = sqlite_client_by_hash,
    .client_list = sqlite_client_list,
    .client_revoke = sqlite_client_revoke,
    .meta_get = sqlite_meta_get,
    .meta_set = sqlite_meta_set,
    /* ---- other subsystems: one line per operation below this mark ---- */
};
