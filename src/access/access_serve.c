/*
 * access_serve.c - the HTTP side of access (see access_serve.h for the URLs):
 * the part (options, routes, the sign-in methods it registers), replies and
 * forms shared by its files, in-context launch, the session and logout.
 * Its other concerns have their own files: SMART App Launch
 * (access_smart.c), the sign-in methods (access_auth.c), AuditEvent and the
 * access reports (access_reports.c), the form check (form.c).  The audit
 * writer is the audit module's serve part (audit/audit_serve.c), and every
 * page is rendered by the web pages (access_pages_set).
 *
 * Every state-changing form (POST /breakglass, POST /logout) must carry the
 * session's CSRF token and, when the browser says where the request came
 * from (Sec-Fetch-Site, Origin), come from this site.  The session cookie is
 * SameSite=Strict on top.  POST /launch is the one form without a CSRF
 * token: the signed, single-use launch token is its own proof, and it always
 * makes a new session (fixation-proof).
 *
 * Failures are answered for people (a page saying what to do) or for
 * programs (JSON), by the Accept header, and every refusal of a launch,
 * break-glass or token request is audited.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access/access_serve.h"
#include "access/access_serve_int.h"
#include "access/app.h"
#include "access/authz.h"
#include "access/breakglass.h"
#include "access/form.h"
#include "access/launch.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/session.h"
#include "audit/audit.h"
#include "identity/identity.h"
#include "identity/nhs.h"
#include "core/metrics.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "http/auth.h"
#include "http/serve.h"
#include "http/server.h"
#include "store/access.h"
#include "store/apps.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"

/* weft_sessions_open{kind}, read at each scrape (the metrics listener's one
 * thread is the only user of metrics_store). */
static void session_gauge(const char *kind, int64_t n, void *ctx)
{
    (void)ctx;
    char fv[64], labels[96];
    metrics_label_value(fv, sizeof fv, kind ? kind : "-");
    snprintf(labels, sizeof labels, "kind=\"%s\"", fv);
    metrics_set("weft_sessions_open", labels, (double)n);
}

static void count_sessions(void *ctx)
{
    struct access_cfg *cfg = ctx;
    char now[32];
    audit_now(now);
    metrics_set("weft_sessions_open", "kind=\"session\"", 0);
    if (store_session_count(cfg->metrics_store, now, session_gauge, NULL) != 0)
        log_warn("access", "counting open sessions for metrics: %s",
                 store_errmsg(cfg->metrics_store));
}

/* ---- replies ------------------------------------------------------------------------------ */

bool access_wants_json(struct http_req *req)
{
    const char *a = http_req_header(req, "Accept");
    return a && strstr(a, "json") && !strstr(a, "text/html");
}

void access_secure_headers(struct http_req *req)
{
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "X-Frame-Options", "DENY");
    http_reply_header(req, "Referrer-Policy", "no-referrer");
}

void access_reply_json(struct http_req *req, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    access_secure_headers(req);
    http_reply(req, status, "application/json", s, strlen(s));
    free(s);
}

static const struct access_pages *pages;

void access_pages_set(const struct access_pages *p)
{
    pages = p;
}

/* A page for a person: the web pages' (access_pages_set), else plain text. */
void access_reply_page(struct http_req *req, int status, const char *title, const char *what,
                       const char *todo)
{
    if (pages && pages->message) {
        pages->message(req, status, title, what, todo);
        return;
    }
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s\n\n%s\n%s%s", title, what, todo ? todo : "", todo ? "\n" : "");
    access_secure_headers(req);
    http_reply_buf(req, status, "text/plain; charset=utf-8", &b);
}

void access_reply_consent(struct http_req *req, const struct access_consent *c)
{
    if (pages && pages->consent)
        pages->consent(req, c);
    else
        access_reply_page(req, 503, "The app cannot be opened here",
                          "This server does not serve the web pages.", NULL);
}

/* A refusal for a person or a program: what went wrong and what to do. */
void access_reply_problem(struct http_req *req, int status, const char *error, const char *what,
                          const char *todo)
{
    http_req_reason(req, what);
    if (access_wants_json(req)) {
        access_reply_json(req, status,
                          json_pack("{s:s, s:s, s:s}", "error", error, "error_description", what,
                                    "what_to_do", todo));
        return;
    }
    struct buf w = BUF_INIT;
    buf_addf(&w, "%s.", what);
    access_reply_page(req, status,
                      status == 403 ? "Access not allowed" : "Could not open the record", w.data,
                      todo);
    buf_release(&w);
}

void access_redirect(struct http_req *req, const char *location)
{
    access_secure_headers(req);
    http_reply_header(req, "Location", location);
    http_reply(req, 303, "text/plain; charset=utf-8", "See Other\n", 10);
}

/* ---- forms, CSRF, origin ---------------------------------------------------------------- */

void access_form_free(struct access_form *f)
{
    url_kv_free(f->kv, f->n);
    f->kv = NULL;
    f->n = 0;
}

/* Parse an application/x-www-form-urlencoded body. */
int access_form_parse(struct http_req *req, struct access_form *f)
{
    f->kv = NULL;
    f->n = 0;
    const char *ct = http_req_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return WEFT_EINVAL;
    return url_query_parse(req->body.data, req->body.len, &f->kv, &f->n, 32);
}

const char *access_form_get(const struct access_form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->kv[i].name, name) == 0)
            return f->kv[i].value;
    return NULL;
}

/* A state-changing form: session, same origin, CSRF token.  Replies and
 * returns non-zero when refused (and audits the refusal). */
int access_check_form(struct http_req *req, struct store *s, const struct access_form *f,
                      struct store_session *sess, const char *action)
{
    switch (access_form_verify(req, s, access_form_get(f, "csrf"), action, req->principal.person_id,
                               sess)) {
    case ACCESS_FORM_OK:
        return WEFT_OK;
    case ACCESS_FORM_NO_SESSION:
        access_reply_problem(req, 401, "no_session", "You are not signed in to Weft",
                             "Open the patient's record from your own clinical system.");
        return WEFT_EAUTH;
    case ACCESS_FORM_UNAVAILABLE:
        access_reply_problem(req, 503, "unavailable", "Weft could not check your session",
                             "Try again in a moment.");
        return WEFT_EDB;
    case ACCESS_FORM_CROSS_SITE:
    case ACCESS_FORM_BAD_TOKEN:
        break;
    }
    access_reply_problem(req, 403, "csrf", "This form did not come from your Weft session",
                         "Go back to the record page and submit the form from there.");
    return WEFT_EDENIED;
}

char *access_csrf_token(struct http_req *req)
{
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || access_current_session(req, s, &ss) != 0)
        return NULL;
    char *t = ss.csrf ? xstrdup(ss.csrf) : NULL;
    store_session_clear(&ss);
    return t;
}

int access_form_check(struct http_req *req, const char *csrf_value)
{
    struct store *s = http_req_store(req);
    if (!s) {
        access_reply_problem(req, 503, "unavailable", "Weft cannot reach its database",
                             "Try again in a moment.");
        return WEFT_EDB;
    }
    struct access_form f = {0};
    struct url_kv kv = {(char *)"csrf", (char *)(csrf_value ? csrf_value : "")};
    f.kv = &kv;
    f.n = 1;
    struct store_session ss;
    int rc = access_check_form(req, s, &f, &ss, AUDIT_ADMIN);
    store_session_clear(&ss);
    return rc;
}

/* ---- launch -------------------------------------------------------------------------------- */

static void audit_launch(struct store *s, struct http_req *req, const struct launch_claims *c,
                         const char *outcome, const char *person_id, const char *session,
                         const char *reason)
{
    struct audit_event ev = {.action = AUDIT_LAUNCH,
                             .outcome = outcome,
                             .user_id = c->sub,
                             .user_name = c->name,
                             .role = c->role,
                             .org = c->org,
                             .launcher = c->launcher,
                             .client = c->launcher ? NULL : c->iss,
                             .purpose = c->purpose,
                             .person_id = person_id,
                             .session_id = session,
                             .request_id = req->request_id,
                             .count = -1,
                             .reason = reason};
    int rc = audit_record(s, &ev, true);
    if (rc)
        log_error("access", "audit of launch failed request=%s: %s", req->request_id,
                  weft_strerror(rc));
}

/* A valid launch for an NHS number Weft holds no record of: say so plainly
 * (the lookup is audited), open no session, create nobody. */
static void reply_no_record(struct store *s, struct http_req *req, const struct launch_claims *c)
{
    audit_launch(s, req, c, AUDIT_FAILED, NULL, NULL,
                 "no shared record is held for this NHS number");
    log_info("access", "launch for a person with no shared record request=%s launcher=%s",
             req->request_id, c->launcher ? c->launcher : "-");
    const char *what = "Weft holds no shared care record for this person";
    const char *todo = "No organisation sharing through Weft has sent anything about the NHS "
                       "number your system gave, and nothing has been recorded about them. Use "
                       "the information in your own system.";
    if (access_wants_json(req)) {
        access_reply_json(req, 404,
                          json_pack("{s:s, s:s, s:s}", "error", "no_shared_record",
                                    "error_description", what, "what_to_do", todo));
        return;
    }
    struct buf w = BUF_INIT;
    buf_addf(&w, "%s.", what);
    access_reply_page(req, 404, "No shared record for this person", w.data, todo);
    buf_release(&w);
}

static int h_launch(struct http_req *req, void *ctx)
{
    struct access_cfg *cfg = ctx;
    struct store *s = http_req_store(req);
    if (!s) {
        access_reply_problem(req, 503, "unavailable", "Weft cannot reach its database",
                             "Try again in a moment.");
        return 0;
    }
    struct access_form f = {0};
    const char *token = NULL;
    if (strcmp(req->method, "POST") == 0) {
        if (access_form_parse(req, &f) != 0) {
            access_reply_problem(req, 400, "invalid_request",
                                 "The launch request was not a form with a token field",
                                 "Ask your system supplier to post the launch token as form field "
                                 "'token'.");
            return 0;
        }
        token = access_form_get(&f, "token");
    } else {
        token = http_req_arg(req, "token");
    }
    struct launch_claims c;
    const char *why = NULL;
    int rc = launch_verify(s, token, cfg->audience, time(NULL), &c, &why);
    char *person = NULL;
    if (rc == 0) {
        /* Refuse early what the authorisation point would refuse on every
         * page anyway, with a clearer message. */
        const struct policy *pol = NULL;
        int prc = policy_current(s, &pol, NULL);
        int err = 0;
        if (prc == WEFT_ENOTFOUND) {
            rc = WEFT_EAUTH;
            why = "no access policy is loaded";
        } else if (prc) {
            rc = prc;
        } else if (!policy_role_known(pol, c.role)) {
            rc = WEFT_EAUTH;
            why = "your job role is not in the access policy";
        } else if (!org_agreement_in_force(s, c.org, time(NULL), &err)) {
            rc = err ? err : WEFT_EAUTH;
            why = "your organisation has no data sharing agreement in force";
        }
    }
    if (rc == 0) {
        /* find, never create: a launch for someone Weft holds nothing about
         * opens no session and adds no person (issue 16 item 11); a person
         * held only for an objection lodged before any record of them came
         * has no record either (identity.h) */
        bool has_record = false;
        rc = identity_find_nhs(s, c.patient, &person, &has_record);
        if (rc == WEFT_EINVAL)
            rc = WEFT_ENOTFOUND; /* launch_verify checked it: defensive */
        if (rc == 0 && !has_record) {
            free(person);
            person = NULL;
            rc = WEFT_ENOTFOUND;
        }
        if (rc == WEFT_ENOTFOUND) {
            reply_no_record(s, req, &c);
            launch_claims_clear(&c);
            access_form_free(&f);
            return 0;
        }
        if (rc)
            why = "the patient could not be looked up";
    }
    if (rc != 0) {
        if (!why)
            why = "the launch could not be completed";
        audit_launch(s, req, &c, rc == WEFT_EAUTH ? AUDIT_DENIED : AUDIT_FAILED, NULL, NULL, why);
        log_warn("access", "launch refused request=%s launcher=%s: %s", req->request_id,
                 c.launcher ? c.launcher : "-", why);
        if (rc == WEFT_EAUTH)
            access_reply_problem(req, 401, "invalid_launch", why,
                                 "Open the record again from your own system; if this keeps "
                                 "happening, tell your system administrator (launch tokens are "
                                 "single-use and valid for 5 minutes).");
        else
            access_reply_problem(req, 503, "unavailable", why, "Try again in a moment.");
        launch_claims_clear(&c);
        access_form_free(&f);
        return 0;
    }
    /* Session fixation: whatever session the browser brought is ended, and
     * a new secret is issued. */
    char old[SESSION_SECRET_LEN + 8];
    if (session_cookie_get(http_req_header(req, "Cookie"), SESSION_COOKIE, old, sizeof old)) {
        char oh[SESSION_HASH_LEN + 1];
        session_hash(old, oh);
        store_session_revoke(s, oh);
    }
    char secret[SESSION_SECRET_LEN], csrf[SESSION_SECRET_LEN], hash[SESSION_HASH_LEN + 1];
    rc = session_open(s, &c, person, cfg->session_hours * 3600, secret, csrf);
    session_hash(secret, hash);
    if (rc == 0) {
        audit_launch(s, req, &c, AUDIT_OK, person, hash, NULL);
        struct buf cookie = BUF_INIT;
        /* Secure when configured, or when a TLS-terminating proxy says the
         * browser used https (trusting it can only make the cookie stricter) */
        const char *xfp = http_req_header(req, "X-Forwarded-Proto");
        bool secure = cfg->cookie_secure || (xfp && strcasecmp(xfp, "https") == 0);
        buf_addf(&cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", SESSION_COOKIE,
                 secret, cfg->session_hours * 3600, secure ? "; Secure" : "");
        http_reply_header(req, "Set-Cookie", cookie.data);
        buf_release(&cookie);
        struct buf loc = BUF_INIT;
        buf_adds(&loc, "/patient/");
        url_encode(&loc, person);
        access_redirect(req, loc.data);
        buf_release(&loc);
        log_info("access", "launch ok request=%s launcher=%s", req->request_id, c.launcher);
    } else {
        audit_launch(s, req, &c, AUDIT_FAILED, person, NULL, "session could not be stored");
        access_reply_problem(req, 503, "unavailable", "Weft could not open a session",
                             "Try again in a moment.");
    }
    free(person);
    launch_claims_clear(&c);
    access_form_free(&f);
    return 0;
}

static int h_session(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || access_current_session(req, s, &ss) != 0) {
        access_reply_problem(req, 401, "no_session", "You are not signed in to Weft",
                             "Open the patient's record from your own clinical system.");
        return 0;
    }
    char *bg = NULL;
    char now[32];
    audit_now(now);
    store_breakglass_active(s, ss.user_id, ss.org, ss.person_id, now, &bg);
    json_t *j = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "user",
                          ss.user_id, "name", ss.user_name, "role", ss.role, "org", ss.org,
                          "launcher", ss.launcher, "purpose", ss.purpose, "person", ss.person_id,
                          "csrf", ss.csrf, "expires", ss.expires);
    if (bg)
        json_object_set_new(j, "break_glass_until", json_string(bg));
    free(bg);
    store_session_clear(&ss);
    access_reply_json(req, 200, j);
    return 0;
}

static int h_logout(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct access_form f = {0};
    struct store_session ss = {0};
    if (!s || access_form_parse(req, &f) != 0) {
        access_reply_problem(req, 400, "invalid_request", "The sign-out request was not a form",
                             "Use the sign-out button on the record page.");
        access_form_free(&f);
        return 0;
    }
    if (access_check_form(req, s, &f, &ss, AUDIT_ADMIN) == 0) {
        store_session_revoke(s, ss.id_hash);
        http_reply_header(req, "Set-Cookie",
                          SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        access_reply_page(req, 200, "Signed out", "You have left the shared care record.", NULL);
    }
    store_session_clear(&ss);
    access_form_free(&f);
    return 0;
}

/* ---- the part ---------------------------------------------------------------------------- */

int access_serve_start(const struct serve_ctx *ctx, void **state)
{
    struct access_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->audience = xstrdup(opts_get_or(ctx->opts, "audience", "weft"));
    long bg = 0, sh = 0;
    if (opts_get_long(ctx->opts, "breakglass-hours", BREAKGLASS_HOURS_DEFAULT, &bg) != 0 ||
        bg < 1 || bg > 72 || opts_get_long(ctx->opts, "session-hours", 8, &sh) != 0 || sh < 1 ||
        sh > 24) {
        fprintf(stderr, "weft serve: --breakglass-hours must be 1-72 and --session-hours 1-24\n");
        free(cfg->audience);
        free(cfg);
        return WEFT_EINVAL;
    }
    cfg->breakglass_hours = (int)bg;
    cfg->session_hours = (int)sh;
    cfg->cookie_secure = opts_flag(ctx->opts, "cookie-secure");
    int rc = 0;
    if (opts_get(ctx->opts, "metrics")) {
        char *err = NULL;
        if (store_open(&cfg->metrics_store, ctx->db, false, &err) == 0)
            metrics_collector_add(count_sessions, cfg);
        else
            log_warn("access", "open sessions will not be counted: %s", err ? err : "-");
        free(err);
    }
    static const struct http_route_def routes[] = {
        {"GET", "/launch", h_launch, 0},
        {"POST", "/launch", h_launch, 0},
        {"GET", "/session", h_session, 0},
        {"POST", "/logout", h_logout, 0},
        {"GET", "/.well-known/smart-configuration", access_smart_config, 0},
        {"GET", "/oauth/authorize", access_authorize, 0},
        {"POST", "/oauth/authorize", access_authorize_post, 0},
        {"POST", "/oauth/token", access_token, 0},
        {"GET", "/fhir/AuditEvent", access_audit_event, HTTP_ROUTE_AUTH},
        {"GET", "/access/person/{id}/viewers", access_viewers, HTTP_ROUTE_AUTH},
        {"GET", "/access/breakglass", access_breakglass_review, HTTP_ROUTE_AUTH},
    };
    rc = http_routes_add(ctx->http, routes, sizeof routes / sizeof routes[0], cfg);
    /* the ways to sign in this module owns, registered with the HTTP core's
     * chain: SMART app tokens before client tokens, launch cookies after */
    static const struct http_auth_method app_token = {"smart-app-token", access_auth_token,
                                                      access_auth_free};
    static const struct http_auth_method cookie = {"launch-session", access_auth_cookie,
                                                   access_auth_free};
    if (rc == 0)
        rc = http_auth_register(&app_token, HTTP_AUTH_BEFORE_CLIENTS);
    if (rc == 0)
        rc = http_auth_register(&cookie, HTTP_AUTH_AFTER_CLIENTS);
    http_auth_on_refused(access_auth_refused);
    *state = cfg;
    return rc;
}

void access_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct access_cfg *cfg = state;
    if (!cfg)
        return;
    store_close(cfg->metrics_store);
    free(cfg->audience);
    free(cfg);
}
