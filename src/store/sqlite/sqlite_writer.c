/*
 * sqlite_writer.c - a dedicated writer's upkeep (store_writer): the
 * write-ahead log is copied into the database off the writer's path.
 *
 * A checkpoint copies and fsyncs database pages; done at commit (SQLite's
 * auto-checkpoint) it would hold up every acknowledgement of a feed batch.
 * So the writer's connection never checkpoints, and a thread of this
 * backend, on a connection of its own, runs a passive checkpoint every
 * 200 ms - passive checkpoints never block the writer - and a last one
 * when the writer's handle is closed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/sqlite/sqlite_core.h"

#define CKPT_EVERY_MS 200

struct sqlite_ckpt {
    struct store *s; /* the checkpointer's own handle */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

/* A passive checkpoint: copy what can be copied now without waiting for
 * anyone (busy: another checkpoint runs; the next one catches up). */
static int checkpoint_passive(struct sqlite_store *ss)
{
    int rc = sqlite3_wal_checkpoint_v2(ss->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return WEFT_OK;
    return sqlite_fail(ss, "checkpoint");
}

static void *ckpt_main(void *arg)
{
    struct sqlite_ckpt *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += CKPT_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->cv, &k->mu, &until);
        pthread_mutex_unlock(&k->mu);
        if (checkpoint_passive(sqlite_of(k->s)) != 0)
            log_warn("store", "checkpoint failed: %s", store_errmsg(k->s));
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int sqlite_writer(struct store *s)
{
    struct sqlite_store *ss = sqlite_of(s);
    if (ss->ckpt)
        return WEFT_OK;
    struct sqlite_ckpt *k = xcalloc(1, sizeof *k);
    char *err = NULL;
    int rc = sqlite_store_open(&k->s, ss->path, false, &err);
    if (rc != 0) {
        rc = store_fail(s, rc, "checkpointer: %s", err ? err : "cannot open the database");
        free(err);
        free(k);
        return rc;
    }
    if (sqlite3_wal_autocheckpoint(ss->db, 0) != SQLITE_OK) {
        store_close(k->s);
        free(k);
        return sqlite_fail(ss, "checkpoint");
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
        sqlite3_wal_autocheckpoint(ss->db, 1000);
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        store_close(k->s);
        free(k);
        return store_fail(s, WEFT_EINTERNAL, "cannot start the checkpointer thread");
    }
    ss->ckpt = k;
    return WEFT_OK;
}

void sqlite_writer_stop(struct sqlite_store *ss)
{
    struct sqlite_ckpt *k = ss->ckpt;
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    checkpoint_passive(sqlite_of(k->s)); /* the last batches' frames */
    store_close(k->s);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
    ss->ckpt = NULL;
}
