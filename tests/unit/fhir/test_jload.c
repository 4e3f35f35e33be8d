/* test_jload.c - jload_parse builds exactly json_loadb's tree (values,
 * types, key order) or declines (NULL) where jansson would fail or where it
 * is not sure; jload_loadb then gives jansson's own result and error.
 * Edge cases, and every shared Synthea file ($WEFT_DATA/synthea-r4, skipped
 * when absent). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "fhir/jload.h"

/* Insertion-ordered compact text: equal texts = equal trees, key order
 * and integer/real types included (reals always print '.' or 'e'). */
static char *text(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* 1: both parsed and agree; 0: both refused (or fast path declined);
 * fails the test when the fast path accepts what jansson refuses or
 * builds a different tree. */
static int same(const char *s, size_t n)
{
    json_error_t err;
    json_t *ref = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
    json_t *got = jload_parse(s, n);
    if (got && !ref) {
        print_message("fast path accepted what jansson refuses: %.200s\n", s);
        fail();
    }
    int r = 0;
    if (got && ref) {
        char *a = text(ref), *b = text(got);
        if (strcmp(a, b) != 0) {
            print_message("differ:\njansson %.300s\njload   %.300s\n", a, b);
            fail();
        }
        free(a);
        free(b);
        r = 1;
    }
    /* jload_loadb always answers as jansson does */
    json_error_t err2;
    json_t *via = jload_loadb(s, n, &err2);
    assert_int_equal(via != NULL, ref != NULL);
    if (!ref) {
        assert_string_equal(err.text, err2.text);
        assert_int_equal(err.line, err2.line);
        assert_int_equal(err.column, err2.column);
    }
    json_decref(via);
    json_decref(ref);
    json_decref(got);
    return r;
}

static void test_edge_cases(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "{}",
        "[]",
        " \t\r\n{ } \n",
        "[1,-2,0,-0,9223372036854775807,-9223372036854775808]",
        "[0.5,-1.25e3,1E5,2e-7,1e-400,123456789012345678901234567890.5,0.1,1.0]",
        "{\"a\":{\"b\":[true,false,null,{}]},\"c\":\"\"}",
        "{\"s\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 x\"}",
        "{\"k\\u00e9y\":1,\"k\\n\":{\"k\\t\":[\"\\\"\"]}}",
        "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "[\"\x7f\"]",
        "{\"z\":1,\"a\":2,\"m\":3}",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        assert_int_equal(same(valid[i], strlen(valid[i])), 1);
    static const char *const invalid[] = {
        "",
        "   ",
        "1",
        "\"s\"",
        "null",
        "{",
        "[",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[-]",
        "[+1]",
        "[1x]",
        "[tru]",
        "[truex]",
        "[nul]",
        "[9223372036854775808]",
        "[-9223372036854775809]",
        "[1e400]",
        "[-1e400]",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1}x",
        "{\"a\":1} {}",
        "[\"\\u0000\"]",
        "{\"\\u0000\":1}",
        "[\"\\ud800\"]",
        "[\"\\udc00\"]",
        "[\"\\ud800\\u0041\"]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"a\nb\"]",
        "[\"\xc3\"]",
        "[\"\xc0\x80\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\xe0\x80\x80\"]",
        "[\"unterminated]",
        "[1 2]",
        "{\"a\":[}]",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_int_equal(same(invalid[i], strlen(invalid[i])), 0);
    /* not NUL-terminated: the scanner stays inside len */
    char cut[] = {'[', '1', '2'};
    assert_int_equal(same(cut, sizeof cut), 0);
    assert_int_equal(same("[12]", 3), 0);
    /* nesting: shallow parsed here, very deep left to jansson */
    struct buf b = BUF_INIT;
    for (int d = 0; d < 3000; d++)
        buf_addc(&b, '[');
    for (int d = 0; d < 3000; d++)
        buf_addc(&b, ']');
    assert_int_equal(same(b.data, 200), 0);
    assert_int_equal(same(b.data + 2800, 400), 1);
    assert_int_equal(same(b.data, b.len), 0);
    buf_release(&b);
    /* many keys (the object grows its table) keep their order */
    struct buf m = BUF_INIT;
    buf_addc(&m, '{');
    for (int k = 300; k > 0; k--)
        buf_addf(&m, "%s\"k%d\":%d", k == 300 ? "" : ",", k, k);
    buf_addc(&m, '}');
    assert_int_equal(same(m.data, m.len), 1);
    buf_release(&m);
}

static void test_shared_synthea(void **state)
{
    (void)state;
    const char *d = getenv("WEFT_DATA");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/synthea-r4", d ? d : "/nonexistent");
    DIR *h = opendir(dir);
    if (!d || !h) {
        print_message("skipped: $WEFT_DATA/synthea-r4 is absent\n");
        skip();
    }
    struct dirent *de;
    long files = 0, fast = 0;
    while ((de = readdir(h))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        struct buf data = BUF_INIT;
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            buf_add(&data, chunk, n);
        fclose(fp);
        files++;
        fast += same(data.data, data.len);
        buf_release(&data);
    }
    closedir(h);
    assert_true(files > 0);
    assert_int_equal(fast, files); /* the fast path took every one */
    print_message("%ld files: identical trees\n", files);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_shared_synthea),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
