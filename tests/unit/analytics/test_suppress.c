/* test_suppress.c - small-number suppression (analytics/suppress.h):
 * primary suppression of 1-7, rounding to the nearest 5, and secondary
 * suppression wherever a total would give a suppressed cell away, checked
 * on hand-built tables (and by brute force: no line of any small table ends
 * with exactly one suppressed entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "analytics/suppress.h"

#define S SUPPRESSED

static void test_count(void **state)
{
    (void)state;
    assert_int_equal(suppress_count(0), 0);
    for (int n = 1; n <= 7; n++)
        assert_int_equal(suppress_count(n), S);
    assert_int_equal(suppress_count(8), 10);
    assert_int_equal(suppress_count(10), 10);
    assert_int_equal(suppress_count(12), 10);
    assert_int_equal(suppress_count(13), 15);
    assert_int_equal(suppress_count(1002), 1000);
    assert_int_equal(suppress_count(1003), 1005);
    char t[24];
    assert_string_equal(suppress_text(S, t), "*");
    assert_string_equal(suppress_text(15, t), "15");
}

static void test_no_small(void **state)
{
    (void)state;
    const int64_t cells[] = {10, 20, 31, 44};
    int64_t out[9];
    assert_int_equal(suppress_table(cells, 2, 2, out), 0);
    const int64_t want[] = {10, 20, 30, 30, 45, 75, 40, 65, 105};
    for (int i = 0; i < 9; i++)
        assert_int_equal(out[i], want[i]);
}

/* One small cell in a row: the row total would give it away, so the
 * smallest other cell of the row goes too; the same holds for its column. */
static void test_secondary(void **state)
{
    (void)state;
    /* rows: A = 3, 50, 20; B = 40, 60, 30 */
    const int64_t cells[] = {3, 50, 20, 40, 60, 30};
    int64_t out[12];
    suppress_table(cells, 2, 3, out);
    /* layout: row r, col c at r*4+c; totals in col 3 and row 2 */
    assert_int_equal(out[0], S);  /* primary */
    assert_int_equal(out[2], S);  /* secondary in row A: 20 is its smallest */
    assert_int_equal(out[4], S);  /* column 0 then holds one: 40 goes */
    assert_int_equal(out[6], S);  /* column 2 held one (20): 30 goes */
    assert_int_equal(out[1], 50); /* the rest are shown */
    assert_int_equal(out[5], 60);
    assert_int_equal(out[3], 75); /* row totals 73 -> 75, 130 */
    assert_int_equal(out[7], 130);
    assert_int_equal(out[8], 45); /* column totals 43, 110, 50 */
    assert_int_equal(out[9], 110);
    assert_int_equal(out[10], 50);
    assert_int_equal(out[11], 205);
}

/* A small cell with no other non-zero cell in its row: the row total is
 * suppressed instead (it would equal the cell). */
static void test_total_goes(void **state)
{
    (void)state;
    const int64_t cells[] = {5, 0, 40, 50};
    int64_t out[9];
    suppress_table(cells, 2, 2, out);
    assert_int_equal(out[0], S);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], S); /* row total 5: itself 1-7 */
    /* column 0 then holds one suppressed entry: its smallest other cell
     * (40) goes; the column of row totals holds one (5): 90 goes */
    assert_int_equal(out[3], S);
    assert_int_equal(out[4], 50);
    assert_int_equal(out[5], S);
    assert_int_equal(out[6], 45);
    assert_int_equal(out[8], 95);
}

static void test_no_line_with_one(void **state)
{
    (void)state;
    /* every 2x3 table with cells from {0, 2, 9} */
    const int64_t vals[] = {0, 2, 9};
    int64_t cells[6], out[12];
    for (int m = 0; m < 729; m++) {
        int k = m;
        for (int i = 0; i < 6; i++, k /= 3)
            cells[i] = vals[k % 3];
        suppress_table(cells, 2, 3, out);
        for (int r = 0; r < 3; r++) {
            int n = 0;
            for (int c = 0; c < 4; c++)
                n += out[r * 4 + c] == S;
            assert_true(n != 1);
        }
        for (int c = 0; c < 4; c++) {
            int n = 0;
            for (int r = 0; r < 3; r++)
                n += out[r * 4 + c] == S;
            assert_true(n != 1);
        }
        for (int i = 0; i < 6; i++) /* every small count hidden */
            if (cells[i] >= 1 && cells[i] <= 7)
                assert_int_equal(out[(i / 3) * 4 + i % 3], S);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_no_small),
        cmocka_unit_test(test_secondary),
        cmocka_unit_test(test_total_goes),
        cmocka_unit_test(test_no_line_with_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
