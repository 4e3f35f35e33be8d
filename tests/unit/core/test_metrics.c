/* test_metrics.c - the metrics registry: counters, gauges and histograms
 * render in the Prometheus text format (HELP, TYPE, cumulative buckets,
 * +Inf equal to _count), label values are escaped, undeclared names are
 * ignored, and concurrent updates are all counted. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/metrics.h"

static const double bounds[] = {0.1, 1, 10};

static void test_render(void **state)
{
    (void)state;
    metrics_define("t_requests_total", METRIC_COUNTER, "requests", NULL, 0);
    metrics_define("t_depth", METRIC_GAUGE, "depth", NULL, 0);
    metrics_define("t_seconds", METRIC_HISTOGRAM, "seconds", bounds, 3);
    metrics_add("t_requests_total", "code=\"200\"", 1);
    metrics_add("t_requests_total", "code=\"200\"", 2);
    metrics_add("t_requests_total", "code=\"404\"", 1);
    metrics_set("t_depth", "", 7);
    metrics_set("t_depth", "", 5);
    metrics_observe("t_seconds", "", 0.05);
    metrics_observe("t_seconds", "", 0.5);
    metrics_observe("t_seconds", "", 0.5);
    metrics_observe("t_seconds", "", 50);
    metrics_add("t_not_declared", "", 1); /* ignored */
    struct buf b = BUF_INIT;
    metrics_render(&b);
    assert_non_null(strstr(b.data, "# HELP t_requests_total requests\n"
                                   "# TYPE t_requests_total counter\n"
                                   "t_requests_total{code=\"200\"} 3\n"
                                   "t_requests_total{code=\"404\"} 1\n"));
    assert_non_null(strstr(b.data, "# TYPE t_depth gauge\nt_depth 5\n"));
    assert_non_null(strstr(b.data, "t_seconds_bucket{le=\"0.1\"} 1\n"
                                   "t_seconds_bucket{le=\"1\"} 3\n"
                                   "t_seconds_bucket{le=\"10\"} 3\n"
                                   "t_seconds_bucket{le=\"+Inf\"} 4\n"
                                   "t_seconds_sum 51.05\n"
                                   "t_seconds_count 4\n"));
    assert_null(strstr(b.data, "t_not_declared"));
    /* a metric with no series yet is not rendered (no HELP without samples) */
    metrics_define("t_unused", METRIC_COUNTER, "unused", NULL, 0);
    buf_reset(&b);
    metrics_render(&b);
    assert_null(strstr(b.data, "t_unused"));
    buf_release(&b);
}

static void test_label_escape(void **state)
{
    (void)state;
    char out[64];
    metrics_label_value(out, sizeof out, "a\"b\\c\nd");
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
}

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        metrics_add("t_parallel_total", "", 1);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    metrics_define("t_parallel_total", METRIC_COUNTER, "parallel", NULL, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct buf b = BUF_INIT;
    metrics_render(&b);
    assert_non_null(strstr(b.data, "\nt_parallel_total 40000\n"));
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
