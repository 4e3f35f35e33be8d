/*
 * fuzz_http.c - libFuzzer target for the HTTP server's handling of what a
 * client controls before any handler runs: the query string, the path the
 * router matches, the Authorization header and the Cookie header.
 *
 * Input: up to four parts separated by '\n': query, path, Authorization
 * value, Cookie value (missing parts are empty).  Checks:
 *   - query: url_query_parse either refuses it or gives pairs that,
 *     re-encoded with url_encode and parsed again, come back the same
 *     (names and values, in order); never more than the pair limit;
 *   - url_decode never returns more bytes than it was given, and no NUL;
 *   - path: the router answers 0 (with a registered pattern), 400, 404 or
 *     405, for GET and POST, on a server with routes like weft serve's;
 *   - Authorization: a Bearer token is 1 to HTTP_AUTH_TOKEN_MAX visible
 *     characters inside the header;
 *   - Cookie: a cookie value found fits its buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/session.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"
#include "http/auth.h"
#include "http/server.h"

#define MAX_PAIRS 64

static int noop(struct http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    return 0;
}

static struct http_server *server(void)
{
    static struct http_server *srv;
    if (srv)
        return srv;
    struct http_server_config cfg = {.host = "127.0.0.1", .threads = 1};
    if (http_server_init(&srv, &cfg) != 0)
        abort();
    static const char *const routes[][2] = {
        {"GET", "/fhir/metadata"},
        {"POST", "/fhir"},
        {"GET", "/fhir/{type}"},
        {"POST", "/fhir/{type}/_search"},
        {"GET", "/fhir/{type}/{id}"},
        {"GET", "/fhir/{type}/{id}/_history/{vid}"},
        {"GET", "/fhir/Patient/{id}/$everything"},
        {"GET", "/patient/{id}/{page}"},
        {"POST", "/patient/{id}/{page}"},
        {"GET", "/assets/*"},
        {"*", "/launch"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (http_route_add(srv, routes[i][0], routes[i][1], noop, NULL, 0) != 0)
            abort();
    return srv;
}

static void check_query(const char *q, size_t n)
{
    struct url_kv *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    int rc = url_query_parse(q, n, &a, &na, MAX_PAIRS);
    if (na > MAX_PAIRS)
        abort();
    if (rc == 0) {
        struct buf enc = BUF_INIT;
        for (int i = 0; i < na; i++) {
            if (i)
                buf_addc(&enc, '&');
            url_encode(&enc, a[i].name);
            buf_addc(&enc, '=');
            url_encode(&enc, a[i].value);
        }
        /* a pair with an empty name and value ("=") encodes to "=" and comes
         * back; an empty part between '&' is skipped by both */
        if (url_query_parse(enc.data ? enc.data : "", enc.len, &b, &nb, MAX_PAIRS) != 0 || nb != na)
            abort();
        for (int i = 0; i < na; i++)
            if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].value, b[i].value) != 0)
                abort();
        buf_release(&enc);
    }
    url_kv_free(a, na);
    url_kv_free(b, nb);
    for (int plus = 0; plus < 2; plus++) {
        char *d = url_decode(q, n, plus);
        if (d && strlen(d) > n)
            abort();
        free(d);
    }
}

static void check_path(const char *path)
{
    static const char *const methods[] = {"GET", "POST", "DELETE"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        const char *pattern = NULL;
        int st = http_route_lookup(server(), methods[i], path, &pattern);
        if (st == 0 ? !pattern || pattern[0] != '/' : (st != 400 && st != 404 && st != 405))
            abort();
    }
}

static void check_auth(const char *h)
{
    const char *tok = NULL;
    size_t n = 0;
    int rc = http_auth_bearer(h, &tok, &n);
    if (rc == 1) {
        if (n == 0 || n > HTTP_AUTH_TOKEN_MAX || tok < h || tok + n > h + strlen(h))
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f)
                abort();
    } else if (rc != 0 && rc != WEFT_EAUTH) {
        abort();
    }
}

static void check_cookie(const char *h)
{
    char out[48];
    memset(out, 'x', sizeof out);
    if (session_cookie_get(h, "weft_session", out, sizeof out) && !memchr(out, 0, sizeof out))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = 0;
    char *part[4] = {in, NULL, NULL, NULL};
    size_t qlen = size;
    for (int i = 1; i < 4; i++) {
        char *nl = part[i - 1] ? strchr(part[i - 1], '\n') : NULL;
        if (!nl)
            break;
        *nl = 0;
        part[i] = nl + 1;
        if (i == 1)
            qlen = (size_t)(nl - in);
    }
    check_query(in, qlen);
    /* the server's paths start with '/' and have no NUL (MHD's URI) */
    const char *p1 = part[1] ? part[1] : "";
    size_t plen = strlen(p1);
    char *path = malloc(plen + 2);
    path[0] = '/';
    memcpy(path + 1, p1, plen + 1);
    check_path(path);
    free(path);
    check_auth(part[2] ? part[2] : "");
    check_cookie(part[3] ? part[3] : "");
    free(in);
    return 0;
}
