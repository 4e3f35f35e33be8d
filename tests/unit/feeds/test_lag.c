/* test_lag.c - feed lag (feeds/lag.h): reading ISO dates and times, the
 * all-time and recent figures, future events, the event time chosen for a
 * FHIR resource, and the samples of a bundle (per resource, else
 * Bundle.timestamp once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "feeds/lag.h"
#include "store/feeds.h"

#define DAY_MS (24LL * 3600 * 1000)

static void test_epoch(void **state)
{
    (void)state;
    long long a, b;
    assert_true(feed_lag_epoch_ms("2026-11-24", &a));
    assert_true(feed_lag_epoch_ms("2026-11-24T00:00:00Z", &b));
    assert_true(a == b);
    assert_true(feed_lag_epoch_ms("2026-11-24T01:00:00+01:00", &b));
    assert_true(a == b);
    assert_true(feed_lag_epoch_ms("2026-11-24T00:00:00.250Z", &b));
    assert_true(b - a == 250);
    assert_true(feed_lag_epoch_ms("2026-11-24T10:00", &b));
    assert_true(b - a == 10 * 3600 * 1000LL);
    assert_false(feed_lag_epoch_ms("2026-11", &a)); /* coarser than a day */
    assert_false(feed_lag_epoch_ms("2026", &a));
    assert_false(feed_lag_epoch_ms("24/11/2026", &a));
    assert_false(feed_lag_epoch_ms("2026-13-01", &a));
    assert_false(feed_lag_epoch_ms("2026-11-24x", &a));
    assert_false(feed_lag_epoch_ms(NULL, &a));
    /* the cases the inbox's own parser (now gone) was tested with: lag of
     * an event with a zero offset, one in BST, one to the minute */
    assert_true(feed_lag_epoch_ms("2026-11-24T10:00:00+00:00", &a));
    assert_true(feed_lag_epoch_ms("2026-11-24T10:00:02.500Z", &b));
    assert_true(b - a == 2500);
    assert_true(feed_lag_epoch_ms("2026-06-24T11:00:00+01:00", &a));
    assert_true(feed_lag_epoch_ms("2026-06-24T10:01:00.000Z", &b));
    assert_true(b - a == 60000);
    assert_true(feed_lag_epoch_ms("2026-11-24T10:00", &a));
    assert_true(feed_lag_epoch_ms("2026-11-24T10:00:00.250Z", &b));
    assert_true(b - a == 250);
}

static void test_figures(void **state)
{
    (void)state;
    struct feed_lag l = {0};
    const char *arr = "2026-11-24T12:00:00.000Z";
    assert_true(feed_lag_add(&l, "2026-11-24T11:59:58Z", arr));  /* 2 s */
    assert_true(feed_lag_add(&l, "2026-11-20", arr));            /* 4.5 days: recent */
    assert_true(feed_lag_add(&l, "2021-11-24T12:00:00Z", arr));  /* 5 years: history */
    assert_true(feed_lag_add(&l, "2026-11-24T12:10:00Z", arr));  /* 10 min ahead: skew, 0 */
    assert_false(feed_lag_add(&l, "2026-12-10T09:30:00Z", arr)); /* a planned event */
    assert_false(feed_lag_add(&l, "garbage", arr));
    assert_int_equal(l.n, 4);
    assert_int_equal(l.recent_n, 3);
    long long five_years = 1826 * DAY_MS;
    assert_true(l.max_ms == five_years);
    assert_true(l.recent_max_ms == 4 * DAY_MS + DAY_MS / 2);
    assert_true(l.recent_sum_ms == 2000 + 4 * DAY_MS + DAY_MS / 2);
    assert_true(l.sum_ms == l.recent_sum_ms + five_years);
    /* exactly 7 days is still recent; a millisecond more is not */
    struct feed_lag m = {0};
    assert_true(feed_lag_add_ms(&m, FEED_LAG_RECENT_MS));
    assert_true(feed_lag_add_ms(&m, FEED_LAG_RECENT_MS + 1));
    assert_int_equal(m.n, 2);
    assert_int_equal(m.recent_n, 1);

    struct store_feed_counts c = {.lag_n = 1, .lag_sum_ms = 5, .lag_max_ms = 5};
    feed_lag_merge(&c, &l);
    assert_int_equal(c.lag_n, 5);
    assert_true(c.lag_max_ms == five_years);
    assert_int_equal(c.lag_recent_n, 3);
    assert_true(c.lag_recent_max_ms == l.recent_max_ms);
}

static json_t *res(const char *json)
{
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    assert_non_null(j);
    return j;
}

static void expect_time(const char *json, const char *want)
{
    json_t *r = res(json);
    char out[64];
    bool got = feed_lag_event_time(r, out, sizeof out);
    if (want) {
        assert_true(got);
        assert_string_equal(out, want);
    } else {
        assert_false(got);
    }
    json_decref(r);
}

static void test_event_time(void **state)
{
    (void)state;
    /* meta.lastUpdated first: when the sender's system changed it */
    expect_time(
        "{\"resourceType\":\"Condition\",\"meta\":{\"lastUpdated\":\"2026-11-24T09:00:00Z\"},"
        "\"recordedDate\":\"2026-11-20\",\"onsetDateTime\":\"1990-01-01\"}",
        "2026-11-24T09:00:00Z");
    /* then the time it was recorded, before the clinical time */
    expect_time("{\"resourceType\":\"Condition\",\"recordedDate\":\"2026-11-20\","
                "\"onsetDateTime\":\"1990-01-01\"}",
                "2026-11-20");
    expect_time("{\"resourceType\":\"Observation\",\"effectiveDateTime\":\"2026-11-23T08:00:00Z\"}",
                "2026-11-23T08:00:00Z");
    expect_time("{\"resourceType\":\"Encounter\",\"period\":{\"start\":\"2026-11-22T10:00:00Z\"}}",
                "2026-11-22T10:00:00Z");
    expect_time("{\"resourceType\":\"QuestionnaireResponse\",\"authored\":\"2026-03-02\"}",
                "2026-03-02");
    expect_time("{\"resourceType\":\"DocumentReference\",\"context\":{\"period\":{\"start\":"
                "\"2026-03-01\"}}}",
                "2026-03-01");
    /* a social care person's date recorded (extension) */
    expect_time(
        "{\"resourceType\":\"Patient\",\"birthDate\":\"1950-01-01\",\"extension\":[{\"url\":"
        "\"https://weft.nhs.uk/StructureDefinition/date-recorded\",\"valueDate\":"
        "\"2026-11-01\"}]}",
        "2026-11-01");
    /* birth and death are not events of the feed; a year alone is too coarse */
    expect_time("{\"resourceType\":\"Patient\",\"birthDate\":\"1950-01-01\","
                "\"deceasedDateTime\":\"2026-11-01T00:00:00Z\"}",
                NULL);
    expect_time("{\"resourceType\":\"Condition\",\"onsetDateTime\":\"1990\"}", NULL);
    expect_time("[]", NULL);
}

static void test_bundle(void **state)
{
    (void)state;
    const char *arr = "2026-11-24T12:00:00.000Z";
    json_t *b =
        res("{\"resourceType\":\"Bundle\",\"timestamp\":\"2026-11-24T11:00:00Z\",\"entry\":["
            "{\"resource\":{\"resourceType\":\"Patient\"}},"
            "{\"resource\":{\"resourceType\":\"Observation\",\"effectiveDateTime\":"
            "\"2026-11-24T11:59:00Z\"}},"
            "{\"resource\":{\"resourceType\":\"Condition\",\"onsetDateTime\":"
            "\"2016-11-24\"}}]}");
    struct feed_lag l = {0};
    assert_int_equal(feed_lag_add_bundle(&l, b, arr), 2); /* the Patient has no time */
    assert_int_equal(l.n, 2);
    assert_int_equal(l.recent_n, 1);
    assert_true(l.recent_max_ms == 60000);
    json_decref(b);
    /* no resource with a time: Bundle.timestamp counts once */
    b = res("{\"resourceType\":\"Bundle\",\"timestamp\":\"2026-11-24T11:00:00Z\",\"entry\":["
            "{\"resource\":{\"resourceType\":\"Patient\"}},"
            "{\"resource\":{\"resourceType\":\"Organization\"}}]}");
    struct feed_lag m = {0};
    assert_int_equal(feed_lag_add_bundle(&m, b, arr), 1);
    assert_true(m.max_ms == 3600 * 1000LL);
    json_decref(b);
    b = res(
        "{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\"}}]}");
    struct feed_lag z = {0};
    assert_int_equal(feed_lag_add_bundle(&z, b, arr), 0);
    assert_int_equal(z.n, 0);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_event_time),
        cmocka_unit_test(test_bundle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
