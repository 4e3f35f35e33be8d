/* test_reason.c - http_req_reason(): the reason kept for a refused request's
 * log line keeps the words and masks what the client sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/server.h"

static const char *reason(const char *text)
{
    static struct http_req req;
    memset(&req, 0, sizeof req);
    http_req_reason(&req, text);
    return req.reason;
}

static void test_values_masked(void **state)
{
    (void)state;
    assert_string_equal(reason("parameter 'birthdate': '1970-13-01' is not a date"),
                        "parameter 'birthdate': '...' is not a date");
    assert_string_equal(reason("'Smith' is not a FHIR R4 resource type"),
                        "'...' is not a FHIR R4 resource type");
    assert_string_equal(reason("unknown search parameter 'family' for Patient"),
                        "unknown search parameter 'family' for Patient");
    /* an apostrophe is not a quote */
    assert_string_equal(reason("the token's signature does not verify"),
                        "the token's signature does not verify");
    /* digits: NHS numbers, compact and ISO dates */
    assert_string_equal(reason("no match for 9990001234 born 19700101 or 1970-01-01"),
                        "no match for ########## born ######## or ####-##-##");
    assert_string_equal(reason("status 404 of 12 items"), "status 404 of 12 items");
    /* an unterminated quote is kept as text (nothing to mask reliably) */
    assert_string_equal(reason("bad 'x"), "bad 'x");
    /* double quotes and control characters cannot break the log line */
    assert_string_equal(reason("a \"b\"\nc"), "a 'b'?c");
}

static void test_bounded(void **state)
{
    (void)state;
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *r = reason(big);
    assert_true(strlen(r) < sizeof((struct http_req *)0)->reason);
    assert_string_equal(reason(NULL), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_masked),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
