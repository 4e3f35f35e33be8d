/* test_html.c - the templating helper: escaping by default, URL encoding,
 * plain text from untrusted markup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "web/html.h"

static void test_addf_escapes_strings(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    html_addf(&b, "<p title=\"%s\">%s</p>", "a\"b'c", "<script>alert(1)</script>&");
    assert_string_equal(b.data, "<p title=\"a&quot;b&#39;c\">&lt;script&gt;alert(1)&lt;/script&gt;"
                                "&amp;</p>");
    buf_release(&b);
}

static void test_addf_numbers_and_precision(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    html_addf(&b, "%d|%5.1f|%ld|%zu|%lld|%03u|%x|%%|%.3s|%.*s|%c|%-4d|", -42, 3.14159, 123456789L,
              (size_t)7, (long long)-9, 5u, 255u, "<<<<", 2, "&&&", 'x', 1);
    assert_string_equal(b.data,
                        "-42|  3.1|123456789|7|-9|005|ff|%|&lt;&lt;&lt;|&amp;&amp;|x|1   |");
    buf_release(&b);
}

static void test_addf_null_string(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char *volatile none = NULL;
    html_addf(&b, "[%s]", none);
    assert_string_equal(b.data, "[]");
    buf_release(&b);
}

static void test_url_encoding(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    html_url_addf(&b, "/chart?code=%s&n=%d", "http://loinc.org|4548-4 x&y", 3);
    assert_string_equal(b.data, "/chart?code=http%3A%2F%2Floinc.org%7C4548-4%20x%26y&n=3");
    buf_release(&b);
}

static void test_text_from_markup(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char *in = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Discharged &amp; well"
                     "</p><script>steal()</script><style>p{}</style><!-- hidden -->"
                     "<p>Follow up in &lt;2 weeks&#33; &#x263A;</p><img src=x onerror=alert(1)>"
                     "<ul><li>one</li><li>two</li></ul></div>";
    html_text_from_markup(&b, in, strlen(in));
    assert_null(strstr(b.data, "steal"));
    assert_null(strstr(b.data, "hidden"));
    assert_null(strstr(b.data, "<img"));
    assert_null(strstr(b.data, "<script"));
    assert_non_null(strstr(b.data, "Discharged &amp; well<br>"));
    assert_non_null(strstr(b.data, "Follow up in &lt;2 weeks! \xe2\x98\xba"));
    assert_non_null(strstr(b.data, "one<br>"));
    buf_release(&b);
}

static void test_text_from_markup_unterminated(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char *in = "safe text <scr";
    html_text_from_markup(&b, in, strlen(in));
    assert_string_equal(b.data, "safe text ");
    buf_reset(&b);
    const char *in2 = "a<script>never closed";
    html_text_from_markup(&b, in2, strlen(in2));
    assert_string_equal(b.data, "a");
    buf_release(&b);
}

static void test_text_lines(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char in[] = "line <1>\r\nline 2\nend";
    html_text_lines(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "line &lt;1&gt;<br>line 2<br>end");
    buf_reset(&b);
    const char nul[] = "a\0b";
    buf_add_html_n(&b, nul, 3); /* the escaper html_addf uses */
    assert_string_equal(b.data, "ab");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addf_escapes_strings),
        cmocka_unit_test(test_addf_numbers_and_precision),
        cmocka_unit_test(test_addf_null_string),
        cmocka_unit_test(test_url_encoding),
        cmocka_unit_test(test_text_from_markup),
        cmocka_unit_test(test_text_from_markup_unterminated),
        cmocka_unit_test(test_text_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
