/*
 * pg_int.h - what every PostgreSQL backend file shares: the handle (the
 * common struct store first, then the libpq connection), the prepared
 * statement cache, parameter helpers and error mapping.  Only src/store/pg/
 * includes this.
 *
 * One file per noun group implements that group's operations (pg_resource.c,
 * pg_search.c, pg_person.c, pg_meta.c ...); pg_ops.c holds the operations
 * table and pg_migrate.c the schema (store/store_int.h explains both).
 *
 * A handle is one connection, used by one thread at a time, like the SQLite
 * handle; servers open one per worker thread.
 *
 * Writers.  seq values come from the sequence resource_seq; a reader's
 * snapshot is a seq S ("the versions with seq <= S"), and paging needs S to
 * be stable: no version with seq <= S may become visible after S was
 * taken.  With writers in flight at once, seqs do not commit in seq order,
 * so S is not simply max(seq).  The writers' horizon makes it exact:
 *
 *   - Every write transaction (pg_begin, pg_auto_begin: pg_store.c,
 *     writer_begin), BEFORE it can allocate any seq, commits its session's
 *     row in writer_horizon (pid, since = the session's start, first_seq =
 *     resource_seq's last_value + 1, or last_value when is_called is
 *     false), and its transaction's first statement clears first_seq
 *     (NULL): the mark disappears exactly when the writer's data becomes
 *     visible (one commit).  A transaction that rolls back (or whose commit
 *     fails) clears it afterwards; rows of sessions that are gone are
 *     deleted by the next writer (HORIZON_CLEAN_SQL).
 *   - A reader takes S = least(max(seq), min(first_seq) - 1) in ONE
 *     statement, i.e. one MVCC snapshot: PG_SNAP_SQL below.
 *
 * Why S is stable.  Suppose a version with seq q <= S, written by a
 * transaction T of writer W, is not visible in the reader's snapshot (T is
 * in flight, or commits later).  Let m = max(seq) visible in the snapshot:
 * q <= S <= m, and q != m since seqs are unique and m is visible, so q < m.
 * nextval hands out values in increasing order store-wide (resource_seq has
 * CACHE 1 - writers-1 sets it; with a per-session cache a session could
 * hand out a value below the sequence's last_value later, and the argument
 * fails), so q was allocated before m was.  m's transaction committed before
 * the reader's snapshot was taken, hence q's allocation precedes the
 * snapshot too, and W's mark, committed before W's first nextval, is in the
 * snapshot - and not cleared in it: only T clears it at T's commit
 * (invisible to the snapshot, by assumption), or W after T rolled back, or
 * a cleaner after W's session ended (T then rolled back too); W's next
 * transaction marks again only after T has ended.  Either of the
 * latter means q never becomes visible.  The row's first_seq was computed
 * from last_value read before W's first nextval, and nextval returns
 * last_value + 1 (is_called) or last_value (not yet called) or more, so
 * first_seq <= q and S <= min(first_seq) - 1 < q: a contradiction.  So every
 * seq <= S is visible in the snapshot or never will be.  last_value is read
 * from the sequence's tuple, which nextval updates at once and
 * non-transactionally (another session sees it immediately, committed or
 * not); a crash may make the sequence skip values (it logs ahead), which
 * only makes first_seq smaller than need be, never larger.
 *
 * A writer that holds a transaction open holds the horizon at its first_seq
 * - 1 for that long: a first page, a person's snapshot, the analytics
 * watermark see the store as it was before that writer began (later commits
 * of other writers appear when it ends).  Each transaction costs one small
 * committed row (synchronous_commit off: only visibility matters; a crash
 * ends the writer too) in the same round trip as its BEGIN.
 *
 * What writers in flight at once can meet, and how each is kept right
 * (docs/ARCHITECTURE.md): the same patient's rows - a batch locks its
 * patients' and visits' keys first, in one order (store_lock_keys); the
 * same new row made by two - unique constraints, and ON CONFLICT where a
 * writer must go on; hot counter rows - updated in one order (feed_day);
 * whatever is left (a deadlock, a unique violation, a version replaced
 * meanwhile) - store_raced, and the batching writers roll back and do the
 * whole batch again once before answering.
 *
 * The old rule - every write transaction takes the transaction-scoped
 * advisory lock PG_WRITE_LOCK, so seqs commit in order - serialised
 * PostgreSQL ingest to about one core (docs/BENCHMARKS.md).  It is taken
 * only with WEFT_PG_WRITER_LOCK=1 (a way back; the horizon is kept either
 * way).  Readers never take it (MVCC).  The audit chain has its own lock
 * (pg_audit.c); migrations take PG_WRITE_LOCK among themselves
 * (pg_migrate.c), and one that writes versions must not run beside
 * serving nodes (it leaves no horizon mark).
 */
#ifndef WEFT_STORE_PG_PG_INT_H
#define WEFT_STORE_PG_PG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store_int.h"

#define PG_STMT_CACHE 128
#define PG_DEFER_MAX 8
#define PG_MAXP_DEFER 16                /* parameters of a deferred statement */
#define PG_WRITE_LOCK "7700414801"      /* pg_advisory_xact_lock key: "weft writer" */
#define PG_MOVED_LOCK "7700414803"      /* analytics_moved ids in commit order (pg12-writers-1) */
#define PG_KEY_LOCK "77004149"          /* first key of store_lock_keys' locks */
#define PG_JOB_LOCK "77004148"          /* first key of the single-runner jobs' locks */
#define PG_CLIENT_CACHE 32              /* API clients kept per connection (pg_meta.c) */
#define PG_CLIENT_TTL_MS 5000           /* the longest a kept client is trusted unasked */
#define PG_CLIENT_CHANNEL "weft_client" /* NOTIFY channel of changes to client */
#define PG_ACCESS_CACHE 64              /* decisions' facts kept per connection (pg_access.c) */
#define PG_ACCESS_TTL_MS 5000           /* the longest kept facts are trusted unasked */
#define PG_ACCESS_CHANNEL "weft_access" /* NOTIFY channel of changes to the facts' tables */
#define PG_PATIENT_CACHE 512            /* Patients' persons kept per connection (pg_resource.c) */

/* The newest seq a reader may take as its snapshot (a scalar subquery):
 * every seq at or below it is committed or will never be.  The one
 * definition every reader of "the store's last seq" uses (paging's first
 * page, a person's snapshot, the analytics watermark): the writers' horizon
 * (above), in the statement's one snapshot. */
#define PG_SNAP_SQL                                                                                \
    "(SELECT LEAST((SELECT COALESCE(max(seq), 0) FROM resource),"                                  \
    " (SELECT min(first_seq) - 1 FROM writer_horizon)))"
#define PG_HORIZON_CLEAN_MS 10000 /* rows of gone sessions deleted at most this often */

struct pg_store {
    struct store base; /* must be first: struct store * casts to this */
    PGconn *conn;
    char *where; /* "host:port/db" for messages (never the password) */
    struct pg_stmt_slot {
        const char *key; /* the SQL text pointer given by the caller */
        char *sql;       /* our copy, for text comparison */
        int n;           /* prepared as statement "w<n>" on this connection */
        uint64_t used;
    } cache[PG_STMT_CACHE];
    uint64_t clock;
    int next_name;
    bool bulk; /* synchronous_commit off (store_bulk) */
    /* statements not sent yet: savepoints and writes whose answer nobody
     * waits for; they go to the server in one pipeline with the next
     * statement (pg_store.c, "deferred") */
    struct pg_deferred {
        char sql[96]; /* text without parameters, or "" for prepared name */
        char name[24];
        int n;
        char *v[PG_MAXP_DEFER]; /* copies (NULL: SQL NULL) */
        int len[PG_MAXP_DEFER];
        int fmt[PG_MAXP_DEFER];
    } deferred[PG_DEFER_MAX];
    int ndeferred;
    char txn_now[32];         /* time of the open explicit transaction: its lastUpdated */
    char since[48];           /* this session's backend_start, "" until read (writer_begin) */
    int64_t horizon_clean_ms; /* when this handle last cleaned writer_horizon */
    /* API clients by token hash (pg_meta.c, "client cache"); valid while
     * client_listen: LISTEN PG_CLIENT_CHANNEL is in force on this session */
    struct pg_client_slot {
        char hash[72]; /* "" when free */
        int64_t at_ms; /* when read from the database (monotonic) */
        struct store_client c;
    } clients[PG_CLIENT_CACHE];
    int client_next;
    bool client_listen;
    /* the facts of authorisation decisions by (org, day, person, user)
     * (pg_access.c, "facts cache"); valid while access_listen: LISTEN
     * PG_ACCESS_CHANNEL is in force on this session */
    struct pg_access_slot {
        char key[200]; /* "" when free */
        int64_t at_ms; /* when read from the database (monotonic) */
        struct store_access_facts f;
    } access[PG_ACCESS_CACHE];
    int access_next;
    bool access_listen;
    /* the persons of Patients by id, direct-mapped by a hash of the id
     * (pg_resource.c, "kept persons"): never trusted alone - a search given
     * one checks it in its own snapshot (store_query.patient_check) */
    struct pg_patient_slot {
        char id[72];  /* "" when free */
        char *person; /* malloc'd */
    } patients[PG_PATIENT_CACHE];
};

static inline struct pg_store *pg_of(struct store *s)
{
    return (struct pg_store *)s;
}

/* Up to PG_MAXP parameters of one statement, as text (NULL: SQL NULL) or
 * binary (bytea).  Numbers are formatted into the struct's own space, so a
 * pg_params lives as long as the statement call that uses it. */
#define PG_MAXP 128
struct pg_params {
    int n;
    const char *v[PG_MAXP];
    int len[PG_MAXP];
    int fmt[PG_MAXP];
    char num[PG_MAXP][40];
};
void pg_p_text(struct pg_params *p, const char *s);
void pg_p_int(struct pg_params *p, int64_t v);
void pg_p_bool(struct pg_params *p, bool v);
void pg_p_bytes(struct pg_params *p, const void *data, int len);
/* One element of a PostgreSQL array literal being built in b (b holds "{"
 * or "{...,"): s quoted and escaped, or NULL; a comma before it unless it is
 * the first. */
struct buf;
void pg_array_add(struct buf *b, const char *s);

/*
 * Run sql (one statement, $1.. parameters) as a prepared statement of this
 * connection: prepared on first use and kept (static SQL hits by pointer,
 * built SQL by text), so a repeated statement costs one round trip with no
 * parse or plan.  Returns the result (caller PQclear()s it) when it is
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK; else NULL with the handle's error set
 * (pg_code() says which WEFT_ code) and *rc_out (may be NULL) the code.
 */
PGresult *pg_run(struct pg_store *ps, const char *sql, const struct pg_params *p, int *rc_out);
/* The same for SQL built at run time (matched by text only). */
PGresult *pg_run_text(struct pg_store *ps, const char *sql, const struct pg_params *p, int *rc_out);
/* n statements (static SQL, as pg_run) in one pipeline - one round trip,
 * after the deferred ones - each run as by pg_run, in order, in the
 * caller's transaction.  0 with out[i] each statement's result (caller
 * PQclear()s them), or the first failure's code with every out[i] NULL (a
 * statement after a failed one is not run: the transaction has failed). */
int pg_run_many(struct pg_store *ps, int n, const char *const *sql,
                const struct pg_params *const *p, PGresult **out);
/* pg_run for a statement without rows: 0 or the error code; *affected (may
 * be NULL) gets the number of rows it changed. */
int pg_cmd(struct pg_store *ps, const char *sql, const struct pg_params *p, int64_t *affected);
/* pg_cmd for a write whose outcome nobody waits for, inside the caller's
 * transaction: sent with the next statement (one round trip fewer), its
 * error reported by that statement - the transaction is then failed and
 * only rolls back.  Outside a transaction (or with more than PG_MAXP_DEFER
 * parameters) it is pg_cmd. */
int pg_cmd_deferred(struct pg_store *ps, const char *sql, const struct pg_params *p);

/* Run SQL text without parameters (may hold several statements). */
int pg_exec(struct pg_store *ps, const char *sql);
/* Send the deferred savepoint statements now, if any: 0 or the error of the
 * first that failed.  pg_run, pg_exec and commit do this themselves; code
 * that calls libpq directly inside a transaction calls it first. */
int pg_flush(struct pg_store *ps);

/* Record a failed result (or connection) as the handle's error, with
 * context what; returns the WEFT_ code: unique violation WEFT_EEXIST, lock
 * timeout / deadlock / serialisation failure WEFT_EBUSY, else WEFT_EDB. */
int pg_fail(struct pg_store *ps, const char *what, const PGresult *r);

/* Column helpers: a malloc'd copy (NULL for SQL NULL); integers; bool. */
char *pg_strdup(const PGresult *r, int row, int col);
int64_t pg_int(const PGresult *r, int row, int col);
bool pg_bool(const PGresult *r, int row, int col);
/* A bytea column (text format, "\x..." hex) into out[cap]: bytes written. */
size_t pg_bytes(const PGresult *r, int row, int col, unsigned char *out, size_t cap);

/* Current time as ISO 8601 UTC with milliseconds into out[32]. */
void pg_now(char out[32]);
/* The time a write of this handle stamps: the open transaction's start, or
 * now. */
void pg_write_time(struct pg_store *ps, char out[32]);

/* Run a write atomically: inside the caller's transaction when one is open,
 * else in one of its own (BEGIN + the writer lock).  pg_auto_end commits or
 * rolls back that own transaction; returns rc, or the commit's error. */
int pg_auto_begin(struct pg_store *ps, bool *own);
int pg_auto_end(struct pg_store *ps, bool own, int rc);
/* After a write transaction that did not commit: clear this session's mark
 * in the writers' horizon (the comment at the top). */
void pg_horizon_release(struct pg_store *ps);

/* Forget every kept API client (pg_meta.c): after a reconnect, a
 * notification, a change made through this handle, and at close. */
void pg_client_cache_clear(struct pg_store *ps);
/* Forget the kept facts of decisions (pg_access.c): on a notification on
 * PG_ACCESS_CHANNEL and a change of those facts through this handle. */
void pg_access_cache_forget(struct pg_store *ps);
/* The kept person of Patient id forgotten (id NULL: every one). */
void pg_patient_forget(struct pg_store *ps, const char *id);
/* Read what the server has sent without waiting and forget what any
 * notification says has changed; false when nothing may be answered from a
 * cache now (inside a transaction, or the connection lost: then everything
 * kept is forgotten). */
bool pg_notes_poll(struct pg_store *ps);
/* Milliseconds of the monotonic clock (the caches' age). */
int64_t pg_mono_ms(void);

/* Backend entry points used by pg_ops.c */
void pg_close(struct store *s);
int pg_begin(struct store *s);
int pg_commit(struct store *s);
int pg_rollback(struct store *s);
int pg_bulk(struct store *s, bool on);
int pg_job_lock(struct store *s, const char *job, bool *mine);
int pg_lock_keys(struct store *s, const uint32_t *keys, int n);
int pg_backup(struct store *s, const char *dest, struct store_backup_info *info);
int pg_size_bytes(struct store *s, int64_t *bytes);
int pg_ping(struct store *s);
bool pg_alive(struct store *s);
int pg_savepoint(struct store *s, const char *name);
int pg_release(struct store *s, const char *name);
int pg_rollback_to(struct store *s, const char *name);
int pg_migrate(struct store *s, int *from_version, int *to_version);
int pg_schema_version(struct store *s, int *version);
int pg_schema_pending(struct store *s, int *pending);

#endif
