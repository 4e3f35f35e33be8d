/*
 * bulk_serve.c - the HTTP side of FHIR Bulk Data exports, the job queue and
 * the thread that runs jobs (bulk_serve.h).
 *
 * State that matters is in the store (store/bulk.h): a job's row says what
 * was asked, by whom, and where it stands, so a status poll answers from
 * the store and a restart loses no finished export.  In memory are only the
 * queue (job ids waiting, with the client as it was at kick-off) and the
 * cancel flag of the job running.  One mutex orders a cancel against the
 * worker's own updates, so a cancelled job is never marked done.
 *
 * The thread also sweeps: finished exports past their expiry lose their
 * files (status "expired"), and at start any job a previous run of the
 * server left queued or running is marked failed, saying why.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "access/authz.h"
#include "analytics/bulk.h"
#include "analytics/bulk_serve.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/failpoint.h"
#include "core/log.h"
#include "core/opt.h"
#include "fhir/outcome.h"
#include "http/serve.h"
#include "http/server.h"
#include "store/bulk.h"
#include "store/store.h"

#define FHIR_JSON "application/fhir+json; charset=utf-8"
#define NDJSON "application/fhir+ndjson"
#define SWEEP_EVERY_S 60

/* A job waiting or running, with the client as it was at kick-off. */
struct entry {
    char id[33];
    int64_t client_id;
    enum principal_client_purpose purpose;
    char *client_name, *org, *scopes, *base;
};

struct bulk_srv {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool stop;
    struct entry q[BULK_QUEUE_MAX];
    int nq;
    struct entry cur;
    bool running;
    atomic_bool cancel;
    char *db, *dir, *base_url;
    long expire_s;
};

static void entry_free(struct entry *e)
{
    free(e->client_name);
    free(e->org);
    free(e->scopes);
    free(e->base);
    memset(e, 0, sizeof *e);
}

static void now_iso(char out[32], long plus_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec + plus_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    char ymd[24];
    strftime(ymd, sizeof ymd, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", ymd, ((int)(ts.tv_nsec / 1000000)) % 1000);
}

/* Remove the job's folder and every file in it. */
static void remove_dir(const char *root, const char *id)
{
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", root, id);
    DIR *d = opendir(p.data);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            struct buf f = BUF_INIT;
            buf_addf(&f, "%s/%s", p.data, e->d_name);
            unlink(f.data);
            buf_release(&f);
        }
        closedir(d);
        rmdir(p.data);
    }
    buf_release(&p);
}

/* ---- replies ------------------------------------------------------------------------ */

static void outcome(struct http_req *req, int status, const char *severity, const char *code,
                    const char *msg)
{
    if (status >= 400)
        http_req_reason(req, msg);
    json_t *oo = fhir_outcome_make(severity, code, msg);
    char *text = json_dumps(oo, JSON_COMPACT);
    json_decref(oo);
    http_reply(req, status, FHIR_JSON, text, strlen(text));
    free(text);
}

static void error(struct http_req *req, int status, const char *msg)
{
    outcome(req, status, status >= 500 ? "fatal" : "error", fhir_outcome_code_for_status(status),
            msg);
}

static struct store *begin(struct http_req *req)
{
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    struct store *s = http_req_store(req);
    if (!s)
        error(req, 503, "the record store is not available; try again");
    return s;
}

/* The API's base URL: --base-url, else http(s):// + Host + /fhir
 * (request-owned), as the FHIR API's own links (fhir/api.c api_base_url). */
static const char *base_of(struct http_req *req, const struct bulk_srv *b)
{
    if (b->base_url)
        return b->base_url;
    const char *host = http_req_header(req, "Host");
    bool ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("-.:[]_", *p)))
            ok = false;
    struct buf u = BUF_INIT;
    const char *scheme = http_server_is_tls(req->server) ? "https" : "http";
    if (ok)
        buf_addf(&u, "%s://%s/fhir", scheme, host);
    else
        buf_addf(&u, "%s://localhost:%d/fhir", scheme, http_server_port(req->server));
    char *r = http_req_strdup(req, u.data);
    buf_release(&u);
    return r;
}

/* ---- kick-off ------------------------------------------------------------------------ */

static bool has_job(const struct bulk_srv *b, int64_t client_id)
{
    if (b->running && b->cur.client_id == client_id)
        return true;
    for (int i = 0; i < b->nq; i++)
        if (b->q[i].client_id == client_id)
            return true;
    return false;
}

static int kickoff(struct http_req *req, struct bulk_srv *b, enum bulk_kind kind)
{
    struct store *s = begin(req);
    if (!s)
        return 0;
    const struct principal *p = &req->principal;
    const char *prefer = http_req_header(req, "Prefer");
    if (!prefer || !strstr(prefer, "respond-async")) {
        error(req, 400, "a bulk export is asynchronous: send the header 'Prefer: respond-async'");
        return 0;
    }
    struct bulk_request br;
    char err[600];
    if (bulk_request_parse(kind, http_req_param(req, "id"), req->args, req->nargs, &br, err,
                           sizeof err) != 0) {
        error(req, 400, err);
        return 0;
    }
    int status = 0;
    int rc = bulk_check(s, p, &br, &status, err, sizeof err);
    if (rc < 0) {
        log_error("bulk", "kick-off check failed request=%s: %s", req->request_id,
                  weft_strerror(rc));
        error(req, 500, "the access decision could not be made");
        return 0;
    }
    if (status) {
        error(req, status, err);
        return 0;
    }
    const char *base = base_of(req, b);
    struct store_bulk_job j;
    memset(&j, 0, sizeof j);
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    char id[33];
    sodium_bin2hex(id, sizeof id, raw, sizeof raw);
    struct buf request = BUF_INIT, types = BUF_INIT;
    buf_addf(&request, "%s%s%s%s", base, req->path + 5 /* after "/fhir" */,
             req->query && *req->query ? "?" : "", req->query ? req->query : "");
    for (int i = 0; i < br.ntypes; i++)
        buf_addf(&types, "%s%s", i ? "," : "", br.types[i]);
    char created[32];
    now_iso(created, 0);
    j.id = id;
    j.client_id = p->client_id;
    j.client_name = (char *)(p->client_name ? p->client_name : "");
    j.org = (char *)p->org;
    j.purpose =
        (char *)(p->client_purpose == PRINCIPAL_CLIENT_PURPOSE_SECONDARY ? "secondary" : "direct");
    j.kind = (char *)bulk_kind_name(kind);
    j.group_id = kind == BULK_GROUP ? br.group_id : NULL;
    j.types = br.ntypes ? types.data : NULL;
    j.since = br.since[0] ? br.since : NULL;
    j.request = request.data;
    j.status = "queued";
    j.created = created;

    pthread_mutex_lock(&b->mu);
    const char *busy = NULL;
    if (has_job(b, p->client_id))
        busy = "an export of yours is already queued or running: wait for it to finish, or "
               "cancel it (DELETE its status URL), then ask again";
    else if (b->nq >= BULK_QUEUE_MAX)
        busy = "the export queue is full: ask again later";
    if (!busy && (rc = store_bulk_job_add(s, &j)) == 0) {
        struct entry *e = &b->q[b->nq++];
        memcpy(e->id, id, sizeof e->id);
        e->client_id = p->client_id;
        e->purpose = p->client_purpose;
        e->client_name = xstrdup(j.client_name);
        e->org = p->org ? xstrdup(p->org) : NULL;
        e->scopes = xstrdup(p->scopes ? p->scopes : "");
        e->base = xstrdup(base);
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (busy) {
        http_reply_header(req, "Retry-After", "30");
        error(req, 429, busy);
    } else if (rc != 0) {
        log_error("bulk", "cannot keep an export job request=%s: %s", req->request_id,
                  store_errmsg(s));
        error(req, 500, "the export could not be started");
    } else {
        struct buf what = BUF_INIT, loc = BUF_INIT;
        buf_addf(&what, "bulk export %s kick-off: %s", id, request.data);
        if (authz_audit_access(s, p, AUDIT_EXPORT, NULL, what.data, 0) != 0)
            log_error("bulk", "cannot audit the kick-off of export %s", id);
        buf_addf(&loc, "%s/$export-status/%s", base, id);
        http_reply_header(req, "Content-Location", loc.data);
        outcome(req, 202, "information", "informational",
                "the export has started: poll the URL in Content-Location");
        buf_release(&what);
        buf_release(&loc);
    }
    buf_release(&request);
    buf_release(&types);
    return 0;
}

static int h_export_system(struct http_req *req, void *ctx)
{
    return kickoff(req, ctx, BULK_SYSTEM);
}

static int h_export_patient(struct http_req *req, void *ctx)
{
    return kickoff(req, ctx, BULK_PATIENT);
}

static int h_export_group(struct http_req *req, void *ctx)
{
    return kickoff(req, ctx, BULK_GROUP);
}

static int h_group_read(struct http_req *req, void *ctx)
{
    (void)ctx;
    if (!begin(req))
        return 0;
    char *g = bulk_group_resource(http_req_param(req, "id"));
    if (!g) {
        error(req, 404,
              "no such group (groups: practice-ODS, efi-fit, efi-mild, efi-moderate, "
              "efi-severe)");
        return 0;
    }
    http_reply(req, 200, FHIR_JSON, g, strlen(g));
    free(g);
    return 0;
}

/* ---- status, cancel, files --------------------------------------------------------------- */

/* The job in the URL, if it is the caller's: 0 with *j, or 1 after
 * replying 404 (another client's job answers exactly as an unknown id). */
static int own_job(struct http_req *req, struct store *s, struct store_bulk_job *j)
{
    const char *id = http_req_param(req, "job");
    int rc = id ? store_bulk_job_get(s, id, j) : WEFT_ENOTFOUND;
    if (rc == 0 &&
        (req->principal.kind != PRINCIPAL_CLIENT || j->client_id != req->principal.client_id)) {
        store_bulk_job_clear(j);
        rc = WEFT_ENOTFOUND;
    }
    if (rc == WEFT_ENOTFOUND) {
        error(req, 404, "no export job with this id");
        return 1;
    }
    if (rc != 0) {
        error(req, 500, "the export job could not be read");
        return 1;
    }
    return 0;
}

static int h_status(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = begin(req);
    struct store_bulk_job j;
    if (!s || own_job(req, s, &j))
        return 0;
    if (strcmp(j.status, "queued") == 0 || strcmp(j.status, "running") == 0) {
        http_reply_header(req, "X-Progress", j.progress ? j.progress : j.status);
        http_reply_header(req, "Retry-After", "2");
        http_reply(req, 202, FHIR_JSON, "", 0);
    } else if (strcmp(j.status, "done") == 0) {
        json_t *m = json_pack("{s:s, s:s, s:b, s:o, s:[]}", "transactionTime",
                              j.transaction_time ? j.transaction_time : "", "request", j.request,
                              "requiresAccessToken", 1, "output",
                              json_loads(j.output ? j.output : "[]", 0, NULL), "error");
        char *text = json_dumps(m, JSON_COMPACT | JSON_INDENT(0));
        json_decref(m);
        if (j.expires)
            http_reply_header(req, "X-Expires", j.expires);
        http_reply(req, 200, "application/json", text, strlen(text));
        free(text);
    } else if (strcmp(j.status, "refused") == 0) {
        error(req, 403, j.error ? j.error : "the export was refused");
    } else if (strcmp(j.status, "failed") == 0) {
        error(req, 500, j.error ? j.error : "the export failed");
    } else if (strcmp(j.status, "cancelled") == 0) {
        error(req, 404, "this export was cancelled and its files removed");
    } else {
        struct buf m = BUF_INIT;
        buf_addf(&m, "this export expired at %s and its files were removed: ask again",
                 j.expires ? j.expires : "?");
        error(req, 404, m.data);
        buf_release(&m);
    }
    store_bulk_job_clear(&j);
    return 0;
}

static int h_cancel(struct http_req *req, void *ctx)
{
    struct bulk_srv *b = ctx;
    struct store *s = begin(req);
    struct store_bulk_job j;
    if (!s || own_job(req, s, &j))
        return 0;
    if (strcmp(j.status, "cancelled") == 0 || strcmp(j.status, "expired") == 0) {
        error(req, 404, "this export was already cancelled or has expired");
        store_bulk_job_clear(&j);
        return 0;
    }
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < b->nq; i++)
        if (strcmp(b->q[i].id, j.id) == 0) {
            entry_free(&b->q[i]);
            memmove(&b->q[i], &b->q[i + 1], (size_t)(b->nq - i - 1) * sizeof b->q[0]);
            b->nq--;
            break;
        }
    if (b->running && strcmp(b->cur.id, j.id) == 0)
        atomic_store(&b->cancel, true); /* the worker removes what it wrote */
    else
        remove_dir(b->dir, j.id);
    free(j.status);
    j.status = xstrdup("cancelled");
    free(j.progress);
    j.progress = NULL;
    char now[32];
    now_iso(now, 0);
    free(j.finished);
    j.finished = xstrdup(now);
    int rc = store_bulk_job_update(s, &j);
    pthread_mutex_unlock(&b->mu);
    if (rc != 0) {
        error(req, 500, "the export could not be cancelled");
    } else {
        struct buf what = BUF_INIT;
        buf_addf(&what, "bulk export %s cancelled", j.id);
        if (authz_audit_access(s, &req->principal, AUDIT_EXPORT, NULL, what.data, 0) != 0)
            log_error("bulk", "cannot audit the cancel of export %s", j.id);
        buf_release(&what);
        outcome(req, 202, "information", "informational",
                "the export was cancelled and its files removed");
    }
    store_bulk_job_clear(&j);
    return 0;
}

static int h_file(struct http_req *req, void *ctx)
{
    struct bulk_srv *b = ctx;
    struct store *s = begin(req);
    struct store_bulk_job j;
    if (!s || own_job(req, s, &j))
        return 0;
    const char *name = http_req_param(req, "file");
    json_t *out =
        strcmp(j.status, "done") == 0 ? json_loads(j.output ? j.output : "[]", 0, NULL) : NULL;
    json_int_t count = -1;
    size_t i;
    json_t *o;
    size_t nlen = name ? strlen(name) : 0;
    json_array_foreach(out, i, o)
    {
        const char *url = json_string_value(json_object_get(o, "url"));
        size_t ul = url ? strlen(url) : 0;
        if (nlen > 0 && ul > nlen && url[ul - nlen - 1] == '/' &&
            strcmp(url + ul - nlen, name) == 0)
            count = json_integer_value(json_object_get(o, "count"));
    }
    json_decref(out);
    if (count < 0) {
        error(req, 404,
              strcmp(j.status, "done") == 0 ? "this export has no such file"
                                            : "this export has no files (it is not finished, or "
                                              "was cancelled or has expired)");
        store_bulk_job_clear(&j);
        return 0;
    }
    struct buf path = BUF_INIT;
    buf_addf(&path, "%s/%s/%s", b->dir, j.id, name);
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    struct stat stt;
    if (fd < 0 || fstat(fd, &stt) != 0) {
        if (fd >= 0)
            close(fd);
        log_error("bulk", "export %s: cannot open %s: %s", j.id, name, strerror(errno));
        error(req, 500, "the file could not be read");
    } else {
        struct buf what = BUF_INIT;
        buf_addf(&what, "bulk export %s download %s", j.id, name);
        if (authz_audit_access(s, &req->principal, AUDIT_EXPORT, NULL, what.data, count) != 0) {
            close(fd);
            error(req, 500, "the download could not be audited");
        } else {
            http_reply_file(req, 200, NDJSON, fd, (uint64_t)stt.st_size);
        }
        buf_release(&what);
    }
    buf_release(&path);
    store_bulk_job_clear(&j);
    return 0;
}

/* ---- the worker ------------------------------------------------------------------------- */

struct progress_ctx {
    struct bulk_srv *b;
    struct store *s;
    struct store_bulk_job *j;
};

static void on_progress(void *ctx, const char *text)
{
    struct progress_ctx *pc = ctx;
    pthread_mutex_lock(&pc->b->mu);
    if (!atomic_load(&pc->b->cancel)) {
        free(pc->j->progress);
        pc->j->progress = xstrdup(text);
        if (store_bulk_job_update(pc->s, pc->j) != 0)
            log_warn("bulk", "export %s: progress not kept: %s", pc->j->id, store_errmsg(pc->s));
    }
    pthread_mutex_unlock(&pc->b->mu);
}

static void run_one(struct bulk_srv *b, struct store *s, struct entry *e)
{
    struct store_bulk_job j;
    if (store_bulk_job_get(s, e->id, &j) != 0) {
        log_error("bulk", "export %s vanished: %s", e->id, store_errmsg(s));
        return;
    }
    struct principal p;
    memset(&p, 0, sizeof p);
    p.kind = PRINCIPAL_CLIENT;
    p.client_id = e->client_id;
    p.client_purpose = e->purpose;
    p.deidentified_export =
        e->purpose == PRINCIPAL_CLIENT_PURPOSE_SECONDARY; /* bulk.c de-identifies */
    p.client_name = e->client_name;
    p.org = e->org;
    p.scopes = e->scopes;
    struct buf dir = BUF_INIT, url = BUF_INIT;
    buf_addf(&dir, "%s/%s", b->dir, e->id);
    buf_addf(&url, "%s/$export-file/%s", e->base, e->id);
    pthread_mutex_lock(&b->mu);
    bool go = !atomic_load(&b->cancel);
    if (go) {
        free(j.status);
        j.status = xstrdup("running");
        free(j.progress);
        j.progress = xstrdup("started");
        store_bulk_job_update(s, &j);
    }
    pthread_mutex_unlock(&b->mu);
    struct bulk_run r;
    memset(&r, 0, sizeof r);
    int rc = BULK_CANCELLED;
    if (go && mkdir(dir.data, 0700) != 0 && errno != EEXIST) {
        rc = WEFT_EIO;
        snprintf(r.error, sizeof r.error, "the export folder could not be made");
        log_error("bulk", "cannot make %s: %s", dir.data, strerror(errno));
    } else if (go) {
        struct progress_ctx pc = {b, s, &j};
        r.s = s;
        r.p = &p;
        r.job = &j;
        r.dir = dir.data;
        r.file_url = url.data;
        r.cancel = &b->cancel;
        r.progress = on_progress;
        r.progress_ctx = &pc;
        rc = bulk_run_job(&r);
    }
    pthread_mutex_lock(&b->mu);
    if (atomic_load(&b->cancel) || rc == BULK_CANCELLED) {
        remove_dir(b->dir, e->id); /* the cancel marked the job */
    } else {
        char now[32], exp[32];
        now_iso(now, 0);
        now_iso(exp, b->expire_s);
        free(j.finished);
        j.finished = xstrdup(now);
        free(j.progress);
        j.progress = NULL;
        free(j.status);
        free(j.transaction_time);
        j.transaction_time = r.transaction_time[0] ? xstrdup(r.transaction_time) : NULL;
        if (rc == 0) {
            j.status = xstrdup("done");
            j.output = r.output;
            r.output = NULL;
            j.count = r.count;
            free(j.expires);
            j.expires = xstrdup(exp);
            log_info("bulk", "export %s done: resources=%lld", e->id, (long long)r.count);
        } else {
            j.status = xstrdup(rc == WEFT_EDENIED ? "refused" : "failed");
            j.error = xstrdup(r.error[0] ? r.error : weft_strerror(rc));
            remove_dir(b->dir, e->id);
            log_warn("bulk", "export %s %s: %s", e->id, j.status, j.error);
            struct buf what = BUF_INIT;
            buf_addf(&what, "bulk export %s %s: %s", e->id, j.status, j.error);
            authz_audit_denial(s, &p, AUDIT_EXPORT, NULL, what.data);
            buf_release(&what);
        }
        if (store_bulk_job_update(s, &j) != 0)
            log_error("bulk", "export %s: the outcome could not be kept: %s", e->id,
                      store_errmsg(s));
    }
    pthread_mutex_unlock(&b->mu);
    bulk_run_clear(&r);
    buf_release(&dir);
    buf_release(&url);
    store_bulk_job_clear(&j);
}

/* Expire finished exports; at start, fail the jobs a previous run left. */
static void sweep(struct bulk_srv *b, struct store *s, bool at_start)
{
    const char *const which[] = {"done", "queued", "running"};
    for (int w = 0; w < (at_start ? 3 : 1); w++) {
        struct store_bulk_job *v = NULL;
        int n = 0;
        if (store_bulk_job_list(s, which[w], &v, &n) != 0) {
            log_warn("bulk", "cannot list export jobs: %s", store_errmsg(s));
            return;
        }
        char now[32];
        now_iso(now, 0);
        for (int i = 0; i < n; i++) {
            struct store_bulk_job *j = &v[i];
            if (w == 0 && (!j->expires || strcmp(j->expires, now) > 0))
                continue;
            remove_dir(b->dir, j->id);
            free(j->status);
            free(j->progress);
            j->progress = NULL;
            if (w == 0) {
                j->status = xstrdup("expired");
            } else {
                j->status = xstrdup("failed");
                free(j->error);
                j->error = xstrdup("the server stopped before this export finished: ask again");
            }
            if (store_bulk_job_update(s, j) != 0)
                log_warn("bulk", "export %s: cannot mark it %s", j->id, j->status);
        }
        store_bulk_jobs_free(v, n);
    }
}

static void *worker(void *arg)
{
    struct bulk_srv *b = arg;
    struct store *s = NULL;
    char *err = NULL;
    if (store_open(&s, b->db, false, &err) != 0) {
        log_error("bulk", "cannot open the store: %s", err ? err : "error");
        free(err);
        return NULL;
    }
    sweep(b, s, true);
    time_t last_sweep = time(NULL);
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (b->nq > 0) {
            b->cur = b->q[0];
            memmove(&b->q[0], &b->q[1], (size_t)(b->nq - 1) * sizeof b->q[0]);
            b->nq--;
            b->running = true;
            atomic_store(&b->cancel, false);
            pthread_mutex_unlock(&b->mu);
            run_one(b, s, &b->cur);
            if (FAILPOINT("bulk-done-pause"))
                sleep(2);
            pthread_mutex_lock(&b->mu);
            /* a cancel between run_one's last hold of the lock and this one
             * saw the job running and left its files to the worker */
            if (atomic_load(&b->cancel))
                remove_dir(b->dir, b->cur.id);
            b->running = false;
            atomic_store(&b->cancel, false);
            entry_free(&b->cur);
            continue;
        }
        if (time(NULL) - last_sweep >= SWEEP_EVERY_S) {
            pthread_mutex_unlock(&b->mu);
            sweep(b, s, false);
            last_sweep = time(NULL);
            pthread_mutex_lock(&b->mu);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SWEEP_EVERY_S;
        pthread_cond_timedwait(&b->cv, &b->mu, &until);
    }
    pthread_mutex_unlock(&b->mu);
    store_close(s);
    return NULL;
}

/* ---- the part ------------------------------------------------------------------------------ */

static char *default_dir(const char *db)
{
    struct store_url u;
    if (store_url_parse(db, &u) == 0 && u.kind == STORE_KIND_SQLITE && u.path) {
        char *copy = xstrdup(u.path);
        struct buf b = BUF_INIT;
        buf_addf(&b, "%s/exports", dirname(copy));
        free(copy);
        return buf_detach(&b, NULL);
    }
    return xstrdup("weft-exports");
}

int bulk_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    long hours = BULK_EXPORT_HOURS_DEFAULT;
    if (opts_get_long(ctx->opts, "export-hours", BULK_EXPORT_HOURS_DEFAULT, &hours) != 0 ||
        hours < 1 || hours > 24 * 90) {
        fprintf(stderr, "weft serve: --export-hours must be 1-2160\n");
        return WEFT_EINVAL;
    }
    const char *given = opts_get(ctx->opts, "export-dir");
    char *dir = given ? xstrdup(given) : default_dir(ctx->db);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "weft serve: cannot make the export folder '%s': %s\n", dir,
                strerror(errno));
        free(dir);
        return WEFT_EIO;
    }
    struct bulk_srv *b = xcalloc(1, sizeof *b);
    b->dir = dir;
    b->db = xstrdup(ctx->db);
    b->expire_s = hours * 3600;
    const char *base = opts_get(ctx->opts, "base-url");
    if (base && *base) {
        b->base_url = xstrdup(base);
        size_t n = strlen(b->base_url);
        while (n > 0 && b->base_url[n - 1] == '/')
            b->base_url[--n] = 0;
    }
    atomic_init(&b->cancel, false);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    static const struct http_route_def routes[] = {
        {"GET", "/fhir/$export", h_export_system, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/Patient/$export", h_export_patient, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/Group/{id}/$export", h_export_group, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/Group/{id}", h_group_read, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/$export-status/{job}", h_status, HTTP_ROUTE_AUTH},
        {"DELETE", "/fhir/$export-status/{job}", h_cancel, HTTP_ROUTE_AUTH},
        {"GET", "/fhir/$export-file/{job}/{file}", h_file, HTTP_ROUTE_AUTH},
    };
    int rc = http_routes_add(ctx->http, routes, sizeof routes / sizeof routes[0], b);
    if (rc == 0 && pthread_create(&b->th, NULL, worker, b) != 0)
        rc = WEFT_EINTERNAL;
    if (rc != 0) {
        fprintf(stderr, "weft serve: cannot start the bulk export part\n");
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
        free(b->dir);
        free(b->db);
        free(b->base_url);
        free(b);
        return rc;
    }
    *state = b;
    return 0;
}

void bulk_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct bulk_srv *b = state;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    atomic_store(&b->cancel, true); /* a running export stops: marked failed at next start */
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->th, NULL);
    for (int i = 0; i < b->nq; i++)
        entry_free(&b->q[i]);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->dir);
    free(b->db);
    free(b->base_url);
    free(b);
}
