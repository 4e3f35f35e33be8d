/* test_meta.c - store_json_with_meta(), the splice that adds
 * meta.versionId/lastUpdated to stored JSON on every read: the edge cases
 * (no meta, meta first/last/empty, nested "meta" keys, "meta" as a string
 * value, escapes and quotes in strings, whitespace) and a differential check
 * against the previous byte-by-byte scanner on generated documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "store/store_int.h"

static char *splice(const char *json, int version, const char *lu)
{
    size_t n = 0;
    char *o = store_json_with_meta(json, strlen(json), version, lu, &n);
    assert_int_equal(n, strlen(o));
    return o;
}

static void expect(const char *json, const char *want)
{
    char *got = splice(json, 3, "2026-01-02T03:04:05.678Z");
    assert_string_equal(got, want);
    free(got);
}

#define V "\"versionId\":\"3\",\"lastUpdated\":\"2026-01-02T03:04:05.678Z\""

static void test_no_meta(void **state)
{
    (void)state;
    expect("{\"id\":\"a\",\"resourceType\":\"Patient\"}",
           "{\"meta\":{" V "},\"id\":\"a\",\"resourceType\":\"Patient\"}");
    expect("{}", "{\"meta\":{" V "}}");
    /* not an object at all: inserted at the start, as before */
    expect("", "\"meta\":{" V "},");
}

static void test_meta_positions(void **state)
{
    (void)state;
    expect("{\"meta\":{\"source\":\"s\"},\"z\":1}", "{\"meta\":{" V ",\"source\":\"s\"},\"z\":1}");
    expect("{\"a\":1,\"meta\":{\"source\":\"s\"}}", "{\"a\":1,\"meta\":{" V ",\"source\":\"s\"}}");
    expect("{\"a\":1,\"meta\":{}}", "{\"a\":1,\"meta\":{" V "}}");
}

static void test_nested_meta(void **state)
{
    (void)state;
    /* a contained resource's meta comes first in sorted order: not it */
    expect("{\"contained\":[{\"meta\":{\"x\":1},\"resourceType\":\"Patient\"}],"
           "\"meta\":{\"tag\":[]},\"resourceType\":\"Observation\"}",
           "{\"contained\":[{\"meta\":{\"x\":1},\"resourceType\":\"Patient\"}],"
           "\"meta\":{" V ",\"tag\":[]},\"resourceType\":\"Observation\"}");
    /* only nested metas: a top-level one is created */
    expect("{\"entry\":[{\"resource\":{\"meta\":{}}}],\"x\":{\"meta\":{\"a\":\"b\"}}}",
           "{\"meta\":{" V "},\"entry\":[{\"resource\":{\"meta\":{}}}],"
           "\"x\":{\"meta\":{\"a\":\"b\"}}}");
}

static void test_meta_in_strings(void **state)
{
    (void)state;
    /* "meta" as a value, and the key text inside strings */
    expect("{\"a\":\"meta\",\"b\":[\"meta\",{\"c\":\"meta\"}],\"meta\":{\"s\":1}}",
           "{\"a\":\"meta\",\"b\":[\"meta\",{\"c\":\"meta\"}],\"meta\":{" V ",\"s\":1}}");
    expect("{\"a\":\"\\\"meta\\\":{\",\"meta\":{}}", "{\"a\":\"\\\"meta\\\":{\",\"meta\":{" V "}}");
    /* escaped quotes and backslash runs before a closing quote */
    expect("{\"a\":\"x\\\\\",\"b\":\"\\\\\\\"}{[\",\"meta\":{}}",
           "{\"a\":\"x\\\\\",\"b\":\"\\\\\\\"}{[\",\"meta\":{" V "}}");
    /* braces inside strings do not change the depth */
    expect("{\"a\":\"}}}]]\",\"meta\":{}}", "{\"a\":\"}}}]]\",\"meta\":{" V "}}");
    expect("{\"a\":\"{{{[\",\"meta\":{}}", "{\"a\":\"{{{[\",\"meta\":{" V "}}");
    /* a key that ends in meta, and "meta" whose value is not an object */
    expect("{\"xmeta\":{},\"zz\":1}", "{\"meta\":{" V "},\"xmeta\":{},\"zz\":1}");
    expect("{\"meta\":\"s\"}", "{\"meta\":{" V "},\"meta\":\"s\"}");
}

static void test_whitespace_and_values(void **state)
{
    (void)state;
    expect("{ \"meta\" : { \"a\": 1 } }", "{ \"meta\" : {" V ", \"a\": 1 } }");
    expect("{\n\t\"meta\":\t{}\n}", "{\n\t\"meta\":\t{" V "}\n}");
    char *o = splice("{\"meta\":{}}", -12, NULL);
    assert_string_equal(o, "{\"meta\":{\"versionId\":\"-12\",\"lastUpdated\":\"\"}}");
    free(o);
    o = splice("{\"meta\":{}}", 2147483647, "t");
    assert_string_equal(o, "{\"meta\":{\"versionId\":\"2147483647\",\"lastUpdated\":\"t\"}}");
    free(o);
    /* truncated text: no crash, no read past the end */
    const char *cut[] = {"{\"a\":\"x", "{\"a\":\"x\\", "{\"meta\":", "{\"meta\"", "{\"meta\":{"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        size_t n = strlen(cut[i]);
        char *c = xmalloc(n ? n : 1);
        memcpy(c, cut[i], n); /* not NUL-terminated */
        size_t ol = 0;
        char *r = store_json_with_meta(c, n, 1, "t", &ol);
        assert_true(ol > n);
        free(r);
        free(c);
    }
}

/* The previous scanner, byte by byte (whitespace limited to ' ' and '\n',
 * which is all the generator below emits): the reference. */
static size_t old_find_top_meta(const char *j, size_t len)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = j[i];
        if (c == '"') {
            size_t start = i + 1;
            for (i++; i < len && j[i] != '"'; i++)
                if (j[i] == '\\')
                    i++;
            if (depth == 1 && i - start == 4 && memcmp(j + start, "meta", 4) == 0) {
                size_t k = i + 1;
                while (k < len && (j[k] == ' ' || j[k] == ':' || j[k] == '\n'))
                    k++;
                if (k < len && j[k] == '{')
                    return k + 1;
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

static char *old_splice(const char *json, size_t len, int version, const char *lu)
{
    struct buf b = BUF_INIT;
    size_t at = old_find_top_meta(json, len);
    if (at) {
        bool empty = json[at] == '}';
        buf_add(&b, json, at);
        buf_addf(&b, "\"versionId\":\"%d\",\"lastUpdated\":\"%s\"%s", version, lu,
                 empty ? "" : ",");
    } else {
        const char *p = memchr(json, '{', len);
        at = p ? (size_t)(p - json) + 1 : 0;
        bool empty = at < len && json[at] == '}';
        buf_add(&b, json, at);
        buf_addf(&b, "\"meta\":{\"versionId\":\"%d\",\"lastUpdated\":\"%s\"}%s", version, lu,
                 empty ? "" : ",");
    }
    buf_add(&b, json + at, len - at);
    return buf_detach(&b, NULL);
}

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void gen_str(struct buf *b)
{
    static const char *const parts[] = {"meta", "a", "\\\"", "\\\\", "{",   "}",      "[",
                                        "]",    ":", ",",    "\\n",  "x y", "\\u00e9"};
    buf_addc(b, '"');
    for (unsigned n = rnd(4); n; n--)
        buf_adds(b, parts[rnd(sizeof parts / sizeof parts[0])]);
    buf_addc(b, '"');
}

static void gen_value(struct buf *b, int depth);

static void gen_object(struct buf *b, int depth)
{
    static const char *const keys[] = {"meta", "id", "code", "contained", "resource", "x"};
    buf_addc(b, '{');
    for (unsigned n = rnd(5), i = 0; i < n; i++) {
        if (i)
            buf_addc(b, ',');
        if (rnd(4) == 0)
            gen_str(b);
        else
            buf_addf(b, "\"%s\"", keys[rnd(sizeof keys / sizeof keys[0])]);
        buf_adds(b, rnd(6) == 0 ? " : " : ":");
        gen_value(b, depth + 1);
    }
    buf_addc(b, '}');
}

static void gen_value(struct buf *b, int depth)
{
    unsigned k = depth > 4 ? rnd(3) : rnd(6);
    switch (k) {
    case 0:
        gen_str(b);
        break;
    case 1:
        buf_addf(b, "%u", rnd(1000));
        break;
    case 2:
        buf_adds(b, rnd(2) ? "true" : "null");
        break;
    case 3:
    case 4:
        gen_object(b, depth);
        break;
    default:
        buf_addc(b, '[');
        for (unsigned n = rnd(4), i = 0; i < n; i++) {
            if (i)
                buf_addc(b, ',');
            gen_value(b, depth + 1);
        }
        buf_addc(b, ']');
    }
}

static void test_differential(void **state)
{
    (void)state;
    int with_meta = 0;
    for (int i = 0; i < 20000; i++) {
        struct buf b = BUF_INIT;
        gen_object(&b, 0);
        size_t nl = 0;
        char *want = old_splice(b.data, b.len, i, "2026-11-25T00:00:00Z");
        char *got = store_json_with_meta(b.data, b.len, i, "2026-11-25T00:00:00Z", &nl);
        if (strcmp(want, got) != 0)
            fail_msg("input %s\nwant %s\ngot  %s", b.data, want, got);
        with_meta += old_find_top_meta(b.data, b.len) != 0;
        free(want);
        free(got);
        buf_release(&b);
    }
    /* the generator does reach both paths */
    assert_true(with_meta > 1000 && with_meta < 19000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_meta),
        cmocka_unit_test(test_meta_positions),
        cmocka_unit_test(test_nested_meta),
        cmocka_unit_test(test_meta_in_strings),
        cmocka_unit_test(test_whitespace_and_values),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
