/*
 * refresh_serve.c - `weft analytics refresh` on a schedule inside `weft
 * serve` (refresh_serve.h): with --analytics-refresh SECONDS, a thread
 * recomputes and stores every secondary output's figures (analytics_refresh:
 * the default windows ending today, inpatients now, and every window stored)
 * that many seconds after the previous refresh ended, the first one that long
 * after start.  Off by default (0): the figures are then refreshed by the
 * command (cron) or by a page's first view of a window.  A refresh refused by
 * the opt-out gate (no list in force, or an expired one) stores nothing and
 * is logged; the next one tries again.  Several nodes on one PostgreSQL
 * database: only the node holding the job's lock runs it (store_job_lock).
 */
#include "analytics/refresh_serve.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "analytics/incr.h"
#include "analytics/refresh.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/opt.h"
#include "core/ticker.h"
#include "http/serve.h"
#include "store/analytics.h"
#include "store/store.h"

struct refresh_timer {
    struct ticker *ticker;
    long interval_s;
    char *db;
    struct store *rd, *lk;
};

static void run_once(struct store *s)
{
    struct analytics_refresh_options o = {.by = "serve:analytics-refresh"};
    struct store_analytics_result *done = NULL;
    int n = 0;
    char e[1024];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct incr_stats st;
    int rc = analytics_refresh(s, &o, &done, &n, &st, e, sizeof e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    metrics_add("weft_job_runs_total",
                rc == 0 ? "job=\"analytics-refresh\",result=\"ok\""
                        : "job=\"analytics-refresh\",result=\"failed\"",
                1);
    if (rc)
        log_warn("analytics", "analytics refresh: %s", e);
    else
        log_info("analytics", "analytics refresh: outputs=%d mode=%s persons=%lld seconds=%.1f", n,
                 st.incremental ? "incremental" : "full", (long long)st.persons,
                 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    store_analytics_results_free(done, n);
}

static int refresh_open(void *arg)
{
    struct refresh_timer *t = arg;
    char *err = NULL;
    if (store_open(&t->rd, t->db, false, &err) != 0 ||
        store_open(&t->lk, t->db, false, &err) != 0) {
        log_error("analytics", "cannot open the store: %s", err ? err : "error");
        free(err);
        return -1;
    }
    return 0;
}

static long refresh_tick(void *arg)
{
    struct refresh_timer *t = arg;
    bool mine = true;
    if (store_job_lock(t->lk, "analytics-refresh", &mine) == 0 && mine)
        run_once(t->rd);
    /* else another node sharing the store runs it */
    return t->interval_s * 1000L;
}

static void refresh_close(void *arg)
{
    struct refresh_timer *t = arg;
    store_close(t->lk);
    store_close(t->rd);
    t->lk = t->rd = NULL;
}

int analytics_refresh_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    long secs = 0;
    if (opts_get_long(ctx->opts, "analytics-refresh", 0, &secs) != 0 || secs < 0 ||
        secs > 366L * 86400) {
        fprintf(stderr, "weft serve: --analytics-refresh must be 0-31622400 seconds\n");
        return WEFT_EINVAL;
    }
    if (secs == 0)
        return 0;
    struct refresh_timer *t = xcalloc(1, sizeof *t);
    t->interval_s = secs;
    t->db = xstrdup(ctx->db);
    struct ticker_job job = {"weft-analytics", refresh_open, refresh_tick, refresh_close, t,
                             secs * 1000L};
    if (ticker_start(&t->ticker, &job) != 0) {
        fprintf(stderr, "weft serve: cannot start the analytics refresh\n");
        free(t->db);
        free(t);
        return WEFT_EINTERNAL;
    }
    *state = t;
    return 0;
}

void analytics_refresh_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct refresh_timer *t = state;
    if (!t)
        return;
    ticker_stop(t->ticker);
    free(t->db);
    free(t);
}
