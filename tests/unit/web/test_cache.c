/* test_cache.c - the rendered-page cache: hits, replacement, LRU eviction by
 * entries and bytes, disabled cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "web/cache.h"

static void put(struct web_cache *c, const char *key, const char *html)
{
    struct buf h = BUF_INIT, w = BUF_INIT;
    buf_adds(&h, html);
    buf_addf(&w, "ids-of-%s", key);
    web_cache_put(c, key, &h, &w, 200, 3);
    buf_release(&h);
    buf_release(&w);
}

static bool get(struct web_cache *c, const char *key, struct buf *h)
{
    struct buf w = BUF_INIT;
    int status = 0;
    int64_t count = 0;
    bool hit = web_cache_get(c, key, h, &w, &status, &count);
    if (hit) {
        assert_int_equal(status, 200);
        assert_int_equal(count, 3);
        char want[64];
        snprintf(want, sizeof want, "ids-of-%s", key);
        assert_string_equal(w.data, want);
    }
    buf_release(&w);
    return hit;
}

static void test_hit_replace_evict(void **state)
{
    (void)state;
    struct web_cache *c = web_cache_new(2, 1 << 20);
    struct buf h = BUF_INIT;
    assert_false(get(c, "a", &h));
    put(c, "a", "<p>A</p>");
    put(c, "b", "<p>B</p>");
    assert_true(get(c, "a", &h));
    assert_string_equal(h.data, "<p>A</p>");
    put(c, "a", "<p>A2</p>");
    assert_true(get(c, "a", &h));
    assert_string_equal(h.data, "<p>A2</p>");
    /* "b" is least recently used: a third key evicts it. */
    put(c, "c", "<p>C</p>");
    assert_false(get(c, "b", &h));
    assert_true(get(c, "a", &h));
    assert_true(get(c, "c", &h));
    uint64_t hits, misses;
    size_t n, bytes;
    web_cache_stats(c, &hits, &misses, &n, &bytes);
    assert_int_equal(n, 2);
    assert_int_equal(hits, 4);
    assert_int_equal(misses, 2);
    buf_release(&h);
    web_cache_free(c);
}

static void test_bytes_bound_and_off(void **state)
{
    (void)state;
    struct web_cache *c = web_cache_new(100, 400);
    char big[61];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct buf h = BUF_INIT;
    put(c, "k1", big); /* 71 bytes each with key and note: six exceed 400 */
    put(c, "k2", big);
    put(c, "k3", big);
    put(c, "k4", big);
    put(c, "k5", big);
    put(c, "k6", big);
    size_t n, bytes;
    uint64_t hits, misses;
    web_cache_stats(c, &hits, &misses, &n, &bytes);
    assert_true(bytes <= 400);
    assert_false(get(c, "k1", &h));
    assert_true(get(c, "k6", &h));
    assert_true(get(c, "k2", &h));
    /* A page larger than a quarter of the budget is not kept. */
    char huge[200];
    memset(huge, 'y', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    put(c, "huge", huge);
    assert_false(get(c, "huge", &h));
    web_cache_free(c);
    c = web_cache_new(0, 1 << 20);
    put(c, "a", "x");
    assert_false(get(c, "a", &h));
    web_cache_free(c);
    buf_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_replace_evict),
        cmocka_unit_test(test_bytes_bound_and_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
