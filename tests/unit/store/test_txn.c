/* test_txn.c - the store's transaction object (src/store/store_txn.c,
 * store/txn.h): items kept and undone, a broken transaction rolled back whole
 * and refusing everything after, commit and rollback closing it, the object
 * of a transaction begun by store_begin(), store_txn_begin waiting for a
 * store another handle holds busy, and store_txn_run's retry rule: a unit
 * that met another writer rolled back whole and done again once, a second
 * race ending WEFT_EBUSY with nothing stored, each retry counted in
 * weft_store_retries_total (on PostgreSQL also a real deadlock between two
 * handles, redone). */
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

#include "core/buf.h"
#include "core/err.h"
#include "core/metrics.h"
#include "store/meta.h"
#include "store/store.h"
#include "store/store_int.h" /* s->raced: a backend meeting another writer */
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
    if (!fx || !(fx->s = open_handle()) || store_migrate(fx->s, &from, &to) != 0) {
        if (fx)
            store_close(fx->s);
        free(fx);
        return -1;
    }
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

/* ---- store_txn_run: the retry rule --------------------------------------- */

/* The value weft_store_retries_total{writer="<w>"} has now (0 when absent). */
static long retries(const char *w)
{
    struct buf b = BUF_INIT;
    metrics_render(&b);
    char key[96];
    snprintf(key, sizeof key, "weft_store_retries_total{writer=\"%s\"} ", w);
    const char *p = b.data ? strstr(b.data, key) : NULL;
    long v = p ? strtol(p + strlen(key), NULL, 10) : 0;
    buf_release(&b);
    return v;
}

/* A unit of work: writes test.unit = its attempt number, and (as a backend
 * does when another writer got in the way) marks the handle raced on the
 * attempts race_on says, returning rc_on_race then. */
struct unit {
    int calls;
    unsigned race_on; /* bit i: attempt i meets another writer */
    int rc_on_race;   /* what the work returns when it does (0: taken for its own) */
    int rc;           /* what it returns otherwise */
    bool in_txn;      /* every call ran inside an open transaction */
};

static int unit_work(struct store *s, void *arg, int attempt)
{
    struct unit *u = arg;
    assert_int_equal(attempt, u->calls);
    u->calls++;
    u->in_txn = u->in_txn && store_txn_current(s) != NULL;
    assert_false(store_raced(s)); /* cleared before each attempt */
    char v[8];
    snprintf(v, sizeof v, "%d", attempt);
    int rc = store_meta_set(s, "test.unit", v);
    if (rc != 0)
        return rc;
    if (u->race_on & (1u << attempt)) {
        s->raced = true;
        return u->rc_on_race;
    }
    return u->rc;
}

static void test_run_commits_once(void **state)
{
    struct fx *fx = *state;
    long before = retries("unit-a");
    struct unit u = {.in_txn = true};
    fx->s->raced = true; /* a race before the unit is not the unit's */
    assert_int_equal(store_txn_run(fx->s, "unit-a", unit_work, &u), 0);
    assert_int_equal(u.calls, 1);
    assert_true(u.in_txn);
    assert_null(store_txn_current(fx->s));
    assert_value(fx->s, "test.unit", "0");
    assert_int_equal(retries("unit-a"), before);
}

/* The first attempt met another writer, once taken for its own failure
 * (rc 0: an entry undone, the unit went on) and once failing: either way
 * it is rolled back whole and done again; the second attempt is what is
 * kept, and the retry is counted once. */
static void test_run_race_redone(void **state)
{
    struct fx *fx = *state;
    int rcs[] = {0, WEFT_EEXIST, WEFT_EBUSY, WEFT_ECONFLICT};
    for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
        assert_int_equal(store_meta_set(fx->s, "test.unit", "before"), 0);
        long before = retries("unit-b");
        struct unit u = {.race_on = 1u, .rc_on_race = rcs[i], .in_txn = true};
        assert_int_equal(store_txn_run(fx->s, "unit-b", unit_work, &u), 0);
        assert_int_equal(u.calls, 2);
        assert_true(u.in_txn);
        assert_value(fx->s, "test.unit", "1");
        assert_int_equal(retries("unit-b"), before + 1);
        assert_null(store_txn_current(fx->s));
    }
}

/* Both attempts met another writer: nothing of either is stored, and the
 * answer is "busy, try again" - not the work's own result. */
static void test_run_race_twice_busy(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(store_meta_set(fx->s, "test.unit", "before"), 0);
    long before = retries("unit-c");
    struct unit u = {.race_on = 3u, .rc_on_race = 0, .in_txn = true};
    assert_int_equal(store_txn_run(fx->s, "unit-c", unit_work, &u), WEFT_EBUSY);
    assert_int_equal(u.calls, 2);
    assert_value(fx->s, "test.unit", "before");
    assert_int_equal(retries("unit-c"), before + 1);
    assert_null(store_txn_current(fx->s));
    assert_non_null(strstr(store_errmsg(fx->s), "met another writer twice"));
    /* the handle is usable after */
    struct unit ok = {.in_txn = true};
    assert_int_equal(store_txn_run(fx->s, "unit-c", unit_work, &ok), 0);
    assert_value(fx->s, "test.unit", "0");
}

/* A failure that is no race (a refused unit) is rolled back and answered
 * as it is, never done again. */
static void test_run_failure_not_retried(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(store_meta_set(fx->s, "test.unit", "before"), 0);
    long before = retries("unit-d");
    struct unit u = {.rc = WEFT_EINVAL, .in_txn = true};
    assert_int_equal(store_txn_run(fx->s, "unit-d", unit_work, &u), WEFT_EINVAL);
    assert_int_equal(u.calls, 1);
    assert_value(fx->s, "test.unit", "before");
    assert_int_equal(retries("unit-d"), before);
    assert_null(store_txn_current(fx->s));
}

/* PostgreSQL: a real race.  This handle locks key 1 then key 2; another
 * locks key 2 then key 1 meanwhile: the database ends one of them with a
 * deadlock (this one, whose wait began first), which marks it raced; the
 * unit is rolled back, the other writer finishes, and the second attempt
 * takes both keys and commits. */
struct rival {
    struct store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage; /* 1: it holds key 2; 2: this unit waits for key 2 */
    int rc;
};

static void rival_wait(struct rival *r, int stage)
{
    pthread_mutex_lock(&r->mu);
    while (r->stage < stage)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static void rival_stage(struct rival *r, int stage)
{
    pthread_mutex_lock(&r->mu);
    r->stage = stage;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Lock key k now: the lock is sent with the handle's next statement
 * (deferred), so one read sends it and waits for it. */
static int lock_now(struct store *s, uint32_t k)
{
    int rc = store_lock_keys(s, &k, 1);
    char *v = NULL;
    if (rc == 0)
        rc = store_meta_get(s, "test.none", &v);
    free(v);
    return rc == WEFT_ENOTFOUND ? 0 : rc;
}

static void *rival_run(void *arg)
{
    struct rival *r = arg;
    struct store_txn t;
    int rc = store_txn_begin(&t, r->s);
    if (rc == 0)
        rc = lock_now(r->s, 2);
    rival_stage(r, 1);
    rival_wait(r, 2);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L}; /* the unit is waiting */
    nanosleep(&ts, NULL);
    if (rc == 0)
        rc = lock_now(r->s, 1); /* the cycle: one of the two is ended */
    if (rc == 0)
        rc = store_meta_set(r->s, "test.rival", "1");
    rc = rc == 0 ? store_txn_commit(&t) : (store_txn_rollback(&t), rc);
    r->rc = rc;
    return NULL;
}

static int deadlock_work(struct store *s, void *arg, int attempt)
{
    struct rival *r = arg;
    int rc = lock_now(s, 1);
    if (rc == 0 && attempt == 0) {
        rival_wait(r, 1);
        rival_stage(r, 2);
    }
    if (rc == 0)
        rc = lock_now(s, 2);
    if (rc == 0)
        rc = store_meta_set(s, "test.unit", attempt == 0 ? "first" : "second");
    return rc;
}

static void test_run_real_deadlock_redone(void **state)
{
    struct fx *fx = *state;
    if (strncmp(url, "postgres", 8) != 0)
        skip(); /* SQLite's writers take turns: they never meet */
    struct rival r = {
        .s = open_handle(), .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    assert_non_null(r.s);
    long before = retries("unit-e");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, rival_run, &r), 0);
    int rc = store_txn_run(fx->s, "unit-e", deadlock_work, &r);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    /* whichever the database ended, both writes are in: the unit's by its
     * second attempt when it was the one */
    char *v = get(fx->s, "test.unit");
    assert_non_null(v);
    if (r.rc == 0) {
        assert_string_equal(v, "second");
        assert_int_equal(retries("unit-e"), before + 1);
        assert_value(fx->s, "test.rival", "1");
    } else {
        assert_string_equal(v, "first"); /* the rival was ended: no retry here */
        assert_int_equal(retries("unit-e"), before);
    }
    free(v);
    store_close(r.s);
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
        cmocka_unit_test_setup_teardown(test_run_commits_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_race_redone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_race_twice_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_failure_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_real_deadlock_redone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
