/*
 * sqlite_store.c - the SQLite backend's handle: open/close, connection
 * settings, the prepared-statement cache, transactions, shared helpers.
 *
 * Settings: WAL journal (readers run beside one writer), synchronous=FULL
 * (a committed transaction survives power loss: feeds acknowledge only what
 * is durably stored), a 5 s busy timeout, foreign keys off (the loader
 * checks references itself), a 64 MB page cache.
 *
 * The statement cache is a small array scanned linearly: a handle uses a few
 * dozen distinct statements and the scan compares pointers first, so a hit
 * costs less than a hash.  Built SQL (search) is matched by text.
 *
 * The handle also carries the person-link cache (sqlite_person_cache.h);
 * transactions here, sqlite_exec() and the statement cache tell it when a
 * transaction begins, commits or is rolled back (to a savepoint).
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_core.h"
#include "store/sqlite/sqlite_vfs.h"

extern const struct store_ops sqlite_ops;

int sqlite_fail(struct sqlite_store *ss, const char *what)
{
    int code = sqlite3_errcode(ss->db);
    int err = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? WEFT_EBUSY : WEFT_EDB;
    return store_fail(&ss->base, err, "%s: %s", what, sqlite3_errmsg(ss->db));
}

int sqlite_exec(struct sqlite_store *ss, const char *sql)
{
    char *msg = NULL;
    int xrc = sqlite3_exec(ss->db, sql, NULL, NULL, &msg);
    /* ROLLBACK TO has no hook: forget what the transaction taught the person
     * cache (a full ROLLBACK also fires the rollback hook; twice is harmless) */
    if (sqlite_person_cache_sql_rolls_back(sql))
        sqlite_person_cache_rollback(ss);
    if (xrc != SQLITE_OK) {
        int code = sqlite3_errcode(ss->db);
        int rc = store_fail(&ss->base, code == SQLITE_BUSY ? WEFT_EBUSY : WEFT_EDB, "%s",
                            msg ? msg : sqlite3_errmsg(ss->db));
        sqlite3_free(msg);
        return rc;
    }
    return WEFT_OK;
}

int sqlite_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (!s)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
}

char *sqlite_col_strdup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    return xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

void sqlite_now(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(ts.tv_nsec / 1000000) % 1000);
}

static sqlite3_stmt *cache_get(struct sqlite_store *ss, const char *sql, bool by_pointer)
{
    struct sqlite_stmt_slot *victim = &ss->cache[0];
    ss->clock++;
    for (int i = 0; by_pointer && i < SQLITE_STMT_CACHE && ss->cache[i].stmt; i++) {
        struct sqlite_stmt_slot *sl = &ss->cache[i];
        if (sl->key == sql) {
            if (sl->rollback)
                sqlite_person_cache_rollback(ss);
            sqlite3_reset(sl->stmt);
            sqlite3_clear_bindings(sl->stmt);
            sl->used = ss->clock;
            return sl->stmt;
        }
    }
    for (int i = 0; i < SQLITE_STMT_CACHE; i++) {
        struct sqlite_stmt_slot *sl = &ss->cache[i];
        if (sl->stmt && (strcmp(sl->sql, sql) == 0)) {
            if (sl->rollback)
                sqlite_person_cache_rollback(ss);
            sqlite3_reset(sl->stmt);
            sqlite3_clear_bindings(sl->stmt);
            sl->used = ss->clock;
            if (by_pointer)
                sl->key = sql;
            return sl->stmt;
        }
        if (!sl->stmt || sl->used < victim->used)
            victim = sl;
        if (!sl->stmt)
            break;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(ss->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        sqlite_fail(ss, "preparing statement");
        return NULL;
    }
    if (victim->stmt) {
        sqlite3_finalize(victim->stmt);
        free(victim->sql);
    }
    victim->stmt = st;
    victim->sql = xstrdup(sql);
    victim->key = by_pointer ? sql : NULL;
    victim->used = ss->clock;
    /* A ROLLBACK TO statement is handed out just before it is stepped: drop
     * the person cache's pending entries now (dropping early is only ever
     * conservative).  Its callers need not remember to. */
    victim->rollback = sqlite_person_cache_sql_rolls_back(sql);
    if (victim->rollback)
        sqlite_person_cache_rollback(ss);
    return st;
}

sqlite3_stmt *sqlite_stmt(struct sqlite_store *ss, const char *sql)
{
    return cache_get(ss, sql, true);
}

sqlite3_stmt *sqlite_stmt_text(struct sqlite_store *ss, const char *sql)
{
    return cache_get(ss, sql, false);
}

/* Process-wide SQLite settings, once, before the library initialises.
 * Memory statistics off: with them on, every sqlite3_malloc/free takes one
 * global mutex, which the HTTP workers (a handle each) contend on; Weft never
 * reads the statistics.  Best effort: if SQLite was already initialised
 * (another user in the process), the call fails and nothing changes. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

int sqlite_store_open(struct store **out, const char *path, bool create, char **errmsg)
{
    *out = NULL;
    pthread_once(&sqlite_once, sqlite_global_init);
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, sqlite_vfs_name());
    if (rc != SQLITE_OK) {
        if (errmsg) {
            struct buf b = BUF_INIT;
            buf_addf(&b, "cannot open database '%s': %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
            *errmsg = buf_detach(&b, NULL);
        }
        sqlite3_close(db);
        return rc == SQLITE_CANTOPEN ? WEFT_ENOTFOUND : WEFT_EDB;
    }
    struct sqlite_store *ss = xcalloc(1, sizeof *ss);
    ss->base.ops = &sqlite_ops;
    ss->db = db;
    ss->path = xstrdup(path);
    sqlite_person_cache_init(ss);
    sqlite3_busy_timeout(db, 5000);
    sqlite_register_functions(db); /* weft_idkey() for migrations */
    sqlite3_extended_result_codes(db, 0);
    /* journal_size_limit: the WAL file keeps the size of the longest run of
     * commits that went by without a checkpoint catching up (hundreds of MB
     * under a sustained feed burst); when the log restarts it is cut back to
     * 64 MB, which a steady feed with 200 ms checkpoints stays within. */
    rc = sqlite_exec(ss, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536;"
                         " PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864");
    if (rc == 0) {
        /* A file that is not a database fails here, not at first use. */
        rc = sqlite_exec(ss, "SELECT count(*) FROM sqlite_master");
    }
    if (rc != 0) {
        if (errmsg) {
            struct buf b = BUF_INIT;
            buf_addf(&b, "cannot open database '%s': %s", path, ss->base.errmsg);
            *errmsg = buf_detach(&b, NULL);
        }
        sqlite_close(&ss->base);
        return rc;
    }
    *out = &ss->base;
    return WEFT_OK;
}

void sqlite_close(struct store *s)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite_writer_stop(ss);
    for (int i = 0; i < SQLITE_STMT_CACHE; i++) {
        if (ss->cache[i].stmt) {
            sqlite3_finalize(ss->cache[i].stmt);
            free(ss->cache[i].sql);
        }
    }
    if (s->txn_depth > 0)
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite_person_cache_free(ss);
    sqlite_index_free(ss);
    sqlite3_close(ss->db);
    free(ss->path);
    free(ss);
}

/* Bulk: synchronous=NORMAL lets WAL commits return without fsync, and a
 * larger auto-checkpoint interval copies each hot index page from the WAL to
 * the database fewer times; leaving
 * bulk mode checkpoints the WAL (which syncs the WAL and then the database
 * file) and goes back to FULL. */
int sqlite_bulk(struct store *s, bool on)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (on)
        return sqlite_exec(ss, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=16384");
    int rc = sqlite_exec(ss, "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=1000");
    /* The checkpoint is best effort: a reader holding an old snapshot (weft
     * serve running beside the load) can stop it short, and the pragma
     * reports that as a result row, not an error.  Durability does not rest
     * on it: the small commit after it runs at synchronous=FULL, and a FULL
     * commit fsyncs the whole WAL file, so every frame the bulk load wrote
     * is on disk before this returns. */
    if (rc == 0)
        rc = sqlite_exec(ss, "PRAGMA wal_checkpoint(FULL)");
    if (rc == 0)
        rc = sqlite_exec(ss, "BEGIN IMMEDIATE; INSERT INTO meta (key, value) "
                             "VALUES ('last_bulk_load', strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value; COMMIT");
    return rc;
}

/* Writers take the write lock at BEGIN (IMMEDIATE) so two writers queue on
 * the busy timeout instead of failing at their first write. */
int sqlite_begin(struct store *s)
{
    if (s->txn_depth > 0)
        return store_fail(s, WEFT_EINVAL, "a transaction is already open on this handle");
    int rc = sqlite_exec(sqlite_of(s), "BEGIN IMMEDIATE");
    if (rc == 0) {
        assert(!sqlite3_get_autocommit(sqlite_of(s)->db));
        s->txn_depth = 1;
        s->txn_serial = store_txn_serial_next();
        sqlite_now(sqlite_of(s)->txn_now);
        sqlite_person_cache_begin(sqlite_of(s));
    }
    return rc;
}

int sqlite_commit(struct store *s)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "commit without a transaction");
    int rc = sqlite_exec(sqlite_of(s), "COMMIT");
    if (rc == 0) {
        assert(sqlite3_get_autocommit(sqlite_of(s)->db)); /* COMMIT ended it */
        s->txn_depth = 0;
        sqlite_person_cache_commit(sqlite_of(s));
    }
    return rc;
}

bool sqlite_alive(struct store *s)
{
    return s->txn_depth > 0 && !sqlite3_get_autocommit(sqlite_of(s)->db);
}

int sqlite_rollback(struct store *s)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "rollback without a transaction");
    s->txn_depth = 0;
    sqlite_person_cache_rollback(sqlite_of(s)); /* the hook does too; explicit here */
    if (sqlite3_get_autocommit(sqlite_of(s)->db))
        return WEFT_OK; /* SQLite already rolled back (e.g. after a full disk) */
    return sqlite_exec(sqlite_of(s), "ROLLBACK");
}
