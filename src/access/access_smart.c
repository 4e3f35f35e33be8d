/*
 * access_smart.c - SMART App Launch (part of the access module's HTTP side,
 * access_serve.h): /.well-known/smart-configuration, /oauth/authorize (the
 * consent page, rendered by the web pages through access_pages) and
 * /oauth/token (authorization code with PKCE S256 -> a read-only app token).
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
#include "access/form.h"
#include "access/launch.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"
#include "store/access.h"
#include "store/apps.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"

/* ---- SMART App Launch ---------------------------------------------------------------------- */

/* Is client_id a registered app whose registration stands? */
bool access_app_active(struct store *s, const char *client_id)
{
    struct store_app a;
    bool ok = store_app_get(s, client_id, &a) == 0 && !a.revoked;
    store_app_clear(&a);
    return ok;
}

/* The SMART configuration: App Launch (public apps, PKCE, launched from a
 * session) and Backend Services (private_key_jwt client credentials,
 * access_backend.c).  token_endpoint is absolute: a backend client signs
 * it as its assertion's aud. */
int access_smart_config(struct http_req *req, void *ctx)
{
    char *token_url = access_token_url(req, ctx);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:[s,s], s:[s], s:[s], s:[s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s], s:s, "
        "s:[s,s], s:[s,s]}",
        "issuer", "weft", "authorization_endpoint", "/oauth/authorize", "token_endpoint", token_url,
        "grant_types_supported", "authorization_code", "client_credentials",
        "response_types_supported", "code", "code_challenge_methods_supported", "S256",
        "scopes_supported", "patient/*.rs", "patient/*.read", "launch", "launch/patient",
        "system/*.rs", "system/*.read", "system/Patient.rs", "capabilities", "launch-ehr",
        "client-public", "client-confidential-asymmetric", "context-ehr-patient",
        "permission-patient", "permission-v2", "permission-v1", "token_endpoint_auth_method",
        "none", "token_endpoint_auth_methods_supported", "none", "private_key_jwt",
        "token_endpoint_auth_signing_alg_values_supported", "RS384", "ES384");
    free(token_url);
    access_reply_json(req, 200, j);
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
    return access_form_get(f, name);
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
        access_reply_problem(
            req, 400, "unauthorized_client",
            "The app is not registered with Weft (or its registration was revoked)",
            "Tell the app's supplier or your system administrator: apps are "
            "registered with 'weft app add'. Nothing was shared with the app.");
        return WEFT_EAUTH;
    }
    if (rc) {
        access_reply_problem(req, 503, "unavailable", "Weft could not check the app",
                             "Try again in a moment.");
        return rc;
    }
    if (!app_redirect_uri_registered(app, ar->redirect_uri)) {
        access_reply_problem(
            req, 400, "invalid_request",
            "The app asked Weft to send you to an address it has not registered",
            "Do not continue. Tell the app's supplier or your system administrator. "
            "Nothing was shared with the app.");
        return WEFT_EAUTH;
    }
    if (!ar->response_type || strcmp(ar->response_type, "code") != 0 ||
        !b64url_text(ar->challenge, 43, 128) || !ar->method || strcmp(ar->method, "S256") != 0 ||
        (ar->state && !printable_text(ar->state, 512))) {
        access_reply_problem(
            req, 400, "invalid_request",
            "The app's request lacks response_type=code or a PKCE S256 code_challenge, "
            "or its state is not 1-512 printable characters",
            "Tell the app's supplier: Weft follows SMART App Launch with PKCE.");
        return WEFT_EINVAL;
    }
    char *want = grant_scopes(ar->scope);
    *granted = app_scopes_allowed(app, want);
    free(want);
    if (!*granted) {
        access_reply_problem(
            req, 400, "invalid_scope",
            "The app asked for no patient-level read scope it is registered for (e.g. "
            "patient/*.rs)",
            "Tell the app's supplier: Weft grants read-only patient scopes.");
        return WEFT_EINVAL;
    }
    return 0;
}

/* One granted scope in words: "patient/Observation.rs" -> "Observation". */

/* GET /oauth/authorize: the user sees which app asks, for what, and decides
 * (POST /oauth/authorize).  Nothing is issued here. */
int access_authorize(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || access_current_session(req, s, &ss) != 0) {
        access_reply_problem(
            req, 401, "login_required", "Apps can only be opened from a launched session",
            "Open the patient's record from your own system first, then open the app.");
        return 0;
    }
    struct authz_req ar;
    authz_req_from(&ar, get_arg, req);
    struct store_app app;
    char *granted = NULL;
    if (authz_check(req, s, &ar, &app, &granted) == 0) {
        static const char *const names[] = {
            "csrf",  "response_type", "client_id",      "redirect_uri",
            "scope", "state",         "code_challenge", "code_challenge_method"};
        const char *values[] = {ss.csrf, ar.response_type, ar.client_id, ar.redirect_uri,
                                granted, ar.state,         ar.challenge, ar.method};
        struct access_consent c = {.app_name = app.name,
                                   .client_id = app.client_id,
                                   .redirect_uri = ar.redirect_uri,
                                   .granted = granted,
                                   .field_names = names,
                                   .field_values = values,
                                   .nfields = (int)(sizeof names / sizeof names[0])};
        access_reply_consent(req, &c);
    }
    free(granted);
    store_app_clear(&app);
    store_session_clear(&ss);
    return 0;
}

/* POST /oauth/authorize: the user's decision (session, same origin, CSRF);
 * the request is checked again as sent, then a code (allow) or
 * error=access_denied (deny) goes to the registered redirect URI. */
int access_authorize_post(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct access_form f = {0};
    struct store_session ss = {0};
    if (!s || access_form_parse(req, &f) != 0) {
        access_reply_problem(req, 400, "invalid_request", "The request was not a form",
                             "Open the app again from the patient's record.");
        access_form_free(&f);
        return 0;
    }
    if (access_check_form(req, s, &f, &ss, AUDIT_TOKEN) != 0) {
        store_session_clear(&ss);
        access_form_free(&f);
        return 0;
    }
    struct authz_req ar;
    authz_req_from(&ar, get_form, &f);
    struct store_app app;
    char *granted = NULL;
    if (authz_check(req, s, &ar, &app, &granted) == 0) {
        const char *decision = access_form_get(&f, "decision");
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
            access_reply_problem(req, 503, "unavailable", "Weft could not issue the code",
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
            access_redirect(req, loc.data);
            buf_release(&loc);
        }
    }
    free(granted);
    store_app_clear(&app);
    store_session_clear(&ss);
    access_form_free(&f);
    return 0;
}

static void token_error(struct http_req *req, int status, const char *err, const char *desc)
{
    access_reply_json(req, status,
                      json_pack("{s:s, s:s}", "error", err, "error_description", desc));
}

int access_token(struct http_req *req, void *ctx)
{
    struct store *s = http_req_store(req);
    struct access_form f = {0};
    if (!s || access_form_parse(req, &f) != 0) {
        token_error(req, 400, "invalid_request", "send a form-encoded body");
        access_form_free(&f);
        return 0;
    }
    const char *gt = access_form_get(&f, "grant_type");
    const char *code = access_form_get(&f, "code");
    const char *verifier = access_form_get(&f, "code_verifier");
    struct store_session cs = {0}, parent = {0};
    if (gt && strcmp(gt, "client_credentials") == 0) {
        access_token_backend(req, s, &f, ctx);
        goto out;
    }
    if (!gt || strcmp(gt, "authorization_code") != 0) {
        access_token_refuse(req, s, "unsupported_grant_type", 400,
                            "grant_type must be authorization_code (SMART apps) or "
                            "client_credentials (SMART Backend Services)");
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
    const char *client_id = access_form_get(&f, "client_id");
    if (!client_id || !cs.app || strcmp(client_id, cs.app) != 0 || !access_app_active(s, cs.app)) {
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
    access_reply_json(req, 200,
                      json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", tok, "token_type",
                                "Bearer", "expires_in", SESSION_TOKEN_TTL, "scope", cs.scopes,
                                "patient", parent.person_id));
out:
    store_session_clear(&cs);
    store_session_clear(&parent);
    access_form_free(&f);
    return 0;
}
