/*
 * bench_web.c - server time to render the clinician's pages (src/web/) for
 * one patient, without the HTTP layer: the same web_view() the route handler
 * calls, so each timing includes the authorisation decision, every scoped
 * store query, JSON parsing, HTML building and the (group-commit) audit
 * append.
 *
 *   bench_web --file BUNDLE.json [--runs N] [--db PATH] [--html-dir DIR] [--page NAME]
 *
 * Loads BUNDLE (a Synthea transaction bundle) through the real loading
 * pipeline into a fresh SQLite store, installs the shipped access policy,
 * registers the organisation with an agreement, and renders the summary,
 * the timeline, every category page with data, a chart and an item page as
 * a Clinical Practitioner (R8000) launched on that patient.  Prints one line
 * per page: median, p95 and max milliseconds over N runs, and the page
 * size.  With --html-dir it writes each page's HTML there for inspection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/policy.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "fhir/load.h"
#include "http/server.h"
#include "store/access.h"
#include "store/records.h"
#include "store/store.h"
#include "web/web.h"

#define ORG "A81001"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of this thread: unaffected by other processes on a shared
 * machine (the audit writer thread's work is not counted). */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_add(&b, tmp, n);
    fclose(f);
    return buf_detach(&b, len);
}

struct page {
    const char *name; /* route page parameter, NULL = summary */
    const char *args; /* query string */
    const char *type, *rid;
};

int main(int argc, char **argv)
{
    const char *file = NULL, *db = NULL, *html_dir = NULL, *only = NULL;
    int runs = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--html-dir") && i + 1 < argc)
            html_dir = argv[++i];
        else if (!strcmp(argv[i], "--page") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_web --file BUNDLE.json [--runs N] [--db PATH] "
                            "[--html-dir DIR] [--page NAME]\n");
            return 2;
        }
    }
    if (!file || runs < 1) {
        fprintf(stderr, "bench_web: --file is required\n");
        return 2;
    }
    char dbpath[512];
    snprintf(dbpath, sizeof dbpath, "%s", db ? db : "/tmp/weft-bench-web.db");
    if (!db) {
        remove(dbpath);
    }
    struct store *s = NULL;
    char *msg = NULL;
    int from, to;
    if (store_open(&s, dbpath, true, &msg) != 0 || store_migrate(s, &from, &to) != 0) {
        fprintf(stderr, "bench_web: cannot create store %s: %s\n", dbpath, msg ? msg : "");
        return 1;
    }
    size_t plen;
    const char *root = getenv("WEFT_ROOT");
    char ppath[512];
    snprintf(ppath, sizeof ppath, "%s/policy/default.policy", root ? root : ".");
    char *ptext = read_all(ppath, &plen);
    if (!ptext || policy_install(s, ptext, plen, "bench", NULL, &msg) != 0) {
        fprintf(stderr, "bench_web: cannot install policy %s: %s\n", ppath, msg ? msg : "");
        return 1;
    }
    free(ptext);
    store_org_put(s, ORG, "Bench Practice", "gp");
    int64_t aid;
    store_agreement_add(s, ORG, "jca", "2020-01-01", NULL, &aid);

    struct load_ctx lc = {.org = ORG, .feed = "bench"};
    struct load_report rep;
    load_report_init(&rep);
    double t0 = now_ms();
    int rc = fhir_load_file(s, file, &lc, &rep);
    struct load_type_count sum;
    load_report_total(&rep, &sum);
    printf("loaded %s: %ld stored, %ld not shareable, %ld rejected in %.0f ms\n", file, sum.stored,
           sum.not_shareable, rep.rejected, now_ms() - t0);
    load_report_free(&rep);
    if (rc != 0) {
        fprintf(stderr, "bench_web: load failed: %s\n", weft_strerror(rc));
        return 1;
    }
    struct store_query q = {.type = "Patient", .limit = 1};
    struct store_result r = {0};
    if (store_search(s, &q, &r) != 0 || r.nrows != 1 || !r.rows[0].person_id) {
        fprintf(stderr, "bench_web: no linked Patient after load\n");
        return 1;
    }
    char *person = xstrdup(r.rows[0].person_id);
    store_result_clear(&r);
    /* An item and a chart code for the item and chart pages. */
    struct store_query qo = {
        .person_id = person, .type = "Observation", .limit = 1, .sort = STORE_SORT_DATE_DESC};
    store_search(s, &qo, &r);
    char *obs_id = r.nrows ? xstrdup(r.rows[0].id) : xstrdup("none");
    store_result_clear(&r);
    struct store_query qc = {.person_id = person, .type = "CarePlan", .limit = 1};
    store_search(s, &qc, &r);
    char *cp_id = r.nrows ? xstrdup(r.rows[0].id) : xstrdup(obs_id);
    const char *cp_type = r.nrows ? "CarePlan" : "Observation";
    store_result_clear(&r);

    struct audit_log *alog = NULL;
    if (audit_log_open(&alog, dbpath) != 0) {
        fprintf(stderr, "bench_web: cannot open audit log\n");
        return 1;
    }
    struct web *w, *wc;
    audit_set_log(alog); /* as weft serve's audit part does */
    struct web_config cfg = {.cache_entries = -1};
    web_init(&w, &cfg);
    cfg.cache_entries = 0; /* default cache */
    web_init(&wc, &cfg);

    struct principal p = {.kind = PRINCIPAL_USER,
                          .user_id = "555555555555",
                          .user_name = "Bench Clinician",
                          .role = "R8000",
                          .org = ORG,
                          .launcher = "bench",
                          .purpose = "TREAT",
                          .person_id = person};
    const struct page pages[] = {
        {NULL, "", NULL, NULL},         {"timeline", "", NULL, NULL},
        {"conditions", "", NULL, NULL}, {"medications", "", NULL, NULL},
        {"allergies", "", NULL, NULL},  {"encounters", "", NULL, NULL},
        {"procedures", "", NULL, NULL}, {"immunisations", "", NULL, NULL},
        {"results", "", NULL, NULL},    {"observations", "", NULL, NULL},
        {"documents", "", NULL, NULL},  {"chart", "m=hba1c", NULL, NULL},
        {"chart", "m=bp", NULL, NULL},  {NULL, "", "Observation", obs_id},
        {NULL, "", cp_type, cp_id},
    };
    printf("server time per page view in ms: median/p95/max wall clock and median CPU time of "
           "the rendering thread with the page cache off (every query and the whole page made "
           "again); cached-med = the same view served from the page cache (authorisation and "
           "audit still per view)\n");
    printf("%-24s %8s %8s %8s %8s %10s %8s %6s\n", "page", "median", "p95", "max", "cpu-med",
           "cached-med", "bytes", "status");
    double *ms = xcalloc((size_t)runs, sizeof *ms);
    double *cpu = xcalloc((size_t)runs, sizeof *cpu);
    int worst = 0;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        const struct page *pg = &pages[i];
        const char *pname = pg->type ? pg->type : pg->name ? pg->name : "summary";
        if (only && strcmp(only, pname) != 0)
            continue;
        struct http_req req;
        memset(&req, 0, sizeof req);
        req.method = "GET";
        req.request_id = "bench";
        char path[256];
        snprintf(path, sizeof path, "/patient/%s%s%s", person, pg->name ? "/" : "",
                 pg->name ? pg->name : "");
        req.path = path;
        req.query = pg->args;
        req.params[0] = (struct url_kv){"id", person};
        req.nparams = 1;
        if (pg->name)
            req.params[req.nparams++] = (struct url_kv){"page", (char *)pg->name};
        if (pg->type) {
            req.params[req.nparams++] = (struct url_kv){"type", (char *)pg->type};
            req.params[req.nparams++] = (struct url_kv){"rid", (char *)pg->rid};
        }
        struct url_kv *args = NULL;
        int nargs = 0;
        url_query_parse(pg->args, strlen(pg->args), &args, &nargs, 16);
        req.args = args;
        req.nargs = nargs;
        req.principal = p;
        struct buf out = BUF_INIT;
        int status = 0;
        for (int k = 0; k < runs; k++) {
            double a = now_ms(), ca = cpu_ms();
            status = web_view(w, &req, s, &out);
            ms[k] = now_ms() - a;
            cpu[k] = cpu_ms() - ca;
        }
        qsort(ms, (size_t)runs, sizeof *ms, cmp_d);
        qsort(cpu, (size_t)runs, sizeof *cpu, cmp_d);
        double cmed = cpu[runs / 2];
        double med = ms[runs / 2], p95 = ms[(int)(runs * 0.95)], mx = ms[runs - 1];
        for (int k = 0; k < runs; k++) {
            double a = now_ms();
            web_view(wc, &req, s, &out);
            ms[k] = now_ms() - a;
        }
        qsort(ms, (size_t)runs, sizeof *ms, cmp_d);
        char label[64];
        snprintf(label, sizeof label, "%s%s%s",
                 pg->type   ? pg->type
                 : pg->name ? pg->name
                            : "summary",
                 *pg->args ? "?" : "", pg->args);
        printf("%-24s %8.2f %8.2f %8.2f %8.2f %10.3f %8zu %6d\n", label, med, p95, mx, cmed,
               ms[runs / 2], out.len, status);
        if (status != 200)
            worst = 1;
        if (html_dir) {
            char fn[512];
            snprintf(fn, sizeof fn, "%s/%02zu-%s.html", html_dir, i,
                     pg->type   ? pg->type
                     : pg->name ? pg->name
                                : "summary");
            FILE *f = fopen(fn, "w");
            if (f) {
                fwrite(out.data, 1, out.len, f);
                fclose(f);
            }
        }
        buf_release(&out);
        url_kv_free(args, nargs);
    }
    free(ms);
    free(cpu);
    web_free(w);
    web_free(wc);
    audit_set_log(NULL);
    audit_log_close(alog);
    free(person);
    free(obs_id);
    free(cp_id);
    store_close(s);
    policy_cache_release();
    return worst;
}
