/*
 * sqlite_vfs.h - the "weft" SQLite VFS (sqlite_vfs.c): the unix VFS with
 * write-ahead-log writes gathered into large writes.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_VFS_H
#define WEFT_STORE_SQLITE_SQLITE_VFS_H

/* Registers the VFS once (thread-safe) and returns its name for
 * sqlite3_open_v2, or NULL when it cannot be registered (SQLite's default
 * VFS is then used). */
const char *sqlite_vfs_name(void);

#endif
