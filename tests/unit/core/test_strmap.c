/* test_strmap.c - the string -> int map (core/strmap.h) the loading
 * pipeline indexes a bundle's entries with: first insert wins, absent keys
 * are -1, growth keeps every key, keys are compared by content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/strmap.h"

static void test_put_get(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m, 0);
    assert_int_equal(strmap_get(&m, "Patient/1"), -1);
    assert_int_equal(strmap_put(&m, "Patient/1", 0), 0);
    assert_int_equal(strmap_put(&m, "urn:uuid:a", 1), 1);
    /* a second insert of a key keeps the first value and says so */
    assert_int_equal(strmap_put(&m, "Patient/1", 7), 0);
    assert_int_equal(strmap_get(&m, "Patient/1"), 0);
    assert_int_equal(strmap_get(&m, "urn:uuid:a"), 1);
    assert_int_equal(strmap_get(&m, "Patient/10"), -1);
    assert_int_equal(strmap_get(&m, ""), -1);
    assert_int_equal(m.n, 2);
    /* keys compare by content, not by pointer */
    char copy[] = "urn:uuid:a";
    assert_int_equal(strmap_get(&m, copy), 1);
    strmap_free(&m);
}

static void test_growth(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char keys[N][24];
    struct strmap m;
    strmap_init(&m, 4); /* far too small: grows many times */
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "Observation/%d", i);
        assert_int_equal(strmap_put(&m, keys[i], i), i);
    }
    assert_int_equal(m.n, N);
    assert_true(m.cap >= 2 * (size_t)N);
    for (int i = 0; i < N; i++)
        assert_int_equal(strmap_get(&m, keys[i]), i);
    assert_int_equal(strmap_get(&m, "Observation/5000"), -1);
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
