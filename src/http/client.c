/*
 * client.c - the blocking HTTP/1.1 client (see client.h).  Written for a
 * handful of small JSON exchanges per sign-in, so it is simple: resolve,
 * connect with a deadline, write the request, read until close or until the
 * declared length, then parse.
 */
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

int http_client_request(const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len, int timeout_ms, size_t max,
                        struct http_client_resp *out, char **errmsg)
{
    memset(out, 0, sizeof *out);
    if (errmsg)
        *errmsg = NULL;
    if (strncmp(url, "http://", 7) != 0)
        return err(errmsg, WEFT_EINVAL, "only http:// URLs are supported, not", url);
    const char *host = url + 7, *slash = strchr(host, '/');
    size_t hostlen = slash ? (size_t)(slash - host) : strlen(host);
    const char *path = slash ? slash : "/";
    char hostport[256], h[256], port[8] = "80";
    if (hostlen == 0 || hostlen >= sizeof hostport)
        return err(errmsg, WEFT_EINVAL, "bad URL", url);
    memcpy(hostport, host, hostlen);
    hostport[hostlen] = 0;
    snprintf(h, sizeof h, "%s", hostport);
    char *colon = strrchr(h, ':');
    if (colon && !strchr(colon, ']')) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = 0;
    }
    long long deadline = ms_now() + timeout_ms;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(h, port, &hints, &res) != 0)
        return err(errmsg, WEFT_EIO, "cannot resolve", h);
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
    int rc = WEFT_OK;
    while (rc == 0 && sent < req.len) {
        if (!wait_fd(fd, POLLOUT, deadline)) {
            rc = err(errmsg, WEFT_EIO, "timed out sending to", hostport);
            break;
        }
        ssize_t w = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            rc = err(errmsg, WEFT_EIO, "sending failed to", hostport);
        else if (w > 0)
            sent += (size_t)w;
    }
    buf_release(&req);
    struct buf in = BUF_INIT;
    while (rc == 0) {
        if (!wait_fd(fd, POLLIN, deadline)) {
            rc = err(errmsg, WEFT_EIO, "timed out waiting for", hostport);
            break;
        }
        char chunk[8192];
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            rc = err(errmsg, WEFT_EIO, "reading failed from", hostport);
            break;
        }
        buf_add(&in, chunk, (size_t)r);
        if (in.len > max + 16384)
            rc = err(errmsg, WEFT_ETOOBIG, "the answer is too large from", hostport);
    }
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
