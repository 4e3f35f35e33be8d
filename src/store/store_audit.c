/*
 * store_audit.c - dispatchers for the audit log's store operations.  The
 * hash chain itself is computed in src/audit/audit.c (through the chain
 * callback, inside the backend's append transaction); the SQLite
 * implementation is in sqlite/sqlite_audit.c.
 */
#include <string.h>

#include "store/store_int.h"

int store_audit_append(struct store *s, struct store_audit_row *rows, int n,
                       store_audit_chain_fn chain, void *ctx)
{
    int rc = STORE_CALL(s, audit, audit_append, rows, n, chain, ctx);
    store_note_shared(s);
    return rc;
}

int store_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows)
{
    *seq = 0;
    memset(hash, 0, 32);
    if (rows)
        *rows = 0;
    return STORE_CALL(s, audit, audit_head, seq, hash, rows);
}

int store_audit_scan(struct store *s, int64_t from, int64_t to,
                     int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    return STORE_CALL(s, audit, audit_scan, from, to, fn, ctx);
}

int store_audit_search(struct store *s, const struct store_audit_filter *f,
                       int (*fn)(const struct store_audit_row *, void *), void *ctx)
{
    return STORE_CALL(s, audit, audit_search, f, fn, ctx);
}
