/*
 * sqlite_person_cache.h - a per-handle cache of the person links the SQLite
 * backend reads on every message: NHS number -> person id and
 * (org, system, value) local identifier -> person id.  Only hits are kept.
 *
 * Why: every HL7 message carries a PID, so the feed writer runs
 * identity_resolve_patient (identity/link.c) per message, which reads person and
 * person_local two or three times even for a patient seen a moment ago.
 *
 * The cache never answers what the database would not answer on this
 * connection at that moment:
 *  - writes by other connections (other threads' handles, other processes):
 *    PRAGMA data_version is read before an answer is given (once per
 *    BEGIN IMMEDIATE transaction, which holds the write lock, else per
 *    lookup) and everything is forgotten when it moved;
 *  - entries learned inside a transaction are "pending" until that
 *    transaction is known to have committed; any ROLLBACK (the rollback hook
 *    sees every full rollback, explicit or automatic) or ROLLBACK TO
 *    (sqlite_person_cache_rollback(), see below) forgets them;
 *  - this connection's own writes to person/person_local other than the two
 *    inserts in sqlite_person.c (merge, unmerge, migrations) call
 *    sqlite_person_cache_clear().
 *
 * Rule for backend code: after running ROLLBACK TO by any path that is not
 * sqlite_exec() or a statement from sqlite_stmt()/sqlite_stmt_text() (both
 * of which notice it themselves), call sqlite_person_cache_rollback(); after
 * writing person or person_local other than through sqlite_person.c, call
 * sqlite_person_cache_clear().
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_PERSON_CACHE_H
#define WEFT_STORE_SQLITE_SQLITE_PERSON_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

struct sqlite_store;
struct store;
struct pcache_entry;
struct pcache_set;

/* The cache state of one handle (inside struct sqlite_store).  The table
 * itself is allocated on first use, so handles that never link persons (most
 * HTTP workers) pay nothing. */
struct sqlite_person_cache {
    struct pcache_set *sets;  /* tags and generations, NULL until first use */
    struct pcache_entry *tab; /* SQLITE_PCACHE_ENTRIES keys and ids */
    uint32_t *pending;        /* slots written in the open transaction */
    uint32_t npending;
    bool pending_overflow; /* more than fit in pending: a rollback clears all */
    uint32_t gen;          /* an entry is valid iff its gen equals this */
    uint32_t victim;       /* round-robin way for eviction */
    bool dv_known;         /* dv holds the baseline data_version */
    bool txn_checked;      /* dv read inside the open BEGIN IMMEDIATE */
    int64_t dv;            /* PRAGMA data_version the entries are valid for */
    sqlite3_stmt *dv_stmt; /* PRAGMA data_version, prepared on first use */
    uint64_t hits, misses; /* for tests and benchmarks */
};

#define SQLITE_PCACHE_ENTRIES 65536 /* 8.5 MB of address space, touched as used */

/* Register the commit and rollback hooks on the handle's connection; call
 * once after opening.  Allocates nothing. */
void sqlite_person_cache_init(struct sqlite_store *ss);
/* Unregister the hooks and free the table: the handle is being closed (call
 * before sqlite3_close: it finalizes a statement). */
void sqlite_person_cache_free(struct sqlite_store *ss);

/*
 * Look up the key made of nparts strings (1: an NHS number; 3: org, system,
 * value).  On a hit, 0 and *person_id_out (malloc'd, the caller frees); on a
 * miss WEFT_ENOTFOUND: read the database and sqlite_person_cache_put() what
 * it says.  Validates the cache first (data_version, finished transactions).
 */
int sqlite_person_cache_get(struct sqlite_store *ss, const char *const *parts, int nparts,
                            char **person_id_out);
/* Remember that the key links to person_id, as the database just said (a
 * read or an insert on this connection, after a _get() miss).  Keys or ids
 * too long for an entry are not kept. */
void sqlite_person_cache_put(struct sqlite_store *ss, const char *const *parts, int nparts,
                             const char *person_id);

/* Forget everything (person or person_local written by other means). */
void sqlite_person_cache_clear(struct sqlite_store *ss);
/* Forget what was learned in the open transaction (ROLLBACK TO ran). */
void sqlite_person_cache_rollback(struct sqlite_store *ss);
/* The open transaction committed: what it taught stays. */
void sqlite_person_cache_commit(struct sqlite_store *ss);
/* A BEGIN IMMEDIATE just succeeded: read data_version once for the whole
 * transaction (no other connection can commit until it ends). */
void sqlite_person_cache_begin(struct sqlite_store *ss);

/* Whether sql (any case, anywhere in the text) holds ROLLBACK: callers that
 * run arbitrary SQL use it to call sqlite_person_cache_rollback(). */
bool sqlite_person_cache_sql_rolls_back(const char *sql);

/* Lookups answered from the cache and not, since the handle was opened
 * (tests, benchmarks).  s must be a SQLite handle. */
void sqlite_person_cache_stats(struct store *s, uint64_t *hits, uint64_t *misses);

#endif
