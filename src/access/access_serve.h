/*
 * access_serve.h - the access part of `weft serve` (a row in cmd_serve.c's
 * parts table): in-context launch, sessions, CSRF, break-glass, the SMART
 * App Launch endpoints, AuditEvent and access reports, and the group-commit
 * audit writer every request's audit entries go through.
 *
 * URLs (docs/ACCESS.md has the details):
 *   GET  /launch?token=JWT, POST /launch (form: token)   -> 303 /patient/{person}
 *   GET  /session            the current session as JSON (user, person, csrf)
 *   POST /logout             (form: csrf)
 *   GET  /breakglass         the break-glass form; POST /breakglass (form: csrf,
 *                            reason_code, reason_text, person or nhs)
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

int access_serve_start(const struct serve_ctx *ctx, void **state);
void access_serve_stop(const struct serve_ctx *ctx, void *state);

/* For http/auth.c's chain: recognise a session cookie or a SMART access
 * token ("Bearer wat_...").  Return 1 (not mine), 0 (principal filled; data
 * in *data, freed with access_auth_free) or WEFT_EAUTH / another error. */
int access_auth_token(struct http_req *req, void **data);
int access_auth_cookie(struct http_req *req, void **data);
void access_auth_free(void *data);

/* For the web pages (every state-changing form must use these two):
 * the CSRF token of req's launched session, to put in a hidden field named
 * "csrf" (malloc'd, caller frees; NULL when req has no session) ... */
char *access_csrf_token(struct http_req *req);
/* ... and the check of a submitted form: 0 when the request comes from the
 * session's own pages (same origin by Sec-Fetch-Site/Origin, right token);
 * otherwise it has replied 401/403 (and audited the refusal) and returns
 * non-zero. */
int access_form_check(struct http_req *req, const char *csrf_value);

#endif
