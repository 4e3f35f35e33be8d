/*
 * sqlite_vfs.c - the "weft" VFS: SQLite's own unix VFS with the writes to a
 * write-ahead log gathered into large writes.
 *
 * Why: SQLite writes each WAL frame with two pwrite calls (its 24-byte
 * header and the 4 KiB page).  A feed's group commit writes thousands of
 * frames, and profiles of the MLLP writer showed the pwrite system calls at
 * about a quarter of its time (docs/BENCHMARKS.md "Feeds").  Here the frames
 * of a WAL file are appended to a buffer and written in runs of up to
 * 128 KiB (the unix VFS writes at most 17 bits' worth of bytes per call).
 *
 * Why it changes nothing else: a buffered frame is one SQLite has written
 * but no other connection may read yet - readers only read frames that the
 * wal-index header names, and the writer publishes a header only after
 * xShmBarrier on its database file.  So the buffer is written out:
 *   - on xShmBarrier, xShmLock and xShmUnmap of any database file of the
 *     same path (before a header can be published or a lock change seen),
 *   - on the WAL file's own xSync (before a durable commit's fsync), xRead,
 *     xTruncate, xFileSize, xFileControl and xClose,
 *   - when a write is not contiguous with the buffer or would overflow it.
 * A buffered write must not fail later for want of space: another
 * connection's lock may write the buffer out (and would be told of a
 * failure that is not its own), and the writer's own barrier, which
 * publishes the commit, cannot report one at all.  So the space a buffered
 * write will take is allocated when it is buffered (fallocate, keeping the
 * file's size, in steps of WAL_ALLOC), and a full disk fails that write, in
 * the writer's own call: SQLite rolls the transaction back as for any failed
 * frame write.  A write-out that still fails (an I/O error) is kept with the
 * buffer's file and reported by that file's next write, sync, read, size or
 * truncate - to its own connection, which rolls back - never to another
 * connection that happened to write the buffer out.  (Before, a checkpoint
 * that wrote out the writer's buffer on a full disk failed with the
 * writer's error, and the writer's lost frames went unnoticed until its own
 * sync.)  Files other than WAL files pass straight through.
 *
 * The directory entry of a new WAL file: the unix VFS fsyncs the directory
 * only at the first xSync of the handle that created the file, and in WAL
 * mode that is often a connection that never writes (any connection opening
 * the database creates the WAL), so the entry of the WAL that holds every
 * commit was never made durable (found by the power-loss tests,
 * tests/e2e/durability_*.py).  Here the first xSync of any WAL file of the
 * path after a WAL was created fsyncs the directory first.
 *
 * Threads: one WAL file is written by one connection, but another
 * connection's barrier may write out its buffer, so each WAL file's buffer
 * has a mutex, and the WAL files of a database path are listed in a group
 * shared by every file of that path (registry under one mutex).
 *
 * Test build (-DWEFT_FAILPOINTS): every write, truncate, fsync and delete of
 * a durable file (database, WAL, rollback journal) is journalled for the
 * power-loss tests (core/powerloss.h), mirroring the unix VFS's own
 * directory fsync after a new journal or WAL file's first sync; and the
 * failpoint store-skip-fsync makes xSync return without syncing.  Neither
 * exists in the release build.
 */
#define _GNU_SOURCE 1 /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "core/failpoint.h"
#include "core/powerloss.h"
#include "store/sqlite/sqlite_vfs.h"

#define WAL_BUF (128u * 1024u - 1u)        /* unixWrite's per-call limit */
#define WAL_ALLOC ((sqlite3_int64)1 << 20) /* space allocated ahead of buffered writes */

struct group {
    struct group *next; /* registry */
    char *path;         /* the database file's path */
    int refs;
    pthread_mutex_t mu; /* wals, wal_created */
    struct wfile *wals;
    bool wal_created; /* a WAL file was created and its directory not synced since */
    /* the WAL file's bytes [0, wal_alloc) have space allocated (made smaller
     * by any truncate); no_alloc: the file system cannot allocate ahead */
    sqlite3_int64 wal_alloc;
    bool no_alloc;
};

enum kind { K_OTHER, K_MAIN, K_WAL };

struct wfile {
    sqlite3_file base; /* pMethods = &methods */
    sqlite3_file *real;
    enum kind kind;
    struct group *g;     /* K_MAIN, K_WAL */
    struct wfile *gnext; /* K_WAL: the group's list */
    pthread_mutex_t mu;  /* K_WAL: buf */
    unsigned char *buf;
    size_t len;
    sqlite3_int64 off;
    const char *wal_path; /* K_WAL: SQLite's name, valid until xClose */
    int alloc_fd;         /* K_WAL: the same file, for fallocate (-1: none) */
    int err;              /* K_WAL: a failed write-out, for this file's next call */
    const char *path;     /* test build, durable files: likewise */
    bool dirsync;         /* the unix VFS syncs the directory at the first xSync */
};

static sqlite3_vfs *unix_vfs;
static sqlite3_vfs weft_vfs;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct group *registry;

static struct group *group_get(const char *path, size_t n)
{
    pthread_mutex_lock(&reg_mu);
    struct group *g;
    for (g = registry; g; g = g->next)
        if (strlen(g->path) == n && memcmp(g->path, path, n) == 0)
            break;
    if (!g) {
        g = xcalloc(1, sizeof *g);
        g->path = xmalloc(n + 1);
        memcpy(g->path, path, n);
        g->path[n] = 0;
        pthread_mutex_init(&g->mu, NULL);
        g->next = registry;
        registry = g;
    }
    g->refs++;
    pthread_mutex_unlock(&reg_mu);
    return g;
}

static void group_put(struct group *g)
{
    pthread_mutex_lock(&reg_mu);
    if (--g->refs == 0) {
        struct group **pp = &registry;
        while (*pp != g)
            pp = &(*pp)->next;
        *pp = g->next;
        pthread_mutex_destroy(&g->mu);
        free(g->path);
        free(g);
    }
    pthread_mutex_unlock(&reg_mu);
}

/* The real file's xWrite (journalled in the test build). */
static int real_write(struct wfile *f, const void *b, int amt, sqlite3_int64 off)
{
#ifdef WEFT_FAILPOINTS
    if (f->path)
        powerloss_write_begin(f->path, off, amt);
#endif
    int rc = f->real->pMethods->xWrite(f->real, b, amt, off);
#ifdef WEFT_FAILPOINTS
    if (f->path)
        powerloss_end();
#endif
    return rc;
}

/* Write out f's buffer; f->mu held.  A failure is kept in f->err for f's
 * own next call (wal_take_err). */
static void wal_flush_locked(struct wfile *f)
{
    if (f->len == 0)
        return;
    int rc = real_write(f, f->buf, (int)f->len, f->off);
    f->len = 0;
    if (rc != SQLITE_OK && f->err == SQLITE_OK)
        f->err = rc;
}

/* f's buffer written out; the error of this or an earlier write-out of it
 * (then cleared: SQLite rolls back on it).  f->mu held. */
static int wal_take_err(struct wfile *f)
{
    wal_flush_locked(f);
    int rc = f->err;
    f->err = SQLITE_OK;
    return rc;
}

static int wal_flush(struct wfile *f)
{
    pthread_mutex_lock(&f->mu);
    int rc = wal_take_err(f);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* Write out every WAL buffer of the group, for a lock or barrier of any
 * connection: a failure stays with its own file. */
static void group_flush(struct group *g)
{
    pthread_mutex_lock(&g->mu);
    for (struct wfile *w = g->wals; w; w = w->gnext) {
        pthread_mutex_lock(&w->mu);
        wal_flush_locked(w);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Space for the WAL file's bytes up to end, allocated ahead in steps of
 * WAL_ALLOC without changing the file's size.  SQLITE_FULL when the disk
 * has no room. */
static int wal_reserve(struct wfile *f, sqlite3_int64 end)
{
    struct group *g = f->g;
    int rc = SQLITE_OK;
    pthread_mutex_lock(&g->mu);
    if (!g->no_alloc && f->alloc_fd >= 0 && end > g->wal_alloc) {
        sqlite3_int64 to = (end + WAL_ALLOC - 1) / WAL_ALLOC * WAL_ALLOC;
        if (fallocate(f->alloc_fd, FALLOC_FL_KEEP_SIZE, g->wal_alloc, to - g->wal_alloc) == 0)
            g->wal_alloc = to;
        else if (errno == ENOSPC || errno == EDQUOT)
            rc = SQLITE_FULL;
        else if (errno == EOPNOTSUPP || errno == ENOSYS)
            g->no_alloc = true; /* writes are then as the unix VFS's */
        else
            rc = SQLITE_IOERR_WRITE;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

#define REAL(p) (((struct wfile *)(p))->real)
#define WF(p) ((struct wfile *)(p))

static int x_close(sqlite3_file *p)
{
    struct wfile *f = WF(p);
    int rc = SQLITE_OK;
    if (f->kind == K_WAL) {
        rc = wal_flush(f);
        if (f->alloc_fd >= 0)
            close(f->alloc_fd);
        pthread_mutex_lock(&f->g->mu);
        struct wfile **pp = &f->g->wals;
        while (*pp && *pp != f)
            pp = &(*pp)->gnext;
        if (*pp)
            *pp = f->gnext;
        pthread_mutex_unlock(&f->g->mu);
        pthread_mutex_destroy(&f->mu);
        free(f->buf);
    }
    if (f->g)
        group_put(f->g);
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int x_read(sqlite3_file *p, void *b, int amt, sqlite3_int64 off)
{
    if (WF(p)->kind == K_WAL) {
        int rc = wal_flush(WF(p));
        if (rc != SQLITE_OK)
            return rc;
    }
    return REAL(p)->pMethods->xRead(REAL(p), b, amt, off);
}

static int x_write(sqlite3_file *p, const void *b, int amt, sqlite3_int64 off)
{
    struct wfile *f = WF(p);
    if (f->kind != K_WAL)
        return real_write(f, b, amt, off);
    int rc = wal_reserve(f, off + amt);
    if (rc != SQLITE_OK)
        return rc;
    pthread_mutex_lock(&f->mu);
    if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)amt > WAL_BUF))
        wal_flush_locked(f);
    rc = f->err;
    f->err = SQLITE_OK;
    if (rc == SQLITE_OK && (size_t)amt > WAL_BUF) {
        rc = real_write(f, b, amt, off);
    } else if (rc == SQLITE_OK) {
        if (!f->buf)
            f->buf = xmalloc(WAL_BUF);
        if (f->len == 0)
            f->off = off;
        memcpy(f->buf + f->len, b, (size_t)amt);
        f->len += (size_t)amt;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int x_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    if (WF(p)->kind == K_WAL) {
        int rc = wal_flush(WF(p));
        if (rc != SQLITE_OK)
            return rc;
        struct group *g = WF(p)->g;
        pthread_mutex_lock(&g->mu); /* the space past size goes with it */
        if (g->wal_alloc > size)
            g->wal_alloc = size;
        pthread_mutex_unlock(&g->mu);
    }
#ifdef WEFT_FAILPOINTS
    if (WF(p)->path)
        powerloss_truncate_begin(WF(p)->path, size);
    int rc = REAL(p)->pMethods->xTruncate(REAL(p), size);
    if (WF(p)->path)
        powerloss_end();
    return rc;
#else
    return REAL(p)->pMethods->xTruncate(REAL(p), size);
#endif
}

/* fsync the directory of the WAL files of g if one was created since. */
static int wal_dir_sync(struct wfile *f, const char *wal_path)
{
    struct group *g = f->g;
    pthread_mutex_lock(&g->mu);
    int rc = SQLITE_OK;
    if (g->wal_created) {
        if (powerloss_sync_parent(wal_path) == 0)
            g->wal_created = false;
        else
            rc = SQLITE_IOERR_DIR_FSYNC;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static int x_sync(sqlite3_file *p, int flags)
{
    if (WF(p)->kind == K_WAL) {
        int rc = wal_flush(WF(p));
        if (rc == SQLITE_OK && !FAILPOINT("store-skip-fsync"))
            rc = wal_dir_sync(WF(p), WF(p)->wal_path);
        if (rc != SQLITE_OK)
            return rc;
    }
#ifdef WEFT_FAILPOINTS
    struct wfile *f = WF(p);
    if (FAILPOINT("store-skip-fsync"))
        return SQLITE_OK; /* the durable sync skipped: nothing journalled as synced */
    uint64_t seq = f->path ? powerloss_sync_begin() : 0;
    int rc = REAL(p)->pMethods->xSync(REAL(p), flags);
    if (rc == SQLITE_OK && f->path) {
        powerloss_synced(f->path, seq);
        if (f->dirsync) { /* unixSync fsyncs the directory of a new journal */
            struct buf dir = BUF_INIT;
            const char *slash = strrchr(f->path, '/');
            buf_add(&dir, f->path, slash ? (size_t)(slash - f->path) : 0);
            powerloss_dir_synced(dir.len ? dir.data : ".", seq);
            buf_release(&dir);
            f->dirsync = false;
        }
    }
    return rc;
#else
    return REAL(p)->pMethods->xSync(REAL(p), flags);
#endif
}

static int x_size(sqlite3_file *p, sqlite3_int64 *size)
{
    if (WF(p)->kind == K_WAL) {
        int rc = wal_flush(WF(p));
        if (rc != SQLITE_OK)
            return rc;
    }
    return REAL(p)->pMethods->xFileSize(REAL(p), size);
}

static int x_lock(sqlite3_file *p, int l)
{
    return REAL(p)->pMethods->xLock(REAL(p), l);
}

static int x_unlock(sqlite3_file *p, int l)
{
    return REAL(p)->pMethods->xUnlock(REAL(p), l);
}

static int x_check_reserved(sqlite3_file *p, int *out)
{
    return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out);
}

static int x_file_control(sqlite3_file *p, int op, void *arg)
{
    if (WF(p)->kind == K_WAL) {
        int rc = wal_flush(WF(p));
        if (rc != SQLITE_OK)
            return rc;
    }
    if (op == SQLITE_FCNTL_VFSNAME) { /* "weft/unix": name the layers */
        int rc = REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
        char **name = arg;
        char *inner = rc == SQLITE_OK ? *name : NULL;
        *name = sqlite3_mprintf("weft%s%s", inner ? "/" : "", inner ? inner : "");
        sqlite3_free(inner);
        return SQLITE_OK;
    }
    return REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
}

static int x_sector_size(sqlite3_file *p)
{
    return REAL(p)->pMethods->xSectorSize(REAL(p));
}

static int x_device_characteristics(sqlite3_file *p)
{
    return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

static int x_shm_map(sqlite3_file *p, int pg, int size, int extend, void volatile **pp)
{
    return REAL(p)->pMethods->xShmMap(REAL(p), pg, size, extend, pp);
}

/* Before a connection changes a wal-index lock or publishes a header (the
 * barrier), the frames written so far are in the file. */
static int x_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
    if (WF(p)->g)
        group_flush(WF(p)->g);
    return REAL(p)->pMethods->xShmLock(REAL(p), offset, n, flags);
}

static void x_shm_barrier(sqlite3_file *p)
{
    if (WF(p)->g)
        group_flush(WF(p)->g); /* a failed write is reported by its file's next call */
    REAL(p)->pMethods->xShmBarrier(REAL(p));
}

static int x_shm_unmap(sqlite3_file *p, int del)
{
    if (WF(p)->g)
        group_flush(WF(p)->g);
    return REAL(p)->pMethods->xShmUnmap(REAL(p), del);
}

static int x_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **pp)
{
    return REAL(p)->pMethods->xFetch(REAL(p), off, amt, pp);
}

static int x_unfetch(sqlite3_file *p, sqlite3_int64 off, void *pp)
{
    return REAL(p)->pMethods->xUnfetch(REAL(p), off, pp);
}

static const sqlite3_io_methods methods = {
    .iVersion = 3,
    .xClose = x_close,
    .xRead = x_read,
    .xWrite = x_write,
    .xTruncate = x_truncate,
    .xSync = x_sync,
    .xFileSize = x_size,
    .xLock = x_lock,
    .xUnlock = x_unlock,
    .xCheckReservedLock = x_check_reserved,
    .xFileControl = x_file_control,
    .xSectorSize = x_sector_size,
    .xDeviceCharacteristics = x_device_characteristics,
    .xShmMap = x_shm_map,
    .xShmLock = x_shm_lock,
    .xShmBarrier = x_shm_barrier,
    .xShmUnmap = x_shm_unmap,
    .xFetch = x_fetch,
    .xUnfetch = x_unfetch,
};

static int x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out_flags)
{
    (void)vfs;
    struct wfile *f = WF(p);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
#ifdef WEFT_FAILPOINTS
    /* 0: name did not exist before this open (journalled as created) */
    int existed = name && powerloss_enabled() ? access(name, F_OK) == 0 : 1;
#endif
    bool wal = (flags & SQLITE_OPEN_WAL) && name;
    bool wal_new = wal && (flags & SQLITE_OPEN_CREATE) && access(name, F_OK) != 0;
    int rc = unix_vfs->xOpen(unix_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (f->real->pMethods)
            f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return rc;
    }
    /* methods of version 3 are forwarded as such: the unix VFS's are */
    if (!f->real->pMethods || f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    size_t n = name ? strlen(name) : 0;
#ifdef WEFT_FAILPOINTS
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL |
                          SQLITE_OPEN_SUPER_JOURNAL))) {
        f->path = name;
        f->dirsync = existed == 0 && (flags & SQLITE_OPEN_CREATE) && !(flags & SQLITE_OPEN_MAIN_DB);
        if (existed == 0 && (flags & SQLITE_OPEN_CREATE))
            powerloss_created(name);
    }
#endif
    if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
        f->kind = K_MAIN;
        f->g = group_get(name, n);
    } else if (wal && n > 4 && strcmp(name + n - 4, "-wal") == 0) {
        f->kind = K_WAL;
        f->wal_path = name;
        f->alloc_fd = open(name, O_RDWR | O_CLOEXEC); /* -1: no allocation ahead */
        pthread_mutex_init(&f->mu, NULL);
        f->g = group_get(name, n - 4);
        pthread_mutex_lock(&f->g->mu);
        if (wal_new)
            f->g->wal_created = true;
        f->gnext = f->g->wals;
        f->g->wals = f;
        pthread_mutex_unlock(&f->g->mu);
    }
    f->base.pMethods = &methods;
    return SQLITE_OK;
}

#ifdef WEFT_FAILPOINTS
/* xDelete journalled: the file kept aside, and the directory sync the unix
 * VFS makes when asked (dirSync) journalled after it. */
static int x_delete(sqlite3_vfs *vfs, const char *name, int dir_sync)
{
    (void)vfs;
    if (!powerloss_enabled())
        return unix_vfs->xDelete(unix_vfs, name, dir_sync);
    if (powerloss_unlink(name) != 0)
        return errno == ENOENT ? SQLITE_IOERR_DELETE_NOENT : SQLITE_IOERR_DELETE;
    if (dir_sync && powerloss_sync_parent(name) != 0)
        return SQLITE_IOERR_DIR_FSYNC;
    return SQLITE_OK;
}
#endif

static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;
static int vfs_rc = SQLITE_ERROR;

static void vfs_register(void)
{
    unix_vfs = sqlite3_vfs_find("unix");
    if (!unix_vfs)
        return;
    weft_vfs = *unix_vfs;
    weft_vfs.zName = "weft";
    weft_vfs.szOsFile = (int)sizeof(struct wfile) + unix_vfs->szOsFile;
    weft_vfs.xOpen = x_open;
#ifdef WEFT_FAILPOINTS
    weft_vfs.xDelete = x_delete;
#endif
    weft_vfs.pNext = NULL;
    vfs_rc = sqlite3_vfs_register(&weft_vfs, 0);
}

const char *sqlite_vfs_name(void)
{
    pthread_once(&vfs_once, vfs_register);
    return vfs_rc == SQLITE_OK ? "weft" : NULL;
}
