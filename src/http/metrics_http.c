/*
 * metrics_http.c - the metrics listener (metrics_http.h).  Its own small
 * libmicrohttpd daemon on its own address, apart from the service's HTTP
 * listener: a scraper is never queued behind clinicians' requests, the
 * address can stay on loopback or a management network while the service
 * faces users, and nothing under /metrics needs the service's
 * authentication.  It answers GET /metrics and nothing else.
 *
 * Gauges read at scrape time: the database and WAL file sizes (SQLite: stat
 * of the files, no store handle, no lock; PostgreSQL: pg_database_size on
 * a handle of the listener's own, opened at the first scrape and made again
 * by the backend after the server restarts), the process start time.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/opt.h"
#include "http/metrics_http.h"
#include "http/serve.h"
#include "store/store.h"

struct metrics_listener {
    struct MHD_Daemon *d;
    char *db_path;
    char *pg_url; /* PostgreSQL: the store's URL, else NULL */
    struct store *pg;
    pthread_mutex_t mu; /* the handle: one scrape at a time */
    double started;
};

static const char *route_class(const char *path)
{
    static const char *const classes[] = {"fhir", "patient", "launch", "assets", "admin", "health"};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        size_t n = strlen(classes[i]);
        if (path[0] == '/' && strncmp(path + 1, classes[i], n) == 0 &&
            (path[n + 1] == 0 || path[n + 1] == '/' || path[n + 1] == '?'))
            return classes[i];
    }
    return "other";
}

void metrics_http_request(const char *path, int status, double seconds)
{
    const char *cls = route_class(path ? path : "");
    char labels[64];
    snprintf(labels, sizeof labels, "class=\"%s\",status=\"%d\"", cls, status);
    metrics_add("weft_http_requests_total", labels, 1);
    snprintf(labels, sizeof labels, "class=\"%s\"", cls);
    metrics_observe("weft_http_request_duration_seconds", labels, seconds);
}

static void file_sizes(void *ctx)
{
    struct metrics_listener *l = ctx;
    struct stat st;
    if (l->pg_url) {
        pthread_mutex_lock(&l->mu);
        char *err = NULL;
        if (!l->pg && store_open(&l->pg, l->pg_url, false, &err) != 0) {
            log_warn("metrics", "cannot open the store for its size: %s", err ? err : "error");
            l->pg = NULL;
        }
        free(err);
        int64_t bytes = 0;
        if (l->pg && store_size_bytes(l->pg, &bytes) == 0)
            metrics_set("weft_store_size_bytes", "", (double)bytes);
        pthread_mutex_unlock(&l->mu);
        metrics_set("weft_process_start_time_seconds", "", l->started);
        return; /* the WAL gauge is SQLite's (its -wal file) */
    }
    metrics_set("weft_store_size_bytes", "", stat(l->db_path, &st) == 0 ? (double)st.st_size : 0);
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", l->db_path);
    metrics_set("weft_store_wal_size_bytes", "", stat(wal, &st) == 0 ? (double)st.st_size : 0);
    metrics_set("weft_process_start_time_seconds", "", l->started);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *con, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    (void)cls, (void)version, (void)upload, (void)con_cls;
    if (*upload_len) { /* no request here has a body */
        *upload_len = 0;
        return MHD_YES;
    }
    int status = MHD_HTTP_OK;
    struct buf b = BUF_INIT;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";
    if (strcmp(url, "/metrics") != 0) {
        status = MHD_HTTP_NOT_FOUND;
        buf_adds(&b, "not found: the metrics are at /metrics\n");
        type = "text/plain; charset=utf-8";
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        buf_adds(&b, "only GET\n");
        type = "text/plain; charset=utf-8";
    } else {
        metrics_render(&b);
    }
    size_t len;
    char *body = buf_detach(&b, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* "HOST:PORT", or "PORT" for 127.0.0.1:PORT (loopback by default). */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(s, ':');
    const char *port_s = s;
    if (colon) {
        size_t hl = (size_t)(colon - s);
        if (hl == 0 || hl >= sizeof host)
            return WEFT_EINVAL;
        memcpy(host, s, hl);
        host[hl] = 0;
        if (host[0] == '[' && host[hl - 1] == ']') {
            memmove(host, host + 1, hl - 2);
            host[hl - 2] = 0;
        }
        port_s = colon + 1;
    }
    char *end;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (errno || end == port_s || *end || port < 0 || port > 65535)
        return WEFT_EINVAL;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
    } else {
        return WEFT_EINVAL;
    }
    return WEFT_OK;
}

int metrics_serve_start(const struct serve_ctx *ctx, void **state)
{
    const char *addr = opts_get(ctx->opts, "metrics");
    *state = NULL;
    if (!addr)
        return WEFT_OK;
    struct sockaddr_storage ss;
    socklen_t slen;
    if (parse_addr(addr, &ss, &slen) != 0) {
        fprintf(stderr, "weft serve: --metrics '%s': expected HOST:PORT or PORT (an IP address)\n",
                addr);
        return WEFT_EINVAL;
    }
    struct metrics_listener *l = xcalloc(1, sizeof *l);
    struct store_url u;
    store_url_parse(ctx->db, &u);
    l->db_path = xstrdup(u.kind == STORE_KIND_SQLITE ? u.path : "");
    l->pg_url = store_url_is_postgres(ctx->db) ? xstrdup(ctx->db) : NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->started = (double)time(NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    l->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, l, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!l->d) {
        fprintf(stderr, "weft serve: cannot listen for metrics on %s: %s\n", addr, strerror(errno));
        free(l->db_path);
        free(l->pg_url);
        free(l);
        return WEFT_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? (int)info->port : 0;
    const char *pf = opts_get(ctx->opts, "metrics-port-file");
    if (pf) {
        struct buf tmp = BUF_INIT;
        buf_addf(&tmp, "%s.tmp", pf);
        FILE *f = fopen(tmp.data, "w");
        int ok = f && fprintf(f, "%d\n", port) > 0;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok || rename(tmp.data, pf) != 0) {
            fprintf(stderr, "weft serve: cannot write '%s': %s\n", pf, strerror(errno));
            buf_release(&tmp);
            MHD_stop_daemon(l->d);
            free(l->db_path);
            free(l->pg_url);
            free(l);
            return WEFT_EIO;
        }
        buf_release(&tmp);
    }
    metrics_collector_add(file_sizes, l);
    log_info("serve", "listening metrics=%s port=%d", addr, port);
    *state = l;
    return WEFT_OK;
}

void metrics_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct metrics_listener *l = state;
    if (!l)
        return;
    MHD_stop_daemon(l->d);
    metrics_collectors_clear();
    if (l->pg)
        store_close(l->pg);
    pthread_mutex_destroy(&l->mu);
    free(l->db_path);
    free(l->pg_url);
    free(l);
}
