/*
 * access_serve.c - the HTTP side of access (see access_serve.h for the URLs):
 * launch, sessions, CSRF-protected forms, break-glass, SMART App Launch,
 * AuditEvent and the access reports, plus the audit writer's lifetime.
 *
 * Every state-changing form (POST /breakglass, POST /logout) must carry the
 * session's CSRF token and, when the browser says where the request came
 * from (Sec-Fetch-Site, Origin), come from this site.  The session cookie is
 * SameSite=Strict on top.  POST /launch is the one form without a CSRF
 * token: the signed, single-use launch token is its own proof, and it always
 * makes a new session (fixation-proof).
 *
 * Failures are answered for people (a short HTML page saying what to do) or
 * for programs (JSON), by the Accept header, and every refusal of a launch,
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
#include "access/app.h"
#include "access/authz.h"
#include "access/breakglass.h"
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
#include "http/serve.h"
#include "http/server.h"
#include "store/access.h"
#include "store/apps.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"

struct access_cfg {
    char *audience;
    int breakglass_hours;
    int session_hours;
    bool cookie_secure;
    struct audit_log *log;
    struct store *metrics_store; /* --metrics: open sessions are counted with it */
};

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

static bool wants_json(struct http_req *req)
{
    const char *a = http_req_header(req, "Accept");
    return a && strstr(a, "json") && !strstr(a, "text/html");
}

static void secure_headers(struct http_req *req)
{
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "X-Frame-Options", "DENY");
    http_reply_header(req, "Referrer-Policy", "no-referrer");
}

static void reply_json(struct http_req *req, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    secure_headers(req);
    http_reply(req, status, "application/json", s, strlen(s));
    free(s);
}

static void page_start(struct buf *b, const char *title)
{
    buf_adds(b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    buf_add_html(b, title);
    buf_adds(b, " - Weft</title></head><body><main><h1>");
    buf_add_html(b, title);
    buf_adds(b, "</h1>");
}

/* A refusal for a person or a program: what went wrong and what to do. */
static void reply_problem(struct http_req *req, int status, const char *error, const char *what,
                          const char *todo)
{
    http_req_reason(req, what);
    if (wants_json(req)) {
        reply_json(req, status,
                   json_pack("{s:s, s:s, s:s}", "error", error, "error_description", what,
                             "what_to_do", todo));
        return;
    }
    struct buf b = BUF_INIT;
    page_start(&b, status == 403 ? "Access not allowed" : "Could not open the record");
    buf_adds(&b, "<p>");
    buf_add_html(&b, what);
    buf_adds(&b, ".</p><p>");
    buf_add_html(&b, todo);
    buf_adds(&b, "</p></main></body></html>");
    secure_headers(req);
    http_reply_buf(req, status, "text/html; charset=utf-8", &b);
}

static void redirect(struct http_req *req, const char *location)
{
    secure_headers(req);
    http_reply_header(req, "Location", location);
    http_reply(req, 303, "text/plain; charset=utf-8", "See Other\n", 10);
}

/* ---- forms, CSRF, origin ---------------------------------------------------------------- */

struct form {
    struct url_kv *kv;
    int n;
};

static void form_free(struct form *f)
{
    url_kv_free(f->kv, f->n);
    f->kv = NULL;
    f->n = 0;
}

/* Parse an application/x-www-form-urlencoded body. */
static int form_parse(struct http_req *req, struct form *f)
{
    f->kv = NULL;
    f->n = 0;
    const char *ct = http_req_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return WEFT_EINVAL;
    return url_query_parse(req->body.data, req->body.len, &f->kv, &f->n, 32);
}

static const char *form_get(const struct form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->kv[i].name, name) == 0)
            return f->kv[i].value;
    return NULL;
}

/* The browser's own statement of where a request came from: cross-site
 * requests are refused whatever they carry. */
static bool same_origin(struct http_req *req)
{
    const char *sfs = http_req_header(req, "Sec-Fetch-Site");
    if (sfs && strcmp(sfs, "same-origin") != 0 && strcmp(sfs, "none") != 0)
        return false;
    const char *origin = http_req_header(req, "Origin");
    if (origin) {
        const char *host = http_req_header(req, "Host");
        if (!host || strcmp(origin, "null") == 0)
            return false;
        const char *o = origin;
        if (strncmp(o, "http://", 7) == 0)
            o += 7;
        else if (strncmp(o, "https://", 8) == 0)
            o += 8;
        else
            return false;
        if (strcmp(o, host) != 0)
            return false;
    }
    return true;
}

/* The launched session behind req (cookie sessions only, not app tokens). */
static int current_session(struct http_req *req, struct store *s, struct store_session *out)
{
    memset(out, 0, sizeof *out);
    const struct principal *p = &req->principal;
    if (p->kind != PRINCIPAL_USER || p->scopes || !p->session_id)
        return WEFT_ENOTFOUND;
    char now[32];
    audit_now(now);
    int rc = store_session_get(s, p->session_id, now, out);
    if (rc == 0 && strcmp(out->kind, "session") != 0) {
        store_session_clear(out);
        return WEFT_ENOTFOUND;
    }
    return rc;
}

/* A state-changing form: session, same origin, CSRF token.  Replies and
 * returns non-zero when refused (and audits the refusal). */
static int check_form(struct http_req *req, struct store *s, const struct form *f,
                      struct store_session *sess, const char *action)
{
    int rc = current_session(req, s, sess);
    if (rc == WEFT_ENOTFOUND) {
        reply_problem(req, 401, "no_session", "You are not signed in to Weft",
                      "Open the patient's record from your own clinical system.");
        return WEFT_EAUTH;
    }
    if (rc) {
        reply_problem(req, 503, "unavailable", "Weft could not check your session",
                      "Try again in a moment.");
        return rc;
    }
    if (!same_origin(req) || !session_secret_equal(form_get(f, "csrf"), sess->csrf)) {
        authz_audit_denial(s, &req->principal, action, req->principal.person_id,
                           "form refused: missing or wrong CSRF token or cross-site request");
        reply_problem(req, 403, "csrf", "This form did not come from your Weft session",
                      "Go back to the record page and submit the form from there.");
        return WEFT_EDENIED;
    }
    return WEFT_OK;
}

char *access_csrf_token(struct http_req *req)
{
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || current_session(req, s, &ss) != 0)
        return NULL;
    char *t = ss.csrf ? xstrdup(ss.csrf) : NULL;
    store_session_clear(&ss);
    return t;
}

int access_form_check(struct http_req *req, const char *csrf_value)
{
    struct store *s = http_req_store(req);
    if (!s) {
        reply_problem(req, 503, "unavailable", "Weft cannot reach its database",
                      "Try again in a moment.");
        return WEFT_EDB;
    }
    struct form f = {0};
    struct url_kv kv = {(char *)"csrf", (char *)(csrf_value ? csrf_value : "")};
    f.kv = &kv;
    f.n = 1;
    struct store_session ss;
    int rc = check_form(req, s, &f, &ss, AUDIT_ADMIN);
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
    if (wants_json(req)) {
        reply_json(req, 404,
                   json_pack("{s:s, s:s, s:s}", "error", "no_shared_record", "error_description",
                             what, "what_to_do", todo));
        return;
    }
    struct buf b = BUF_INIT;
    page_start(&b, "No shared record for this person");
    buf_adds(&b, "<p>");
    buf_add_html(&b, what);
    buf_adds(&b, ".</p><p>");
    buf_add_html(&b, todo);
    buf_adds(&b, "</p></main></body></html>");
    secure_headers(req);
    http_reply_buf(req, 404, "text/html; charset=utf-8", &b);
}

static int h_launch(struct http_req *req, void *ctx)
{
    struct access_cfg *cfg = ctx;
    struct store *s = http_req_store(req);
    if (!s) {
        reply_problem(req, 503, "unavailable", "Weft cannot reach its database",
                      "Try again in a moment.");
        return 0;
    }
    struct form f = {0};
    const char *token = NULL;
    if (strcmp(req->method, "POST") == 0) {
        if (form_parse(req, &f) != 0) {
            reply_problem(req, 400, "invalid_request",
                          "The launch request was not a form with a token field",
                          "Ask your system supplier to post the launch token as form field "
                          "'token'.");
            return 0;
        }
        token = form_get(&f, "token");
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
            form_free(&f);
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
            reply_problem(req, 401, "invalid_launch", why,
                          "Open the record again from your own system; if this keeps "
                          "happening, tell your system administrator (launch tokens are "
                          "single-use and valid for 5 minutes).");
        else
            reply_problem(req, 503, "unavailable", why, "Try again in a moment.");
        launch_claims_clear(&c);
        form_free(&f);
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
        redirect(req, loc.data);
        buf_release(&loc);
        log_info("access", "launch ok request=%s launcher=%s", req->request_id, c.launcher);
    } else {
        audit_launch(s, req, &c, AUDIT_FAILED, person, NULL, "session could not be stored");
        reply_problem(req, 503, "unavailable", "Weft could not open a session",
                      "Try again in a moment.");
    }
    free(person);
    launch_claims_clear(&c);
    form_free(&f);
    return 0;
}

static int h_session(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || current_session(req, s, &ss) != 0) {
        reply_problem(req, 401, "no_session", "You are not signed in to Weft",
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
    reply_json(req, 200, j);
    return 0;
}

static int h_logout(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct form f = {0};
    struct store_session ss = {0};
    if (!s || form_parse(req, &f) != 0) {
        reply_problem(req, 400, "invalid_request", "The sign-out request was not a form",
                      "Use the sign-out button on the record page.");
        form_free(&f);
        return 0;
    }
    if (check_form(req, s, &f, &ss, AUDIT_ADMIN) == 0) {
        store_session_revoke(s, ss.id_hash);
        http_reply_header(req, "Set-Cookie",
                          SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        struct buf b = BUF_INIT;
        page_start(&b, "Signed out");
        buf_adds(&b, "<p>You have left the shared care record.</p></main></body></html>");
        secure_headers(req);
        http_reply_buf(req, 200, "text/html; charset=utf-8", &b);
    }
    store_session_clear(&ss);
    form_free(&f);
    return 0;
}

/* ---- break-glass ------------------------------------------------------------------------------
 */

static int h_breakglass_form(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || current_session(req, s, &ss) != 0) {
        reply_problem(req, 401, "no_session", "You are not signed in to Weft",
                      "Open the patient's record from your own clinical system.");
        return 0;
    }
    struct buf b = BUF_INIT;
    page_start(&b, "Emergency access (break-glass)");
    buf_adds(&b, "<p>Use this only when the patient needs care now and the normal access rules "
                 "stop you seeing what you need. Your reason is recorded and reviewed.</p>"
                 "<form method=\"post\" action=\"/breakglass\">"
                 "<input type=\"hidden\" name=\"csrf\" value=\"");
    buf_add_html(&b, ss.csrf);
    buf_adds(&b, "\"><fieldset><legend>Reason</legend>");
    for (int i = 0; breakglass_codes[i]; i++) {
        buf_adds(&b, "<div><input type=\"radio\" name=\"reason_code\" id=\"rc");
        buf_addf(&b, "%d\" value=\"", i);
        buf_add_html(&b, breakglass_codes[i]);
        buf_addf(&b, "\"%s><label for=\"rc%d\">", i == 0 ? " required" : "", i);
        buf_add_html(&b, breakglass_code_label(breakglass_codes[i]));
        buf_adds(&b, "</label></div>");
    }
    buf_adds(&b, "</fieldset><label for=\"rt\">Explain in your own words</label>"
                 "<textarea id=\"rt\" name=\"reason_text\" required minlength=\"5\" "
                 "maxlength=\"1000\"></textarea>"
                 "<label for=\"nhs\">NHS number of another patient (leave empty for the patient "
                 "you opened)</label><input id=\"nhs\" name=\"nhs\" inputmode=\"numeric\">"
                 "<button type=\"submit\">Start emergency access</button></form>"
                 "</main></body></html>");
    store_session_clear(&ss);
    secure_headers(req);
    http_reply_buf(req, 200, "text/html; charset=utf-8", &b);
    return 0;
}

static int h_breakglass(struct http_req *req, void *ctx)
{
    struct access_cfg *cfg = ctx;
    struct store *s = http_req_store(req);
    struct form f = {0};
    struct store_session ss = {0};
    if (!s || form_parse(req, &f) != 0) {
        reply_problem(req, 400, "invalid_request", "The break-glass request was not a form",
                      "Use the break-glass form on the record page.");
        form_free(&f);
        return 0;
    }
    if (check_form(req, s, &f, &ss, AUDIT_BREAK_GLASS) != 0) {
        store_session_clear(&ss);
        form_free(&f);
        return 0;
    }
    char *person = NULL;
    const char *nhs = form_get(&f, "nhs");
    int rc = 0;
    if (nhs && *nhs) {
        char digits[11];
        if (!nhs_number_valid(nhs, digits)) {
            reply_problem(req, 400, "invalid_request", "That is not a valid NHS number",
                          "Check the number and try again.");
            goto out;
        }
        /* find, never create: a refused or mistyped request must not add a
         * person to the record (store_person_by_nhs creates one) */
        rc = store_person_find_nhs(s, digits, &person);
        if (rc == WEFT_ENOTFOUND) {
            authz_audit_denial(s, &req->principal, AUDIT_BREAK_GLASS, NULL,
                               "no record is held for the NHS number given");
            reply_problem(req, 404, "not_found",
                          "The shared care record holds nothing for that NHS number",
                          "Check the number. If it is right, use the information in your own "
                          "system.");
            goto out;
        }
    } else {
        person = xstrdup(ss.person_id);
    }
    if (rc) {
        reply_problem(req, 503, "unavailable", "Weft could not find the patient",
                      "Try again in a moment.");
        goto out;
    }
    char expires[32];
    const char *why = NULL;
    rc = breakglass_start(s, &req->principal, person, form_get(&f, "reason_code"),
                          form_get(&f, "reason_text"), cfg->breakglass_hours, expires, &why);
    if (rc == WEFT_EINVAL) {
        reply_problem(req, 400, "invalid_request", why, "Give a reason code and explain why.");
    } else if (rc == WEFT_ENOTFOUND) {
        reply_problem(req, 404, "not_found", "The shared care record holds no such person",
                      "Open the patient from your own system.");
    } else if (rc == WEFT_EDENIED) {
        reply_problem(req, 403, "forbidden", why,
                      "Ask a colleague whose role allows emergency access.");
    } else if (rc) {
        reply_problem(req, 503, "unavailable", "Break-glass could not be recorded",
                      "Try again in a moment; access is not widened until it is recorded.");
    } else {
        log_info("access", "break-glass started request=%s", req->request_id);
        struct buf loc = BUF_INIT;
        buf_adds(&loc, "/patient/");
        url_encode(&loc, person);
        redirect(req, loc.data);
        buf_release(&loc);
    }
out:
    free(person);
    store_session_clear(&ss);
    form_free(&f);
    return 0;
}

/* ---- SMART App Launch ---------------------------------------------------------------------- */

/* Is client_id a registered app whose registration stands? */
static bool app_active(struct store *s, const char *client_id)
{
    struct store_app a;
    bool ok = store_app_get(s, client_id, &a) == 0 && !a.revoked;
    store_app_clear(&a);
    return ok;
}

static int h_smart_config(struct http_req *req, void *ctx)
{
    (void)ctx;
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s,s,s,s], s:[s,s,s,s,s], s:s}", "issuer",
                  "weft", "authorization_endpoint", "/oauth/authorize", "token_endpoint",
                  "/oauth/token", "grant_types_supported", "authorization_code",
                  "response_types_supported", "code", "code_challenge_methods_supported", "S256",
                  "scopes_supported", "patient/*.rs", "patient/*.read", "launch", "launch/patient",
                  "capabilities", "launch-ehr", "client-public", "context-ehr-patient",
                  "permission-patient", "permission-v2", "token_endpoint_auth_method", "none");
    reply_json(req, 200, j);
    return 0;
}

static bool read_scope(const char *sc, size_t n)
{
    if (n < 12 || n > 80 || strncmp(sc, "patient/", 8) != 0)
        return false;
    const char *dot = memchr(sc + 8, '.', n - 8);
    if (!dot || dot == sc + 8)
        return false;
    for (const char *p = sc + 8; p < dot; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '*'))
            return false;
    size_t rest = n - (size_t)(dot + 1 - sc);
    return (rest == 2 && strncmp(dot + 1, "rs", 2) == 0) ||
           (rest == 1 && strncmp(dot + 1, "r", 1) == 0) ||
           (rest == 4 && strncmp(dot + 1, "read", 4) == 0);
}

/* Keep only patient-level read scopes; everything else is not granted. */
static char *grant_scopes(const char *requested)
{
    struct buf b = BUF_INIT;
    const char *p = requested ? requested : "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p && read_scope(p, (size_t)(e - p))) {
            if (b.len)
                buf_addc(&b, ' ');
            buf_add(&b, p, (size_t)(e - p));
        }
        p = e;
    }
    if (b.len == 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* An authorize request, from the query (GET) or the consent form (POST). */
struct authz_req {
    const char *response_type, *client_id, *redirect_uri, *scope, *state, *challenge, *method;
};

static void authz_req_from(struct authz_req *ar, const char *(*get)(const void *, const char *),
                           const void *src)
{
    ar->response_type = get(src, "response_type");
    ar->client_id = get(src, "client_id");
    ar->redirect_uri = get(src, "redirect_uri");
    ar->scope = get(src, "scope");
    ar->state = get(src, "state");
    ar->challenge = get(src, "code_challenge");
    ar->method = get(src, "code_challenge_method");
}

static const char *get_arg(const void *req, const char *name)
{
    return http_req_arg(req, name);
}

static const char *get_form(const void *f, const char *name)
{
    return form_get(f, name);
}

static bool b64url_text(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '~'))
            return false;
    }
    return true;
}

/* 1 to max printable ASCII characters (no space, no control). */
static bool printable_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Check an authorize request against the app registry.  On success fills
 * *app and *granted (malloc'd) and returns 0; otherwise replies with a page
 * for the user (never a redirect: the redirect URI is not trusted until it
 * matches the registration) and returns non-zero. */
static int authz_check(struct http_req *req, struct store *s, const struct authz_req *ar,
                       struct store_app *app, char **granted)
{
    *granted = NULL;
    memset(app, 0, sizeof *app);
    int rc = ar->client_id && app_client_id_valid(ar->client_id)
                 ? store_app_get(s, ar->client_id, app)
                 : WEFT_ENOTFOUND;
    if (rc == WEFT_ENOTFOUND || (rc == 0 && app->revoked)) {
        reply_problem(req, 400, "unauthorized_client",
                      "The app is not registered with Weft (or its registration was revoked)",
                      "Tell the app's supplier or your system administrator: apps are "
                      "registered with 'weft app add'. Nothing was shared with the app.");
        return WEFT_EAUTH;
    }
    if (rc) {
        reply_problem(req, 503, "unavailable", "Weft could not check the app",
                      "Try again in a moment.");
        return rc;
    }
    if (!app_redirect_uri_registered(app, ar->redirect_uri)) {
        reply_problem(req, 400, "invalid_request",
                      "The app asked Weft to send you to an address it has not registered",
                      "Do not continue. Tell the app's supplier or your system administrator. "
                      "Nothing was shared with the app.");
        return WEFT_EAUTH;
    }
    if (!ar->response_type || strcmp(ar->response_type, "code") != 0 ||
        !b64url_text(ar->challenge, 43, 128) || !ar->method || strcmp(ar->method, "S256") != 0 ||
        (ar->state && !printable_text(ar->state, 512))) {
        reply_problem(req, 400, "invalid_request",
                      "The app's request lacks response_type=code or a PKCE S256 code_challenge, "
                      "or its state is not 1-512 printable characters",
                      "Tell the app's supplier: Weft follows SMART App Launch with PKCE.");
        return WEFT_EINVAL;
    }
    char *want = grant_scopes(ar->scope);
    *granted = app_scopes_allowed(app, want);
    free(want);
    if (!*granted) {
        reply_problem(req, 400, "invalid_scope",
                      "The app asked for no patient-level read scope it is registered for (e.g. "
                      "patient/*.rs)",
                      "Tell the app's supplier: Weft grants read-only patient scopes.");
        return WEFT_EINVAL;
    }
    return 0;
}

/* One granted scope in words: "patient/Observation.rs" -> "Observation". */
static void scope_words(struct buf *b, const char *scope, size_t n)
{
    const char *type = scope + 8; /* after "patient/" (read_scope checked) */
    const char *dot = memchr(type, '.', n - 8);
    size_t tlen = dot ? (size_t)(dot - type) : n - 8;
    buf_adds(b, "<li>");
    if (tlen == 1 && type[0] == '*') {
        buf_adds(b, "everything in this patient's shared record that you may see");
    } else {
        buf_adds(b, "this patient's ");
        char t[80];
        snprintf(t, sizeof t, "%.*s", (int)(tlen < 79 ? tlen : 79), type);
        buf_add_html(b, t);
        buf_adds(b, " records that you may see");
    }
    buf_adds(b, " (read only; <code>");
    char sc[100];
    snprintf(sc, sizeof sc, "%.*s", (int)(n < 99 ? n : 99), scope);
    buf_add_html(b, sc);
    buf_adds(b, "</code>)</li>");
}

static void hidden(struct buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    buf_adds(b, "<input type=\"hidden\" name=\"");
    buf_add_html(b, name);
    buf_adds(b, "\" value=\"");
    buf_add_html(b, value);
    buf_adds(b, "\">");
}

/* GET /oauth/authorize: the user sees which app asks, for what, and decides
 * (POST /oauth/authorize).  Nothing is issued here. */
static int h_authorize(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || current_session(req, s, &ss) != 0) {
        reply_problem(req, 401, "login_required", "Apps can only be opened from a launched session",
                      "Open the patient's record from your own system first, then open the app.");
        return 0;
    }
    struct authz_req ar;
    authz_req_from(&ar, get_arg, req);
    struct store_app app;
    char *granted = NULL;
    if (authz_check(req, s, &ar, &app, &granted) == 0) {
        struct buf b = BUF_INIT;
        char title[200];
        snprintf(title, sizeof title, "Allow %s to read this patient's record?", app.name);
        page_start(&b, title);
        buf_adds(&b, "<p>The app <strong>");
        buf_add_html(&b, app.name);
        buf_adds(&b, "</strong> (client id <code>");
        buf_add_html(&b, app.client_id);
        buf_adds(&b, "</code>) asks to read, as you, for the next hour at most:</p><ul>");
        for (const char *p = granted; *p;) {
            size_t n = strcspn(p, " ");
            scope_words(&b, p, n);
            p += n;
            while (*p == ' ')
                p++;
        }
        buf_adds(&b, "</ul><p>It will be sent to <code>");
        buf_add_html(&b, ar.redirect_uri);
        buf_adds(&b, "</code>. It cannot change anything, and everything it reads is recorded "
                     "as read by you.</p><form method=\"post\" action=\"/oauth/authorize\">");
        hidden(&b, "csrf", ss.csrf);
        hidden(&b, "response_type", ar.response_type);
        hidden(&b, "client_id", ar.client_id);
        hidden(&b, "redirect_uri", ar.redirect_uri);
        hidden(&b, "scope", granted);
        hidden(&b, "state", ar.state);
        hidden(&b, "code_challenge", ar.challenge);
        hidden(&b, "code_challenge_method", ar.method);
        buf_adds(&b, "<button type=\"submit\" name=\"decision\" value=\"allow\" id=\"app-allow\">"
                     "Allow</button> <button type=\"submit\" name=\"decision\" value=\"deny\" "
                     "id=\"app-deny\">Do not allow</button></form></main></body></html>");
        secure_headers(req);
        http_reply_header(req, "Content-Security-Policy",
                          "default-src 'none'; form-action 'self'; frame-ancestors 'none'");
        http_reply_buf(req, 200, "text/html; charset=utf-8", &b);
    }
    free(granted);
    store_app_clear(&app);
    store_session_clear(&ss);
    return 0;
}

/* POST /oauth/authorize: the user's decision (session, same origin, CSRF);
 * the request is checked again as sent, then a code (allow) or
 * error=access_denied (deny) goes to the registered redirect URI. */
static int h_authorize_post(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct form f = {0};
    struct store_session ss = {0};
    if (!s || form_parse(req, &f) != 0) {
        reply_problem(req, 400, "invalid_request", "The request was not a form",
                      "Open the app again from the patient's record.");
        form_free(&f);
        return 0;
    }
    if (check_form(req, s, &f, &ss, AUDIT_TOKEN) != 0) {
        store_session_clear(&ss);
        form_free(&f);
        return 0;
    }
    struct authz_req ar;
    authz_req_from(&ar, get_form, &f);
    struct store_app app;
    char *granted = NULL;
    if (authz_check(req, s, &ar, &app, &granted) == 0) {
        const char *decision = form_get(&f, "decision");
        bool allow = decision && strcmp(decision, "allow") == 0;
        char code[SESSION_SECRET_LEN];
        int rc = 0;
        if (allow) {
            /* A code row keeps the PKCE challenge in its csrf column and the
             * app it was issued to in app. */
            struct store_session parent = ss;
            parent.csrf = (char *)ar.challenge;
            parent.app = app.client_id;
            rc = session_issue(s, &parent, "code", granted, SESSION_CODE_TTL, code);
        }
        if (rc) {
            reply_problem(req, 503, "unavailable", "Weft could not issue the code",
                          "Try again in a moment.");
        } else {
            struct buf loc = BUF_INIT;
            buf_adds(&loc, ar.redirect_uri);
            buf_addc(&loc, strchr(ar.redirect_uri, '?') ? '&' : '?');
            if (allow) {
                buf_adds(&loc, "code=");
                url_encode(&loc, code);
            } else {
                buf_adds(&loc, "error=access_denied");
            }
            if (ar.state) {
                buf_adds(&loc, "&state=");
                url_encode(&loc, ar.state);
            }
            redirect(req, loc.data);
            buf_release(&loc);
        }
    }
    free(granted);
    store_app_clear(&app);
    store_session_clear(&ss);
    form_free(&f);
    return 0;
}

static void token_error(struct http_req *req, int status, const char *err, const char *desc)
{
    reply_json(req, status, json_pack("{s:s, s:s}", "error", err, "error_description", desc));
}

static int h_token(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct form f = {0};
    if (!s || form_parse(req, &f) != 0) {
        token_error(req, 400, "invalid_request", "send a form-encoded body");
        form_free(&f);
        return 0;
    }
    const char *gt = form_get(&f, "grant_type");
    const char *code = form_get(&f, "code");
    const char *verifier = form_get(&f, "code_verifier");
    struct store_session cs = {0}, parent = {0};
    if (!gt || strcmp(gt, "authorization_code") != 0) {
        token_error(req, 400, "unsupported_grant_type", "only authorization_code is supported");
        goto out;
    }
    if (!code || !verifier || strlen(verifier) < 43 || strlen(verifier) > 128) {
        token_error(req, 400, "invalid_request", "code and a 43-128 character code_verifier");
        goto out;
    }
    if (session_lookup(s, code, &cs) != 0 || strcmp(cs.kind, "code") != 0) {
        token_error(req, 400, "invalid_grant", "the code is unknown, used or expired");
        goto out;
    }

    /* single use: whoever revokes it first wins */
    if (store_session_revoke(s, cs.id_hash) != 0) {
        token_error(req, 400, "invalid_grant", "the code is unknown, used or expired");
        goto out;
    }
    /* the app the code was issued to, still registered (a code tried by
     * anyone else is burnt all the same) */
    const char *client_id = form_get(&f, "client_id");
    if (!client_id || !cs.app || strcmp(client_id, cs.app) != 0 || !app_active(s, cs.app)) {
        token_error(req, 400, "invalid_grant",
                    "client_id is not the registered app the code was issued to");
        goto out;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char want[48];
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 32; i++) {
        acc = (acc << 8) | md[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            want[o++] = b64[(acc >> bits) & 63];
        }
    }
    want[o++] = b64[(acc << (6 - bits)) & 63];
    want[o] = 0;
    if (!session_secret_equal(want, cs.csrf)) {
        token_error(req, 400, "invalid_grant", "code_verifier does not match the challenge");
        goto out;
    }
    char now[32];
    audit_now(now);
    if (!cs.parent || store_session_get(s, cs.parent, now, &parent) != 0) {
        token_error(req, 400, "invalid_grant", "the launched session has ended");
        goto out;
    }
    char tok[SESSION_SECRET_LEN];
    struct store_session issuer = parent;
    issuer.app = cs.app;
    if (session_issue(s, &issuer, "token", cs.scopes, SESSION_TOKEN_TTL, tok) != 0) {
        token_error(req, 503, "temporarily_unavailable", "try again");
        goto out;
    }
    struct principal p = {0};
    session_principal(&parent, &p);
    p.request_id = req->request_id;
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &p);
    ev.action = AUDIT_TOKEN;
    ev.outcome = AUDIT_OK;
    ev.person_id = parent.person_id;
    ev.what = cs.scopes;
    ev.count = -1;
    char why[160];
    snprintf(why, sizeof why, "SMART app access token issued to app %s", cs.app);
    ev.reason = why;
    audit_record(s, &ev, true);
    reply_json(req, 200,
               json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", tok, "token_type", "Bearer",
                         "expires_in", SESSION_TOKEN_TTL, "scope", cs.scopes, "patient",
                         parent.person_id));
out:
    store_session_clear(&cs);
    store_session_clear(&parent);
    form_free(&f);
    return 0;
}

/* ---- auth chain links (called from http/auth.c) ------------------------------------------ */

struct access_auth {
    struct store_session ss;
};

void access_auth_free(void *data)
{
    struct access_auth *a = data;
    if (!a)
        return;
    store_session_clear(&a->ss);
    free(a);
}

static int principal_from(struct http_req *req, struct store *s, const char *secret,
                          const char *kind, void **data)
{
    struct access_auth *a = xcalloc(1, sizeof *a);
    int rc = session_lookup(s, secret, &a->ss);
    if (rc == 0 && strcmp(a->ss.kind, kind) != 0)
        rc = WEFT_ENOTFOUND;
    if (rc == 0 && a->ss.parent) {
        /* an app token lives no longer than the launched session it came
         * from: signing out (or a new launch ending it) ends the token too */
        struct store_session parent = {0};
        char now[32];
        audit_now(now);
        rc = store_session_get(s, a->ss.parent, now, &parent);
        if (rc == 0 && strcmp(parent.kind, "session") != 0)
            rc = WEFT_ENOTFOUND;
        store_session_clear(&parent);
        /* and no longer than its app's registration */
        if (rc == 0 && strcmp(a->ss.kind, "token") == 0 &&
            (!a->ss.app || !app_active(s, a->ss.app)))
            rc = WEFT_ENOTFOUND;
    }
    if (rc) {
        access_auth_free(a);
        return rc;
    }
    session_principal(&a->ss, &req->principal);
    req->principal.request_id = req->request_id;
    if (a->ss.person_id) {
        char now[32];
        audit_now(now);
        int bg = store_breakglass_active(s, a->ss.user_id, a->ss.org, a->ss.person_id, now, NULL);
        req->principal.break_glass = bg == 0;
        if (bg == 0)
            req->principal.purpose = "ETREAT";
    }
    *data = a;
    return 0;
}

int access_auth_token(struct http_req *req, void **data)
{
    const char *h = http_req_header(req, "Authorization");
    if (!h)
        return 1;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return 1;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (strncmp(tok, "wat_", 4) != 0)
        return 1;
    if (strlen(tok) >= SESSION_SECRET_LEN)
        return WEFT_EAUTH;
    struct store *s = http_req_store(req);
    if (!s)
        return WEFT_EDB;
    int rc = principal_from(req, s, tok, "token", data);
    return rc == WEFT_ENOTFOUND ? WEFT_EAUTH : rc;
}

int access_auth_cookie(struct http_req *req, void **data)
{
    char secret[SESSION_SECRET_LEN + 8];
    if (!session_cookie_get(http_req_header(req, "Cookie"), SESSION_COOKIE, secret, sizeof secret))
        return 1;
    if (strncmp(secret, "wss_", 4) != 0)
        return 1;
    struct store *s = http_req_store(req);
    if (!s)
        return WEFT_EDB;
    int rc = principal_from(req, s, secret, "session", data);
    /* An ended session is no credential: pages then ask to launch again. */
    return rc == WEFT_ENOTFOUND ? 1 : rc;
}

/* ---- AuditEvent, viewers, break-glass review -------------------------------------------- */

static const char *balp_subtype(const char *action)
{
    if (strcmp(action, AUDIT_READ) == 0)
        return "read";
    if (strcmp(action, AUDIT_SEARCH) == 0 || strcmp(action, AUDIT_EXPORT) == 0)
        return "search-type";
    if (strcmp(action, AUDIT_LAUNCH) == 0 || strcmp(action, AUDIT_TOKEN) == 0)
        return "login";
    return NULL;
}

static json_t *audit_event_json(const struct store_audit_row *r)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)r->seq);
    const char *sub = balp_subtype(r->action);
    const char *outcome = strcmp(r->outcome, AUDIT_OK) == 0       ? "0"
                          : strcmp(r->outcome, AUDIT_DENIED) == 0 ? "4"
                                                                  : "8";
    const char *act =
        strcmp(r->action, AUDIT_POLICY_CHANGE) == 0 || strcmp(r->action, AUDIT_BREAK_GLASS) == 0 ||
                strcmp(r->action, AUDIT_TOKEN) == 0 || strcmp(r->action, AUDIT_WRITE) == 0
            ? "C"
        : strcmp(r->action, AUDIT_LAUNCH) == 0 || strcmp(r->action, AUDIT_ADMIN) == 0 ? "E"
                                                                                      : "R";
    json_t *e = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s}], s:s, s:s, s:s, s:{s:{s:s}, s:[{s:s, s:s}]}}",
        "resourceType", "AuditEvent", "id", id, "type", "system",
        sub ? "http://terminology.hl7.org/CodeSystem/audit-event-type" : "urn:weft:audit-action",
        "code", sub ? "rest" : r->action, "subtype", "system",
        sub ? "http://hl7.org/fhir/restful-interaction" : "urn:weft:audit-action", "code",
        sub ? sub : r->action, "action", act, "recorded", r->time, "outcome", outcome, "source",
        "observer", "display", "weft", "type", "system",
        "http://terminology.hl7.org/CodeSystem/security-source-type", "code", "4");
    if (r->reason)
        json_object_set_new(e, "outcomeDesc", json_string(r->reason));
    if (r->purpose)
        json_object_set_new(e, "purposeOfEvent",
                            json_pack("[{s:[{s:s, s:s}]}]", "coding", "system",
                                      "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code",
                                      r->purpose));
    json_t *agents = json_array();
    if (r->user_id) {
        json_t *a =
            json_pack("{s:{s:[{s:s, s:s}]}, s:{s:{s:s, s:s}}, s:b}", "type", "coding", "system",
                      "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code",
                      "humanuser", "who", "identifier", "system",
                      "https://fhir.nhs.uk/Id/sds-user-id", "value", r->user_id, "requestor", 1);
        if (r->user_name)
            json_object_set_new(a, "name", json_string(r->user_name));
        if (r->role)
            json_object_set_new(a, "role",
                                json_pack("[{s:[{s:s, s:s}]}]", "coding", "system",
                                          "https://fhir.nhs.uk/CodeSystem/NHSJobRoleCode", "code",
                                          r->role));
        if (r->session_id)
            json_object_set_new(a, "policy", json_pack("[s]", r->session_id));
        json_array_append_new(agents, a);
    }
    if (r->client)
        json_array_append_new(agents, json_pack("{s:{s:[{s:s, s:s}]}, s:{s:s}, s:b}", "type",
                                                "coding", "system",
                                                "http://terminology.hl7.org/CodeSystem/"
                                                "extra-security-role-type",
                                                "code", "datacollector", "who", "display",
                                                r->client, "requestor", r->user_id ? 0 : 1));
    if (r->org)
        json_array_append_new(
            agents,
            json_pack("{s:{s:[{s:s, s:s}]}, s:{s:{s:s, s:s}}, s:b}", "type", "coding", "system",
                      "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code", "PROV", "who",
                      "identifier", "system", "https://fhir.nhs.uk/Id/ods-organization-code",
                      "value", r->org, "requestor", 0));
    if (r->launcher)
        json_array_append_new(agents,
                              json_pack("{s:{s:[{s:s, s:s}]}, s:{s:s}, s:b}", "type", "coding",
                                        "system", "urn:weft:agent-type", "code", "launcher", "who",
                                        "display", r->launcher, "requestor", 0));
    if (json_array_size(agents) == 0)
        json_array_append_new(
            agents, json_pack("{s:{s:s}, s:b}", "who", "display", "weft", "requestor", 0));
    json_object_set_new(e, "agent", agents);
    json_t *ents = json_array();
    if (r->person_id)
        json_array_append_new(
            ents, json_pack("{s:{s:{s:s, s:s}}, s:{s:s, s:s}}", "what", "identifier", "system",
                            "urn:weft:person", "value", r->person_id, "role", "system",
                            "http://terminology.hl7.org/CodeSystem/object-role", "code", "1"));
    if (r->what || r->count >= 0) {
        json_t *q = json_pack("{s:{s:s}}", "what", "display", r->what ? r->what : "");
        if (r->count >= 0) {
            char n[24];
            snprintf(n, sizeof n, "%lld", (long long)r->count);
            json_object_set_new(q, "detail",
                                json_pack("[{s:s, s:s}]", "type", "count", "valueString", n));
        }
        json_array_append_new(ents, q);
    }
    if (json_array_size(ents))
        json_object_set_new(e, "entity", ents);
    else
        json_decref(ents);
    return e;
}

struct collect {
    json_t *arr;
    int64_t last_seq;
    bool fhir;
};

static int collect_row(const struct store_audit_row *r, void *ctx)
{
    struct collect *c = ctx;
    c->last_seq = r->seq;
    if (c->fhir) {
        json_array_append_new(c->arr, json_pack("{s:o}", "resource", audit_event_json(r)));
        return 0;
    }
    json_t *v = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "seq",
                          (json_int_t)r->seq, "time", r->time, "action", r->action, "outcome",
                          r->outcome, "user", r->user_id, "name", r->user_name, "role", r->role,
                          "org", r->org, "launcher", r->launcher, "purpose", r->purpose);
    if (r->count >= 0)
        json_object_set_new(v, "count", json_integer(r->count));
    json_array_append_new(c->arr, v);
    return 0;
}

/* date=geYYYY-MM-DD / leYYYY-MM-DD / ltYYYY... / gt... / YYYY-MM-DD (that day). */
static bool date_filter(const char *v, struct store_audit_filter *f, char *buf_ge, char *buf_lt)
{
    const char *d = v;
    char op[3] = "eq";
    if (strlen(v) > 2 && v[0] >= 'a' && v[0] <= 'z') {
        memcpy(op, v, 2);
        d = v + 2;
    }
    char day[11];
    size_t dl = strlen(d);
    if (dl < 10 || dl > 29)
        return false;
    memcpy(day, d, 10);
    day[10] = 0;
    if (!org_date_valid(day))
        return false;
    for (size_t i = 10; i < dl; i++) /* optional time part: digits, T, :, ., Z, +, - */
        if (!strchr("0123456789T:.Z+-", d[i]))
            return false;
    if (strcmp(op, "ge") == 0 || strcmp(op, "gt") == 0 || strcmp(op, "sa") == 0) {
        snprintf(buf_ge, 32, "%s", d);
        f->time_ge = buf_ge;
    } else if (strcmp(op, "lt") == 0 || strcmp(op, "le") == 0 || strcmp(op, "eb") == 0) {
        /* le a day: everything before the next day; simple text bound "d~" */
        snprintf(buf_lt, 32, "%s%s", d, strcmp(op, "le") == 0 ? "\x7f" : "");
        f->time_lt = buf_lt;
    } else if (strcmp(op, "eq") == 0) {
        snprintf(buf_ge, 32, "%s", d);
        snprintf(buf_lt, 32, "%s\x7f", d);
        f->time_ge = buf_ge;
        f->time_lt = buf_lt;
    } else {
        return false;
    }
    return true;
}

static bool review_allowed(struct http_req *req, struct store *s)
{
    if (authz_may_review_audit(s, &req->principal))
        return true;
    authz_audit_denial(s, &req->principal, AUDIT_SEARCH, NULL,
                       "audit review is for governance roles only");
    return false;
}

static int h_audit_event(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    if (!s) {
        reply_problem(req, 503, "unavailable", "no database", "try again");
        return 0;
    }
    if (!review_allowed(req, s)) {
        secure_headers(req);
        json_t *oo = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome",
                               "issue", "severity", "error", "code", "forbidden", "diagnostics",
                               "the audit log is for governance roles only");
        char *t = json_dumps(oo, JSON_COMPACT);
        json_decref(oo);
        http_reply(req, 403, "application/fhir+json", t, strlen(t));
        free(t);
        return 0;
    }
    struct store_audit_filter f = {.limit = 100};
    char ge[32], lt[32];
    const char *unknown = NULL;
    for (int i = 0; i < req->nargs; i++) {
        const char *n = req->args[i].name, *v = req->args[i].value;
        if (strcmp(n, "patient") == 0 || strcmp(n, "entity") == 0)
            f.person_id = strncmp(v, "Patient/", 8) == 0 ? v + 8 : v;
        else if (strcmp(n, "agent") == 0 || strcmp(n, "user") == 0)
            f.user_id = v;
        else if (strcmp(n, "action") == 0 || strcmp(n, "subtype") == 0)
            f.action = v;
        else if (strcmp(n, "date") == 0) {
            if (!date_filter(v, &f, ge, lt))
                unknown = "date must be [ge|gt|le|lt]YYYY-MM-DD";
        } else if (strcmp(n, "_count") == 0) {
            char *end;
            long c = strtol(v, &end, 10);
            if (*end || c < 1 || c > 1000)
                unknown = "_count must be 1-1000";
            else
                f.limit = (int)c;
        } else if (strcmp(n, "_before") == 0) {
            char *end;
            long long b = strtoll(v, &end, 10);
            if (*end || b < 1)
                unknown = "_before must be an entry number";
            else
                f.before_seq = b;
        } else {
            unknown = "unknown search parameter (patient, agent, date, action, _count)";
        }
    }
    if (unknown) {
        json_t *oo =
            json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome", "issue",
                      "severity", "error", "code", "invalid", "diagnostics", unknown);
        char *t = json_dumps(oo, JSON_COMPACT);
        json_decref(oo);
        http_reply(req, 400, "application/fhir+json", t, strlen(t));
        free(t);
        return 0;
    }
    struct collect c = {json_array(), 0, true};
    int rc = store_audit_search(s, &f, collect_row, &c);
    if (rc) {
        json_decref(c.arr);
        reply_problem(req, 500, "error", "the audit log could not be searched", "try again");
        return 0;
    }
    json_t *bundle =
        json_pack("{s:s, s:s, s:o}", "resourceType", "Bundle", "type", "searchset", "entry", c.arr);
    if ((int)json_array_size(c.arr) == f.limit) {
        struct buf next = BUF_INIT;
        buf_adds(&next, "/fhir/AuditEvent?");
        for (int i = 0; i < req->nargs; i++) {
            if (strcmp(req->args[i].name, "_before") == 0)
                continue;
            url_encode(&next, req->args[i].name);
            buf_addc(&next, '=');
            url_encode(&next, req->args[i].value);
            buf_addc(&next, '&');
        }
        buf_addf(&next, "_before=%lld", (long long)c.last_seq);
        json_object_set_new(bundle, "link",
                            json_pack("[{s:s, s:s}]", "relation", "next", "url", next.data));
        buf_release(&next);
    }
    authz_audit_access(s, &req->principal, AUDIT_SEARCH, f.person_id, "AuditEvent",
                       (int64_t)json_array_size(c.arr));
    char *t = json_dumps(bundle, JSON_COMPACT);
    json_decref(bundle);
    secure_headers(req);
    http_reply(req, 200, "application/fhir+json", t, strlen(t));
    free(t);
    return 0;
}

static int h_viewers(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    const char *person = http_req_param(req, "id");
    if (!s || !person) {
        reply_problem(req, 503, "unavailable", "no database", "try again");
        return 0;
    }
    if (!review_allowed(req, s)) {
        reply_problem(req, 403, "forbidden", "Access reports are for governance roles",
                      "Ask your information governance team.");
        return 0;
    }
    json_t *viewers = json_array();
    static const char *const actions[] = {AUDIT_READ, AUDIT_SEARCH, AUDIT_EXPORT, AUDIT_LAUNCH,
                                          AUDIT_BREAK_GLASS};
    /* newest first per action, merged by the reader; 200 of each at most */
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        struct store_audit_filter f = {.person_id = person, .action = actions[i], .limit = 200};
        struct collect c = {viewers, 0, false};
        if (store_audit_search(s, &f, collect_row, &c) != 0) {
            json_decref(viewers);
            reply_problem(req, 500, "error", "the audit log could not be searched", "try again");
            return 0;
        }
    }
    authz_audit_access(s, &req->principal, AUDIT_SEARCH, person, "access-report",
                       (int64_t)json_array_size(viewers));
    reply_json(req, 200, json_pack("{s:s, s:o}", "person", person, "accesses", viewers));
    return 0;
}

static int h_breakglass_review(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    if (!s || !review_allowed(req, s)) {
        reply_problem(req, 403, "forbidden", "Break-glass review is for governance roles",
                      "Ask your information governance team.");
        return 0;
    }
    struct store_breakglass *b = NULL;
    int n = 0;
    if (store_breakglass_list(s, http_req_arg(req, "since"), &b, &n) != 0) {
        reply_problem(req, 500, "error", "break-glass events could not be read", "try again");
        return 0;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s, s:s}",
                                             "id", (json_int_t)b[i].id, "user", b[i].user_id,
                                             "name", b[i].user_name, "role", b[i].role, "org",
                                             b[i].org, "person", b[i].person_id, "reason_code",
                                             b[i].reason_code, "reason", b[i].reason_text,
                                             "started", b[i].started, "expires", b[i].expires));
        store_breakglass_clear(&b[i]);
    }
    free(b);
    authz_audit_access(s, &req->principal, AUDIT_SEARCH, NULL, "break-glass-review", (int64_t)n);
    reply_json(req, 200, json_pack("{s:o}", "breakglass", arr));
    return 0;
}

/* ---- the part ---------------------------------------------------------------------------- */

static struct access_cfg *the_cfg;

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
    int rc = audit_log_open(&cfg->log, ctx->db);
    if (rc) {
        fprintf(stderr, "weft serve: cannot start the audit writer: %s\n", weft_strerror(rc));
        free(cfg->audience);
        free(cfg);
        return rc;
    }
    audit_set_log(cfg->log);
    if (opts_get(ctx->opts, "metrics")) {
        char *err = NULL;
        if (store_open(&cfg->metrics_store, ctx->db, false, &err) == 0)
            metrics_collector_add(count_sessions, cfg);
        else
            log_warn("access", "open sessions will not be counted: %s", err ? err : "-");
        free(err);
    }
    struct {
        const char *method, *pattern;
        http_handler_fn fn;
        unsigned flags;
    } routes[] = {
        {"GET", "/launch", h_launch, 0},
        {"POST", "/launch", h_launch, 0},
        {"GET", "/session", h_session, 0},
        {"POST", "/logout", h_logout, 0},
        {"GET", "/breakglass", h_breakglass_form, 0},
        {"POST", "/breakglass", h_breakglass, 0},
        {"GET", "/.well-known/smart-configuration", h_smart_config, 0},
        {"GET", "/oauth/authorize", h_authorize, 0},
        {"POST", "/oauth/authorize", h_authorize_post, 0},
        {"POST", "/oauth/token", h_token, 0},
        {"GET", "/fhir/AuditEvent", h_audit_event, HTTP_ROUTE_AUTH},
        {"GET", "/access/person/{id}/viewers", h_viewers, HTTP_ROUTE_AUTH},
        {"GET", "/access/breakglass", h_breakglass_review, HTTP_ROUTE_AUTH},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        rc = http_route_add(ctx->http, routes[i].method, routes[i].pattern, routes[i].fn, cfg,
                            routes[i].flags);
        if (rc) {
            fprintf(stderr, "weft serve: cannot register %s %s\n", routes[i].method,
                    routes[i].pattern);
            break;
        }
    }
    the_cfg = cfg;
    *state = cfg;
    return rc;
}

void access_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct access_cfg *cfg = state;
    if (!cfg)
        return;
    audit_set_log(NULL);
    audit_log_close(cfg->log); /* commits everything queued */
    store_close(cfg->metrics_store);
    free(cfg->audience);
    free(cfg);
    the_cfg = NULL;
}
