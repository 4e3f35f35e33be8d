/*
 * sqlite_app.h - SQLite implementation of the SMART app registry's store
 * operations (sqlite_app.c) and its migration.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_APP_H
#define WEFT_STORE_SQLITE_SQLITE_APP_H

#include "store/sqlite/sqlite_int.h"

extern const struct store_migration sqlite_migration_apps_1;

int sqlite_app_add(struct store *s, const struct store_app *in);
int sqlite_app_get(struct store *s, const char *client_id, struct store_app *out);
int sqlite_app_list(struct store *s, struct store_app **out, int *n);
int sqlite_app_revoke(struct store *s, const char *client_id);

#endif
