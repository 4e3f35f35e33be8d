/*
 * service.c - service management (service.h).
 *
 * Workload: one person at a time; each item is looked at once, except an
 * open service, which is checked against each month end of the window (at
 * most FLOW_MAX_MONTHS).
 */
#include "analytics/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/agg.h"
#include "analytics/day.h"
#include "analytics/flow.h"
#include "analytics/read.h"
#include "core/buf.h"
#include "core/err.h"

#define EMS_CODE "http://snomed.info/sct|409971007"
#define NO_ORG "organisation unknown"

static const char *const names[SERVICE_NMEASURES] = {"encounters",          "appointments-attended",
                                                     "appointments-missed", "services-started",
                                                     "services-open",       "caseload",
                                                     "referrals-sent",      "referrals-received"};

void service_init(struct agg *a, int64_t from, int64_t to)
{
    agg_init(a, "organisation", "service");
    char months[FLOW_MAX_MONTHS][8];
    const char *labels[FLOW_MAX_MONTHS];
    int n = agg_months(from, to, months, FLOW_MAX_MONTHS);
    for (int i = 0; i < n; i++)
        labels[i] = months[i];
    for (int m = 0; m < SERVICE_NMEASURES; m++)
        agg_table(a, names[m], labels, n, m != SERVICE_OPEN && m != SERVICE_CASELOAD);
}

static bool is(const char *s, const char *v)
{
    return s && !strcmp(s, v);
}

const char *service_encounter_label(const struct analytics_item *it, char out[128])
{
    const char *l = it->service;
    if (!l && analytics_item_has(it, EMS_CODE))
        l = "ambulance";
    else if (!l)
        l = is(it->cls, "IMP")    ? "inpatient"
            : is(it->cls, "EMER") ? "A&E"
            : is(it->cls, "AMB")  ? "outpatient or community"
            : it->cls             ? it->cls
                                  : "encounter";
    snprintf(out, 128, "%s", l);
    return out;
}

/* The column of a day inside the window, else -1. */
static int month_col(int64_t from, int64_t to, const char *when)
{
    int64_t d;
    if (!when || !day_parse(when, &d) || d < from || d > to)
        return -1;
    return agg_month_index(from, d);
}

/* The last day of month column c of the window (the window's end for its last). */
static int64_t month_end(int64_t from, int64_t to, int c)
{
    int64_t d = agg_month_last(from, c);
    return d > to ? to : d;
}

static bool open_on(const struct analytics_item *it, int64_t day)
{
    const char *s = it->status;
    if (is(s, "planned") || is(s, "waitlist") || is(s, "cancelled") || is(s, "entered-in-error"))
        return false;
    int64_t start, end;
    if (!it->effective || !day_parse(it->effective, &start) || start > day)
        return false;
    if (it->end && day_parse(it->end, &end))
        return end > day;
    return !is(s, "finished");
}

bool service_add(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to)
{
    bool counted = false;
    int nmonths = agg_month_index(from, to) + 1;
    /* caseload: a person once per organisation, service and month */
    struct seen {
        const char *org, *svc;
        int col;
    } *seen = NULL;
    int nseen = 0;
    for (int i = 0; i < p->nitems; i++) {
        const struct analytics_item *it = &p->items[i];
        const char *org = it->source_org ? it->source_org : NO_ORG;
        char label[128];
        int c;
        if (is(it->type, "Encounter")) {
            if (is(it->status, "planned") || is(it->status, "cancelled") ||
                is(it->status, "entered-in-error") || (c = month_col(from, to, it->effective)) < 0)
                continue;
            agg_add(a, SERVICE_ENCOUNTERS, org, service_encounter_label(it, label), c, 1);
            counted = true;
        } else if (is(it->type, "Appointment")) {
            int m = is(it->status, "fulfilled") ? SERVICE_ATTENDED
                    : is(it->status, "noshow")  ? SERVICE_MISSED
                                                : -1;
            if (m < 0 || (c = month_col(from, to, it->effective)) < 0)
                continue;
            agg_add(a, m, org, it->service ? it->service : "appointment", c, 1);
            counted = true;
        } else if (is(it->type, "EpisodeOfCare")) {
            const char *o = it->org ? it->org : org;
            const char *svc = it->display ? it->display : "service";
            if (!is(it->status, "entered-in-error") && !is(it->status, "cancelled") &&
                (c = month_col(from, to, it->effective)) >= 0) {
                agg_add(a, SERVICE_STARTED, o, svc, c, 1);
                counted = true;
            }
            for (int k = 0; k < nmonths; k++) {
                if (!open_on(it, month_end(from, to, k)))
                    continue;
                agg_add(a, SERVICE_OPEN, o, svc, k, 1);
                bool dup = false;
                for (int j = 0; j < nseen && !dup; j++)
                    dup = seen[j].col == k && !strcmp(seen[j].org, o) && !strcmp(seen[j].svc, svc);
                if (!dup) {
                    seen = xrealloc(seen, (size_t)(nseen + 1) * sizeof *seen);
                    seen[nseen++] = (struct seen){o, svc, k};
                    agg_add(a, SERVICE_CASELOAD, o, svc, k, 1);
                }
                counted = true;
            }
        } else if (is(it->type, "ServiceRequest")) {
            if (is(it->status, "draft") || is(it->status, "entered-in-error") ||
                (c = month_col(from, to, it->effective)) < 0)
                continue;
            const char *svc = it->display ? it->display : "referral";
            agg_add(a, SERVICE_SENT, it->org ? it->org : org, svc, c, 1);
            if (it->to_org)
                agg_add(a, SERVICE_RECEIVED, it->to_org, svc, c, 1);
            counted = true;
        }
    }
    free(seen);
    return counted;
}
