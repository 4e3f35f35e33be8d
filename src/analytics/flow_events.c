/*
 * flow_events.c - readmissions, A&E attendances and current inpatients
 * (flow.h), counted into aggregate tables (agg.h).
 *
 * Workload: one person at a time; a person's Encounters are tens at most,
 * so comparing each stay with the person's other stays and attendances is
 * a few hundred comparisons a person.
 */
#include "analytics/flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/agg.h"
#include "analytics/day.h"
#include "analytics/read.h"
#include "core/buf.h"
#include "core/err.h"

#define EMS_CODE "http://snomed.info/sct|409971007"

static bool excluded_status(const char *s)
{
    return s &&
           (!strcmp(s, "planned") || !strcmp(s, "cancelled") || !strcmp(s, "entered-in-error"));
}

bool flow_ae_of(const struct analytics_item *it, int64_t *day, char site[128])
{
    if (!it->type || strcmp(it->type, "Encounter") != 0 || !it->cls ||
        strcmp(it->cls, "EMER") != 0 || excluded_status(it->status) ||
        analytics_item_has(it, EMS_CODE))
        return false;
    if (!it->effective || !day_parse(it->effective, day))
        return false;
    char ward[128];
    flow_place_of(it, site, ward);
    return true;
}

bool flow_emergency(const struct analytics_person *p, const struct analytics_item *it,
                    int64_t admitted)
{
    if (it->admit && !strcmp(it->admit, "emd"))
        return true;
    for (int i = 0; i < p->nitems; i++) {
        int64_t d;
        char site[128];
        if (flow_ae_of(&p->items[i], &d, site) && (admitted == d || admitted == d + 1))
            return true;
    }
    return false;
}

/* ---- readmissions ----------------------------------------------------------------- */

enum { RA_DIS, RA_READ };

static void month_tables(struct agg *a, int64_t from, int64_t to, const char *m1, const char *m2)
{
    char months[FLOW_MAX_MONTHS][8];
    const char *labels[FLOW_MAX_MONTHS];
    int n = agg_months(from, to, months, FLOW_MAX_MONTHS);
    for (int i = 0; i < n; i++)
        labels[i] = months[i];
    agg_table(a, m1, labels, n, true);
    agg_table(a, m2, labels, n, true);
}

void flow_readmissions_init(struct agg *a, int64_t from, int64_t to)
{
    agg_init(a, "site", NULL);
    month_tables(a, from, to, "discharges", "readmissions");
    agg_ratio(a, "rate", RA_READ, RA_DIS);
}

struct pstay {
    struct flow_stay st;
    char site[128], ward[128];
    bool emergency;
};

/* The person's stays (caller frees). */
static struct pstay *stays_of(const struct analytics_person *p, int *n)
{
    struct pstay *v = xmalloc((size_t)(p->nitems ? p->nitems : 1) * sizeof *v);
    *n = 0;
    for (int i = 0; i < p->nitems; i++) {
        struct pstay *s = &v[*n];
        if (!flow_stay_of(&p->items[i], &s->st, s->site, s->ward))
            continue;
        s->st.site = s->site;
        s->st.ward = s->ward;
        s->emergency = flow_emergency(p, &p->items[i], s->st.admitted);
        (*n)++;
    }
    return v;
}

bool flow_readmissions_add(struct agg *a, const struct analytics_person *p, int64_t from,
                           int64_t to)
{
    int n;
    struct pstay *v = stays_of(p, &n);
    bool counted = false;
    for (int i = 0; i < n; i++) {
        const struct flow_stay *s = &v[i].st;
        if (s->discharge_unknown || s->discharged == FLOW_OPEN || s->discharged < from ||
            s->discharged > to)
            continue;
        int col = agg_month_index(from, s->discharged);
        agg_add(a, RA_DIS, s->site, NULL, col, 1);
        agg_touch(a, RA_READ, s->site, NULL);
        bool again = false;
        for (int j = 0; j < n && !again; j++)
            again = j != i && v[j].emergency && v[j].st.admitted >= s->discharged &&
                    v[j].st.admitted <= s->discharged + FLOW_READMIT_DAYS && v[j].st.admitted <= to;
        if (again)
            agg_add(a, RA_READ, s->site, NULL, col, 1);
        counted = true;
    }
    free(v);
    return counted;
}

/* ---- A&E -------------------------------------------------------------------------- */

enum { AE_ATT, AE_ADM, AE_ATT_M, AE_ADM_M };

void flow_ae_init(struct agg *a, int64_t from, int64_t to)
{
    agg_init(a, "site", NULL);
    int nd = (int)(to - from + 1);
    char(*days)[11] = xcalloc((size_t)nd, sizeof *days);
    const char **labels = xcalloc((size_t)nd, sizeof *labels);
    for (int i = 0; i < nd; i++)
        labels[i] = day_text(from + i, days[i]);
    agg_table(a, "attendances", labels, nd, true);
    agg_table(a, "admitted", labels, nd, true);
    free(labels);
    free(days);
    month_tables(a, from, to, "attendances-monthly", "admitted-monthly");
    agg_ratio(a, "share-admitted", AE_ADM, AE_ATT);
    agg_ratio(a, "share-admitted-monthly", AE_ADM_M, AE_ATT_M);
}

bool flow_ae_add(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to)
{
    bool counted = false;
    int n = -1;
    struct pstay *v = NULL;
    for (int i = 0; i < p->nitems; i++) {
        int64_t d;
        char site[128];
        if (!flow_ae_of(&p->items[i], &d, site) || d < from || d > to)
            continue;
        if (!v)
            v = stays_of(p, &n);
        bool admitted = false;
        for (int j = 0; j < n && !admitted; j++)
            admitted =
                (v[j].st.admitted == d || v[j].st.admitted == d + 1) && v[j].st.admitted <= to;
        int col = (int)(d - from), mcol = agg_month_index(from, d);
        agg_add(a, AE_ATT, site, NULL, col, 1);
        agg_add(a, AE_ATT_M, site, NULL, mcol, 1);
        agg_touch(a, AE_ADM, site, NULL);
        agg_touch(a, AE_ADM_M, site, NULL);
        if (admitted) {
            agg_add(a, AE_ADM, site, NULL, col, 1);
            agg_add(a, AE_ADM_M, site, NULL, mcol, 1);
        }
        counted = true;
    }
    free(v);
    return counted;
}

/* ---- current inpatients ------------------------------------------------------------ */

static const char *const now_labels[FLOW_NOW_BANDS] = {"0", "1-6", "7-13", "14-20", "21+"};

const char *flow_now_band_label(int band)
{
    return band >= 0 && band < FLOW_NOW_BANDS ? now_labels[band] : "";
}

bool flow_minute_parse(const char *s, int64_t *minute)
{
    int64_t day;
    if (!s || !day_parse(s, &day))
        return false;
    int h = 0, m = 0;
    if (s[10] == 'T' || s[10] == ' ') {
        if (sscanf(s + 11, "%2d:%2d", &h, &m) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
            return false;
    } else if (s[10] != '\0') {
        return false;
    }
    *minute = day * 1440 + h * 60 + m;
    return true;
}

void flow_inpatients_init(struct agg *a)
{
    agg_init(a, "site", "ward");
    agg_table(a, "inpatients", now_labels, FLOW_NOW_BANDS, true);
}

bool flow_inpatient_of(const struct analytics_item *it, int64_t *in, int64_t *out,
                       int64_t *admitted, char site[128], char ward[128])
{
    struct flow_stay st;
    if (!flow_stay_of(it, &st, site, ward) || st.discharge_unknown ||
        !flow_minute_parse(it->effective, in))
        return false;
    *out = INT64_MAX;
    if (st.discharged != FLOW_OPEN && !flow_minute_parse(it->end, out))
        return false;
    *admitted = st.admitted;
    return true;
}

int flow_inpatient_band(int64_t in, int64_t out, int64_t admitted, int64_t at)
{
    if (in > at || out <= at)
        return -1;
    int64_t days = at / 1440 - admitted;
    return days < 1 ? 0 : days < 7 ? 1 : days < 14 ? 2 : days < 21 ? 3 : 4;
}

bool flow_inpatients_add(struct agg *a, const struct analytics_person *p, int64_t at)
{
    bool counted = false;
    for (int i = 0; i < p->nitems; i++) {
        char site[128], ward[128];
        int64_t in, out, admitted;
        if (!flow_inpatient_of(&p->items[i], &in, &out, &admitted, site, ward))
            continue;
        int band = flow_inpatient_band(in, out, admitted, at);
        if (band < 0)
            continue;
        agg_add(a, 0, site, ward, band, 1);
        counted = true;
    }
    return counted;
}
