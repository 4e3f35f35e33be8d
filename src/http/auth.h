/*
 * auth.h - who is asking: the one place where an HTTP request's credentials
 * become a struct principal (core/principal.h).
 *
 * A small chain of authenticators, tried in order until one recognises a
 * credential in the request:
 *   1. "Authorization: Bearer TOKEN" for a registered API client: the token's
 *      SHA-256 (lower-case hex) is looked up with store_client_by_hash(); an
 *      active client becomes a PRINCIPAL_CLIENT with the client's scopes and
 *      organisation.  A client bound to a TLS client certificate counts only
 *      on a connection that presented it (http_req_tls_client_sha256).
 * Other ways to sign in are registered by the modules that own them
 * (http_auth_register): the access module registers SMART app tokens
 * (tried before the client tokens) and launch session cookies (after),
 * when `weft serve` starts it.  The HTTP core knows none of them.
 *
 * The strings the principal points at are owned by req->auth_data and live
 * until the request is freed (http_auth_release, called by the server).
 */
#ifndef WEFT_HTTP_AUTH_H
#define WEFT_HTTP_AUTH_H

#include "http/server.h"

#define HTTP_AUTH_HASH_HEX 64

/*
 * Fill req->principal.  Returns 0 when a credential was accepted or none was
 * presented (principal kind PRINCIPAL_NONE), WEFT_EAUTH when a credential was
 * presented and rejected (unknown, revoked or malformed: answer 401 with
 * error="invalid_token"), or another negative code when the check itself
 * failed (store error: answer 503/500, never let the request through).
 */
int http_auth_authenticate(struct http_req *req);
/* Free what http_auth_authenticate attached to req. */
void http_auth_release(struct http_req *req);

/* A sign-in method registered by another module.  fn looks at the request:
 * returns 1 when it holds no credential of this kind (the next method is
 * tried), 0 when it accepted one (req->principal filled; what its strings
 * point at in *data, released with release(data) when the request ends), or
 * WEFT_EAUTH / another negative error. */
struct http_auth_method {
    const char *name;
    int (*fn)(struct http_req *req, void **data);
    void (*release)(void *data);
};
enum http_auth_when {
    HTTP_AUTH_BEFORE_CLIENTS, /* tried before registered client tokens */
    HTTP_AUTH_AFTER_CLIENTS,  /* tried after them */
};
#define HTTP_AUTH_METHODS_MAX 8
/* Add m (static: it is kept) to the chain.  Call before the server starts
 * (registration is not locked).  Registering the same method again is a
 * no-op.  Returns 0 or WEFT_EINVAL when the chain is full. */
int http_auth_register(const struct http_auth_method *m, enum http_auth_when when);
/* Forget every registered method (when `weft serve` stops). */
void http_auth_unregister_all(void);
/* Called when a credential that is otherwise valid is refused for a reason
 * worth recording (an API client's token on a connection without the TLS
 * client certificate it is bound to): who is the refused principal (its
 * strings valid for the call), reason a sentence for the operator and the
 * audit (no patient data).  The access module installs one that writes a
 * denial to the audit log and the WARN line; without one the reason is
 * logged at WARN here.  One hook; NULL removes it. */
typedef void (*http_auth_refused_fn)(struct http_req *req, const struct principal *who,
                                     const char *reason);
void http_auth_on_refused(http_auth_refused_fn fn);
/* Lower-case hex SHA-256 of token into out (HTTP_AUTH_HASH_HEX + 1 bytes): the
 * form in which client tokens are stored. */
void http_auth_token_hash(const char *token, char out[HTTP_AUTH_HASH_HEX + 1]);
/* The credential of an Authorization header value h: 1 with tok[0..*n) set
 * for "Bearer TOKEN" (1 to HTTP_AUTH_TOKEN_MAX visible ASCII characters;
 * surrounding blanks ignored), 0 for another scheme or no header,
 * WEFT_EAUTH for a malformed Bearer credential. */
#define HTTP_AUTH_TOKEN_MAX 4096
int http_auth_bearer(const char *h, const char **tok, size_t *n);

#endif
