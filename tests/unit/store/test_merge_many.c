/* test_merge_many.c - store_person_merge_many's checks and moves, on the
 * store under test (SQLite, or PostgreSQL with WEFT_TEST_DB): an unknown
 * person, two different NHS numbers in a pair, two NHS numbers moving to one
 * survivor and a person merged already are refused with nothing written;
 * otherwise the NHS number and the local identifiers move, the merge ids
 * returned are the person_merge rows' own, in order, and each merge undoes
 * on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/records.h"
#include "store/store.h"

#include "unit/testdb.h"

static int setup(void **state)
{
    return testdb_setup(state, "merge_many");
}

#define SYS "urn:test:local"

/* The person holding local value v (org A81001), as a new string. */
static char *holder(struct store *s, const char *v)
{
    char *p = NULL;
    assert_int_equal(store_person_find_local(s, "A81001", SYS, v, &p), 0);
    return p;
}

static void assert_holder(struct store *s, const char *v, const char *want)
{
    char *p = holder(s, v);
    assert_string_equal(p, want);
    free(p);
}

static void assert_nhs_holder(struct store *s, const char *nhs, const char *want)
{
    char *p = NULL;
    assert_int_equal(store_person_find_nhs(s, nhs, &p), 0);
    assert_string_equal(p, want);
    free(p);
}

static void test_merge_many(void **state)
{
    struct store *s = *state;
    char *n1 = NULL, *n2 = NULL, *l1 = NULL, *l2 = NULL, *l3 = NULL;
    assert_int_equal(store_person_by_nhs(s, "9434765919", &n1), 0);
    assert_int_equal(store_person_by_nhs(s, "9434765870", &n2), 0);
    assert_int_equal(store_person_by_local(s, "A81001", SYS, "L1", NULL, &l1), 0);
    assert_int_equal(store_person_by_local(s, "A81001", SYS, "L2", NULL, &l2), 0);
    assert_int_equal(store_person_by_local(s, "A81001", SYS, "L3", NULL, &l3), 0);
    char *tmp = NULL;
    assert_int_equal(store_person_by_local(s, "A81001", SYS, "N1", n1, &tmp), 0);
    assert_string_equal(tmp, n1);
    free(tmp);

    /* refused, nothing written */
    struct store_merge_pair unknown[] = {{l1, l3}, {l2, "no-such-person"}};
    assert_int_equal(store_person_merge_many(s, unknown, 2, "test", NULL), WEFT_ENOTFOUND);
    struct store_merge_pair unknown_survivor[] = {{"no-such-person", l3}};
    assert_int_equal(store_person_merge_many(s, unknown_survivor, 1, "test", NULL), WEFT_ENOTFOUND);
    struct store_merge_pair two_nhs[] = {{l2, l3}, {n1, n2}};
    assert_int_equal(store_person_merge_many(s, two_nhs, 2, "test", NULL), WEFT_ECONFLICT);
    struct store_merge_pair two_to_one[] = {{l1, n1}, {l1, n2}};
    assert_int_equal(store_person_merge_many(s, two_to_one, 2, "test", NULL), WEFT_ECONFLICT);
    assert_holder(s, "L3", l3);
    assert_holder(s, "N1", n1);
    assert_nhs_holder(s, "9434765919", n1);

    /* n1's NHS number and local identifier move to l1 (which has none);
     * l3 into l2 */
    struct store_merge_pair ok[] = {{l1, n1}, {l2, l3}};
    int64_t mid[2] = {0, 0};
    assert_int_equal(store_person_merge_many(s, ok, 2, "test", mid), 0);
    assert_true(mid[0] > 0);
    assert_int_equal(mid[1], mid[0] + 1);
    assert_nhs_holder(s, "9434765919", l1);
    assert_holder(s, "N1", l1);
    assert_holder(s, "L3", l2);
    struct store_merge *ml = NULL;
    int nm = 0;
    assert_int_equal(store_person_merge_list(s, 10, &ml, &nm), 0);
    int seen = 0;
    for (int i = 0; i < nm; i++) {
        if (ml[i].id == mid[0]) {
            assert_string_equal(ml[i].survivor, l1);
            assert_string_equal(ml[i].retired, n1);
            seen++;
        } else if (ml[i].id == mid[1]) {
            assert_string_equal(ml[i].survivor, l2);
            assert_string_equal(ml[i].retired, l3);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    store_merges_free(ml, nm);

    /* merged already: refused */
    struct store_merge_pair again[] = {{l1, l3}};
    assert_int_equal(store_person_merge_many(s, again, 1, "test", NULL), WEFT_ECONFLICT);

    /* each merge undoes on its own */
    assert_int_equal(store_person_unmerge(s, mid[0]), 0);
    assert_nhs_holder(s, "9434765919", n1);
    assert_holder(s, "N1", n1);
    assert_holder(s, "L3", l2);
    assert_int_equal(store_person_unmerge(s, mid[1]), 0);
    assert_holder(s, "L3", l3);
    free(n1);
    free(n2);
    free(l1);
    free(l2);
    free(l3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_many, setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
