/*
 * sqlite_bulk.h - SQLite implementations of the FHIR Bulk Data export job
 * operations (sqlite_bulk.c; contracts: store/bulk.h).
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_BULK_H
#define WEFT_STORE_SQLITE_SQLITE_BULK_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_bulk_export_1;

int sqlite_bulk_job_add(struct store *s, const struct store_bulk_job *in);
int sqlite_bulk_job_get(struct store *s, const char *id, struct store_bulk_job *out);
int sqlite_bulk_job_update(struct store *s, const struct store_bulk_job *in);
int sqlite_bulk_job_list(struct store *s, const char *status, struct store_bulk_job **out, int *n);

#endif
