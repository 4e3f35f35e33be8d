/*
 * audit.h - the tamper-evident audit log: who saw or did what, to whose
 * record, when, why, and with what outcome (BRIEF §5).
 *
 * Every entry carries hash = SHA-256(previous entry's hash || canonical
 * content), the first entry chaining from 32 zero bytes; the newest (seq,
 * hash) is also kept as the head, so verify notices an edited, deleted,
 * inserted or reordered entry, and a truncated tail.  The canonical content
 * is every column in a fixed order, each as "LEN:BYTES," (NULL as "-,"), so
 * no two different entries share an encoding.
 *
 * Two ways to append:
 *   - audit_append(store, event): synchronous, in the caller's store handle
 *     and (if one is open) the caller's transaction.  For commands and rare
 *     events.
 *   - struct audit_log: group commit.  An in-process queue flushed by one
 *     writer thread that owns its own store handle and commits whatever has
 *     queued (up to AUDIT_BATCH_MAX) in one transaction.  audit_log_append()
 *     copies the event and returns once it is queued (wait=false: reads and
 *     searches, where the response must not wait on the disk) or once the
 *     batch holding it is durable (wait=true: launch, break-glass, policy and
 *     admin changes, denials of note).  A full queue makes appenders wait
 *     (back-pressure), never drops an entry.  On close every queued entry is
 *     committed first.
 *
 * Strings in struct audit_event are borrowed for the call; NULL means absent.
 * The event never goes to the operational log: it holds patient identifiers.
 */
#ifndef WEFT_AUDIT_AUDIT_H
#define WEFT_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct principal;
struct buf;

/* Actions (the `action` column). */
#define AUDIT_LAUNCH "launch"
#define AUDIT_READ "read"
#define AUDIT_SEARCH "search"
#define AUDIT_DENIAL "denial"
#define AUDIT_BREAK_GLASS "break-glass"
#define AUDIT_EXPORT "export"
#define AUDIT_POLICY_CHANGE "policy-change"
#define AUDIT_ADMIN "admin"
#define AUDIT_TOKEN "token"       /* SMART app token issued */
#define AUDIT_IDENTITY "identity" /* link, unlink, merge, unmerge, review decision */
#define AUDIT_WRITE "write"       /* data sent through the FHIR API (POST /fhir) */

/* Outcomes. */
#define AUDIT_OK "success"
#define AUDIT_DENIED "denied"
#define AUDIT_FAILED "failure"

struct audit_event {
    const char *time;    /* ISO 8601 UTC with ms; NULL: now */
    const char *action;  /* AUDIT_* above, required */
    const char *outcome; /* AUDIT_OK / AUDIT_DENIED / AUDIT_FAILED, required */
    const char *user_id; /* who: a member of staff ... */
    const char *user_name;
    const char *role;
    const char *org;
    const char *launcher;  /* ... launched by this host system */
    const char *client;    /* ... or an API client / command-line operator */
    const char *purpose;   /* TREAT, ETREAT, ... */
    const char *person_id; /* whose record, when it is about one person */
    const char *session_id;
    const char *request_id;
    const char *what;   /* what was returned: "Type/id ..." or categories */
    int64_t count;      /* how many items were returned (-1: not applicable) */
    const char *reason; /* denial reason, break-glass reason, change summary */
};

/* Fill the who-fields of ev from a principal (borrowed pointers). */
void audit_event_from_principal(struct audit_event *ev, const struct principal *p);

/* Synchronous append of one entry (see above).  Returns 0 or a negative
 * error; seq_out (may be NULL) gets the entry's sequence number. */
int audit_append(struct store *s, const struct audit_event *ev, int64_t *seq_out);
/* Synchronous append of n entries, in order, AUDIT_BATCH_MAX a statement
 * group (a bulk operation's entries: relink's merges). */
int audit_append_many(struct store *s, const struct audit_event *ev, size_t n);

/* ---- group commit ------------------------------------------------------------ */
#define AUDIT_BATCH_MAX 32768
#define AUDIT_QUEUE_MAX 131072
#define AUDIT_LINGER_US 20000 /* writer waits this long to fill a small batch */

struct audit_log;
/* Start the writer thread with its own handle on the store at url. */
int audit_log_open(struct audit_log **out, const char *store_url);
/* Commit everything queued, stop the writer, free the log.  NULL is a no-op. */
void audit_log_close(struct audit_log *log);
/* Queue a copy of ev; with wait, return only once it is committed.
 * Returns WEFT_EDB when waiting and the commit failed (the entry stays
 * queued and is retried). */
int audit_log_append(struct audit_log *log, const struct audit_event *ev, bool wait);
/* Wait until everything queued so far is committed. */
int audit_log_flush(struct audit_log *log);

/* ---- the process's audit sink ------------------------------------------------ */
/* `weft serve` opens one struct audit_log and installs it here; commands
 * leave it unset.  audit_record() queues on the installed log (waiting for
 * durability when wait is true) or, when none is installed, appends
 * synchronously through s.  Every access path calls this one function. */
void audit_set_log(struct audit_log *log);
int audit_record(struct store *s, const struct audit_event *ev, bool wait);

/* The `weft serve` part that owns that log (audit_serve.c): started first,
 * stopped last, so every other part's audit entries go through it. */
struct serve_ctx;
int audit_serve_start(const struct serve_ctx *ctx, void **state);
void audit_serve_stop(const struct serve_ctx *ctx, void *state);

/* ---- verification ------------------------------------------------------------ */
struct audit_verify_result {
    int64_t entries;   /* entries checked */
    int64_t bad_seq;   /* first bad entry's seq (0 when intact) */
    char problem[256]; /* what is wrong there, empty when intact */
};
/* Walk the whole chain (with nthreads threads, each on its own store handle
 * opened from url; 0 = 2).  Returns 0 when intact, WEFT_ECONFLICT when the
 * log was tampered with (result says where and how), another negative error
 * when it could not be read. */
int audit_verify(const char *url, int nthreads, struct audit_verify_result *res);

/* The canonical encoding and hash, exposed for tests and tools. */
struct store_audit_row;
void audit_row_canonical(const struct store_audit_row *r, struct buf *out);
void audit_row_hash(const struct store_audit_row *r, const unsigned char prev[32],
                    unsigned char out[32]);

/* Current time as ISO 8601 UTC with milliseconds into out (>= 25 bytes). */
void audit_now(char out[32]);

#endif
