/*
 * pg_ops.c - the PostgreSQL backend's table of operations.  An operation
 * not listed here is not built for PostgreSQL yet: the dispatcher answers
 * WEFT_EUNSUPPORTED, "not implemented on PostgreSQL yet: <op>", never a
 * silent success (store/store_int.h).
 */
#include "store/pg/pg_ops.h"

const struct store_ops pg_ops = {
    .name = "PostgreSQL",
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .schema_pending = pg_schema_pending,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .bulk = pg_bulk,
    .resource_put = pg_resource_put,
    .resource_get = pg_resource_get,
    .resource_delete = pg_resource_delete,
    .resource_person = pg_resource_person,
    .resource_digest = pg_resource_digest,
    .search = pg_search,
    .history = pg_history,
    .person_by_nhs = pg_person_by_nhs,
    .person_by_local = pg_person_by_local,
    .person_get = pg_person_get,
    .person_version = pg_person_version,
    .person_find_local = pg_person_find_local,
    .client_add = pg_client_add,
    .client_by_hash = pg_client_by_hash,
    .client_list = pg_client_list,
    .client_revoke = pg_client_revoke,
    .meta_get = pg_meta_get,
    .meta_set = pg_meta_set,
    .savepoint = pg_savepoint,
    .checkpoint = pg_checkpoint,
    .person_find_nhs = pg_person_find_nhs,
};
