/*
 * anchor.c - writing and checking anchors of the audit chain's head outside
 * the database (anchor.h).  The file is only ever appended to, one line per
 * anchor, each written with one write() on an O_APPEND descriptor and
 * fsynced, so concurrent writers never interleave and a crash loses at most
 * the line being written (a torn last line is reported, not ignored).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit/anchor.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/metrics.h"
#include "core/opt.h"
#include "core/ticker.h"
#include "http/serve.h"
#include "store/audit.h"
#include "store/store.h"

int audit_anchor_line(struct store *s, char *out, size_t cap, int64_t *seq_out)
{
    int64_t seq = 0, rows = 0;
    unsigned char h[32];
    int rc = store_audit_head(s, &seq, h, &rows);
    if (rc)
        return rc;
    char hx[65], now[32];
    hex_encode(h, 32, hx);
    audit_now(now);
    int n = snprintf(out, cap, "weft-audit-anchor 1 %s seq=%lld rows=%lld hash=%s\n", now,
                     (long long)seq, (long long)rows, hx);
    if (seq_out)
        *seq_out = seq;
    return n > 0 && (size_t)n < cap ? WEFT_OK : WEFT_ETOOBIG;
}

int audit_anchor_write(struct store *s, const char *path, char *err, size_t errlen)
{
    char line[256];
    int rc = audit_anchor_line(s, line, sizeof line, NULL);
    if (rc) {
        snprintf(err, errlen, "reading the audit head: %s", store_errmsg(s));
        return rc;
    }
    if (strcmp(path, AUDIT_ANCHOR_SYSLOG) == 0) {
        line[strcspn(line, "\n")] = 0;
        syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
        return WEFT_OK;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return WEFT_EIO;
    }
    size_t len = strlen(line);
    ssize_t w = write(fd, line, len);
    int bad = w != (ssize_t)len || fsync(fd) != 0;
    if (bad)
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    close(fd);
    return bad ? WEFT_EIO : WEFT_OK;
}

/* ---- checking ------------------------------------------------------------------------ */
struct one {
    bool found;
    unsigned char hash[32];
};

static int got_row(const struct store_audit_row *r, void *ctx)
{
    struct one *o = ctx;
    o->found = true;
    memcpy(o->hash, r->hash, 32);
    return 0;
}

static bool unhex(const char *s, unsigned char out[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return false;
        }
        out[i] = (unsigned char)v;
    }
    return s[64] == 0;
}

int audit_anchor_check(const char *url, const char *path, struct audit_anchor_result *res)
{
    memset(res, 0, sizeof *res);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(res->problem, sizeof res->problem, "cannot read the anchor file '%s': %s", path,
                 strerror(errno));
        return WEFT_EIO;
    }
    struct store *s = NULL;
    char *err = NULL;
    int rc = store_open(&s, url, false, &err);
    if (rc) {
        snprintf(res->problem, sizeof res->problem, "cannot open the store: %s", err ? err : "");
        free(err);
        fclose(f);
        return rc;
    }
    int64_t head_seq = 0, head_rows = 0;
    unsigned char head_hash[32];
    if ((rc = store_audit_head(s, &head_seq, head_hash, &head_rows)) != 0) {
        snprintf(res->problem, sizeof res->problem, "reading the audit head: %s", store_errmsg(s));
        goto out;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        bool complete = l > 0 && line[l - 1] == '\n';
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        /* a syslog copy may carry a prefix: take the anchor from its marker on */
        char *a = strstr(line, "weft-audit-anchor ");
        char when[40], hx[80];
        long long seq = 0, rows = 0;
        unsigned char h[32];
        if (!complete || !a ||
            sscanf(a, "weft-audit-anchor 1 %39s seq=%lld rows=%lld hash=%79s", when, &seq, &rows,
                   hx) != 4 ||
            seq < 0 || rows < 0 || !unhex(hx, h)) {
            snprintf(res->problem, sizeof res->problem,
                     "%s line %d is not an anchor line (weft-audit-anchor 1 TIME seq=N rows=N "
                     "hash=HEX)",
                     path, lineno);
            rc = WEFT_EPARSE;
            goto out;
        }
        res->anchors++;
        if (seq >= res->newest_seq) {
            res->newest_seq = seq;
            snprintf(res->newest_time, sizeof res->newest_time, "%s", when);
        }
        if (seq == 0)
            continue;
        struct one o = {0};
        if ((rc = store_audit_scan(s, seq, seq, got_row, &o)) != 0) {
            snprintf(res->problem, sizeof res->problem, "reading entry %lld: %s", seq,
                     store_errmsg(s));
            goto out;
        }
        if (!o.found || head_seq < seq) {
            snprintf(res->problem, sizeof res->problem,
                     "entry %lld, anchored on %s, is missing: the log was truncated to %lld "
                     "entries (the head was rewritten to match)",
                     seq, when, (long long)head_seq);
            rc = WEFT_ECONFLICT;
            goto out;
        }
        if (memcmp(o.hash, h, 32) != 0) {
            snprintf(res->problem, sizeof res->problem,
                     "entry %lld does not match its anchor of %s: the log up to it was rewritten",
                     seq, when);
            rc = WEFT_ECONFLICT;
            goto out;
        }
        if (head_rows < rows) {
            snprintf(res->problem, sizeof res->problem,
                     "the log holds %lld entries but held %lld when anchored on %s",
                     (long long)head_rows, rows, when);
            rc = WEFT_ECONFLICT;
            goto out;
        }
    }
    if (res->anchors == 0) {
        snprintf(res->problem, sizeof res->problem, "%s holds no anchor line", path);
        rc = WEFT_EPARSE;
    }
out:
    store_close(s);
    fclose(f);
    return rc;
}

/* ---- the serve part ------------------------------------------------------------------ */
struct anchorer {
    struct ticker *ticker;
    long interval;
    char *db, *path;
    struct store *s;
    int64_t last; /* the audit head last anchored (-1: none yet) */
};

static void anchor_now(struct store *s, const char *path, int64_t *last)
{
    /* several nodes on one PostgreSQL database: one of them anchors (the
     * one holding the job's lock, store_job_lock), the others stand by */
    bool mine = false;
    if (store_job_lock(s, "audit-anchor", &mine) != 0 || !mine)
        return;
    int64_t seq = 0, rows = 0;
    unsigned char h[32];
    if (store_audit_head(s, &seq, h, &rows) != 0) {
        metrics_add("weft_job_runs_total", "job=\"audit-anchor\",result=\"failed\"", 1);
        return;
    }
    if (seq == *last) { /* nothing audited since the last anchor */
        metrics_add("weft_job_runs_total", "job=\"audit-anchor\",result=\"ok\"", 1);
        return;
    }
    char err[300];
    if (audit_anchor_write(s, path, err, sizeof err) != 0) {
        fprintf(stderr, "weft serve: audit anchor: %s\n", err);
        metrics_add("weft_job_runs_total", "job=\"audit-anchor\",result=\"failed\"", 1);
    } else {
        *last = seq;
        metrics_add("weft_job_runs_total", "job=\"audit-anchor\",result=\"ok\"", 1);
    }
}

static int anchor_open(void *arg)
{
    struct anchorer *a = arg;
    char *err = NULL;
    if (store_open(&a->s, a->db, false, &err) != 0) {
        fprintf(stderr, "weft serve: audit anchor cannot open the store: %s\n", err ? err : "");
        free(err);
        return -1;
    }
    a->last = -1;
    return 0;
}

static long anchor_tick(void *arg)
{
    struct anchorer *a = arg;
    anchor_now(a->s, a->path, &a->last);
    return a->interval * 1000L;
}

/* The final anchor, after the HTTP server and the parts after this one have
 * stopped (the audit log itself is flushed by serve before exit; what it
 * commits later is covered by the chain and the next anchor). */
static void anchor_close(void *arg)
{
    struct anchorer *a = arg;
    if (!a->s)
        return;
    a->last = -1;
    anchor_now(a->s, a->path, &a->last);
    store_close(a->s);
    a->s = NULL;
}

int audit_anchor_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    const char *path = opts_get(ctx->opts, "audit-anchor");
    long interval = 300;
    if (opts_get_long(ctx->opts, "audit-anchor-interval", 300, &interval) != 0 || interval < 1 ||
        interval > 86400) {
        fprintf(stderr, "weft serve: --audit-anchor-interval must be 1-86400 seconds\n");
        return WEFT_EINVAL;
    }
    if (!path || !*path)
        return 0;
    if (strcmp(path, AUDIT_ANCHOR_SYSLOG) != 0) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "weft serve: --audit-anchor: cannot open '%s': %s\n", path,
                    strerror(errno));
            return WEFT_EIO;
        }
        close(fd);
    }
    struct anchorer *a = xcalloc(1, sizeof *a);
    a->interval = interval;
    a->db = xstrdup(ctx->db);
    a->path = xstrdup(path);
    struct ticker_job job = {"weft-anchor", anchor_open, anchor_tick, anchor_close, a, 0};
    if (ticker_start(&a->ticker, &job) != 0) {
        fprintf(stderr, "weft serve: cannot start the audit anchor\n");
        free(a->db);
        free(a->path);
        free(a);
        return WEFT_EINTERNAL;
    }
    *state = a;
    return 0;
}

void audit_anchor_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct anchorer *a = state;
    if (!a)
        return;
    ticker_stop(a->ticker);
    free(a->db);
    free(a->path);
    free(a);
}
