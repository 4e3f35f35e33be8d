/*
 * metrics.c - the metrics registry (metrics.h).  Series live in a fixed
 * hash table keyed by name + labels; metric declarations in a short list.
 * Rendering sorts nothing: it walks the declarations in the order they were
 * made and, for each, the series of that name in the order they appeared,
 * so the text groups each metric's HELP, TYPE and samples together as the
 * format requires.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/metrics.h"

#define MAX_BOUNDS 16
#define NBUCKETS 1024

struct metric {
    char *name, *help;
    enum metric_type type;
    double bounds[MAX_BOUNDS];
    int nbounds;
    struct series *first, *last; /* this metric's series, in order of appearance */
};

struct series {
    struct series *hnext; /* hash chain */
    struct series *mnext; /* next series of the same metric */
    struct metric *m;
    char *labels;
    double value;                     /* counter, gauge; histogram sum */
    uint64_t count;                   /* histogram */
    uint64_t buckets[MAX_BOUNDS + 1]; /* histogram, non-cumulative; last = +Inf */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric *metrics_list[128];
static int nmetrics;
static struct series *table[NBUCKETS];
static struct collector {
    void (*fn)(void *);
    void *ctx;
} collectors[16];
static int ncollectors;

/* Every metric Weft exports, declared on first use of the registry, so
 * that a part can count before (or without) the metrics listener and the
 * list reads as the documentation of what is exported (docs/OPERATIONS.md). */
static const double lat_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};
static const double lag_bounds[] = {1, 10, 60, 300, 900, 3600, 14400, 86400, 604800};
static const struct {
    const char *name;
    enum metric_type type;
    const char *help;
    const double *bounds;
    int nbounds;
} catalog[] = {
    {"weft_http_requests_total", METRIC_COUNTER,
     "HTTP requests answered, by route class and status code", NULL, 0},
    {"weft_http_request_duration_seconds", METRIC_HISTOGRAM,
     "HTTP request time from arrival to the last byte queued, by route class", lat_bounds, 13},
    {"weft_feed_messages_total", METRIC_COUNTER,
     "Inbound feed messages and files, by feed, kind and outcome (applied, rejected, "
     "duplicate)",
     NULL, 0},
    {"weft_store_retries_total", METRIC_COUNTER,
     "Units of work (MLLP batches, FHIR API Bundles, CSV files, person commands...) rolled back "
     "and done again once because they met another writer (PostgreSQL), by writer",
     NULL, 0},
    {"weft_feed_lag_seconds", METRIC_HISTOGRAM,
     "Feed lag: arrival time minus the event time the message carries, by feed", lag_bounds, 9},
    {"weft_feed_backlog", METRIC_GAUGE,
     "HL7 v2 enhanced-mode messages accepted (CA) but not yet applied", NULL, 0},
    {"weft_audit_queue_depth", METRIC_GAUGE,
     "Audit entries waiting for the audit writer's next group commit", NULL, 0},
    {"weft_audit_write_duration_seconds", METRIC_HISTOGRAM,
     "Time of one audit group commit (hash chain and store write)", lat_bounds, 13},
    {"weft_audit_entries_total", METRIC_COUNTER, "Audit entries committed", NULL, 0},
    {"weft_store_size_bytes", METRIC_GAUGE,
     "Size of the database (SQLite: its file; PostgreSQL: pg_database_size)", NULL, 0},
    {"weft_store_wal_size_bytes", METRIC_GAUGE, "Size of the database's write-ahead log", NULL, 0},
    {"weft_db_reads_total", METRIC_COUNTER,
     "Scoped searches that were offered the read standby (weft serve --db-read), by where they"
     " ran: db=standby, or db=primary with why=behind (the standby had not replayed the page's"
     " snapshot) or why=failed",
     NULL, 0},
    {"weft_web_page_cache_lookups_total", METRIC_COUNTER,
     "Rendered-page cache lookups, by result (hit, miss)", NULL, 0},
    {"weft_job_runs_total", METRIC_COUNTER,
     "Scheduled job runs, by job (drop-pass, dq-run, audit-anchor, wal-checkpoint, wal-restart)"
     " and result (ok, failed; busy: a WAL restart that gave way to a long read)",
     NULL, 0},
    {"weft_sessions_open", METRIC_GAUGE, "Open (unrevoked, unexpired) sessions, by kind", NULL, 0},
    {"weft_process_start_time_seconds", METRIC_GAUGE,
     "Start time of the process since the Unix epoch", NULL, 0},
};
static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return h;
}

static struct metric *find_metric(const char *name)
{
    for (int i = 0; i < nmetrics; i++)
        if (strcmp(metrics_list[i]->name, name) == 0)
            return metrics_list[i];
    return NULL;
}

static void define_locked(const char *name, enum metric_type type, const char *help,
                          const double *bounds, int nbounds);

static void catalog_define(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < sizeof catalog / sizeof catalog[0]; i++)
        define_locked(catalog[i].name, catalog[i].type, catalog[i].help, catalog[i].bounds,
                      catalog[i].nbounds);
    pthread_mutex_unlock(&mu);
}

void metrics_define(const char *name, enum metric_type type, const char *help, const double *bounds,
                    int nbounds)
{
    pthread_once(&catalog_once, catalog_define);
    pthread_mutex_lock(&mu);
    define_locked(name, type, help, bounds, nbounds);
    pthread_mutex_unlock(&mu);
}

static void define_locked(const char *name, enum metric_type type, const char *help,
                          const double *bounds, int nbounds)
{
    if (!find_metric(name) && nmetrics < (int)(sizeof metrics_list / sizeof metrics_list[0])) {
        struct metric *m = xcalloc(1, sizeof *m);
        m->name = xstrdup(name);
        m->help = xstrdup(help);
        m->type = type;
        if (nbounds > MAX_BOUNDS)
            nbounds = MAX_BOUNDS;
        for (int i = 0; i < nbounds; i++)
            m->bounds[i] = bounds[i];
        m->nbounds = type == METRIC_HISTOGRAM ? nbounds : 0;
        metrics_list[nmetrics++] = m;
    }
}

/* The series (name, labels), created when new; NULL for an undeclared name.
 * Called with mu held. */
static struct series *get_series(const char *name, const char *labels)
{
    if (!labels)
        labels = "";
    uint64_t h = hash2(name, labels) % NBUCKETS;
    for (struct series *s = table[h]; s; s = s->hnext)
        if (strcmp(s->m->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s;
    struct metric *m = find_metric(name);
    if (!m) /* not declared: ignored (the catalog above lists Weft's own) */
        return NULL;
    struct series *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->labels = xstrdup(labels);
    s->hnext = table[h];
    table[h] = s;
    if (m->last)
        m->last->mnext = s;
    else
        m->first = s;
    m->last = s;
    return s;
}

void metrics_add(const char *name, const char *labels, double v)
{
    pthread_once(&catalog_once, catalog_define);
    pthread_mutex_lock(&mu);
    struct series *s = get_series(name, labels);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&mu);
}

void metrics_set(const char *name, const char *labels, double v)
{
    pthread_once(&catalog_once, catalog_define);
    pthread_mutex_lock(&mu);
    struct series *s = get_series(name, labels);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&mu);
}

void metrics_observe(const char *name, const char *labels, double v)
{
    pthread_once(&catalog_once, catalog_define);
    pthread_mutex_lock(&mu);
    struct series *s = get_series(name, labels);
    if (s) {
        int i = 0;
        while (i < s->m->nbounds && v > s->m->bounds[i])
            i++;
        s->buckets[i]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&mu);
}

void metrics_collector_add(void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&mu);
    if (ncollectors < (int)(sizeof collectors / sizeof collectors[0]))
        collectors[ncollectors++] = (struct collector){fn, ctx};
    pthread_mutex_unlock(&mu);
}

void metrics_collectors_clear(void)
{
    pthread_mutex_lock(&mu);
    ncollectors = 0;
    pthread_mutex_unlock(&mu);
}

void metrics_label_value(char *out, size_t cap, const char *v)
{
    size_t n = 0;
    for (; v && *v && n + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            out[n++] = '\\';
            out[n++] = *v;
        } else if (*v == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *v;
        }
    }
    out[n] = 0;
}

static void add_num(struct buf *b, double v)
{
    if (isinf(v))
        buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        buf_addf(b, "%.0f", v);
    else { /* the shortest of 15 or 17 digits that reads back as v */
        char t[40];
        snprintf(t, sizeof t, "%.15g", v);
        if (strtod(t, NULL) != v)
            snprintf(t, sizeof t, "%.17g", v);
        buf_adds(b, t);
    }
}

/* name{labels,extra} - the braces only when there is a label. */
static void add_name(struct buf *b, const char *name, const char *suffix, const char *labels,
                     const char *extra)
{
    buf_addf(b, "%s%s", name, suffix);
    bool l = labels && *labels, e = extra && *extra;
    if (l || e)
        buf_addf(b, "{%s%s%s}", l ? labels : "", l && e ? "," : "", e ? extra : "");
}

void metrics_render(struct buf *out)
{
    pthread_mutex_lock(&mu);
    int nc = ncollectors;
    struct collector cs[16];
    memcpy(cs, collectors, sizeof cs);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nc; i++) /* outside the lock: they call metrics_set */
        cs[i].fn(cs[i].ctx);

    pthread_mutex_lock(&mu);
    static const char *const tname[] = {"counter", "gauge", "histogram"};
    for (int i = 0; i < nmetrics; i++) {
        struct metric *m = metrics_list[i];
        if (!m->first)
            continue;
        buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, tname[m->type]);
        for (struct series *s = m->first; s; s = s->mnext) {
            if (m->type != METRIC_HISTOGRAM) {
                add_name(out, m->name, "", s->labels, NULL);
                buf_adds(out, " ");
                add_num(out, s->value);
                buf_adds(out, "\n");
                continue;
            }
            uint64_t cum = 0;
            for (int k = 0; k <= m->nbounds; k++) {
                cum += s->buckets[k];
                char le[48];
                struct buf lb = BUF_INIT;
                add_num(&lb, k < m->nbounds ? m->bounds[k] : INFINITY);
                snprintf(le, sizeof le, "le=\"%s\"", lb.data);
                buf_release(&lb);
                add_name(out, m->name, "_bucket", s->labels, le);
                buf_addf(out, " %llu\n", (unsigned long long)cum);
            }
            add_name(out, m->name, "_sum", s->labels, NULL);
            buf_adds(out, " ");
            add_num(out, s->value);
            buf_adds(out, "\n");
            add_name(out, m->name, "_count", s->labels, NULL);
            buf_addf(out, " %llu\n", (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&mu);
}
