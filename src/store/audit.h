/*
 * audit.h - the append-only, hash-chained audit log as stored (the hashing
 * is src/audit/audit.c's): append, head, scans and searches.
 */
#ifndef WEFT_STORE_AUDIT_H
#define WEFT_STORE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- audit log (src/store/store_audit.c; hashing in src/audit/audit.c) --------- */
struct store_audit_row {
    int64_t seq;
    const char *time, *action, *outcome, *user_id, *user_name, *role, *org, *launcher, *client,
        *purpose, *person_id, *session_id, *request_id, *what, *reason;
    int64_t count;
    unsigned char prev[32], hash[32];
};
/* Called inside the append transaction with the current head (seq 0 and zero
 * hash on an empty log): assigns seq, prev and hash of rows[0..n). */
typedef void (*store_audit_chain_fn)(struct store_audit_row *rows, int n, int64_t head_seq,
                                     const unsigned char head_hash[32], void *ctx);
/* Append rows in one transaction (its own, or the caller's when one is open). */
int store_audit_append(struct store *s, struct store_audit_row *rows, int n,
                       store_audit_chain_fn chain, void *ctx);
/* The head (newest seq and hash, as recorded at append) and number of rows. */
int store_audit_head(struct store *s, int64_t *seq, unsigned char hash[32], int64_t *rows);
/* Rows with from <= seq <= to in seq order, each passed to fn (borrowed, valid
 * during the call); fn returning non-zero stops the scan with that value. */
int store_audit_scan(struct store *s, int64_t from, int64_t to,
                     int (*fn)(const struct store_audit_row *, void *), void *ctx);
struct store_audit_filter {
    const char *person_id, *user_id, *action, *org;
    const char *time_ge, *time_lt; /* ISO 8601 prefixes compare as text */
    int64_t before_seq;            /* paging: only seq < this (0: none) */
    int limit;
};
/* Matching rows newest first, to fn as for scan. */
int store_audit_search(struct store *s, const struct store_audit_filter *f,
                       int (*fn)(const struct store_audit_row *, void *), void *ctx);

/* Every audit entry about person_id in seq order, to fn as for scan. */
int store_audit_person(struct store *s, const char *person_id,
                       int (*fn)(const struct store_audit_row *, void *), void *ctx);

#endif
