/*
 * sqlite_backup.c - online backup and restore of a SQLite store, with
 * SQLite's backup API (sqlite3_backup_*).
 *
 * Consistency: the copy is made in ONE backup step, which holds one read
 * transaction on the source for the whole copy.  In WAL mode that
 * transaction sees the database as of its start and blocks nobody: the feed
 * writer keeps committing (the checkpointer just cannot copy frames past the
 * backup's snapshot until it ends).  Copying in several small steps would
 * not do here: SQLite restarts a stepwise backup whenever another connection
 * writes the source, so under a steady feed it might never finish.
 *
 * Safety of the result: the copy is written to DEST.partial, checked
 * (PRAGMA quick_check, a schema_migration table), synced, and only then
 * renamed to DEST, so a file with the final name is always a whole,
 * checked backup.  A destination that exists is refused: a backup never
 * overwrites anything.  Restore is the same copy the other way round, from
 * a backup file opened read-only (the backup file is never modified) to a
 * database path that must not exist yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_backup.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/sqlite_vfs.h"

/* Does path, or the WAL/shm of a database at path, exist? */
static bool db_path_taken(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return true;
    char side[4096];
    snprintf(side, sizeof side, "%s-wal", path);
    return stat(side, &st) == 0;
}

static int fsync_path(const char *path, bool dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The directory part of path ("." when none), into out. */
static void dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

/* Check the copy at path: SQLite's quick_check says ok and it has Weft's
 * schema table; fill info from it.  Returns 0 or a message in err. */
static int check_copy(const char *path, struct store_backup_info *info, struct buf *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0) {
            buf_addf(err, "the copy fails SQLite's quick_check: %s", r ? r : "?");
            rc = SQLITE_CORRUPT;
        }
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migration", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        if (info)
            info->schema_version = sqlite3_column_int(st, 0);
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK && info) {
        if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            info->pages = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            info->bytes = info->pages * sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK && err->len == 0)
        buf_addf(err, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/*
 * Copy database "main" of src into a new file dest: dest.partial, checked,
 * synced, renamed.  On failure returns a negative code with the reason in
 * err (nothing is left at dest or dest.partial).
 */
static int copy_db(sqlite3 *src, const char *dest, struct store_backup_info *info, struct buf *err)
{
    if (db_path_taken(dest)) {
        buf_addf(err, "'%s' exists: a backup or restore never overwrites a file", dest);
        return WEFT_EEXIST;
    }
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.partial", dest);
    unlink(tmp.data);
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(tmp.data, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    int code = 0;
    if (rc != SQLITE_OK) {
        buf_addf(err, "cannot create '%s': %s", tmp.data,
                 dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
        code = WEFT_EIO;
        goto out;
    }
    sqlite3_busy_timeout(dst, 5000);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        buf_addf(err, "cannot start the copy: %s", sqlite3_errmsg(dst));
        code = WEFT_EDB;
        goto out;
    }
    /* -1: every page in one step, in one read transaction (file comment). */
    rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        buf_addf(err, "copying into '%s': %s", tmp.data, sqlite3_errstr(rc));
        code = rc == SQLITE_FULL ? WEFT_EIO : WEFT_EDB;
        goto out;
    }
    /* The copy carries the source's WAL flag; make the file self-contained
     * (no -wal beside it) before it is checked and renamed. */
    sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_close(dst);
    dst = NULL;
    if (check_copy(tmp.data, info, err) != 0) {
        code = WEFT_EDB;
        goto out;
    }
    if (fsync_path(tmp.data, false) != 0 || rename(tmp.data, dest) != 0) {
        buf_addf(err, "cannot put the copy at '%s': %s", dest, strerror(errno));
        code = WEFT_EIO;
        goto out;
    }
    char dir[4096];
    dir_of(dest, dir, sizeof dir);
    fsync_path(dir, true); /* best effort: the rename itself is atomic */
out:
    if (dst)
        sqlite3_close(dst);
    if (code) {
        unlink(tmp.data);
        struct buf side = BUF_INIT;
        buf_addf(&side, "%s-journal", tmp.data);
        unlink(side.data);
        buf_release(&side);
    }
    buf_release(&tmp);
    return code;
}

int sqlite_backup(struct store *s, const char *dest, struct store_backup_info *info)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (s->txn_depth > 0)
        return store_fail(s, WEFT_EINVAL, "backup inside an open transaction");
    struct buf err = BUF_INIT;
    int rc = copy_db(ss->db, dest, info, &err);
    if (rc)
        store_fail(s, rc, "%s", err.data);
    buf_release(&err);
    return rc;
}

int sqlite_store_restore(const char *src, const char *path, struct store_backup_info *info,
                         char **errmsg)
{
    struct buf err = BUF_INIT;
    int code = 0;
    struct stat st;
    if (stat(src, &st) != 0) {
        buf_addf(&err, "cannot read backup '%s': %s", src, strerror(errno));
        code = WEFT_ENOTFOUND;
        goto out;
    }
    /* Check the backup before anything is written: a wrong or damaged file
     * is refused with its reason, and the target is not created. */
    if (check_copy(src, NULL, &err) != 0) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "'%s' is not a Weft backup: %s", src, err.data);
        buf_release(&err);
        err = m;
        code = WEFT_EINVAL;
        goto out;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(src, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        buf_addf(&err, "cannot open backup '%s': %s", src,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        code = WEFT_EDB;
        goto out;
    }
    code = copy_db(db, path, info, &err);
    sqlite3_close(db);
out:
    if (code && errmsg)
        *errmsg = buf_detach(&err, NULL);
    buf_release(&err);
    return code;
}
