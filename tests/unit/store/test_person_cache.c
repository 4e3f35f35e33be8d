/* test_person_cache.c - the SQLite backend's person-link cache
 * (src/store/sqlite/sqlite_person_cache.c): it answers repeated lookups, and
 * never answers what the database would not - after a rollback, a rollback
 * to a savepoint, a write by another connection (a second store handle, or
 * plain SQL from another program) or a merge/unmerge on the same handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "core/err.h"
#include "store/sqlite/sqlite_person_cache.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

#define SYS "urn:weft:id:RVV:mrn"

static char dbpath[256];

struct fx {
    struct store *a, *b; /* two handles (connections) on one file */
};

static struct store *open_handle(void)
{
    struct store *s = NULL;
    char *err = NULL;
    if (store_open(&s, dbpath, true, &err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        free(err);
        return NULL;
    }
    return s;
}

static int setup(void **state)
{
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/pcache-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    unlink(dbpath);
    struct fx *fx = calloc(1, sizeof *fx);
    int from, to;
    if (!fx || !(fx->a = open_handle()) || store_migrate(fx->a, &from, &to) != 0 ||
        !(fx->b = open_handle()))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    store_close(fx->a);
    store_close(fx->b);
    free(fx);
    testdb_remove(dbpath);
    return 0;
}

static uint64_t hits(struct store *s)
{
    uint64_t h, m;
    sqlite_person_cache_stats(s, &h, &m);
    return h;
}

/* The person of NHS number nhs according to the handle (may create one). */
static char *by_nhs(struct store *s, const char *nhs)
{
    char *p = NULL;
    assert_int_equal(store_person_by_nhs(s, nhs, &p), 0);
    assert_non_null(p);
    return p;
}

/* The person holding local identifier v, NULL when none. */
static char *find_local(struct store *s, const char *v)
{
    char *p = NULL;
    int rc = store_person_find_local(s, "RVV", SYS, v, &p);
    assert_true(rc == 0 || rc == WEFT_ENOTFOUND);
    return rc == 0 ? p : NULL;
}

static bool person_exists(struct store *s, const char *id)
{
    struct store_person p;
    int rc = store_person_get(s, id, &p);
    assert_true(rc == 0 || rc == WEFT_ENOTFOUND);
    store_person_clear(&p);
    return rc == 0;
}

static void test_hit_after_row_exists(void **state)
{
    struct fx *fx = *state;
    uint64_t h0 = hits(fx->a);
    char *p = by_nhs(fx->a, "9434765919"); /* created: a miss */
    assert_int_equal(hits(fx->a), h0);
    char *q = by_nhs(fx->a, "9434765919");
    assert_string_equal(p, q);
    assert_int_equal(hits(fx->a), h0 + 1);
    char *l = NULL;
    assert_int_equal(store_person_by_local(fx->a, "RVV", SYS, "M1", p, &l), 0);
    assert_string_equal(l, p);
    char *f = find_local(fx->a, "M1");
    assert_non_null(f);
    assert_string_equal(f, p);
    assert_int_equal(hits(fx->a), h0 + 2);
    /* a row another connection wrote: read once, then answered from the cache */
    char *r = by_nhs(fx->b, "9000000004");
    char *r1 = by_nhs(fx->a, "9000000004");
    char *r2 = by_nhs(fx->a, "9000000004");
    assert_string_equal(r, r1);
    assert_string_equal(r, r2);
    assert_int_equal(hits(fx->a), h0 + 3);
    free(p);
    free(q);
    free(l);
    free(f);
    free(r);
    free(r1);
    free(r2);
}

static void test_rollback(void **state)
{
    struct fx *fx = *state;
    char *kept = by_nhs(fx->a, "9000000001");
    assert_int_equal(store_begin(fx->a), 0);
    char *p1 = by_nhs(fx->a, "9434765919");
    char *again = by_nhs(fx->a, "9434765919"); /* what the open transaction sees */
    assert_string_equal(p1, again);
    char *l1 = NULL;
    assert_int_equal(store_person_by_local(fx->a, "RVV", SYS, "M9", NULL, &l1), 0);
    char *k1 = by_nhs(fx->a, "9000000001");
    assert_string_equal(k1, kept);
    assert_int_equal(store_rollback(fx->a), 0);
    assert_false(person_exists(fx->a, p1));
    assert_null(find_local(fx->a, "M9"));
    char *p2 = by_nhs(fx->a, "9434765919");
    assert_string_not_equal(p1, p2);
    assert_true(person_exists(fx->a, p2));
    char *k2 = by_nhs(fx->a, "9000000001");
    assert_string_equal(k2, kept);
    free(kept);
    free(p1);
    free(again);
    free(l1);
    free(k1);
    free(p2);
    free(k2);
}

static void test_rollback_to_savepoint(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(store_begin(fx->a), 0);
    char *before = by_nhs(fx->a, "9000000001"); /* this message stays */
    assert_int_equal(store_savepoint(fx->a, "ingest_msg"), 0);
    char *p1 = by_nhs(fx->a, "9434765919");
    char *l1 = NULL;
    assert_int_equal(store_person_by_local(fx->a, "RVV", SYS, "M1", p1, &l1), 0);
    char *f1 = find_local(fx->a, "M1");
    assert_string_equal(f1, p1);
    assert_int_equal(store_rollback_to(fx->a, "ingest_msg"), 0);
    assert_int_equal(store_release(fx->a, "ingest_msg"), 0);
    assert_null(find_local(fx->a, "M1"));
    char *p2 = by_nhs(fx->a, "9434765919");
    assert_string_not_equal(p1, p2);
    char *b2 = by_nhs(fx->a, "9000000001");
    assert_string_equal(before, b2);
    assert_int_equal(store_commit(fx->a), 0);
    assert_false(person_exists(fx->a, p1));
    char *p3 = by_nhs(fx->a, "9434765919");
    assert_string_equal(p2, p3);
    /* and the other connection agrees */
    char *p4 = by_nhs(fx->b, "9434765919");
    assert_string_equal(p2, p4);
    free(before);
    free(p1);
    free(l1);
    free(f1);
    free(p2);
    free(b2);
    free(p3);
    free(p4);
}

/* More entries learned in one transaction than the pending list holds: a
 * rollback then forgets everything. */
static void test_rollback_many(void **state)
{
    struct fx *fx = *state;
    enum { N = 5000 };
    char nhs[16], *first = NULL;
    assert_int_equal(store_begin(fx->a), 0);
    assert_int_equal(store_savepoint(fx->a, "many"), 0);
    for (int i = 0; i < N; i++) {
        snprintf(nhs, sizeof nhs, "%010d", 1000000000 + i);
        char *p = by_nhs(fx->a, nhs);
        if (i == 0)
            first = p;
        else
            free(p);
    }
    assert_int_equal(store_rollback_to(fx->a, "many"), 0);
    assert_int_equal(store_release(fx->a, "many"), 0);
    assert_int_equal(store_commit(fx->a), 0);
    assert_false(person_exists(fx->a, first));
    for (int i = 0; i < N; i += 499) {
        snprintf(nhs, sizeof nhs, "%010d", 1000000000 + i);
        char *p = NULL;
        assert_int_equal(store_person_find_nhs(fx->a, nhs, &p), WEFT_ENOTFOUND);
    }
    char *again = by_nhs(fx->a, "1000000000");
    assert_string_not_equal(again, first);
    /* the last ones learned too (beyond what a pending list could hold) */
    char *last = by_nhs(fx->a, "1000004999");
    assert_true(person_exists(fx->a, last));
    free(first);
    free(again);
    free(last);
}

/* Entries of a committed transaction survive a later rollback to a
 * savepoint (they are the database's, not the savepoint's). */
static void test_commit_keeps(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(store_begin(fx->a), 0);
    char *p = by_nhs(fx->a, "9434765919");
    assert_int_equal(store_commit(fx->a), 0);
    assert_int_equal(store_begin(fx->a), 0);
    assert_int_equal(store_savepoint(fx->a, "ingest_msg"), 0);
    assert_int_equal(store_rollback_to(fx->a, "ingest_msg"), 0);
    assert_int_equal(store_release(fx->a, "ingest_msg"), 0);
    uint64_t h0 = hits(fx->a);
    char *q = by_nhs(fx->a, "9434765919");
    assert_string_equal(p, q);
    assert_int_equal(hits(fx->a), h0 + 1);
    assert_int_equal(store_commit(fx->a), 0);
    free(p);
    free(q);
}

/* Persons P (NHS number, local M1) and Q (local M2 only), learned by a. */
static void two_persons(struct store *a, char **p, char **q)
{
    char *l = NULL;
    *p = by_nhs(a, "9434765919");
    assert_int_equal(store_person_by_local(a, "RVV", SYS, "M1", *p, &l), 0);
    free(l);
    assert_int_equal(store_person_by_local(a, "RVV", SYS, "M2", NULL, q), 0);
    assert_string_not_equal(*p, *q);
}

static void expect_links(struct store *s, const char *nhs_person, const char *m1_person)
{
    char *n = by_nhs(s, "9434765919");
    char *m = find_local(s, "M1");
    assert_non_null(m);
    assert_string_equal(n, nhs_person);
    assert_string_equal(m, m1_person);
    free(n);
    free(m);
}

static void test_other_connection_merge(void **state)
{
    struct fx *fx = *state;
    char *p, *q;
    two_persons(fx->a, &p, &q);
    expect_links(fx->a, p, p); /* now cached in a */
    int64_t mid = 0;
    assert_int_equal(store_person_merge(fx->b, q, p, "RVV", 0, &mid), 0);
    expect_links(fx->a, q, q);
    /* inside a write transaction too (data_version read at BEGIN) */
    assert_int_equal(store_person_unmerge(fx->b, mid), 0);
    assert_int_equal(store_begin(fx->a), 0);
    expect_links(fx->a, p, p);
    assert_int_equal(store_commit(fx->a), 0);
    free(p);
    free(q);
}

/* Another program writing person_local with plain SQL (a hand repair, an
 * admin tool): the cache notices through data_version. */
static void test_other_program_sql(void **state)
{
    struct fx *fx = *state;
    char *p, *q;
    two_persons(fx->a, &p, &q);
    expect_links(fx->a, p, p);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE person_local SET person_id = '%s' WHERE value = 'M1';"
             "UPDATE person SET nhs = NULL WHERE id = '%s';"
             "UPDATE person SET nhs = '9434765919' WHERE id = '%s'",
             q, p, q);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_links(fx->a, q, q);
    free(p);
    free(q);
}

static void test_merge_same_handle(void **state)
{
    struct fx *fx = *state;
    char *p, *q;
    two_persons(fx->a, &p, &q);
    expect_links(fx->a, p, p);
    int64_t mid = 0;
    assert_int_equal(store_person_merge(fx->a, q, p, "RVV", 0, &mid), 0);
    expect_links(fx->a, q, q);
    assert_int_equal(store_person_unmerge(fx->a, mid), 0);
    expect_links(fx->a, p, p);
    /* a merge in a transaction that is rolled back leaves the links as they were */
    assert_int_equal(store_begin(fx->a), 0);
    assert_int_equal(store_person_merge(fx->a, q, p, "RVV", 0, &mid), 0);
    expect_links(fx->a, q, q);
    assert_int_equal(store_rollback(fx->a), 0);
    expect_links(fx->a, p, p);
    /* the same with a savepoint */
    assert_int_equal(store_begin(fx->a), 0);
    assert_int_equal(store_savepoint(fx->a, "ingest_msg"), 0);
    assert_int_equal(store_person_merge(fx->a, q, p, "RVV", 0, &mid), 0);
    expect_links(fx->a, q, q);
    assert_int_equal(store_rollback_to(fx->a, "ingest_msg"), 0);
    assert_int_equal(store_release(fx->a, "ingest_msg"), 0);
    expect_links(fx->a, p, p);
    assert_int_equal(store_commit(fx->a), 0);
    expect_links(fx->b, p, p);
    free(p);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit_after_row_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_to_savepoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_keeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_connection_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_program_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_same_handle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
