/* test_candidates.c - the feed path's candidate read and record write
 * (store_idrec_candidates, store_idrec_put), on the backend under test:
 * a block of at most cap records is read whole, a larger one not at all
 * (its records still come through another key they share), with or
 * without the records that hold an NHS number; a record found through two
 * keys comes once; a record written again with other demographics is
 * found by its new keys only, and one written again unchanged stays. */
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
#include "store/identity.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

#define LINK "urn:weft:source-id:Patient"

static int setup(void **state)
{
    return testdb_setup(state, "candidates");
}

static void put(struct store *s, const char *id, const char *nhs, const char *demog, const char *k0,
                const char *k1, const char *k2, const char *k3)
{
    const char *keys[4] = {k0, k1, k2, k3};
    struct store_idrec r = {
        .org = "ORG1", .source_id = (char *)id, .demog = (char *)demog, .nhs = (char *)nhs};
    assert_int_equal(store_idrec_put(s, &r, keys), WEFT_OK);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct store_idrec *)a)->source_id,
                  ((const struct store_idrec *)b)->source_id);
}

/* The source ids of the candidates of keys, sorted, joined by spaces. */
static void found(struct store *s, const char *k0, const char *k1, const char *k2, int cap,
                  bool without_nhs, char *out, size_t cap_out)
{
    const char *keys[4] = {k0, k1, k2, NULL};
    struct store_idrec *c = NULL;
    int n = 0;
    assert_int_equal(store_idrec_candidates(s, LINK, keys, cap, without_nhs, &c, &n), WEFT_OK);
    if (n > 1)
        qsort(c, (size_t)n, sizeof *c, by_id);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        assert_non_null(c[i].demog);
        assert_null(c[i].person_id); /* not read here */
        size_t l = strlen(out);
        snprintf(out + l, cap_out - l, "%s%s", l ? " " : "", c[i].source_id);
    }
    store_idrecs_free(c, n);
}

static void fill(struct store *s)
{
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, s), WEFT_OK);
    /* DQ: three records, one with an NHS number */
    put(s, "a1", NULL, "A1", "DQ", NULL, "PQ", NULL);
    put(s, "a2", NULL, "A2", "DQ", NULL, NULL, NULL);
    put(s, "a3", "9434765919", "A3", "DQ", NULL, NULL, NULL);
    /* NQ: four records without one; b1 shares PQ too */
    put(s, "b1", NULL, "B1", NULL, "NQ", "PQ", NULL);
    put(s, "b2", NULL, "B2", NULL, "NQ", NULL, NULL);
    put(s, "b3", NULL, "B3", NULL, "NQ", NULL, NULL);
    put(s, "b4", NULL, "B4", NULL, "NQ", NULL, NULL);
    /* PQ: a1, b1 and one with an NHS number */
    put(s, "c1", "9434765927", "C1", NULL, NULL, "PQ", NULL);
    /* sharing no key */
    put(s, "d1", NULL, "D1", "DX", "NX", "PX", "GX");
    assert_int_equal(store_txn_commit(&t), WEFT_OK);
}

static void test_blocks(void **state)
{
    struct store *s = *state;
    fill(s);
    char got[256];
    /* cap 3: DQ (3) and PQ (3) read, NQ (4) not; a1 found twice, listed once */
    found(s, "DQ", "NQ", "PQ", 3, false, got, sizeof got);
    assert_string_equal(got, "a1 a2 a3 b1 c1");
    /* only records without a number: DQ (2), PQ (2), NQ (4, over) */
    found(s, "DQ", "NQ", "PQ", 3, true, got, sizeof got);
    assert_string_equal(got, "a1 a2 b1");
    /* cap 4: NQ read too */
    found(s, "DQ", "NQ", "PQ", 4, false, got, sizeof got);
    assert_string_equal(got, "a1 a2 a3 b1 b2 b3 b4 c1");
    /* cap 2: every block over it counting every record ... */
    found(s, "DQ", "NQ", "PQ", 2, false, got, sizeof got);
    assert_string_equal(got, "");
    /* ... but not counting those with a number */
    found(s, "DQ", "NQ", "PQ", 2, true, got, sizeof got);
    assert_string_equal(got, "a1 a2 b1");
    /* a block exactly at cap is read; one key alone; no key */
    found(s, NULL, NULL, "PQ", 3, false, got, sizeof got);
    assert_string_equal(got, "a1 b1 c1");
    found(s, "ZZ", NULL, NULL, 3, false, got, sizeof got);
    assert_string_equal(got, "");
    found(s, NULL, NULL, NULL, 3, false, got, sizeof got);
    assert_string_equal(got, "");
}

static void test_rewrite(void **state)
{
    struct store *s = *state;
    fill(s);
    char got[256];
    /* written again unchanged: still there, once */
    put(s, "a2", NULL, "A2", "DQ", NULL, NULL, NULL);
    found(s, "DQ", NULL, NULL, 3, false, got, sizeof got);
    assert_string_equal(got, "a1 a2 a3");
    /* new demographics (a new date of birth): the new key finds it, the old
     * one no longer does, and the demographics read are the new ones */
    put(s, "a2", NULL, "A2-moved", "DN", NULL, NULL, NULL);
    found(s, "DQ", NULL, NULL, 3, false, got, sizeof got);
    assert_string_equal(got, "a1 a3");
    const char *keys[4] = {"DN", NULL, NULL, NULL};
    struct store_idrec *c = NULL;
    int n = 0;
    assert_int_equal(store_idrec_candidates(s, LINK, keys, 3, true, &c, &n), WEFT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].source_id, "a2");
    assert_string_equal(c[0].demog, "A2-moved");
    store_idrecs_free(c, n);
    /* an NHS number now known: no longer among the records without one */
    put(s, "a2", "9434765919", "A2-moved", "DN", NULL, NULL, NULL);
    found(s, "DN", NULL, NULL, 3, true, got, sizeof got);
    assert_string_equal(got, "");
    found(s, "DN", NULL, NULL, 3, false, got, sizeof got);
    assert_string_equal(got, "a2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blocks, setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_rewrite, setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
