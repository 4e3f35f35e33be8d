/*
 * sqlite_int.h - what every SQLite backend file shares: the handle (the
 * common struct store first, then the sqlite3 connection), the prepared
 * statement cache and error helpers.  Only src/store/sqlite/ includes this.
 *
 * One file per noun group implements that group's operations
 * (sqlite_resource.c, sqlite_search.c, sqlite_person.c, sqlite_client.c,
 * sqlite_meta.c, ...); sqlite_ops.c holds the operations table and
 * sqlite_migrate.c the list of migrations (see store/store_int.h for how to
 * add either).
 *
 * A handle is used by one thread at a time (the connection is opened with
 * SQLITE_OPEN_NOMUTEX); servers open one handle per worker thread.
 */
#ifndef WEFT_STORE_SQLITE_SQLITE_INT_H
#define WEFT_STORE_SQLITE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/sqlite/sqlite_person_cache.h"
#include "store/store_int.h"

#define SQLITE_STMT_CACHE 64

struct sqlite_store {
    struct store base; /* must be first: struct store * casts to this */
    sqlite3 *db;
    char *path;
    struct sqlite_stmt_slot {
        const char *key; /* the SQL text pointer given by the caller */
        char *sql;       /* our copy, for text comparison */
        sqlite3_stmt *stmt;
        uint64_t used; /* clock for eviction */
        bool rollback; /* holds ROLLBACK (TO): tell the person cache */
    } cache[SQLITE_STMT_CACHE];
    uint64_t clock;
    char txn_now[32];                  /* time of the open explicit transaction: its lastUpdated */
    struct sqlite_person_cache pcache; /* person links (sqlite_person_cache.h) */
    struct sqlite_ckpt *ckpt;          /* a dedicated writer's checkpointer, or NULL */
    struct sqlite_ixacc {              /* a batch's search-index rows (sqlite_search.c) */
        struct sqlite_ixrow *v;
        int n, cap;
        bool batch;
    } ixacc;
};

static inline struct sqlite_store *sqlite_of(struct store *s)
{
    return (struct sqlite_store *)s;
}

/*
 * A prepared statement for sql, reset and with bindings cleared, owned by the
 * cache (do not finalize it).  Static SQL strings hit by pointer; built SQL
 * (search) hits by text.  Returns NULL and sets the handle's error message on
 * a prepare failure.  The statement stays valid until the next
 * sqlite_stmt() call that evicts it, i.e. at least for 63 more distinct
 * statements: use it before asking for many others.
 */
sqlite3_stmt *sqlite_stmt(struct sqlite_store *ss, const char *sql);

/* Like sqlite_stmt for SQL built at run time (matched by text only, never
 * by pointer: a freed buffer's address may come back with other text). */
sqlite3_stmt *sqlite_stmt_text(struct sqlite_store *ss, const char *sql);

/* Record the connection's last error as WEFT_EDB with context what. */
int sqlite_fail(struct sqlite_store *ss, const char *what);

/* Run SQL without results (may hold several statements).  SQL holding
 * ROLLBACK also drops the person cache's pending entries. */
int sqlite_exec(struct sqlite_store *ss, const char *sql);

/* Bind a text (NULL binds SQL NULL); index is 1-based. */
int sqlite_bind_text(sqlite3_stmt *st, int idx, const char *s);

/* A malloc'd copy of column col (NULL for SQL NULL); caller frees. */
char *sqlite_col_strdup(sqlite3_stmt *st, int col);

/* Current time as ISO 8601 UTC with milliseconds into out[32]. */
void sqlite_now(char out[32]);

#endif
