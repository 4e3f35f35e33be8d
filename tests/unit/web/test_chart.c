/* test_chart.c - SVG trend charts: structure, accessibility text, scaling,
 * reference band, out-of-range markers, escaping, degenerate inputs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "web/chart.h"
#include "web/web_int.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The measures that get trend charts and a place in the summary recognise
 * the codes UK systems send: HbA1c in mmol/mol (IFCC, LOINC 59261-8) as
 * well as in %. */
static void test_measure_codes(void **state)
{
    (void)state;
    const struct web_measure *m = web_measure_find("hba1c");
    assert_non_null(m);
    assert_true(web_measure_has_code(m, "http://loinc.org|59261-8"));
    assert_true(web_measure_has_code(m, "http://loinc.org|4548-4"));
    assert_false(web_measure_has_code(m, "http://loinc.org|2345-7"));
    const struct web_measure *e = web_measure_find("egfr");
    assert_non_null(e);
    assert_true(web_measure_has_code(e, "http://loinc.org|33914-3"));
}

static void test_date_days(void **state)
{
    (void)state;
    double d;
    assert_true(chart_date_days("1970-01-01", &d));
    assert_true(d == 0);
    assert_true(chart_date_days("2000-03-01", &d));
    assert_true(d == 11017);
    assert_true(chart_date_days("2000-03-01T12:00:00Z", &d));
    assert_true(d == 11017.5);
    assert_false(chart_date_days("2000-3-1", &d));
    assert_false(chart_date_days("2000", &d));
    assert_false(chart_date_days(NULL, &d));
}

static void test_nice_step(void **state)
{
    (void)state;
    assert_true(chart_nice_step(100, 4) == 50);
    assert_true(chart_nice_step(7, 4) == 2);
    assert_true(fabs(chart_nice_step(0.9, 4) - 0.5) < 1e-12);
    assert_true(chart_nice_step(0, 4) == 1);
    assert_true(chart_nice_step(NAN, 4) == 1);
}

/* Issue 11: date ticks at calendar boundaries for any span, labels never
 * repeated, evenly spaced in time, at most the number asked for. */
static double day_of(const char *iso)
{
    double d = 0;
    assert_true(chart_date_days(iso, &d));
    return d;
}

static void ticks_sane(const char *from, const char *to, int max, int *n_out, struct chart_tick *t)
{
    double a = day_of(from), b = day_of(to);
    int n = chart_time_ticks(a, b, max, t);
    assert_true(n >= 1 && n <= max);
    for (int i = 0; i < n; i++) {
        assert_true(t[i].day >= a - 1e-9 && t[i].day <= b + 1e-9);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(t[i].label, t[k].label);
        if (i > 0)
            assert_true(t[i].day > t[i - 1].day);
    }
    *n_out = n;
}

static void test_time_ticks(void **state)
{
    (void)state;
    struct chart_tick t[8];
    int n;
    /* four years of HbA1c (issue 11 read "2022 2023 2024 2025 2025") */
    ticks_sane("2022-01-10", "2025-06-10", 4, &n, t);
    assert_int_equal(n, 3);
    assert_string_equal(t[0].label, "2023");
    assert_string_equal(t[2].label, "2025");
    assert_true(t[0].day == day_of("2023-01-01"));
    ticks_sane("2022-01-10", "2025-06-10", 6, &n, t); /* room for half years */
    assert_int_equal(n, 6);
    assert_string_equal(t[0].label, "Jul 2022");
    /* days */
    ticks_sane("2025-03-03", "2025-03-07", 6, &n, t);
    assert_int_equal(n, 5);
    assert_string_equal(t[0].label, "3 Mar 2025");
    assert_string_equal(t[1].label, "4 Mar");
    /* weeks, on Mondays */
    ticks_sane("2025-03-01", "2025-04-10", 6, &n, t);
    assert_string_equal(t[0].label, "3 Mar 2025");
    assert_true(t[1].day - t[0].day == 7);
    /* months */
    ticks_sane("2025-01-15", "2025-06-20", 6, &n, t);
    assert_int_equal(n, 5);
    assert_string_equal(t[0].label, "Feb 2025");
    assert_string_equal(t[4].label, "Jun 2025");
    /* quarters across a year end */
    ticks_sane("2024-08-01", "2025-09-01", 6, &n, t);
    assert_string_equal(t[0].label, "Oct 2024");
    assert_string_equal(t[1].label, "Jan 2025");
    /* decades */
    ticks_sane("1961-05-01", "2025-05-01", 6, &n, t);
    assert_string_equal(t[0].label, "1970");
    assert_string_equal(t[n - 1].label, "2020");
    ticks_sane("1901-05-01", "2025-05-01", 6, &n, t);
    assert_string_equal(t[0].label, "1920");
    /* under a day: its start */
    n = chart_time_ticks(day_of("2025-03-03") + 0.2, day_of("2025-03-03") + 0.4, 6, t);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].label, "3 Mar 2025");
    assert_int_equal(chart_time_ticks(NAN, 1, 6, t), 0);
}

static void test_single_series(void **state)
{
    (void)state;
    struct chart_point pts[] = {
        {"2023-01-10", 48}, {"2022-01-10", 41}, {"2024-01-10", 62}, {"bad-date", 50}};
    struct chart_series s = {NULL, pts, 4};
    struct chart_spec spec = {.id = "hba1c",
                              .title = "HbA1c <IFCC>",
                              .unit = "mmol/mol",
                              .series = &s,
                              .nseries = 1,
                              .has_low = true,
                              .has_high = true,
                              .ref_low = 20,
                              .ref_high = 41};
    struct buf b = BUF_INIT;
    assert_int_equal(chart_svg(&b, &spec), 3);
    assert_non_null(strstr(b.data, "<svg"));
    assert_non_null(strstr(b.data, "role=\"img\""));
    assert_non_null(strstr(b.data, "aria-labelledby=\"hba1c-title hba1c-desc\""));
    assert_non_null(
        strstr(b.data, "<title id=\"hba1c-title\">HbA1c &lt;IFCC&gt; (mmol/mol)</title>"));
    assert_null(strstr(b.data, "<IFCC>"));
    /* Description names the span, the latest value and the range in words. */
    assert_non_null(strstr(b.data,
                           "3 values from 10 Jan 2022 to 10 Jan 2024. Latest: 62 mmol/mol on "
                           "10 Jan 2024. Reference range 20 to 41. 1 value without a usable "
                           "date or number not shown."));
    assert_int_equal(count(b.data, "<circle"), 3);
    assert_int_equal(count(b.data, "<polyline"), 1);
    assert_int_equal(count(b.data, "outside reference range"), 2); /* 48 and 62 */
    assert_non_null(strstr(b.data, "class=\"weft-chart-range\""));
    /* Points are in date order along x: 2022 first. */
    const char *pl = strstr(b.data, "points=\"");
    assert_non_null(pl);
    double x1, y1, x2, y2;
    assert_int_equal(sscanf(pl, "points=\"%lf,%lf %lf,%lf", &x1, &y1, &x2, &y2), 4);
    assert_true(x1 < x2);
    assert_true(y1 > y2); /* 41 is lower on screen (bigger y) than 48 */
    assert_int_equal(count(b.data, "<svg"), count(b.data, "</svg>"));
    buf_release(&b);
}

static void test_two_series_bp(void **state)
{
    (void)state;
    struct chart_point sys[] = {{"2023-01-01", 150}, {"2023-06-01", 138}};
    struct chart_point dia[] = {{"2023-01-01", 95}, {"2023-06-01", 85}};
    struct chart_series s[] = {{"Systolic", sys, 2}, {"Diastolic", dia, 2}};
    struct chart_spec spec = {
        .id = "bp", .title = "Blood pressure", .unit = "mm[Hg]", .series = s, .nseries = 2};
    struct buf b = BUF_INIT;
    assert_int_equal(chart_svg(&b, &spec), 4);
    assert_int_equal(count(b.data, "<polyline"), 2);
    /* Two marker shapes (circles and squares) plus one of each in the legend. */
    assert_int_equal(count(b.data, "<circle"), 3);
    assert_int_equal(count(b.data, "<rect x=\"") - 1 /* background */, 3);
    assert_non_null(strstr(b.data, "Latest: Systolic 138 mm[Hg] on 1 Jun 2023. Diastolic 85"));
    /* Short span: month labels. */
    assert_non_null(strstr(b.data, " 2023</text>"));
    buf_release(&b);
}

static void test_degenerate(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    struct chart_spec spec = {.id = "x", .title = "Weight <kg>", .series = NULL, .nseries = 0};
    assert_int_equal(chart_svg(&b, &spec), 0);
    assert_string_equal(b.data,
                        "<p class=\"nhsuk-body-s\">No values to chart for Weight &lt;kg&gt;.</p>");
    buf_reset(&b);
    /* One point and constant values still make a finite chart. */
    struct chart_point one[] = {{"2020-05-05", 70}};
    struct chart_series s = {NULL, one, 1};
    spec.series = &s;
    spec.nseries = 1;
    assert_int_equal(chart_svg(&b, &spec), 1);
    assert_null(strstr(b.data, "nan"));
    assert_null(strstr(b.data, "inf"));
    assert_int_equal(count(b.data, "<polyline"), 0);
    buf_reset(&b);
    struct chart_point nanpts[] = {{"2020-05-05", NAN}, {"2020-06-05", INFINITY}};
    s.points = nanpts;
    s.npoints = 2;
    assert_int_equal(chart_svg(&b, &spec), 0);
    buf_release(&b);
}

/* The bar chart (length-of-stay histogram): labelled for screen readers,
 * one <rect> per shown count, withheld counts drawn as no bar but named,
 * the same figures in a table, text escaped. */
static void test_bars(void **state)
{
    (void)state;
    struct chart_bar bars[] = {
        {"0", "0", 0}, {"2-3", "*", NAN}, {"4-7", "10", 10}, {"<22>", "25", 25}};
    struct chart_bar_spec spec = {.id = "los",
                                  .title = "Length of stay & more",
                                  .x_label = "days",
                                  .y_label = "stays",
                                  .note = "* means 1 to 7",
                                  .bars = bars,
                                  .nbars = 4};
    struct buf b = BUF_INIT;
    assert_int_equal(chart_bars_svg(&b, &spec), 3);
    const char *s = b.data;
    assert_non_null(strstr(s, "role=\"img\""));
    assert_non_null(strstr(s, "aria-label=\"Length of stay &amp; more\""));
    assert_non_null(strstr(s, "<title>Length of stay &amp; more</title>"));
    assert_non_null(strstr(s, "<desc id=\"los-desc\">0 days: 0; 2-3 days: *; 4-7 days: 10; "
                              "&lt;22&gt; days: 25. * means 1 to 7</desc>"));
    assert_int_equal(count(s, "<rect "), 3);
    assert_non_null(strstr(s, "<title>4-7 days: 10</title></rect>"));
    assert_null(strstr(s, "<title>2-3 days"));
    assert_null(strstr(s, "<22>"));
    /* the tallest bar reaches the top gridline: 25 on an axis to 30 (step 10) */
    assert_non_null(strstr(s, ">30</text>"));
    assert_non_null(strstr(s, "<table class=\"nhsuk-table\" id=\"los-table\">"));
    assert_non_null(strstr(s, "<th scope=\"row\" class=\"nhsuk-table__cell\">2-3</th><td "
                              "class=\"nhsuk-table__cell\">*</td>"));
    assert_int_equal(count(s, "<th scope=\"row\""), 4);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure_codes), cmocka_unit_test(test_date_days),
        cmocka_unit_test(test_nice_step),     cmocka_unit_test(test_time_ticks),
        cmocka_unit_test(test_single_series), cmocka_unit_test(test_two_series_bp),
        cmocka_unit_test(test_degenerate),    cmocka_unit_test(test_bars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
