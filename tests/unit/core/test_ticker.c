/* test_ticker.c - core/ticker.h: open once, runs until stopped or until a
 * run asks to end, close once (also when open fails, never a run then);
 * ticker_stop interrupts a long wait at once and lets a run in progress
 * finish; the wait a run asks for is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/ticker.h"

struct counts {
    atomic_int opens, runs, closes;
    int fail_open;
    int end_after; /* a run returns -1 once this many have run (0: never) */
    long wait_ms;
    int slow_run_ms; /* each run takes this long */
    atomic_int in_run;
};

static int c_open(void *arg)
{
    struct counts *c = arg;
    c->opens++;
    return c->fail_open ? -1 : 0;
}

static long c_run(void *arg)
{
    struct counts *c = arg;
    c->in_run = 1;
    if (c->slow_run_ms)
        usleep((useconds_t)c->slow_run_ms * 1000);
    int n = ++c->runs;
    c->in_run = 0;
    return c->end_after && n >= c->end_after ? -1 : c->wait_ms;
}

static void c_close(void *arg)
{
    struct counts *c = arg;
    assert_int_equal(c->in_run, 0); /* never while a run is going */
    c->closes++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 2000 && *v < want; i++)
        usleep(5000);
}

static void test_stop_interrupts_long_wait(void **state)
{
    (void)state;
    struct counts c = {.wait_ms = 600000};
    struct ticker_job job = {"test", c_open, c_run, c_close, &c, 0};
    struct ticker *t;
    assert_int_equal(ticker_start(&t, &job), 0);
    wait_for(&c.runs, 1);
    assert_int_equal(c.runs, 1); /* ran at once, now waits ten minutes */
    double t0 = now_s();
    ticker_stop(t);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(c.opens, 1);
    assert_int_equal(c.runs, 1);
    assert_int_equal(c.closes, 1);
}

static void test_runs_repeat_with_wait(void **state)
{
    (void)state;
    struct counts c = {.wait_ms = 20};
    struct ticker_job job = {"test", c_open, c_run, c_close, &c, 0};
    struct ticker *t;
    double t0 = now_s();
    assert_int_equal(ticker_start(&t, &job), 0);
    wait_for(&c.runs, 5);
    double took = now_s() - t0;
    ticker_stop(t);
    assert_true(c.runs >= 5);
    assert_true(took >= 0.075); /* four waits of 20 ms between five runs */
    assert_int_equal(c.closes, 1);
}

static void test_first_wait_and_end(void **state)
{
    (void)state;
    struct counts c = {.wait_ms = 0, .end_after = 3};
    struct ticker_job job = {"test", c_open, c_run, c_close, &c, 600000};
    struct ticker *t;
    assert_int_equal(ticker_start(&t, &job), 0);
    usleep(100000);
    assert_int_equal(c.runs, 0); /* still in the first wait */
    ticker_stop(t);
    assert_int_equal(c.runs, 0);
    assert_int_equal(c.closes, 1);
    /* a run asking to end: exactly end_after runs, then close, without stop */
    struct counts d = {.wait_ms = 1, .end_after = 3};
    struct ticker_job j2 = {"test", c_open, c_run, c_close, &d, 0};
    assert_int_equal(ticker_start(&t, &j2), 0);
    wait_for(&d.closes, 1);
    assert_int_equal(d.runs, 3);
    assert_int_equal(d.closes, 1);
    ticker_stop(t);
    assert_int_equal(d.runs, 3);
    assert_int_equal(d.closes, 1);
}

static void test_open_fails(void **state)
{
    (void)state;
    struct counts c = {.fail_open = 1, .wait_ms = 1};
    struct ticker_job job = {"test", c_open, c_run, c_close, &c, 0};
    struct ticker *t;
    assert_int_equal(ticker_start(&t, &job), 0);
    wait_for(&c.closes, 1);
    ticker_stop(t);
    assert_int_equal(c.opens, 1);
    assert_int_equal(c.runs, 0);
    assert_int_equal(c.closes, 1);
    ticker_stop(NULL);
}

static void test_stop_lets_run_finish(void **state)
{
    (void)state;
    struct counts c = {.wait_ms = 0, .slow_run_ms = 200};
    struct ticker_job job = {"test", c_open, c_run, NULL, &c, 0};
    struct ticker *t;
    assert_int_equal(ticker_start(&t, &job), 0);
    wait_for(&c.in_run, 1);
    ticker_stop(t); /* joins after the run in progress */
    assert_int_equal(c.in_run, 0);
    assert_true(c.runs >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_interrupts_long_wait),
        cmocka_unit_test(test_runs_repeat_with_wait),
        cmocka_unit_test(test_first_wait_and_end),
        cmocka_unit_test(test_open_fails),
        cmocka_unit_test(test_stop_lets_run_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
