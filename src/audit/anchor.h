/*
 * anchor.h - the audit chain's head, anchored outside the database.
 *
 * The hash chain (audit.h) proves that no entry was changed, removed or
 * inserted relative to the recorded head - but the head lives in the same
 * database.  Someone who can write the database can delete the newest
 * entries and set the head to the new last row, or rewrite the whole chain
 * and its head: the log is then consistent with itself and verify alone
 * cannot tell.  An anchor is a copy of the head kept where the database's
 * writer cannot change history: a file that only grows (ideally on another
 * host or write-once storage) or syslog.  Each anchor line says "on TIME
 * the log held ROWS entries and entry SEQ had hash HASH":
 *
 *     weft-audit-anchor 1 2026-12-06T01:00:00.000Z seq=1234 rows=1234 hash=<64 hex>
 *
 * audit_anchor_check() then proves, for every anchored entry, that it is
 * still there with the same hash (so nothing up to it was truncated or
 * rewritten) and that the log has not shrunk below an anchored row count.
 * Entries written after the newest anchor are covered only by the chain.
 *
 * `weft serve --audit-anchor FILE|syslog [--audit-anchor-interval SECONDS]`
 * writes one line at start, every interval (default 300 s) when the head
 * moved, and at stop; `weft audit anchor --db PATH --anchor FILE` writes one
 * on demand; `weft audit verify --anchor FILE` checks.
 */
#ifndef WEFT_AUDIT_ANCHOR_H
#define WEFT_AUDIT_ANCHOR_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct serve_ctx;

#define AUDIT_ANCHOR_SYSLOG "syslog"

/* The current head as an anchor line (with '\n') into out[0..cap). */
int audit_anchor_line(struct store *s, char *out, size_t cap, int64_t *seq_out);

/* Append the current head's line to path (created mode 0600, fsynced), or
 * send it to syslog (LOG_AUTHPRIV, notice) when path is "syslog". */
int audit_anchor_write(struct store *s, const char *path, char *err, size_t errlen);

struct audit_anchor_result {
    int64_t anchors;    /* anchor lines checked */
    int64_t newest_seq; /* the newest anchored entry */
    char newest_time[40];
    char problem[320]; /* what the anchor shows, empty when everything holds */
};
/* Check the log at url against every anchor line of the file at path.  0
 * when every anchored entry is present with its anchored hash; WEFT_ECONFLICT
 * when one is missing or different (problem says which and when it was
 * anchored); WEFT_EPARSE for a line that is not an anchor (problem names the
 * line); another negative error when something could not be read. */
int audit_anchor_check(const char *url, const char *path, struct audit_anchor_result *res);

/* The `weft serve` part (options audit-anchor, audit-anchor-interval). */
int audit_anchor_serve_start(const struct serve_ctx *ctx, void **state);
void audit_anchor_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
