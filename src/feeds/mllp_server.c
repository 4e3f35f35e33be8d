/*
 * mllp_server.c - the MLLP listener (mllp_server.h): acceptor, a thread per
 * connection, one writer thread doing group commit.
 *
 * Why this shape: durability costs one fsync per transaction (about 0.3 ms on
 * the reference machine), so the number of messages per second is the
 * number of messages per transaction times ~3000.  One writer draining a
 * shared queue puts everything that arrived while the previous commit was
 * flushing into the next transaction; with many senders (or pipelining
 * senders) batches grow by themselves under load and shrink to one message
 * when traffic is light, so latency stays one fsync at low load.  SQLite
 * allows one writer at a time anyway, so a single writer thread loses
 * nothing and avoids lock waits.
 *
 * Item life: a connection thread allocates an item per frame and links it
 * into its FIFO and into the writer queue.  The writer fills item->res and
 * marks it done (under the connection's mutex) after the commit, then pokes
 * the connection's eventfd.  The connection thread writes ACKs for done
 * items from the head of its FIFO, in order, and frees them.  A connection
 * thread never exits while it has items in flight, so the writer never
 * touches a freed connection.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "access/org.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "core/failpoint.h"
#include "feeds/hl7.h"
#include "feeds/hl7_ack.h"
#include "feeds/hl7_map.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/mllp_frame.h"
#include "feeds/mllp_server.h"
#include "fhir/load.h"
#include "http/serve.h"
#include "store/feeds.h"
#include "store/store.h"
#include "store/txn.h"

struct conn;

struct item {
    struct item *qnext; /* writer queue */
    struct item *cnext; /* connection FIFO */
    struct conn *conn;
    char *data;
    size_t len;
    char arrived[32];
    bool done;
    struct ingest_result res;
    bool has_pre; /* mapped on the connection thread for pre_org */
    int pre_rc;
    char pre_org[16];
    char pre_feed[64];
    struct hl7_map_result pre;
    struct load_prep *prep; /* pre's bundle prepared for the store, or NULL */
};

struct conn {
    struct mllp_server *srv;
    struct conn *next; /* server's list */
    pthread_t th;
    int fd, efd;
    char peer[96];
    char host[64]; /* the peer's numeric address: connections per address */
    pthread_mutex_t mu;
    struct item *head, *tail; /* FIFO of items awaiting their ACK */
    int pending;
    atomic_bool finished;
};

struct mllp_server {
    struct mllp_server_config cfg;
    char *host, *store_url;
    int lfd, port;
    pthread_t acceptor, writer;
    atomic_bool stopping; /* acceptor and connections: stop reading */
    bool writer_stop;     /* under qmu: writer exits when the queue is empty */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct item *qhead, *qtail;
    size_t qlen;
    pthread_mutex_t cmu; /* conns list */
    struct conn *conns;
    int nconns;
    struct store *store;      /* the writer's */
    struct store *ckpt_store; /* the refresher's */
    pthread_t checkpointer;   /* the refresher (the store checkpoints by itself) */
    pthread_mutex_t kmu;
    pthread_cond_t kcv;
    bool ckpt_stop;
    atomic_uint_fast64_t n_conns, n_msgs, n_batches, n_failed, n_idle;
    /* the hl7v2 feeds whose messages can be applied (enabled, agreement in
     * force), by sending facility, for mapping and preparing on the
     * connection threads; refreshed every second by the refresher (the
     * writer checks the feed again, so a stale entry only costs work) */
    pthread_rwlock_t flk;
    struct store_feed *fac;
    int nfac;
};

static void item_free(struct item *it)
{
    fhir_load_prep_free(it->prep); /* before the bundle it points into */
    hl7_map_result_clear(&it->pre);
    ingest_result_release(&it->res);
    free(it->data);
    free(it);
}

/* ---- writer -------------------------------------------------------------------------- */

/* Release the ACKs of a batch: per connection, its items are marked done
 * and its thread woken once (one eventfd write per connection, not per
 * message), under the connection's lock, so that it cannot take its items,
 * finish and be freed before the wake-up is written.  The items are listed
 * first: once marked done, an item may be freed by its connection. */
static void complete_batch(struct item *batch, size_t n)
{
    struct done {
        struct item *it;
        struct conn *c;
    } *v = xmalloc(sizeof *v * (n ? n : 1));
    size_t k = 0;
    for (struct item *it = batch; it && k < n; it = it->qnext)
        v[k++] = (struct done){it, it->conn};
    for (size_t i = 0; i < k; i++) {
        if (!v[i].it)
            continue;
        struct conn *c = v[i].c;
        pthread_mutex_lock(&c->mu);
        for (size_t j = i; j < k; j++) {
            if (v[j].it && v[j].c == c) {
                v[j].it->done = true;
                v[j].it = NULL;
            }
        }
        uint64_t one = 1;
        ssize_t w = write(c->efd, &one, sizeof one);
        (void)w;
        pthread_mutex_unlock(&c->mu);
    }
    free(v);
}

static void run_batch(struct mllp_server *srv, struct ingest *ig, struct item *batch, size_t n)
{
    struct store *s = srv->store;
    struct store_txn txn;
    int rc = store_txn_begin(&txn, s); /* waits a bounded time while busy */
    for (struct item *it = batch; rc == 0 && it; it = it->qnext) {
        if (it->has_pre) {
            struct ingest_premap pm = {.org = it->pre_org,
                                       .feed = it->pre_feed,
                                       .rc = it->pre_rc,
                                       .mr = &it->pre,
                                       .prep = it->prep};
            rc = ingest_hl7_premapped(ig, it->data, it->len, it->conn->peer, it->arrived, &pm,
                                      &it->res);
        } else {
            rc = ingest_hl7(ig, it->data, it->len, it->conn->peer, it->arrived, 0, &it->res);
        }
    }
    if (rc == 0)
        rc = ingest_flush_counts(ig);
    if (rc == 0 && FAILPOINT("mllp-ack-before-commit")) /* test build: the broken order */
        complete_batch(batch, n), batch = NULL;
    if (rc == 0)
        rc = store_txn_commit(&txn);
    if (rc != 0) {
        log_error("mllp", "batch of %zu messages not stored: %s (%s)", n, weft_strerror(rc),
                  store_errmsg(s));
        store_txn_rollback(&txn);
        ingest_discard_counts(ig);
        for (struct item *it = batch; it; it = it->qnext)
            ingest_result_commit_failed(&it->res, it->data, it->len, "the record store failed");
        atomic_fetch_add(&srv->n_failed, 1);
    }
    atomic_fetch_add(&srv->n_batches, 1);
    atomic_fetch_add(&srv->n_msgs, n);
    complete_batch(batch, n);
}

static void *writer_main(void *arg)
{
    struct mllp_server *srv = arg;
    struct ingest *ig = ingest_new(srv->store);
    size_t max = (size_t)srv->cfg.batch_max;
    for (;;) {
        pthread_mutex_lock(&srv->qmu);
        while (!srv->qhead && !srv->writer_stop)
            pthread_cond_wait(&srv->qcv, &srv->qmu);
        if (!srv->qhead && srv->writer_stop) {
            pthread_mutex_unlock(&srv->qmu);
            break;
        }
        struct item *batch = srv->qhead, *last = batch;
        size_t n = 1;
        while (last->qnext && n < max) {
            last = last->qnext;
            n++;
        }
        srv->qhead = last->qnext;
        if (!srv->qhead)
            srv->qtail = NULL;
        srv->qlen -= n;
        last->qnext = NULL;
        pthread_mutex_unlock(&srv->qmu);
        run_batch(srv, ig, batch, n);
    }
    ingest_free(ig);
    return NULL;
}

static void fac_free(struct store_feed *fac, int n)
{
    for (int i = 0; i < n; i++)
        store_feed_clear(&fac[i]);
    free(fac);
}

static void fac_refresh(struct mllp_server *srv)
{
    struct store_feed *fs = NULL;
    int n = 0;
    if (store_feed_list(srv->ckpt_store, &fs, &n) != 0)
        return; /* keep the old table */
    int k = 0;  /* the usable feeds are moved to the front of fs */
    for (int i = 0; i < n; i++) {
        /* only feeds whose messages will be applied: mapping and preparing
         * a message the writer refuses (disabled feed, no agreement in
         * force) would be wasted; a stale entry only costs that */
        int aerr = 0;
        bool usable = fs[i].facility && strcmp(fs[i].kind, "hl7v2") == 0 && !fs[i].disabled &&
                      org_agreement_in_force(srv->ckpt_store, fs[i].org, time(NULL), &aerr);
        if (usable)
            fs[k++] = fs[i];
        else
            store_feed_clear(&fs[i]);
    }
    pthread_rwlock_wrlock(&srv->flk);
    struct store_feed *of = srv->fac;
    int on = srv->nfac;
    srv->fac = fs;
    srv->nfac = k;
    pthread_rwlock_unlock(&srv->flk);
    fac_free(of, on);
}

/* Parse and map one message on the connection thread when its facility is a
 * known feed (the writer then only loads it). */
static void premap(struct mllp_server *srv, struct hl7_msg *m, struct item *it)
{
    if (hl7_msg_parse(m, it->data, it->len, HL7_PARSE_STRICT, NULL) != 0)
        return;
    struct hl7_span sp;
    char facility[181];
    if (hl7_get(m, "MSH", 1, 4, 1, 1, 0, &sp) != 0)
        return;
    size_t n = hl7_unescape(hl7_msg_delims(m), sp, facility, sizeof facility);
    if (n == 0 || n >= sizeof facility)
        return;
    pthread_rwlock_rdlock(&srv->flk);
    for (int i = 0; i < srv->nfac; i++) {
        if (strcmp(srv->fac[i].facility, facility) == 0) {
            snprintf(it->pre_org, sizeof it->pre_org, "%s", srv->fac[i].org);
            snprintf(it->pre_feed, sizeof it->pre_feed, "%s", srv->fac[i].name);
            it->has_pre = true;
            break;
        }
    }
    pthread_rwlock_unlock(&srv->flk);
    if (it->has_pre) {
        struct hl7_map_opts mo = {.ods = it->pre_org};
        it->pre_rc = hl7_map_message(m, &mo, &it->pre);
        /* and the bundle prepared for the store: ids, references within
         * it, serialisation - the writer then only links and stores */
        if (it->pre_rc == 0 && it->pre.kind == HL7_MAP_BUNDLE && it->pre.bundle) {
            struct load_ctx lc = {.org = it->pre_org, .feed = it->pre_feed};
            it->prep = fhir_load_prepare(it->pre.bundle, &lc);
        }
    }
}

/* The refresher: the table of usable feeds, every second, off the writer's
 * path.  (Checkpoints are the store's: store_writer on the writer's handle.) */
static void *checkpointer_main(void *arg)
{
    struct mllp_server *srv = arg;
    pthread_mutex_lock(&srv->kmu);
    while (!srv->ckpt_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec++;
        pthread_cond_timedwait(&srv->kcv, &srv->kmu, &until);
        bool stop = srv->ckpt_stop;
        pthread_mutex_unlock(&srv->kmu);
        if (!stop)
            fac_refresh(srv);
        pthread_mutex_lock(&srv->kmu);
    }
    pthread_mutex_unlock(&srv->kmu);
    return NULL;
}

static void stop_checkpointer(struct mllp_server *srv)
{
    pthread_mutex_lock(&srv->kmu);
    srv->ckpt_stop = true;
    pthread_cond_signal(&srv->kcv);
    pthread_mutex_unlock(&srv->kmu);
    pthread_join(srv->checkpointer, NULL);
}

static void enqueue(struct mllp_server *srv, struct item *it)
{
    pthread_mutex_lock(&srv->qmu);
    if (srv->qtail)
        srv->qtail->qnext = it;
    else
        srv->qhead = it;
    srv->qtail = it;
    srv->qlen++;
    pthread_cond_signal(&srv->qcv);
    pthread_mutex_unlock(&srv->qmu);
}

/* ---- connections ------------------------------------------------------------------------ */

static void fifo_push(struct conn *c, struct item *it)
{
    pthread_mutex_lock(&c->mu);
    if (c->tail)
        c->tail->cnext = it;
    else
        c->head = it;
    c->tail = it;
    c->pending++;
    pthread_mutex_unlock(&c->mu);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Write the ACKs of the done items at the head of the FIFO, in order.
 * Returns false when the peer is gone (items are still freed). */
static bool flush_acks(struct conn *c, bool peer_ok, struct buf *out)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        struct item *it = c->head;
        if (!it || !it->done) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        c->head = it->cnext;
        if (!c->head)
            c->tail = NULL;
        c->pending--;
        pthread_mutex_unlock(&c->mu);
        mllp_encode(it->res.ack.data, it->res.ack.len, out);
        item_free(it);
    }
    if (peer_ok && out->len && !write_all(c->fd, out->data, out->len))
        peer_ok = false;
    buf_reset(out);
    return peer_ok;
}

/* A reply that needs no writer (oversized frame): queued in order. */
static void push_local_nak(struct conn *c, const char *why)
{
    struct item *it = xcalloc(1, sizeof *it);
    it->conn = c;
    ingest_result_init(&it->res);
    hl7_ack_build_nak("", 0, "AR", why, NULL, &it->res.ack);
    it->done = true;
    fifo_push(c, it);
    uint64_t one = 1;
    ssize_t w = write(c->efd, &one, sizeof one);
    (void)w;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Idle timeout: a connection is idle while the peer sends nothing AND it is
 * owed no ACK (a sender waiting for a slow batch is not idle).  The clock
 * restarts at every byte received and whenever the last owed ACK has been
 * written.  An idle connection is closed like a shutdown: stop reading, then
 * close.  Bytes of a frame begun but not ended are dropped with a warning:
 * like a peer that disconnects mid-frame, there is no whole message to keep
 * (the inbox keeps messages, and this is not one); the sender still holds
 * it, unacknowledged, and resends it on a new connection.
 */
static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct mllp_server *srv = c->srv;
    struct mllp_decoder d;
    mllp_decoder_init(&d, 0);
    struct buf out = BUF_INIT;
    char *rbuf = xmalloc(1 << 16);
    struct hl7_msg *msg = hl7_msg_new();
    bool reading = true, peer_ok = true;
    const char *why = "peer"; /* why the connection ends: peer, idle, shutdown, error */
    uint64_t frames = 0;
    int64_t idle_ms = (int64_t)srv->cfg.idle_timeout * 1000, last = mono_ms();
    /* a connection that has not sent one whole frame by then is closed even
     * when the idle timeout is longer (or off): a slot is not held for free */
    int64_t first_ms = (int64_t)srv->cfg.first_frame_timeout * 1000, opened = last;
    int was_pending = 0;
    for (;;) {
        bool stop = atomic_load(&srv->stopping);
        if (stop && reading) {
            reading = false;
            why = "shutdown";
        }
        pthread_mutex_lock(&c->mu);
        int pending = c->pending;
        pthread_mutex_unlock(&c->mu);
        if (!reading && pending == 0)
            break;
        if (pending != was_pending) {
            last = mono_ms(); /* an ACK was owed until now */
            was_pending = pending;
        }
        if (reading && idle_ms > 0 && pending == 0 && mono_ms() - last >= idle_ms) {
            reading = false;
            why = "idle";
            atomic_fetch_add(&srv->n_idle, 1);
            if (mllp_decoder_pending(&d))
                log_warn("mllp",
                         "idle connection closed mid-frame peer=%s bytes=%zu: partial frame "
                         "dropped (not a whole message; the sender has no ACK for it)",
                         c->peer, mllp_decoder_pending(&d));
            continue;
        }
        if (reading && first_ms > 0 && frames == 0 && pending == 0 &&
            mono_ms() - opened >= first_ms) {
            reading = false;
            why = "no-frame";
            atomic_fetch_add(&srv->n_idle, 1);
            continue;
        }
        struct pollfd pf[2] = {{.fd = c->efd, .events = POLLIN}, {.fd = c->fd, .events = POLLIN}};
        int nfds = reading && pending < srv->cfg.window ? 2 : 1;
        int pr = poll(pf, (nfds_t)nfds, 250);
        if (pr < 0 && errno != EINTR) {
            /* Not expected with valid descriptors.  Stop reading but stay
             * until the writer has finished our items (it still points at
             * them and at this connection). */
            log_error("mllp", "poll failed peer=%s: %s", c->peer, strerror(errno));
            reading = false;
            why = "error";
            peer_ok = flush_acks(c, false, &out);
            usleep(10000);
            continue;
        }
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(c->efd, &v, sizeof v);
            (void)r;
            peer_ok = flush_acks(c, peer_ok, &out);
            if (!peer_ok && reading) {
                reading = false;
                why = "peer";
            }
        }
        if (nfds == 2 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(c->fd, rbuf, 1 << 16, 0);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                reading = false;
                why = "peer";
                if (mllp_decoder_pending(&d))
                    log_warn("mllp", "connection closed mid-frame peer=%s bytes=%zu", c->peer,
                             mllp_decoder_pending(&d));
                continue;
            }
            last = mono_ms();
            mllp_decoder_feed(&d, rbuf, (size_t)n);
            const char *frame;
            size_t flen;
            int rc;
            while ((rc = mllp_decoder_next(&d, &frame, &flen)) != 0) {
                if (rc == WEFT_ETOOBIG) {
                    log_warn("mllp", "frame refused peer=%s: %s", c->peer, mllp_decoder_error(&d));
                    push_local_nak(c, "message exceeds the 16 MiB frame limit: not stored");
                    continue;
                }
                if (rc < 0) {
                    log_warn("mllp", "framing error peer=%s: %s", c->peer, mllp_decoder_error(&d));
                    continue;
                }
                struct item *it = xcalloc(1, sizeof *it);
                it->conn = c;
                it->data = xmalloc(flen + 1);
                memcpy(it->data, frame, flen);
                it->data[flen] = 0;
                it->len = flen;
                inbox_now(it->arrived);
                ingest_result_init(&it->res);
                premap(srv, msg, it);
                frames++;
                fifo_push(c, it);
                enqueue(srv, it);
            }
        }
    }
    flush_acks(c, false, &out);
    log_info("mllp", "connection closed peer=%s messages=%llu reason=%s", c->peer,
             (unsigned long long)frames, why);
    mllp_decoder_release(&d);
    hl7_msg_free(msg);
    buf_release(&out);
    free(rbuf);
    close(c->fd);
    c->fd = -1;
    atomic_store(&c->finished, true);
    return NULL;
}

/* Join and free connections whose thread has ended (all = wait for all). */
static void reap(struct mllp_server *srv, bool all)
{
    pthread_mutex_lock(&srv->cmu);
    struct conn **pp = &srv->conns;
    while (*pp) {
        struct conn *c = *pp;
        if (all || atomic_load(&c->finished)) {
            *pp = c->next;
            srv->nconns--;
            pthread_mutex_unlock(&srv->cmu);
            pthread_join(c->th, NULL);
            close(c->efd);
            pthread_mutex_destroy(&c->mu);
            free(c);
            pthread_mutex_lock(&srv->cmu);
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&srv->cmu);
}

static void *acceptor_main(void *arg)
{
    struct mllp_server *srv = arg;
    while (!atomic_load(&srv->stopping)) {
        struct pollfd pf = {.fd = srv->lfd, .events = POLLIN};
        int pr = poll(&pf, 1, 250);
        reap(srv, false);
        if (pr <= 0)
            continue;
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(srv->lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        char host[64] = "?", serv[16] = "?";
        getnameinfo((struct sockaddr *)&sa, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV);
        pthread_mutex_lock(&srv->cmu);
        int n = srv->nconns, same = 0;
        for (struct conn *o = srv->conns; o; o = o->next)
            if (!atomic_load(&o->finished) && strcmp(o->host, host) == 0)
                same++;
        pthread_mutex_unlock(&srv->cmu);
        if (n >= srv->cfg.max_connections) {
            log_warn("mllp", "connection refused peer=%s: %d connections open (the limit)", host,
                     n);
            close(fd);
            continue;
        }
        if (same >= srv->cfg.max_per_address) {
            log_warn("mllp",
                     "connection refused peer=%s: %d connections open from that address (the "
                     "limit)",
                     host, same);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = xcalloc(1, sizeof *c);
        c->srv = srv;
        c->fd = fd;
        c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        bool v6 = strchr(host, ':') != NULL;
        snprintf(c->peer, sizeof c->peer, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", serv);
        snprintf(c->host, sizeof c->host, "%s", host);
        pthread_mutex_init(&c->mu, NULL);
        if (c->efd < 0 || pthread_create(&c->th, NULL, conn_main, c) != 0) {
            log_error("mllp", "cannot start a connection thread peer=%s", c->peer);
            if (c->efd >= 0)
                close(c->efd);
            close(fd);
            pthread_mutex_destroy(&c->mu);
            free(c);
            continue;
        }
        pthread_mutex_lock(&srv->cmu);
        c->next = srv->conns;
        srv->conns = c;
        srv->nconns++;
        pthread_mutex_unlock(&srv->cmu);
        atomic_fetch_add(&srv->n_conns, 1);
        log_info("mllp", "connection opened peer=%s", c->peer);
    }
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static int listen_on(const char *host, int port, int *fd_out, int *port_out, char **errmsg)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    const char *h = host;
    char hb[128];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        snprintf(hb, sizeof hb, "%.*s", (int)(hl - 2), host + 1);
        h = hb;
    }
    int gai = getaddrinfo(h, ps, &hints, &res);
    if (gai != 0) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "cannot resolve MLLP address '%s': %s", host, gai_strerror(gai));
        *errmsg = buf_detach(&b, NULL);
        return WEFT_EINVAL;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "cannot listen for MLLP on %s:%d: %s", host, port, strerror(err));
        *errmsg = buf_detach(&b, NULL);
        return WEFT_EIO;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port_out = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                               : ((struct sockaddr_in *)&sa)->sin_port);
    *fd_out = fd;
    return 0;
}

int mllp_server_start(struct mllp_server **out, const struct mllp_server_config *cfg, char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    struct mllp_server *srv = xcalloc(1, sizeof *srv);
    srv->cfg = *cfg;
    srv->host = xstrdup(cfg->host ? cfg->host : "127.0.0.1");
    srv->store_url = xstrdup(cfg->store_url ? cfg->store_url : "");
    srv->cfg.host = srv->host;
    srv->cfg.store_url = srv->store_url;
    if (srv->cfg.max_connections <= 0)
        srv->cfg.max_connections = 512;
    if (srv->cfg.max_per_address <= 0)
        srv->cfg.max_per_address = MLLP_PER_ADDRESS_DEFAULT;
    if (srv->cfg.first_frame_timeout == 0)
        srv->cfg.first_frame_timeout = MLLP_FIRST_FRAME_TIMEOUT_DEFAULT;
    if (srv->cfg.batch_max <= 0)
        srv->cfg.batch_max = 1024;
    if (srv->cfg.window <= 0)
        srv->cfg.window = 256;
    srv->lfd = -1;
    pthread_mutex_init(&srv->qmu, NULL);
    pthread_cond_init(&srv->qcv, NULL);
    pthread_mutex_init(&srv->cmu, NULL);
    pthread_mutex_init(&srv->kmu, NULL);
    pthread_cond_init(&srv->kcv, NULL);
    pthread_rwlock_init(&srv->flk, NULL);
    int rc = store_open(&srv->store, srv->store_url, false, errmsg);
    if (rc == 0)
        rc = store_open(&srv->ckpt_store, srv->store_url, false, errmsg);
    if (rc == 0)
        rc = store_writer(srv->store); /* the store checkpoints off this handle's path */
    if (rc == 0)
        fac_refresh(srv);
    if (rc == 0)
        rc = listen_on(srv->host, cfg->port, &srv->lfd, &srv->port, errmsg);
    bool ckpt_started = false;
    if (rc == 0 && pthread_create(&srv->checkpointer, NULL, checkpointer_main, srv) != 0)
        rc = WEFT_EINTERNAL;
    else if (rc == 0)
        ckpt_started = true;
    if (rc == 0 && pthread_create(&srv->writer, NULL, writer_main, srv) != 0)
        rc = WEFT_EINTERNAL;
    if (rc == 0 && pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0) {
        pthread_mutex_lock(&srv->qmu);
        srv->writer_stop = true;
        pthread_cond_signal(&srv->qcv);
        pthread_mutex_unlock(&srv->qmu);
        pthread_join(srv->writer, NULL);
        rc = WEFT_EINTERNAL;
    }
    if (rc != 0) {
        if (ckpt_started)
            stop_checkpointer(srv);
        if (!*errmsg)
            *errmsg = xstrdup("cannot start the MLLP threads");
        if (srv->lfd >= 0)
            close(srv->lfd);
        store_close(srv->store);
        store_close(srv->ckpt_store);
        fac_free(srv->fac, srv->nfac);
        pthread_rwlock_destroy(&srv->flk);
        pthread_mutex_destroy(&srv->kmu);
        pthread_cond_destroy(&srv->kcv);
        free(srv->host);
        free(srv->store_url);
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int mllp_server_port(const struct mllp_server *srv)
{
    return srv->port;
}

void mllp_server_stats(struct mllp_server *srv, struct mllp_server_stats *out)
{
    out->connections = atomic_load(&srv->n_conns);
    out->messages = atomic_load(&srv->n_msgs);
    out->batches = atomic_load(&srv->n_batches);
    out->failed_batches = atomic_load(&srv->n_failed);
    out->idle_closed = atomic_load(&srv->n_idle);
}

void mllp_server_stop(struct mllp_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    pthread_join(srv->acceptor, NULL);
    close(srv->lfd);
    reap(srv, true); /* connections finish their items first: the writer still runs */
    pthread_mutex_lock(&srv->qmu);
    srv->writer_stop = true;
    pthread_cond_signal(&srv->qcv);
    pthread_mutex_unlock(&srv->qmu);
    pthread_join(srv->writer, NULL);
    stop_checkpointer(srv);
    struct mllp_server_stats st;
    mllp_server_stats(srv, &st);
    log_info("mllp",
             "stopped connections=%llu messages=%llu batches=%llu failed_batches=%llu "
             "idle_closed=%llu",
             (unsigned long long)st.connections, (unsigned long long)st.messages,
             (unsigned long long)st.batches, (unsigned long long)st.failed_batches,
             (unsigned long long)st.idle_closed);
    store_close(srv->store);
    store_close(srv->ckpt_store);
    fac_free(srv->fac, srv->nfac);
    pthread_rwlock_destroy(&srv->flk);
    pthread_mutex_destroy(&srv->kmu);
    pthread_cond_destroy(&srv->kcv);
    pthread_mutex_destroy(&srv->qmu);
    pthread_cond_destroy(&srv->qcv);
    pthread_mutex_destroy(&srv->cmu);
    free(srv->host);
    free(srv->store_url);
    free(srv);
}

/* ---- the weft serve part ------------------------------------------------------------------ */

static int split_listen(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return WEFT_EINVAL;
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return WEFT_EINVAL;
    *host = xstrndup(s, (size_t)(colon - s));
    *port = (int)p;
    return 0;
}

/* Say at start which HL7 v2 feeds any host may send as (no --from-address). */
static void warn_unbound_feeds(const char *db)
{
    struct store *s = NULL;
    char *msg = NULL;
    if (store_open(&s, db, false, &msg) != 0) {
        free(msg);
        return;
    }
    struct store_feed *fs = NULL;
    int n = 0;
    if (store_feed_list(s, &fs, &n) == 0) {
        for (int i = 0; i < n; i++) {
            if (strcmp(fs[i].kind, "hl7v2") == 0 && !fs[i].disabled && !fs[i].from_address)
                log_warn("mllp",
                         "feed %s accepts MSH-4 %s from any address: any host that reaches the "
                         "MLLP port can send as that facility, merges (A40) included; restrict "
                         "it with weft feed add --from-address",
                         fs[i].name, fs[i].facility ? fs[i].facility : "-");
            store_feed_clear(&fs[i]);
        }
        free(fs);
    }
    store_close(s);
}

int mllp_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    const char *listen = opts_get(ctx->opts, "mllp");
    if (!listen)
        return 0;
    char *host = NULL;
    int port = 0;
    long maxc = 0, idle = 0, per_addr = 0, first = 0;
    if (split_listen(listen, &host, &port) != 0) {
        fprintf(stderr, "weft serve: --mllp '%s' is not HOST:PORT (e.g. 127.0.0.1:2575)\n", listen);
        return WEFT_EINVAL;
    }
    if (opts_get_long(ctx->opts, "mllp-max-connections", 512, &maxc) != 0 || maxc < 1 ||
        maxc > 10000) {
        fprintf(stderr, "weft serve: --mllp-max-connections must be 1-10000\n");
        free(host);
        return WEFT_EINVAL;
    }
    if (opts_get_long(ctx->opts, "mllp-idle-timeout", MLLP_IDLE_TIMEOUT_DEFAULT, &idle) != 0 ||
        idle < 0 || idle > 86400 * 7) {
        fprintf(stderr, "weft serve: --mllp-idle-timeout must be 0-604800 seconds (0 = never)\n");
        free(host);
        return WEFT_EINVAL;
    }
    if (opts_get_long(ctx->opts, "mllp-max-connections-per-address", MLLP_PER_ADDRESS_DEFAULT,
                      &per_addr) != 0 ||
        per_addr < 1 || per_addr > 10000 ||
        opts_get_long(ctx->opts, "mllp-first-frame-timeout", MLLP_FIRST_FRAME_TIMEOUT_DEFAULT,
                      &first) != 0 ||
        first < 1 || first > 86400) {
        fprintf(stderr, "weft serve: --mllp-max-connections-per-address must be 1-10000 and "
                        "--mllp-first-frame-timeout 1-86400 seconds\n");
        free(host);
        return WEFT_EINVAL;
    }
    struct mllp_server_config cfg = {.host = host,
                                     .port = port,
                                     .store_url = ctx->db,
                                     .max_connections = (int)maxc,
                                     .max_per_address = (int)per_addr,
                                     .idle_timeout = (int)idle,
                                     .first_frame_timeout = (int)first};
    struct mllp_server *srv = NULL;
    char *err = NULL;
    int rc = mllp_server_start(&srv, &cfg, &err);
    if (rc != 0) {
        fprintf(stderr, "weft serve: %s\n", err ? err : weft_strerror(rc));
        free(err);
        free(host);
        return rc;
    }
    warn_unbound_feeds(ctx->db);
    bool v6 = strchr(host, ':') && host[0] != '[';
    log_info("serve", "listening mllp=%s%s%s:%d idle_timeout=%ld", v6 ? "[" : "", host,
             v6 ? "]" : "", mllp_server_port(srv), idle);
    const char *pf = opts_get(ctx->opts, "mllp-port-file");
    if (pf) {
        struct buf tmp = BUF_INIT;
        buf_addf(&tmp, "%s.tmp", pf);
        FILE *f = fopen(tmp.data, "w");
        bool ok = f && fprintf(f, "%d\n", mllp_server_port(srv)) > 0;
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok || rename(tmp.data, pf) != 0) {
            fprintf(stderr, "weft serve: cannot write MLLP port file '%s'\n", pf);
            buf_release(&tmp);
            mllp_server_stop(srv);
            free(host);
            return WEFT_EIO;
        }
        buf_release(&tmp);
    }
    free(host);
    *state = srv;
    return 0;
}

void mllp_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    mllp_server_stop(state);
}
