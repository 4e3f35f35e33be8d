/*
 * backup.h - an online, consistent copy of the whole store, and making a new
 * store from such a copy.
 */
#ifndef WEFT_STORE_BACKUP_H
#define WEFT_STORE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- backup and restore (src/store/store.c; sqlite/sqlite_backup.c) ------ */

/* What a backup or restore wrote. */
struct store_backup_info {
    int schema_version; /* migrations applied in the copy */
    int64_t pages;      /* database pages copied */
    int64_t bytes;      /* size of the copy */
};

/* Write a consistent copy of the whole store, as of one moment, to the new
 * file dest - online: other handles (a serving `weft serve`, its feed
 * writer) keep reading and committing while it runs, and the copy holds
 * exactly what was committed when it started.  dest must not exist (never
 * overwritten); the copy is written beside it, checked and renamed, so dest
 * exists only as a whole, checked backup.  Not inside a transaction of s.
 * info (may be NULL) says what was written.  PostgreSQL deployments use
 * pg_basebackup instead (docs/OPERATIONS.md). */
int store_backup(struct store *s, const char *dest, struct store_backup_info *info);

/* Make the store at url (which must not exist) from the backup file src
 * (made by store_backup), which is opened read-only and checked first: a
 * file that is not a whole Weft backup is refused and nothing is created.
 * On failure returns a negative code and, when errmsg is not NULL, a
 * malloc'd message the caller frees. */
int store_restore(const char *src, const char *url, struct store_backup_info *info, char **errmsg);

#endif
