/*
 * test_send.c - weft replay-feeds' clients against small in-process servers
 * that misbehave the way real ones do: an MLLP listener that drops the
 * connection before acknowledging (the message must be resent and counted
 * once) and answers AA/AE; an HTTP server answering chunked, with
 * Connection: close, and with 4xx, and checking each feed's bearer token.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "feeds/mllp_frame.h"
#include "synth/send.h"

static char dir[256];

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void write_file(const char *rel, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, len, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("WEFT_TMP");
    snprintf(dir, sizeof dir, "%s/sendXXXXXX", t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    char p[512];
    snprintf(p, sizeof p, "%s/feeds", dir);
    mkdir(p, 0755);
    struct buf hl7 = BUF_INIT;
    for (int i = 1; i <= 3; i++) {
        char msg[128];
        int n = snprintf(
            msg, sizeof msg,
            "MSH|^~\\&|PAS|RVV|WEFT|WEFT|202601011200||ADT^A01|C%d|P|2.4\rPID|1||X%d\r", i, i);
        buf_addc(&hl7, 0x0b);
        buf_add(&hl7, msg, (size_t)n);
        buf_adds(&hl7, "\x1c\r\n");
    }
    write_file("feeds/a.hl7", hl7.data, hl7.len);
    buf_release(&hl7);
    const char *nd =
        "{\"resourceType\":\"Bundle\",\"n\":1}\n{\"resourceType\":\"Bundle\",\"n\":2}\n"
        "{\"resourceType\":\"Bundle\",\"n\":3}\n";
    write_file("feeds/a.ndjson", nd, strlen(nd));
    const char *man =
        "{\"organisations\":[{\"ods\":\"RVV\",\"name\":\"T\",\"type\":\"acute\",\"feeds\":["
        "{\"kind\":\"hl7v2\",\"name\":\"rvv-hl7v2\",\"facility\":\"RVV\",\"records\":3,\"files\":["
        "\"feeds/a.hl7\"]},"
        "{\"kind\":\"fhir\",\"name\":\"rvv-fhir\",\"records\":3,\"files\":[\"feeds/"
        "a.ndjson\"]}]}]}";
    write_file("manifest.json", man, strlen(man));
    const char *cred =
        "{\"feeds\":[{\"name\":\"rvv-fhir\",\"kind\":\"fhir\",\"token\":\"tok-123\"}]}";
    write_file("credentials.json", cred, strlen(cred));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {"feeds/a.hl7", "feeds/a.ndjson", "manifest.json", "credentials.json"};
    char p[512];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/feeds", dir);
    rmdir(p);
    rmdir(dir);
    return 0;
}

/* ---- MLLP: drop the first connection, then AA, AA, AE ---------------------- */

struct srv {
    int lfd;
    int frames_seen;
    int auth_failures;
};

static void *mllp_server(void *arg)
{
    struct srv *s = arg;
    for (int conn = 0; conn < 2; conn++) {
        int fd = accept(s->lfd, NULL, NULL);
        struct mllp_decoder d;
        mllp_decoder_init(&d, 0);
        char tmp[4096];
        ssize_t r;
        bool done = false;
        while (!done && (r = recv(fd, tmp, sizeof tmp, 0)) > 0) {
            mllp_decoder_feed(&d, tmp, (size_t)r);
            const char *f;
            size_t len;
            while (mllp_decoder_next(&d, &f, &len) == 1) {
                s->frames_seen++;
                if (conn == 0) { /* crash before acknowledging */
                    done = true;
                    break;
                }
                const char *code = strstr(f, "|C3|") ? "AE" : "AA";
                struct buf ack = BUF_INIT, out = BUF_INIT;
                buf_addf(&ack, "MSH|^~\\&|WEFT|WEFT|PAS|RVV|202601011200||ACK|A1|P|2.4\rMSA|%s|C\r",
                         code);
                mllp_encode(ack.data, ack.len, &out);
                send(fd, out.data, out.len, MSG_NOSIGNAL);
                buf_release(&ack);
                buf_release(&out);
            }
        }
        mllp_decoder_release(&d);
        close(fd);
    }
    return NULL;
}

static void test_mllp_resends_after_a_dropped_connection(void **state)
{
    (void)state;
    int port;
    struct srv s = {.lfd = listen_any(&port)};
    pthread_t th;
    pthread_create(&th, NULL, mllp_server, &s);
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    struct synth_send_opts o = {.dir = dir, .mllp = hp, .only = "hl7v2", .connections = 2};
    char *rep = NULL;
    size_t replen = 0;
    FILE *out = open_memstream(&rep, &replen);
    struct synth_send_totals t;
    char err[200];
    int rc = synth_send(&o, out, &t, err, sizeof err);
    fclose(out);
    pthread_join(th, NULL);
    close(s.lfd);
    print_message("%s", rep);
    assert_int_equal(rc, 1); /* one AE */
    assert_int_equal(t.sent, 3);
    assert_int_equal(t.accepted, 2);
    assert_int_equal(t.rejected, 1);
    assert_int_equal(t.errors, 0);
    assert_int_equal(s.frames_seen, 4); /* the first message went twice */
    assert_non_null(strstr(rep, "rvv-hl7v2"));
    free(rep);
}

/* ---- HTTP: chunked 200, 201 + Connection: close, then 400 ------------------ */

static bool read_request(int fd, struct buf *in, char *auth, size_t authlen)
{
    char tmp[4096];
    char *end;
    while (!(end = strstr(in->data, "\r\n\r\n"))) {
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0)
            return false;
        buf_add(in, tmp, (size_t)r);
    }
    size_t hlen = (size_t)(end - in->data) + 4;
    char *cl = strcasestr(in->data, "Content-Length:");
    long len = cl ? strtol(cl + 15, NULL, 10) : 0;
    char *a = strcasestr(in->data, "Authorization: Bearer ");
    snprintf(auth, authlen, "%.*s", a ? (int)strcspn(a + 22, "\r") : 0, a ? a + 22 : "");
    while (in->len < hlen + (size_t)len) {
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0)
            return false;
        buf_add(in, tmp, (size_t)r);
    }
    size_t used = hlen + (size_t)len;
    memmove(in->data, in->data + used, in->len - used);
    buf_truncate(in, in->len - used);
    return true;
}

static void *http_server(void *arg)
{
    struct srv *s = arg;
    int n = 0;
    for (int conn = 0; conn < 2 && n < 3; conn++) {
        int fd = accept(s->lfd, NULL, NULL);
        struct buf in = BUF_INIT;
        char auth[64];
        while (n < 3 && read_request(fd, &in, auth, sizeof auth)) {
            n++;
            if (strcmp(auth, "tok-123"))
                s->auth_failures++;
            const char *resp =
                n == 1
                    ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                : n == 2
                    ? "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    : "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad";
            send(fd, resp, strlen(resp), MSG_NOSIGNAL);
            if (n == 2)
                break;
        }
        buf_release(&in);
        close(fd);
    }
    return NULL;
}

static void test_http_keepalive_chunked_close_and_rejection(void **state)
{
    (void)state;
    int port;
    struct srv s = {.lfd = listen_any(&port)};
    pthread_t th;
    pthread_create(&th, NULL, http_server, &s);
    char url[64], cred[400];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(cred, sizeof cred, "%s/credentials.json", dir);
    struct synth_send_opts o = {
        .dir = dir, .http = url, .credentials = cred, .only = "fhir", .connections = 1};
    char *rep = NULL;
    size_t replen = 0;
    FILE *out = open_memstream(&rep, &replen);
    struct synth_send_totals t;
    char err[200];
    int rc = synth_send(&o, out, &t, err, sizeof err);
    fclose(out);
    pthread_join(th, NULL);
    close(s.lfd);
    print_message("%s", rep);
    assert_int_equal(rc, 1);
    assert_int_equal(t.sent, 3);
    assert_int_equal(t.accepted, 2);
    assert_int_equal(t.rejected, 1);
    assert_int_equal(t.errors, 0);
    assert_int_equal(s.auth_failures, 0);
    assert_non_null(strstr(rep, "HTTP 400"));
    free(rep);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct synth_send_totals t;
    char err[200];
    struct synth_send_opts o = {.dir = dir, .mllp = "nocolon"};
    assert_true(synth_send(&o, stdout, &t, err, sizeof err) < 0);
    assert_non_null(strstr(err, "HOST:PORT"));
    struct synth_send_opts o2 = {.dir = dir, .http = "https://x:1"};
    assert_true(synth_send(&o2, stdout, &t, err, sizeof err) < 0);
    struct synth_send_opts o3 = {.dir = "/nonexistent", .mllp = "127.0.0.1:1"};
    assert_true(synth_send(&o3, stdout, &t, err, sizeof err) < 0);
    assert_non_null(strstr(err, "manifest.json"));
    struct synth_send_opts o4 = {.dir = dir};
    assert_true(synth_send(&o4, stdout, &t, err, sizeof err) < 0);
    assert_non_null(strstr(err, "nothing to send"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mllp_resends_after_a_dropped_connection),
        cmocka_unit_test(test_http_keepalive_chunked_close_and_rejection),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
