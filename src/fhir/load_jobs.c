/*
 * load_jobs.c - `weft load --jobs N`: the loading pipeline in N threads at
 * once (load.h: fhir_load_jobs), each with its own store handle, taking
 * work units (an organisation's folder, or a run of files) from a shared
 * queue in order.
 *
 * Why: one loader alternates between Weft's CPU (parsing, hashing,
 * indexing) and its store's (on PostgreSQL, its one backend's), so it keeps
 * about one core busy; PostgreSQL's writers run in parallel (races are
 * retried: fhir_load_paths's group retry, identity's key locks), so two
 * loaders keep both.  SQLite's writers take turns on one file, so there
 * threads can only overlap parsing with another's writes.
 *
 * What stays as with one loader: each unit is exactly one fhir_load_paths
 * call into a report of its own, and the reports are added up in unit
 * order at the end, so the counts, the table and the rejections (file
 * order, entry index) read as one loader's; a unit waits for the earlier
 * units of its sender (a file may refer to what its sender sent before).
 * What differs: the order of writes between senders' units (seqs, which
 * unit makes a shared person first; a reference to another sender's
 * resource - a conditional one falling back to any sender's, or by Weft
 * id - finds it only if that unit came first), and a commit at least once
 * a unit.
 *
 * Workload: a region's 212 GP folders of ~60 small bundles each, or a few
 * hundred Synthea bundles; the queue and the progress lock are taken once
 * a unit and once a file, far below the cost of loading either.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "store/store.h"

void load_queue_init(struct load_queue *q, int n)
{
    pthread_mutex_init(&q->mu, NULL);
    q->next = 0;
    q->n = n;
    q->stopped = false;
}

bool load_queue_take(struct load_queue *q, int *i)
{
    pthread_mutex_lock(&q->mu);
    bool got = !q->stopped && q->next < q->n;
    if (got)
        *i = q->next++;
    pthread_mutex_unlock(&q->mu);
    return got;
}

void load_queue_stop(struct load_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopped = true;
    pthread_mutex_unlock(&q->mu);
}

bool load_queue_stopped(struct load_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool stopped = q->stopped;
    pthread_mutex_unlock(&q->mu);
    return stopped;
}

void load_queue_free(struct load_queue *q)
{
    pthread_mutex_destroy(&q->mu);
}

/* What every thread shares: the queue, the units, the progress totals and
 * the first failure. */
struct jobs {
    struct load_queue q;
    load_unit_fn load_unit;
    struct load_unit *units;
    const struct load_ctx *ctx;
    load_progress_fn progress;
    void *progress_arg;
    pthread_mutex_t mu;      /* the fields below */
    pthread_cond_t finished; /* a unit finished */
    int *after;              /* per unit: the one before it with the same org, or -1 */
    long long total;         /* bytes of every unit */
    long long done;          /* bytes of finished units */
    long entries, rejected;
    struct worker *workers;
    int nworkers;
    int failed; /* the failed unit with the lowest index, or -1 */
    int rc;
    char errmsg[512];
};

struct worker {
    struct jobs *j;
    struct store *s;
    pthread_t th;
    /* the unit in flight, as its progress last said (under j->mu) */
    long long done;
    long entries, rejected;
};

/* A unit's progress: the totals of the finished units and of every unit in
 * flight, drawn under the lock (the callback is not thread-safe). */
static void worker_progress(void *arg, const struct load_report *rep, long long done,
                            long long total)
{
    (void)total;
    struct worker *w = arg;
    struct jobs *j = w->j;
    pthread_mutex_lock(&j->mu);
    w->done = done;
    w->entries = rep->entries;
    w->rejected = rep->rejected;
    if (j->progress) {
        struct load_report all;
        load_report_init(&all);
        long long d = j->done;
        all.entries = j->entries;
        all.rejected = j->rejected;
        for (int i = 0; i < j->nworkers; i++) {
            d += j->workers[i].done;
            all.entries += j->workers[i].entries;
            all.rejected += j->workers[i].rejected;
        }
        j->progress(j->progress_arg, &all, d, j->total);
    }
    pthread_mutex_unlock(&j->mu);
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct jobs *j = w->j;
    fhir_load_bulk_begin();
    int i;
    while (load_queue_take(&j->q, &i)) {
        struct load_unit *u = &j->units[i];
        /* the same sender's earlier unit first: its files may be referred
         * to ("sent before by the same organisation"); it was taken before
         * this one, so it finishes without waiting for this */
        pthread_mutex_lock(&j->mu);
        while (j->after[i] >= 0 && j->units[j->after[i]].state == LOAD_UNIT_NOT_LOADED)
            pthread_cond_wait(&j->finished, &j->mu);
        pthread_mutex_unlock(&j->mu);
        if (load_queue_stopped(&j->q))
            break;
        struct load_ctx ctx = *j->ctx;
        ctx.org = u->org;
        int rc = j->load_unit(w->s, u, &ctx, worker_progress, w);
        pthread_mutex_lock(&j->mu);
        u->state = rc == 0 ? LOAD_UNIT_LOADED : LOAD_UNIT_FAILED;
        j->done += u->bytes;
        j->entries += u->rep.entries;
        j->rejected += u->rep.rejected;
        w->done = 0;
        w->entries = 0;
        w->rejected = 0;
        if (rc != 0 && (j->failed < 0 || i < j->failed)) {
            j->failed = i;
            j->rc = rc;
            snprintf(j->errmsg, sizeof j->errmsg, "%s", store_errmsg(w->s));
        }
        pthread_cond_broadcast(&j->finished);
        pthread_mutex_unlock(&j->mu);
        if (rc != 0) {
            log_warn("load", "a store failure in work unit %d stops the load: %s", i,
                     weft_strerror(rc));
            load_queue_stop(&j->q);
            break;
        }
    }
    fhir_load_bulk_end();
    return NULL;
}

/* A unit as fhir_load_jobs loads it: one fhir_load_paths call. */
static int unit_load_paths(struct store *s, struct load_unit *u, const struct load_ctx *ctx,
                           load_progress_fn progress, void *arg)
{
    if (u->nfiles == 0)
        return 0;
    return fhir_load_paths(s, (const char *const *)u->files, u->nfiles, ctx, &u->rep, progress,
                           arg);
}

int fhir_load_jobs(struct store *const *stores, int njobs, struct load_unit *units, int nunits,
                   const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                   void *progress_arg, int *failed, char *errmsg, size_t errmsg_size)
{
    return load_jobs_run(stores, njobs, units, nunits, ctx, rep, progress, progress_arg, failed,
                         errmsg, errmsg_size, unit_load_paths);
}

int load_jobs_run(struct store *const *stores, int njobs, struct load_unit *units, int nunits,
                  const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                  void *progress_arg, int *failed, char *errmsg, size_t errmsg_size,
                  load_unit_fn load_unit)
{
    struct jobs j = {.units = units,
                     .ctx = ctx,
                     .progress = progress,
                     .progress_arg = progress_arg,
                     .failed = -1,
                     .load_unit = load_unit};
    load_queue_init(&j.q, nunits);
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.finished, NULL);
    j.after = xmalloc(sizeof *j.after * (size_t)(nunits ? nunits : 1));
    for (int i = 0; i < nunits; i++) {
        j.after[i] = -1;
        for (int k = i - 1; k >= 0 && j.after[i] < 0; k--)
            if (units[k].org && units[i].org && strcmp(units[k].org, units[i].org) == 0)
                j.after[i] = k;
    }
    for (int i = 0; i < nunits; i++) {
        units[i].state = LOAD_UNIT_NOT_LOADED;
        j.total += units[i].bytes;
    }
    struct worker *w = xcalloc((size_t)njobs, sizeof *w);
    j.workers = w;
    j.nworkers = njobs;
    int started = 0;
    for (int i = 0; i < njobs; i++) {
        w[i].j = &j;
        w[i].s = stores[i];
        if (pthread_create(&w[i].th, NULL, worker_run, &w[i]) != 0)
            break;
        started++;
    }
    if (started == 0) { /* nothing loaded: every unit stays not loaded */
        j.failed = 0;
        j.rc = WEFT_ENOMEM;
        snprintf(j.errmsg, sizeof j.errmsg, "cannot start a loader thread");
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    for (int i = 0; i < nunits; i++)
        if (units[i].state != LOAD_UNIT_NOT_LOADED)
            load_report_merge(rep, &units[i].rep);
    load_report_finish(rep);
    *failed = j.failed;
    if (errmsg_size)
        snprintf(errmsg, errmsg_size, "%s", j.failed >= 0 ? j.errmsg : "");
    free(w);
    free(j.after);
    pthread_cond_destroy(&j.finished);
    pthread_mutex_destroy(&j.mu);
    load_queue_free(&j.q);
    return j.failed >= 0 ? j.rc : 0;
}
