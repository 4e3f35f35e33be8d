/* test_router.c - the HTTP server's router and request plumbing without a
 * store: route priority (literal > {param} > *), parameters, decoding, 405
 * with Allow, HEAD, error renderers by prefix, handler failures, request
 * ids, bodies and the body limit, query parameters. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"

static struct http_server *srv;
static int port;

/* Echo which route answered, with its parameters and the query. */
static int echo(struct http_req *req, void *ctx)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s %s", (const char *)ctx, req->method);
    for (int i = 0; i < req->nparams; i++)
        buf_addf(&b, " %s=[%s]", req->params[i].name, req->params[i].value);
    for (int i = 0; i < req->nargs; i++)
        buf_addf(&b, " ?%s=[%s]", req->args[i].name, req->args[i].value);
    if (req->body.len)
        buf_addf(&b, " body=%zu", req->body.len);
    http_reply_buf(req, 200, "text/plain", &b);
    return 0;
}

static int failing(struct http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    return WEFT_EDB; /* no reply: the server answers 500 */
}

static void api_renderer(struct http_req *req, int status, const char *message)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "API-ERROR %d %s", status, message);
    http_reply_buf(req, status, "text/plain", &b);
}

struct resp {
    int status;
    char head[2048];
    char body[4096];
};

static struct resp raw(const char *request, size_t len)
{
    struct resp r;
    memset(&r, 0, sizeof r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    struct buf in = BUF_INIT;
    char tmp[8192];
    ssize_t n;
    while ((n = recv(fd, tmp, sizeof tmp, 0)) > 0)
        buf_add(&in, tmp, (size_t)n);
    close(fd);
    char *sep = strstr(in.data, "\r\n\r\n");
    if (in.len > 12)
        r.status = atoi(in.data + 9);
    if (sep) {
        snprintf(r.head, sizeof r.head, "%.*s", (int)(sep - in.data), in.data);
        snprintf(r.body, sizeof r.body, "%s", sep + 4);
    }
    buf_release(&in);
    return r;
}

static struct resp req(const char *method, const char *path)
{
    char q[4096];
    int n = snprintf(q, sizeof q, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
                     path);
    return raw(q, (size_t)n);
}

static void expect(const char *method, const char *path, int status, const char *body)
{
    struct resp r = req(method, path);
    if (r.status != status || (body && strcmp(r.body, body) != 0))
        fail_msg("%s %s: %d '%s', wanted %d '%s'", method, path, r.status, r.body, status,
                 body ? body : "(any)");
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);
    struct http_server_config cfg = {
        .host = "127.0.0.1", .port = 0, .threads = 2, .version = "t", .max_body = 1000};
    assert_int_equal(http_server_init(&srv, &cfg), 0);
    /* registered in an order that a first-match router would get wrong */
    assert_int_equal(http_route_add(srv, "GET", "/a/*", echo, "star", 0), 0);
    assert_int_equal(http_route_add(srv, "GET", "/a/{x}", echo, "param", 0), 0);
    assert_int_equal(http_route_add(srv, "GET", "/a/fixed", echo, "literal", 0), 0);
    assert_int_equal(http_route_add(srv, "GET", "/a/{x}/b/{y}", echo, "two", 0), 0);
    assert_int_equal(http_route_add(srv, "POST", "/a/{x}", echo, "post", 0), 0);
    assert_int_equal(http_route_add(srv, "GET", "/api/{x}", echo, "api", 0), 0);
    assert_int_equal(http_route_add(srv, "GET", "/fail", failing, NULL, 0), 0);
    assert_int_equal(http_route_add(srv, "GET", "/locked", echo, "locked", HTTP_ROUTE_AUTH), 0);
    assert_int_equal(http_route_add(srv, "*", "/any", echo, "any", 0), 0);
    /* malformed patterns are refused */
    assert_int_equal(http_route_add(srv, "GET", "no-slash", echo, "x", 0), WEFT_EINVAL);
    assert_int_equal(http_route_add(srv, "GET", "/a/*/b", echo, "x", 0), WEFT_EINVAL);
    http_server_error_renderer(srv, "/api", api_renderer);
    char *err = NULL;
    assert_int_equal(http_server_start(srv, &err), 0);
    port = http_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(srv, 1000);
    http_server_free(srv);
    return 0;
}

static void test_priority(void **state)
{
    (void)state;
    expect("GET", "/a/fixed", 200, "literal GET");
    expect("GET", "/a/other", 200, "param GET x=[other]");
    expect("GET", "/a/other/deeper", 200, "star GET *=[other/deeper]");
    expect("GET", "/a/1/b/2", 200, "two GET x=[1] y=[2]");
    expect("GET", "/a/1/b/2/c", 200, "star GET *=[1/b/2/c]");
    expect("GET", "/a", 200, "star GET *=[]");
    expect("GET", "/a/", 200, "star GET *=[]");
    expect("GET", "//a//fixed/", 200, "literal GET");
}

static void test_decoding(void **state)
{
    (void)state;
    expect("GET", "/a/h%C3%A9llo%20w", 200, "param GET x=[h\xc3\xa9llo w]");
    expect("GET", "/a/x?q=1+2&q=%2B&e=&flag", 200,
           "param GET x=[x] ?q=[1 2] ?q=[+] ?e=[] ?flag=[]");
    /* an encoded slash or NUL in a segment, a bad escape: 400 */
    expect("GET", "/a/x%2Fy", 400, NULL);
    expect("GET", "/a/x%00", 400, NULL);
    expect("GET", "/a/x%G1", 400, NULL);
    expect("GET", "/a/x?q=%", 400, NULL);
}

static void test_methods(void **state)
{
    (void)state;
    struct resp r = req("DELETE", "/a/x");
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "Allow: "));
    assert_non_null(strstr(r.head, "GET"));
    assert_non_null(strstr(r.head, "POST"));
    r = req("HEAD", "/a/fixed");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    expect("PATCH", "/any", 200, "any PATCH");
    expect("GET", "/nothing/here", 404, NULL);
}

static void test_errors(void **state)
{
    (void)state;
    /* default renderer: small JSON; /api: its own renderer */
    struct resp r = req("GET", "/nothing");
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "{\"error\":"));
    expect("GET", "/api/x/y", 404, "API-ERROR 404 no such page or endpoint");
    r = req("GET", "/fail");
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "internal error"));
    r = req("GET", "/locked");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
}

static void test_request_ids(void **state)
{
    (void)state;
    struct resp a = req("GET", "/a/fixed"), b = req("GET", "/a/fixed");
    const char *ia = strstr(a.head, "X-Request-Id: "), *ib = strstr(b.head, "X-Request-Id: ");
    assert_non_null(ia);
    assert_non_null(ib);
    assert_memory_not_equal(ia, ib, 30);
}

static void test_bodies(void **state)
{
    (void)state;
    const char ok[] = "POST /a/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                      "10\r\n\r\n0123456789";
    struct resp r = raw(ok, sizeof ok - 1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "post POST x=[x] body=10");
    /* announced over the 1000-byte limit of this server: 413 at once */
    const char big[] = "POST /a/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                       "5000\r\n\r\n";
    r = raw(big, sizeof big - 1);
    assert_int_equal(r.status, 413);
    /* chunked past the limit: discarded, then 413 */
    struct buf c = BUF_INIT;
    buf_adds(&c, "POST /a/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        buf_addf(&c, "%x\r\n", 600);
        for (int k = 0; k < 600; k++)
            buf_addc(&c, 'z');
        buf_adds(&c, "\r\n");
    }
    buf_adds(&c, "0\r\n\r\n");
    r = raw(c.data, c.len);
    buf_release(&c);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "exceeds the limit of 1000 bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority),    cmocka_unit_test(test_decoding),
        cmocka_unit_test(test_methods),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_request_ids), cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
