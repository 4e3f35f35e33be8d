/*
 * flow.h - patient flow from ADT (issue 18): admissions and discharges per
 * day by site and ward, length of stay, midnight bed occupancy.
 *
 * Built from the Encounters that HL7 v2 ADT feeds store
 * (feeds/hl7_map_encounter.c): an inpatient stay is an Encounter of class
 * IMP whose period.start is the admission and period.end the discharge.
 * The Encounter keeps the ward it was last at (an A02 transfer replaces the
 * location), so a stay is counted, for every day of it, at its last known
 * site and ward.
 *
 * This module is pure arithmetic over stays: who may be counted (the
 * opt-out) is decided by the caller (secondary.c) before a stay gets here.
 */
#ifndef WEFT_ANALYTICS_FLOW_H
#define WEFT_ANALYTICS_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg;
struct analytics_item;
struct analytics_person;
struct buf;

#define FLOW_OPEN INT64_MAX /* a stay with no discharge yet */
#define FLOW_MAX_DAYS 366   /* the longest window */
#define FLOW_LOS_BANDS 7    /* 0, 1, 2-3, 4-7, 8-14, 15-21, 22+ days */

/* One inpatient stay: day numbers (analytics/day.h). */
struct flow_stay {
    const char *site, *ward;
    int64_t admitted;
    int64_t discharged;     /* FLOW_OPEN when still in */
    bool discharge_unknown; /* finished, but no discharge time recorded */
};

/*
 * The stay an item is, if it is one: an Encounter of class IMP, not planned,
 * cancelled or entered in error, with a readable period.start.  site and
 * ward point into the caller's buffers (each 128 bytes).  The location's
 * display is "FACILITY, WARD, room R, bed B, ..." (PV1-3 components 4, 1, 2,
 * 3 ...); the site is the facility (PV1-3.4), else the organisation that
 * sent the stay; the ward is PV1-3.1, else "ward unknown".
 */
bool flow_stay_of(const struct analytics_item *it, struct flow_stay *st, char site[128],
                  char ward[128]);

/* The site and ward of an Encounter's last location, by flow_stay_of's rule. */
void flow_place_of(const struct analytics_item *it, char site[128], char ward[128]);

/* Length of stay in days: midnights between admission and discharge. */
int64_t flow_los(const struct flow_stay *st);
/* The band (0 .. FLOW_LOS_BANDS-1) of a length of stay, and its label. */
int flow_los_band(int64_t los);
const char *flow_los_band_label(int band);
/* True when the stay holds a bed at midnight at the end of day d: admitted
 * on or before d and not discharged on or before d. */
bool flow_in_bed_at_midnight(const struct flow_stay *st, int64_t day);

/* The figures of a window of days [from, to], by site and ward (rows, in
 * the order first seen; flow_csv sorts). */
struct flow {
    int64_t from, to;
    int ndays, nrows;
    char **site, **ward;
    int64_t **adm, **dis, **occ; /* [row][day] */
    int64_t **los;               /* [row][band] for stays discharged in the window */
    int64_t **los_v;             /* [row][i] lengths of those stays, for medians */
    int64_t *los_n, *los_cap;
};

/* from <= to, at most FLOW_MAX_DAYS days apart (the caller checks). */
void flow_init(struct flow *f, int64_t from, int64_t to);
/* Count a stay; true when it falls in the window (admitted, discharged or
 * in a bed on some day of it). */
bool flow_add(struct flow *f, const struct flow_stay *st);
void flow_free(struct flow *f);
/* The row of a site and ward, made (with zeros) when it is not there. */
int flow_row(struct flow *f, const char *site, const char *ward);
/* Remove every row; the window stays. */
void flow_clear(struct flow *f);

/* Median of n lengths (sorted in place); 0 when n is 0. */
double flow_median(int64_t *v, int64_t n);

/*
 * The figures as CSV after small-number suppression (suppress.h), columns
 * measure,site,ward,period,value:
 *   admissions|discharges|occupancy, per site and ward and day (period a
 *     day, then "total"; occupancy's total is bed-days), then site and ward
 *     "total" for the column totals; each measure suppressed as one table;
 *   los, per site and ward: the length-of-stay bands of stays discharged
 *     in the window (one table), then "over-7", "over-14", "over-21" (each
 *     a single count, suppressed and rounded), then "median" (days, shown
 *     only when more than SUPPRESS_MAX stays make it up, else "*"; empty
 *     when there are none).
 * Sorts each row's lengths (los_v) in place for the medians.
 */
void flow_csv(const struct flow *f, struct buf *out);

/* The same figures, in the same order and as the same text, one call per CSV
 * line (without the header): how a page shows exactly what the CSV says. */
typedef void (*flow_figure_fn)(void *arg, const char *measure, const char *site, const char *ward,
                               const char *period, const char *value);
void flow_emit(const struct flow *f, flow_figure_fn fn, void *arg);

/* ---- readmissions, A&E and current inpatients (flow_events.c) --------------------
 *
 * Three more secondary outputs over the same Encounters, counted into
 * aggregate tables (agg.h) one cleared person at a time:
 *
 * A&E attendance: an Encounter of class EMER that is not an ambulance
 *   incident (coded 409971007 Emergency medical services), not planned,
 *   cancelled or entered in error, with a date; its site as a stay's.
 * Emergency admission: a stay (flow_stay_of) whose admission source is
 *   emergency (hospitalization.admitSource "emd"), or that began on the day
 *   of, or the day after, an A&E attendance of the same person (Weft's HL7
 *   v2 mapping stores no admission type or method, so arrival through A&E
 *   is the evidence; the risk lists use the same rule).
 */

/* True with *day and site when it is an A&E attendance. */
bool flow_ae_of(const struct analytics_item *it, int64_t *day, char site[128]);
/* True when the stay item it (flow_stay_of true, admitted on day admitted)
 * of p is an emergency admission. */
bool flow_emergency(const struct analytics_person *p, const struct analytics_item *it,
                    int64_t admitted);

#define FLOW_READMIT_DAYS 30
#define FLOW_MAX_MONTHS 13
#define FLOW_NOW_BANDS 5 /* days in so far: 0, 1-6, 7-13, 14-20, 21+ */

/* readmissions: key site; tables "discharges" and "readmissions" per month
 * of days [from, to] (YYYY-MM, a month cut by the window counts its part),
 * and the ratio "rate" (percent).  A discharge is a stay discharged on a
 * day in the window (a known discharge day); it is readmitted when the same
 * person has an emergency admission (another stay) on the discharge day or
 * up to FLOW_READMIT_DAYS days after it and no later than to.  Both are
 * counted at the site of the discharge. */
void flow_readmissions_init(struct agg *a, int64_t from, int64_t to);
/* Count p's discharges; true when p adds to a figure. */
bool flow_readmissions_add(struct agg *a, const struct analytics_person *p, int64_t from,
                           int64_t to);

/* ae: key site; "attendances" and "admitted" per day of [from, to], and
 * "attendances-monthly" and "admitted-monthly" per month; the ratios
 * "share-admitted" and "share-admitted-monthly" (percent).  An attendance
 * is admitted when the person has a stay that began on its day or the day
 * after (no later than to). */
void flow_ae_init(struct agg *a, int64_t from, int64_t to);
bool flow_ae_add(struct agg *a, const struct analytics_person *p, int64_t from, int64_t to);

/* inpatients: keys site and ward; one table "inpatients" whose columns are
 * the days in hospital so far at minute at (0, 1-6, 7-13, 14-20, 21+).  In
 * hospital at a minute: admitted at or before it and not discharged at or
 * before it (a time missing from a date is the start of the day; a
 * finished stay with no discharge time is not counted). */
void flow_inpatients_init(struct agg *a);
bool flow_inpatients_add(struct agg *a, const struct analytics_person *p, int64_t at);
/* The facts about an item that decide whether it is an inpatient at any
 * minute: false when it is never one (not a stay, a finished stay with no
 * discharge time, an unreadable time); else its admission minute *in, its
 * discharge minute *out (INT64_MAX while open), its admission day and its
 * site and ward. */
bool flow_inpatient_of(const struct analytics_item *it, int64_t *in, int64_t *out,
                       int64_t *admitted, char site[128], char ward[128]);
/* The days-in-so-far band at minute at of such a stay, or -1 when it is
 * not in hospital then. */
int flow_inpatient_band(int64_t in, int64_t out, int64_t admitted, int64_t at);
/* Minutes since 1970-01-01 of "YYYY-MM-DD[THH:MM...]" as written; false
 * when it does not start with a date (or has a bad time). */
bool flow_minute_parse(const char *s, int64_t *minute);
const char *flow_now_band_label(int band);

#endif
