/*
 * store.h - opening and closing a store, and the handle type.  Nothing else:
 * every noun the store keeps has its own header, and callers include only
 * the ones they use:
 *   store/records.h   resources, search, history, persons and person merges
 *   store/access.h    API clients, organisations, agreements, launchers,
 *                     one-time token ids, sessions, break-glass, objection
 *                     state, the access policy and the authorisation facts
 *   store/apps.h      SMART apps
 *   store/feeds.h     the feed registry and its counters, the inbox
 *   store/audit.h     the audit log
 *   store/identity.h  the master person index (records, decisions, review)
 *   store/dq.h        data-quality scans, runs, results and failures
 *   store/gov.h       governance reviews of break-glass, policy versions
 *   store/citizen.h   objection cases, subject access requests, citizen
 *                     sign-in providers and sessions
 *   store/proxy.h     proxy access grants (a person acting for another)
 *   store/txn.h       transactions (explicit begin/commit/rollback, savepoints)
 *   store/backup.h    online backup and restore
 *   store/meta.h      key/value settings
 * One opaque handle; behind it one operations table per noun group filled by
 * each backend (src/store/store_int.h, src/store/sqlite/ now).  Nothing
 * outside src/store/ knows which backend is in use or writes SQL.
 *
 * Concurrency: a handle is used by one thread at a time.  Servers open one
 * handle per worker thread (SQLite WAL lets readers run beside one writer).
 *
 * Ownership: strings passed in are copied or used only during the call.
 * Strings in structs filled by the store are owned by the caller after the
 * call and released with the struct's clear/free function.
 */
#ifndef WEFT_STORE_STORE_H
#define WEFT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* What a store URL names: "sqlite:PATH" or a plain PATH is a SQLite file;
 * "postgres://...", "postgresql://..." or libpq's keyword form ("host=...
 * dbname=...", store_url_is_postgres) a PostgreSQL server.  The one
 * parser of store URLs: every command that needs to know (is there a file
 * to check for? which file holds the data?) asks it. */
enum store_kind { STORE_KIND_SQLITE = 1, STORE_KIND_POSTGRES = 2 };
struct store_url {
    enum store_kind kind;
    const char *path; /* SQLite: the database file (points into the URL); else NULL */
};
/* Parse url into out.  WEFT_EINVAL for a NULL or empty url or an empty
 * SQLite path. */
int store_url_parse(const char *url, struct store_url *out);

/* Open (creating the file when create is true) the store named by url:
 * a file path or "sqlite:PATH" for SQLite; for PostgreSQL
 * "postgres://USER[:PASSWORD]@HOST:PORT/DB", "postgresql://..." or libpq's
 * keyword form "host=/socket/dir port=5432 dbname=DB user=USER"
 * (store_url_is_postgres says which; the database must exist: create has no
 * effect there).  An unreachable server fails with a message naming the host
 * and libpq's reason.  Operations the PostgreSQL backend does not have yet
 * fail with WEFT_EUNSUPPORTED, "not implemented on PostgreSQL yet: <op>".
 * Does not create the schema: call store_migrate().  On failure returns a
 * negative code and, when errmsg is not NULL, a malloc'd message in *errmsg
 * that the caller frees. */
int store_open(struct store **out, const char *url, bool create, char **errmsg);
/* Whether url names a PostgreSQL database (see store_open). */
bool store_url_is_postgres(const char *url);
/* url fit to print: a PostgreSQL password replaced by "***".  Malloc'd;
 * the caller frees it. */
char *store_url_redacted(const char *url);
void store_close(struct store *s);

/* Bring the schema to the newest version (forward-only migrations).  Reports
 * the version before and after.  Safe to call on an up-to-date store. */
int store_migrate(struct store *s, int *from_version, int *to_version);
/* Current schema version, 0 for an empty database. */
int store_schema_version(struct store *s, int *version);
/* How many of this build's migrations the database has not had yet (0: up
 * to date).  A database behind the binary must be upgraded (store_migrate,
 * `weft init`) before use: queries rely on the newest schema. */
int store_schema_pending(struct store *s, int *pending);

/* The last error message of this handle (static to the handle; valid until
 * the next call on it).  Never NULL. */
const char *store_errmsg(struct store *s);

/* Bulk loading.  store_bulk(s, true): commits stop waiting for the disk (a
 * crash may lose the last transactions, never corrupt the store); use it
 * only where losing them is harmless because the input is loaded again
 * (weft load).  store_bulk(s, false) makes everything committed durable
 * (waits for the disk) and restores per-commit durability; call it before
 * reporting success. */
int store_bulk(struct store *s, bool on);

/* This handle is a dedicated writer (a feed server's, committing small
 * batches back to back): the backend keeps its commits short by doing its
 * upkeep off the writer's path until store_close.  SQLite: the handle never
 * checkpoints the write-ahead log at commit; a thread of the backend copies
 * the log into the database every 200 ms with passive checkpoints, which
 * never block the writer, and once more at close.  Backends with no such
 * upkeep do nothing. */
int store_writer(struct store *s);

/* Single-runner jobs among several nodes on one store (the scheduled
 * data-quality run, the audit anchor): *mine says whether this handle runs
 * job now.  PostgreSQL: a session-level advisory lock on the job's name,
 * taken when free and then held for the life of the handle's connection,
 * so one node runs the job until it stops or loses its connection, and
 * another takes over at its next try.  SQLite (one node per database
 * file): always mine. */
int store_job_lock(struct store *s, const char *job, bool *mine);

/* In the open transaction, lock keys[0..n) - hashes of what a batch of
 * work is about (a patient's identifiers, a visit), ascending, no
 * repeats - until it ends.  Writers that lock what they are about to
 * touch, in that one order, before touching it, never deadlock on those
 * rows and never race to make the same person or version: a second writer
 * of the same patient waits for the first to commit.  PostgreSQL, whose
 * writers overlap (store/pg/pg_int.h): transaction-scoped advisory locks;
 * SQLite: nothing (its writers take turns).  The locks are sent with the
 * transaction's next statement (no round trip of their own). */
int store_lock_keys(struct store *s, const uint32_t *keys, int n);
/* How many keys store_lock_keys has locked in the open transaction (0 on
 * SQLite).  PostgreSQL keeps every lock in one shared table of about
 * max_locks_per_transaction x max_connections entries (6,400 with its
 * defaults) until the transaction ends, and a transaction that fills it
 * fails ("out of shared memory"): a writer that groups much work in one
 * transaction (weft load) ends it before it holds too many. */
long store_keys_locked(const struct store *s);
/* Whether the open transaction holds a lock that every writer of the
 * database may need and waits for until it ends (PostgreSQL: the audit
 * chain's, taken by an audit append; the analytics change list's, taken by
 * a merge moving a person's items).  Every audited read of every node waits
 * behind the first: a writer that groups work in a long transaction
 * (weft load) commits soon after.  Never on SQLite, whose writers take turns. */
bool store_holds_shared(const struct store *s);

/* The key of a pair of strings a[0..an), b[0..bn) (an identifier and its
 * assigning authority, an item and its sender...) for store_lock_keys: the
 * one hash every writer uses, so that two writers about the same thing
 * (the MLLP writer and the FHIR API on one NHS number: the value and "NHS")
 * lock the same key. */
uint32_t store_lock_key(const char *a, size_t an, const char *b, size_t bn);

/* Whether the store answers now: PostgreSQL runs one trivial statement
 * (making a lost connection again first, as every statement does); SQLite
 * (a file) always answers 0.  Used by `weft serve --db-read` to decide
 * whether the standby may serve a read. */
int store_ping(struct store *s);

/* The store's size on disk in bytes (PostgreSQL: pg_database_size of the
 * database).  WEFT_EUNSUPPORTED for SQLite, whose size is its files'. */
int store_size_bytes(struct store *s, int64_t *bytes);

#endif
