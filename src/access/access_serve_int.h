/*
 * access_serve_int.h - shared by the files of the access module's HTTP side
 * only (access_serve.c: the part, launch and sessions; access_smart.c;
 * access_auth.c; access_reports.c).  Not an API.
 */
#ifndef WEFT_ACCESS_ACCESS_SERVE_INT_H
#define WEFT_ACCESS_ACCESS_SERVE_INT_H

#include <stdbool.h>
#include <jansson.h>

struct http_req;
struct url_kv;
struct store;
struct store_session;

struct access_cfg {
    char *audience;
    int breakglass_hours;
    int session_hours;
    bool cookie_secure;
    struct store *metrics_store; /* --metrics: open sessions are counted with it */
    char *base_url;              /* --base-url (the FHIR API's), NULL: from the request */
};

struct access_form {
    struct url_kv *kv;
    int n;
};

/* Replies: for a program (JSON, by the Accept header) or a person (a page
 * rendered by the web pages, access_pages_set; plain text without them). */
bool access_wants_json(struct http_req *req);
void access_secure_headers(struct http_req *req);
void access_reply_json(struct http_req *req, int status, json_t *j);
void access_reply_page(struct http_req *req, int status, const char *title, const char *what,
                       const char *todo);
/* A refusal: error code, what went wrong (no full stop), what to do. */
void access_reply_problem(struct http_req *req, int status, const char *error, const char *what,
                          const char *todo);
void access_redirect(struct http_req *req, const char *location);
/* The SMART app's consent page (access_serve.h struct access_consent). */
struct access_consent;
void access_reply_consent(struct http_req *req, const struct access_consent *c);

/* Is client_id a registered app whose registration stands? (access_smart.c) */
bool access_app_active(struct store *s, const char *client_id);

/* application/x-www-form-urlencoded bodies. */
int access_form_parse(struct http_req *req, struct access_form *f);
const char *access_form_get(const struct access_form *f, const char *name);
void access_form_free(struct access_form *f);
/* A state-changing form (access/form.h): replies and returns non-zero when
 * refused. */
int access_check_form(struct http_req *req, struct store *s, const struct access_form *f,
                      struct store_session *sess, const char *action);

/* Handlers (routes in access_serve_start). */
int access_smart_config(struct http_req *req, void *ctx);
int access_authorize(struct http_req *req, void *ctx);
int access_authorize_post(struct http_req *req, void *ctx);
int access_token(struct http_req *req, void *ctx);

/* SMART Backend Services (access_backend.c).  The token endpoint's URL, the
 * aud its client assertions must carry: from --base-url (backend.h
 * backend_token_url), else http(s)://HOST/oauth/token from the server's
 * scheme and the request's Host (malloc'd). */
char *access_token_url(struct http_req *req, const struct access_cfg *cfg);
/* /oauth/token with grant_type=client_credentials (called by access_token
 * with the parsed form): answers the token or the refusal. */
void access_token_backend(struct http_req *req, struct store *s, const struct access_form *f,
                          const struct access_cfg *cfg);
/* Refuse a token request of no known client: WARN line, audited denial,
 * the RFC 6749 error answer. */
void access_token_refuse(struct http_req *req, struct store *s, const char *error, int status,
                         const char *why);
/* The sign-in link for "Bearer wbt_..." tokens (http/auth.h). */
int access_auth_backend(struct http_req *req, void **data);
void access_auth_backend_free(void *data);
int access_audit_event(struct http_req *req, void *ctx);
int access_viewers(struct http_req *req, void *ctx);
int access_breakglass_review(struct http_req *req, void *ctx);

#endif
