/*
 * audit.c - the hash chain, the group-commit writer and verification of the
 * audit log (see audit.h for the contract).
 *
 * Group commit: appenders copy their event into one malloc'd block (strings
 * packed after the struct) and push it on a bounded FIFO guarded by one
 * mutex; the writer thread takes everything queued (up to AUDIT_BATCH_MAX),
 * appends it in one store transaction and publishes the ticket number it
 * has made durable.  Appenders that asked to wait sleep on a condition
 * variable until their ticket is published.  With SQLite's synchronous=FULL
 * a transaction costs one fsync, so batching is what turns hundreds of
 * commits per second into a hundred thousand entries per second.
 *
 * Verification is parallel: every row carries its predecessor's hash, so a
 * range of rows can be checked on its own (hash recomputed, link to the row
 * before it within the range); the threads' ranges are then joined by
 * checking each boundary, and the last row against the recorded head.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init: see struct hasher */
#include <assert.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/principal.h"
#include "audit/audit.h"
#include "core/metrics.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/store.h"

void audit_now(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

void audit_event_from_principal(struct audit_event *ev, const struct principal *p)
{
    ev->user_id = p->user_id;
    ev->user_name = p->user_name;
    ev->role = p->role;
    ev->org = p->org;
    ev->launcher = p->launcher;
    ev->client = p->client_name;
    ev->purpose = p->purpose;
    ev->session_id = p->session_id;
    ev->request_id = p->request_id;
}

/* ---- canonical content and hash ------------------------------------------------ */

/* Decimal digits of v at p; returns the end.  The canonical form is built
 * for every entry on append and on verify, so no printf and no per-byte
 * buffer calls here (they were most of verify's time). */
static char *put_uint(char *p, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_int(char *p, long long v)
{
    if (v < 0) {
        *p++ = '-';
        return put_uint(p, (unsigned long long)(-(v + 1)) + 1);
    }
    return put_uint(p, (unsigned long long)v);
}

void audit_row_canonical(const struct store_audit_row *r, struct buf *out)
{
    const char *f[] = {r->time,      r->action,     r->outcome,    r->user_id, r->user_name,
                       r->role,      r->org,        r->launcher,   r->client,  r->purpose,
                       r->person_id, r->session_id, r->request_id, r->what,    r->reason};
    enum { NF = sizeof f / sizeof f[0] };
    size_t len[NF];
    size_t need = 13 + 2 * 22;
    for (int i = 0; i < NF; i++) {
        len[i] = f[i] ? strlen(f[i]) : 0;
        need += len[i] + 22;
    }
    buf_grow(out, need);
    char *p = out->data + out->len;
    memcpy(p, "weft-audit-1,", 13);
    p = put_int(p + 13, r->seq);
    *p++ = ',';
    for (int i = 0; i < NF; i++) {
        if (!f[i]) {
            *p++ = '-';
            *p++ = ',';
            continue;
        }
        p = put_uint(p, len[i]);
        *p++ = ':';
        memcpy(p, f[i], len[i]);
        p += len[i];
        *p++ = ',';
    }
    p = put_int(p, r->count);
    *p++ = ',';
    *p = 0;
    out->len = (size_t)(p - out->data);
}

/* Hashing: OpenSSL's SHA256_Init/Update/Final (the same SHA-NI code as EVP)
 * without EVP's per-call provider dispatch, which was a third of verify's
 * CPU at ten million rows.  They are deprecated in OpenSSL 3 in favour of
 * EVP, hence OPENSSL_SUPPRESS_DEPRECATED at the top of this file. */
struct hasher {
    struct buf tmp;
};

static void hasher_init(struct hasher *h)
{
    buf_init(&h->tmp);
    buf_grow(&h->tmp, 1024);
}

static void hasher_release(struct hasher *h)
{
    buf_release(&h->tmp);
}

static void hasher_row(struct hasher *h, const struct store_audit_row *r,
                       const unsigned char prev[32], unsigned char out[32])
{
    buf_reset(&h->tmp);
    audit_row_canonical(r, &h->tmp);
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, prev, 32);
    SHA256_Update(&c, h->tmp.data, h->tmp.len);
    SHA256_Final(out, &c);
}

void audit_row_hash(const struct store_audit_row *r, const unsigned char prev[32],
                    unsigned char out[32])
{
    struct hasher h;
    hasher_init(&h);
    hasher_row(&h, r, prev, out);
    hasher_release(&h);
}

static void chain_rows(struct store_audit_row *rows, int n, int64_t head_seq,
                       const unsigned char head_hash[32], void *ctx)
{
    struct hasher *h = ctx;
    /* the store calls this under its write lock with the chain's head */
    assert(rows && n > 0 && head_seq >= 0 && head_hash);
    const unsigned char *prev = head_hash;
    for (int i = 0; i < n; i++) {
        rows[i].seq = head_seq + 1 + i;
        memcpy(rows[i].prev, prev, 32);
        hasher_row(h, &rows[i], prev, rows[i].hash);
        prev = rows[i].hash;
    }
}

static void row_from_event(struct store_audit_row *r, const struct audit_event *ev, const char *now)
{
    memset(r, 0, sizeof *r);
    r->time = ev->time ? ev->time : now;
    r->action = ev->action;
    r->outcome = ev->outcome;
    r->user_id = ev->user_id;
    r->user_name = ev->user_name;
    r->role = ev->role;
    r->org = ev->org;
    r->launcher = ev->launcher;
    r->client = ev->client;
    r->purpose = ev->purpose;
    r->person_id = ev->person_id;
    r->session_id = ev->session_id;
    r->request_id = ev->request_id;
    r->what = ev->what;
    r->count = ev->count;
    r->reason = ev->reason;
}

int audit_append(struct store *s, const struct audit_event *ev, int64_t *seq_out)
{
    if (!ev->action || !ev->outcome)
        return WEFT_EINVAL;
    char now[32];
    audit_now(now);
    struct store_audit_row r;
    row_from_event(&r, ev, now);
    struct hasher h;
    hasher_init(&h);
    int rc = store_audit_append(s, &r, 1, chain_rows, &h);
    hasher_release(&h);
    if (rc == WEFT_OK && seq_out)
        *seq_out = r.seq;
    return rc;
}

int audit_append_many(struct store *s, const struct audit_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ev[i].action || !ev[i].outcome)
            return WEFT_EINVAL;
    char now[32];
    audit_now(now);
    size_t chunk = n < AUDIT_BATCH_MAX ? n : AUDIT_BATCH_MAX;
    struct store_audit_row *r = xmalloc(sizeof *r * (chunk ? chunk : 1));
    struct hasher h;
    hasher_init(&h);
    int rc = WEFT_OK;
    for (size_t i = 0; rc == WEFT_OK && i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        for (size_t k = 0; k < m; k++)
            row_from_event(&r[k], &ev[i + k], now);
        rc = store_audit_append(s, r, (int)m, chain_rows, &h);
    }
    hasher_release(&h);
    free(r);
    return rc;
}

/* ---- group commit ---------------------------------------------------------------- */

/* One queued event: the struct, then its strings packed behind it. */
struct queued {
    struct audit_event ev;
    char time[32];
};

struct audit_log {
    struct store *store;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t has_work; /* writer waits for entries / close */
    pthread_cond_t progress; /* appenders wait for durability / room */
    struct queued **q;       /* ring of AUDIT_QUEUE_MAX */
    size_t head, len;
    uint64_t enqueued; /* tickets handed out */
    uint64_t durable;  /* every ticket <= this is committed */
    bool failing;      /* last commit failed (waiters get WEFT_EDB) */
    int waiters;       /* appenders waiting for durability: no lingering */
    bool closing;
    struct hasher hasher; /* used by the writer only */
};

static const char *pack(char **p, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*p, s, n);
    const char *r = *p;
    *p += n;
    return r;
}

static struct queued *queued_copy(const struct audit_event *ev)
{
    const char *const src[] = {ev->action,  ev->outcome,   ev->user_id,    ev->user_name,
                               ev->role,    ev->org,       ev->launcher,   ev->client,
                               ev->purpose, ev->person_id, ev->session_id, ev->request_id,
                               ev->what,    ev->reason};
    size_t total = sizeof(struct queued);
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    struct queued *q = xmalloc(total);
    char *p = (char *)(q + 1);
    if (ev->time)
        snprintf(q->time, sizeof q->time, "%s", ev->time);
    else
        audit_now(q->time);
    q->ev.time = q->time;
    q->ev.action = pack(&p, ev->action);
    q->ev.outcome = pack(&p, ev->outcome);
    q->ev.user_id = pack(&p, ev->user_id);
    q->ev.user_name = pack(&p, ev->user_name);
    q->ev.role = pack(&p, ev->role);
    q->ev.org = pack(&p, ev->org);
    q->ev.launcher = pack(&p, ev->launcher);
    q->ev.client = pack(&p, ev->client);
    q->ev.purpose = pack(&p, ev->purpose);
    q->ev.person_id = pack(&p, ev->person_id);
    q->ev.session_id = pack(&p, ev->session_id);
    q->ev.request_id = pack(&p, ev->request_id);
    q->ev.what = pack(&p, ev->what);
    q->ev.reason = pack(&p, ev->reason);
    q->ev.count = ev->count;
    return q;
}

/* Commits tried at close after a failure, 200 ms apart, before giving up. */
#define AUDIT_CLOSE_TRIES 10

static void *writer_main(void *arg)
{
    struct audit_log *log = arg;
    int close_tries = 0;
    struct queued **batch = xmalloc(sizeof *batch * AUDIT_BATCH_MAX);
    struct store_audit_row *rows = xmalloc(sizeof *rows * AUDIT_BATCH_MAX);
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (log->len == 0 && !log->closing)
            pthread_cond_wait(&log->has_work, &log->mu);
        if (log->len == 0 && log->closing)
            break;
        /* A small batch: linger up to AUDIT_LINGER_US for more, so that a
         * commit (and its fsync) is shared by many requests even at moderate
         * load.  Appenders that wait for durability are not kept waiting:
         * their signal ends the linger. */
        if (log->len < AUDIT_BATCH_MAX / 8 && !log->closing && !log->waiters) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += AUDIT_LINGER_US * 1000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&log->has_work, &log->mu, &until);
        }
        size_t n = log->len < AUDIT_BATCH_MAX ? log->len : AUDIT_BATCH_MAX;
        for (size_t i = 0; i < n; i++)
            batch[i] = log->q[(log->head + i) % AUDIT_QUEUE_MAX];
        uint64_t upto = log->durable + n;
        pthread_mutex_unlock(&log->mu);

        for (size_t i = 0; i < n; i++)
            row_from_event(&rows[i], &batch[i]->ev, batch[i]->time);
        struct timespec w0, w1;
        clock_gettime(CLOCK_MONOTONIC, &w0);
        int rc = store_audit_append(log->store, rows, (int)n, chain_rows, &log->hasher);
        clock_gettime(CLOCK_MONOTONIC, &w1);

        pthread_mutex_lock(&log->mu);
        if (rc == WEFT_OK) {
            metrics_observe("weft_audit_write_duration_seconds", "",
                            (double)(w1.tv_sec - w0.tv_sec) +
                                (double)(w1.tv_nsec - w0.tv_nsec) / 1e9);
            metrics_add("weft_audit_entries_total", "", (double)n);
            metrics_set("weft_audit_queue_depth", "", (double)(log->len - n));
            for (size_t i = 0; i < n; i++)
                free(batch[i]);
            log->head = (log->head + n) % AUDIT_QUEUE_MAX;
            log->len -= n;
            log->durable = upto;
            log->failing = false;
        } else {
            /* Keep the entries queued and retry: an audit entry is never
             * dropped.  Waiters are told it is not durable yet. */
            log->failing = true;
            log_error("audit", "group commit of %zu entries failed: %s", n,
                      store_errmsg(log->store));
            pthread_cond_broadcast(&log->progress);
            pthread_mutex_unlock(&log->mu);
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&log->mu);
            /* give up at close (reported below), but not at the first
             * failure: after a restart or a failover of PostgreSQL the first
             * statement on the old connection fails and the next one
             * reconnects, so a stop right after it would lose entries */
            if (log->closing && log->failing && ++close_tries >= AUDIT_CLOSE_TRIES)
                break;
            continue;
        }
        pthread_cond_broadcast(&log->progress);
    }
    if (log->len > 0)
        log_error("audit", "closing with %zu audit entries not committed", log->len);
    pthread_mutex_unlock(&log->mu);
    free(batch);
    free(rows);
    return NULL;
}

int audit_log_open(struct audit_log **out, const char *store_url)
{
    *out = NULL;
    struct audit_log *log = xcalloc(1, sizeof *log);
    char *err = NULL;
    int rc = store_open(&log->store, store_url, false, &err);
    if (rc) {
        log_error("audit", "cannot open the store for the audit writer: %s", err ? err : "");
        free(err);
        free(log);
        return rc;
    }
    log->q = xcalloc(AUDIT_QUEUE_MAX, sizeof *log->q);
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->has_work, NULL);
    pthread_cond_init(&log->progress, NULL);
    hasher_init(&log->hasher);
    if (pthread_create(&log->writer, NULL, writer_main, log) != 0) {
        hasher_release(&log->hasher);
        store_close(log->store);
        free(log->q);
        free(log);
        return WEFT_EINTERNAL;
    }
    *out = log;
    return WEFT_OK;
}

void audit_log_close(struct audit_log *log)
{
    if (!log)
        return;
    pthread_mutex_lock(&log->mu);
    log->closing = true;
    pthread_cond_signal(&log->has_work);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->writer, NULL);
    for (size_t i = 0; i < log->len; i++)
        free(log->q[(log->head + i) % AUDIT_QUEUE_MAX]);
    free(log->q);
    hasher_release(&log->hasher);
    store_close(log->store);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->has_work);
    pthread_cond_destroy(&log->progress);
    free(log);
}

static int wait_durable(struct audit_log *log, uint64_t ticket)
{
    /* called with log->mu held */
    while (log->durable < ticket) {
        if (log->failing)
            return WEFT_EDB;
        pthread_cond_wait(&log->progress, &log->mu);
    }
    return WEFT_OK;
}

int audit_log_append(struct audit_log *log, const struct audit_event *ev, bool wait)
{
    if (!ev->action || !ev->outcome)
        return WEFT_EINVAL;
    struct queued *q = queued_copy(ev);
    pthread_mutex_lock(&log->mu);
    while (log->len == AUDIT_QUEUE_MAX && !log->closing)
        pthread_cond_wait(&log->progress, &log->mu); /* back-pressure */
    if (log->closing) {
        pthread_mutex_unlock(&log->mu);
        free(q);
        return WEFT_EBUSY;
    }
    assert(log->len < AUDIT_QUEUE_MAX && log->head < AUDIT_QUEUE_MAX);
    log->q[(log->head + log->len) % AUDIT_QUEUE_MAX] = q;
    log->len++;
    uint64_t ticket = ++log->enqueued;
    assert(log->durable < ticket); /* a ticket is durable only after its commit */
    /* Wake the writer when work appears, when a batch is full, or when
     * someone waits; otherwise it is lingering or busy and will look. */
    if (log->len == 1 || log->len == AUDIT_BATCH_MAX)
        pthread_cond_signal(&log->has_work);
    int rc = WEFT_OK;
    if (wait) {
        log->waiters++;
        pthread_cond_signal(&log->has_work);
        rc = wait_durable(log, ticket);
        log->waiters--;
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int audit_log_flush(struct audit_log *log)
{
    pthread_mutex_lock(&log->mu);
    log->waiters++;
    pthread_cond_signal(&log->has_work);
    int rc = wait_durable(log, log->enqueued);
    log->waiters--;
    pthread_mutex_unlock(&log->mu);
    return rc;
}

static struct audit_log *_Atomic installed_log;

void audit_set_log(struct audit_log *log)
{
    installed_log = log;
}

int audit_record(struct store *s, const struct audit_event *ev, bool wait)
{
    struct audit_log *log = installed_log;
    if (log)
        return audit_log_append(log, ev, wait);
    return audit_append(s, ev, NULL);
}

/* ---- verification ---------------------------------------------------------------- */

struct verify_part {
    const char *url;
    int64_t from, to;
    /* results */
    int rc;
    int64_t checked;
    int64_t first_seq, last_seq;
    unsigned char first_prev[32], last_hash[32];
    int64_t bad_seq;
    char problem[256];
    bool reread_head; /* the last part: read the head again after its scan */
    int64_t head_seq, head_rows;
    unsigned char head_hash[32];
    /* walking state */
    int64_t expect;
    unsigned char prev[32];
    struct hasher h;
};

static int verify_row(const struct store_audit_row *r, void *ctx)
{
    struct verify_part *vp = ctx;
    if (vp->checked == 0) {
        vp->first_seq = r->seq;
        memcpy(vp->first_prev, r->prev, 32);
    } else {
        if (r->seq != vp->expect) {
            vp->bad_seq = r->seq > vp->expect ? vp->expect : r->seq;
            snprintf(vp->problem, sizeof vp->problem, "entries %lld to %lld are missing (deleted)",
                     (long long)vp->expect, (long long)r->seq - 1);
            return 1;
        }
        if (memcmp(r->prev, vp->prev, 32) != 0) {
            vp->bad_seq = r->seq;
            snprintf(vp->problem, sizeof vp->problem,
                     "entry %lld does not follow entry %lld (an entry was inserted, replaced or "
                     "reordered)",
                     (long long)r->seq, (long long)r->seq - 1);
            return 1;
        }
    }
    unsigned char h[32];
    hasher_row(&vp->h, r, r->prev, h);
    if (memcmp(h, r->hash, 32) != 0) {
        vp->bad_seq = r->seq;
        snprintf(vp->problem, sizeof vp->problem,
                 "entry %lld was changed (its content does not match its hash)", (long long)r->seq);
        return 1;
    }
    memcpy(vp->prev, r->hash, 32);
    vp->expect = r->seq + 1;
    vp->last_seq = r->seq;
    memcpy(vp->last_hash, r->hash, 32);
    vp->checked++;
    return 0;
}

static void *verify_main(void *arg)
{
    struct verify_part *vp = arg;
    struct store *s = NULL;
    char *err = NULL;
    vp->rc = store_open(&s, vp->url, false, &err);
    if (vp->rc) {
        /* the store's message names the database already */
        snprintf(vp->problem, sizeof vp->problem, "%s", err ? err : weft_strerror(vp->rc));
        free(err);
        return NULL;
    }
    hasher_init(&vp->h);
    vp->expect = vp->from;
    int rc = store_audit_scan(s, vp->from, vp->to, verify_row, vp);
    if (rc == 0 && vp->reread_head)
        rc = store_audit_head(s, &vp->head_seq, vp->head_hash, &vp->head_rows);
    if (rc < 0) {
        vp->rc = rc;
        snprintf(vp->problem, sizeof vp->problem, "reading the audit log: %s", store_errmsg(s));
    }
    hasher_release(&vp->h);
    store_close(s);
    return NULL;
}

int audit_verify(const char *url, int nthreads, struct audit_verify_result *res)
{
    memset(res, 0, sizeof *res);
    if (nthreads <= 0)
        nthreads = 2;
    if (nthreads > 16)
        nthreads = 16;
    struct store *s = NULL;
    char *err = NULL;
    int rc = store_open(&s, url, false, &err);
    if (rc) {
        /* the store's message names the database already */
        snprintf(res->problem, sizeof res->problem, "%s", err ? err : weft_strerror(rc));
        free(err);
        return rc;
    }
    int64_t head_seq, head_rows;
    unsigned char head_hash[32];
    rc = store_audit_head(s, &head_seq, head_hash, &head_rows);
    if (rc) {
        snprintf(res->problem, sizeof res->problem, "reading the audit head: %s", store_errmsg(s));
        store_close(s);
        return rc;
    }
    store_close(s);
    /* Scan 1..max(head, a margin) so rows appended beyond a rolled-back head
     * are seen too; the highest seq present is found by the last part. */
    int64_t top = head_seq;
    struct verify_part parts[16];
    pthread_t th[16];
    int64_t per = top / nthreads + 1;
    for (int i = 0; i < nthreads; i++) {
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].url = url;
        parts[i].from = 1 + per * i;
        parts[i].to = i == nthreads - 1 ? INT64_MAX : per * (i + 1);
        parts[i].reread_head = i == nthreads - 1;
        if (pthread_create(&th[i], NULL, verify_main, &parts[i]) != 0) {
            for (int k = 0; k < i; k++)
                pthread_join(th[k], NULL);
            return WEFT_EINTERNAL;
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);

    int64_t expect = 1;
    unsigned char prev[32] = {0};
    for (int i = 0; i < nthreads; i++) {
        struct verify_part *vp = &parts[i];
        res->entries += vp->checked;
        if (vp->rc < 0) {
            snprintf(res->problem, sizeof res->problem, "%s", vp->problem);
            return vp->rc;
        }
        if (vp->checked == 0 && !vp->bad_seq)
            continue; /* an empty range (everything deleted there is caught below) */
        /* join: the part's first row must follow what came before */
        if (vp->checked > 0 || vp->bad_seq) {
            int64_t first = vp->checked > 0 ? vp->first_seq : vp->bad_seq;
            if (first != expect) {
                res->bad_seq = first > expect ? expect : first;
                snprintf(res->problem, sizeof res->problem,
                         first > expect ? "entries %lld to %lld are missing (deleted)"
                                        : "entry %lld appears out of order (expected %lld)",
                         first > expect ? (long long)expect : (long long)first,
                         first > expect ? (long long)first - 1 : (long long)expect);
                return WEFT_ECONFLICT;
            }
            if (vp->checked > 0 && memcmp(vp->first_prev, prev, 32) != 0) {
                res->bad_seq = first;
                snprintf(res->problem, sizeof res->problem,
                         "entry %lld does not follow entry %lld (an entry was inserted, replaced "
                         "or reordered)",
                         (long long)first, (long long)first - 1);
                return WEFT_ECONFLICT;
            }
        }
        if (vp->bad_seq) {
            res->bad_seq = vp->bad_seq;
            snprintf(res->problem, sizeof res->problem, "%s", vp->problem);
            return WEFT_ECONFLICT;
        }
        expect = vp->last_seq + 1;
        memcpy(prev, vp->last_hash, 32);
    }
    /*
     * The log may grow while it is verified (a running server).  The head is
     * read before the scan (head_seq) and again after it (the last part's
     * head_after); the head is written in the same transaction as its rows
     * and only grows, so every row up to head_seq must have been seen, and
     * no row beyond head_after can have been written by Weft.
     */
    struct verify_part *lp = &parts[nthreads - 1];
    int64_t last = expect - 1;
    if (last < head_seq) {
        res->bad_seq = last + 1;
        snprintf(res->problem, sizeof res->problem,
                 "entries %lld to %lld are missing (the log was truncated)", (long long)last + 1,
                 (long long)head_seq);
        return WEFT_ECONFLICT;
    }
    if (last > lp->head_seq) {
        res->bad_seq = lp->head_seq + 1;
        snprintf(res->problem, sizeof res->problem,
                 "entries %lld to %lld were added outside Weft (beyond the recorded head)",
                 (long long)lp->head_seq + 1, (long long)last);
        return WEFT_ECONFLICT;
    }
    const unsigned char *want = NULL;
    int64_t want_rows = -1;
    if (last == head_seq) {
        want = head_hash;
        want_rows = head_rows;
    } else if (last == lp->head_seq) {
        want = lp->head_hash;
        want_rows = lp->head_rows;
    }
    if (last > 0 && want && memcmp(prev, want, 32) != 0) {
        res->bad_seq = last;
        snprintf(res->problem, sizeof res->problem,
                 "entry %lld does not match the recorded head (it was replaced)", (long long)last);
        return WEFT_ECONFLICT;
    }
    if (want_rows >= 0 && res->entries != want_rows) {
        res->bad_seq = last;
        snprintf(res->problem, sizeof res->problem,
                 "the log holds %lld entries but %lld were appended", (long long)res->entries,
                 (long long)want_rows);
        return WEFT_ECONFLICT;
    }
    return WEFT_OK;
}
