/*
 * feeds_http.c - /admin/feeds routes and the inbox-first hooks of POST /fhir
 * (feeds_http.h).  Status is assembled from the per-day counters, so the
 * admin page costs a few indexed reads per feed whatever the traffic.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "access/authz.h"
#include "core/metrics.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "feeds/feeds_http.h"
#include "feeds/inbox.h"
#include "feeds/ingest.h"
#include "feeds/registry.h"
#include "feeds/lag.h"
#include "fhir/api.h"
#include "fhir/outcome.h"
#include "http/serve.h"
#include "http/server.h"
#include "store/feeds.h"
#include "store/store.h"

#define JSON_TYPE "application/json; charset=utf-8"

static const struct feeds_console *console;

void feeds_console_set(const struct feeds_console *c)
{
    console = c;
}

bool feeds_wants_html(struct http_req *req)
{
    const char *a = http_req_header(req, "Accept");
    return a && strstr(a, "text/html") != NULL;
}

static bool has_scope(const char *scopes, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = scopes; p && *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == n && strncmp(p, want, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static bool may_read_feeds(struct store *s, const struct principal *p)
{
    /* a secondary-use client never reads messages verbatim (they name
     * people): access/authz.h */
    if (p->kind == PRINCIPAL_CLIENT && p->client_purpose == PRINCIPAL_CLIENT_PURPOSE_SECONDARY)
        return false;
    if (p->kind == PRINCIPAL_CLIENT)
        return has_scope(p->scopes, "system/*.rs") || has_scope(p->scopes, "system/*.read") ||
               has_scope(p->scopes, "*") || has_scope(p->scopes, "admin/feeds.read");
    if (p->kind == PRINCIPAL_USER)
        return authz_may_review_audit(s, p);
    return false;
}

static void reply_json(struct http_req *req, int status, json_t *j)
{
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply(req, status, JSON_TYPE, t, strlen(t));
    free(t);
}

static void reply_error(struct http_req *req, int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    reply_json(req, status, j);
    json_decref(j);
}

/* Common start: store and permission.  NULL after replying. */
static struct store *admin_begin(struct http_req *req)
{
    struct store *s = http_req_store(req);
    if (!s) {
        reply_error(req, 503, "the record store is not available");
        return NULL;
    }
    if (!may_read_feeds(s, &req->principal)) {
        reply_error(req, 403,
                    "feed status needs a client with a system read scope or admin/feeds.read, "
                    "or an information governance role");
        return NULL;
    }
    return s;
}

static int admin_status(struct http_req *req, void *ctx)
{
    (void)ctx;
    if (console && feeds_wants_html(req))
        return console->status(req);
    struct store *s = admin_begin(req);
    if (!s)
        return 0;
    json_t *st = NULL;
    int rc = feed_registry_status_all(s, time(NULL), &st);
    if (rc != 0) {
        log_error("feeds", "status failed request=%s: %s", req->request_id, store_errmsg(s));
        reply_error(req, 500, "feed status could not be read");
        return 0;
    }
    reply_json(req, 200, st);
    json_decref(st);
    return 0;
}

static int admin_messages(struct http_req *req, void *ctx)
{
    (void)ctx;
    if (console && feeds_wants_html(req))
        return console->messages(req, http_req_param(req, "name"));
    struct store *s = admin_begin(req);
    if (!s)
        return 0;
    const char *name = http_req_param(req, "name");
    struct store_feed f;
    int rc = store_feed_by_name(s, name, &f);
    if (rc == WEFT_ENOTFOUND) {
        reply_error(req, 404, "no such feed");
        return 0;
    }
    if (rc != 0) {
        reply_error(req, 500, "the feed could not be read");
        return 0;
    }
    struct store_inbox_filter flt = {.feed_id = f.id, .limit = 100};
    char since[32];
    const char *o = http_req_arg(req, "outcome"), *t = http_req_arg(req, "since");
    const char *after = http_req_arg(req, "after"), *lim = http_req_arg(req, "limit");
    if (o && !inbox_outcome_valid(o)) {
        reply_error(req, 400, "outcome must be pending, applied, rejected, duplicate or partial");
        goto out;
    }
    flt.outcome = o;
    if (t) {
        if (inbox_parse_since(t, time(NULL), since) != 0) {
            reply_error(req, 400, "since must be a date, date-time or duration (30m, 2h, 7d)");
            goto out;
        }
        flt.since = since;
    }
    if (after)
        flt.after_id = strtoll(after, NULL, 10);
    if (lim) {
        long l = strtol(lim, NULL, 10);
        flt.limit = l < 1 ? 1 : l > 1000 ? 1000 : (int)l;
    }
    struct store_inbox_msg *ms = NULL;
    int n = 0;
    if (store_inbox_list(s, &flt, &ms, &n) != 0) {
        reply_error(req, 500, "the inbox could not be read");
        goto out;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, inbox_msg_json(&ms[i], f.name));
    json_t *j = json_pack("{s:s,s:o}", "feed", f.name, "messages", arr);
    if (n == flt.limit)
        json_object_set_new(j, "next_after", json_integer(ms[n - 1].id));
    reply_json(req, 200, j);
    json_decref(j);
    store_inbox_msgs_free(ms, n);
out:
    store_feed_clear(&f);
    return 0;
}

static int admin_message(struct http_req *req, void *ctx)
{
    (void)ctx;
    if (console && feeds_wants_html(req))
        return console->message(req, http_req_param(req, "id"));
    struct store *s = admin_begin(req);
    if (!s)
        return 0;
    long long id = strtoll(http_req_param(req, "id"), NULL, 10);
    struct store_inbox_msg m;
    int rc = id > 0 ? store_inbox_get(s, id, true, &m) : WEFT_ENOTFOUND;
    if (rc == WEFT_ENOTFOUND) {
        reply_error(req, 404, "no such inbound message");
        return 0;
    }
    if (rc != 0) {
        reply_error(req, 500, "the inbox could not be read");
        return 0;
    }
    struct store_feed f = {0};
    bool hf = m.feed_id && store_feed_get(s, m.feed_id, &f) == 0;
    /* The verbatim body is patient data of any category, not yet decided by
     * the authorisation point: it goes only to callers who may read every
     * record (a system-wide read scope, as authz_scope_for_person grants
     * them), and the read is audited.  A feed-status scope or a governance
     * role sees the message's metadata only. */
    const struct principal *p = &req->principal;
    struct authz_scope sc = {0};
    bool body = p->kind == PRINCIPAL_CLIENT && authz_scope_for_person(s, p, NULL, &sc) == 0 &&
                sc.allowed && sc.ncategories < 0 && sc.norgs < 0;
    authz_scope_clear(&sc);
    if (body) {
        char what[64];
        snprintf(what, sizeof what, "inbox message %lld", id);
        if (authz_audit_access(s, p, "read", NULL, what, 1) != 0) {
            reply_error(req, 500, "the read could not be audited");
            store_feed_clear(&f);
            store_inbox_msg_clear(&m);
            return 0;
        }
    } else if (m.body) {
        free(m.body);
        m.body = NULL;
        m.body_len = 0;
    }
    json_t *j = inbox_msg_json(&m, hf ? f.name : NULL);
    if (!body)
        json_object_set_new(j, "body_withheld",
                            json_string("the message body holds patient data: it is shown "
                                        "only to clients with a system-wide read scope"));
    reply_json(req, 200, j);
    json_decref(j);
    store_feed_clear(&f);
    store_inbox_msg_clear(&m);
    return 0;
}

int feeds_admin_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    int rc = http_route_add(ctx->http, "GET", "/admin/feeds", admin_status, NULL, HTTP_ROUTE_AUTH);
    if (rc == 0)
        rc = http_route_add(ctx->http, "GET", "/admin/feeds/{name}/messages", admin_messages, NULL,
                            HTTP_ROUTE_AUTH);
    if (rc == 0)
        rc = http_route_add(ctx->http, "GET", "/admin/feeds/messages/{id}", admin_message, NULL,
                            HTTP_ROUTE_AUTH);
    if (rc != 0)
        fprintf(stderr, "weft serve: cannot register /admin/feeds: %s\n", weft_strerror(rc));
    return rc;
}

/* ---- POST /fhir hooks ------------------------------------------------------------------- */

/* One POST /fhir (fhir_write.state). */
struct feeds_post {
    int64_t inbox_id; /* 0: the caller is not a feed (nothing recorded) */
    int64_t feed_id;
    char *feed; /* the feed's name for load_ctx.feed (NULL: not a feed) */
    struct ingest *ig;
    struct feed_lag lag; /* the bundle's events (post_bundle) */
};

static void peer_of(struct http_req *req, char *out, size_t cap)
{
    out[0] = 0;
    if (!req->mhd_connection)
        return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        (struct MHD_Connection *)req->mhd_connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    char host[64] = "", serv[16] = "";
    const struct sockaddr *sa = ci->client_addr;
    socklen_t sl =
        sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(out, cap, "%s:%s", host, serv);
}

/* weft_feed_messages_total for a bundle posted to a FHIR feed. */
static void count_bundle(const char *feed, const char *outcome)
{
    char fv[160], labels[256];
    metrics_label_value(fv, sizeof fv, feed ? feed : "-");
    snprintf(labels, sizeof labels, "feed=\"%s\",kind=\"fhir\",outcome=\"%s\"", fv, outcome);
    metrics_add("weft_feed_messages_total", labels, 1);
}

/* 0: go on; 1: a reply (403/503) was sent, stop (fp released). */
static int post_begin(struct http_req *req, struct store *s, struct feeds_post *fp)
{
    memset(fp, 0, sizeof fp[0]);
    if (req->principal.kind != PRINCIPAL_CLIENT)
        return 0;
    fp->ig = ingest_new(s);
    struct ingest_result r;
    ingest_result_init(&r);
    char peer[96];
    peer_of(req, peer, sizeof peer);
    int rc = ingest_fhir_arrival(fp->ig, req->principal.client_name, req->body.data, req->body.len,
                                 peer[0] ? peer : NULL, &r, &fp->feed);
    if (rc == 0 && r.inbox_id <= 0) /* not a feed's token: an API client's write */
        rc = ingest_fhir_client_arrival(fp->ig, req->principal.client_name, req->principal.org,
                                        req->body.data, req->body.len, peer[0] ? peer : NULL, &r);
    fp->inbox_id = r.inbox_id;
    fp->feed_id = r.feed_id;
    int replied = 0;
    if (rc != 0) {
        log_error("feeds", "inbox write failed request=%s: %s", req->request_id, store_errmsg(s));
        json_t *oo = fhir_outcome_make("error", "transient",
                                       "the message could not be kept: nothing was stored; "
                                       "send it again");
        reply_json(req, 503, oo);
        json_decref(oo);
        replied = 1;
    } else if (r.http_status == 403) {
        json_t *oo = fhir_outcome_make("error", "forbidden", r.reason);
        char *t = json_dumps(oo, JSON_COMPACT);
        http_reply(req, 403, "application/fhir+json; charset=utf-8", t, strlen(t));
        free(t);
        json_decref(oo);
        log_warn("feeds", "bundle refused request=%s inbox=%lld: no agreement", req->request_id,
                 (long long)fp->inbox_id);
        count_bundle(fp->feed, "rejected");
        replied = 1;
    }
    ingest_result_release(&r);
    if (replied) {
        ingest_free(fp->ig);
        free(fp->feed);
        memset(fp, 0, sizeof fp[0]);
    }
    return replied;
}

/* A feed's bundle, parsed, before it is loaded (the load rewrites meta): take
 * the lag samples of its events (feeds/lag.h).  Nothing when not a feed. */
static void post_bundle(struct feeds_post *fp, const json_t *bundle)
{
    if (fp->inbox_id <= 0)
        return;
    char now[32];
    inbox_now(now);
    feed_lag_add_bundle(&fp->lag, bundle, now);
}

/* Record the outcome (req->status is the status replied) and release fp.
 * rep NULL: the request was refused before loading. */
static void post_end(struct http_req *req, struct feeds_post *fp, int load_rc,
                     const struct load_report *rep)
{
    if (fp->inbox_id > 0 && fp->ig) {
        struct ingest_result r;
        ingest_result_init(&r);
        r.inbox_id = fp->inbox_id;
        r.feed_id = fp->feed_id;
        r.lag = fp->lag;
        /* the handler's OperationOutcome says why (bad JSON, wrong type, ...) */
        char why[256];
        snprintf(why, sizeof why, "refused with HTTP %d before loading", req->status);
        json_t *oo = req->out.len ? json_loadb(req->out.data, req->out.len, 0, NULL) : NULL;
        const char *diag = json_string_value(
            json_object_get(json_array_get(json_object_get(oo, "issue"), 0), "diagnostics"));
        if (diag)
            snprintf(why, sizeof why, "HTTP %d: %s", req->status, diag);
        json_decref(oo);
        int rc = ingest_fhir_done(fp->ig, &r, load_rc, rep, req->status, rep ? NULL : why);
        if (rc == 0 && r.outcome)
            count_bundle(fp->feed, r.outcome);
        if (rc != 0)
            log_error("feeds", "inbox outcome not recorded request=%s inbox=%lld", req->request_id,
                      (long long)fp->inbox_id);
        ingest_result_release(&r);
    }
    ingest_free(fp->ig);
    free(fp->feed);
    memset(fp, 0, sizeof fp[0]);
}

/* The struct fhir_write_hook face of the three above: the request's
 * struct feeds_post lives in w->state from begin to end. */
static int hook_begin(struct http_req *req, struct store *s, struct fhir_write *w)
{
    struct feeds_post *fp = xcalloc(1, sizeof *fp);
    if (post_begin(req, s, fp)) {
        free(fp);
        memset(w, 0, sizeof *w);
        return 1;
    }
    w->inbox_id = fp->inbox_id;
    w->feed = fp->feed;
    w->state = fp;
    return 0;
}

static void hook_bundle(struct fhir_write *w, const json_t *bundle)
{
    assert(w->state);
    post_bundle(w->state, bundle);
}

static void hook_end(struct http_req *req, struct fhir_write *w, int load_rc,
                     const struct load_report *rep)
{
    assert(w->state);
    post_end(req, w->state, load_rc, rep);
    free(w->state);
    memset(w, 0, sizeof *w);
}

const struct fhir_write_hook feeds_fhir_write_hook = {
    .begin = hook_begin, .bundle = hook_bundle, .end = hook_end};
