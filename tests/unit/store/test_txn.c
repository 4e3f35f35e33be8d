/* test_txn.c - the store's transaction object (src/store/store_txn.c,
 * store/txn.h): items kept and undone, a broken transaction rolled back whole
 * and refusing everything after, commit and rollback closing it, the object
 * of a transaction begun by store_begin(), and store_txn_begin waiting for a
 * store another handle holds busy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/meta.h"
#include "store/store.h"
#include "store/txn.h"

#include "unit/testdb.h"

static char url[4096];

struct fx {
    struct store *s;
};

static struct store *open_handle(void)
{
    struct store *s = NULL;
    char *err = NULL;
    if (store_open(&s, url, true, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", url, err ? err : "?");
        free(err);
        return NULL;
    }
    return s;
}

static int setup(void **state)
{
    testdb_url(url, sizeof url, "txn");
    struct fx *fx = calloc(1, sizeof *fx);
    int from, to;
    if (!fx || !(fx->s = open_handle()) || store_migrate(fx->s, &from, &to) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    store_close(fx->s);
    free(fx);
    testdb_drop(url);
    return 0;
}

/* The value of meta key k, or NULL (malloc'd). */
static char *get(struct store *s, const char *k)
{
    char *v = NULL;
    int rc = store_meta_get(s, k, &v);
    assert_true(rc == 0 || rc == WEFT_ENOTFOUND);
    return rc == 0 ? v : NULL;
}

static void assert_value(struct store *s, const char *k, const char *want)
{
    char *v = get(s, k);
    if (!want)
        assert_null(v);
    else
        assert_string_equal(v ? v : "(none)", want);
    free(v);
}

static void test_items_kept_and_undone(void **state)
{
    struct fx *fx = *state;
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, fx->s), 0);
    assert_ptr_equal(store_txn_current(fx->s), &t);
    assert_int_equal(store_txn_item(&t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.a", "1"), 0);
    assert_int_equal(store_txn_item_end(&t, true), 0);
    assert_int_equal(store_txn_item(&t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.b", "2"), 0);
    /* a nested item, undone, inside a kept one */
    assert_int_equal(store_txn_item(&t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.c", "3"), 0);
    assert_int_equal(store_txn_item_end(&t, false), 0);
    assert_int_equal(store_txn_item_end(&t, true), 0);
    /* a rejected item: a plain error leaves the transaction usable */
    assert_int_equal(store_txn_item(&t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.d", "4"), 0);
    assert_int_equal(store_txn_check(&t, WEFT_EINVAL), WEFT_EINVAL);
    assert_int_equal(store_txn_broken(&t), 0);
    assert_int_equal(store_txn_item_end(&t, false), 0);
    assert_int_equal(store_txn_commit(&t), 0);
    assert_null(store_txn_current(fx->s));
    assert_false(t.open);
    assert_value(fx->s, "test.a", "1");
    assert_value(fx->s, "test.b", "2");
    assert_value(fx->s, "test.c", NULL);
    assert_value(fx->s, "test.d", NULL);
}

static void test_broken_rolls_back_all(void **state)
{
    struct fx *fx = *state;
    struct store_txn t;
    assert_int_equal(store_txn_begin(&t, fx->s), 0);
    assert_int_equal(store_txn_item(&t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.kept", "1"), 0);
    assert_int_equal(store_txn_item_end(&t, true), 0);
    assert_int_equal(store_txn_item(&t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.half", "1"), 0);
    /* the store failed under this item: the whole transaction goes */
    assert_true(store_broken(WEFT_EIO));
    assert_int_equal(store_txn_check(&t, WEFT_EIO), WEFT_EIO);
    assert_int_equal(store_txn_broken(&t), WEFT_EIO);
    assert_false(t.open);
    assert_null(store_txn_current(fx->s));
    /* every later call says so, and nothing is left half done */
    assert_int_equal(store_txn_item_end(&t, true), WEFT_EIO);
    assert_int_equal(store_txn_item(&t), WEFT_EIO);
    assert_int_equal(store_txn_check(&t, 0), WEFT_EIO);
    assert_int_equal(store_txn_commit(&t), WEFT_EIO);
    store_txn_rollback(&t); /* harmless */
    assert_value(fx->s, "test.kept", NULL);
    assert_value(fx->s, "test.half", NULL);
    /* the handle is usable again */
    assert_int_equal(store_txn_begin(&t, fx->s), 0);
    assert_int_equal(store_meta_set(fx->s, "test.after", "1"), 0);
    assert_int_equal(store_txn_commit(&t), 0);
    assert_value(fx->s, "test.after", "1");
}

static void test_store_broken_codes(void **state)
{
    (void)state;
    int broken[] = {WEFT_EDB, WEFT_EBUSY, WEFT_EIO, WEFT_ENOMEM, WEFT_EINTERNAL};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
        assert_true(store_broken(broken[i]));
    int not_broken[] = {WEFT_OK, WEFT_EINVAL, WEFT_ENOTFOUND, WEFT_EEXIST, WEFT_ECONFLICT};
    for (size_t i = 0; i < sizeof not_broken / sizeof not_broken[0]; i++)
        assert_false(store_broken(not_broken[i]));
}

static void test_rollback_and_one_per_handle(void **state)
{
    struct fx *fx = *state;
    struct store_txn t, u;
    assert_int_equal(store_txn_begin(&t, fx->s), 0);
    assert_int_equal(store_meta_set(fx->s, "test.gone", "1"), 0);
    /* one transaction per handle */
    assert_int_equal(store_txn_begin(&u, fx->s), WEFT_EINVAL);
    assert_false(u.open);
    store_txn_rollback(&t);
    assert_false(t.open);
    assert_null(store_txn_current(fx->s));
    assert_value(fx->s, "test.gone", NULL);
    /* commit without an open transaction is refused */
    assert_int_equal(store_txn_commit(&t), WEFT_EINVAL);
}

/* store_begin() gives the transaction an object too: code inside finds it
 * and its items work; store_commit() closes it. */
static void test_store_begin_has_object(void **state)
{
    struct fx *fx = *state;
    assert_null(store_txn_current(fx->s));
    assert_int_equal(store_begin(fx->s), 0);
    struct store_txn *t = store_txn_current(fx->s);
    assert_non_null(t);
    assert_int_equal(store_txn_item(t), 0);
    assert_int_equal(store_meta_set(fx->s, "test.x", "1"), 0);
    assert_int_equal(store_txn_item_end(t, false), 0);
    assert_int_equal(store_meta_set(fx->s, "test.y", "1"), 0);
    assert_int_equal(store_commit(fx->s), 0);
    assert_null(store_txn_current(fx->s));
    assert_value(fx->s, "test.x", NULL);
    assert_value(fx->s, "test.y", "1");
}

/* Another handle holds the write lock longer than the backend's own busy
 * wait: store_txn_begin tries again (bounded) and gets it once released. */
struct holder {
    struct store *s;
    int hold_ms;
    int rc;
};

static void *hold_lock(void *arg)
{
    struct holder *h = arg;
    struct timespec ts = {.tv_sec = h->hold_ms / 1000, .tv_nsec = (h->hold_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    h->rc = store_commit(h->s);
    return NULL;
}

static void test_begin_waits_while_busy(void **state)
{
    struct fx *fx = *state;
    if (strncmp(url, "postgres", 8) == 0)
        skip(); /* writers do not hold one store-wide lock there */
    struct store *other = open_handle();
    assert_non_null(other);
    assert_int_equal(store_begin(other), 0);         /* holds the write lock */
    struct holder h = {.s = other, .hold_ms = 5600}; /* > SQLite's 5 s busy wait */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hold_lock, &h), 0);
    struct store_txn t;
    int rc = store_txn_begin(&t, fx->s);
    pthread_join(th, NULL);
    assert_int_equal(h.rc, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(store_meta_set(fx->s, "test.busy", "1"), 0);
    assert_int_equal(store_txn_commit(&t), 0);
    assert_value(fx->s, "test.busy", "1");
    store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_items_kept_and_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_rolls_back_all, setup, teardown),
        cmocka_unit_test(test_store_broken_codes),
        cmocka_unit_test_setup_teardown(test_rollback_and_one_per_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_begin_has_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_begin_waits_while_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
