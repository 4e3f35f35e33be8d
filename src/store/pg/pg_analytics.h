/*
 * pg_analytics.h - PostgreSQL implementation of the analytics store
 * operations (store/analytics.h; the table store/analytics_int.h): opt-out
 * lists, the record of secondary outputs, and the person-ordered scan of the
 * record.  Only src/store/pg/ includes this.
 */
#ifndef WEFT_STORE_PG_PG_ANALYTICS_H
#define WEFT_STORE_PG_PG_ANALYTICS_H

#include "store/analytics_int.h"
#include "store/pg/pg_int.h"

extern const struct store_migration pg_migration_analytics_1;
extern const struct store_migration pg_migration_analytics_results_1;
extern const struct store_migration pg_migration_analytics_incremental_1;
extern const struct store_analytics_ops pg_analytics_ops;

#endif
