/*
 * dq_serve.c - the daily data-quality run inside `weft serve` (the "dq"
 * part): a thread that runs every organisation's checks (dq.h) once the
 * interval has passed since the newest finished run (default 24 hours; the
 * first run comes one interval after start when the store has none, so a
 * fresh server does not spend its first minute on it), and keeps the
 * results like `weft dq run`.  Options: --dq-interval HOURS (0: off),
 * --dq-rules FILE.  Several nodes on one PostgreSQL database: only the node
 * holding the job's lock runs it (store_job_lock), so it runs once per
 * schedule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/opt.h"
#include "core/ticker.h"
#include "dq/check.h"
#include "dq/dq.h"
#include "dq/dq_serve.h"
#include "http/serve.h"
#include "store/dq.h"
#include "store/store.h"

struct dq_timer {
    struct ticker *ticker;
    long interval_s;
    char *db;
    struct dq_rules rules;
    struct store *rd, *wr;
};

/* Seconds since the newest finished run, or -1 when there is none. */
static long since_last(struct store *s)
{
    struct store_dq_run *r = NULL;
    int n = 0;
    long age = -1;
    if (store_dq_run_list(s, NULL, 1, &r, &n) == 0 && n == 1 && r[0].finished) {
        int64_t day;
        int hh = 0, mm = 0, ss = 0;
        if (dq_day_number(r[0].finished, &day) &&
            sscanf(r[0].finished + 10, "T%2d:%2d:%2d", &hh, &mm, &ss) == 3)
            age = (long)(time(NULL) - (time_t)(((day * 24 + hh) * 60 + mm) * 60 + ss));
    }
    store_dq_runs_free(r, n);
    return age;
}

static int dq_open(void *arg)
{
    struct dq_timer *t = arg;
    char *err = NULL;
    if (store_open(&t->rd, t->db, false, &err) != 0 ||
        store_open(&t->wr, t->db, false, &err) != 0) {
        log_error("dq", "cannot open the store: %s", err ? err : "error");
        free(err);
        return -1;
    }
    return 0;
}

/* One look at the schedule: the run when it is due and this node holds the
 * job; the wait until the next look (at least hourly). */
static long dq_tick(void *arg)
{
    struct dq_timer *t = arg;
    long age = since_last(t->rd);
    long wait = age < 0 ? t->interval_s : t->interval_s - age;
    bool mine = true;
    if (wait <= 0 && (store_job_lock(t->wr, "dq-run", &mine) != 0 || !mine)) {
        /* another node sharing the store runs the schedule (store.h
         * store_job_lock); look again later, in case it stops */
        wait = t->interval_s < 600 ? t->interval_s : 600;
    } else if (wait <= 0) {
        struct dq_options o = {NULL, NULL, &t->rules};
        struct dq_summary sum;
        char e[512];
        int rc = dq_run(t->rd, t->wr, &o, &sum, e, sizeof e);
        metrics_add("weft_job_runs_total",
                    rc == 0 ? "job=\"dq-run\",result=\"ok\"" : "job=\"dq-run\",result=\"failed\"",
                    1);
        if (rc != 0)
            log_warn("dq", "data-quality run failed: %s", e);
        else
            log_info("dq", "data-quality run %lld: items=%lld failures=%lld seconds=%.1f",
                     (long long)sum.run_id, (long long)sum.items, (long long)sum.failures,
                     sum.seconds);
        wait = t->interval_s;
    }
    return (wait < 3600 ? wait : 3600) * 1000L; /* look again at least hourly */
}

static void dq_close(void *arg)
{
    struct dq_timer *t = arg;
    store_close(t->wr);
    store_close(t->rd);
    t->wr = t->rd = NULL;
}

int dq_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    long hours = 24;
    if (opts_get_long(ctx->opts, "dq-interval", 24, &hours) != 0 || hours < 0 || hours > 24 * 366) {
        fprintf(stderr, "weft serve: --dq-interval must be 0-8784 hours\n");
        return WEFT_EINVAL;
    }
    if (hours == 0)
        return 0;
    struct dq_timer *t = xcalloc(1, sizeof *t);
    char e[512];
    const char *given = opts_get(ctx->opts, "dq-rules");
    int rc = dq_rules_load(given, &t->rules, e, sizeof e);
    if (rc == WEFT_ENOTFOUND && !given) {
        /* no rules file installed and none named: serve without the schedule */
        log_warn("dq", "%s: the daily data-quality run is off", e);
        free(t);
        return 0;
    }
    if (rc != 0) { /* a named file missing, or a file with a mistake: refuse to start */
        fprintf(stderr, "weft serve: data-quality rules: %s\n", e);
        free(t);
        return WEFT_EINVAL;
    }
    t->interval_s = hours * 3600;
    t->db = xstrdup(ctx->db);
    struct ticker_job job = {"weft-dq", dq_open, dq_tick, dq_close, t, 0};
    if (ticker_start(&t->ticker, &job) != 0) {
        fprintf(stderr, "weft serve: cannot start the data-quality schedule\n");
        dq_rules_free(&t->rules);
        free(t->db);
        free(t);
        return WEFT_EINTERNAL;
    }
    *state = t;
    return 0;
}

void dq_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct dq_timer *t = state;
    if (!t)
        return;
    ticker_stop(t->ticker);
    dq_rules_free(&t->rules);
    free(t->db);
    free(t);
}
