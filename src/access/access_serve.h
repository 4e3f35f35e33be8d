/*
 * access_serve.h - the access part of `weft serve` (a row in cmd_serve.c's
 * parts table): in-context launch, sessions, CSRF, break-glass, the SMART
 * App Launch endpoints, AuditEvent and access reports (files access_serve.c,
 * access_smart.c, access_auth.c, access_reports.c).  The group-commit audit
 * writer is the audit module's own part (audit/audit_serve.c), started
 * before this one.
 *
 * URLs (docs/ACCESS.md has the details):
 *   GET  /launch?token=JWT, POST /launch (form: token)   -> 303 /patient/{person}
 *   GET  /session            the current session as JSON (user, person, csrf)
 *   POST /logout             (form: csrf)
 *   (GET/POST /breakglass are served by the web pages, web/clinician_breakglass.c,
 *    with the one break-glass request, access/breakglass.h)
 *   GET  /.well-known/smart-configuration
 *   GET  /oauth/authorize    (a launched session; PKCE S256) -> redirect with code
 *   POST /oauth/token        (code + code_verifier) -> bearer token, patient/\*.rs
 *   GET  /fhir/AuditEvent    governance roles: ?patient= &agent= &date= &action=
 *   GET  /access/person/{id}/viewers   "who has viewed this record" (JSON)
 *   GET  /access/breakglass  break-glass events for review (JSON)
 *
 * Options (rows in cmd_serve.c specs, or weft.conf): audience (default
 * "weft"), breakglass-hours (4), session-hours (8), cookie-secure (mark the
 * cookie Secure: set it when served over TLS, e.g. behind a proxy).
 */
#ifndef WEFT_ACCESS_ACCESS_SERVE_H
#define WEFT_ACCESS_ACCESS_SERVE_H

struct serve_ctx;
struct http_req;
struct principal;

int access_serve_start(const struct serve_ctx *ctx, void **state);
void access_serve_stop(const struct serve_ctx *ctx, void *state);

/* The sign-in methods access_serve_start registers with the HTTP core
 * (http/auth.h http_auth_register): recognise a SMART access token
 * ("Bearer wat_...") or a launch session cookie.  Return 1 (not mine), 0 (principal filled; data
 * in *data, freed with access_auth_free) or WEFT_EAUTH / another error. */
int access_auth_token(struct http_req *req, void **data);
int access_auth_cookie(struct http_req *req, void **data);
void access_auth_free(void *data);
/* The HTTP core's refusal hook (http_auth_on_refused): a credential refused
 * for a reason (an API client's token without its bound TLS client
 * certificate) is a WARN line and an audited denial. */
void access_auth_refused(struct http_req *req, const struct principal *who, const char *reason);

/* For the web pages (every state-changing form must use these two):
 * the CSRF token of req's launched session, to put in a hidden field named
 * "csrf" (malloc'd, caller frees; NULL when req has no session) ... */
char *access_csrf_token(struct http_req *req);
/* ... and the check of a submitted form: 0 when the request comes from the
 * session's own pages (same origin by Sec-Fetch-Site/Origin, right token);
 * otherwise it has replied 401/403 (and audited the refusal) and returns
 * non-zero. */
int access_form_check(struct http_req *req, const char *csrf_value);

/*
 * The pages this module answers browsers with are rendered by the web pages
 * (web/access_pages.c, with the shared layout), which register them when
 * `weft serve` starts them: access includes nothing of web.  Before that
 * (or without the web part) a short plain-text answer is given.
 */
struct access_consent {
    const char *app_name, *client_id, *redirect_uri;
    const char *granted;             /* the granted scopes, space-separated ("patient/X.rs ...") */
    const char *const *field_names;  /* hidden form fields to post back (csrf included) */
    const char *const *field_values; /* NULL values are left out */
    int nfields;
};
struct access_pages {
    /* A page that says what happened and what to do next (todo may be NULL). */
    void (*message)(struct http_req *req, int status, const char *title, const char *what,
                    const char *todo);
    /* The SMART app's consent page (POSTs to /oauth/authorize, buttons
     * decision=allow id app-allow and decision=deny id app-deny). */
    void (*consent)(struct http_req *req, const struct access_consent *c);
};
void access_pages_set(const struct access_pages *pages);

#endif
