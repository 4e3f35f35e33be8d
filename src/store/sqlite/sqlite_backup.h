/*
 * sqlite_backup.h - backup and restore for the SQLite backend
 * (sqlite_backup.c; contracts in store/store.h: store_backup, store_restore).
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_BACKUP_H
#define WEFT_STORE_SQLITE_SQLITE_BACKUP_H

#include "store/store_int.h"

int sqlite_backup(struct store *s, const char *dest, struct store_backup_info *info);
/* sqlite_store_restore is declared in store/store_int.h beside sqlite_store_open. */

#endif
