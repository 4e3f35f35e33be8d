/* test_nhs.c - NHS number check digit and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "identity/nhs.h"

static void test_valid(void **state)
{
    (void)state;
    const char *good[] = {"9434765919", "943 476 5919", "943-476-5919", "9996760847",
                          "9993484229", "9990177120" /* remainder 0: check digit 0 */};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(nhs_number_valid(good[i], NULL));
    char d[11];
    assert_true(nhs_number_valid("943 476 5919", d));
    assert_string_equal(d, "9434765919");
}

static void test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "9434765918",  /* wrong check digit */
        "9990000000",  /* check digit would be 10: never valid */
        "943476591",   /* 9 digits */
        "94347659190", /* 11 digits */
        "94347659l9",  /* letter */
        "",
        " 9434765919",
        "9434765919 ",
        "943  476 5919",
        "943 476 591 9x",
        "+9434765919",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(nhs_number_valid(bad[i], NULL));
    assert_false(nhs_number_valid(NULL, NULL));
    char d[11] = "";
    /* right shape, wrong check digit: digits still reported */
    assert_false(nhs_number_valid("9434765918", d));
    assert_string_equal(d, "9434765918");
}

static void test_format(void **state)
{
    (void)state;
    char out[13];
    assert_true(nhs_number_format("9434765919", out));
    assert_string_equal(out, "943 476 5919");
    assert_true(nhs_number_format("943-476-5919", out));
    assert_string_equal(out, "943 476 5919");
    assert_false(nhs_number_format("94347659", out));
    assert_true(nhs_number_is_test("9996760847"));
    assert_false(nhs_number_is_test("9434765919"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
