/*
 * auth.h - who is asking: the one place where an HTTP request's credentials
 * become a struct principal (access/principal.h).
 *
 * A small chain of authenticators, tried in order until one recognises a
 * credential in the request:
 *   1. "Authorization: Bearer TOKEN" for a registered API client: the token's
 *      SHA-256 (lower-case hex) is looked up with store_client_by_hash(); an
 *      active client becomes a PRINCIPAL_CLIENT with the client's scopes and
 *      organisation.
 * The access module adds launch sessions (cookies) and SMART access tokens
 * as further links of the chain in auth.c (see the table there).
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
