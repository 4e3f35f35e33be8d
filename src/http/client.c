/*
 * client.c - the blocking HTTP/1.1 client (see client.h).  Written for a
 * handful of small JSON exchanges per sign-in, so it is simple: resolve,
 * connect with a deadline, (for https: a TLS handshake with the peer's
 * certificate and name verified), write the request, read until close or
 * until the declared length, then parse.  A fresh SSL_CTX per request: a
 * sign-in makes four calls at most, and the CA store is then always the one
 * on disk now.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/client.h"

void http_client_resp_clear(struct http_client_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* errmsg = what + " '" + arg + "'" */
static int err(char **errmsg, int code, const char *what, const char *arg)
{
    if (errmsg && !*errmsg) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "%s '%s'", what, arg ? arg : "");
        *errmsg = buf_detach(&b, NULL);
    }
    return code;
}

/* First occurrence of needle (n bytes) in s[0..len), or NULL. */
static char *find(char *s, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            return s + i;
    return NULL;
}

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events before the deadline. */
static bool wait_fd(int fd, short events, long long deadline)
{
    long long left = deadline - ms_now();
    if (left <= 0)
        return false;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, (int)left);
    return r > 0;
}

/* Decode a chunked body in place; returns the new length or -1. */
static long dechunk(char *s, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end = NULL;
        if (in >= n)
            return -1;
        unsigned long sz = strtoul(s + in, &end, 16);
        char *crlf = find(s + in, n - in, "\r\n", 2);
        if (!crlf || end == s + in)
            return -1;
        in = (size_t)(crlf - s) + 2;
        if (sz == 0)
            return (long)out;
        if (sz > n - in)
            return -1;
        memmove(s + out, s + in, sz);
        out += sz;
        in += sz + 2;
    }
}

/* ---- URLs ------------------------------------------------------------------------------- */

int http_client_parse_url(const char *url, struct http_client_url *u, char **errmsg)
{
    memset(u, 0, sizeof *u);
    const char *host;
    if (strncmp(url, "http://", 7) == 0) {
        host = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        host = url + 8;
        u->tls = true;
    } else {
        return err(errmsg, WEFT_EINVAL, "only http:// and https:// URLs are supported, not", url);
    }
    const char *slash = strchr(host, '/');
    size_t hostlen = slash ? (size_t)(slash - host) : strlen(host);
    u->path = slash ? slash : "/";
    if (hostlen == 0 || hostlen >= sizeof u->hostport || memchr(host, '@', hostlen) ||
        memchr(host, '?', hostlen) || memchr(host, '#', hostlen))
        return err(errmsg, WEFT_EINVAL, "bad URL", url);
    memcpy(u->hostport, host, hostlen);
    u->hostport[hostlen] = 0;
    snprintf(u->port, sizeof u->port, "%s", u->tls ? "443" : "80");
    const char *hs = u->hostport, *he = u->hostport + hostlen, *ps = NULL;
    if (*hs == '[') { /* [v6 literal] */
        const char *rb = strchr(hs, ']');
        if (!rb || (rb[1] && rb[1] != ':'))
            return err(errmsg, WEFT_EINVAL, "bad URL", url);
        ps = rb[1] == ':' ? rb + 2 : NULL;
        hs++;
        he = rb;
    } else {
        const char *colon = strrchr(hs, ':');
        if (colon) {
            ps = colon + 1;
            he = colon;
        }
    }
    if (ps) {
        size_t pl = strlen(ps);
        char *end = NULL;
        long port = strtol(ps, &end, 10);
        if (pl == 0 || pl >= sizeof u->port || *end || port < 1 || port > 65535)
            return err(errmsg, WEFT_EINVAL, "bad port in URL", url);
        memcpy(u->port, ps, pl + 1);
    }
    if (he == hs)
        return err(errmsg, WEFT_EINVAL, "bad URL", url);
    memcpy(u->host, hs, (size_t)(he - hs));
    u->host[he - hs] = 0;
    return WEFT_OK;
}

/* ---- TLS -------------------------------------------------------------------------------- */

static pthread_mutex_t ca_mu = PTHREAD_MUTEX_INITIALIZER;
static char *ca_file; /* NULL: the system CA store */

/* A client context trusting the CA file (or the system store); NULL with
 * *errmsg when the CA file cannot be used. */
static SSL_CTX *client_ctx(const char *cafile, char **errmsg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        err(errmsg, WEFT_EIO, "cannot set up TLS", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
                                 | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
    );
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
                    : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        err(errmsg, WEFT_EINVAL,
            cafile ? "cannot read CA certificates (PEM) from" : "cannot load the system CA store",
            cafile ? cafile : "");
        return NULL;
    }
    return ctx;
}

int http_client_set_ca_file(const char *path, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (path) {
        SSL_CTX *ctx = client_ctx(path, errmsg);
        if (!ctx)
            return WEFT_EINVAL;
        SSL_CTX_free(ctx);
    }
    pthread_mutex_lock(&ca_mu);
    free(ca_file);
    ca_file = path ? xstrdup(path) : NULL;
    pthread_mutex_unlock(&ca_mu);
    return WEFT_OK;
}

/* One connection: a plain socket, or TLS over it. */
struct conn {
    int fd;
    SSL *ssl;
    long long deadline;
};

/* Wait for the direction OpenSSL asks for; false on timeout. */
static bool ssl_wait(struct conn *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(c->fd, POLLIN, c->deadline);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(c->fd, POLLOUT, c->deadline);
    return false;
}

/* The TLS handshake with the peer's certificate checked against the CA store
 * and the host name of the URL. */
static int tls_start(struct conn *c, const struct http_client_url *u, char **errmsg)
{
    pthread_mutex_lock(&ca_mu);
    char *cafile = ca_file ? xstrdup(ca_file) : NULL;
    pthread_mutex_unlock(&ca_mu);
    SSL_CTX *ctx = client_ctx(cafile, errmsg);
    free(cafile);
    if (!ctx)
        return WEFT_EIO;
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    if (!c->ssl)
        return err(errmsg, WEFT_EIO, "cannot set up TLS to", u->hostport);
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, u->host, ip) == 1 || inet_pton(AF_INET6, u->host, ip) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(vp, u->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, u->host);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(c->ssl, u->host);
    }
    SSL_set_fd(c->ssl, c->fd);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return WEFT_OK;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!ssl_wait(c, r))
                return err(errmsg, WEFT_EIO, "timed out in the TLS handshake with", u->hostport);
            continue;
        }
        long v = SSL_get_verify_result(c->ssl);
        ERR_clear_error();
        struct buf b = BUF_INIT;
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
            buf_addf(&b, "hostname mismatch: the certificate of '%s' is not for '%s'", u->hostport,
                     u->host);
        else if (v != X509_V_OK)
            buf_addf(&b, "certificate verify failed: %s, from '%s'",
                     X509_verify_cert_error_string(v), u->hostport);
        else
            buf_addf(&b, "TLS handshake failed with '%s'", u->hostport);
        if (errmsg && !*errmsg)
            *errmsg = buf_detach(&b, NULL);
        else
            buf_release(&b);
        return WEFT_EIO;
    }
}

/* Bytes written (>= 0), or -1 on a hard error; 0 means try again. */
static ssize_t conn_send(struct conn *c, const char *p, size_t n)
{
    if (!c->ssl) {
        if (!wait_fd(c->fd, POLLOUT, c->deadline))
            return -2;
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        return w < 0 ? (errno == EAGAIN || errno == EINTR ? 0 : -1) : w;
    }
    ERR_clear_error();
    int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (w > 0)
        return w;
    int e = SSL_get_error(c->ssl, w);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return -1;
    return ssl_wait(c, w) ? 0 : -2;
}

/* Bytes read (> 0), 0 at the end, -1 on a hard error, -2 on timeout, -3: again. */
static ssize_t conn_recv(struct conn *c, char *p, size_t n)
{
    if (!c->ssl) {
        if (!wait_fd(c->fd, POLLIN, c->deadline))
            return -2;
        ssize_t r = recv(c->fd, p, n, 0);
        return r < 0 ? (errno == EAGAIN || errno == EINTR ? -3 : -1) : r;
    }
    ERR_clear_error();
    int r = SSL_read(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return ssl_wait(c, r) ? -3 : -2;
    ERR_clear_error();
    return -1;
}

/* ---- the request ------------------------------------------------------------------------ */

int http_client_request(const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len, int timeout_ms, size_t max,
                        struct http_client_resp *out, char **errmsg)
{
    memset(out, 0, sizeof *out);
    if (errmsg)
        *errmsg = NULL;
    struct http_client_url u;
    int prc = http_client_parse_url(url, &u, errmsg);
    if (prc)
        return prc;
    const char *hostport = u.hostport, *path = u.path;
    long long deadline = ms_now() + timeout_ms;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(u.host, u.port, &hints, &res) != 0)
        return err(errmsg, WEFT_EIO, "cannot resolve", u.host);
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
            (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline))) {
            close(fd);
            fd = -1;
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err(errmsg, WEFT_EIO, "cannot connect to", hostport);
    struct conn c = {.fd = fd, .deadline = deadline};
    int rc = u.tls ? tls_start(&c, &u, errmsg) : WEFT_OK;
    struct buf req = BUF_INIT;
    buf_addf(&req,
             "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nAccept: application/json\r\n",
             method, path, hostport);
    for (int i = 0; headers && headers[i]; i++)
        buf_addf(&req, "%s\r\n", headers[i]);
    if (body)
        buf_addf(&req, "Content-Length: %zu\r\n", body_len);
    buf_adds(&req, "\r\n");
    if (body)
        buf_add(&req, body, body_len);
    size_t sent = 0;
    while (rc == 0 && sent < req.len) {
        ssize_t w = conn_send(&c, req.data + sent, req.len - sent);
        if (w == -2)
            rc = err(errmsg, WEFT_EIO, "timed out sending to", hostport);
        else if (w < 0)
            rc = err(errmsg, WEFT_EIO, "sending failed to", hostport);
        else
            sent += (size_t)w;
    }
    buf_release(&req);
    struct buf in = BUF_INIT;
    while (rc == 0) {
        char chunk[8192];
        ssize_t r = conn_recv(&c, chunk, sizeof chunk);
        if (r == 0)
            break;
        if (r == -3)
            continue;
        if (r == -2) {
            rc = err(errmsg, WEFT_EIO, "timed out waiting for", hostport);
            break;
        }
        if (r < 0) {
            rc = err(errmsg, WEFT_EIO, "reading failed from", hostport);
            break;
        }
        buf_add(&in, chunk, (size_t)r);
        if (in.len > max + 16384)
            rc = err(errmsg, WEFT_ETOOBIG, "the answer is too large from", hostport);
    }
    SSL_free(c.ssl);
    close(fd);
    char *hend = rc == 0 && in.len ? find(in.data, in.len, "\r\n\r\n", 4) : NULL;
    int status = 0;
    if (rc == 0 && (!hend || sscanf(in.data, "HTTP/1.%*d %d", &status) != 1))
        rc = err(errmsg, WEFT_EIO, "malformed answer from", hostport);
    if (rc == 0) {
        size_t hlen = (size_t)(hend - in.data) + 4;
        bool chunked = false;
        long clen = -1;
        for (char *line = strstr(in.data, "\r\n"); line && line < hend;
             line = strstr(line + 2, "\r\n")) {
            const char *l = line + 2;
            const char *eol = strstr(l, "\r\n");
            if (strncasecmp(l, "Transfer-Encoding:", 18) == 0 && eol &&
                find((char *)l, (size_t)(eol - l), "chunked", 7))
                chunked = true;
            if (strncasecmp(l, "Content-Length:", 15) == 0)
                clen = strtol(l + 15, NULL, 10);
        }
        size_t blen = in.len - hlen;
        out->body = xmalloc(blen + 1);
        memcpy(out->body, in.data + hlen, blen);
        if (chunked) {
            long n = dechunk(out->body, blen);
            if (n < 0)
                rc = err(errmsg, WEFT_EIO, "malformed chunked answer from", hostport);
            else
                blen = (size_t)n;
        } else if (clen >= 0 && (size_t)clen < blen) {
            blen = (size_t)clen;
        }
        if (blen > max)
            rc = err(errmsg, WEFT_ETOOBIG, "the answer is too large from", hostport);
        out->body[blen] = 0;
        out->len = blen;
        out->status = status;
    }
    buf_release(&in);
    if (rc)
        http_client_resp_clear(out);
    return rc;
}
