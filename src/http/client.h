/*
 * client.h - a small blocking HTTP/1.1 client for the few outbound calls
 * Weft makes itself (the OpenID provider's discovery document, JWKS, token
 * and userinfo endpoints during citizen sign-in).  One request per
 * connection (Connection: close), a deadline on the whole exchange, a cap on
 * the response size; Content-Length, chunked and read-to-close bodies.
 *
 * Only http:// URLs: TLS is not built in yet, so a provider on https is
 * reached through a local TLS-terminating proxy (docs/ACCESS.md).
 */
#ifndef WEFT_HTTP_CLIENT_H
#define WEFT_HTTP_CLIENT_H

#include <stddef.h>

struct http_client_resp {
    int status;
    char *body; /* NUL-terminated, malloc'd; free with http_client_resp_clear */
    size_t len;
};
void http_client_resp_clear(struct http_client_resp *r);

/* method url with extra header lines (each "Name: value", NULL-terminated
 * list, may be NULL) and body (NULL: none).  Returns 0 with *out filled (any
 * status), or WEFT_EINVAL (bad/unsupported URL), WEFT_EIO (connect, timeout,
 * malformed response) or WEFT_ETOOBIG (response above max bytes), with
 * *errmsg (malloc'd, may be NULL) saying what. */
int http_client_request(const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len, int timeout_ms, size_t max,
                        struct http_client_resp *out, char **errmsg);

#endif
