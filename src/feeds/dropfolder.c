/*
 * dropfolder.c - CSV drop-folder passes and the watcher thread of
 * `weft serve` (dropfolder.h).
 *
 * Polling rather than inotify: folders are often network shares where
 * inotify sees nothing, the interval (seconds) is far below any extract
 * schedule (daily, hourly), and a pass over an empty folder costs one
 * readdir.  Files are taken in name order so that a people extract sorts
 * before files that refer to its people when senders number them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "core/metrics.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "core/ticker.h"
#include "feeds/dropfolder.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/socialcare.h"
#include "http/serve.h"
#include "store/feeds.h"
#include "store/store.h"

bool dropfolder_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 5 || name[0] == '.' || strcasecmp(name + n - 4, ".csv") != 0)
        return false;
    return socialcare_kind_from_filename(name) != SOCIALCARE_UNKNOWN;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_folder(struct store *s, struct ingest *ig, const struct store_feed *f, int min_age,
                      struct dropfolder_stats *st)
{
    DIR *d = opendir(f->folder);
    if (!d) {
        log_warn("drop", "cannot open drop folder feed=%s: %s", f->name, strerror(errno));
        st->errors++;
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    time_t now = time(NULL);
    int rc = 0;
    struct buf path = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        buf_reset(&path);
        buf_addf(&path, "%s/%s", f->folder, names[i]);
        struct stat sb;
        if (rc != 0 || lstat(path.data, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (!dropfolder_name_ok(names[i])) {
            st->ignored++;
            continue;
        }
        if (now - sb.st_mtime < min_age)
            continue; /* possibly still being written: next pass */
        struct ingest_result r;
        ingest_result_init(&r);
        int frc = ingest_csv_file(ig, f->id, path.data, &r);
        if (frc == WEFT_ECONFLICT || frc == WEFT_ENOTFOUND) {
            /* another processor has it, or has just finished it */
            st->claimed_elsewhere++;
            ingest_result_release(&r);
            continue;
        }
        st->files++;
        if (frc == WEFT_EDB || frc == WEFT_EBUSY)
            rc = frc;
        else if (frc != 0)
            st->errors++;
        else if (strcmp(r.outcome, INBOX_APPLIED) == 0)
            st->applied++;
        else if (strcmp(r.outcome, INBOX_PARTIAL) == 0)
            st->partial++;
        else
            st->rejected++;
        ingest_result_release(&r);
    }
    buf_release(&path);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    (void)s;
    return rc;
}

int dropfolder_run_once(struct store *s, const char *only_feed, int min_age,
                        struct dropfolder_stats *st)
{
    struct store_feed *fs = NULL;
    int n = 0;
    int rc = store_feed_list(s, &fs, &n);
    if (rc != 0)
        return rc;
    struct ingest *ig = ingest_new(s);
    bool found = false;
    for (int i = 0; i < n && rc == 0; i++) {
        if (strcmp(fs[i].kind, "csv") != 0 || !fs[i].folder)
            continue;
        if (only_feed && strcmp(only_feed, fs[i].name) != 0)
            continue;
        found = true;
        st->feeds++;
        rc = run_folder(s, ig, &fs[i], min_age, st);
    }
    ingest_free(ig);
    for (int i = 0; i < n; i++)
        store_feed_clear(&fs[i]);
    free(fs);
    if (rc == 0 && only_feed && !found)
        return WEFT_ENOTFOUND;
    return rc;
}

/* ---- the watcher ----------------------------------------------------------------------- */

struct watcher {
    struct ticker *ticker;
    long interval;
    char *db;
    struct store *s;
};

static int watch_open(void *arg)
{
    struct watcher *w = arg;
    char *err = NULL;
    if (store_open(&w->s, w->db, false, &err) != 0) {
        log_error("drop", "watcher cannot open the store: %s", err ? err : "error");
        free(err);
        return -1;
    }
    return 0;
}

static long watch_tick(void *arg)
{
    struct watcher *w = arg;
    struct dropfolder_stats st = {0};
    int rc = dropfolder_run_once(w->s, NULL, DROPFOLDER_MIN_AGE, &st);
    metrics_add("weft_job_runs_total",
                rc == 0 ? "job=\"drop-pass\",result=\"ok\"" : "job=\"drop-pass\",result=\"failed\"",
                1);
    if (rc != 0)
        log_warn("drop", "pass failed: %s (%s)", weft_strerror(rc), store_errmsg(w->s));
    else if (st.files)
        log_info("drop", "pass files=%zu applied=%zu partial=%zu rejected=%zu errors=%zu", st.files,
                 st.applied, st.partial, st.rejected, st.errors);
    return w->interval * 1000L;
}

static void watch_close(void *arg)
{
    struct watcher *w = arg;
    store_close(w->s);
    w->s = NULL;
}

int drop_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    long interval = 2;
    if (opts_get_long(ctx->opts, "drop-interval", 2, &interval) != 0 || interval < 0 ||
        interval > 86400) {
        fprintf(stderr, "weft serve: --drop-interval must be 0-86400 seconds\n");
        return WEFT_EINVAL;
    }
    if (interval == 0)
        return 0;
    struct watcher *w = xcalloc(1, sizeof *w);
    w->interval = interval;
    w->db = xstrdup(ctx->db);
    struct ticker_job job = {"weft-drop", watch_open, watch_tick, watch_close, w, 0};
    if (ticker_start(&w->ticker, &job) != 0) {
        fprintf(stderr, "weft serve: cannot start the drop-folder watcher\n");
        free(w->db);
        free(w);
        return WEFT_EINTERNAL;
    }
    *state = w;
    return 0;
}

void drop_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct watcher *w = state;
    if (!w)
        return;
    ticker_stop(w->ticker);
    free(w->db);
    free(w);
}
