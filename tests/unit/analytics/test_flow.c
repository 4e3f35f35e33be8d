/* test_flow.c - patient flow from ADT (analytics/flow.h): which Encounters
 * are stays and where (site and ward from the stored location), length of
 * stay and its bands, midnight occupancy, admissions and discharges per day
 * in a window, and the suppressed CSV. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/day.h"
#include "analytics/flow.h"
#include "analytics/read.h"
#include "core/buf.h"

static int64_t D(const char *s)
{
    int64_t d;
    assert_true(day_parse(s, &d));
    return d;
}

static struct analytics_item enc(const char *cls, const char *status, const char *start,
                                 const char *end, const char *loc)
{
    struct analytics_item it = {.type = "Encounter",
                                .id = "e",
                                .source_org = "RVV",
                                .effective = start,
                                .end = end,
                                .status = status,
                                .cls = cls,
                                .location = loc};
    return it;
}

static void test_stay_of(void **state)
{
    (void)state;
    struct flow_stay st;
    char site[128], ward[128];
    struct analytics_item it =
        enc("IMP", "finished", "2026-11-01T10:00:00", "2026-11-04T09:00:00", "KCH, WARD1, room B2");
    assert_true(flow_stay_of(&it, &st, site, ward));
    assert_string_equal(st.site, "KCH");
    assert_string_equal(st.ward, "WARD1");
    assert_int_equal(st.admitted, D("2026-11-01"));
    assert_int_equal(st.discharged, D("2026-11-04"));
    assert_int_equal(flow_los(&st), 3);
    /* no facility: the sender is the site */
    it = enc("IMP", "in-progress", "2026-11-01", NULL, "AMU, bed 4");
    assert_true(flow_stay_of(&it, &st, site, ward));
    assert_string_equal(st.site, "RVV");
    assert_string_equal(st.ward, "AMU");
    assert_true(st.discharged == FLOW_OPEN);
    assert_false(st.discharge_unknown);
    it = enc("IMP", "in-progress", "2026-11-01", NULL, NULL);
    assert_true(flow_stay_of(&it, &st, site, ward));
    assert_string_equal(st.ward, "ward unknown");
    /* finished with no discharge time */
    it = enc("IMP", "finished", "2026-11-01", NULL, "X, Y");
    assert_true(flow_stay_of(&it, &st, site, ward));
    assert_true(st.discharge_unknown);
    assert_false(flow_in_bed_at_midnight(&st, D("2026-11-01")));
    /* not stays */
    it = enc("EMER", "finished", "2026-11-01", "2026-11-01", "X, AE");
    assert_false(flow_stay_of(&it, &st, site, ward));
    it = enc("AMB", "finished", "2026-11-01", "2026-11-01", "X, OPD");
    assert_false(flow_stay_of(&it, &st, site, ward));
    it = enc("IMP", "entered-in-error", "2026-11-01", NULL, "X, Y");
    assert_false(flow_stay_of(&it, &st, site, ward));
    it = enc("IMP", "planned", "2026-11-01", NULL, "X, Y");
    assert_false(flow_stay_of(&it, &st, site, ward));
    it = enc("IMP", "finished", "2026-11-05", "2026-11-01", "X, Y"); /* ends before it starts */
    assert_false(flow_stay_of(&it, &st, site, ward));
    it = enc("IMP", "finished", NULL, "2026-11-01", "X, Y");
    assert_false(flow_stay_of(&it, &st, site, ward));
    it = enc("IMP", "finished", "2026-11-01", "2026-11-02", "X, Y");
    it.type = "Observation";
    assert_false(flow_stay_of(&it, &st, site, ward));
}

static void test_los_and_midnight(void **state)
{
    (void)state;
    const int64_t los[] = {0, 1, 2, 3, 4, 7, 8, 14, 15, 21, 22, 400};
    const int band[] = {0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};
    for (size_t i = 0; i < sizeof los / sizeof los[0]; i++)
        assert_int_equal(flow_los_band(los[i]), band[i]);
    assert_string_equal(flow_los_band_label(4), "8-14");
    /* admitted the 1st, discharged the 3rd: in a bed at midnight on the 1st
     * and 2nd, not the 3rd; a day case holds no bed at midnight */
    struct flow_stay st = {"S", "W", D("2026-11-01"), D("2026-11-03"), false};
    assert_false(flow_in_bed_at_midnight(&st, D("2026-10-31")));
    assert_true(flow_in_bed_at_midnight(&st, D("2026-11-01")));
    assert_true(flow_in_bed_at_midnight(&st, D("2026-11-02")));
    assert_false(flow_in_bed_at_midnight(&st, D("2026-11-03")));
    struct flow_stay day_case = {"S", "W", D("2026-11-01"), D("2026-11-01"), false};
    assert_int_equal(flow_los(&day_case), 0);
    assert_false(flow_in_bed_at_midnight(&day_case, D("2026-11-01")));
    struct flow_stay open = {"S", "W", D("2026-11-01"), FLOW_OPEN, false};
    assert_true(flow_in_bed_at_midnight(&open, D("2027-01-01")));
    int64_t v[] = {9, 1, 5, 3};
    assert_true(flow_median(v, 4) == 4.0);
    int64_t w[] = {9, 1, 5};
    assert_true(flow_median(w, 3) == 5.0);
}

static void test_window(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, D("2026-11-01"), D("2026-11-07"));
    assert_int_equal(f.ndays, 7);
    /* before the window, discharged in it: occupancy and discharge only */
    struct flow_stay a = {"S", "W1", D("2026-10-20"), D("2026-11-03"), false};
    /* inside: admitted the 2nd, discharged the 5th */
    struct flow_stay b = {"S", "W1", D("2026-11-02"), D("2026-11-05"), false};
    /* still in at the end */
    struct flow_stay c = {"S", "W2", D("2026-11-06"), FLOW_OPEN, false};
    /* after the window, and long before it: not counted */
    struct flow_stay d = {"S", "W2", D("2026-11-08"), FLOW_OPEN, false};
    struct flow_stay e = {"S", "W2", D("2026-09-01"), D("2026-09-10"), false};
    assert_true(flow_add(&f, &a));
    assert_true(flow_add(&f, &b));
    assert_true(flow_add(&f, &c));
    assert_false(flow_add(&f, &d));
    assert_false(flow_add(&f, &e));
    assert_int_equal(f.nrows, 2);
    const int64_t adm1[] = {0, 1, 0, 0, 0, 0, 0}, dis1[] = {0, 0, 1, 0, 1, 0, 0};
    const int64_t occ1[] = {1, 2, 1, 1, 0, 0, 0}, occ2[] = {0, 0, 0, 0, 0, 1, 1};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(f.adm[0][i], adm1[i]);
        assert_int_equal(f.dis[0][i], dis1[i]);
        assert_int_equal(f.occ[0][i], occ1[i]);
        assert_int_equal(f.occ[1][i], occ2[i]);
    }
    assert_int_equal(f.adm[1][5], 1);
    /* lengths of stays discharged in the window: 14 (8-14) and 3 (2-3) */
    assert_int_equal(f.los[0][4], 1);
    assert_int_equal(f.los[0][2], 1);
    assert_int_equal(f.los_n[0], 2);
    assert_int_equal(f.los_n[1], 0);
    flow_free(&f);
}

static int has_line(const char *csv, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = csv; (p = strstr(p, line)) != NULL; p++)
        if ((p == csv || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void test_csv(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, D("2026-11-01"), D("2026-11-02"));
    /* ward BIG: 20 admitted on the 1st and still in; SMALL: 3 for a day;
     * TINY: 4 still in */
    for (int i = 0; i < 20; i++) {
        struct flow_stay s = {"KCH", "BIG", D("2026-11-01"), FLOW_OPEN, false};
        flow_add(&f, &s);
    }
    for (int i = 0; i < 3; i++) {
        struct flow_stay s = {"KCH", "SMALL", D("2026-11-01"), D("2026-11-02"), false};
        flow_add(&f, &s);
    }
    for (int i = 0; i < 4; i++) {
        struct flow_stay s = {"QEQM", "TINY", D("2026-11-01"), FLOW_OPEN, false};
        flow_add(&f, &s);
    }
    struct buf b = BUF_INIT;
    flow_csv(&f, &b);
    const char *csv = b.data;
    if (getenv("FLOW_DEBUG"))
        fputs(csv, stderr);
    assert_true(!strncmp(csv, "measure,site,ward,period,value\n", 31));
    assert_true(has_line(csv, "admissions,KCH,BIG,2026-11-01,20"));
    assert_true(has_line(csv, "admissions,KCH,SMALL,2026-11-01,*"));
    assert_true(has_line(csv, "admissions,QEQM,TINY,2026-11-01,*"));
    assert_true(has_line(csv, "admissions,total,total,2026-11-01,25")); /* 27 */
    /* SMALL's only discharges: the day's total (3) would show it, so it goes too */
    assert_true(has_line(csv, "discharges,total,total,2026-11-02,*"));
    assert_true(has_line(csv, "admissions,KCH,BIG,2026-11-02,0"));
    assert_true(has_line(csv, "discharges,KCH,SMALL,2026-11-02,*"));
    assert_true(has_line(csv, "occupancy,total,total,2026-11-02,25")); /* 27 */
    assert_true(has_line(csv, "occupancy,total,total,total,50"));
    assert_true(has_line(csv, "occupancy,KCH,BIG,total,40"));
    assert_true(has_line(csv, "los,KCH,SMALL,1,*"));
    assert_true(has_line(csv, "los,KCH,SMALL,median,*"));
    assert_true(has_line(csv, "los,KCH,BIG,median,"));
    assert_false(strstr(csv, ",3\n") != NULL); /* no small count shown anywhere */
    buf_release(&b);
    flow_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stay_of),
        cmocka_unit_test(test_los_and_midnight),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
