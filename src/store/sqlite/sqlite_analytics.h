/*
 * sqlite_analytics.h - SQLite implementation of the analytics store
 * operations (store/analytics.h): opt-out lists, the record of secondary
 * outputs, and the person-ordered scan of the record.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_ANALYTICS_H
#define WEFT_STORE_SQLITE_SQLITE_ANALYTICS_H

#include "store/analytics_int.h"
#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_analytics_1;
extern const struct store_migration sqlite_migration_analytics_results_1;
extern const struct store_migration sqlite_migration_analytics_incremental_1;
extern const struct store_analytics_ops sqlite_analytics_ops;

#endif
