/*
 * clinician_view.c - the one request path of the clinician's pages under
 * /patient/{person id} (web_patient_page, web_view):
 *   1. who: req->principal from the HTTP core's sign-in chain (a launched
 *      user's session cookie); nobody -> "your session has ended" page (401);
 *   2. may they: access_read_open() - the one scoped-read path
 *      (access/read.h) decides for the person in the URL (refusals audited)
 *      -> "no permission" page (403) on refusal;
 *   3. does the person exist -> "patient not found" page (404);
 *   4. render the page (clinician_*.c) with every store query scoped
 *      (data.c web_fetch -> access_read_search);
 *   5. audit the view (action read, what was shown, count) through the
 *      one group-commit audit writer (audit_record; the response does not
 *      wait for the disk).
 * Rendered pages are kept in the page cache (cache.c) keyed by the person's
 * record version and the scope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/read.h"
#include "audit/audit.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"
#include "identity/identity.h"
#include "web/cache.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "store/access.h"
#include "store/records.h"

/* Audit a page view that did not show the page (outcome failed/denied). */
static void audit_outcome(struct web_ctx *c, const char *page, const char *outcome,
                          const char *reason)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, c->p);
    ev.action = strcmp(outcome, AUDIT_DENIED) == 0 ? AUDIT_DENIAL : AUDIT_READ;
    ev.outcome = outcome;
    ev.person_id = c->person_id;
    ev.request_id = c->req->request_id;
    struct buf what = BUF_INIT;
    buf_addf(&what, "page:%s", page);
    ev.what = what.data;
    ev.count = 0;
    ev.reason = reason;
    int rc = audit_record(c->store, &ev, false); /* the one audit writer (audit_serve.c) */
    if (rc < 0)
        log_error("web", "audit append failed for request %s: %s", c->req->request_id,
                  weft_strerror(rc));
    buf_release(&what);
}

static void audit_view(struct web_ctx *c, const char *page)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, c->p);
    ev.action = AUDIT_READ;
    ev.outcome = AUDIT_OK;
    ev.person_id = c->person_id;
    ev.request_id = c->req->request_id;
    struct buf what = BUF_INIT;
    buf_addf(&what, "page:%s%s%s", page, c->what.len ? " " : "", c->what.data);
    ev.what = what.data;
    ev.count = c->count;
    int rc = audit_record(c->store, &ev, false); /* the one audit writer (audit_serve.c) */
    if (rc < 0)
        log_error("web", "audit append failed for request %s: %s", c->req->request_id,
                  weft_strerror(rc));
    buf_release(&what);
}

void web_ctx_release(struct web_ctx *c)
{
    web_list_clear(&c->all);
    access_read_close(&c->rd);
    buf_release(&c->out);
    buf_release(&c->what);
    json_decref(c->patient);
    store_row_clear(&c->patient_row);
    for (int i = 0; i < c->norgs; i++) {
        free(c->orgs[i].ods);
        free(c->orgs[i].name);
    }
}

/* Does the store hold anything for this person?  *snap gets the store's
 * current snapshot, which the whole page then reads at. */
static int person_exists(struct store *s, const char *person_id, bool *exists, int64_t *snap)
{
    struct store_person sp = {0};
    int rc = store_person_get(s, person_id, &sp);
    store_person_clear(&sp);
    if (rc == WEFT_ENOTFOUND) {
        *exists = false;
        return WEFT_OK;
    }
    if (rc < 0)
        return rc;
    /* A Patient first (one index probe); any item otherwise. */
    struct store_query q = {.type = "Patient", .person_id = person_id, .limit = 1};
    struct store_result r = {0};
    rc = store_search(s, &q, &r);
    *exists = rc == WEFT_OK && r.nrows > 0;
    *snap = r.snapshot;
    store_result_clear(&r);
    if (rc == WEFT_OK && !*exists) {
        struct store_query any = {.person_id = person_id, .limit = 1, .snapshot = *snap};
        rc = store_search(s, &any, &r);
        *exists = rc == WEFT_OK && r.nrows > 0;
        store_result_clear(&r);
    }
    return rc;
}

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* An error page into out (status returned). */
static int error_into(struct web_ctx *c, int status, const char *title, const char *what,
                      const char *next_step)
{
    buf_reset(&c->out);
    http_req_reason(c->req, title);
    web_error_html(&c->out, c->w->service_name, title, what, next_step);
    return status;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* store_person_version(), remembered while the store's snapshot stays the
 * same (no write anywhere: the version cannot have changed). */
static int person_version(struct web *w, struct store *s, const char *pid, int64_t snap,
                          int64_t *seq, int64_t *count)
{
    struct web_version_slot *slot = &w->versions[fnv(pid) % WEB_VERSION_SLOTS];
    pthread_mutex_lock(&w->version_mu);
    bool hit = slot->snapshot == snap && strcmp(slot->person, pid) == 0;
    if (hit) {
        *seq = slot->seq;
        *count = slot->count;
    }
    pthread_mutex_unlock(&w->version_mu);
    if (hit)
        return WEFT_OK;
    int rc = store_person_version(s, pid, snap, seq, count, NULL);
    if (rc == WEFT_OK && strlen(pid) < sizeof slot->person) {
        pthread_mutex_lock(&w->version_mu);
        memcpy(slot->person, pid, strlen(pid) + 1);
        slot->snapshot = snap;
        slot->seq = *seq;
        slot->count = *count;
        pthread_mutex_unlock(&w->version_mu);
    }
    return rc;
}

/* The key of the page in the cache: everything the rendered bytes depend on
 * (with_page false: only what every page of the person shares). */
static void cache_key(const struct web_ctx *c, struct buf *key, bool with_page)
{
    const char *type = http_req_param(c->req, "type"), *rid = http_req_param(c->req, "rid");
    buf_addf(key, "%s|%lld.%lld|%s|%d%d%d%d%d|%s|", c->person_id, (long long)c->version_seq,
             (long long)c->version_count, c->today, c->rd.scope.restricted, c->glass,
             c->rd.scope.objection, c->rd.scope.may_break_glass, c->under_review,
             c->p->org ? c->p->org : "");
    if (with_page)
        buf_addf(key, "%s|%s|%s|%s|", c->page, type ? type : "", rid ? rid : "",
                 c->req->query ? c->req->query : "");
    if (c->rd.scope.ncategories < 0)
        buf_adds(key, "*");
    for (int i = 0; i < c->rd.scope.ncategories; i++)
        buf_addf(key, "%s,", c->rd.scope.categories[i]);
    buf_addc(key, '|');
    if (c->rd.scope.norgs < 0)
        buf_adds(key, "*");
    for (int i = 0; i < c->rd.scope.norgs; i++)
        buf_addf(key, "%s,", c->rd.scope.orgs[i]);
}

/* The navigation (which categories have visible data) is the same for every
 * page of a person at a snapshot and scope: kept in the cache beside the
 * pages, as a string of '0'/'1' per category. */
static int nav_cached(struct web_ctx *c)
{
    struct buf key = BUF_INIT, flags = BUF_INIT, none = BUF_INIT;
    buf_adds(&key, "nav|");
    cache_key(c, &key, false);
    int status;
    int64_t count;
    int rc = WEFT_OK;
    if (web_cache_get(c->w->cache, key.data, &flags, &none, &status, &count) &&
        flags.len == sizeof c->nav_has) {
        for (size_t i = 0; i < sizeof c->nav_has; i++)
            c->nav_has[i] = flags.data[i] == '1';
    } else if ((rc = web_nav_scan(c)) == WEFT_OK) {
        buf_reset(&flags);
        for (size_t i = 0; i < sizeof c->nav_has; i++)
            buf_addc(&flags, c->nav_has[i] ? '1' : '0');
        web_cache_put(c->w->cache, key.data, &flags, &none, 200, 0);
    }
    buf_release(&key);
    buf_release(&flags);
    buf_release(&none);
    return rc;
}

/* Render the page itself (the scope is decided); its HTTP status. */
static int render(struct web_ctx *c, const char *page, const char *type, const char *rid)
{
    const struct web_category *cat = web_category_find(page);
    /* What the scope hides of this record (STYLE habit 18), so the page can
     * tell "none recorded" from "none you may see".  A failure leaves it
     * saying hidden, the safe answer. */
    int hrc = access_read_hidden(&c->rd, c->snapshot, &c->hidden);
    if (hrc < 0)
        log_warn("web", "hidden-items check failed for request %s: %s",
                 c->req->request_id ? c->req->request_id : "-", weft_strerror(hrc));
    if (strcmp(page, "summary") == 0)
        return web_page_summary(c);
    if (strcmp(page, "timeline") == 0)
        return web_page_timeline(c);
    if (strcmp(page, "chart") == 0) {
        if (!web_scope_category(c, "results") && !web_scope_category(c, "observations"))
            return error_into(c, 403, "You do not have permission to view this part of the record",
                              "Your role's access does not include results or observations.",
                              "Go back to the patient's summary.");
        return web_page_chart(c);
    }
    if (strcmp(page, "item") == 0)
        return web_page_item(c, type, rid);
    if (cat && !web_scope_category(c, cat->name))
        return error_into(c, 403, "You do not have permission to view this part of the record",
                          "Your role's access does not include this kind of information.",
                          "Go back to the patient's summary. In an emergency, ask a colleague "
                          "whose role includes it.");
    if (cat && cat->kind == WEB_CAT_RESULTS)
        return web_page_results(c, cat);
    if (cat)
        return web_page_category(c, cat);
    return 404;
}

int web_view(struct web *w, struct http_req *req, struct store *s, struct buf *out)
{
    const char *pid = http_req_param(req, "id");
    const char *page = http_req_param(req, "page");
    const char *type = http_req_param(req, "type"), *rid = http_req_param(req, "rid");
    if (!page)
        page = type ? "item" : "summary";
    struct web_ctx c = {0};
    c.w = w;
    c.req = req;
    c.store = s;
    c.p = &req->principal;
    c.person_id = pid;
    c.page = page;
    buf_init(&c.out);
    buf_init(&c.what);
    fmt_today(c.today);
    int status = 0, rc;
    struct buf key = BUF_INIT;

    rc = access_read_open(&c.rd, s, c.p, AUDIT_READ, pid);
    if (rc < 0 || !c.rd.scope.allowed) {
        struct buf what = BUF_INIT, next = BUF_INIT;
        buf_addf(&what, "Your access does not allow this: %s.",
                 c.rd.scope.reason ? c.rd.scope.reason : "the access check could not be made");
        html_url_addf(&next, "/patient/%s/break-glass", pid);
        bool may_glass = rc >= 0 && authz_may_break_glass(s, c.p);
        web_error_html_link(&c.out, w->service_name,
                            "You do not have permission to view this record", what.data,
                            may_glass ? "If this is the patient you are caring for, open them "
                                        "again from your own clinical system. In an emergency "
                                        "you can request emergency access (break-glass); it is "
                                        "recorded and reviewed."
                                      : "If this is the patient you are caring for, open them "
                                        "again from your own clinical system. Your role cannot "
                                        "use emergency access: in an emergency, ask a colleague "
                                        "whose role can.",
                            may_glass ? next.data : NULL, "Request emergency access (break-glass)");
        buf_release(&what);
        buf_release(&next);
        status = rc < 0 ? 503 : 403;
        goto done;
    }
    /* The record's items may be read from the read standby (weft serve
     * --db-read; the decision above was made on the primary): the page's
     * snapshot is then the standby's, and a person the standby does not hold
     * yet is looked for on the primary before anyone is told there is no
     * record (docs/OPERATIONS.md, "A hot standby for reads"). */
    struct store *ds = access_read_standby(req);
    bool exists = false;
    if (ds && person_exists(ds, pid, &exists, &c.snapshot) < 0)
        http_req_store_read_failed(req);
    if (ds && !exists)
        ds = NULL;
    if (!ds && (rc = person_exists(s, pid, &exists, &c.snapshot)) < 0) {
        status = rc;
        goto done;
    }
    if (ds) {
        c.rd.data = ds;
        c.rd.data_seen = c.snapshot;
    }
    if (!exists) {
        audit_outcome(&c, page, AUDIT_FAILED, "no record held for this person");
        status = error_into(&c, 404, "Patient not found",
                            "The shared care record holds no information about this person yet. "
                            "This can happen when the person is new to the area or their records "
                            "have not yet been sent by their GP or hospital.",
                            "Check you opened the right patient in your own system. If the NHS "
                            "number is right, use the information in your own system for now.");
        goto done;
    }
    c.glass = c.p->break_glass || !c.p->person_id || strcmp(c.p->person_id, pid) != 0;
    /* The cache key names the version of this person's record, not the
     * store-wide snapshot, so writes about other people keep it valid. */
    rc = person_version(w, ds ? ds : s, pid, c.snapshot, &c.version_seq, &c.version_count);
    if (rc == WEFT_EUNSUPPORTED) {
        /* A backend without it: key by the store-wide snapshot (still exact). */
        c.version_seq = c.snapshot;
        c.version_count = -1;
    } else if (rc < 0) {
        status = rc;
        goto done;
    }
    /* a pending identity review changes no version of the record: read it
     * each time (it is part of the cache key) */
    if ((rc = identity_under_review(s, pid, &c.under_review)) < 0) {
        status = rc;
        goto done;
    }
    cache_key(&c, &key, true);
    if (web_cache_get(w->cache, key.data, &c.out, &c.what, &status, &c.count)) {
        audit_view(&c, page);
        goto done;
    }
    if ((rc = nav_cached(&c)) < 0) {
        status = rc;
        goto done;
    }
    status = render(&c, page, type, rid);
    if (status == 200)
        web_cache_put(w->cache, key.data, &c.out, &c.what, status, c.count);
    if (status == 200 || status == 400)
        audit_view(&c, page);
    else if (status == 403)
        audit_outcome(&c, page, AUDIT_DENIED, "the role's access does not include this section");
    else if (status == 404)
        audit_outcome(&c, page, AUDIT_FAILED, "not found or not available with this access");
    if (status == 404)
        error_into(&c, 404, "Not found",
                   "There is nothing at this address in this patient's record, or it is not "
                   "available with your access.",
                   "Go back to the patient's summary and choose from the sections there.");
done:
    if (c.rd.data_failed)
        http_req_store_read_failed(req);
    if (status < 0) {
        log_error("web", "page %s failed for request %s: %s", page,
                  req->request_id ? req->request_id : "-", weft_strerror(status));
        error_into(&c, 500, "Sorry, there is a problem with the service",
                   "The page could not be made. Nothing has been changed.",
                   "Try again. If it keeps happening, tell your IT service desk the time it "
                   "happened.");
        status = 500;
    }
    buf_release(&key);
    buf_release(out);
    *out = c.out;
    buf_init(&c.out);
    web_ctx_release(&c);
    return status;
}

int web_patient_page(struct http_req *req, void *arg)
{
    struct web *w = arg;
    uint64_t t0 = http_now_ns();
    const char *pid = http_req_param(req, "id");
    const char *page = http_req_param(req, "page");
    const char *type = http_req_param(req, "type"), *rid = http_req_param(req, "rid");
    bool post = strcmp(req->method, "POST") == 0;
    if (req->principal.kind == PRINCIPAL_NONE) {
        web_session_ended(req);
        return 0;
    }
    /* A SMART app token is a user principal too, but limited to the FHIR
     * types it was granted (authz_type_allowed): the pages show every
     * category the role allows, so they are for launched sessions only. */
    if (req->principal.kind != PRINCIPAL_USER || req->principal.scopes) {
        struct store *ds = http_req_store(req);
        if (ds && req->principal.kind == PRINCIPAL_USER)
            authz_audit_denial(ds, &req->principal, NULL, req->principal.person_id,
                               "web pages are for launched sessions, not app tokens");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "These pages are for members of staff opening a patient's record from "
                       "their own clinical system.",
                       "Open the patient from your clinical system. API clients should use the "
                       "FHIR API at /fhir.");
        return 0;
    }
    if (!valid_id(pid) || (type && (!valid_id(type) || !valid_id(rid)))) {
        web_render_error(req, 404, "not found");
        return 0;
    }
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The record cannot be shown at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes. If it keeps happening, tell your IT "
                       "service desk.");
        return 0;
    }
    if (page && strcmp(page, "break-glass") == 0) {
        struct web_ctx c = {0};
        c.w = w;
        c.req = req;
        c.store = s;
        c.p = &req->principal;
        c.person_id = pid;
        c.page = page;
        buf_init(&c.out);
        buf_init(&c.what);
        int status = web_page_break_glass(&c, post);
        if (status < 0)
            web_error_page(req, 500, "Sorry, there is a problem with the service",
                           "Emergency access could not be started. Nothing has been changed.",
                           "Try again. If it keeps happening, tell your IT service desk.");
        else if (status > 0) {
            web_security_headers(req);
            http_reply_buf(req, status, "text/html; charset=utf-8", &c.out);
        }
        web_ctx_release(&c);
        return 0;
    }
    if (post) {
        web_render_error(req, 405, "this page cannot be posted to");
        return 0;
    }
    struct buf out = BUF_INIT;
    int status = web_view(w, req, s, &out);
    web_security_headers(req);
    http_reply_buf(req, status, "text/html; charset=utf-8", &out);
    log_debug("web", "page=%s status=%d request=%s ms=%.2f", page ? page : "summary", status,
              req->request_id, (double)(http_now_ns() - t0) / 1e6);
    return 0;
}
