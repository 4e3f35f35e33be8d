/* test_review_many.c - store_idreview_add_many on the store under test
 * (SQLite, or PostgreSQL with WEFT_TEST_DB), inside a transaction (as relink
 * calls it) and outside one: a pair queued already, either way round, is
 * left as it is and not counted; the new pairs are queued in order with
 * their scores.
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
#include "store/identity.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

static int setup(void **state)
{
    return testdb_setup(state, "review_many");
}

static struct store_idreview pair(const char *a, const char *b, double score)
{
    return (struct store_idreview){.org = (char *)"ORGA",
                                   .source_id = (char *)a,
                                   .other_org = (char *)"ORGB",
                                   .other_source_id = (char *)b,
                                   .score = score,
                                   .model_version = 1};
}

static void check_many(struct store *s, bool in_txn)
{
    const char *p = in_txn ? "t" : "u"; /* each round its own records */
    char a[4][16];
    for (int i = 0; i < 4; i++)
        snprintf(a[i], sizeof a[i], "%s%d", p, i);
    /* (a0, a1) queued on its own first */
    struct store_idreview first = pair(a[0], a[1], 15.0);
    int64_t id = 0;
    assert_int_equal(store_idreview_add(s, &first, &id), 0);
    assert_true(id > 0);
    /* the same pair reversed (other org and source first), then as it was,
     * then two new pairs */
    struct store_idreview v[4] = {
        {.org = (char *)"ORGB",
         .source_id = a[1],
         .other_org = (char *)"ORGA",
         .other_source_id = a[0],
         .score = 14.0,
         .model_version = 1},
        pair(a[0], a[1], 14.5),
        pair(a[2], a[3], 13.5),
        pair(a[0], a[3], 13.2),
    };
    struct store_txn t;
    if (in_txn)
        assert_int_equal(store_txn_begin(&t, s), 0);
    long added = 0;
    assert_int_equal(store_idreview_add_many(s, v, 4, &added), 0);
    if (in_txn)
        assert_int_equal(store_txn_commit(&t), 0);
    assert_int_equal(added, 2);
    struct store_idreview *out = NULL;
    int n = 0;
    assert_int_equal(store_idreview_list(s, "open", 100, &out, &n), 0);
    /* this round's rows, in queue order */
    const struct store_idreview *mine[8];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (out[i].source_id[0] == p[0] && m < 8)
            mine[m++] = &out[i];
    assert_int_equal(m, 3);
    assert_string_equal(mine[0]->source_id, a[0]);
    assert_string_equal(mine[0]->other_source_id, a[1]);
    assert_float_equal(mine[0]->score, 15.0, 1e-9); /* left as it was */
    assert_string_equal(mine[1]->source_id, a[2]);
    assert_string_equal(mine[1]->other_source_id, a[3]);
    assert_float_equal(mine[1]->score, 13.5, 1e-9);
    assert_string_equal(mine[2]->source_id, a[0]);
    assert_string_equal(mine[2]->other_source_id, a[3]);
    assert_true(mine[1]->id < mine[2]->id);
    store_idreviews_free(out, n);
}

static void test_review_many(void **state)
{
    check_many(*state, true);
    check_many(*state, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_review_many, setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
