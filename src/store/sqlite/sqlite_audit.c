/*
 * sqlite_audit.c - the audit log's table in SQLite.
 *
 * audit_entry is append-only: triggers refuse UPDATE and DELETE, so only
 * someone editing the file behind Weft's back can change it, and the hash
 * chain (computed by src/audit/audit.c through the chain callback, inside
 * the same write transaction that reads the head) makes that visible to
 * `weft audit verify`.  audit_head holds the newest (seq, hash) so a
 * truncated tail is noticed too.
 *
 * Workload: appends in batches of up to thousands of rows per transaction
 * (group commit); sequential scans of everything (verify); searches by
 * person, user or time, newest first (AuditEvent, "who viewed my record").
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_access.h"
#include "store/sqlite/sqlite_citizen.h"

const struct store_migration sqlite_migration_audit_1 = {
    "audit-1",
    "CREATE TABLE audit_entry (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, action TEXT NOT NULL,"
    " outcome TEXT NOT NULL, user_id TEXT, user_name TEXT, role TEXT, org TEXT, launcher TEXT,"
    " client TEXT, purpose TEXT, person_id TEXT, session_id TEXT, request_id TEXT, what TEXT,"
    " count INTEGER NOT NULL, reason TEXT, prev BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE INDEX audit_entry_person ON audit_entry (person_id, seq);"
    "CREATE INDEX audit_entry_user ON audit_entry (user_id, seq);"
    "CREATE INDEX audit_entry_time ON audit_entry (time);"
    "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"
    " hash BLOB NOT NULL, rows INTEGER NOT NULL);"
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
};

/* audit-2: the time index cost about a fifth of append throughput and is
 * not needed: seq order is time order (entries are stamped when queued and
 * committed in order), so date searches walk seq backwards, and searches
 * by person or user use their own indexes. */
const struct store_migration sqlite_migration_audit_2 = {
    "audit-2",
    "DROP INDEX audit_entry_time;",
};

#define AUDIT_COLS                                                                                 \
    "seq, time, action, outcome, user_id, user_name, role, org, launcher, client, purpose,"        \
    " person_id, session_id, request_id, what, count, reason, prev, hash"

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Fill r with pointers into the current row of st (valid until the next step). */
static void row_borrow(sqlite3_stmt *st, struct store_audit_row *r)
{
    r->seq = sqlite3_column_int64(st, 0);
    const char **f[] = {&r->time,      &r->action,     &r->outcome,    &r->user_id, &r->user_name,
                        &r->role,      &r->org,        &r->launcher,   &r->client,  &r->purpose,
                        &r->person_id, &r->session_id, &r->request_id, &r->what};
    for (int i = 0; i < 14; i++)
        *f[i] = col_text(st, i + 1);
    r->count = sqlite3_column_int64(st, 15);
    r->reason = col_text(st, 16);
    const void *p = sqlite3_column_blob(st, 17);
    if (p && sqlite3_column_bytes(st, 17) == 32)
        memcpy(r->prev, p, 32);
    else
        memset(r->prev, 0xff, 32); /* not a hash: verify reports the link broken */
    p = sqlite3_column_blob(st, 18);
    if (p && sqlite3_column_bytes(st, 18) == 32)
        memcpy(r->hash, p, 32);
    else
        memset(r->hash, 0xff, 32);
}

static int read_head(struct sqlite_store *ss, int64_t *seq, unsigned char hash[32], int64_t *rows)
{
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT seq, hash, rows FROM audit_head WHERE id = 1");
    if (!st)
        return WEFT_EDB;
    int rc = sqlite3_step(st);
    *seq = 0;
    memset(hash, 0, 32);
    if (rows)
        *rows = 0;
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        const void *p = sqlite3_column_blob(st, 1);
        if (p && sqlite3_column_bytes(st, 1) == 32)
            memcpy(hash, p, 32);
        if (rows)
            *rows = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading audit head");
}

int sqlite_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows)
{
    return read_head(sqlite_of(s), seq, hash, rows);
}

static int append_rows(struct sqlite_store *ss, struct store_audit_row *rows, int n,
                       store_audit_chain_fn chain, void *ctx)
{
    int64_t seq, count;
    unsigned char hash[32];
    int rc = read_head(ss, &seq, hash, &count);
    if (rc)
        return rc;
    chain(rows, n, seq, hash, ctx);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "INSERT INTO audit_entry (" AUDIT_COLS ") VALUES"
                        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    for (int i = 0; i < n; i++) {
        const struct store_audit_row *r = &rows[i];
        sqlite3_bind_int64(st, 1, r->seq);
        const char *v[] = {r->time,      r->action,     r->outcome,    r->user_id, r->user_name,
                           r->role,      r->org,        r->launcher,   r->client,  r->purpose,
                           r->person_id, r->session_id, r->request_id, r->what};
        for (int k = 0; k < 14; k++)
            sqlite_bind_text(st, k + 2, v[k]);
        sqlite3_bind_int64(st, 16, r->count);
        sqlite_bind_text(st, 17, r->reason);
        sqlite3_bind_blob(st, 18, r->prev, 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 19, r->hash, 32, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sqlite_fail(ss, "appending to the audit log");
    }
    st = sqlite_stmt(ss, "INSERT INTO audit_head (id, seq, hash, rows) VALUES (1, ?, ?, ?)"
                         " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq,"
                         " hash = excluded.hash, rows = excluded.rows");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, rows[n - 1].seq);
    sqlite3_bind_blob(st, 2, rows[n - 1].hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, count + n);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "writing audit head");
}

int sqlite_audit_append(struct store *s, struct store_audit_row *rows, int n,
                        store_audit_chain_fn chain, void *ctx)
{
    if (n <= 0)
        return WEFT_OK;
    struct sqlite_store *ss = sqlite_of(s);
    bool own = s->txn_depth == 0;
    int rc;
    if (own && (rc = store_begin(s)) != 0)
        return rc;
    rc = append_rows(ss, rows, n, chain, ctx);
    if (!own)
        return rc;
    if (rc) {
        store_rollback(s);
        return rc;
    }
    return store_commit(s);
}

int sqlite_audit_scan(struct store *s, int64_t from, int64_t to,
                      int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* A scan reads the whole log (verify): map the file instead of copying
     * every page through read(2).  Best effort: without it, it is slower. */
    sqlite3_exec(ss->db, "PRAGMA mmap_size = 17179869184", NULL, NULL, NULL);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " AUDIT_COLS " FROM audit_entry"
                                       " WHERE seq >= ? AND seq <= ? ORDER BY seq");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    int rc, out = WEFT_OK;
    struct store_audit_row r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_borrow(st, &r);
        if ((out = fn(&r, ctx)) != 0)
            break;
    }
    sqlite3_reset(st);
    if (out)
        return out;
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "scanning the audit log");
}

int sqlite_audit_search(struct store *s, const struct store_audit_filter *f,
                        int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    struct buf sql = BUF_INIT;
    buf_adds(&sql, "SELECT " AUDIT_COLS " FROM audit_entry WHERE 1");
    const char *binds[8];
    int nb = 0;
    if (f->person_id) {
        buf_adds(&sql, " AND person_id = ?");
        binds[nb++] = f->person_id;
    }
    if (f->user_id) {
        buf_adds(&sql, " AND user_id = ?");
        binds[nb++] = f->user_id;
    }
    if (f->action) {
        buf_adds(&sql, " AND action = ?");
        binds[nb++] = f->action;
    }
    if (f->org) {
        buf_adds(&sql, " AND org = ?");
        binds[nb++] = f->org;
    }
    if (f->time_ge) {
        buf_adds(&sql, " AND time >= ?");
        binds[nb++] = f->time_ge;
    }
    if (f->time_lt) {
        buf_adds(&sql, " AND time < ?");
        binds[nb++] = f->time_lt;
    }
    if (f->before_seq > 0)
        buf_addf(&sql, " AND seq < %lld", (long long)f->before_seq);
    buf_addf(&sql, " ORDER BY seq DESC LIMIT %d", f->limit > 0 ? f->limit : 100);
    sqlite3_stmt *st = sqlite_stmt_text(ss, sql.data);
    buf_release(&sql);
    if (!st)
        return WEFT_EDB;
    for (int i = 0; i < nb; i++)
        sqlite_bind_text(st, i + 1, binds[i]);
    int rc, out = WEFT_OK;
    struct store_audit_row r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_borrow(st, &r);
        if ((out = fn(&r, ctx)) != 0)
            break;
    }
    sqlite3_reset(st);
    if (out)
        return out;
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "searching the audit log");
}

int sqlite_audit_person(struct store *s, const char *person_id,
                        int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " AUDIT_COLS " FROM audit_entry WHERE person_id = ?"
                                       " ORDER BY seq");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, person_id);
    int rc, out = WEFT_OK;
    struct store_audit_row r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_borrow(st, &r);
        if ((out = fn(&r, ctx)) != 0)
            break;
    }
    sqlite3_reset(st);
    if (out)
        return out;
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading the audit log");
}
