/*
 * socialcare_pipeline.c - the two halves of processing a social care
 * extract and what passes between them (see "Two halves" in
 * socialcare_int.h): the reading side's chunks (Bundle, row lines, issues),
 * the loading side's batch (sink, commit, counts), and the queue that
 * carries chunks from the reading thread to the calling thread with
 * opts.pipeline.
 */
#include "feeds/socialcare_int.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

struct chunk *sc_chunk_cur(struct proc *p)
{
    if (!p->cur)
        p->cur = xcalloc(1, sizeof *p->cur);
    return p->cur;
}

/* An issue of the current row, from the reading side: it travels with the
 * chunk to the report.  Once the reading side alone has made
 * SOCIALCARE_MAX_ISSUES of a kind, the report is full of that kind whatever
 * the loading side added: the issue is only counted. */
void sc_row_issue(struct proc *p, bool error, const char *column, const char *reason)
{
    struct chunk *c = sc_chunk_cur(p);
    size_t *made = error ? &p->errors_made : &p->warnings_made;
    if ((*made)++ >= SOCIALCARE_MAX_ISSUES) {
        if (error)
            c->errors_dropped++;
        else
            c->warnings_dropped++;
        return;
    }
    if (c->nissues == c->issuecap) {
        c->issuecap = c->issuecap ? c->issuecap * 2 : 8;
        c->issues = xrealloc(c->issues, c->issuecap * sizeof *c->issues);
    }
    c->issues[c->nissues++] = (struct pend_issue){.line = p->line,
                                                  .column = column ? xstrdup(column) : NULL,
                                                  .reason = xstrdup(reason),
                                                  .error = error};
}

void sc_row_error(struct proc *p, const char *column, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sc_row_issue(p, true, column, msg);
    p->row_errors++;
}

void sc_row_warning(struct proc *p, const char *column, const char *msg)
{
    sc_row_issue(p, false, column, msg);
}

/* The queue between the two threads. */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_take;
    struct chunk *head, *tail;
    size_t n;
    bool done;           /* the reading side has handed its last chunk */
    struct chunk *spent; /* delivered, handed back to be freed by the reading side */
};

/* ---- batches ------------------------------------------------------------- */

size_t socialcare_batch_entries(const struct socialcare_batch *b)
{
    return b->nentries - b->base;
}

size_t socialcare_batch_line(const struct socialcare_batch *b, size_t entry)
{
    return entry < b->nentries - b->base ? b->lines[b->base + entry] : 0;
}

/* Count the row at line as a load failure once per batch. */
static void batch_fail_line(struct socialcare_batch *b, size_t line, const char *reason)
{
    for (size_t i = 0; i < b->nfailed; i++)
        if (b->failed_lines[i] == line)
            return;
    if (b->nfailed == b->failcap) {
        b->failcap = b->failcap ? b->failcap * 2 : 16;
        b->failed_lines = xrealloc(b->failed_lines, b->failcap * sizeof *b->failed_lines);
    }
    b->failed_lines[b->nfailed++] = line;
    sc_issue_add(b->rep, 1, line, NULL, "load failed: %s", reason);
}

void socialcare_batch_fail(struct socialcare_batch *b, size_t entry, const char *reason)
{
    if (entry >= b->nentries - b->base)
        return;
    batch_fail_line(b, b->lines[b->base + entry], reason ? reason : "refused by the loader");
}

void *socialcare_batch_prep(const struct socialcare_batch *b)
{
    return b->prep;
}

void socialcare_batch_broken(struct socialcare_batch *b)
{
    atomic_store(&b->broken, b->seq + 1);
}

void sc_emit(struct proc *p, const char *type, const char *id, json_t *res)
{
    struct chunk *c = sc_chunk_cur(p);
    if (!c->bundle) {
        c->bundle = json_object();
        json_object_set_new_nocheck(c->bundle, "resourceType", json_string_nocheck("Bundle"));
        json_object_set_new_nocheck(c->bundle, "type", json_string_nocheck("batch"));
        c->entries = json_array();
        json_object_set_new_nocheck(c->bundle, "entry", c->entries);
    }
    char url[96]; /* type names are short, ids at most 64 */
    size_t tl = strlen(type), il = strlen(id);
    assert(tl + 1 + il < sizeof url);
    memcpy(url, type, tl);
    url[tl] = '/';
    memcpy(url + tl + 1, id, il + 1);
    json_t *req = json_object();
    json_object_set_new_nocheck(req, "method", json_string_nocheck("PUT"));
    json_object_set_new_nocheck(req, "url", json_string_nocheck(url));
    json_t *e = json_object();
    json_object_set_new_nocheck(e, "resource", res);
    json_object_set_new_nocheck(e, "request", req);
    json_array_append_new(c->entries, e);
    if (c->nlines == c->linecap) {
        c->linecap = c->linecap ? c->linecap * 2 : 64;
        c->lines = xrealloc(c->lines, c->linecap * sizeof *c->lines);
    }
    c->lines[c->nlines++] = p->line;
}

static void chunk_free(struct chunk *c, void (*prep_free)(void *))
{
    if (c->prep)
        prep_free(c->prep);
    json_decref(c->bundle);
    for (size_t i = 0; i < c->nissues; i++) {
        free(c->issues[i].column);
        free(c->issues[i].reason);
    }
    free(c->issues);
    free(c->lines);
    free(c);
}

/* Every row of entries [from, to) of the batch fails with rc's reason. */
static void fail_entries(struct socialcare_batch *b, size_t from, size_t to, int rc)
{
    for (size_t i = from; i < to; i++)
        if (i == from || b->lines[i] != b->lines[i - 1])
            batch_fail_line(b, b->lines[i], weft_strerror(rc));
}

/* The loading side: a chunk's issues into the report, its Bundle to the
 * sink, and at the end of a batch the commit and the batch's counts.  The
 * caller frees the chunk (chunk_free). */
static void deliver(struct socialcare_batch *b, struct chunk *c)
{
    struct socialcare_report *rep = b->rep;
    for (size_t i = 0; i < c->nissues; i++) {
        struct pend_issue *is = &c->issues[i];
        if (sc_issue_count(rep, is->error)) {
            sc_issue_keep(rep, is->error, is->line, is->column, is->reason);
            is->column = is->reason = NULL;
        }
    }
    /* the reading side dropped these because the list was full already */
    assert(!c->errors_dropped || rep->nerrors == SOCIALCARE_MAX_ISSUES);
    assert(!c->warnings_dropped || rep->nwarnings == SOCIALCARE_MAX_ISSUES);
    for (size_t i = 0; i < c->errors_dropped; i++)
        sc_issue_count(rep, 1);
    for (size_t i = 0; i < c->warnings_dropped; i++)
        sc_issue_count(rep, 0);
    if (c->bundle) {
        b->base = b->nentries;
        if (b->nentries + c->nlines > b->cap) {
            while (b->nentries + c->nlines > b->cap)
                b->cap = b->cap ? b->cap * 2 : 64;
            b->lines = xrealloc(b->lines, b->cap * sizeof *b->lines);
        }
        memcpy(b->lines + b->nentries, c->lines, c->nlines * sizeof *c->lines);
        b->nentries += c->nlines;
        rep->bundles++;
        rep->resources += c->nlines;
        if (b->sink) {
            b->prep = c->prep;
            int rc = b->sink(b->ctx, c->bundle, b);
            b->prep = NULL;
            if (rc < 0)
                fail_entries(b, b->base, b->nentries, rc);
        }
        b->base = b->nentries;
    }
    b->rows += c->rows;
    if (c->end_batch) {
        if (b->sink && b->o->commit) {
            int rc = b->o->commit(b->ctx);
            if (rc < 0)
                fail_entries(b, 0, b->nentries, rc);
        }
        rep->rows_load_failed += b->nfailed;
        rep->rows_loaded += b->rows - b->nfailed;
        b->nfailed = 0;
        b->nentries = 0;
        b->base = 0;
        b->rows = 0;
        b->seq++;
    }
}

static void chunks_free(struct chunk *c, void (*prep_free)(void *))
{
    while (c) {
        struct chunk *next = c->next;
        chunk_free(c, prep_free);
        c = next;
    }
}

/* Queue c; returns the chunks handed back since the last call, for the
 * reading side to free.  Freeing them here rather than on the loading
 * thread takes that work (a Bundle's tree and its prepared form, allocated
 * on this thread) off the thread that limits the pace. */
static struct chunk *pipe_put(struct pipe *q, struct chunk *c)
{
    pthread_mutex_lock(&q->mu);
    while (q->n >= SOCIALCARE_PIPE_DEPTH)
        pthread_cond_wait(&q->can_put, &q->mu);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->n++;
    struct chunk *spent = q->spent;
    q->spent = NULL;
    pthread_cond_signal(&q->can_take);
    pthread_mutex_unlock(&q->mu);
    return spent;
}

/* Hand back done (delivered; may be NULL) and take the next chunk, or NULL
 * when the reading side is done and all are taken. */
static struct chunk *pipe_take(struct pipe *q, struct chunk *done)
{
    pthread_mutex_lock(&q->mu);
    if (done) {
        done->next = q->spent;
        q->spent = done;
    }
    while (!q->head && !q->done)
        pthread_cond_wait(&q->can_take, &q->mu);
    struct chunk *c = q->head;
    if (c) {
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        c->next = NULL;
        pthread_cond_signal(&q->can_put);
    }
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void pipe_finish(struct pipe *q)
{
    pthread_mutex_lock(&q->mu);
    q->done = true;
    pthread_cond_signal(&q->can_take);
    pthread_mutex_unlock(&q->mu);
}

/* The reading side hands the current chunk on: prepared (unless its batch
 * was given up), then delivered at once (one thread) or queued. */
void sc_hand(struct proc *p, bool end_batch)
{
    struct chunk *c = sc_chunk_cur(p);
    p->cur = NULL;
    c->end_batch = end_batch;
    if (c->bundle && p->sink && p->o->prepare && atomic_load(&p->out->broken) != p->seq + 1)
        c->prep = p->o->prepare(p->ctx, c->bundle);
    if (end_batch)
        p->seq++;
    if (p->q) {
        chunks_free(pipe_put(p->q, c), p->o->prep_free);
    } else {
        deliver(p->out, c);
        chunk_free(c, p->o->prep_free);
    }
}

/* The current Bundle (if any) is complete. */
void sc_flush_bundle(struct proc *p)
{
    p->bundle_rows = 0;
    if (p->cur && p->cur->bundle)
        sc_hand(p, false);
}

/* End the batch: its last Bundle, the commit, then count its rows. */
void sc_flush(struct proc *p)
{
    if (!p->batch_rows)
        return;
    p->bundle_rows = 0;
    p->batch_rows = 0;
    sc_hand(p, true);
}

static void *read_thread(void *arg)
{
    struct proc *p = arg;
    p->rrc = sc_read_rest(p);
    pipe_finish(p->q);
    return NULL;
}

/* The rest of the file on a second thread while this one delivers; returns
 * the reader's last result, or 1 when the thread could not be started
 * (nothing was done). */
int sc_read_pipelined(struct proc *p)
{
    struct pipe q = {.head = NULL};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.can_put, NULL);
    pthread_cond_init(&q.can_take, NULL);
    p->q = &q;
    pthread_t th;
    int rrc = 1;
    if (pthread_create(&th, NULL, read_thread, p) != 0) {
        log_warn("csv", "cannot start the reading thread: processing on one thread");
        p->q = NULL;
    } else {
        struct chunk *c = NULL;
        while ((c = pipe_take(&q, c)) != NULL)
            deliver(p->out, c);
        pthread_join(th, NULL);
        chunks_free(q.spent, p->o->prep_free);
        p->q = NULL;
        rrc = p->rrc;
    }
    pthread_cond_destroy(&q.can_take);
    pthread_cond_destroy(&q.can_put);
    pthread_mutex_destroy(&q.mu);
    return rrc;
}
