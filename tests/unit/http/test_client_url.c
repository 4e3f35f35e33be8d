/* test_client_url.c - http_client_parse_url(): http and https URLs split into
 * host, port (80 and 443 by default), Host header and path; other schemes and
 * malformed hosts or ports refused with a message; http_client_set_ca_file()
 * refuses a file without certificates and keeps the previous setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/client.h"

static void test_https_default_port(void **state)
{
    (void)state;
    struct http_client_url u;
    assert_int_equal(http_client_parse_url(
                         "https://auth.login.nhs.uk/.well-known/openid-configuration", &u, NULL),
                     0);
    assert_true(u.tls);
    assert_string_equal(u.host, "auth.login.nhs.uk");
    assert_string_equal(u.port, "443");
    assert_string_equal(u.hostport, "auth.login.nhs.uk");
    assert_string_equal(u.path, "/.well-known/openid-configuration");

    assert_int_equal(http_client_parse_url("https://localhost:8443", &u, NULL), 0);
    assert_true(u.tls);
    assert_string_equal(u.host, "localhost");
    assert_string_equal(u.port, "8443");
    assert_string_equal(u.hostport, "localhost:8443");
    assert_string_equal(u.path, "/");

    assert_int_equal(http_client_parse_url("https://[::1]/token", &u, NULL), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "443");
    assert_string_equal(u.hostport, "[::1]");
    assert_string_equal(u.path, "/token");

    assert_int_equal(http_client_parse_url("https://[::1]:9443/jwks", &u, NULL), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "9443");
}

static void test_http_still(void **state)
{
    (void)state;
    struct http_client_url u;
    assert_int_equal(http_client_parse_url("http://127.0.0.1/x?a=b", &u, NULL), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/x?a=b");
    assert_int_equal(http_client_parse_url("http://127.0.0.1:5000/", &u, NULL), 0);
    assert_string_equal(u.port, "5000");
}

static void test_refused(void **state)
{
    (void)state;
    struct http_client_url u;
    const char *bad[] = {"ftp://example.org/",  "HTTPS//x",          "https://",
                         "https:///path",       "https://host:/",    "https://host:0/",
                         "https://host:70000/", "https://host:44x/", "https://u:p@host/",
                         "https://[::1/",       "https://[::1]x/",   "https://:443/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err = NULL;
        assert_int_equal(http_client_parse_url(bad[i], &u, &err), WEFT_EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err, bad[i]));
        free(err);
    }
    char *err = NULL;
    assert_int_equal(http_client_parse_url("ftp://example.org/", &u, &err), WEFT_EINVAL);
    assert_non_null(strstr(err, "only http:// and https://"));
    free(err);
}

static void test_ca_file(void **state)
{
    (void)state;
    const char *tmp = getenv("WEFT_TMP");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/weft-ca-XXXXXX", tmp ? tmp : "/tmp");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    char *err = NULL;
    assert_int_equal(http_client_set_ca_file(buf, &err), WEFT_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "cannot read CA certificates"));
    free(err);
    err = NULL;
    assert_int_equal(http_client_set_ca_file("/nonexistent/ca.pem", &err), WEFT_EINVAL);
    free(err);
    assert_int_equal(http_client_set_ca_file(NULL, &err), 0);
    assert_null(err);
    unlink(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_default_port),
        cmocka_unit_test(test_http_still),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_ca_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
