/*
 * ticker.c - a job run again and again on a thread of its own (ticker.h).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/ticker.h"

struct ticker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct ticker_job job;
};

/* Wait ms (or until stopped) with t->mu held; returns whether to go on. */
static bool wait_ms(struct ticker *t, long ms)
{
    if (ms > 0 && !t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
            ; /* woken early (stop, or spuriously): look at the flag again */
    }
    return !t->stop;
}

static void *ticker_main(void *arg)
{
    struct ticker *t = arg;
    const struct ticker_job *j = &t->job;
    if (!j->open || j->open(j->ctx) == 0) {
        pthread_mutex_lock(&t->mu);
        bool go = wait_ms(t, j->first_wait_ms);
        while (go) {
            pthread_mutex_unlock(&t->mu);
            long next = j->run(j->ctx);
            pthread_mutex_lock(&t->mu);
            go = next >= 0 && wait_ms(t, next);
        }
        pthread_mutex_unlock(&t->mu);
    }
    if (j->close)
        j->close(j->ctx);
    return NULL;
}

int ticker_start(struct ticker **out, const struct ticker_job *job)
{
    *out = NULL;
    struct ticker *t = xcalloc(1, sizeof *t);
    t->job = *job;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->th, NULL, ticker_main, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return -1;
    }
    if (job->name) {
        char name[16];
        snprintf(name, sizeof name, "%s", job->name);
        pthread_setname_np(t->th, name);
    }
    *out = t;
    return 0;
}

void ticker_stop(struct ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
