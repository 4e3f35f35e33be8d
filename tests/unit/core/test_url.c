/* test_url.c - percent-encoding and query strings (core/url.h): what the HTTP
 * server, the FHIR search parser and paging links share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"

static void test_decode(void **state)
{
    (void)state;
    char *s = url_decode("a%2Fb+c%41", 10, true);
    assert_string_equal(s, "a/b cA");
    free(s);
    s = url_decode("a+b", 3, false); /* in a path, '+' is itself */
    assert_string_equal(s, "a+b");
    free(s);
    assert_null(url_decode("%4", 2, true));    /* cut short */
    assert_null(url_decode("%zz", 3, true));   /* not hex */
    assert_null(url_decode("a%00b", 5, true)); /* encoded NUL */
    assert_null(url_decode("a\0b", 3, true));  /* raw NUL */
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    url_encode(&b, "system|code a&b=c/~é");
    assert_string_equal(b.data, "system%7Ccode%20a%26b%3Dc%2F~%C3%A9");
    char *back = url_decode(b.data, b.len, true);
    assert_string_equal(back, "system|code a&b=c/~é");
    free(back);
    buf_release(&b);
}

static void test_query_parse(void **state)
{
    (void)state;
    struct url_kv *args = NULL;
    int n = 0;
    const char *q = "code=a%7Cb&code=c&&flag&x=1+2";
    assert_int_equal(url_query_parse(q, strlen(q), &args, &n, 10), WEFT_OK);
    assert_int_equal(n, 4); /* order and duplicates kept, empty pairs skipped */
    assert_string_equal(args[0].name, "code");
    assert_string_equal(args[0].value, "a|b");
    assert_string_equal(args[1].value, "c");
    assert_string_equal(args[2].name, "flag");
    assert_string_equal(args[2].value, "");
    assert_string_equal(args[3].value, "1 2");
    url_kv_free(args, n);

    args = NULL, n = 0;
    assert_int_equal(url_query_parse("a=1&b=2&c=3", 11, &args, &n, 2), WEFT_ETOOBIG);
    url_kv_free(args, n);
    args = NULL, n = 0;
    assert_int_equal(url_query_parse("a=%G1", 5, &args, &n, 8), WEFT_EINVAL);
    url_kv_free(args, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_query_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
