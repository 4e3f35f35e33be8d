/*
 * server.c - the HTTP server (see server.h): libmicrohttpd epoll daemons
 * (one per worker thread), a router, per-request contexts and the request
 * log.
 *
 * Life of a request, all on one worker thread:
 *   uri_log_cb       MHD has read the request line: allocate struct http_req,
 *                    keep the raw URI (path and query as sent).
 *   access_cb #1     headers are in: refuse an announced oversized body (413).
 *   access_cb #2..n  body chunks: append to req->body (or count past the limit).
 *   access_cb last   route, authenticate, run the handler, queue the reply.
 *   completed_cb     reply sent (or connection gone): one log line, free.
 *
 * Workload: many small keep-alive requests (reads and searches of a few KB)
 * and the odd large POST.  Nothing is shared between requests except the
 * route table (read-only once started) and the in-flight counter.
 *
 * Threads: one libmicrohttpd daemon per worker (its own epoll thread, its
 * own store handle), fed by one acceptor thread that owns the listening
 * socket and hands each new connection to the next daemon in turn.  Not
 * libmicrohttpd's thread pool: there every worker polls the one listening
 * socket and the first to wake accepts every connection waiting, so the
 * few keep-alive connections of a busy client (wrk's 8, a proxy's pool)
 * all landed on one worker and the other cores sat idle.
 */
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "core/buf.h"
#include "core/hex.h"
#include "core/err.h"
#include "core/log.h"
#include "core/url.h"
#include "http/auth.h"
#include "http/metrics_http.h"
#include "http/server.h"
#include "store/store.h"

#define MAX_SEGS 32
#define MAX_QUERY_ARGS 256
/* Shutdown waits for request bodies while some part of one arrived within
 * this time (struct http_server, receiving). */
#define HTTP_BODY_IDLE_NS (2000u * 1000000u)

enum seg_kind { SEG_LITERAL = 2, SEG_PARAM = 1, SEG_STAR = 0 };

struct route {
    char *method;
    char *pattern;
    int nsegs;
    struct {
        enum seg_kind kind;
        char *text; /* literal text or parameter name */
    } segs[MAX_SEGS];
    http_handler_fn fn;
    void *ctx;
    unsigned flags;
};

struct renderer {
    char *prefix;
    http_error_fn fn;
};

struct thread_store {
    struct store *store;
    struct thread_store *next;
    /* the standby's handle (http_req_store_read): when it was last found
     * answering or not, and when to ask again */
    bool down;
    uint64_t next_check_ns;
};

/* One libmicrohttpd daemon and the connections Weft has handed it. */
struct worker {
    struct http_server *srv;
    struct MHD_Daemon *daemon;
    atomic_int conns; /* handed over and not yet closed */
};

/* Open connections of one client address (IPv4 as ::ffff:a.b.c.d). */
struct addr_count {
    unsigned char addr[16];
    int n;
};

struct http_server {
    char *host;
    int port;
    int threads;
    size_t max_body;
    char *store_url;
    char *read_url; /* --db-read: a hot standby for reads that may lag; NULL: none */
    char *version;
    int timeout_s;
    char *tls_cert, *tls_key; /* PEM; NULL: plain HTTP */
    bool request_client_cert; /* HTTPS: ask every client for a certificate */
    int header_timeout_s;
    int per_address;
    int per_worker; /* connections handed to one daemon at most */
    size_t body_memory;
    atomic_size_t body_bytes; /* request bodies held in memory, all requests */
    struct route *routes;
    int nroutes;
    struct renderer *renderers;
    int nrenderers;
    struct worker *workers;    /* one per worker thread, [threads] */
    int ndaemons;              /* started */
    pthread_mutex_t addr_lock; /* guards addrs */
    struct addr_count *addrs;
    int naddrs, addrs_cap;
    int listen_fd; /* -1 when not listening */
    pthread_t acceptor;
    bool acceptor_running;
    atomic_bool accepting;
    bool stopped;
    uint64_t started_ns;
    uint32_t id_prefix;
    atomic_uint_fast64_t next_id;
    /* Requests being handled or answered (from dispatch to completion): what
     * shutdown waits for.  A request still sending its body is not counted:
     * libmicrohttpd 0.9.75 may not notice for a while that such a client went
     * away, and a cut-off upload is the client's to retry. */
    atomic_int inflight;
    /* Requests past their headers, still receiving their bodies (not yet
     * counted in inflight), and when any of them last received a part.
     * Shutdown also waits while bodies are arriving (HTTP_BODY_IDLE_NS):
     * libmicrohttpd may have read a whole body from the socket and not yet
     * handed its last part over, and a SIGTERM then must not close that
     * request unanswered (a CI failure of e2e/api_errors.py); an upload that
     * stopped arriving is not waited for. */
    atomic_int receiving;
    atomic_uint_fast64_t body_ns;
    pthread_key_t store_key;
    pthread_key_t read_key; /* the standby's handle of this thread (read_url) */
    pthread_mutex_t lock;   /* guards stores */
    struct thread_store *stores;
};

/* Per-request memory chunks for http_req_alloc. */
struct arena_chunk {
    struct arena_chunk *next;
    char data[];
};

/* One per TCP connection (MHD socket context): the request whose context
 * exists but that MHD has not finished.  MHD does not call the completion
 * callback for a request it drops before the handler ran (e.g. a request
 * line or headers it refuses), so the connection's close frees it. */
struct conn_state {
    struct req_private *pending;
    struct worker *worker;
    unsigned char addr[16];
    bool requested; /* a full request line and headers have arrived */
};

struct req_private {
    struct http_req req; /* first: a struct http_req * is a struct req_private * */
    char *uri;           /* raw URI copy; path and query point into it */
    bool started;
    bool counted;   /* in srv->inflight */
    bool receiving; /* in srv->receiving */
    bool too_big;
    bool replied;
    bool small_body; /* anonymous request to an open route: HTTP_ANON_MAX_BODY */
    size_t body_seen;
    size_t body_held; /* bytes counted in srv->body_bytes */
    const struct route *route;
    struct arena_chunk *arena;
    struct conn_state *conn;
    char id[20];
};

uint64_t http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- server lifecycle ------------------------------------------------------------- */

static void health_handler_register(struct http_server *srv);

int http_server_init(struct http_server **out, const struct http_server_config *cfg)
{
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->host = xstrdup(cfg->host ? cfg->host : "127.0.0.1");
    srv->port = cfg->port;
    srv->threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (srv->threads < 1)
        srv->threads = 1;
    srv->max_body = cfg->max_body ? cfg->max_body : HTTP_MAX_BODY_DEFAULT;
    srv->store_url = cfg->store_url ? xstrdup(cfg->store_url) : NULL;
    srv->read_url = cfg->read_url && cfg->store_url ? xstrdup(cfg->read_url) : NULL;
    srv->version = xstrdup(cfg->version ? cfg->version : "unknown");
    srv->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
    if (cfg->tls_cert_pem && cfg->tls_key_pem) {
        srv->tls_cert = xstrdup(cfg->tls_cert_pem);
        srv->tls_key = xstrdup(cfg->tls_key_pem);
        srv->request_client_cert = cfg->request_client_cert;
    }
    srv->header_timeout_s =
        cfg->header_timeout_s > 0 ? cfg->header_timeout_s : HTTP_HEADER_TIMEOUT_DEFAULT;
    if (srv->header_timeout_s > srv->timeout_s)
        srv->header_timeout_s = srv->timeout_s;
    srv->per_address = cfg->max_per_address > 0 ? cfg->max_per_address : HTTP_PER_ADDRESS_DEFAULT;
    srv->body_memory = cfg->body_memory ? cfg->body_memory : HTTP_BODY_MEMORY_DEFAULT;
    if (srv->body_memory < srv->max_body)
        srv->body_memory = srv->max_body;
    atomic_init(&srv->body_bytes, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srv->id_prefix = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ (uint32_t)getpid());
    atomic_init(&srv->next_id, 1);
    atomic_init(&srv->inflight, 0);
    atomic_init(&srv->receiving, 0);
    atomic_init(&srv->body_ns, 0);
    atomic_init(&srv->accepting, false);
    srv->listen_fd = -1;
    if (pthread_key_create(&srv->store_key, NULL) != 0 ||
        pthread_key_create(&srv->read_key, NULL) != 0) {
        free(srv->host);
        free(srv->store_url);
        free(srv->read_url);
        free(srv->version);
        free(srv);
        return WEFT_EINTERNAL;
    }
    pthread_mutex_init(&srv->lock, NULL);
    pthread_mutex_init(&srv->addr_lock, NULL);
    health_handler_register(srv);
    *out = srv;
    return WEFT_OK;
}

int http_route_add(struct http_server *srv, const char *method, const char *pattern,
                   http_handler_fn fn, void *ctx, unsigned flags)
{
    if (!pattern || pattern[0] != '/' || !method || !fn || srv->ndaemons > 0)
        return WEFT_EINVAL;
    struct route r;
    memset(&r, 0, sizeof r);
    const char *p = pattern;
    int rc = WEFT_OK;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (r.nsegs >= MAX_SEGS) {
            rc = WEFT_EINVAL;
            break;
        }
        if (n == 1 && p[0] == '*') {
            if (e && e[1]) { /* '*' only as the last segment */
                rc = WEFT_EINVAL;
                break;
            }
            r.segs[r.nsegs].kind = SEG_STAR;
            r.segs[r.nsegs].text = xstrdup("*");
        } else if (n > 2 && p[0] == '{' && p[n - 1] == '}') {
            r.segs[r.nsegs].kind = SEG_PARAM;
            r.segs[r.nsegs].text = xstrndup(p + 1, n - 2);
        } else {
            r.segs[r.nsegs].kind = SEG_LITERAL;
            r.segs[r.nsegs].text = xstrndup(p, n);
        }
        r.nsegs++;
        p += n;
    }
    if (rc != WEFT_OK) {
        for (int i = 0; i < r.nsegs; i++)
            free(r.segs[i].text);
        return rc;
    }
    r.method = xstrdup(method);
    r.pattern = xstrdup(pattern);
    r.fn = fn;
    r.ctx = ctx;
    r.flags = flags;
    srv->routes = xrealloc(srv->routes, sizeof *srv->routes * (size_t)(srv->nroutes + 1));
    srv->routes[srv->nroutes++] = r;
    return WEFT_OK;
}

void http_server_error_renderer(struct http_server *srv, const char *prefix, http_error_fn fn)
{
    srv->renderers =
        xrealloc(srv->renderers, sizeof *srv->renderers * (size_t)(srv->nrenderers + 1));
    srv->renderers[srv->nrenderers].prefix = xstrdup(prefix);
    srv->renderers[srv->nrenderers].fn = fn;
    srv->nrenderers++;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

int http_routes_add(struct http_server *srv, const struct http_route_def *defs, size_t n, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        int rc =
            http_route_add(srv, defs[i].method, defs[i].pattern, defs[i].fn, ctx, defs[i].flags);
        if (rc != 0) {
            fprintf(stderr, "weft serve: cannot register %s %s: %s\n", defs[i].method,
                    defs[i].pattern, weft_strerror(rc));
            return rc;
        }
    }
    return 0;
}

bool http_server_is_tls(const struct http_server *srv)
{
    return srv->tls_cert != NULL;
}

int http_server_threads(const struct http_server *srv)
{
    return srv->threads;
}

int64_t http_server_uptime(const struct http_server *srv)
{
    return (int64_t)((http_now_ns() - srv->started_ns) / 1000000000u);
}

const char *http_server_version(const struct http_server *srv)
{
    return srv->version;
}

const char *http_server_store_url(const struct http_server *srv)
{
    return srv->store_url;
}

struct store *http_req_store(struct http_req *req)
{
    struct http_server *srv = req->server;
    if (!srv->store_url)
        return NULL;
    struct store *s = pthread_getspecific(srv->store_key);
    if (s)
        return s;
    char *msg = NULL;
    int rc = store_open(&s, srv->store_url, false, &msg);
    if (rc != 0) {
        log_error("http", "cannot open the store on a worker thread: %s",
                  msg ? msg : weft_strerror(rc));
        free(msg);
        return NULL;
    }
    struct thread_store *ts = xcalloc(1, sizeof *ts);
    ts->store = s;
    pthread_mutex_lock(&srv->lock);
    ts->next = srv->stores;
    srv->stores = ts;
    pthread_mutex_unlock(&srv->lock);
    pthread_setspecific(srv->store_key, s);
    return s;
}

/* How often a thread asks the standby whether it answers while it does
 * (a failure between two asks is caught by the read itself, which then
 * falls back: access_read_search), and how long it is left alone after it
 * did not. */
#define READ_CHECK_NS (1000u * 1000000u)
#define READ_RETRY_NS (2000u * 1000000u)

struct store *http_req_store_read(struct http_req *req)
{
    struct http_server *srv = req->server;
    if (!srv || !srv->read_url) /* no standby (or a request made by a test without a server) */
        return NULL;
    struct thread_store *ts = pthread_getspecific(srv->read_key);
    if (!ts) {
        ts = xcalloc(1, sizeof *ts);
        pthread_mutex_lock(&srv->lock);
        ts->next = srv->stores;
        srv->stores = ts;
        pthread_mutex_unlock(&srv->lock);
        pthread_setspecific(srv->read_key, ts);
    }
    uint64_t now = http_now_ns();
    if (now < ts->next_check_ns)
        return ts->down ? NULL : ts->store;
    bool was_down = ts->down;
    char *msg = NULL;
    if (!ts->store) {
        ts->down = store_open(&ts->store, srv->read_url, false, &msg) != 0;
    } else {
        ts->down = store_ping(ts->store) != 0;
        if (ts->down)
            msg = xstrdup(store_errmsg(ts->store));
    }
    ts->next_check_ns = now + (ts->down ? READ_RETRY_NS : READ_CHECK_NS);
    if (ts->down && !was_down)
        log_warn("http", "the read standby does not answer, reads go to the primary: %s",
                 msg ? msg : "");
    else if (!ts->down && was_down)
        log_info("http", "the read standby answers again");
    free(msg);
    return ts->down ? NULL : ts->store;
}

void http_req_store_read_failed(struct http_req *req)
{
    struct http_server *srv = req->server;
    struct thread_store *ts = srv && srv->read_url ? pthread_getspecific(srv->read_key) : NULL;
    if (ts) {
        ts->next_check_ns = 0; /* ask before the next read */
    }
}

/* ---- request helpers ----------------------------------------------------------------- */

const char *http_req_header(struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->mhd_connection, MHD_HEADER_KIND, name);
}

const char *http_req_arg(const struct http_req *req, const char *name)
{
    for (int i = 0; i < req->nargs; i++)
        if (strcmp(req->args[i].name, name) == 0)
            return req->args[i].value;
    return NULL;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

void *http_req_alloc(struct http_req *req, size_t n)
{
    struct req_private *rp = (struct req_private *)req;
    struct arena_chunk *c = xmalloc(sizeof *c + (n ? n : 1));
    c->next = rp->arena;
    rp->arena = c;
    return c->data;
}

char *http_req_strdup(struct http_req *req, const char *s)
{
    size_t n = strlen(s);
    char *p = http_req_alloc(req, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

void http_reply(struct http_req *req, int status, const char *content_type, const void *data,
                size_t len)
{
    req->status = status;
    req->content_type = content_type;
    buf_reset(&req->out);
    buf_add(&req->out, data, len);
    ((struct req_private *)req)->replied = true;
}

void http_reply_buf(struct http_req *req, int status, const char *content_type, struct buf *b)
{
    req->status = status;
    req->content_type = content_type;
    buf_release(&req->out);
    req->out = *b;
    buf_init(b);
    ((struct req_private *)req)->replied = true;
}

void http_reply_file(struct http_req *req, int status, const char *content_type, int fd,
                     uint64_t size)
{
    req->status = status;
    req->content_type = content_type;
    if (req->fd >= 0)
        close(req->fd);
    req->fd = fd;
    req->fd_size = size;
    ((struct req_private *)req)->replied = true;
}

void http_reply_header(struct http_req *req, const char *name, const char *value)
{
    if (req->nheaders >= HTTP_MAX_HEADERS)
        return;
    req->headers[req->nheaders].name = xstrdup(name);
    req->headers[req->nheaders].value = xstrdup(value);
    req->nheaders++;
}

void http_reply_error(struct http_req *req, int status, const char *message)
{
    struct http_server *srv = req->server;
    http_req_reason(req, message);
    const struct renderer *best = NULL;
    size_t bestlen = 0;
    for (int i = 0; i < srv->nrenderers; i++) {
        size_t n = strlen(srv->renderers[i].prefix);
        if (strncmp(req->path, srv->renderers[i].prefix, n) == 0 &&
            (req->path[n] == 0 || req->path[n] == '/' || req->path[n] == '?') &&
            (!best || n > bestlen)) {
            best = &srv->renderers[i];
            bestlen = n;
        }
    }
    if (best) {
        best->fn(req, status, message);
        if (((struct req_private *)req)->replied)
            return;
    }
    struct buf b = BUF_INIT;
    buf_adds(&b, "{\"error\":\"");
    buf_add_json_str(&b, message, strlen(message));
    buf_adds(&b, "\"}");
    http_reply_buf(req, status, "application/json", &b);
}

/* ---- routing ----------------------------------------------------------------------- */

/* Split the raw path into decoded segments.  Returns the count, or -1 on a
 * malformed escape, an encoded '/' or NUL, or too many segments. */
static int split_path(const char *path, char **segs, int max)
{
    int n = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n >= max)
            goto fail;
        char *s = url_decode(p, len, false);
        if (!s || strchr(s, '/')) {
            free(s);
            goto fail;
        }
        segs[n++] = s;
        p += len;
    }
    return n;
fail:
    for (int i = 0; i < n; i++)
        free(segs[i]);
    return -1;
}

/* Does route r match segs?  Fills score (per-segment kinds) when it does. */
static bool route_match(const struct route *r, char **segs, int nsegs, int score[MAX_SEGS + 1])
{
    int i = 0;
    for (; i < r->nsegs; i++) {
        if (r->segs[i].kind == SEG_STAR) {
            score[i] = SEG_STAR;
            score[i + 1] = -1;
            return true;
        }
        if (i >= nsegs)
            return false;
        if (r->segs[i].kind == SEG_LITERAL && strcmp(r->segs[i].text, segs[i]) != 0)
            return false;
        score[i] = r->segs[i].kind;
    }
    score[i] = -1;
    return i == nsegs;
}

static bool score_better(const int *a, const int *b)
{
    for (int i = 0; i <= MAX_SEGS; i++) {
        if (a[i] != b[i])
            return a[i] > b[i];
        if (a[i] < 0)
            break;
    }
    return false;
}

/* Find the route for req; 0 with *out set, or an HTTP status (404/405/400). */
static int route_find(struct http_req *req, const struct route **out, struct buf *allow)
{
    struct http_server *srv = req->server;
    char *segs[MAX_SEGS + 1];
    int nsegs = split_path(req->path, segs, MAX_SEGS);
    if (nsegs < 0)
        return 400;
    const struct route *best = NULL;
    int best_score[MAX_SEGS + 1], score[MAX_SEGS + 1];
    bool path_matched = false;
    for (int i = 0; i < srv->nroutes; i++) {
        const struct route *r = &srv->routes[i];
        if (!route_match(r, segs, nsegs, score))
            continue;
        bool method_ok = strcmp(r->method, "*") == 0 || strcmp(r->method, req->method) == 0 ||
                         (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
        if (!method_ok) {
            path_matched = true;
            if (!strstr(allow->data, r->method)) {
                if (allow->len)
                    buf_adds(allow, ", ");
                buf_adds(allow, r->method);
            }
            continue;
        }
        if (!best || score_better(score, best_score)) {
            best = r;
            memcpy(best_score, score, sizeof score);
        }
    }
    int status = 0;
    if (best) {
        req->nparams = 0;
        static_assert(sizeof req->params / sizeof req->params[0] == 8, "params bound below");
        for (int i = 0; i < best->nsegs && req->nparams < 8; i++) {
            if (best->segs[i].kind == SEG_PARAM) {
                req->params[req->nparams].name = best->segs[i].text;
                req->params[req->nparams].value = http_req_strdup(req, segs[i]);
                req->nparams++;
            } else if (best->segs[i].kind == SEG_STAR) {
                struct buf rest = BUF_INIT;
                for (int j = i; j < nsegs; j++) {
                    if (j > i)
                        buf_addc(&rest, '/');
                    buf_adds(&rest, segs[j]);
                }
                req->params[req->nparams].name = best->segs[i].text;
                req->params[req->nparams].value = http_req_strdup(req, rest.data);
                req->nparams++;
                buf_release(&rest);
            }
        }
        *out = best;
    } else {
        status = path_matched ? 405 : 404;
    }
    for (int i = 0; i < nsegs; i++)
        free(segs[i]);
    return status;
}

int http_route_lookup(struct http_server *srv, const char *method, const char *path,
                      const char **pattern)
{
    struct req_private *rp = xcalloc(1, sizeof *rp);
    rp->req.server = srv;
    rp->req.method = method;
    rp->req.path = path;
    rp->req.fd = -1;
    const struct route *route = NULL;
    struct buf allow = BUF_INIT;
    int st = route_find(&rp->req, &route, &allow);
    buf_release(&allow);
    *pattern = st == 0 ? route->pattern : NULL;
    while (rp->arena) {
        struct arena_chunk *c = rp->arena;
        rp->arena = c->next;
        free(c);
    }
    free(rp);
    return st;
}

/* ---- /health -------------------------------------------------------------------------- */

static int health_handler(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct http_server *srv = req->server;
    int schema = -1;
    const char *status = "ok";
    if (srv->store_url) {
        struct store *s = http_req_store(req);
        if (!s || store_schema_version(s, &schema) != 0) {
            status = "unavailable";
            schema = -1;
        }
    }
    struct buf b = BUF_INIT;
    buf_addf(&b, "{\"status\":\"%s\",\"version\":\"", status);
    buf_add_json_str(&b, srv->version, strlen(srv->version));
    buf_addf(&b, "\",\"schemaVersion\":%d,\"uptimeSeconds\":%lld}", schema,
             (long long)http_server_uptime(srv));
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_buf(req, strcmp(status, "ok") == 0 ? 200 : 503, "application/json", &b);
    return 0;
}

static void health_handler_register(struct http_server *srv)
{
    http_route_add(srv, "GET", "/health", health_handler, NULL, 0);
}

/* ---- MHD callbacks -------------------------------------------------------------------- */

static void request_free(struct req_private *rp);

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct http_server *srv = cls;
    struct req_private *rp = xcalloc(1, sizeof *rp);
    struct http_req *req = &rp->req;
    req->server = srv;
    req->mhd_connection = con;
    req->start_ns = http_now_ns();
    req->fd = -1;
    buf_init(&req->body);
    buf_init(&req->out);
    rp->uri = xstrdup(uri ? uri : "/");
    char *q = strchr(rp->uri, '?');
    if (q) {
        *q = 0;
        req->query = q + 1;
    } else {
        req->query = "";
    }
    char *hash = strchr(q ? q + 1 : rp->uri, '#');
    if (hash)
        *hash = 0;
    req->path = rp->uri;
    uint64_t n = atomic_fetch_add(&srv->next_id, 1);
    snprintf(rp->id, sizeof rp->id, "%08x%08x", (unsigned)srv->id_prefix, (unsigned)n);
    req->request_id = rp->id;
    req->method = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rp->conn = ci ? ci->socket_context : NULL;
    if (rp->conn) {
        if (rp->conn->pending) /* cannot happen: one request at a time per connection */
            rp->conn->pending->conn = NULL;
        rp->conn->pending = rp;
    }
    return rp;
}

/* The 16-byte key of a client address (IPv4 as ::ffff:a.b.c.d; anything
 * else, e.g. a Unix socket, all zeros). */
static void addr_key(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (!sa)
        return;
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

/* Count one more connection from key; false (and nothing counted) when the
 * address already has srv->per_address open. */
static bool addr_take(struct http_server *srv, const unsigned char key[16])
{
    bool ok = true;
    pthread_mutex_lock(&srv->addr_lock);
    int i = 0;
    while (i < srv->naddrs && memcmp(srv->addrs[i].addr, key, 16) != 0)
        i++;
    if (i == srv->naddrs) {
        if (srv->naddrs == srv->addrs_cap) {
            srv->addrs_cap = srv->addrs_cap ? 2 * srv->addrs_cap : 64;
            srv->addrs = xrealloc(srv->addrs, sizeof *srv->addrs * (size_t)srv->addrs_cap);
        }
        memcpy(srv->addrs[i].addr, key, 16);
        srv->addrs[i].n = 0;
        srv->naddrs++;
    }
    if (srv->addrs[i].n >= srv->per_address)
        ok = false;
    else
        srv->addrs[i].n++;
    pthread_mutex_unlock(&srv->addr_lock);
    return ok;
}

static void addr_give(struct http_server *srv, const unsigned char key[16])
{
    pthread_mutex_lock(&srv->addr_lock);
    for (int i = 0; i < srv->naddrs; i++) {
        if (memcmp(srv->addrs[i].addr, key, 16) != 0)
            continue;
        if (--srv->addrs[i].n <= 0)
            srv->addrs[i] = srv->addrs[--srv->naddrs];
        break;
    }
    pthread_mutex_unlock(&srv->addr_lock);
}

/* Connections come and go on the worker's daemon thread.  The acceptor
 * counted each one (worker and address) before handing it over; the count
 * is returned when libmicrohttpd closes it.  Until a whole request line and
 * headers have arrived the connection gets the short header timeout. */
static void connection_cb(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct worker *w = cls;
    struct http_server *srv = w->srv;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_state *cs = xcalloc(1, sizeof *cs);
        cs->worker = w;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        addr_key(ci ? ci->client_addr : NULL, cs->addr);
        MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)srv->header_timeout_s);
        if (srv->request_client_cert) {
            /* The handshake has not started yet (libmicrohttpd runs it on
             * the first read): ask for a client certificate, optional for
             * the handshake itself.  GnuTLS checks that the client holds the
             * certificate's key; whose certificate it is, is compared per
             * request against a bound client's pin (http/auth.c), so no CA
             * is configured and GnuTLS verifies no chain. */
            const union MHD_ConnectionInfo *ti =
                MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
            if (ti && ti->tls_session)
                gnutls_certificate_server_set_request((gnutls_session_t)ti->tls_session,
                                                      GNUTLS_CERT_REQUEST);
        }
        *socket_context = cs;
        return;
    }
    struct conn_state *cs = *socket_context;
    if (!cs)
        return;
    if (cs->pending) { /* dropped by MHD before it reached us: free it here */
        if (cs->pending->counted)
            atomic_fetch_sub(&srv->inflight, 1);
        if (cs->pending->receiving)
            atomic_fetch_sub(&srv->receiving, 1);
        request_free(cs->pending);
    }
    atomic_fetch_sub(&w->conns, 1);
    addr_give(srv, cs->addr);
    free(cs);
    *socket_context = NULL;
}

bool http_req_tls_client_sha256(struct http_req *req, char out[65])
{
    out[0] = 0;
    if (!req->server->tls_cert || !req->mhd_connection)
        return false;
    const union MHD_ConnectionInfo *ti =
        MHD_get_connection_info(req->mhd_connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ti || !ti->tls_session)
        return false;
    unsigned int n = 0;
    const gnutls_datum_t *certs =
        gnutls_certificate_get_peers((gnutls_session_t)ti->tls_session, &n);
    if (!certs || n == 0 || !certs[0].data || certs[0].size == 0)
        return false;
    /* the leaf, as DER: the same digest as openssl x509 -fingerprint -sha256 */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(certs[0].data, certs[0].size, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return false;
    hex_encode(md, mdlen, out);
    return true;
}

/* The path as logged: the raw path (ids only, never the query), printable
 * ASCII, at most 200 characters. */
static void log_path(const char *path, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = path; *p && o + 1 < cap && o < 200; p++)
        out[o++] = (*p > 32 && *p < 127 && *p != '"') ? *p : '?';
    out[o] = 0;
    /* A client may put an NHS number where an id belongs (/fhir/Patient/
     * 9991234567): mask every run of exactly 10 digits, the shape of one. */
    for (size_t i = 0; i < o;) {
        size_t j = i;
        while (j < o && out[j] >= '0' && out[j] <= '9')
            j++;
        if (j - i == 10)
            memset(out + i, '#', 10);
        i = j > i ? j : i + 1;
    }
}

static void request_free(struct req_private *rp)
{
    struct http_req *req = &rp->req;
    http_auth_release(req);
    if (rp->body_held)
        atomic_fetch_sub(&req->server->body_bytes, rp->body_held);
    url_kv_free(req->args, req->nargs);
    buf_release(&req->body);
    buf_release(&req->out);
    for (int i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    if (req->fd >= 0)
        close(req->fd);
    while (rp->arena) {
        struct arena_chunk *c = rp->arena;
        rp->arena = c->next;
        free(c);
    }
    free(rp->uri);
    free(rp);
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)con;
    struct http_server *srv = cls;
    struct req_private *rp = *con_cls;
    if (!rp)
        return;
    *con_cls = NULL;
    if (rp->conn && rp->conn->pending == rp)
        rp->conn->pending = NULL;
    struct http_req *req = &rp->req;
    double ms = (double)(http_now_ns() - req->start_ns) / 1e6;
    char path[256];
    log_path(req->path, path, sizeof path);
    unsigned long long bytes = req->fd_size ? req->fd_size : req->out.len;
    /* A refusal is a WARN line with its reason (an error, ERROR): an
     * operator sees every 4xx without turning on more logging. */
    enum log_level lv = req->status >= 500 ? LOG_ERROR : req->status >= 400 ? LOG_WARN : LOG_INFO;
    if (rp->started)
        metrics_http_request(req->path, req->status, ms / 1000.0);
    if (rp->started)
        log_msg(lv, "http", "request id=%s method=%s path=%s status=%d bytes=%llu ms=%.2f%s%s%s%s",
                req->request_id, req->method, path, req->status, bytes, ms,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1",
                req->reason[0] ? " reason=\"" : "", req->reason, req->reason[0] ? "\"" : "");
    if (rp->counted)
        atomic_fetch_sub(&srv->inflight, 1);
    if (rp->receiving)
        atomic_fetch_sub(&srv->receiving, 1);
    request_free(rp);
}

static enum MHD_Result queue_reply(struct http_req *req)
{
    struct MHD_Response *resp;
    if (req->fd >= 0) {
        resp = MHD_create_response_from_fd64(req->fd_size, req->fd);
        req->fd = -1; /* MHD closes it */
    } else if (req->out.len == 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(req->out.len, req->out.data, MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    if (req->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    if (req->server->tls_cert) /* browsers keep to HTTPS for a year */
        MHD_add_response_header(resp, "Strict-Transport-Security",
                                "max-age=31536000; includeSubDomains");
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    enum MHD_Result r = MHD_queue_response(req->mhd_connection, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Count req in flight (what shutdown waits for): from the moment it is
 * answered or its handler is about to run. */
static void count_inflight(struct req_private *rp)
{
    if (rp->receiving) {
        rp->receiving = false;
        atomic_fetch_sub(&rp->req.server->receiving, 1);
    }
    if (!rp->counted) {
        rp->counted = true;
        atomic_fetch_add(&rp->req.server->inflight, 1);
    }
}

/* The body limit of req once routed and authenticated: an anonymous request
 * to a route that takes anonymous requests (/launch, /oauth/token) carries a
 * form, never an upload. */
static size_t body_limit(const struct req_private *rp)
{
    size_t max = rp->req.server->max_body;
    return rp->small_body && max > HTTP_ANON_MAX_BODY ? HTTP_ANON_MAX_BODY : max;
}

static void reply_too_big(struct http_req *req)
{
    char msg[128];
    snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes",
             body_limit((struct req_private *)req));
    http_reply_error(req, 413, msg);
}

/* Headers are in, no body read yet: parse the query, route and
 * authenticate.  Anything refused here (400, 404, 405, 401, 503) is answered
 * before a byte of the body is read; libmicrohttpd then closes the
 * connection without reading it. */
static void prepare(struct http_req *req)
{
    struct req_private *rp = (struct req_private *)req;
    if (url_query_parse(req->query, strlen(req->query), &req->args, &req->nargs, MAX_QUERY_ARGS) !=
        0) {
        http_reply_error(req, 400,
                         "malformed query string (bad percent-encoding or too many "
                         "parameters)");
        return;
    }
    const struct route *route = NULL;
    struct buf allow = BUF_INIT;
    int st = route_find(req, &route, &allow);
    if (st != 0) {
        if (st == 405) {
            http_reply_header(req, "Allow", allow.data);
            char msg[300];
            snprintf(msg, sizeof msg, "method %s is not allowed here (allowed: %s)", req->method,
                     allow.data);
            http_reply_error(req, 405, msg);
        } else if (st == 400) {
            http_reply_error(req, 400, "malformed path (bad percent-encoding)");
        } else {
            http_reply_error(req, 404, "no such page or endpoint");
        }
        buf_release(&allow);
        return;
    }
    buf_release(&allow);
    int rc = http_auth_authenticate(req);
    if (rc == WEFT_EAUTH) {
        if (route->flags & HTTP_ROUTE_AUTH) {
            http_reply_header(req, "WWW-Authenticate",
                              "Bearer realm=\"weft\", error=\"invalid_token\"");
            http_reply_error(req, 401,
                             req->auth_refusal
                                 ? req->auth_refusal
                                 : "the access token is not valid (unknown or revoked)");
            return;
        }
        memset(&req->principal, 0, sizeof req->principal); /* treat as anonymous */
    } else if (rc != 0) {
        http_reply_error(req, 503, "cannot check credentials now; try again");
        return;
    }
    if ((route->flags & HTTP_ROUTE_AUTH) && req->principal.kind == PRINCIPAL_NONE) {
        http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"weft\"");
        http_reply_error(req, 401, "authentication required: send Authorization: Bearer TOKEN");
        return;
    }
    rp->small_body = req->principal.kind == PRINCIPAL_NONE;
    rp->route = route;
}

/* The whole request is in: run the handler. */
static void dispatch(struct http_req *req)
{
    struct req_private *rp = (struct req_private *)req;
    count_inflight(rp);
    if (rp->too_big) {
        reply_too_big(req);
        return;
    }
    const struct route *route = rp->route;
    int rc = route->fn(req, route->ctx);
    if (!rp->replied) {
        log_error("http", "handler for %s failed request=%s: %s", route->pattern, req->request_id,
                  weft_strerror(rc));
        http_reply_error(req, 500, "internal error");
    }
}

/* Keep n more body bytes of rp within the server's budget for bodies in
 * memory; false when that would pass it. */
static bool body_reserve(struct req_private *rp, size_t n)
{
    struct http_server *srv = rp->req.server;
    size_t before = atomic_fetch_add(&srv->body_bytes, n);
    if (before + n > srv->body_memory) {
        atomic_fetch_sub(&srv->body_bytes, n);
        return false;
    }
    rp->body_held += n;
    return true;
}

static void body_drop(struct req_private *rp)
{
    buf_release(&rp->req.body);
    if (rp->body_held) {
        atomic_fetch_sub(&rp->req.server->body_bytes, rp->body_held);
        rp->body_held = 0;
    }
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    struct http_server *srv = cls;
    struct req_private *rp = *con_cls;
    if (!rp)
        return MHD_NO; /* cannot happen: uri_log_cb always runs first */
    struct http_req *req = &rp->req;
    if (!rp->started) {
        rp->started = true;
        req->method = method;
        req->mhd_connection = con;
        if (rp->conn && !rp->conn->requested) { /* a whole request: the normal timeout */
            rp->conn->requested = true;
            MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)srv->timeout_s);
        }
        prepare(req);
        if (rp->replied) {
            count_inflight(rp);
            return queue_reply(req);
        }
        const char *cl =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && n > body_limit(rp)) {
                rp->too_big = true;
                dispatch(req); /* 413 now: MHD closes the connection unread */
                return queue_reply(req);
            }
        }
        rp->receiving = true;
        atomic_fetch_add(&srv->receiving, 1);
        atomic_store(&srv->body_ns, http_now_ns());
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        atomic_store(&srv->body_ns, http_now_ns());
        if (rp->replied) { /* already answered (413, 503): discard */
            *upload_data_size = 0;
            return MHD_YES;
        }
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        rp->body_seen += n;
        if (rp->body_seen > body_limit(rp)) {
            /* Past the limit without a Content-Length (chunked): keep reading
             * and discarding, so the client is still listening when the 413
             * comes at the end (closing on unread data makes the kernel reset
             * the connection, and the client may never see the reply).  A
             * client that sends more than twice the limit is cut off now. */
            rp->too_big = true;
            body_drop(rp);
            if (rp->body_seen > 2 * body_limit(rp)) {
                dispatch(req);
                return queue_reply(req);
            }
            return MHD_YES;
        }
        if (!body_reserve(rp, n)) {
            body_drop(rp);
            count_inflight(rp);
            http_reply_header(req, "Retry-After", "5");
            http_reply_error(req, 503,
                             "the server is receiving too many request bodies at once; try "
                             "again shortly");
            return queue_reply(req);
        }
        buf_add(&req->body, upload_data, n);
        return MHD_YES;
    }
    if (rp->replied)
        return MHD_YES;
    if (rp->too_big)
        body_drop(rp);
    dispatch(req);
    return queue_reply(req);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    log_warn("http", "libmicrohttpd: %s", msg);
}

/* Refuse a connection Weft will not take: a short 503 and close.  Sent
 * before the client has said anything, so it is usually read before the
 * close; either way the server's own state is untouched. */
static void refuse(int fd, const char *why)
{
    char body[200], msg[400];
    int bn = snprintf(body, sizeof body, "{\"error\":\"%s\"}", why);
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
                     bn, body);
    if (n > 0 && (size_t)n < sizeof msg)
        (void)send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

/* The acceptor: every connection to the next daemon in turn that has room.
 * Weft counts the connections itself (per daemon and per client address)
 * and refuses the ones over a limit here: libmicrohttpd is never handed a
 * connection past its own MHD_OPTION_CONNECTION_LIMIT, where 0.9.75 closes
 * it inside MHD_add_connection's queue and, under a burst, wedged the
 * daemon for good (issue 16, item 1).  Ends when http_server_stop clears
 * accepting and shuts the socket down. */
static void *acceptor_main(void *arg)
{
    struct http_server *srv = arg;
    unsigned next = 0;
    unsigned refused = 0;
    uint64_t last_warn = 0;
    while (atomic_load(&srv->accepting)) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int fd = accept(srv->listen_fd, (struct sockaddr *)&sa, &len);
        if (fd < 0) {
            if (!atomic_load(&srv->accepting))
                break;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EAGAIN)
                continue;
            /* out of descriptors or memory: wait for some to be freed */
            log_warn("http", "accepting a connection: %s", strerror(errno));
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        struct worker *w = NULL;
        for (int i = 0; i < srv->ndaemons && !w; i++) {
            struct worker *c = &srv->workers[next++ % (unsigned)srv->ndaemons];
            if (atomic_load(&c->conns) < srv->per_worker)
                w = c;
        }
        unsigned char key[16];
        addr_key((struct sockaddr *)&sa, key);
        const char *why = NULL;
        if (!w)
            why = "too many connections; try again shortly";
        else if (!addr_take(srv, key))
            why = "too many connections from your address; close some and try again";
        if (why) {
            refuse(fd, why);
            refused++;
            uint64_t now = http_now_ns();
            if (now - last_warn > 10ull * 1000000000u) {
                log_warn("http",
                         "refused %u connection(s): limits are %d per address, %d in all "
                         "(last: %s)",
                         refused, srv->per_address, srv->per_worker * srv->ndaemons,
                         w ? "per address" : "server full");
                refused = 0;
                last_warn = now;
            }
            continue;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        atomic_fetch_add(&w->conns, 1);
        /* On failure libmicrohttpd has closed fd (the client sees a reset)
         * and no close notification will come: give the counts back. */
        if (MHD_add_connection(w->daemon, fd, (const struct sockaddr *)&sa, len) != MHD_YES) {
            log_debug("http", "a connection was refused: %s", strerror(errno));
            atomic_fetch_sub(&w->conns, 1);
            addr_give(srv, key);
        }
    }
    return NULL;
}

/* The listening socket for ai (blocking: the acceptor sleeps in accept), or
 * -1 with errno set. */
static int listen_socket(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static void stop_daemons(struct http_server *srv)
{
    for (int i = 0; i < srv->ndaemons; i++)
        MHD_stop_daemon(srv->workers[i].daemon);
    srv->ndaemons = 0;
    free(srv->workers);
    srv->workers = NULL;
}

int http_server_start(struct http_server *srv, char **errmsg)
{
    *errmsg = NULL;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", srv->port);
    const char *host = srv->host;
    char h6[64];
    if (host[0] == '[') { /* [::1] */
        size_t n = strlen(host);
        if (n >= 2 && n - 2 < sizeof h6) {
            memcpy(h6, host + 1, n - 2);
            h6[n - 2] = 0;
            host = h6;
        }
    }
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0 || !ai) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "cannot resolve listen address '%s': %s", srv->host, gai_strerror(gai));
        *errmsg = buf_detach(&m, NULL);
        return WEFT_EINVAL;
    }
    srv->listen_fd = listen_socket(ai);
    int saved = errno;
    freeaddrinfo(ai);
    if (srv->listen_fd < 0) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "cannot listen on %s:%d: %s", srv->host, srv->port, strerror(saved));
        *errmsg = buf_detach(&m, NULL);
        return WEFT_EIO;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(srv->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET;
    /* HTTP_MAX_CONNECTIONS in all, shared out over the workers; the
     * acceptor keeps to that, and libmicrohttpd's own limit sits well above
     * it so that it never refuses a connection itself. */
    int total = HTTP_MAX_CONNECTIONS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        /* Room for every connection Weft will take, and the rest of the
         * process (store handles, MLLP, files): a connection that cannot get
         * a descriptor is one libmicrohttpd cannot handle either. */
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
            (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * (rlim_t)HTTP_MAX_CONNECTIONS) {
            total = (int)(rl.rlim_cur / 2);
            log_warn("http",
                     "only %llu file descriptors may be open: taking at most %d HTTP "
                     "connections (raise the limit for %d)",
                     (unsigned long long)rl.rlim_cur, total, HTTP_MAX_CONNECTIONS);
        }
    }
    srv->per_worker = total / srv->threads;
    if (srv->per_worker < 1)
        srv->per_worker = 1;
    unsigned mhd_limit = (unsigned)srv->per_worker * 2u + 64u;
    srv->started_ns = http_now_ns();
    srv->workers = xcalloc((size_t)srv->threads, sizeof *srv->workers);
    /* HTTPS: libmicrohttpd's GnuTLS, TLS 1.2 and 1.3 only, GnuTLS's SECURE
     * suites (AEAD ciphers, forward secrecy), the server's order first. */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
        {MHD_OPTION_HTTPS_PRIORITIES, 0,
         (void *)"SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"},
        {MHD_OPTION_END, 0, NULL},
    };
    if (srv->tls_cert)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    for (int i = 0; i < srv->threads; i++) {
        struct worker *w = &srv->workers[i];
        w->srv = srv;
        atomic_init(&w->conns, 0);
        errno = 0;
        struct MHD_Daemon *d = MHD_start_daemon(
            flags, 0, NULL, NULL, access_cb, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, srv, MHD_OPTION_NOTIFY_COMPLETED, completed_cb,
            srv, MHD_OPTION_NOTIFY_CONNECTION, connection_cb, w, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)srv->timeout_s, MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_ARRAY, tls,
            MHD_OPTION_END);
        if (!d) {
            saved = errno;
            stop_daemons(srv);
            close(srv->listen_fd);
            srv->listen_fd = -1;
            struct buf m = BUF_INIT;
            buf_addf(&m, "cannot start the HTTP workers on %s:%d: %s", srv->host, srv->port,
                     saved ? strerror(saved) : "libmicrohttpd refused to start");
            *errmsg = buf_detach(&m, NULL);
            return WEFT_EIO;
        }
        w->daemon = d;
        srv->ndaemons++;
    }
    atomic_store(&srv->accepting, true);
    if (pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0) {
        atomic_store(&srv->accepting, false);
        stop_daemons(srv);
        close(srv->listen_fd);
        srv->listen_fd = -1;
        *errmsg = xstrdup("cannot start the HTTP acceptor thread");
        return WEFT_EINTERNAL;
    }
    srv->acceptor_running = true;
    return WEFT_OK;
}

/* Stop taking connections: the acceptor ends and the socket closes.  New
 * clients are refused; connections already handed to a daemon go on. */
static void stop_accepting(struct http_server *srv)
{
    if (srv->acceptor_running) {
        atomic_store(&srv->accepting, false);
        shutdown(srv->listen_fd, SHUT_RDWR); /* wakes accept() (Linux) */
        pthread_join(srv->acceptor, NULL);
        srv->acceptor_running = false;
    }
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
}

void http_server_stop(struct http_server *srv, int grace_ms)
{
    if (srv->ndaemons == 0 || srv->stopped)
        return;
    srv->stopped = true;
    stop_accepting(srv);
    uint64_t deadline = http_now_ns() + (uint64_t)grace_ms * 1000000u;
    for (;;) {
        uint64_t now = http_now_ns();
        if (now >= deadline)
            break;
        uint64_t last = atomic_load(&srv->body_ns);
        bool arriving =
            atomic_load(&srv->receiving) > 0 && (last > now || now - last < HTTP_BODY_IDLE_NS);
        if (atomic_load(&srv->inflight) == 0 && !arriving)
            break;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    stop_daemons(srv);
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    http_server_stop(srv, 0);
    stop_accepting(srv);
    stop_daemons(srv);
    while (srv->stores) {
        struct thread_store *ts = srv->stores;
        srv->stores = ts->next;
        if (ts->store)
            store_close(ts->store);
        free(ts);
    }
    pthread_key_delete(srv->store_key);
    pthread_key_delete(srv->read_key);
    pthread_mutex_destroy(&srv->lock);
    pthread_mutex_destroy(&srv->addr_lock);
    free(srv->addrs);
    for (int i = 0; i < srv->nroutes; i++) {
        for (int j = 0; j < srv->routes[i].nsegs; j++)
            free(srv->routes[i].segs[j].text);
        free(srv->routes[i].method);
        free(srv->routes[i].pattern);
    }
    free(srv->routes);
    for (int i = 0; i < srv->nrenderers; i++)
        free(srv->renderers[i].prefix);
    free(srv->tls_cert);
    if (srv->tls_key) /* private key material does not linger in freed memory */
        explicit_bzero(srv->tls_key, strlen(srv->tls_key));
    free(srv->tls_key);
    free(srv->renderers);
    free(srv->host);
    free(srv->store_url);
    free(srv->read_url);
    free(srv->version);
    free(srv);
}
