/* test_service.c - service management (analytics/service.h) over one
 * hand-made person whose every item's expected place in the tables is
 * worked out in the comments. */
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
#include "analytics/read.h"
#include "analytics/service.h"
#include "core/buf.h"

static int64_t D(const char *s)
{
    int64_t d;
    assert_true(day_parse(s, &d));
    return d;
}

static struct analytics_item item(const char *type, const char *org, const char *status,
                                  const char *start, const char *end)
{
    struct analytics_item it = {.type = type,
                                .id = "x",
                                .source_org = org,
                                .status = status,
                                .effective = start,
                                .end = end};
    return it;
}

static int has_line(const char *csv, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = csv; (p = strstr(p, line)) != NULL; p++)
        if ((p == csv || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

/* The window 1 October to 15 November 2026: columns 0 (2026-10) and 1
 * (2026-11, its end the 15th). */
static void test_service(void **state)
{
    (void)state;
    struct analytics_item it[20];
    int n = 0;
    /* encounters: RVV inpatient in October; an RYC ambulance incident and an
     * RVV diabetes clinic visit in November; one entered in error and one
     * after the window not counted */
    it[n] = item("Encounter", "RVV", "finished", "2026-10-03T10:00", "2026-10-05");
    it[n++].cls = "IMP";
    it[n] = item("Encounter", "RYC", "finished", "2026-11-02T03:00", NULL);
    it[n].cls = "EMER";
    it[n].codes[0] = "http://snomed.info/sct|409971007";
    it[n++].ncodes = 1;
    it[n] = item("Encounter", "RVV", "finished", "2026-11-04T09:00", NULL);
    it[n].cls = "AMB";
    it[n++].service = "Diabetes clinic";
    it[n] = item("Encounter", "RVV", "entered-in-error", "2026-11-04", NULL);
    it[n++].cls = "IMP";
    it[n] = item("Encounter", "RVV", "finished", "2026-11-20", NULL);
    it[n++].cls = "IMP";
    /* appointments: attended at DIAB1 in October, missed in November, a
     * booked one not counted */
    it[n] = item("Appointment", "RVV", "fulfilled", "2026-10-10T09:00", NULL);
    it[n++].service = "DIAB1";
    it[n++] = item("Appointment", "RVV", "noshow", "2026-11-01T09:00", NULL);
    it[n++] = item("Appointment", "RVV", "booked", "2026-11-02T09:00", NULL);
    /* services: home care from KCC since September (open at both month
     * ends); another home care 20 Oct - 10 Nov (started in October, open at
     * the end of October only: the person is on KCC's home care caseload
     * once); district nursing at RYY started 5 Oct, finished with no end
     * date (not open) */
    it[n] = item("EpisodeOfCare", "KCCSC", "active", "2026-09-01", NULL);
    it[n].org = "KCC";
    it[n++].display = "Home care";
    it[n] = item("EpisodeOfCare", "KCCSC", "finished", "2026-10-20", "2026-11-10");
    it[n].org = "KCC";
    it[n++].display = "Home care";
    it[n] = item("EpisodeOfCare", "RYY", "finished", "2026-10-05", NULL);
    it[n++].display = "District nursing";
    /* referrals: RYY to RVV in November; a draft not counted */
    it[n] = item("ServiceRequest", "RYY", "active", "2026-11-03", NULL);
    it[n].org = "RYY";
    it[n].to_org = "RVV";
    it[n++].display = "Referral to physiotherapist";
    it[n] = item("ServiceRequest", "RYY", "draft", "2026-11-03", NULL);
    it[n++].display = "Referral to physiotherapist";
    struct analytics_person p = {.person_id = "p", .items = it, .nitems = n};

    struct agg g;
    int64_t from = D("2026-10-01"), to = D("2026-11-15");
    service_init(&g, from, to);
    assert_true(service_add(&g, &p, from, to));
    assert_int_equal(agg_get(&g, SERVICE_ENCOUNTERS, "RVV", "inpatient", 0), 1);
    assert_int_equal(agg_get(&g, SERVICE_ENCOUNTERS, "RVV", "inpatient", 1), 0);
    assert_int_equal(agg_get(&g, SERVICE_ENCOUNTERS, "RYC", "ambulance", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_ENCOUNTERS, "RYC", "A&E", 1), 0);
    assert_int_equal(agg_get(&g, SERVICE_ENCOUNTERS, "RVV", "Diabetes clinic", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_ATTENDED, "RVV", "DIAB1", 0), 1);
    assert_int_equal(agg_get(&g, SERVICE_MISSED, "RVV", "appointment", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_ATTENDED, "RVV", "appointment", 1), 0);
    assert_int_equal(agg_get(&g, SERVICE_STARTED, "KCC", "Home care", 0), 1);
    assert_int_equal(agg_get(&g, SERVICE_STARTED, "RYY", "District nursing", 0), 1);
    assert_int_equal(agg_get(&g, SERVICE_OPEN, "KCC", "Home care", 0), 2);
    assert_int_equal(agg_get(&g, SERVICE_OPEN, "KCC", "Home care", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_CASELOAD, "KCC", "Home care", 0), 1);
    assert_int_equal(agg_get(&g, SERVICE_CASELOAD, "KCC", "Home care", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_OPEN, "RYY", "District nursing", 0), 0);
    assert_int_equal(agg_get(&g, SERVICE_SENT, "RYY", "Referral to physiotherapist", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_RECEIVED, "RVV", "Referral to physiotherapist", 1), 1);
    assert_int_equal(agg_get(&g, SERVICE_RECEIVED, "RYY", "Referral to physiotherapist", 1), 0);

    /* the CSV: long form, small numbers withheld, no total column for the
     * month-end measures */
    struct buf out = BUF_INIT;
    agg_csv(&g, &out);
    if (getenv("FLOW_DEBUG"))
        fputs(out.data, stderr);
    assert_true(!strncmp(out.data, "measure,organisation,service,period,value\n", 42));
    assert_true(has_line(out.data, "encounters,RVV,inpatient,2026-10,*"));
    assert_true(has_line(out.data, "encounters,RVV,inpatient,total,*"));
    assert_true(has_line(out.data, "caseload,KCC,Home care,2026-11,*"));
    assert_false(has_line(out.data, "caseload,KCC,Home care,total,*"));
    assert_true(has_line(out.data, "referrals-received,total,total,total,*"));
    buf_release(&out);
    agg_free(&g);

    /* 11 more fulfilled DIAB1 appointments in October: 12, shown as 10 */
    struct analytics_item more[11];
    for (int i = 0; i < 11; i++) {
        more[i] = item("Appointment", "RVV", "fulfilled", "2026-10-12", NULL);
        more[i].service = "DIAB1";
    }
    struct analytics_person q = {.person_id = "q", .items = more, .nitems = 11};
    service_init(&g, from, to);
    service_add(&g, &p, from, to);
    service_add(&g, &q, from, to);
    buf_init(&out);
    agg_csv(&g, &out);
    assert_true(has_line(out.data, "appointments-attended,RVV,DIAB1,2026-10,10"));
    assert_true(has_line(out.data, "appointments-attended,total,total,total,10"));
    buf_release(&out);
    agg_free(&g);
    /* a person with nothing in the window is not counted */
    struct analytics_item late = item("Encounter", "RVV", "finished", "2026-12-01", NULL);
    struct analytics_person r = {.person_id = "r", .items = &late, .nitems = 1};
    service_init(&g, from, to);
    assert_false(service_add(&g, &r, from, to));
    agg_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_service)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
