/* test_buf.c - struct buf: growth, formatting, escaping, detach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"

static void test_grow_and_format(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_string_equal(b.data, "");
    for (int i = 0; i < 1000; i++)
        buf_addf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_string_equal(b.data + b.len - 4, "999,");
    buf_truncate(&b, 2);
    assert_string_equal(b.data, "0,");
    buf_release(&b);
    assert_int_equal(b.len, 0);
}

static void test_json_escape(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char in[] = "a\"b\\c\nd\x01";
    buf_add_json_str(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd\\u0001");
    buf_release(&b);
}

static void test_html_escape(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_add_html(&b, "<script>alert('x')</script>&\"");
    assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
    buf_release(&b);
}

static void test_detach(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    size_t len;
    char *empty = buf_detach(&b, &len);
    assert_string_equal(empty, "");
    assert_int_equal(len, 0);
    free(empty);
    buf_adds(&b, "hello");
    char *s = buf_detach(&b, &len);
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_int_equal(b.len, 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_and_format),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
