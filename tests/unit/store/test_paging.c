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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_seq),
        cmocka_unit_test(test_cursor_malformed),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
