/*
 * mllp_server.h - the MLLP listener of `weft serve --mllp HOST:PORT`.
 *
 * Owns struct mllp_server.  Threads:
 *   - one acceptor (poll on the listening socket);
 *   - one thread per connection (at most max_connections, and
 *     max_per_address from one address; more are closed at once with a
 *     warning), decoding frames (feeds/mllp_frame.h) and queueing
 *     each message, then writing its ACK when the writer has finished it;
 *   - ONE writer thread with its own store handle, draining the queue: it
 *     takes every queued message (up to batch_max), opens one transaction,
 *     applies each message in a savepoint of it (feeds/ingest.h), commits, and
 *     only then releases the ACKs.  So throughput comes from group commit
 *     across connections, and no message is acknowledged AA before its
 *     inbox row and resources are durable (SQLite synchronous=FULL).
 * A connection may pipeline: it can send up to `window` messages before
 * reading ACKs; ACKs always come back in the order the messages were sent.
 *
 * TLS (optional): the handshake runs on the connection's thread; the
 * client's certificate, if any, is pinned per feed (weft feed add
 * --client-cert-sha256): a message whose feed pins a certificate is refused
 * AR unless its connection presented exactly that one.
 *
 * HL7 v2 enhanced acknowledgement mode (MSH-15/MSH-16 valued): a journal
 * thread appends such a message to the node's accept journal
 * (feeds/accept_journal.h) with group commit and it is answered CA once
 * synced; a mover thread moves it into the inbox as pending and an applier
 * thread applies it from a backlog that survives restarts; its application
 * ACK goes back on the same connection while it is open (mllp_server.c
 * explains).  Without MSH-15/16: original mode, unchanged.
 *
 * Frames larger than 16 MiB are answered AR (and not stored: there is
 * nothing whole to keep); bytes outside frames are dropped with a warning.
 *
 * Idle connections: one on which the peer sends nothing for idle_timeout
 * seconds while it is owed no ACK is closed (log line "connection closed
 * ... reason=idle"); a frame it had begun is dropped with a warning, as when
 * a peer disconnects mid-frame (there is no whole message to keep, and the
 * sender, having no ACK, resends it).  A connection that has not sent a
 * whole frame within first_frame_timeout seconds of opening is closed the
 * same way ("reason=no-frame"), whatever the idle timeout.
 */
#ifndef WEFT_FEEDS_MLLP_SERVER_H
#define WEFT_FEEDS_MLLP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct mllp_server;
struct serve_ctx;

struct mllp_server_config {
    const char *host;        /* address to bind, e.g. "127.0.0.1", "0.0.0.0", "::" */
    int port;                /* 0: a free port (see mllp_server_port) */
    const char *store_url;   /* the writer's store */
    int max_connections;     /* 0: 512 */
    int batch_max;           /* messages per transaction, 0: 1024 */
    int window;              /* unacknowledged messages per connection, 0: 256 */
    int idle_timeout;        /* seconds a connection may stay idle; 0: forever */
    int max_per_address;     /* connections from one address, 0: MLLP_PER_ADDRESS_DEFAULT */
    int first_frame_timeout; /* seconds to send a first whole frame, 0: default; <0: never */
    /* TLS: both set, every connection is TLS 1.2+ (core/tls.h); the
     * handshake must finish within first_frame_timeout */
    const char *tls_cert_file, *tls_key_file;
    /* refuse a TLS connection without a client certificate that some hl7v2
     * feed pins (the per-message check against the feed's own pin applies
     * whether or not this is set) */
    bool tls_require_client_cert;
    /* enhanced mode: messages accepted but not yet applied, at most (then
     * nothing more is accepted until applying made room); 0: default */
    int backlog_max;
    /* answer every message in original mode, whatever its MSH-15/MSH-16 say
     * (--mllp-ack-mode original, the default; auto turns enhanced mode on) */
    bool original_ack_only;
    /* enhanced mode: the accept journal's directory (feeds/accept_journal.h;
     * required unless original_ack_only) */
    const char *journal_dir;
    /* writer threads, each with its own store connection, queue and group
     * commit; a connection's messages all go to one (its order is kept).
     * 0: 1.  At most MLLP_WRITERS_MAX.  PostgreSQL's writers overlap
     * (store/pg/pg_int.h); SQLite's take turns, so one is enough there. */
    int writers;
};
#define MLLP_WRITERS_MAX 16
/* `--mllp-writers` when not given, on PostgreSQL (SQLite: 1) */
#define MLLP_WRITERS_PG_DEFAULT 2

/* `--mllp-backlog-max` when not given. */
#define MLLP_BACKLOG_MAX_DEFAULT 1000000

/* Connections from one address at once, and the seconds a new connection
 * has to send its first whole frame (then it is closed, reason=no-frame),
 * when not given. */
#define MLLP_PER_ADDRESS_DEFAULT 32
#define MLLP_FIRST_FRAME_TIMEOUT_DEFAULT 30

/* `weft serve --mllp-idle-timeout` when not given. */
#define MLLP_IDLE_TIMEOUT_DEFAULT 300

struct mllp_server_stats {
    uint64_t connections; /* accepted since start */
    uint64_t messages;    /* frames handled */
    uint64_t batches;     /* transactions committed or failed */
    uint64_t failed_batches;
    uint64_t idle_closed; /* connections closed for idleness */
    uint64_t applied;     /* enhanced mode: accepted messages applied */
    uint64_t backlog;     /* enhanced mode: accepted, not yet applied */
};

/* Bind, listen and start the threads.  On failure returns a negative code and
 * a malloc'd message in *errmsg (caller frees). */
int mllp_server_start(struct mllp_server **out, const struct mllp_server_config *cfg,
                      char **errmsg);
/* The port actually bound. */
int mllp_server_port(const struct mllp_server *srv);
void mllp_server_stats(struct mllp_server *srv, struct mllp_server_stats *out);
/* Stop accepting, let every connection receive the ACKs of what it sent,
 * close the connections, stop the writer, free everything.  NULL is fine. */
void mllp_server_stop(struct mllp_server *srv);

/* The `weft serve` part (http/serve.h): reads --mllp HOST:PORT (inactive when
 * absent), --mllp-port-file FILE, --mllp-max-connections N,
 * --mllp-max-connections-per-address N, --mllp-first-frame-timeout SECONDS
 * and --mllp-idle-timeout SECONDS (default MLLP_IDLE_TIMEOUT_DEFAULT; 0:
 * never), and TLS: --mllp-tls-cert/--mllp-tls-key, else --tls-cert/--tls-key
 * (the pair both listeners share), --mllp-plain (no TLS on MLLP even so),
 * --mllp-require-client-cert. */
int mllp_serve_start(const struct serve_ctx *ctx, void **state);
void mllp_serve_stop(const struct serve_ctx *ctx, void *state);

#endif
