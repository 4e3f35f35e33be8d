/*
 * mllp_server.c - the MLLP listener (mllp_server.h): acceptor, a thread per
 * connection, one writer thread doing group commit, and, for HL7 enhanced
 * acknowledgement mode, a journal thread accepting messages into the accept
 * journal (group commit, one fdatasync a batch), a mover moving them into
 * the inbox, and an applier thread applying that backlog on its own store
 * handle (reading, mapping and preparing them before its transaction, so
 * that it holds the write lock only to store them).
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
#include <assert.h>
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
#include "core/metrics.h"
#include "core/opt.h"
#include "core/tls.h"
#include "core/failpoint.h"
#include "feeds/accept_journal.h"
#include "feeds/hl7.h"
#include "feeds/hl7_ack.h"
#include "feeds/hl7_map.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/mllp_frame.h"
#include "feeds/mllp_server.h"
#include "feeds/registry.h"
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
    /* HL7 v2 enhanced acknowledgement mode: MSH-15 or MSH-16 valued */
    bool enh;
    char msh15[3], msh16[3]; /* AL, NE, ER or SU (HL7 table 0155) */
    bool fast;               /* accept only: journaled, applied later (backlog) */
    int64_t fast_feed;       /* its feed */
    char facility[181], control[200], mtype[40];
    struct buf app_ack; /* written after res.ack (enhanced mode, applied at once) */
};

/* A connection owed the application ACK of an accepted message. */
struct waiter {
    struct waiter *next;
    int64_t id; /* the accept journal's sequence number */
    struct conn *c;
    char msh16[3];
};
#define WAIT_BUCKETS 4096

struct conn {
    struct mllp_server *srv;
    struct conn *next; /* server's list */
    int w;             /* its writer: every message of a connection goes to one */
    pthread_t th;
    int fd, efd;
    char peer[96];
    char host[64];        /* the peer's numeric address: connections per address */
    struct tls_conn *tls; /* NULL on a plain listener */
    /* the client certificate's SHA-256 (hex), "" when none was presented
     * (always "" on a plain listener): checked per message against the
     * feed's pin (ingest.h) */
    char cert[65];
    pthread_mutex_t mu;
    struct item *head, *tail; /* FIFO of items awaiting their ACK */
    int pending;
    atomic_bool finished;
};

/* A writer thread: its queue (under the server's qmu), its store handle,
 * its group commit.  Several (--mllp-writers) let PostgreSQL's writers
 * overlap; a connection's messages all go to one, in order. */
struct writer {
    struct mllp_server *srv;
    pthread_t th;
    pthread_cond_t cv; /* under qmu: items queued, room in the backlog, or stop */
    struct item *qhead, *qtail;
    size_t qlen;
    struct store *store; /* writer 0's is the server's srv->store */
};

struct mllp_server {
    struct mllp_server_config cfg;
    char *host, *store_url;
    int lfd, port;
    pthread_t acceptor;
    atomic_bool stopping; /* acceptor and connections: stop reading */
    bool writer_stop;     /* under qmu: writers exit when their queues are empty */
    pthread_mutex_t qmu;
    struct writer w[MLLP_WRITERS_MAX];
    int nw;              /* writers */
    unsigned next_w;     /* the next connection's writer (acceptor only) */
    pthread_mutex_t cmu; /* conns list */
    struct conn *conns;
    int nconns;
    struct store *store;      /* the writer's */
    struct store *ckpt_store; /* the refresher's */
    pthread_t checkpointer;   /* the refresher (the store checkpoints by itself) */
    pthread_mutex_t kmu;
    pthread_cond_t kcv;
    bool ckpt_stop;
    atomic_uint_fast64_t n_conns, n_msgs, n_batches, n_failed, n_idle, n_applied;
    /* the hl7v2 feeds whose messages can be applied (enabled, agreement in
     * force), by sending facility, for mapping and preparing on the
     * connection threads; refreshed every second by the refresher (the
     * writer checks the feed again, so a stale entry only costs work) */
    pthread_rwlock_t flk;
    struct store_feed *fac;
    int nfac;
    /* TLS (NULL: plain), and the client certificates pinned by hl7v2 feeds,
     * for --mllp-require-client-cert (under flk, refreshed with fac) */
    struct tls_server *tls;
    char (*pins)[65];
    int npins;
    /* enhanced mode: the backlog of accepted, not yet applied messages
     * (inbox ids in arrival order; a ring under qmu), and the connections
     * owed their application ACKs (under wmu) */
    struct blent {
        int64_t id;   /* inbox id */
        uint64_t seq; /* accept journal sequence number, 0: loaded at start */
    } * bl;
    size_t bl_cap, bl_head, bl_len;
    pthread_mutex_t wmu;
    struct waiter *waiters[WAIT_BUCKETS];
    /* the applier: applies the backlog on its own thread and store handle,
     * so that accepting (the writer) never waits for applying */
    pthread_t applier;
    pthread_cond_t acv;        /* under qmu: the backlog grew, or stop */
    bool applier_stop;         /* under qmu */
    struct store *apply_store; /* the applier's */
    /* the accept journal (enhanced mode only): the journaler appends fast
     * items with group commit and answers them; the mover transfers the
     * durable records into the inbox and hands their ids to the applier */
    char *journal_dir;
    struct accept_journal *journal;
    char journal_id[33];
    pthread_t journaler, mover;
    pthread_mutex_t jmu;
    pthread_cond_t jcv; /* under jmu: items queued, room, or stop */
    struct item *jhead, *jtail;
    bool jstop; /* under jmu */
    pthread_mutex_t mmu;
    pthread_cond_t mcv;                       /* under mmu: records made durable, or stop */
    uint64_t durable;                         /* under mmu: the last durable sequence number */
    bool mstop;                               /* under mmu */
    struct store *move_store;                 /* the mover's */
    atomic_uint_fast64_t j_appended, j_moved; /* records since start */
};

static void item_free(struct item *it)
{
    buf_release(&it->app_ack);
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

/* ---- enhanced acknowledgement mode ------------------------------------------------------
 *
 * A message whose MSH-15 or MSH-16 is valued asks for enhanced mode.  When
 * its sending facility is a usable feed (and the connection's address and
 * client certificate are the feed's), it is only appended to the accept
 * journal (journal_main, below): once the batch's fdatasync returned it is
 * durable and answered CA as MSH-15 asks.  The mover moves it into the inbox
 * as pending and its id joins the backlog; the applier applies the
 * backlog's oldest messages (run_apply) exactly as live ones, each in the
 * same transaction as its outcome, so after a crash the messages still
 * pending (and those still in the journal) are exactly those not applied,
 * and they are applied at the next start, in arrival order.  The
 * application ACK goes back on the connection the message came on, if still
 * open, as MSH-16 asks.  A message from a sender that is not a usable feed
 * goes through the writer and is processed at once as in original mode:
 * refused ones get CR (commit reject), others CA then the application ACK.
 * A batch that does not commit, or a journal batch that is not synced,
 * answers its enhanced messages CE. */

static void fifo_push(struct conn *c, struct item *it);

/* Whether an acknowledgement is sent under condition cond (HL7 table 0155):
 * AL always, NE never, ER only for an error or refusal, SU only for
 * success.  An empty condition (the other field being valued) and an
 * unknown value count as AL: the sender is not left waiting. */
static bool ack_wanted(const char *cond, bool success)
{
    if (strcmp(cond, "NE") == 0)
        return false;
    if (strcmp(cond, "ER") == 0)
        return !success;
    if (strcmp(cond, "SU") == 0)
        return success;
    return true;
}

static void backlog_push(struct mllp_server *srv, int64_t id, uint64_t seq) /* under qmu */
{
    if (srv->bl_len == srv->bl_cap) {
        size_t ncap = srv->bl_cap ? srv->bl_cap * 2 : 1024;
        struct blent *nb = xmalloc(sizeof *nb * ncap);
        for (size_t i = 0; i < srv->bl_len; i++)
            nb[i] = srv->bl[(srv->bl_head + i) % srv->bl_cap];
        free(srv->bl);
        srv->bl = nb;
        srv->bl_cap = ncap;
        srv->bl_head = 0;
    }
    srv->bl[(srv->bl_head + srv->bl_len) % srv->bl_cap] = (struct blent){id, seq};
    srv->bl_len++;
}

/* Accepted messages still in the journal (durable, not yet moved). */
static uint64_t journal_backlog(struct mllp_server *srv)
{
    uint64_t a = atomic_load(&srv->j_appended), m = atomic_load(&srv->j_moved);
    return a > m ? a - m : 0;
}

/* The backlog: accepted, not yet applied (in the journal or in the inbox). */
static void backlog_metric(struct mllp_server *srv)
{
    pthread_mutex_lock(&srv->qmu);
    double n = (double)srv->bl_len;
    pthread_mutex_unlock(&srv->qmu);
    metrics_set("weft_feed_backlog", NULL, n + (double)journal_backlog(srv));
}

static void waiter_add(struct mllp_server *srv, int64_t id, struct conn *c, const char *msh16)
{
    struct waiter *w = xcalloc(1, sizeof *w);
    w->id = id;
    w->c = c;
    snprintf(w->msh16, sizeof w->msh16, "%s", msh16);
    pthread_mutex_lock(&srv->wmu);
    struct waiter **b = &srv->waiters[(uint64_t)id % WAIT_BUCKETS];
    w->next = *b;
    *b = w;
    pthread_mutex_unlock(&srv->wmu);
}

/* Forget what c is owed: it is closing (the messages stay in the backlog). */
static void waiters_drop(struct mllp_server *srv, struct conn *c)
{
    pthread_mutex_lock(&srv->wmu);
    for (size_t i = 0; i < WAIT_BUCKETS; i++) {
        for (struct waiter **pp = &srv->waiters[i]; *pp;) {
            struct waiter *w = *pp;
            if (w->c == c) {
                *pp = w->next;
                free(w);
            } else {
                pp = &w->next;
            }
        }
    }
    pthread_mutex_unlock(&srv->wmu);
}

/* After the apply of accepted message id (its accept journal sequence
 * number) committed: its application ACK r
 * (NULL: none) on the connection that sent it, if that is still open and
 * MSH-16 asks for it.  Under wmu, so the connection cannot close meanwhile
 * (it drops its waiters under wmu before it ends). */
static void deliver_app_ack(struct mllp_server *srv, int64_t id, const struct ingest_result *r)
{
    pthread_mutex_lock(&srv->wmu);
    struct waiter **pp = &srv->waiters[(uint64_t)id % WAIT_BUCKETS];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    struct waiter *w = *pp;
    if (w) {
        *pp = w->next;
        if (r && r->ack.len && ack_wanted(w->msh16, strcmp(r->ack_code, "AA") == 0)) {
            struct item *it = xcalloc(1, sizeof *it);
            it->conn = w->c;
            ingest_result_init(&it->res);
            buf_add(&it->res.ack, r->ack.data, r->ack.len);
            it->done = true;
            fifo_push(w->c, it);
            uint64_t one = 1;
            ssize_t wr = write(w->c->efd, &one, sizeof one);
            (void)wr;
        }
        free(w);
    }
    pthread_mutex_unlock(&srv->wmu);
}

/* A commit-level ACK (CA, CE, CR) for it's message. */
static void commit_ack(struct item *it, struct hl7_msg **m, const char *code, const char *text)
{
    buf_reset(&it->res.ack);
    if (!*m)
        *m = hl7_msg_new();
    if (hl7_msg_parse(*m, it->data, it->len, HL7_PARSE_STRICT, NULL) == 0)
        hl7_ack_build(*m, code, text, &it->res.ack);
}

/* The ACKs of a batch's enhanced-mode messages, once it committed (or not). */
static void enhanced_finish(struct mllp_server *srv, struct item *batch, bool committed)
{
    (void)srv;
    struct hl7_msg *m = NULL;
    for (struct item *it = batch; it; it = it->qnext) {
        if (!it->enh)
            continue;
        buf_reset(&it->app_ack);
        if (!committed) { /* nothing of it is stored: the sender sends it again */
            buf_reset(&it->res.ack);
            if (ack_wanted(it->msh15, false))
                commit_ack(it, &m, "CE",
                           "message not stored (the record store failed): send it again");
            continue;
        }
        assert(!it->fast); /* the journaler's (journal_main) */
        /* processed at once, as in original mode */
        if (it->res.outcome && strcmp(it->res.outcome, INBOX_REJECTED) == 0) {
            buf_reset(&it->res.ack);
            if (ack_wanted(it->msh15, false))
                commit_ack(it, &m, "CR", it->res.reason);
            continue;
        }
        if (ack_wanted(it->msh16, strcmp(it->res.ack_code, "AA") == 0))
            buf_add(&it->app_ack, it->res.ack.data, it->res.ack.len);
        buf_reset(&it->res.ack);
        if (ack_wanted(it->msh15, true))
            commit_ack(it, &m, "CA", NULL);
    }
    hl7_msg_free(m);
}

/* Map and prepare accepted message m for the store, off the write
 * transaction (the applier's CPU work): into it's pre fields, as premap()
 * does for a live message.  Nothing is decided here: the transaction checks
 * the feed again and uses the mapping only when it is the feed's. */
static void apply_premap(struct mllp_server *srv, struct hl7_msg *hm,
                         const struct store_inbox_msg *m, struct item *it)
{
    if (hl7_msg_parse(hm, m->body, m->body_len, HL7_PARSE_STRICT, NULL) != 0)
        return;
    struct hl7_span sp;
    char facility[181];
    if (hl7_get(hm, "MSH", 1, 4, 1, 1, 0, &sp) != 0)
        return;
    size_t n = hl7_unescape(hl7_msg_delims(hm), sp, facility, sizeof facility);
    if (n == 0 || n >= sizeof facility)
        return;
    pthread_rwlock_rdlock(&srv->flk);
    for (int i = 0; i < srv->nfac; i++) {
        const struct store_feed *f = &srv->fac[i];
        if (strcmp(f->facility, facility) == 0) {
            snprintf(it->pre_org, sizeof it->pre_org, "%s", f->org);
            snprintf(it->pre_feed, sizeof it->pre_feed, "%s", f->name);
            it->has_pre = true;
            break;
        }
    }
    pthread_rwlock_unlock(&srv->flk);
    if (!it->has_pre)
        return;
    struct hl7_map_opts mo = {.ods = it->pre_org};
    it->pre_rc = hl7_map_message(hm, &mo, &it->pre);
    if (it->pre_rc == 0 && it->pre.kind == HL7_MAP_BUNDLE && it->pre.bundle) {
        struct load_ctx lc = {.org = it->pre_org, .feed = it->pre_feed};
        it->prep = fhir_load_prepare(it->pre.bundle, &lc);
    }
}

static int msgs_lock(struct store *s, const char *const *msg, const size_t *lens, size_t n);

/* Apply up to max of the backlog's oldest messages in one transaction of
 * store s, then send their application ACKs.  They are read, mapped and
 * prepared before the transaction begins, so that it holds the store's
 * write lock only to store them (the writer's accepts commit in between).
 * On a failure nothing leaves the backlog (the transaction is rolled back
 * whole) and it is tried again a little later. */
static void run_apply(struct mllp_server *srv, struct ingest *ig, struct store *s, size_t max)
{
    pthread_mutex_lock(&srv->qmu);
    size_t k = srv->bl_len < max ? srv->bl_len : max;
    int64_t *ids = xmalloc(sizeof *ids * (k ? k : 1));
    uint64_t *seqs = xmalloc(sizeof *seqs * (k ? k : 1));
    for (size_t i = 0; i < k; i++) {
        ids[i] = srv->bl[(srv->bl_head + i) % srv->bl_cap].id;
        seqs[i] = srv->bl[(srv->bl_head + i) % srv->bl_cap].seq;
    }
    pthread_mutex_unlock(&srv->qmu);
    struct ingest_result *res = xcalloc(k ? k : 1, sizeof *res);
    bool *did = xcalloc(k ? k : 1, sizeof *did);
    struct store_inbox_msg *ms = xcalloc(k ? k : 1, sizeof *ms);
    bool *have = xcalloc(k ? k : 1, sizeof *have);
    struct item *pre = xcalloc(k ? k : 1, sizeof *pre);
    struct hl7_msg *hm = hl7_msg_new();
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        ingest_result_init(&res[i]);
        int grc = store_inbox_get(s, ids[i], true, &ms[i]);
        if (grc == WEFT_ENOTFOUND)
            continue;
        if (grc != 0) {
            rc = grc;
            break;
        }
        have[i] = true;
        if (strcmp(ms[i].outcome, INBOX_PENDING) == 0 && strcmp(ms[i].kind, "hl7v2") == 0)
            apply_premap(srv, hm, &ms[i], &pre[i]);
    }
    hl7_msg_free(hm);
    struct store_txn txn;
    bool began = false;
    store_race_clear(s);
    if (rc == 0) {
        rc = store_txn_begin(&txn, s); /* waits a bounded time while busy */
        began = rc == 0;
    }
    if (rc == 0) { /* the messages' patients, as the writer's (batch_lock) */
        const char **msg = xcalloc(k ? k : 1, sizeof *msg);
        size_t *lens = xcalloc(k ? k : 1, sizeof *lens);
        for (size_t i = 0; i < k; i++)
            if (have[i]) {
                msg[i] = ms[i].body;
                lens[i] = ms[i].body_len;
            }
        rc = store_txn_check(&txn, msgs_lock(s, msg, lens, k));
        free(msg);
        free(lens);
    }
    for (size_t i = 0; rc == 0 && i < k; i++) {
        if (!have[i])
            continue;
        /* still pending: an operator's replay may have applied it meanwhile */
        struct store_inbox_msg now;
        rc = store_inbox_get(s, ids[i], false, &now);
        if (rc == WEFT_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        bool pending = strcmp(now.outcome, INBOX_PENDING) == 0 && strcmp(now.kind, "hl7v2") == 0;
        store_inbox_msg_clear(&now);
        if (!pending)
            continue;
        struct ingest_premap pm = {.pending_id = ids[i]};
        if (pre[i].has_pre) {
            pm.org = pre[i].pre_org;
            pm.feed = pre[i].pre_feed;
            pm.rc = pre[i].pre_rc;
            pm.mr = &pre[i].pre;
            pm.prep = pre[i].prep;
        }
        rc = ingest_hl7_premapped(ig, ms[i].body, ms[i].body_len, ms[i].peer, ms[i].arrived, &pm,
                                  &res[i]);
        did[i] = rc == 0;
    }
    if (rc == 0)
        rc = ingest_flush_counts(ig);
    /* a failure another writer caused (store_raced) may have been taken for
     * a message's own: not committed as it is; the messages stay pending
     * and are applied again below, as after any failure */
    if (rc == 0 && store_raced(s))
        rc = WEFT_EBUSY; /* the race is the handle's last error */
    if (rc == 0)
        rc = store_txn_commit(&txn);
    if (rc != 0) {
        log_error("mllp", "applying %zu accepted messages failed: %s (%s); they stay pending", k,
                  weft_strerror(rc), store_errmsg(s));
        if (began)
            store_txn_rollback(&txn);
        ingest_discard_counts(ig);
        usleep(200000); /* not a hot loop while the store fails */
    } else {
        pthread_mutex_lock(&srv->qmu);
        srv->bl_head = (srv->bl_head + k) % (srv->bl_cap ? srv->bl_cap : 1);
        srv->bl_len -= k;
        pthread_mutex_unlock(&srv->qmu);
        for (size_t i = 0; i < k; i++)
            if (seqs[i])
                deliver_app_ack(srv, (int64_t)seqs[i], did[i] ? &res[i] : NULL);
        atomic_fetch_add(&srv->n_applied, k);
        backlog_metric(srv);
    }
    for (size_t i = 0; i < k; i++) {
        ingest_result_release(&res[i]);
        fhir_load_prep_free(pre[i].prep); /* before the bundle it points into */
        hl7_map_result_clear(&pre[i].pre);
        store_inbox_msg_clear(&ms[i]);
    }
    free(pre);
    free(have);
    free(ms);
    free(res);
    free(did);
    free(ids);
    free(seqs);
}

/* At start: the messages accepted before a stop or crash and not applied,
 * in arrival order. */
static int backlog_load(struct mllp_server *srv)
{
    struct store_inbox_filter f = {.outcome = INBOX_PENDING, .limit = 10000};
    for (;;) {
        struct store_inbox_msg *ms = NULL;
        int n = 0;
        int rc = store_inbox_list(srv->store, &f, &ms, &n);
        if (rc != 0)
            return rc;
        for (int i = 0; i < n; i++)
            if (strcmp(ms[i].kind, "hl7v2") == 0)
                backlog_push(srv, ms[i].id, 0);
        if (n)
            f.after_id = ms[n - 1].id;
        store_inbox_msgs_free(ms, n);
        if (n < f.limit)
            break;
    }
    if (srv->bl_len)
        log_info("mllp",
                 "enhanced-mode backlog: %zu messages accepted before the last stop are applied "
                 "now, in arrival order",
                 srv->bl_len);
    backlog_metric(srv);
    return 0;
}

/*
 * What a batch is about, as store_lock_keys keys: every identifier of every
 * message's patient (PID-3 and MRG-1 repetitions: ID and assigning
 * authority - the NHS number's authority is NHS, so two organisations'
 * messages for one NHS number meet on it) and its visit (PV1-19, with the
 * sending facility).  Taken in one order by every writer before the
 * batch's work, they keep two writers of the same patient from deadlocking
 * on its rows (identity record, person, Patient) in different orders or
 * racing to make the same person or version: the second waits for the
 * first's commit.  Read from the raw text (the writer's only cheap view of
 * every message, mapped or not); a message that does not parse has no keys.
 * The FHIR API locks a Bundle's NHS numbers with the same key
 * (store_lock_key: the number and "NHS", fhir/api_bundle.c).
 */
static int key_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Field n (0: the segment name) of segment seg[0..len), by separator fs. */
static bool seg_field(const char *seg, size_t len, char fs, int n, const char **f, size_t *flen)
{
    size_t i = 0;
    for (int k = 0; k < n; k++) {
        while (i < len && seg[i] != fs)
            i++;
        if (i >= len)
            return false;
        i++;
    }
    size_t j = i;
    while (j < len && seg[j] != fs)
        j++;
    *f = seg + i;
    *flen = j - i;
    return true;
}

/* Keys of each repetition of field f[0..n): component 1 with component
 * auth (or with other when auth is 0). */
static void rep_keys(const char *f, size_t n, char cs, char rs, int auth, const char *other,
                     size_t olen, uint32_t **keys, size_t *nk, size_t *cap)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && f[e] != rs)
            e++;
        const char *c1 = f + i, *ca = other;
        size_t c1n = 0, can = olen;
        while (i + c1n < e && f[i + c1n] != cs)
            c1n++;
        if (auth > 0) {
            size_t p = i;
            int comp = 1;
            while (p < e && comp < auth) {
                if (f[p] == cs)
                    comp++;
                p++;
            }
            size_t q = p;
            while (q < e && f[q] != cs)
                q++;
            ca = comp == auth ? f + p : "";
            can = comp == auth ? q - p : 0;
        }
        if (c1n) {
            if (*nk == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *keys = xrealloc(*keys, sizeof **keys * *cap);
            }
            (*keys)[(*nk)++] = store_lock_key(c1, c1n, ca, can);
        }
        i = e + 1;
    }
}

/* Lock the keys of messages msg[0..n) (lens[i] bytes each). */
static int msgs_lock(struct store *s, const char *const *msg, const size_t *lens, size_t n)
{
    uint32_t *keys = NULL;
    size_t nk = 0, cap = 0;
    for (size_t m = 0; m < n; m++) {
        const char *d = msg[m];
        size_t len = lens[m];
        if (!d)
            continue;
        if (len < 8 || memcmp(d, "MSH", 3) != 0)
            continue;
        char fs = d[3], cs = d[4], rs = d[5];
        const char *fac = "";
        size_t facn = 0;
        for (size_t i = 0; i < len;) {
            size_t e = i;
            while (e < len && d[e] != '\r' && d[e] != '\n')
                e++;
            const char *seg = d + i;
            size_t sl = e - i;
            const char *f;
            size_t fl;
            if (sl > 4 && memcmp(seg, "MSH", 3) == 0 && seg_field(seg, sl, fs, 3, &f, &fl)) {
                fac = f; /* MSH-4 (the separator is MSH-1: one field fewer) */
                facn = fl;
                const char *c = memchr(f, cs, fl);
                if (c)
                    facn = (size_t)(c - f);
            } else if (sl > 4 && memcmp(seg, "PID", 3) == 0 && seg_field(seg, sl, fs, 3, &f, &fl)) {
                rep_keys(f, fl, cs, rs, 4, NULL, 0, &keys, &nk, &cap);
            } else if (sl > 4 && memcmp(seg, "MRG", 3) == 0 && seg_field(seg, sl, fs, 1, &f, &fl)) {
                rep_keys(f, fl, cs, rs, 4, NULL, 0, &keys, &nk, &cap);
            } else if (sl > 4 && memcmp(seg, "PV1", 3) == 0 &&
                       seg_field(seg, sl, fs, 19, &f, &fl)) {
                rep_keys(f, fl, cs, rs, 0, fac, facn, &keys, &nk, &cap);
            }
            i = e + 1;
        }
    }
    int rc = 0;
    if (nk) {
        qsort(keys, nk, sizeof *keys, key_cmp);
        size_t u = 1;
        for (size_t i = 1; i < nk; i++)
            if (keys[i] != keys[u - 1])
                keys[u++] = keys[i];
        rc = store_lock_keys(s, keys, (int)u);
    }
    free(keys);
    return rc;
}

static int batch_lock(struct store *s, struct item *batch, size_t n)
{
    const char **msg = xcalloc(n ? n : 1, sizeof *msg);
    size_t *lens = xcalloc(n ? n : 1, sizeof *lens);
    size_t k = 0;
    for (struct item *it = batch; it && k < n; it = it->qnext, k++) {
        msg[k] = it->data;
        lens[k] = it->len;
    }
    int rc = msgs_lock(s, msg, lens, k);
    free(msg);
    free(lens);
    return rc;
}

/* One try at storing a batch in one transaction: 0 once committed. */
static int batch_try(struct mllp_server *srv, struct ingest *ig, struct store *s,
                     struct item **batch, size_t n, bool last)
{
    struct store_txn txn;
    struct ingest_hl7_item *items = xcalloc(n ? n : 1, sizeof *items);
    size_t k = 0;
    for (struct item *it = *batch; it && k < n; it = it->qnext, k++) {
        /* the connection's client certificate goes with every message: a
         * feed that pins one refuses messages without it (ingest.h) */
        items[k] = (struct ingest_hl7_item){.data = it->data,
                                            .len = it->len,
                                            .peer = it->conn->peer,
                                            .arrived = it->arrived,
                                            .pm = {.cert_sha256 = it->conn->cert},
                                            .r = &it->res};
        if (it->has_pre) {
            items[k].pm.org = it->pre_org;
            items[k].pm.feed = it->pre_feed;
            items[k].pm.rc = it->pre_rc;
            items[k].pm.mr = &it->pre;
            items[k].pm.prep = it->prep;
        }
    }
    int rc = store_txn_begin(&txn, s); /* waits a bounded time while busy */
    if (rc == 0)
        rc = store_txn_check(&txn, batch_lock(s, *batch, n));
    /* the batch's inbox rows and claims in one statement each, then each
     * message in its savepoint (ingest.h) */
    if (rc == 0)
        rc = ingest_hl7_batch(ig, items, k);
    free(items);
    if (rc == 0)
        rc = ingest_flush_counts(ig);
    /* a failure another writer caused, even one taken for a message's own
     * (store_raced): the whole batch again, below, not committed as it is
     * (the second try commits what it did: a message refused then is
     * answered AE and kept in the inbox, as any refusal) */
    if (rc == 0 && !last && (store_raced(s) || FAILPOINT("mllp-batch-raced")))
        rc = WEFT_EBUSY;                                /* the race is the handle's last error */
    if (rc == 0 && FAILPOINT("mllp-ack-before-commit")) /* test build: the broken order */
        complete_batch(*batch, n), *batch = NULL;
    if (rc == 0)
        rc = store_txn_commit(&txn);
    if (rc != 0) {
        store_txn_rollback(&txn);
        ingest_discard_counts(ig);
    }
    (void)srv;
    return rc;
}

/* A batch in one transaction; a batch that met another writer (PostgreSQL:
 * a deadlock, a unique violation, a version replaced meanwhile:
 * store_raced) is rolled back and done again once, whole, from the
 * messages as received (a prepared bundle is used once: the retry maps and
 * prepares them on this thread), so no message is answered AE, or the
 * batch refused, for a race the next try would not meet.  Nothing is
 * answered before the commit returned. */
static void run_batch(struct mllp_server *srv, struct ingest *ig, struct store *s,
                      struct item *batch, size_t n)
{
    store_race_clear(s);
    int rc = batch_try(srv, ig, s, &batch, n, false);
    if (rc != 0 && batch && (store_raced(s) || FAILPOINT("mllp-batch-raced"))) {
        /* the error's kind, not the database's message: a unique
         * violation's detail names the key's value (a patient identifier) */
        log_info("mllp", "batch of %zu messages met another writer (%s); trying it again", n,
                 weft_strerror(rc));
        metrics_add("weft_store_retries_total", "writer=\"mllp\"", 1);
        for (struct item *it = batch; it; it = it->qnext) {
            fhir_load_prep_free(it->prep);
            it->prep = NULL;
            hl7_map_result_clear(&it->pre);
            it->has_pre = false;
            ingest_result_release(&it->res);
            ingest_result_init(&it->res);
        }
        store_race_clear(s);
        rc = batch_try(srv, ig, s, &batch, n, true);
    }
    if (rc != 0) {
        log_error("mllp", "batch of %zu messages not stored: %s (%s)", n, weft_strerror(rc),
                  store_errmsg(s));
        for (struct item *it = batch; it; it = it->qnext)
            ingest_result_commit_failed(&it->res, it->data, it->len, "the record store failed");
        atomic_fetch_add(&srv->n_failed, 1);
    }
    atomic_fetch_add(&srv->n_batches, 1);
    atomic_fetch_add(&srv->n_msgs, n);
    enhanced_finish(srv, batch, rc == 0);
    complete_batch(batch, n);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct mllp_server *srv = w->srv;
    struct ingest *ig = ingest_new(w->store);
    size_t max = (size_t)srv->cfg.batch_max;
    size_t full = (size_t)srv->cfg.backlog_max;
    for (;;) {
        pthread_mutex_lock(&srv->qmu);
        /* a full backlog stops new messages (their connections stop being
         * read at their window) until the applier has made room */
        while (!(w->qhead && srv->bl_len < full) && !(srv->writer_stop && !w->qhead))
            pthread_cond_wait(&w->cv, &srv->qmu);
        if (!w->qhead && srv->writer_stop) {
            pthread_mutex_unlock(&srv->qmu);
            break; /* a backlog left is kept (pending) for the next start */
        }
        struct item *batch = NULL;
        size_t n = 0;
        {
            struct item *last = batch = w->qhead;
            n = 1;
            while (last->qnext && n < max) {
                last = last->qnext;
                n++;
            }
            w->qhead = last->qnext;
            if (!w->qhead)
                w->qtail = NULL;
            w->qlen -= n;
            last->qnext = NULL;
        }
        pthread_mutex_unlock(&srv->qmu);
        run_batch(srv, ig, w->store, batch, n);
    }
    ingest_free(ig);
    return NULL;
}

/* The applier: the backlog, oldest first, in transactions of up to 256
 * messages, on its own store handle, while the writer goes on accepting. */
static void *applier_main(void *arg)
{
    struct mllp_server *srv = arg;
    struct ingest *ig = ingest_new(srv->apply_store);
    for (;;) {
        pthread_mutex_lock(&srv->qmu);
        while (!srv->bl_len && !srv->applier_stop)
            pthread_cond_wait(&srv->acv, &srv->qmu);
        bool stop = srv->applier_stop;
        pthread_mutex_unlock(&srv->qmu);
        if (stop)
            break; /* what is left stays pending for the next start */
        run_apply(srv, ig, srv->apply_store, 256);
        pthread_mutex_lock(&srv->qmu);
        for (int i = 0; i < srv->nw; i++) /* room in the backlog for the writers */
            pthread_cond_signal(&srv->w[i].cv);
        pthread_mutex_unlock(&srv->qmu);
    }
    ingest_free(ig);
    return NULL;
}

static void stop_applier(struct mllp_server *srv)
{
    pthread_mutex_lock(&srv->qmu);
    srv->applier_stop = true;
    pthread_cond_signal(&srv->acv);
    pthread_mutex_unlock(&srv->qmu);
    pthread_join(srv->applier, NULL);
}

/* ---- the accept journal -----------------------------------------------------------------
 *
 * An enhanced-mode message from a usable feed (a "fast" item) goes to the
 * journaler instead of the writer: it takes every fast item waiting (up to
 * JOURNAL_BATCH), from every connection, appends them to the journal with
 * one fdatasync (accept_journal_append) and only then releases their CAs
 * (built on the connection threads).  A batch that fails is cut back out of
 * the journal and answered CE.  The mover, on its own store handle, moves
 * the durable records into the inbox (pending) in transactions of up to
 * MOVE_BATCH, keyed by journal id and sequence number, and hands their ids
 * to the applier, which applies them as before.  Records moved are pruned
 * with their segment.  A crash loses nothing acknowledged: at start the
 * records not yet moved are moved (journal_start) before anything else. */

#define JOURNAL_BATCH 4096
#define MOVE_BATCH 8192

static void jenqueue(struct mllp_server *srv, struct item *it)
{
    pthread_mutex_lock(&srv->jmu);
    if (srv->jtail)
        srv->jtail->qnext = it;
    else
        srv->jhead = it;
    srv->jtail = it;
    pthread_cond_signal(&srv->jcv);
    pthread_mutex_unlock(&srv->jmu);
}

/* Whether the backlog (journal and inbox) is at --mllp-backlog-max. */
static bool backlog_full(struct mllp_server *srv)
{
    pthread_mutex_lock(&srv->qmu);
    uint64_t n = srv->bl_len;
    pthread_mutex_unlock(&srv->qmu);
    return n + journal_backlog(srv) >= (uint64_t)srv->cfg.backlog_max;
}

static void *journal_main(void *arg)
{
    struct mllp_server *srv = arg;
    struct accept_rec *recs = xcalloc(JOURNAL_BATCH, sizeof *recs);
    for (;;) {
        pthread_mutex_lock(&srv->jmu);
        for (;;) {
            if (!srv->jhead && srv->jstop)
                break;
            if (srv->jhead) {
                /* a full backlog stops accepting (connections stop being
                 * read at their window) until moving and applying made room */
                pthread_mutex_unlock(&srv->jmu);
                bool full = backlog_full(srv);
                pthread_mutex_lock(&srv->jmu);
                if (!full)
                    break;
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 20000000;
                if (until.tv_nsec >= 1000000000) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&srv->jcv, &srv->jmu, &until);
                continue;
            }
            pthread_cond_wait(&srv->jcv, &srv->jmu);
        }
        if (!srv->jhead) {
            pthread_mutex_unlock(&srv->jmu);
            break;
        }
        struct item *batch = srv->jhead, *last = batch;
        size_t n = 1;
        while (last->qnext && n < JOURNAL_BATCH) {
            last = last->qnext;
            n++;
        }
        srv->jhead = last->qnext;
        if (!srv->jhead)
            srv->jtail = NULL;
        last->qnext = NULL;
        pthread_mutex_unlock(&srv->jmu);
        size_t i = 0;
        for (struct item *it = batch; it; it = it->qnext)
            recs[i++] = (struct accept_rec){.feed_id = it->fast_feed,
                                            .arrived = it->arrived,
                                            .peer = it->conn->peer,
                                            .facility = it->facility,
                                            .control = it->control,
                                            .mtype = it->mtype,
                                            .body = it->data,
                                            .body_len = it->len};
        int rc = accept_journal_append(srv->journal, recs, n);
        if (rc == 0) {
            /* the waiters first: the message may be applied as soon as the
             * mover sees it, and its application ACK needs its waiter */
            i = 0;
            for (struct item *it = batch; it; it = it->qnext, i++)
                if (strcmp(it->msh16, "NE") != 0)
                    waiter_add(srv, (int64_t)recs[i].seq, it->conn, it->msh16);
            atomic_fetch_add(&srv->j_appended, n);
            pthread_mutex_lock(&srv->mmu);
            srv->durable = recs[n - 1].seq;
            pthread_cond_signal(&srv->mcv);
            pthread_mutex_unlock(&srv->mmu);
            backlog_metric(srv);
        } else {
            log_error("mllp", "accept journal: batch of %zu messages not stored: %s", n,
                      strerror(errno));
            struct hl7_msg *m = NULL;
            for (struct item *it = batch; it; it = it->qnext) {
                buf_reset(&it->res.ack);
                if (ack_wanted(it->msh15, false))
                    commit_ack(it, &m, "CE",
                               "message not stored (the accept journal failed): send it again");
            }
            hl7_msg_free(m);
            atomic_fetch_add(&srv->n_failed, 1);
        }
        atomic_fetch_add(&srv->n_batches, 1);
        atomic_fetch_add(&srv->n_msgs, n);
        complete_batch(batch, n);
    }
    free(recs);
    return NULL;
}

/* Move what the journal holds after mark *moved (up to max_seq) into the
 * inbox of s, in transactions of MOVE_BATCH, handing each record to the
 * applier (its backlog) after its commit.  *c is reopened after a failure. */
static int move_some(struct mllp_server *srv, struct store *s, struct accept_cursor **c,
                     uint64_t max_seq, uint64_t *moved, int64_t *ids, uint64_t *seqs)
{
    size_t k = 0;
    int rc = accept_journal_move(s, *c, srv->journal_id, max_seq, MOVE_BATCH, ids, seqs, &k);
    if (rc != 0) {
        log_error("mllp", "moving the accept journal into the inbox failed: %s (%s); tried again",
                  weft_strerror(rc), store_errmsg(s));
        accept_cursor_close(*c);
        *c = NULL;
        accept_cursor_open(c, srv->journal_dir, *moved);
        return rc;
    }
    if (k == 0)
        return 0;
    pthread_mutex_lock(&srv->qmu);
    for (size_t i = 0; i < k; i++)
        backlog_push(srv, ids[i], seqs[i]);
    pthread_cond_signal(&srv->acv);
    pthread_mutex_unlock(&srv->qmu);
    *moved = seqs[k - 1];
    atomic_fetch_add(&srv->j_moved, k);
    accept_journal_prune(srv->journal_dir, *moved);
    return (int)k;
}

static void *mover_main(void *arg)
{
    struct mllp_server *srv = arg;
    int64_t *ids = xmalloc(sizeof *ids * MOVE_BATCH);
    uint64_t *seqs = xmalloc(sizeof *seqs * MOVE_BATCH);
    uint64_t moved = accept_journal_next_seq(srv->journal) - 1; /* journal_start moved all */
    struct accept_cursor *c = NULL;
    accept_cursor_open(&c, srv->journal_dir, moved);
    for (;;) {
        pthread_mutex_lock(&srv->mmu);
        while (srv->durable <= moved && !srv->mstop)
            pthread_cond_wait(&srv->mcv, &srv->mmu);
        uint64_t durable = srv->durable;
        bool stop = srv->mstop;
        pthread_mutex_unlock(&srv->mmu);
        if (durable <= moved && stop)
            break;
        if (FAILPOINT("accept-journal-slow-mover") && !stop) /* test build */
            usleep(100000);
        int k = c ? move_some(srv, srv->move_store, &c, durable, &moved, ids, seqs) : -1;
        if (k < 0) {
            if (!c)
                accept_cursor_open(&c, srv->journal_dir, moved);
            usleep(200000); /* not a hot loop while the store fails */
        } else if (k == 0 && durable > moved) {
            /* not expected: durable is the last number a synced batch
             * wrote, and the numbers of a failed batch are never written */
            log_warn("mllp", "accept journal %s: no record found up to %llu after %llu",
                     srv->journal_dir, (unsigned long long)durable, (unsigned long long)moved);
            moved = durable;
        }
        pthread_mutex_lock(&srv->jmu);
        pthread_cond_signal(&srv->jcv); /* room in the backlog */
        pthread_mutex_unlock(&srv->jmu);
    }
    accept_cursor_close(c);
    free(ids);
    free(seqs);
    return NULL;
}

/* At start (enhanced mode): open the journal (its torn tail dropped) and
 * move every record a previous run left in it, before the backlog is read
 * from the inbox. */
static int journal_start(struct mllp_server *srv, char **errmsg)
{
    uint64_t min_next = 1;
    char id[33];
    if (accept_journal_read_id(srv->journal_dir, id) == 0) {
        int64_t moved = 0;
        if (store_inbox_journal_moved(srv->store, id, &moved) != 0) {
            *errmsg = xstrdup("cannot read the accept journal's mark from the inbox");
            return WEFT_EDB;
        }
        min_next = (uint64_t)moved + 1;
    }
    int64_t dropped = 0;
    int rc = accept_journal_open(&srv->journal, srv->journal_dir, min_next, &dropped, errmsg);
    if (rc != 0)
        return rc;
    snprintf(srv->journal_id, sizeof srv->journal_id, "%s", accept_journal_id(srv->journal));
    if (dropped)
        log_warn("mllp",
                 "accept journal %s: a torn last record (%lld bytes, written when the last run "
                 "stopped mid-write, never acknowledged) was dropped",
                 srv->journal_dir, (long long)dropped);
    int64_t moved = 0;
    rc = accept_journal_move_all(srv->store, srv->journal_dir, &moved);
    if (rc != 0) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "cannot move the accept journal %s into the inbox: %s (%s)", srv->journal_dir,
                 weft_strerror(rc), store_errmsg(srv->store));
        *errmsg = buf_detach(&b, NULL);
        return rc;
    }
    accept_journal_prune(srv->journal_dir, accept_journal_next_seq(srv->journal) - 1);
    log_info("mllp",
             "accept journal %s: %lld messages accepted before the last stop moved into "
             "the inbox",
             srv->journal_dir, (long long)moved);
    srv->durable = accept_journal_next_seq(srv->journal) - 1;
    return 0;
}

static void stop_journal(struct mllp_server *srv)
{
    pthread_mutex_lock(&srv->jmu);
    srv->jstop = true;
    pthread_cond_broadcast(&srv->jcv);
    pthread_mutex_unlock(&srv->jmu);
    pthread_join(srv->journaler, NULL);
    pthread_mutex_lock(&srv->mmu);
    srv->mstop = true; /* it moves what is durable first */
    pthread_cond_broadcast(&srv->mcv);
    pthread_mutex_unlock(&srv->mmu);
    pthread_join(srv->mover, NULL);
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
    char(*pins)[65] = xcalloc((size_t)n + 1, sizeof *pins);
    int np = 0;
    for (int i = 0; i < n; i++)
        if (fs[i].client_cert_sha256 && strcmp(fs[i].kind, "hl7v2") == 0)
            snprintf(pins[np++], sizeof pins[0], "%s", fs[i].client_cert_sha256);
    int k = 0; /* the usable feeds are moved to the front of fs */
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
    char(*op)[65] = srv->pins;
    srv->pins = pins;
    srv->npins = np;
    pthread_rwlock_unlock(&srv->flk);
    fac_free(of, on);
    free(op);
}

/* MSH field (whole, unescaped) or one of its components, "" when absent. */
static void msh_comp(const struct hl7_msg *m, size_t field, size_t comp, char *out, size_t cap)
{
    struct hl7_span sp;
    out[0] = 0;
    if (hl7_get(m, "MSH", 1, field, 1, comp, 0, &sp) != 0)
        return;
    size_t n = hl7_unescape(hl7_msg_delims(m), sp, out, cap);
    if (n >= cap)
        out[cap - 1] = 0;
}

static void msh_value(const struct hl7_msg *m, size_t field, char *out, size_t cap)
{
    msh_comp(m, field, 0, out, cap);
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
    /* enhanced acknowledgement mode: MSH-15 or MSH-16 valued */
    char v15[8], v16[8]; /* blanks count as empty (some senders pad fields) */
    msh_value(m, 15, v15, sizeof v15);
    msh_value(m, 16, v16, sizeof v16);
    snprintf(it->msh15, sizeof it->msh15, "%s", v15 + strspn(v15, " "));
    snprintf(it->msh16, sizeof it->msh16, "%s", v16 + strspn(v16, " "));
    it->enh = !srv->cfg.original_ack_only && (it->msh15[0] || it->msh16[0]);
    bool sender_ok = false;
    pthread_rwlock_rdlock(&srv->flk);
    for (int i = 0; i < srv->nfac; i++) {
        const struct store_feed *f = &srv->fac[i];
        if (strcmp(f->facility, facility) == 0) {
            snprintf(it->pre_org, sizeof it->pre_org, "%s", f->org);
            snprintf(it->pre_feed, sizeof it->pre_feed, "%s", f->name);
            it->has_pre = true;
            it->fast_feed = f->id;
            /* the checks ingest makes of a live connection, made here for
             * a message that will only be accepted now (ingest.c) */
            sender_ok =
                (!f->from_address || strcmp(f->from_address, it->conn->host) == 0) &&
                (!f->client_cert_sha256 || strcmp(f->client_cert_sha256, it->conn->cert) == 0);
            break;
        }
    }
    pthread_rwlock_unlock(&srv->flk);
    if (it->enh && it->has_pre && sender_ok) {
        /* accepted only: mapped and applied later from the backlog; the
         * CA is built here (MSH-15 AL or SU), off the writer */
        it->fast = true;
        snprintf(it->facility, sizeof it->facility, "%s", facility);
        msh_value(m, 10, it->control, sizeof it->control);
        char t1[16], t2[16];
        msh_comp(m, 9, 1, t1, sizeof t1);
        msh_comp(m, 9, 2, t2, sizeof t2);
        snprintf(it->mtype, sizeof it->mtype, "%s%s%s", t1, t2[0] ? "^" : "", t2);
        if (ack_wanted(it->msh15, true))
            hl7_ack_build(m, "CA", NULL, &it->res.ack);
        return;
    }
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
    struct writer *w = &srv->w[it->conn->w];
    pthread_mutex_lock(&srv->qmu);
    if (w->qtail)
        w->qtail->qnext = it;
    else
        w->qhead = it;
    w->qtail = it;
    w->qlen++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&srv->qmu);
}

/* Stop the writers (each first empties its queue) and wait for them. */
static void stop_writers(struct mllp_server *srv, int started)
{
    pthread_mutex_lock(&srv->qmu);
    srv->writer_stop = true;
    for (int i = 0; i < srv->nw; i++)
        pthread_cond_signal(&srv->w[i].cv);
    pthread_mutex_unlock(&srv->qmu);
    for (int i = 0; i < started; i++)
        pthread_join(srv->w[i].th, NULL);
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

/* How long a TLS peer may take to read its ACKs before it is given up. */
#define TLS_WRITE_TIMEOUT_MS 30000

static bool write_all(struct conn *c, const char *p, size_t n)
{
    if (c->tls)
        return tls_conn_write_all(c->tls, p, n, TLS_WRITE_TIMEOUT_MS);
    int fd = c->fd;
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
        if (it->res.ack.len) /* enhanced mode: MSH-15 may ask for none */
            mllp_encode(it->res.ack.data, it->res.ack.len, out);
        if (it->app_ack.len)
            mllp_encode(it->app_ack.data, it->app_ack.len, out);
        item_free(it);
    }
    if (peer_ok && out->len && !write_all(c, out->data, out->len))
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

/* Read from the peer: bytes, 0 at its end, -1 with errno (EAGAIN: nothing
 * yet).  A TLS error counts as the peer's end (logged). */
static ssize_t conn_recv(struct conn *c, char *buf, size_t cap)
{
    if (!c->tls)
        return recv(c->fd, buf, cap, 0);
    ssize_t n = tls_conn_read(c->tls, buf, cap);
    if (n == TLS_WOULD_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (n < 0) {
        log_warn("mllp", "tls error peer=%s: connection ended", c->peer);
        return 0;
    }
    return n;
}

/*
 * The TLS handshake of a new connection on its own thread (a slow or silent
 * client holds up nobody else), within the first-frame timeout.  With
 * --mllp-require-client-cert the client must present a certificate
 * (OpenSSL ends the handshake otherwise) that some hl7v2 feed pins.  false:
 * the connection is refused, with a WARN line saying why.  Which feed a
 * certificate may send as is checked per message (ingest.h).
 */
static bool conn_tls_start(struct conn *c)
{
    struct mllp_server *srv = c->srv;
    char why[256];
    int ms = srv->cfg.first_frame_timeout > 0 ? srv->cfg.first_frame_timeout * 1000 : 30000;
    if (tls_conn_accept(srv->tls, c->fd, ms, &srv->stopping, &c->tls, why, sizeof why) != 0) {
        log_warn("mllp", "tls handshake refused peer=%s: %s", c->peer, why);
        return false;
    }
    snprintf(c->cert, sizeof c->cert, "%s", tls_conn_peer_sha256(c->tls));
    if (srv->cfg.tls_require_client_cert) {
        bool pinned = false;
        pthread_rwlock_rdlock(&srv->flk);
        for (int i = 0; i < srv->npins && !pinned; i++)
            pinned = c->cert[0] && strcmp(srv->pins[i], c->cert) == 0;
        pthread_rwlock_unlock(&srv->flk);
        if (!pinned) {
            log_warn("mllp",
                     "tls connection refused peer=%s client_cert=sha256:%s: no hl7v2 feed pins "
                     "this certificate (weft feed add --client-cert-sha256)",
                     c->peer, c->cert[0] ? c->cert : "none");
            return false;
        }
    }
    log_info("mllp", "tls established peer=%s version=%s cipher=%s client_cert=%s%s", c->peer,
             tls_conn_version(c->tls), tls_conn_cipher(c->tls), c->cert[0] ? "sha256:" : "",
             c->cert[0] ? c->cert : "none");
    return true;
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
    if (srv->tls && !conn_tls_start(c)) {
        reading = false;
        why = "tls";
    }
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
        /* bytes TLS has already decrypted are not seen by poll */
        bool buffered = nfds == 2 && c->tls && tls_conn_pending(c->tls);
        int pr = poll(pf, (nfds_t)nfds, buffered ? 0 : 250);
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
        if (nfds == 2 && (buffered || (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
            ssize_t n = conn_recv(c, rbuf, 1 << 16);
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
                if (it->fast)
                    jenqueue(srv, it); /* accepted into the journal */
                else
                    enqueue(srv, it);
            }
        }
    }
    waiters_drop(srv, c); /* then nothing more is pushed to it */
    flush_acks(c, false, &out);
    log_info("mllp", "connection closed peer=%s messages=%llu reason=%s", c->peer,
             (unsigned long long)frames, why);
    mllp_decoder_release(&d);
    hl7_msg_free(msg);
    buf_release(&out);
    free(rbuf);
    tls_conn_free(c->tls);
    c->tls = NULL;
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
        c->w = (int)(srv->next_w++ % (unsigned)srv->nw);
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
    srv->nw = cfg->writers > 0 ? cfg->writers : 1;
    if (srv->nw > MLLP_WRITERS_MAX)
        srv->nw = MLLP_WRITERS_MAX;
    for (int i = 0; i < srv->nw; i++) {
        srv->w[i].srv = srv;
        pthread_cond_init(&srv->w[i].cv, NULL);
    }
    pthread_mutex_init(&srv->cmu, NULL);
    pthread_mutex_init(&srv->kmu, NULL);
    pthread_cond_init(&srv->kcv, NULL);
    pthread_rwlock_init(&srv->flk, NULL);
    pthread_mutex_init(&srv->wmu, NULL);
    pthread_cond_init(&srv->acv, NULL);
    pthread_mutex_init(&srv->jmu, NULL);
    pthread_cond_init(&srv->jcv, NULL);
    pthread_mutex_init(&srv->mmu, NULL);
    pthread_cond_init(&srv->mcv, NULL);
    bool journaled = !cfg->original_ack_only;
    srv->journal_dir = journaled && cfg->journal_dir ? xstrdup(cfg->journal_dir) : NULL;
    srv->cfg.journal_dir = srv->journal_dir;
    if (srv->cfg.backlog_max <= 0)
        srv->cfg.backlog_max = MLLP_BACKLOG_MAX_DEFAULT;
    int rc = 0;
    if (cfg->tls_cert_file && cfg->tls_key_file) {
        struct tls_server_config tc = {.cert_file = cfg->tls_cert_file,
                                       .key_file = cfg->tls_key_file,
                                       .require_client_cert = cfg->tls_require_client_cert};
        rc = tls_server_new(&srv->tls, &tc, errmsg);
    }
    srv->cfg.tls_cert_file = srv->cfg.tls_key_file = NULL; /* the caller's strings */
    if (rc == 0)
        rc = store_open(&srv->store, srv->store_url, false, errmsg);
    if (rc == 0)
        rc = store_open(&srv->ckpt_store, srv->store_url, false, errmsg);
    if (rc == 0)
        rc = store_open(&srv->apply_store, srv->store_url, false, errmsg);
    if (rc == 0 && journaled && !srv->journal_dir) {
        *errmsg = xstrdup("enhanced mode needs an accept journal directory (--mllp-journal DIR)");
        rc = WEFT_EINVAL;
    }
    if (rc == 0 && journaled)
        rc = store_open(&srv->move_store, srv->store_url, false, errmsg);
    if (rc == 0)
        rc = store_writer(srv->store); /* the store checkpoints off this handle's path */
    srv->w[0].store = srv->store;
    for (int i = 1; rc == 0 && i < srv->nw; i++)
        if ((rc = store_open(&srv->w[i].store, srv->store_url, false, errmsg)) == 0)
            rc = store_writer(srv->w[i].store);
    if (rc == 0)
        fac_refresh(srv);
    if (rc == 0 && journaled)
        rc = journal_start(srv, errmsg);
    if (rc == 0 && (rc = backlog_load(srv)) != 0)
        *errmsg = xstrdup("cannot read the enhanced-mode backlog from the inbox");
    if (rc == 0)
        rc = listen_on(srv->host, cfg->port, &srv->lfd, &srv->port, errmsg);
    bool ckpt_started = false;
    if (rc == 0 && pthread_create(&srv->checkpointer, NULL, checkpointer_main, srv) != 0)
        rc = WEFT_EINTERNAL;
    else if (rc == 0)
        ckpt_started = true;
    bool applier_started = false;
    if (rc == 0 && pthread_create(&srv->applier, NULL, applier_main, srv) != 0)
        rc = WEFT_EINTERNAL;
    else if (rc == 0)
        applier_started = true;
    bool journal_started = false;
    if (rc == 0 && journaled) {
        if (pthread_create(&srv->mover, NULL, mover_main, srv) != 0) {
            rc = WEFT_EINTERNAL;
        } else if (pthread_create(&srv->journaler, NULL, journal_main, srv) != 0) {
            pthread_mutex_lock(&srv->mmu);
            srv->mstop = true;
            pthread_cond_broadcast(&srv->mcv);
            pthread_mutex_unlock(&srv->mmu);
            pthread_join(srv->mover, NULL);
            rc = WEFT_EINTERNAL;
        } else {
            journal_started = true;
        }
    }
    int wstarted = 0;
    while (rc == 0 && wstarted < srv->nw) {
        if (pthread_create(&srv->w[wstarted].th, NULL, writer_main, &srv->w[wstarted]) != 0)
            rc = WEFT_EINTERNAL;
        else
            wstarted++;
    }
    if (rc == 0 && pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0)
        rc = WEFT_EINTERNAL;
    if (rc != 0 && wstarted)
        stop_writers(srv, wstarted);
    if (rc != 0 && journal_started)
        stop_journal(srv);
    if (rc != 0 && applier_started)
        stop_applier(srv);
    if (rc != 0) {
        if (ckpt_started)
            stop_checkpointer(srv);
        if (!*errmsg)
            *errmsg = xstrdup("cannot start the MLLP threads");
        if (srv->lfd >= 0)
            close(srv->lfd);
        store_close(srv->store);
        for (int i = 1; i < srv->nw; i++)
            store_close(srv->w[i].store);
        store_close(srv->ckpt_store);
        store_close(srv->apply_store);
        store_close(srv->move_store);
        accept_journal_close(srv->journal);
        free(srv->journal_dir);
        fac_free(srv->fac, srv->nfac);
        free(srv->pins);
        free(srv->bl);
        pthread_mutex_destroy(&srv->wmu);
        pthread_cond_destroy(&srv->acv);
        tls_server_free(srv->tls);
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
    out->applied = atomic_load(&srv->n_applied);
    pthread_mutex_lock(&srv->qmu);
    out->backlog = srv->bl_len;
    pthread_mutex_unlock(&srv->qmu);
    out->backlog += journal_backlog(srv);
}

void mllp_server_stop(struct mllp_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    pthread_join(srv->acceptor, NULL);
    close(srv->lfd);
    reap(srv, true);            /* connections finish their items first: the writer still runs */
    stop_writers(srv, srv->nw); /* the applier makes room if the backlog is full */
    if (srv->journal)
        stop_journal(srv); /* what is durable is moved into the inbox */
    stop_applier(srv);
    stop_checkpointer(srv);
    struct mllp_server_stats st;
    mllp_server_stats(srv, &st);
    log_info("mllp",
             "stopped connections=%llu messages=%llu batches=%llu failed_batches=%llu "
             "idle_closed=%llu enhanced_applied=%llu backlog_left=%llu",
             (unsigned long long)st.connections, (unsigned long long)st.messages,
             (unsigned long long)st.batches, (unsigned long long)st.failed_batches,
             (unsigned long long)st.idle_closed, (unsigned long long)st.applied,
             (unsigned long long)st.backlog);
    store_close(srv->store);
    for (int i = 1; i < srv->nw; i++)
        store_close(srv->w[i].store);
    store_close(srv->ckpt_store);
    store_close(srv->apply_store);
    store_close(srv->move_store);
    accept_journal_close(srv->journal);
    free(srv->journal_dir);
    pthread_mutex_destroy(&srv->jmu);
    pthread_cond_destroy(&srv->jcv);
    pthread_mutex_destroy(&srv->mmu);
    pthread_cond_destroy(&srv->mcv);
    fac_free(srv->fac, srv->nfac);
    free(srv->pins);
    free(srv->bl);
    pthread_cond_destroy(&srv->acv);
    for (size_t i = 0; i < WAIT_BUCKETS; i++) /* none: every connection dropped its own */
        assert(srv->waiters[i] == NULL);
    pthread_mutex_destroy(&srv->wmu);
    tls_server_free(srv->tls);
    pthread_rwlock_destroy(&srv->flk);
    pthread_mutex_destroy(&srv->kmu);
    pthread_cond_destroy(&srv->kcv);
    pthread_mutex_destroy(&srv->qmu);
    for (int i = 0; i < srv->nw; i++)
        pthread_cond_destroy(&srv->w[i].cv);
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
            if (strcmp(fs[i].kind, "hl7v2") == 0 && !fs[i].disabled && !fs[i].from_address &&
                !fs[i].client_cert_sha256)
                log_warn("mllp",
                         "feed %s accepts MSH-4 %s from any address: any host that reaches the "
                         "MLLP port can send as that facility, merges (A40) included; restrict "
                         "it with weft feed add --from-address or --client-cert-sha256",
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
    /* TLS: MLLP's own pair, else the pair both listeners share, unless
     * --mllp-plain keeps MLLP plain (e.g. behind a TLS terminator) */
    const char *cert = opts_get(ctx->opts, "mllp-tls-cert"),
               *key = opts_get(ctx->opts, "mllp-tls-key");
    bool own_pair = cert || key;
    if (!own_pair) {
        cert = opts_get(ctx->opts, "tls-cert");
        key = opts_get(ctx->opts, "tls-key");
    }
    bool plain = opts_flag(ctx->opts, "mllp-plain");
    bool require_cert = opts_flag(ctx->opts, "mllp-require-client-cert");
    const char *bad = NULL;
    if (!cert != !key)
        bad = own_pair ? "--mllp-tls-cert and --mllp-tls-key go together"
                       : "--tls-cert and --tls-key go together";
    else if (plain && own_pair)
        bad = "--mllp-plain and --mllp-tls-cert contradict each other";
    else if (require_cert && (plain || !cert))
        bad = "--mllp-require-client-cert needs TLS on MLLP (--tls-cert/--tls-key or "
              "--mllp-tls-cert/--mllp-tls-key)";
    if (bad) {
        fprintf(stderr, "weft serve: %s\n", bad);
        free(host);
        return WEFT_EINVAL;
    }
    if (plain)
        cert = key = NULL;
    const char *ack_mode = opts_get(ctx->opts, "mllp-ack-mode");
    if (ack_mode && strcmp(ack_mode, "auto") != 0 && strcmp(ack_mode, "original") != 0) {
        fprintf(stderr, "weft serve: --mllp-ack-mode is original (the default) or auto (HL7 "
                        "enhanced acknowledgement when MSH-15/MSH-16 ask for it)\n");
        free(host);
        return WEFT_EINVAL;
    }
    /* the accept journal: the node's own directory; beside a SQLite
     * database by default, named for PostgreSQL (no local file to go by) */
    const char *jdir_opt = opts_get(ctx->opts, "mllp-journal");
    char *jdir = jdir_opt ? xstrdup(jdir_opt) : accept_journal_default_dir(ctx->db);
    if (ack_mode && strcmp(ack_mode, "auto") == 0 && !jdir) {
        fprintf(stderr, "weft serve: --mllp-ack-mode auto with a PostgreSQL store needs "
                        "--mllp-journal DIR (the node's accept journal, on its local disk)\n");
        free(host);
        return WEFT_EINVAL;
    }
    long backlog_max = 0;
    if (opts_get_long(ctx->opts, "mllp-backlog-max", MLLP_BACKLOG_MAX_DEFAULT, &backlog_max) != 0 ||
        backlog_max < 1 || backlog_max > 100000000) {
        fprintf(stderr, "weft serve: --mllp-backlog-max must be 1-100000000 messages\n");
        free(host);
        free(jdir);
        return WEFT_EINVAL;
    }
    /* writers: PostgreSQL's overlap (store/pg/pg_int.h), SQLite's take
     * turns (one is all it can use) */
    bool pg = store_url_is_postgres(ctx->db);
    long writers = 0;
    if (opts_get_long(ctx->opts, "mllp-writers", pg ? MLLP_WRITERS_PG_DEFAULT : 1, &writers) != 0 ||
        writers < 1 || writers > MLLP_WRITERS_MAX) {
        fprintf(stderr, "weft serve: --mllp-writers must be 1-%d\n", MLLP_WRITERS_MAX);
        free(host);
        free(jdir);
        return WEFT_EINVAL;
    }
    struct mllp_server_config cfg = {.host = host,
                                     .port = port,
                                     .writers = (int)writers,
                                     .store_url = ctx->db,
                                     .max_connections = (int)maxc,
                                     .max_per_address = (int)per_addr,
                                     .idle_timeout = (int)idle,
                                     .first_frame_timeout = (int)first,
                                     .tls_cert_file = cert,
                                     .tls_key_file = key,
                                     .tls_require_client_cert = require_cert,
                                     .backlog_max = (int)backlog_max,
                                     .original_ack_only =
                                         !ack_mode || strcmp(ack_mode, "auto") != 0,
                                     .journal_dir = jdir};
    struct mllp_server *srv = NULL;
    char *err = NULL;
    int rc = mllp_server_start(&srv, &cfg, &err);
    if (rc == 0 && !cfg.original_ack_only)
        feed_registry_set_journal_dir(jdir); /* feed status, /admin/feeds */
    free(jdir);
    if (rc != 0) {
        fprintf(stderr, "weft serve: %s\n", err ? err : weft_strerror(rc));
        free(err);
        free(host);
        return rc;
    }
    warn_unbound_feeds(ctx->db);
    bool v6 = strchr(host, ':') && host[0] != '[';
    log_info("serve", "listening mllp=%s%s%s:%d writers=%ld idle_timeout=%ld tls=%s", v6 ? "[" : "",
             host, v6 ? "]" : "", mllp_server_port(srv), writers, idle,
             !cert          ? "off"
             : require_cert ? "on,client-cert-required"
                            : "on");
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
