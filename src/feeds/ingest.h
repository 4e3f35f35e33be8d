/*
 * ingest.h - apply one inbound item to the record: the single path shared by
 * live traffic (MLLP listener, POST /fhir, drop folders) and by replay.
 *
 *   HL7 v2   parse -> find the feed by sending facility (MSH-4.1) -> keep it
 *            in the inbox -> refuse (AR) when the facility is unknown, the
 *            feed disabled, the peer address wrong or the organisation has no
 *            agreement in force -> map (hl7_map.h) -> claim (feed, MSH-10) so
 *            a repeat is acknowledged AA without being applied again -> load
 *            the Bundle (fhir/load.h) or apply the A40 merge -> ACK.
 *   FHIR     keep the POSTed body in the inbox (committed) before anything
 *            else; refuse (403) without an agreement; the API handler loads
 *            it and reports back the outcome.
 *   CSV      keep the file in the inbox (committed), refuse (failed/ with a
 *            report) without an agreement, else map and load it row batch by
 *            row batch (feeds/socialcare.h), move it to done/ or failed/ with
 *            the report beside it.
 *
 * HL7 and group commit: ingest_hl7() runs INSIDE the caller's open store
 * transaction, one savepoint per message, so the MLLP writer thread can put
 * many messages from many connections in one transaction: a failing message
 * rolls back to its savepoint and is recorded rejected; the others go on.
 * The inbox row is written in the same transaction as the message's
 * resources, so when the transaction commits both are durable together, and
 * when it does not (crash, disk error) neither is and no ACK has been sent:
 * the sender still holds the message and resends it.  ACKs are released by
 * the caller only after store_txn_commit() succeeds (ingest_result_commit_failed()
 * turns a prepared AA into AE when the commit fails).
 *
 * Counters (registry.h status) are accumulated in the ingest context and
 * written by ingest_flush_counts() inside the same transaction, once per
 * batch.
 *
 * Threads: a struct ingest belongs to one thread and one store handle.
 * Nothing here writes patient data to the operational log.
 */
#ifndef WEFT_FEEDS_INGEST_H
#define WEFT_FEEDS_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "feeds/lag.h"
#include "store/store.h"

struct ingest;
struct load_report;

/* A context for store handle s (borrowed; must outlive it).  Never NULL. */
struct ingest *ingest_new(struct store *s);
void ingest_free(struct ingest *ig);

struct ingest_result {
    int64_t inbox_id;
    int64_t feed_id;     /* 0 when the sender matched no feed */
    const char *outcome; /* INBOX_* (static) */
    char ack_code[3];    /* hl7: AA, AE or AR */
    char reason[256];    /* why not applied ("" when applied) */
    int http_status;     /* fhir: 200, 400, 403, 500 ... */
    long resources;      /* resources written or confirmed unchanged */
    bool merged;         /* hl7: an A40 merge was applied */
    struct buf ack;      /* hl7: the ACK message (no MLLP framing) */
    /* fhir: lag samples of the bundle's events (feed_lag_add_bundle), set by
     * the caller before ingest_fhir_done; counted on the first attempt only */
    struct feed_lag lag;
};
void ingest_result_init(struct ingest_result *r);
void ingest_result_release(struct ingest_result *r);

/*
 * One HL7 v2 message data[0..len) that arrived from peer ("ip:port", may be
 * NULL) at arrived (ISO 8601, NULL: now).  Must be called inside an open
 * transaction of the context's store.  replay_id > 0 re-applies that inbox
 * message instead of keeping a new one.  Fills r (ACK included).  Returns 0
 * whenever r holds a decision (applied, rejected or duplicate), or a store
 * error when the transaction itself is broken (then the caller rolls back
 * and answers every message of the batch AE).
 */
int ingest_hl7(struct ingest *ig, const char *data, size_t len, const char *peer,
               const char *arrived, int64_t replay_id, struct ingest_result *r);

/* A message already mapped (hl7_map_message) by the caller's thread for
 * organisation org, with its return code: ingest_hl7_premapped() uses the
 * result when the feed's organisation is still org (the load may modify
 * mr->bundle in place), else maps again.  mr stays the caller's: clear it
 * (hl7_map_result_clear) once the call returned, on any thread.  Lets the
 * MLLP connection threads map, and free, in parallel with the writer. */
struct hl7_map_result;
struct load_prep;
struct ingest_premap {
    const char *org;
    const char *feed; /* the feed name it was prepared for */
    int rc;
    struct hl7_map_result *mr;
    /* mr's bundle prepared for the store (fhir_load_prepare) with org and
     * feed, or NULL; used (and consumed) only when they are the message's
     * feed's; freed by the caller, before mr, after the call. */
    struct load_prep *prep;
    /* the connection's TLS client certificate (64 lower-case hex digits of
     * its SHA-256), "" when the connection presented none (or is plain);
     * NULL: not a live connection (replay, tools), no check.  A feed that
     * pins a certificate (store_feed.client_cert_sha256) refuses the message
     * AR unless it is this one. */
    const char *cert_sha256;
    /* > 0: apply this inbox message, kept `pending` (an enhanced-mode
     * message moved from the accept journal, feeds/accept_journal.h), as its
     * first application (counted as an arrival; data is its body) */
    int64_t pending_id;
};
int ingest_hl7_premapped(struct ingest *ig, const char *data, size_t len, const char *peer,
                         const char *arrived, struct ingest_premap *pm, struct ingest_result *r);

/*
 * A writer's batch: items[0..n) as ingest_hl7_premapped each, in order, with
 * the same outcomes and ACKs, inside the caller's open transaction, but the
 * batch's inbox rows kept in one statement and their claims (feed, MSH-10)
 * taken in one more, before the messages' savepoints (PostgreSQL: 2 round
 * trips a batch, not 2 a message).  A message whose application is undone
 * gives its claim back (a resend of it is applied); a control id repeated
 * within the batch is a duplicate of its first message when that one was
 * applied, else claimed as a lone message would claim it.  Messages whose
 * feeds do not all fit the feed cache go in chunks.  pm.pending_id must be
 * 0 (accepted messages go one by one).  Returns as ingest_hl7: a store
 * error leaves the results of the batch unfinished (the caller rolls back
 * and answers every message AE).
 */
struct ingest_hl7_item {
    const char *data;
    size_t len;
    const char *peer;
    const char *arrived;
    struct ingest_premap pm;
    struct ingest_result *r;
};
int ingest_hl7_batch(struct ingest *ig, struct ingest_hl7_item *items, size_t n);

/* Write the counters accumulated since the last flush (inside the caller's
 * transaction).  Call before store_txn_commit(). */
int ingest_flush_counts(struct ingest *ig);
/* Forget the counters accumulated since the last flush (after a rollback). */
void ingest_discard_counts(struct ingest *ig);

/* The batch holding this message could not be committed: replace the ACK by
 * AE saying so (nothing of the message is stored; the sender must resend). */
void ingest_result_commit_failed(struct ingest_result *r, const char *data, size_t len,
                                 const char *why);

/*
 * `weft feed resubmit`: a corrected copy data[0..len) of HL7 v2 inbox message
 * orig_id, made by `by`, kept as a new inbox message linked to the original
 * (which is not touched) and processed exactly as a live arrival of the
 * original's sender (counted as one), in its own transaction.  The peer
 * address and client-certificate checks of a live connection do not apply
 * (an operator resubmits).  WEFT_ENOTFOUND for no such message,
 * WEFT_EUNSUPPORTED when it is not HL7 v2; else as ingest_hl7_one.
 */
int ingest_resubmit(struct ingest *ig, int64_t orig_id, const char *data, size_t len,
                    const char *by, struct ingest_result *r);

/* One HL7 message in its own transaction (replay, tests, tools). */
int ingest_hl7_one(struct ingest *ig, const char *data, size_t len, const char *peer,
                   int64_t replay_id, struct ingest_result *r);

/*
 * FHIR POST, step 1 (before the body is parsed): when client_name is a feed's
 * client ("feed:NAME"), keep the body in the inbox (committed) and check the
 * agreement.  Returns 0 with r->feed_id = 0 when the caller is not a feed
 * client (nothing done); else r->inbox_id set, and r->http_status 403 with
 * r->reason when refused (the inbox row is already marked rejected).
 * *feed_name_out (malloc'd, caller frees) names the feed for load_ctx.feed.
 */
int ingest_fhir_arrival(struct ingest *ig, const char *client_name, const char *body, size_t len,
                        const char *peer, struct ingest_result *r, char **feed_name_out);
/*
 * The same step for an API client that is not a feed's (a plain `weft client
 * add --write` client): every API write is kept in the inbox verbatim before
 * anything else (feed_id 0: no feed; sender the client's name), and refused
 * (r->http_status 403, r->reason, the row marked rejected) unless the
 * client's organisation org has an agreement in force.  Then as above;
 * ingest_fhir_done() records the outcome.
 */
int ingest_fhir_client_arrival(struct ingest *ig, const char *client_name, const char *org,
                               const char *body, size_t len, const char *peer,
                               struct ingest_result *r);
/* FHIR POST, step 2: record how the load went (rc of fhir_load_bundle, or
 * status/reason of an earlier refusal when rep is NULL). */
int ingest_fhir_done(struct ingest *ig, struct ingest_result *r, int load_rc,
                     const struct load_report *rep, int http_status, const char *reason);

/*
 * A CSV file of csv feed feed_id: claim it (ingest_csv_claim), read it, keep
 * it in the inbox, process it, move it to done/ or failed/ beside a report
 * "NAME.report.json".  On success r->outcome is applied, partial or
 * rejected.  WEFT_ECONFLICT / WEFT_ENOTFOUND: another processor has it or
 * had it (nothing done); other negative codes when the file could not be
 * read or moved (left in place).
 */
int ingest_csv_file(struct ingest *ig, int64_t feed_id, const char *path, struct ingest_result *r);

/*
 * One processor per drop file, across threads and processes (`weft serve`'s
 * watcher and any number of `weft feed run`): open path and take an
 * exclusive flock(2) on the file without waiting, then check that path
 * still names the locked file.  0 with *fd_out the claim (closing it
 * releases the claim), WEFT_ECONFLICT when another processor holds it,
 * WEFT_ENOTFOUND when it is gone (processed and moved meanwhile), WEFT_EIO.
 * The processor moves the file to done/ or failed/ BEFORE it releases the
 * claim, so whoever gets the lock next finds the name gone.  A processor
 * that dies releases its claim with its last descriptor (the kernel drops
 * the lock), and the file is still in the folder: the next pass takes it
 * again (loads are idempotent, so it applies once) and marks the dead
 * processor's inbox row, left pending, as interrupted.
 */
int ingest_csv_claim(const char *path, int *fd_out);
/* ingest_csv_file on a file claimed as fd (read from fd, not from path). */
int ingest_csv_claimed(struct ingest *ig, int64_t feed_id, int fd, const char *path,
                       struct ingest_result *r);

/*
 * Replay inbox message id (any kind): apply it again through the same path,
 * updating its outcome and attempts.  HL7 and FHIR bodies are re-applied;
 * CSV files are re-processed from the inbox copy (a new report is written to
 * the feed's done/ or failed/ folder as "NAME.replay-N.report.json").
 */
int ingest_replay(struct ingest *ig, int64_t id, struct ingest_result *r);

#endif
