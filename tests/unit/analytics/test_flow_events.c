/* test_flow_events.c - emergency readmissions within 30 days, A&E
 * attendances and the share admitted, and inpatients at a time
 * (analytics/flow.h, flow_events.c) over small hand-made persons, with the
 * expected figures worked out by hand in the comments; and the aggregate
 * tables' suppression and ratios (analytics/agg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/agg.h"
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

static struct analytics_item enc(const char *cls, const char *start, const char *end,
                                 const char *loc)
{
    struct analytics_item it = {.type = "Encounter",
                                .id = "e",
                                .source_org = "RVV",
                                .effective = start,
                                .end = end,
                                .status = end ? "finished" : "in-progress",
                                .cls = cls,
                                .location = loc};
    return it;
}

static struct analytics_person person(struct analytics_item *items, int n)
{
    struct analytics_person p = {.person_id = "p", .items = items, .nitems = n};
    return p;
}

static int has_line(const char *csv, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = csv; (p = strstr(p, line)) != NULL; p++)
        if ((p == csv || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

/* Window 1 October to 30 November 2026 (months 2026-10 and 2026-11).
 *   A: KCH stay 1-5 Oct (elective); A&E at KCH 20 Oct; QEQM stay 21-25 Oct
 *      (emergency: the day after the A&E attendance).  The 5 Oct discharge
 *      is readmitted (21 Oct is 16 days later); the 25 Oct one is not.
 *   B: KCH stays 28 Oct-1 Nov, 5-10 Nov (elective), and 10 Nov still in
 *      (admission source emd).  1 Nov: readmitted (10 Nov, 9 days; the 5 Nov
 *      stay is elective and does not count); 10 Nov: readmitted the same day.
 *   C: KCH stay 1-10 Oct, an elective stay 15-20 Oct (not a readmission),
 *      and an emergency stay 10 Dec (after the window: not seen).
 * KCH 2026-10: 2 discharges (A, C's first; C's second is also in October:
 * 3), 1 readmitted; QEQM 2026-10: 1, 0; KCH 2026-11: 2, 2. */
static void test_readmissions(void **state)
{
    (void)state;
    struct analytics_item a[] = {
        enc("IMP", "2026-10-01T10:00", "2026-10-05T10:00", "KCH, AMU"),
        enc("EMER", "2026-10-20T22:00", "2026-10-21T01:00", "KCH, AE"),
        enc("IMP", "2026-10-21T02:00", "2026-10-25T10:00", "QEQM, WARD2"),
    };
    struct analytics_item b[] = {
        enc("IMP", "2026-10-28", "2026-11-01", "KCH, AMU"),
        enc("IMP", "2026-11-05", "2026-11-10", "KCH, AMU"),
        enc("IMP", "2026-11-10", NULL, "KCH, AMU"),
    };
    b[2].admit = "emd";
    struct analytics_item c[] = {
        enc("IMP", "2026-10-01", "2026-10-10", "KCH, ELDER"),
        enc("IMP", "2026-10-15", "2026-10-20", "KCH, ELDER"),
        enc("IMP", "2026-12-10", NULL, "KCH, ELDER"),
    };
    c[2].admit = "emd";
    struct analytics_person pa = person(a, 3), pb = person(b, 3), pc = person(c, 3);
    assert_false(flow_emergency(&pa, &a[0], D("2026-10-01")));
    assert_true(flow_emergency(&pa, &a[2], D("2026-10-21")));
    assert_false(flow_emergency(&pb, &b[1], D("2026-11-05")));
    assert_true(flow_emergency(&pb, &b[2], D("2026-11-10")));

    struct agg g;
    int64_t from = D("2026-10-01"), to = D("2026-11-30");
    flow_readmissions_init(&g, from, to);
    assert_true(flow_readmissions_add(&g, &pa, from, to));
    assert_true(flow_readmissions_add(&g, &pb, from, to));
    assert_true(flow_readmissions_add(&g, &pc, from, to));
    /* tables: 0 discharges, 1 readmissions; columns 0 = 2026-10, 1 = 2026-11 */
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 0), 3);
    assert_int_equal(agg_get(&g, 1, "KCH", NULL, 0), 1);
    assert_int_equal(agg_get(&g, 0, "QEQM", NULL, 0), 1);
    assert_int_equal(agg_get(&g, 1, "QEQM", NULL, 0), 0);
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 1), 2);
    assert_int_equal(agg_get(&g, 1, "KCH", NULL, 1), 2);
    struct buf out = BUF_INIT;
    agg_csv(&g, &out);
    if (getenv("FLOW_DEBUG"))
        fputs(out.data, stderr);
    assert_true(!strncmp(out.data, "measure,site,period,value\n", 26));
    assert_true(has_line(out.data, "discharges,KCH,2026-10,*"));
    assert_true(has_line(out.data, "readmissions,QEQM,2026-10,0"));
    assert_true(has_line(out.data, "rate,KCH,2026-11,*"));
    assert_true(has_line(out.data, "rate,QEQM,2026-11,")); /* no discharges: no rate */
    buf_release(&out);
    agg_free(&g);

    /* the 30th day counts, the 31st does not; a readmission after the window
     * (to) is not seen */
    struct analytics_item d[] = {
        enc("IMP", "2026-10-01", "2026-10-02", "X, W"),
        enc("IMP", "2026-11-01", NULL, "X, W"),
    };
    d[1].admit = "emd";
    struct analytics_person pd = person(d, 2);
    flow_readmissions_init(&g, from, to);
    flow_readmissions_add(&g, &pd, from, to);
    assert_int_equal(agg_get(&g, 1, "X", NULL, 0), 1); /* 2 Oct + 30 = 1 Nov */
    agg_free(&g);
    d[1].effective = "2026-11-02";
    flow_readmissions_init(&g, from, to);
    flow_readmissions_add(&g, &pd, from, to);
    assert_int_equal(agg_get(&g, 0, "X", NULL, 0), 1);
    assert_int_equal(agg_get(&g, 1, "X", NULL, 0), 0); /* 31 days */
    agg_free(&g);
    d[1].effective = "2026-10-20";
    flow_readmissions_init(&g, from, D("2026-10-19"));
    flow_readmissions_add(&g, &pd, from, D("2026-10-19"));
    assert_int_equal(agg_get(&g, 1, "X", NULL, 0), 0); /* after the last day */
    agg_free(&g);
}

/* Rates are worked out from the figures as shown: 20 discharges and 10
 * readmitted show 20 and 10, 50.0%; 12 and 9 show 10 and 10, 100.0% (so the
 * rate gives nothing away the counts do not); the totals 32 and 19 show 30
 * and 20, 66.7%. */
static void test_rate_from_shown(void **state)
{
    (void)state;
    struct agg g;
    flow_readmissions_init(&g, D("2026-11-01"), D("2026-11-30"));
    agg_add(&g, 0, "A", NULL, 0, 20);
    agg_add(&g, 1, "A", NULL, 0, 10);
    agg_add(&g, 0, "B", NULL, 0, 12);
    agg_add(&g, 1, "B", NULL, 0, 9);
    struct buf out = BUF_INIT;
    agg_csv(&g, &out);
    if (getenv("FLOW_DEBUG"))
        fputs(out.data, stderr);
    assert_true(has_line(out.data, "rate,A,2026-11,50.0"));
    assert_true(has_line(out.data, "discharges,B,2026-11,10"));
    assert_true(has_line(out.data, "rate,B,2026-11,100.0"));
    assert_true(has_line(out.data, "rate,total,2026-11,66.7"));
    assert_true(has_line(out.data, "rate,total,total,66.7"));
    buf_release(&out);
    agg_free(&g);
}

/* A&E, 1-30 November at KCH: a walk-in on the 3rd admitted the next day; a
 * walk-in on the 5th sent home; an ambulance incident (EMER, coded 409971007)
 * is no attendance; an attendance entered in error is none; on the 30th
 * (the last day) an attendance whose admission is on 1 December is not seen
 * as admitted. */
static void test_ae(void **state)
{
    (void)state;
    struct analytics_item it[] = {
        enc("EMER", "2026-11-03T23:00", "2026-11-04T02:00", "KCH, AE"),
        enc("IMP", "2026-11-04T03:00", "2026-11-08", "KCH, AMU"),
        enc("EMER", "2026-11-05T10:00", "2026-11-05T12:00", "KCH, AE"),
        enc("EMER", "2026-11-06T10:00", "2026-11-06T11:00", NULL),
        enc("EMER", "2026-11-07T10:00", "2026-11-07T11:00", "KCH, AE"),
        enc("EMER", "2026-11-30T10:00", "2026-11-30T11:00", "KCH, AE"),
        enc("IMP", "2026-12-01T01:00", NULL, "KCH, AMU"),
    };
    const char *ems = "http://snomed.info/sct|409971007";
    it[3].codes[0] = ems;
    it[3].ncodes = 1;
    it[4].status = "entered-in-error";
    struct analytics_person p = person(it, 7);
    int64_t day;
    char site[128];
    assert_true(flow_ae_of(&it[0], &day, site));
    assert_string_equal(site, "KCH");
    assert_false(flow_ae_of(&it[3], &day, site));
    assert_false(flow_ae_of(&it[4], &day, site));
    assert_false(flow_ae_of(&it[1], &day, site));
    struct agg g;
    int64_t from = D("2026-11-01"), to = D("2026-11-30");
    flow_ae_init(&g, from, to);
    assert_true(flow_ae_add(&g, &p, from, to));
    /* tables: 0 attendances, 1 admitted (days), 2, 3 the same per month */
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 2), 1);
    assert_int_equal(agg_get(&g, 1, "KCH", NULL, 2), 1);
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 4), 1);
    assert_int_equal(agg_get(&g, 1, "KCH", NULL, 4), 0);
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 5), 0);
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 6), 0);
    assert_int_equal(agg_get(&g, 0, "KCH", NULL, 29), 1);
    assert_int_equal(agg_get(&g, 1, "KCH", NULL, 29), 0);
    assert_int_equal(agg_get(&g, 2, "KCH", NULL, 0), 3);
    assert_int_equal(agg_get(&g, 3, "KCH", NULL, 0), 1);
    agg_free(&g);
    /* the same attendances with the December admission inside the window */
    to = D("2026-12-01");
    flow_ae_init(&g, from, to);
    flow_ae_add(&g, &p, from, to);
    assert_int_equal(agg_get(&g, 1, "KCH", NULL, 29), 1);
    assert_int_equal(agg_get(&g, 3, "KCH", NULL, 0), 2); /* November */
    agg_free(&g);
    /* an ambulance incident alone counts no one */
    struct analytics_person q = person(&it[3], 1);
    flow_ae_init(&g, from, to);
    assert_false(flow_ae_add(&g, &q, from, to));
    agg_free(&g);
}

/* In hospital at 12:00 on 10 November 2026:
 *   admitted 10 Nov 10:00, still in           -> KCH/AMU, 0 days
 *   admitted 10 Nov 13:00                     -> not yet
 *   admitted 1 Nov, discharged 10 Nov 11:00   -> gone
 *   admitted 1 Nov, discharged 10 Nov 13:00   -> KCH/AMU, 9 days (7-13)
 *   admitted 1 Oct (a date), still in         -> KCH/ELDER, 40 days (21+)
 *   finished with no discharge time           -> not counted
 *   admitted 4 Nov 09:00, still in            -> QEQM/WARD7, 6 days (1-6) */
static void test_inpatients(void **state)
{
    (void)state;
    struct analytics_item it[] = {
        enc("IMP", "2026-11-10T10:00", NULL, "KCH, AMU"),
        enc("IMP", "2026-11-10T13:00", NULL, "KCH, AMU"),
        enc("IMP", "2026-11-01T10:00", "2026-11-10T11:00", "KCH, AMU"),
        enc("IMP", "2026-11-01T10:00", "2026-11-10T13:00", "KCH, AMU"),
        enc("IMP", "2026-10-01", NULL, "KCH, ELDER"),
        enc("IMP", "2026-10-01", NULL, "KCH, ELDER"),
        enc("IMP", "2026-11-04T09:00:00+00:00", NULL, "QEQM, WARD7"),
    };
    it[5].status = "finished";
    struct analytics_person p = person(it, 7);
    int64_t at;
    assert_true(flow_minute_parse("2026-11-10T12:00", &at));
    assert_int_equal(at, D("2026-11-10") * 1440 + 720);
    assert_false(flow_minute_parse("2026-11-10T25:00", &at));
    assert_false(flow_minute_parse("2026-11-10x", &at));
    assert_true(flow_minute_parse("2026-11-10T12:00", &at));
    struct agg g;
    flow_inpatients_init(&g);
    assert_true(flow_inpatients_add(&g, &p, at));
    assert_int_equal(agg_get(&g, 0, "KCH", "AMU", 0), 1);
    assert_int_equal(agg_get(&g, 0, "KCH", "AMU", 2), 1);
    assert_int_equal(agg_get(&g, 0, "KCH", "AMU", 1), 0);
    assert_int_equal(agg_get(&g, 0, "KCH", "ELDER", 4), 1);
    assert_int_equal(agg_get(&g, 0, "QEQM", "WARD7", 1), 1);
    int64_t all = 0;
    for (int b = 0; b < FLOW_NOW_BANDS; b++)
        all += agg_get(&g, 0, "KCH", "AMU", b) + agg_get(&g, 0, "KCH", "ELDER", b) +
               agg_get(&g, 0, "QEQM", "WARD7", b);
    assert_int_equal(all, 4);
    struct buf out = BUF_INIT;
    agg_csv(&g, &out);
    assert_true(!strncmp(out.data, "measure,site,ward,period,value\n", 31));
    assert_true(has_line(out.data, "inpatients,KCH,AMU,0,*"));
    assert_true(has_line(out.data, "inpatients,KCH,AMU,1-6,0"));
    assert_true(has_line(out.data, "inpatients,total,total,total,*"));
    buf_release(&out);
    agg_free(&g);
}

/* Months of a window, and a table without row totals (a caseload). */
static void test_months_and_tables(void **state)
{
    (void)state;
    char m[FLOW_MAX_MONTHS][8];
    int n = agg_months(D("2025-12-15"), D("2026-02-01"), m, FLOW_MAX_MONTHS);
    assert_int_equal(n, 3);
    assert_string_equal(m[0], "2025-12");
    assert_string_equal(m[2], "2026-02");
    assert_int_equal(agg_month_index(D("2025-12-15"), D("2026-01-31")), 1);
    assert_int_equal(agg_month_index(D("2025-12-15"), D("2025-12-01")), -1);
    assert_int_equal(agg_months(D("2025-11-30"), D("2026-11-30"), m, FLOW_MAX_MONTHS), 13);
    struct agg g;
    agg_init(&g, "organisation", "service");
    const char *cols[] = {"2026-01", "2026-02"};
    int t = agg_table(&g, "caseload", cols, 2, false);
    agg_add(&g, t, "RVV", "District nursing", 0, 30);
    agg_add(&g, t, "RVV", "District nursing", 1, 32);
    agg_add(&g, t, "RVV", "Home care", 1, 3);
    struct buf out = BUF_INIT;
    agg_csv(&g, &out);
    if (getenv("FLOW_DEBUG"))
        fputs(out.data, stderr);
    assert_true(!strncmp(out.data, "measure,organisation,service,period,value\n", 42));
    assert_true(has_line(out.data, "caseload,RVV,District nursing,2026-01,30"));
    assert_true(has_line(out.data, "caseload,RVV,Home care,2026-02,*"));
    /* the column's other cell goes too, and no total column is written */
    assert_true(has_line(out.data, "caseload,RVV,District nursing,2026-02,*"));
    assert_null(strstr(out.data, ",total,3"));
    assert_false(has_line(out.data, "caseload,RVV,District nursing,total,60"));
    assert_true(has_line(out.data, "caseload,total,total,2026-01,30"));
    buf_release(&out);
    agg_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readmissions),
        cmocka_unit_test(test_rate_from_shown),
        cmocka_unit_test(test_ae),
        cmocka_unit_test(test_inpatients),
        cmocka_unit_test(test_months_and_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
