/*
 * sqlite_feeds.c - SQLite tables and operations of the feeds subsystem: the
 * feed registry, per-day counters, the inbound message store (inbox) with
 * its de-duplication keys, and savepoints for the MLLP writer.
 *
 * Workload: the MLLP writer thread inserts one inbox row, claims one key and
 * updates one outcome per message, inside one transaction per batch of
 * messages; counters are added once per batch per feed, not per message, so
 * a batch of 200 messages costs 200 inbox rows and a handful of counter
 * upserts.  Status pages read the counters (one row per feed per day) and
 * never scan the inbox.  The inbox has only the two indexes its listing
 * queries need ((feed_id, id) and (feed_id, outcome, id)): every extra index
 * is paid on every inbound message.
 *
 * Bodies are BLOBs: HL7 v2 senders use 8-bit encodings other than UTF-8
 * and the inbox keeps the bytes exactly as they arrived.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite/sqlite_feeds.h"

const struct store_migration sqlite_migration_feeds_1 = {
    "feeds-1",
    "CREATE TABLE feed (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, org TEXT NOT NULL,"
    " kind TEXT NOT NULL, facility TEXT, from_address TEXT, folder TEXT, client_id INTEGER,"
    " token_hash TEXT, created TEXT NOT NULL, disabled TEXT, last_received TEXT,"
    " last_error TEXT, last_error_at TEXT);"
    "CREATE UNIQUE INDEX feed_facility ON feed (facility);"
    "CREATE INDEX feed_client ON feed (client_id);"
    "CREATE TABLE feed_day (feed_id INTEGER NOT NULL, day TEXT NOT NULL,"
    " received INTEGER NOT NULL DEFAULT 0, applied INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0, duplicate INTEGER NOT NULL DEFAULT 0,"
    " lag_n INTEGER NOT NULL DEFAULT 0, lag_sum_ms INTEGER NOT NULL DEFAULT 0,"
    " lag_max_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (feed_id, day));"
    "CREATE TABLE inbox (id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    " arrived TEXT NOT NULL, sender TEXT, peer TEXT, control_id TEXT, msg_type TEXT,"
    " event_time TEXT, outcome TEXT NOT NULL, error TEXT, updated TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, resources INTEGER NOT NULL DEFAULT 0,"
    " duplicate_of INTEGER, body BLOB NOT NULL);"
    "CREATE INDEX inbox_feed ON inbox (feed_id, id);"
    "CREATE INDEX inbox_outcome ON inbox (feed_id, outcome, id);"
    "CREATE TABLE inbox_key (feed_id INTEGER NOT NULL, control_id TEXT NOT NULL,"
    " inbox_id INTEGER NOT NULL, PRIMARY KEY (feed_id, control_id));",
};

/* feeds-2: lag over recent events (src/feeds/lag.h) beside the all-time lag. */
const struct store_migration sqlite_migration_feeds_2 = {
    "feeds-2",
    "ALTER TABLE feed_day ADD COLUMN lag_recent_n INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE feed_day ADD COLUMN lag_recent_sum_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE feed_day ADD COLUMN lag_recent_max_ms INTEGER NOT NULL DEFAULT 0;",
};

/* feeds-tls-1: an hl7v2 feed may pin its sender's TLS client certificate
 * (lower-case hex SHA-256 of the DER certificate; NULL: none pinned). */
const struct store_migration sqlite_migration_feeds_tls_1 = {
    "feeds-tls-1",
    "ALTER TABLE feed ADD COLUMN client_cert_sha256 TEXT;",
};

/* feeds-resubmit-1: a corrected copy of a message (weft feed resubmit) is a
 * new inbox row linked to the original, with who corrected it. */
const struct store_migration sqlite_migration_feeds_resubmit_1 = {
    "feeds-resubmit-1",
    "ALTER TABLE inbox ADD COLUMN resubmit_of INTEGER;"
    "ALTER TABLE inbox ADD COLUMN corrected_by TEXT;",
};

/* feeds-csvrows-1: CSV rows loaded and rejected per feed and day, so that
 * status counts rejected rows across files, not only the last file's error. */
const struct store_migration sqlite_migration_feeds_csvrows_1 = {
    "feeds-csvrows-1",
    "ALTER TABLE feed_day ADD COLUMN rows_loaded INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE feed_day ADD COLUMN rows_rejected INTEGER NOT NULL DEFAULT 0;",
};

/* feeds-3: the control-id claims as a WITHOUT ROWID table: one b-tree write a
 * message instead of two (the rowid table and its primary-key index). */
const struct store_migration sqlite_migration_feeds_3 = {
    "feeds-3",
    "CREATE TABLE inbox_key_new (feed_id INTEGER NOT NULL, control_id TEXT NOT NULL,"
    " inbox_id INTEGER NOT NULL, PRIMARY KEY (feed_id, control_id)) WITHOUT ROWID;"
    "INSERT INTO inbox_key_new (feed_id, control_id, inbox_id)"
    " SELECT feed_id, control_id, inbox_id FROM inbox_key;"
    "DROP TABLE inbox_key;"
    "ALTER TABLE inbox_key_new RENAME TO inbox_key;",
};

/* feeds-journal-1: an inbox row moved from an enhanced-mode accept journal
 * (feeds/accept_journal.h) carries the journal's id and the record's
 * sequence number, unique, so that a record moved twice is stored once.  A
 * partial index: rows from other routes cost nothing. */
const struct store_migration sqlite_migration_feeds_journal_1 = {
    "feeds-journal-1",
    "ALTER TABLE inbox ADD COLUMN journal_id TEXT;"
    "ALTER TABLE inbox ADD COLUMN journal_seq INTEGER;"
    "CREATE UNIQUE INDEX inbox_journal ON inbox (journal_id, journal_seq)"
    " WHERE journal_seq IS NOT NULL;",
};

/* ---- savepoints ----------------------------------------------------------------- */

enum savepoint_verb { SP_OPEN, SP_RELEASE, SP_ROLLBACK_TO };

static int savepoint(struct store *s, const char *name, enum savepoint_verb what)
{
    if (s->txn_depth == 0)
        return store_fail(s, WEFT_EINVAL, "savepoint outside a transaction");
    /* Prepared once and cached (matched by text): the MLLP writer opens and
     * releases two savepoints per message. */
    struct sqlite_store *ss = sqlite_of(s);
    char sql[96];
    if (what == SP_OPEN)
        snprintf(sql, sizeof sql, "SAVEPOINT %s", name);
    else if (what == SP_RELEASE)
        snprintf(sql, sizeof sql, "RELEASE %s", name);
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO %s", name);
    sqlite3_stmt *st = sqlite_stmt_text(ss, sql);
    if (!st)
        return WEFT_EDB;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (what == SP_ROLLBACK_TO)
        sqlite_person_cache_rollback(ss); /* ROLLBACK TO has no hook */
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "savepoint");
}

int sqlite_savepoint(struct store *s, const char *name)
{
    return savepoint(s, name, SP_OPEN);
}

int sqlite_release(struct store *s, const char *name)
{
    return savepoint(s, name, SP_RELEASE);
}

int sqlite_rollback_to(struct store *s, const char *name)
{
    return savepoint(s, name, SP_ROLLBACK_TO);
}

/* ---- feeds ------------------------------------------------------------------------ */

static int step_write(struct sqlite_store *ss, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(ss->db);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return WEFT_OK;
    if (rc == SQLITE_CONSTRAINT &&
        (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
        return store_fail(&ss->base, WEFT_EEXIST, "%s: already exists", what);
    return sqlite_fail(ss, what);
}

int sqlite_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO feed (name, org, kind, facility, from_address, folder, client_id,"
            " token_hash, created, client_cert_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, in->name);
    sqlite_bind_text(st, 2, in->org);
    sqlite_bind_text(st, 3, in->kind);
    sqlite_bind_text(st, 4, in->facility);
    sqlite_bind_text(st, 5, in->from_address);
    sqlite_bind_text(st, 6, in->folder);
    if (in->client_id > 0)
        sqlite3_bind_int64(st, 7, in->client_id);
    else
        sqlite3_bind_null(st, 7);
    sqlite_bind_text(st, 8, in->token_hash);
    sqlite_bind_text(st, 9, now);
    sqlite_bind_text(st, 10, in->client_cert_sha256);
    int rc = step_write(ss, st, "writing feed (name or facility taken)");
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

#define FEED_COLS                                                                                  \
    "id, name, org, kind, facility, from_address, folder, client_id, token_hash, created,"         \
    " disabled, last_received, last_error, last_error_at, client_cert_sha256"

static void feed_fill(sqlite3_stmt *st, struct store_feed *f)
{
    memset(f, 0, sizeof *f);
    f->id = sqlite3_column_int64(st, 0);
    f->name = sqlite_col_strdup(st, 1);
    f->org = sqlite_col_strdup(st, 2);
    f->kind = sqlite_col_strdup(st, 3);
    f->facility = sqlite_col_strdup(st, 4);
    f->from_address = sqlite_col_strdup(st, 5);
    f->folder = sqlite_col_strdup(st, 6);
    f->client_id = sqlite3_column_int64(st, 7);
    f->token_hash = sqlite_col_strdup(st, 8);
    f->created = sqlite_col_strdup(st, 9);
    f->disabled = sqlite_col_strdup(st, 10);
    f->last_received = sqlite_col_strdup(st, 11);
    f->last_error = sqlite_col_strdup(st, 12);
    f->last_error_at = sqlite_col_strdup(st, 13);
    f->client_cert_sha256 = sqlite_col_strdup(st, 14);
}

static int feed_get(struct store *s, int64_t id, const char *name, const char *facility,
                    int64_t client_id, struct store_feed *out)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    if (name) {
        st = sqlite_stmt(ss, "SELECT " FEED_COLS " FROM feed WHERE name = ?");
        if (st)
            sqlite_bind_text(st, 1, name);
    } else if (facility) {
        st = sqlite_stmt(ss, "SELECT " FEED_COLS " FROM feed WHERE facility = ?"
                             " AND kind = 'hl7v2'");
        if (st)
            sqlite_bind_text(st, 1, facility);
    } else if (client_id > 0) {
        st = sqlite_stmt(ss, "SELECT " FEED_COLS " FROM feed WHERE client_id = ?"
                             " AND kind = 'fhir' ORDER BY id LIMIT 1");
        if (st)
            sqlite3_bind_int64(st, 1, client_id);
    } else {
        st = sqlite_stmt(ss, "SELECT " FEED_COLS " FROM feed WHERE id = ?");
        if (st)
            sqlite3_bind_int64(st, 1, id);
    }
    if (!st)
        return WEFT_EDB;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        feed_fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return WEFT_OK;
    return rc == SQLITE_DONE ? WEFT_ENOTFOUND : sqlite_fail(ss, "reading feed");
}

int sqlite_feed_get(struct store *s, int64_t id, struct store_feed *out)
{
    return feed_get(s, id, NULL, NULL, 0, out);
}

int sqlite_feed_by_name(struct store *s, const char *name, struct store_feed *out)
{
    return feed_get(s, 0, name, NULL, 0, out);
}

int sqlite_feed_by_facility(struct store *s, const char *facility, struct store_feed *out)
{
    return feed_get(s, 0, NULL, facility, 0, out);
}

int sqlite_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out)
{
    return feed_get(s, 0, NULL, NULL, client_id, out);
}

int sqlite_feed_list(struct store *s, struct store_feed **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT " FEED_COLS " FROM feed ORDER BY name");
    if (!st)
        return WEFT_EDB;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        feed_fill(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing feeds");
}

int sqlite_feed_set_disabled(struct store *s, int64_t id, bool disabled)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE feed SET disabled = ?2 WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite_bind_text(st, 2, disabled ? now : NULL);
    int rc = step_write(ss, st, "updating feed");
    if (rc == 0 && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no feed %lld", (long long)id);
    return rc;
}

int sqlite_feed_count(struct store *s, int64_t feed_id, const char *day,
                      const struct store_feed_counts *add, const char *last_received,
                      const char *last_error)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO feed_day (feed_id, day, received, applied, rejected, duplicate, lag_n,"
            " lag_sum_ms, lag_max_ms, lag_recent_n, lag_recent_sum_ms, lag_recent_max_ms,"
            " rows_loaded, rows_rejected)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_id, day) DO UPDATE SET received = received + excluded.received,"
            " applied = applied + excluded.applied, rejected = rejected + excluded.rejected,"
            " duplicate = duplicate + excluded.duplicate, lag_n = lag_n + excluded.lag_n,"
            " lag_sum_ms = lag_sum_ms + excluded.lag_sum_ms,"
            " lag_max_ms = max(lag_max_ms, excluded.lag_max_ms),"
            " lag_recent_n = lag_recent_n + excluded.lag_recent_n,"
            " lag_recent_sum_ms = lag_recent_sum_ms + excluded.lag_recent_sum_ms,"
            " lag_recent_max_ms = max(lag_recent_max_ms, excluded.lag_recent_max_ms),"
            " rows_loaded = rows_loaded + excluded.rows_loaded,"
            " rows_rejected = rows_rejected + excluded.rows_rejected");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, day);
    sqlite3_bind_int64(st, 3, add->received);
    sqlite3_bind_int64(st, 4, add->applied);
    sqlite3_bind_int64(st, 5, add->rejected);
    sqlite3_bind_int64(st, 6, add->duplicate);
    sqlite3_bind_int64(st, 7, add->lag_n);
    sqlite3_bind_int64(st, 8, add->lag_sum_ms);
    sqlite3_bind_int64(st, 9, add->lag_max_ms);
    sqlite3_bind_int64(st, 10, add->lag_recent_n);
    sqlite3_bind_int64(st, 11, add->lag_recent_sum_ms);
    sqlite3_bind_int64(st, 12, add->lag_recent_max_ms);
    sqlite3_bind_int64(st, 13, add->rows_loaded);
    sqlite3_bind_int64(st, 14, add->rows_rejected);
    int rc = step_write(ss, st, "counting feed messages");
    if (rc != 0 || (!last_received && !last_error))
        return rc;
    char now[32];
    sqlite_now(now);
    st = sqlite_stmt(ss, "UPDATE feed SET last_received = CASE WHEN ?2 IS NOT NULL AND"
                         " (last_received IS NULL OR ?2 > last_received) THEN ?2"
                         " ELSE last_received END, last_error = coalesce(?3, last_error),"
                         " last_error_at = CASE WHEN ?3 IS NOT NULL THEN ?4"
                         " ELSE last_error_at END WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, last_received);
    sqlite_bind_text(st, 3, last_error);
    sqlite_bind_text(st, 4, now);
    return step_write(ss, st, "updating feed");
}

int sqlite_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                           struct store_feed_counts *today, struct store_feed_counts *total)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "SELECT day = ?2, sum(received), sum(applied), sum(rejected), sum(duplicate),"
            " sum(lag_n), sum(lag_sum_ms), max(lag_max_ms), sum(lag_recent_n),"
            " sum(lag_recent_sum_ms), max(lag_recent_max_ms), sum(rows_loaded),"
            " sum(rows_rejected) FROM feed_day WHERE feed_id = ?1"
            " GROUP BY day = ?2");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, day ? day : "");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_feed_counts c = {
            .received = sqlite3_column_int64(st, 1),
            .applied = sqlite3_column_int64(st, 2),
            .rejected = sqlite3_column_int64(st, 3),
            .duplicate = sqlite3_column_int64(st, 4),
            .lag_n = sqlite3_column_int64(st, 5),
            .lag_sum_ms = sqlite3_column_int64(st, 6),
            .lag_max_ms = sqlite3_column_int64(st, 7),
            .lag_recent_n = sqlite3_column_int64(st, 8),
            .lag_recent_sum_ms = sqlite3_column_int64(st, 9),
            .lag_recent_max_ms = sqlite3_column_int64(st, 10),
            .rows_loaded = sqlite3_column_int64(st, 11),
            .rows_rejected = sqlite3_column_int64(st, 12),
        };
        if (sqlite3_column_int(st, 0))
            *today = c;
        total->received += c.received;
        total->applied += c.applied;
        total->rejected += c.rejected;
        total->duplicate += c.duplicate;
        total->lag_n += c.lag_n;
        total->lag_sum_ms += c.lag_sum_ms;
        if (c.lag_max_ms > total->lag_max_ms)
            total->lag_max_ms = c.lag_max_ms;
        total->lag_recent_n += c.lag_recent_n;
        total->lag_recent_sum_ms += c.lag_recent_sum_ms;
        total->rows_loaded += c.rows_loaded;
        total->rows_rejected += c.rows_rejected;
        if (c.lag_recent_max_ms > total->lag_recent_max_ms)
            total->lag_recent_max_ms = c.lag_recent_max_ms;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "reading feed counters");
}

/* ---- inbox --------------------------------------------------------------------------- */

int sqlite_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO inbox (feed_id, kind, arrived, sender, peer, control_id, msg_type,"
            " event_time, outcome, error, updated, attempts, resources, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, in->feed_id);
    sqlite_bind_text(st, 2, in->kind);
    sqlite_bind_text(st, 3, in->arrived ? in->arrived : now);
    sqlite_bind_text(st, 4, in->sender);
    sqlite_bind_text(st, 5, in->peer);
    sqlite_bind_text(st, 6, in->control_id);
    sqlite_bind_text(st, 7, in->msg_type);
    sqlite_bind_text(st, 8, in->event_time);
    sqlite_bind_text(st, 9, in->outcome ? in->outcome : "pending");
    sqlite_bind_text(st, 10, in->error);
    sqlite_bind_text(st, 11, now);
    sqlite3_bind_int(st, 12, in->attempts);
    sqlite3_bind_int64(st, 13, in->resources);
    sqlite3_bind_blob64(st, 14, in->body ? in->body : "", in->body_len, SQLITE_STATIC);
    int rc = step_write(ss, st, "writing inbox message");
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(ss->db);
    return rc;
}

int sqlite_inbox_add_journaled(struct store *s, const struct store_inbox_msg *in,
                               const char *journal_id, int64_t seq, int64_t *id_out, bool *added)
{
    struct sqlite_store *ss = sqlite_of(s);
    *added = false;
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "INSERT INTO inbox (feed_id, kind, arrived, sender, peer, control_id, msg_type,"
            " outcome, updated, attempts, body, journal_id, journal_seq)"
            " VALUES (?, 'hl7v2', ?, ?, ?, ?, ?, 'pending', ?, 1, ?, ?, ?)"
            " ON CONFLICT (journal_id, journal_seq) WHERE journal_seq IS NOT NULL DO NOTHING");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, in->feed_id);
    sqlite_bind_text(st, 2, in->arrived ? in->arrived : now);
    sqlite_bind_text(st, 3, in->sender);
    sqlite_bind_text(st, 4, in->peer);
    sqlite_bind_text(st, 5, in->control_id);
    sqlite_bind_text(st, 6, in->msg_type);
    sqlite_bind_text(st, 7, now);
    sqlite3_bind_blob64(st, 8, in->body ? in->body : "", in->body_len, SQLITE_STATIC);
    sqlite_bind_text(st, 9, journal_id);
    sqlite3_bind_int64(st, 10, seq);
    int rc = step_write(ss, st, "moving an accepted message into the inbox");
    if (rc != 0)
        return rc;
    if (sqlite3_changes(ss->db) == 1) {
        *added = true;
        *id_out = sqlite3_last_insert_rowid(ss->db);
        return 0;
    }
    st = sqlite_stmt(ss, "SELECT id FROM inbox WHERE journal_id = ? AND journal_seq = ?");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, journal_id);
    sqlite3_bind_int64(st, 2, seq);
    int src = sqlite3_step(st);
    *id_out = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return src == SQLITE_ROW ? 0 : sqlite_fail(ss, "reading a moved message");
}

int sqlite_inbox_journal_moved(struct store *s, const char *journal_id, int64_t *seq)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT max(journal_seq) FROM inbox WHERE journal_id = ?"
                                       " AND journal_seq IS NOT NULL");
    if (!st)
        return WEFT_EDB;
    sqlite_bind_text(st, 1, journal_id);
    int rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : sqlite_fail(ss, "reading the accept journal's moved mark");
}

int sqlite_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                             int64_t resources, int64_t duplicate_of, bool bump)
{
    struct sqlite_store *ss = sqlite_of(s);
    char now[32];
    sqlite_now(now);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "UPDATE inbox SET outcome = ?2, error = ?3, resources = ?4, duplicate_of = ?5,"
            " updated = ?6, attempts = attempts + ?7 WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite_bind_text(st, 2, outcome);
    sqlite_bind_text(st, 3, error);
    sqlite3_bind_int64(st, 4, resources);
    if (duplicate_of > 0)
        sqlite3_bind_int64(st, 5, duplicate_of);
    else
        sqlite3_bind_null(st, 5);
    sqlite_bind_text(st, 6, now);
    sqlite3_bind_int(st, 7, bump ? 1 : 0);
    int rc = step_write(ss, st, "updating inbox message");
    if (rc == 0 && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no inbox message %lld", (long long)id);
    return rc;
}

int sqlite_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "UPDATE inbox SET feed_id = ?2 WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, feed_id);
    return step_write(ss, st, "updating inbox message");
}

int sqlite_inbox_list(struct store *s, const struct store_inbox_filter *f,
                      struct store_inbox_msg **out, int *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* Built per filter shape so that each shape gets its own index plan. */
    struct buf q = BUF_INIT;
    buf_addf(&q,
             "SELECT id, feed_id, kind, arrived, sender, peer, control_id, msg_type,"
             " event_time, outcome, error, updated, attempts, resources, duplicate_of, %s,"
             " resubmit_of, corrected_by FROM inbox WHERE id > ?1",
             f->with_body ? "body" : "NULL");
    if (f->only_id)
        buf_adds(&q, " AND id = ?2");
    if (f->feed_id)
        buf_adds(&q, " AND feed_id = ?3");
    if (f->outcome)
        buf_adds(&q, " AND outcome = ?4");
    if (f->since)
        buf_adds(&q, " AND arrived >= ?5");
    if (f->before_id)
        buf_adds(&q, " AND id < ?7");
    if (f->until)
        buf_adds(&q, " AND arrived < ?8");
    if (f->control_id)
        buf_adds(&q, " AND control_id = ?9");
    if (f->msg_type)
        buf_adds(&q, " AND substr(msg_type, 1, length(?10)) = ?10");
    if (f->body_contains)
        buf_adds(&q, " AND instr(body, ?11) > 0");
    buf_adds(&q, f->newest_first ? " ORDER BY id DESC LIMIT ?6" : " ORDER BY id LIMIT ?6");
    sqlite3_stmt *st = sqlite_stmt_text(ss, q.data);
    buf_release(&q);
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, f->after_id);
    if (f->only_id)
        sqlite3_bind_int64(st, 2, f->only_id);
    if (f->feed_id)
        sqlite3_bind_int64(st, 3, f->feed_id);
    if (f->outcome)
        sqlite_bind_text(st, 4, f->outcome);
    if (f->since)
        sqlite_bind_text(st, 5, f->since);
    sqlite3_bind_int(st, 6, f->limit > 0 ? f->limit : 100);
    if (f->before_id)
        sqlite3_bind_int64(st, 7, f->before_id);
    if (f->until)
        sqlite_bind_text(st, 8, f->until);
    if (f->control_id)
        sqlite_bind_text(st, 9, f->control_id);
    if (f->msg_type)
        sqlite_bind_text(st, 10, f->msg_type);
    if (f->body_contains)
        sqlite3_bind_blob(st, 11, f->body_contains, (int)strlen(f->body_contains),
                          SQLITE_TRANSIENT);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        struct store_inbox_msg *m = &(*out)[(*n)++];
        memset(m, 0, sizeof *m);
        m->id = sqlite3_column_int64(st, 0);
        m->feed_id = sqlite3_column_int64(st, 1);
        m->kind = sqlite_col_strdup(st, 2);
        m->arrived = sqlite_col_strdup(st, 3);
        m->sender = sqlite_col_strdup(st, 4);
        m->peer = sqlite_col_strdup(st, 5);
        m->control_id = sqlite_col_strdup(st, 6);
        m->msg_type = sqlite_col_strdup(st, 7);
        m->event_time = sqlite_col_strdup(st, 8);
        m->outcome = sqlite_col_strdup(st, 9);
        m->error = sqlite_col_strdup(st, 10);
        m->updated = sqlite_col_strdup(st, 11);
        m->attempts = sqlite3_column_int(st, 12);
        m->resources = sqlite3_column_int64(st, 13);
        m->duplicate_of = sqlite3_column_int64(st, 14);
        m->resubmit_of = sqlite3_column_int64(st, 16);
        m->corrected_by = sqlite_col_strdup(st, 17);
        if (f->with_body && sqlite3_column_type(st, 15) != SQLITE_NULL) {
            const void *b = sqlite3_column_blob(st, 15);
            size_t len = (size_t)sqlite3_column_bytes(st, 15);
            m->body = xmalloc(len + 1);
            if (len)
                memcpy(m->body, b, len);
            m->body[len] = 0;
            m->body_len = len;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "listing inbox");
}

int sqlite_inbox_set_resubmit(struct store *s, int64_t id, int64_t resubmit_of, const char *by)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st =
        sqlite_stmt(ss, "UPDATE inbox SET resubmit_of = ?2, corrected_by = ?3 WHERE id = ?1");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, resubmit_of);
    sqlite_bind_text(st, 3, by);
    int rc = step_write(ss, st, "linking a resubmitted message");
    if (rc == 0 && sqlite3_changes(ss->db) == 0)
        return store_fail(s, WEFT_ENOTFOUND, "no inbox message %lld", (long long)id);
    return rc;
}

int sqlite_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                       int64_t *first)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(ss, "INSERT INTO inbox_key (feed_id, control_id, inbox_id)"
                                       " VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, control_id);
    sqlite3_bind_int64(st, 3, id);
    int rc = step_write(ss, st, "claiming control id");
    if (rc != 0)
        return rc;
    if (sqlite3_changes(ss->db) == 1) {
        if (first)
            *first = id;
        return WEFT_OK;
    }
    st = sqlite_stmt(ss, "SELECT inbox_id FROM inbox_key WHERE feed_id = ? AND control_id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, control_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && first)
        *first = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sqlite_fail(ss, "reading control id");
    return WEFT_EEXIST;
}

/* SQLite: a statement is a function call, not a round trip - the batch
 * forms loop over the single-row ones */
int sqlite_inbox_add_many(struct store *s, const struct store_inbox_msg *in, int n,
                          int64_t *ids_out)
{
    for (int i = 0; i < n; i++) {
        int rc = sqlite_inbox_add(s, &in[i], &ids_out[i]);
        if (rc != 0)
            return rc;
    }
    return WEFT_OK;
}

int sqlite_inbox_claim_many(struct store *s, int n, const int64_t *feed_ids,
                            const char *const *controls, const int64_t *ids, int64_t *firsts)
{
    for (int i = 0; i < n; i++) {
        int rc = sqlite_inbox_claim(s, feed_ids[i], controls[i], ids[i], &firsts[i]);
        if (rc != 0 && rc != WEFT_EEXIST)
            return rc;
    }
    return WEFT_OK;
}

int sqlite_inbox_unclaim(struct store *s, int64_t feed_id, const char *control_id, int64_t id)
{
    struct sqlite_store *ss = sqlite_of(s);
    sqlite3_stmt *st = sqlite_stmt(
        ss, "DELETE FROM inbox_key WHERE feed_id = ? AND control_id = ? AND inbox_id = ?");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, control_id);
    sqlite3_bind_int64(st, 3, id);
    return step_write(ss, st, "giving back a control id's claim");
}

int sqlite_inbox_pending_count(struct store *s, int64_t feed_id, const char *kind, int64_t *n)
{
    struct sqlite_store *ss = sqlite_of(s);
    /* one feed: a range of inbox_outcome (feed_id, outcome, id); every feed:
     * that index's range per feed (the skip-scan of a few feed ids) */
    sqlite3_stmt *st =
        feed_id ? sqlite_stmt(ss, "SELECT count(*) FROM inbox WHERE feed_id = ?1 AND"
                                  " outcome = 'pending' AND (?2 IS NULL OR kind = ?2)")
                : sqlite_stmt(ss, "SELECT count(*) FROM inbox WHERE feed_id IN (SELECT id FROM feed"
                                  " UNION SELECT 0) AND outcome = 'pending' AND (?2 IS NULL OR"
                                  " kind = ?2)");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    sqlite_bind_text(st, 2, kind);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? WEFT_OK : sqlite_fail(ss, "counting pending inbox messages");
}

int sqlite_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5])
{
    struct sqlite_store *ss = sqlite_of(s);
    static const char *const names[5] = {"pending", "applied", "rejected", "duplicate", "partial"};
    sqlite3_stmt *st = sqlite_stmt(ss, "SELECT outcome, count(*) FROM inbox"
                                       " WHERE ?1 = 0 OR feed_id = ?1 GROUP BY outcome");
    if (!st)
        return WEFT_EDB;
    sqlite3_bind_int64(st, 1, feed_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *o = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; i < 5 && o; i++)
            if (strcmp(o, names[i]) == 0)
                out[i] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? WEFT_OK : sqlite_fail(ss, "counting inbox");
}
