/* test_paging.c - the search rules every backend shares
 * (src/store/store_paging.c): cursors round-trip and malformed ones are
 * refused, page sizes, sort direction, term values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "store/paging.h"

static void test_cursor_round_trip(void **state)
{
    (void)state;
    char *c = store_cursor_make("2026-01-02", "abc123");
    assert_string_equal(c, "323032362d30312d3032.abc123");
    char *key = NULL, *id = NULL;
    assert_true(store_cursor_parse(c, &key, &id));
    assert_string_equal(key, "2026-01-02");
    assert_string_equal(id, "abc123");
    free(key);
    free(id);
    free(c);
    /* no sort key: the id alone */
    c = store_cursor_make("", "x");
    assert_string_equal(c, ".x");
    assert_true(store_cursor_parse(c, &key, &id));
    assert_string_equal(key, "");
    free(key);
    free(id);
    free(c);
}

static void test_cursor_seq(void **state)
{
    (void)state;
    char *c = store_cursor_make_seq(4711, "id1");
    char *key = NULL, *id = NULL;
    assert_true(store_cursor_parse(c, &key, &id));
    int64_t seq = 0;
    assert_true(store_cursor_seq(key, &seq));
    assert_int_equal(seq, 4711);
    assert_false(store_cursor_seq("12a", &seq));
    assert_false(store_cursor_seq("", &seq));
    free(key);
    free(id);
    free(c);
}

static void test_cursor_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"nodot", "abc.id", "0g.id", "00.id", "41.", "41.a b", "41.a'b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *key = NULL, *id = NULL;
        assert_false(store_cursor_parse(bad[i], &key, &id));
        assert_null(key);
        assert_null(id);
    }
}

static void test_rules(void **state)
{
    (void)state;
    struct store_query q = {.limit = 0};
    assert_int_equal(store_page_limit(&q), STORE_PAGE_DEFAULT);
    q.limit = 7;
    assert_int_equal(store_page_limit(&q), 7);
    assert_true(store_sort_desc(STORE_SORT_DATE_DESC));
    assert_true(store_sort_desc(STORE_SORT_LASTUPDATED_DESC));
    assert_false(store_sort_desc(STORE_SORT_DATE));
    assert_false(store_sort_desc(STORE_SORT_SEQ));
    char *v = store_term_value("McDonald-ÅB");
    assert_string_equal(v, "mcdonald-Åb");
    free(v);
}

/* Posting lists (search-index-3): the bytes are the documented varint
 * differences (known bytes, so that an encoder and decoder wrong the same
 * way are caught), lists of every length round-trip, and damaged bytes are
 * refused rather than read as other seqs. */
static void test_ixpost(void **state)
{
    (void)state;
    unsigned char b[STORE_IXPOST_MAXLEN * 8];
    int64_t out[8];
    const int64_t a[] = {100, 101, 300};
    assert_int_equal(store_ixpost_encode(a, 3, b), 3);
    assert_int_equal(b[0], 0x01);
    assert_int_equal(b[1], 0xC7);
    assert_int_equal(b[2], 0x01);
    assert_int_equal(store_ixpost_count(b, 3), 3);
    assert_int_equal(store_ixpost_decode(100, b, 3, out), 3);
    assert_true(out[0] == 100 && out[1] == 101 && out[2] == 300);
    /* one seq: no bytes */
    assert_int_equal(store_ixpost_encode(a, 1, b), 0);
    assert_int_equal(store_ixpost_decode(7, b, 0, out), 1);
    assert_true(out[0] == 7);
    /* the widest difference: ten bytes */
    const int64_t w[] = {1, INT64_MAX};
    assert_int_equal(store_ixpost_encode(w, 2, b), 9);
    assert_int_equal(store_ixpost_decode(1, b, 9, out), 2);
    assert_true(out[1] == INT64_MAX);
    /* round trips: seqs growing by 1 .. 2^40 */
    int64_t seqs[600], back[600];
    unsigned char *buf = malloc(sizeof seqs / sizeof seqs[0] * STORE_IXPOST_MAXLEN);
    assert_non_null(buf);
    uint64_t r = 88172645463325252ull;
    for (int n = 1; n <= 600; n += 37) {
        seqs[0] = 1 + (int64_t)(r % 1000);
        for (int i = 1; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            seqs[i] = seqs[i - 1] + 1 + (int64_t)(r % (1ull << (r % 41)));
        }
        size_t len = store_ixpost_encode(seqs, n, buf);
        assert_int_equal(store_ixpost_count(buf, len), n);
        assert_int_equal(store_ixpost_decode(seqs[0], buf, len, back), n);
        assert_memory_equal(seqs, back, sizeof seqs[0] * (size_t)n);
    }
    free(buf);
    /* damaged: cut short, a zero difference, longer than 64 bits */
    const unsigned char cut[] = {0x01, 0xC7};
    assert_int_equal(store_ixpost_count(cut, 2), -1);
    const unsigned char zero[] = {0x01, 0x00};
    assert_int_equal(store_ixpost_count(zero, 2), -1);
    const unsigned char wide[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(store_ixpost_count(wide, 10), -1);
    const unsigned char eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(store_ixpost_count(eleven, 11), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_seq),
        cmocka_unit_test(test_cursor_malformed),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_ixpost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
