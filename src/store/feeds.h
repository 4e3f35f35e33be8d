/*
 * feeds.h - the feed registry (who may send what) and its daily counters,
 * and the inbox: every inbound message or file kept verbatim with its
 * outcome, and the (feed, control id) claims that detect duplicates.
 */
#ifndef WEFT_STORE_FEEDS_H
#define WEFT_STORE_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- feeds, the inbound message store, person merges (src/store/store_feeds.c;
 * sqlite/sqlite_feeds.c, sqlite/sqlite_merge.c) -------------------------------- */

/* A registered feed (src/feeds/registry.h explains the fields). */
struct store_feed {
    int64_t id;
    char *name;
    char *org;          /* ODS code of the sending organisation */
    char *kind;         /* hl7v2 | fhir | csv */
    char *facility;     /* hl7v2: MSH-4.1 it must present */
    char *from_address; /* hl7v2: optional peer address it must connect from */
    char *folder;       /* csv: drop folder */
    int64_t client_id;  /* fhir: the API client whose token it uses (0: none) */
    char *token_hash;   /* fhir: hex SHA-256 of that token */
    char *created;
    char *disabled;      /* NULL while enabled */
    char *last_received; /* ISO 8601 arrival time of the newest message, NULL if none */
    char *last_error;    /* the newest rejection reason, NULL if none */
    char *last_error_at;
    /* hl7v2: the sender's TLS client certificate it must present, lower-case
     * hex SHA-256 of the DER certificate (64 digits); NULL: none pinned */
    char *client_cert_sha256;
};
void store_feed_clear(struct store_feed *f);
/* Register a feed: WEFT_EEXIST when the name (or, for hl7v2, the facility) is
 * taken. */
int store_feed_add(struct store *s, const struct store_feed *in, int64_t *id_out);
/* By id.  WEFT_ENOTFOUND when absent. */
int store_feed_get(struct store *s, int64_t id, struct store_feed *out);
/* By name.  WEFT_ENOTFOUND when absent. */
int store_feed_by_name(struct store *s, const char *name, struct store_feed *out);
/* The hl7v2 feed presenting facility (case-sensitive), or WEFT_ENOTFOUND. */
int store_feed_by_facility(struct store *s, const char *facility, struct store_feed *out);
/* The fhir feed using API client client_id, or WEFT_ENOTFOUND. */
int store_feed_by_client(struct store *s, int64_t client_id, struct store_feed *out);
/* Disable (refuse everything it sends, kept and counted) or enable a feed.
 * WEFT_ENOTFOUND when there is no such feed. */
int store_feed_set_disabled(struct store *s, int64_t id, bool disabled);
/* All feeds by name; *out is an array of *n (caller clears each, frees it). */
int store_feed_list(struct store *s, struct store_feed **out, int *n);

/* Counters of one feed for one UTC day (or summed over all days). */
struct store_feed_counts {
    int64_t received, applied, rejected, duplicate;
    int64_t lag_n;      /* events with an event time (src/feeds/lag.h) */
    int64_t lag_sum_ms; /* sum of (arrival - event time) */
    int64_t lag_max_ms;
    int64_t lag_recent_n; /* of those, events at most 7 days old on arrival */
    int64_t lag_recent_sum_ms;
    int64_t lag_recent_max_ms;
    /* csv feeds: rows loaded, and rows rejected or failed to load, over every
     * file that arrived that day (a file's first processing; replays of a
     * file do not add rows) */
    int64_t rows_loaded, rows_rejected;
};
/* Add add's numbers to feed_id's counters for day (YYYY-MM-DD); also set the
 * feed's last_received (when not NULL and newer) and last_error (when not
 * NULL).  Meant to be called once per batch, inside its transaction. */
int store_feed_count(struct store *s, int64_t feed_id, const char *day,
                     const struct store_feed_counts *add, const char *last_received,
                     const char *last_error);
/* Counters for day (NULL: zeros) and summed over every day. */
int store_feed_counts_get(struct store *s, int64_t feed_id, const char *day,
                          struct store_feed_counts *today, struct store_feed_counts *total);

/* One inbound message or file, kept verbatim (src/feeds/inbox.h). */
struct store_inbox_msg {
    int64_t id;
    int64_t feed_id;      /* 0: the sender matched no feed */
    char *kind;           /* hl7v2 | fhir | csv */
    char *arrived;        /* ISO 8601 UTC with milliseconds */
    char *sender;         /* hl7v2: MSH-4.1; csv: file name; fhir: client name */
    char *peer;           /* remote address, NULL when not a network arrival */
    char *control_id;     /* hl7v2: MSH-10; fhir: Bundle.id; csv: file name + size */
    char *msg_type;       /* e.g. "ADT^A01", "Bundle/transaction", "people" */
    char *event_time;     /* FHIR dateTime of the event, NULL when unknown */
    char *outcome;        /* pending | applied | rejected | duplicate | partial */
    char *error;          /* why rejected (never patient data), NULL when none */
    char *updated;        /* when the outcome was last set */
    int attempts;         /* times applied (1 + replays) */
    int64_t resources;    /* resources written by the last attempt */
    int64_t duplicate_of; /* duplicate: the inbox id that was applied */
    char *body;           /* verbatim content (NULL when not asked for) */
    size_t body_len;
    int64_t resubmit_of; /* a corrected copy (weft feed resubmit): the original's id, else 0 */
    char *corrected_by;  /* ... and who corrected it */
};
void store_inbox_msg_clear(struct store_inbox_msg *m);
void store_inbox_msgs_free(struct store_inbox_msg *m, int n);
/* Keep a message: in->body[0..body_len) verbatim; outcome defaults to
 * "pending".  id_out gets its inbox id. */
int store_inbox_add(struct store *s, const struct store_inbox_msg *in, int64_t *id_out);
/* Set the outcome of inbox message id (attempts incremented when bump). */
int store_inbox_set_outcome(struct store *s, int64_t id, const char *outcome, const char *error,
                            int64_t resources, int64_t duplicate_of, bool bump);
/* Attribute inbox message id to feed_id (a replay found the feed its sender
 * was not registered under when it arrived). */
int store_inbox_set_feed(struct store *s, int64_t id, int64_t feed_id);
/* Read one message (with its body when with_body).  WEFT_ENOTFOUND. */
int store_inbox_get(struct store *s, int64_t id, bool with_body, struct store_inbox_msg *out);

struct store_inbox_filter {
    int64_t feed_id;     /* 0: every feed (and unmatched senders) */
    const char *outcome; /* NULL: any */
    const char *since;   /* arrived >= since (ISO 8601 prefix), NULL: any */
    int64_t after_id;    /* paging: id > after_id */
    int64_t before_id;   /* paging: 0, or id < before_id */
    int64_t only_id;     /* 0, or exactly this message */
    int limit;           /* 0: 100 */
    bool with_body;
    bool newest_first; /* descending id order (the limit keeps the newest) */
    /* the feeds console's search (NULL: any) */
    const char *until;      /* arrived < until (ISO 8601 prefix) */
    const char *control_id; /* exactly this control id */
    const char *msg_type;   /* msg_type starts with this ("ADT", "ADT^A01") */
    /* the verbatim body holds these bytes (an NHS number, a hospital
     * number): a scan of the rows the other conditions leave, so the
     * console bounds it by feed and date.  Letters, digits and '-' only. */
    const char *body_contains;
};
/* Messages matching f in arrival (id) order, or newest first. */
int store_inbox_list(struct store *s, const struct store_inbox_filter *f,
                     struct store_inbox_msg **out, int *n);
/* Claim (feed_id, control_id) for inbox message id: 0 when it was new,
 * WEFT_EEXIST with *first the inbox id that claimed it before. */
int store_inbox_claim(struct store *s, int64_t feed_id, const char *control_id, int64_t id,
                      int64_t *first);
/* The same for a writer's batch, before any of its messages is applied:
 * keep in[0..n) (each as store_inbox_add would), ids_out[i] getting in[i]'s
 * inbox id, ascending in the order given (one statement on PostgreSQL). */
int store_inbox_add_many(struct store *s, const struct store_inbox_msg *in, int n,
                         int64_t *ids_out);
/* Claim n distinct keys (feed_ids[i], controls[i]) for inbox messages ids[i]
 * (one statement on PostgreSQL, plus one to read the holders when any was
 * taken before): firsts[i] is ids[i] when claimed now, else the inbox id that
 * claimed it before.  WEFT_EINVAL when a key repeats. */
int store_inbox_claim_many(struct store *s, int n, const int64_t *feed_ids,
                           const char *const *controls, const int64_t *ids, int64_t *firsts);
/* Give back the claim of (feed_id, control_id) held by inbox message id (its
 * application was undone after the claim was taken with its batch's); no
 * error when id does not hold it. */
int store_inbox_unclaim(struct store *s, int64_t feed_id, const char *control_id, int64_t id);
/* Count of messages of feed_id (0: all) per outcome; out[0..4] = pending,
 * applied, rejected, duplicate, partial. */
int store_inbox_outcomes(struct store *s, int64_t feed_id, int64_t out[5]);
/* Mark inbox message id as the corrected copy of message resubmit_of, made
 * by `by` (weft feed resubmit); the original is not touched. */
int store_inbox_set_resubmit(struct store *s, int64_t id, int64_t resubmit_of, const char *by);
/* Messages of kind (NULL: any) still pending, of feed_id (0: every feed):
 * for HL7 v2, the backlog of enhanced-mode messages accepted but not yet
 * applied.  Reads only the pending rows (an index range), not the inbox. */
int store_inbox_pending_count(struct store *s, int64_t feed_id, const char *kind, int64_t *n);
/* Move record seq of accept journal journal_id (feeds/accept_journal.h) into
 * the inbox as message in (outcome pending), once: a record already moved
 * (a crash after the move's commit, a backup that moved it first) is not
 * stored again.  *id_out is its inbox id either way; *added says whether it
 * was stored now.  Inside the caller's transaction. */
int store_inbox_add_journaled(struct store *s, const struct store_inbox_msg *in,
                              const char *journal_id, int64_t seq, int64_t *id_out, bool *added);
/* The highest sequence number of journal_id's records in the inbox, 0 when
 * none (the journal is moved in order: every record up to it is there). */
int store_inbox_journal_moved(struct store *s, const char *journal_id, int64_t *seq);

#endif
