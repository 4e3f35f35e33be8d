/* test_hex.c - the one hex encoder (core/hex.h): every byte value, lower
 * case, NUL-terminated, chaining, and the empty input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/hex.h"

static void test_every_byte(void **state)
{
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char out[513];
    memset(out, 'x', sizeof out);
    char *end = hex_encode(all, sizeof all, out);
    assert_ptr_equal(end, out + 512);
    assert_int_equal(*end, 0);
    for (int i = 0; i < 256; i++) {
        char want[3];
        snprintf(want, sizeof want, "%02x", i);
        assert_memory_equal(out + 2 * i, want, 2);
    }
}

static void test_chain_and_empty(void **state)
{
    (void)state;
    char out[16];
    memset(out, 'x', sizeof out);
    assert_ptr_equal(hex_encode("", 0, out), out);
    assert_string_equal(out, "");
    char *o = hex_encode("\x01\xab", 2, out);
    *o++ = '-';
    hex_encode("\xff", 1, o);
    assert_string_equal(out, "01ab-ff");
}

static void test_is_lower(void **state)
{
    (void)state;
    char out[33];
    hex_encode("\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16, out);
    assert_true(hex_is_lower(out, 32));
    assert_false(hex_is_lower(out, 31)); /* a length other than asked */
    assert_false(hex_is_lower(NULL, 0));
    assert_true(hex_is_lower("", 0));
    out[5] = 'A'; /* upper case is not what hex_encode writes */
    assert_false(hex_is_lower(out, 32));
    out[5] = 'g';
    assert_false(hex_is_lower(out, 32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_chain_and_empty),
        cmocka_unit_test(test_is_lower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
