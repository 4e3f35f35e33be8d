/*
 * report.c - data-quality reports from the kept runs (dq.h): scores per
 * dimension and overall, each check's pass rate against its threshold, the
 * trend over earlier runs, and the failing records as CSV.
 *
 * Scoring (docs/DATA_QUALITY.md): a check's pass rate is 1 - failed/tested
 * (feed-lag rows of one organisation are summed first); a dimension's score
 * is the mean pass rate of its checks that tested anything, as a percentage;
 * the overall score is the mean of the dimension scores that exist, in the
 * manner of the NHS Data Quality Maturity Index (an unweighted mean of
 * items, each the share of valid and complete values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "dq/dq.h"
#include "store/dq.h"
#include "store/store.h"

void dq_csv_field(struct buf *b, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        buf_adds(b, s);
        return;
    }
    buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_addc(b, '"');
        buf_addc(b, *s);
    }
    buf_addc(b, '"');
}

struct agg {
    int64_t tested[DQ_NCHECKS], failed[DQ_NCHECKS];
    double threshold[DQ_NCHECKS];
    bool seen[DQ_NCHECKS];
    struct buf lag; /* feed-lag extras as a JSON array body */
};

static int agg_row(const struct store_dq_result *r, void *ctx)
{
    struct agg *a = ctx;
    int c = dq_check_by_name(r->check);
    if (c < 0)
        return 0;
    a->seen[c] = true;
    a->tested[c] += r->tested;
    a->failed[c] += r->failed;
    a->threshold[c] = r->threshold;
    if (r->extra) {
        if (a->lag.len)
            buf_addc(&a->lag, ',');
        buf_adds(&a->lag, r->extra);
    }
    return 0;
}

static void scores_of(const struct agg *a, struct dq_scores *sc)
{
    double sum = 0;
    int nd = 0;
    for (int d = 0; dq_dimensions[d]; d++) {
        double s = 0;
        int n = 0;
        for (int c = 0; c < DQ_NCHECKS; c++)
            if (a->seen[c] && a->tested[c] > 0 &&
                strcmp(dq_check_dimension(c), dq_dimensions[d]) == 0) {
                s += 1.0 - (double)a->failed[c] / (double)a->tested[c];
                n++;
            }
        sc->dims[d] = n ? 100.0 * s / n : -1;
        if (n) {
            sum += sc->dims[d];
            nd++;
        }
    }
    sc->overall = nd ? sum / nd : -1;
}

int dq_scores_get(struct store *s, int64_t run_id, const char *org, struct dq_scores *sc)
{
    struct agg a;
    memset(&a, 0, sizeof a);
    buf_init(&a.lag);
    int rc = store_dq_result_list(s, run_id, org, agg_row, &a);
    scores_of(&a, sc);
    buf_release(&a.lag);
    return rc;
}

static void num(struct buf *b, double v)
{
    if (v < 0)
        buf_adds(b, "null");
    else
        buf_addf(b, "%.2f", v);
}

int dq_report(struct store *s, const char *org, const char *format, int trend, struct buf *out,
              char *err, size_t errlen)
{
    struct store_dq_run *runs = NULL;
    int nr = 0;
    int rc = store_dq_run_list(s, org, trend > 0 ? trend : 1, &runs, &nr);
    if (rc != 0) {
        snprintf(err, errlen, "%s", store_errmsg(s));
        return rc;
    }
    if (nr == 0) {
        snprintf(err, errlen, "no finished data-quality run covers '%s' (run 'weft dq run')",
                 org ? org : "any organisation");
        free(runs);
        return WEFT_ENOTFOUND;
    }
    struct agg a;
    memset(&a, 0, sizeof a);
    buf_init(&a.lag);
    if ((rc = store_dq_result_list(s, runs[0].id, org, agg_row, &a)) != 0) {
        snprintf(err, errlen, "%s", store_errmsg(s));
        goto out;
    }
    struct dq_scores sc;
    scores_of(&a, &sc);
    bool json = strcmp(format, "json") == 0;
    if (json) {
        buf_adds(out, "{\"org\":\"");
        buf_add_json_str(out, org ? org : "", org ? strlen(org) : 0);
        buf_addf(out,
                 "\",\"run\":{\"id\":%lld,\"started\":\"%s\",\"finished\":\"%s\",\"as_of\":\"%s\","
                 "\"rules_sha256\":\"%s\"},\"overall\":",
                 (long long)runs[0].id, runs[0].started, runs[0].finished, runs[0].as_of,
                 runs[0].rules_sha256);
        num(out, sc.overall);
        buf_adds(out, ",\"dimensions\":{");
        for (int d = 0; dq_dimensions[d]; d++) {
            buf_addf(out, "%s\"%s\":", d ? "," : "", dq_dimensions[d]);
            num(out, sc.dims[d]);
        }
        buf_adds(out, "},\"checks\":[");
        bool first = true;
        for (int c = 0; c < DQ_NCHECKS; c++) {
            if (!a.seen[c])
                continue;
            double rate = a.tested[c] ? 1.0 - (double)a.failed[c] / (double)a.tested[c] : -1;
            buf_addf(out,
                     "%s{\"check\":\"%s\",\"dimension\":\"%s\",\"tested\":%lld,\"failed\":%lld,"
                     "\"pass_rate\":",
                     first ? "" : ",", dq_check_name(c), dq_check_dimension(c),
                     (long long)a.tested[c], (long long)a.failed[c]);
            if (rate < 0)
                buf_adds(out, "null");
            else
                buf_addf(out, "%.4f", rate);
            buf_addf(out, ",\"threshold\":%.4f,\"met\":%s}", a.threshold[c],
                     rate < 0                 ? "null"
                     : rate >= a.threshold[c] ? "true"
                                              : "false");
            first = false;
        }
        buf_addf(out, "],\"feed_lag\":[%s],\"trend\":[", a.lag.data ? a.lag.data : "");
        for (int i = nr - 1; i >= 0; i--) {
            struct dq_scores t;
            if ((rc = dq_scores_get(s, runs[i].id, org, &t)) != 0)
                goto out;
            buf_addf(out,
                     "%s{\"run\":%lld,\"finished\":\"%s\",\"overall\":", i == nr - 1 ? "" : ",",
                     (long long)runs[i].id, runs[i].finished);
            num(out, t.overall);
            for (int d = 0; dq_dimensions[d]; d++) {
                buf_addf(out, ",\"%s\":", dq_dimensions[d]);
                num(out, t.dims[d]);
            }
            buf_adds(out, "}");
        }
        buf_adds(out, "]}\n");
    } else {
        buf_adds(out,
                 "org,run,finished,kind,name,dimension,tested,failed,pass_rate,threshold,met\n");
        const char *o = org ? org : "";
#define ROWSTART()                                                                                 \
    do {                                                                                           \
        dq_csv_field(out, o);                                                                      \
        buf_addf(out, ",%lld,%s,", (long long)runs[0].id, runs[0].finished);                       \
    } while (0)
        ROWSTART();
        buf_adds(out, "score,overall,,,,");
        num(out, sc.overall);
        buf_adds(out, ",,\n");
        for (int d = 0; dq_dimensions[d]; d++) {
            ROWSTART();
            buf_addf(out, "score,%s,%s,,,", dq_dimensions[d], dq_dimensions[d]);
            num(out, sc.dims[d]);
            buf_adds(out, ",,\n");
        }
        for (int c = 0; c < DQ_NCHECKS; c++) {
            if (!a.seen[c])
                continue;
            double rate = a.tested[c] ? 1.0 - (double)a.failed[c] / (double)a.tested[c] : -1;
            ROWSTART();
            buf_addf(out, "check,%s,%s,%lld,%lld,", dq_check_name(c), dq_check_dimension(c),
                     (long long)a.tested[c], (long long)a.failed[c]);
            if (rate >= 0)
                buf_addf(out, "%.4f", rate);
            buf_addf(out, ",%.4f,%s\n", a.threshold[c],
                     rate < 0                 ? ""
                     : rate >= a.threshold[c] ? "yes"
                                              : "no");
        }
        for (int i = nr - 1; i >= 1; i--) {
            struct dq_scores t;
            if ((rc = dq_scores_get(s, runs[i].id, org, &t)) != 0)
                goto out;
            dq_csv_field(out, o);
            buf_addf(out, ",%lld,%s,trend,overall,,,,", (long long)runs[i].id, runs[i].finished);
            num(out, t.overall);
            buf_adds(out, ",,\n");
        }
#undef ROWSTART
    }
out:
    buf_release(&a.lag);
    store_dq_runs_free(runs, nr);
    return rc;
}

struct fctx {
    int (*write)(const char *, size_t, void *);
    void *ctx;
    struct buf b;
};

static int fail_row(const struct store_dq_failure *f, void *p)
{
    struct fctx *c = p;
    const char *v[] = {f->check,     f->dimension,        f->resource_type,
                       f->source_id, f->patient_local_id, f->message_control_id,
                       f->detail};
    for (int i = 0; i < 7; i++) {
        if (i)
            buf_addc(&c->b, ',');
        dq_csv_field(&c->b, v[i]);
    }
    buf_addc(&c->b, '\n');
    if (c->b.len >= 65536) {
        int rc = c->write(c->b.data, c->b.len, c->ctx);
        buf_reset(&c->b);
        return rc;
    }
    return 0;
}

int dq_failures_csv(struct store *s, const char *org, int (*write)(const char *, size_t, void *),
                    void *ctx, char *err, size_t errlen)
{
    struct store_dq_run *runs = NULL;
    int nr = 0;
    int rc = store_dq_run_list(s, org, 1, &runs, &nr);
    if (rc != 0) {
        snprintf(err, errlen, "%s", store_errmsg(s));
        return rc;
    }
    if (nr == 0) {
        snprintf(err, errlen, "no finished data-quality run covers '%s' (run 'weft dq run')",
                 org ? org : "any organisation");
        free(runs);
        return WEFT_ENOTFOUND;
    }
    struct fctx c = {write, ctx, BUF_INIT};
    buf_adds(&c.b, "check,dimension,resource_type,source_id,patient_local_id,message_control_id,"
                   "detail\n");
    rc = store_dq_failure_list(s, runs[0].id, org, fail_row, &c);
    if (rc == 0 && c.b.len)
        rc = write(c.b.data, c.b.len, ctx);
    else if (rc != 0)
        snprintf(err, errlen, "%s", store_errmsg(s));
    buf_release(&c.b);
    store_dq_runs_free(runs, nr);
    return rc;
}
