/*
 * ticker.h - a job run again and again on a thread of its own, with a wait
 * between runs that stopping interrupts: the schedules of `weft serve` (the
 * data-quality run, the audit anchor, the drop-folder watcher, ...) are each
 * a ticker_job, so the thread, the lock, the condition variable, the stop
 * flag and the timed wait are written once, here.
 *
 * The job's functions run on the ticker's thread, one at a time and never
 * while ticker_stop holds the lock: open once first, then run until it asks
 * to end or the ticker is stopped, then close once (also after open failed),
 * so a job keeps its own connections to itself and may do a last run on the
 * way out.
 */
#ifndef WEFT_CORE_TICKER_H
#define WEFT_CORE_TICKER_H

struct ticker;

struct ticker_job {
    const char *name; /* the thread's name (at most 15 bytes shown) */
    /* Before the first run: 0, or nonzero to end at once (close still runs). */
    int (*open)(void *ctx);
    /* One run: milliseconds to wait before the next, or negative to end. */
    long (*run)(void *ctx);
    /* After the last run, on stop or end; may be NULL. */
    void (*close)(void *ctx);
    void *ctx;
    long first_wait_ms; /* before the first run; 0 runs at once */
};

/* Start the job's thread: 0, or -1 when no thread could be made. */
int ticker_start(struct ticker **out, const struct ticker_job *job);
/* Interrupt any wait, let a run in progress finish, wait for close; frees
 * the ticker (not the job's ctx).  NULL is ignored. */
void ticker_stop(struct ticker *t);

#endif
