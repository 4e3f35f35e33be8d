/*
 * client.h - a small blocking HTTP/1.1 client for the few outbound calls
 * Weft makes itself (the OpenID provider's discovery document, JWKS, token
 * and userinfo endpoints during citizen sign-in).  One request per
 * connection (Connection: close), a deadline on the whole exchange, a cap on
 * the response size; Content-Length, chunked and read-to-close bodies.
 *
 * http:// and https://.  https: TLS 1.2 or later with SNI, the peer's
 * certificate verified against the system CA store or the operator's CA file
 * (http_client_set_ca_file; weft serve --oidc-ca-file) and its name against
 * the URL's host (a DNS name, or an IP literal in the certificate's IP
 * SANs).  No client certificate.
 */
#ifndef WEFT_HTTP_CLIENT_H
#define WEFT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* A URL split for connecting: host without brackets, port (default 80 or
 * 443), hostport as written (the Host header), path into the URL string. */
struct http_client_url {
    bool tls;
    char host[256];
    char port[8];
    char hostport[256];
    const char *path;
};
/* 0, or WEFT_EINVAL with *errmsg (malloc'd, may be NULL) for a URL that is
 * not http:// or https://, has no host, or a bad port. */
int http_client_parse_url(const char *url, struct http_client_url *u, char **errmsg);

/* Trust only the CA certificates in the PEM file at path for https (NULL:
 * the system CA store, the default).  WEFT_EINVAL with *errmsg when the file
 * holds no usable certificate; the setting is then unchanged.  Process-wide,
 * thread-safe. */
int http_client_set_ca_file(const char *path, char **errmsg);

struct http_client_resp {
    int status;
    char *body; /* NUL-terminated, malloc'd; free with http_client_resp_clear */
    size_t len;
};
void http_client_resp_clear(struct http_client_resp *r);

/* method url with extra header lines (each "Name: value", NULL-terminated
 * list, may be NULL) and body (NULL: none).  Returns 0 with *out filled (any
 * status), or WEFT_EINVAL (bad/unsupported URL), WEFT_EIO (connect, timeout,
 * TLS: "certificate verify failed: REASON" or "hostname mismatch", malformed
 * response) or WEFT_ETOOBIG (response above max bytes), with
 * *errmsg (malloc'd, may be NULL) saying what. */
int http_client_request(const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len, int timeout_ms, size_t max,
                        struct http_client_resp *out, char **errmsg);

#endif
