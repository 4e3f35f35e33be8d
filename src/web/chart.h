/*
 * chart.h - SVG trend charts rendered by the server (no JavaScript).
 *
 * One chart shows one measure over time (HbA1c, eGFR, weight ...) or two
 * linked series (systolic and diastolic blood pressure).  The SVG is inline
 * in the page, scales to its container (viewBox), carries a <title> and a
 * <desc> summarising it in words for screen readers (role="img"), marks
 * the reference range as a shaded band and out-of-range points with a
 * distinct marker, and gives every point a <title> with its date and value.
 * Series are told apart by marker shape as well as colour.
 *
 * Pure: takes points, appends markup to a buffer.  Text from the record
 * (titles, units, labels) is escaped.
 */
#ifndef WEFT_WEB_CHART_H
#define WEFT_WEB_CHART_H

#include <stdbool.h>

#include "core/buf.h"

struct chart_point {
    const char *date; /* ISO 8601 date or dateTime (at least YYYY-MM-DD) */
    double value;
};

struct chart_series {
    const char *label; /* e.g. "Systolic"; NULL for a single unnamed series */
    const struct chart_point *points;
    int npoints;
};

struct chart_spec {
    const char *id;    /* unique element id prefix on the page: [A-Za-z0-9-] */
    const char *title; /* e.g. "HbA1c" */
    const char *unit;  /* e.g. "mmol/mol", may be NULL */
    const struct chart_series *series;
    int nseries; /* 1 or 2 are drawn distinctly; more share markers */
    bool has_low, has_high;
    double ref_low, ref_high; /* reference range band when has_low/has_high */
    int width, height;        /* viewBox size; 0 = 640 x 240 */
    double max_gap_days;      /* > 0: no line between points further apart (a gap in the
                                 data, e.g. withheld days); 0: every point joined */
};

/* Append the chart as an <svg> element.  Points with dates that do not parse
 * or non-finite values are skipped (counted in the description).  Returns the
 * number of points drawn; with 0 it appends a short "no values to chart"
 * paragraph instead of an SVG. */
int chart_svg(struct buf *b, const struct chart_spec *spec);

/* Days since 1970-01-01 (with the time of day as a fraction) of an ISO date
 * or dateTime; false when it does not parse.  Exposed for tests. */
bool chart_date_days(const char *iso, double *out);

/* Round-number tick step for a range: 1, 2 or 5 times a power of ten, so that
 * about target ticks cover span.  Exposed for tests. */
double chart_nice_step(double span, int target);

/* Date ticks for a time axis from xmin to xmax (days, as chart_date_days):
 * at calendar boundaries (days, weeks, months, quarters, years, decades),
 * the smallest step giving at most max_ticks ticks inside the range, each
 * labelled at the step's precision ("5 Mar", "Mar 2024", "2024"), so a
 * label never repeats and ticks are evenly spaced in time.  Fills out (at
 * most max_ticks) and returns the count (at least 1 for a usable range). */
struct chart_tick {
    double day;
    char label[24];
};
int chart_time_ticks(double xmin, double xmax, int max_ticks, struct chart_tick *out);

/*
 * A bar chart of counts by category (a distribution such as length of stay
 * in bands).  The <svg> has role="img" and aria-label naming the chart, a
 * <title> and a <desc> listing every bar; each bar has a <title> with its
 * label and value.  A bar whose count is withheld (suppressed small numbers)
 * is drawn as no bar, labelled with its text (e.g. "*").  Below the SVG a
 * table gives the same figures (the accessible alternative).  Pure.
 */
struct chart_bar {
    const char *label; /* category, e.g. "4-7" */
    const char *text;  /* the value as shown, e.g. "10" or "*" */
    double value;      /* the bar's height; NAN when withheld (text only) */
};

struct chart_bar_spec {
    const char *id;      /* unique element id prefix on the page: [A-Za-z0-9-] */
    const char *title;   /* e.g. "Length of stay" */
    const char *x_label; /* category axis, e.g. "days" */
    const char *y_label; /* value axis, e.g. "stays" */
    const char *note;    /* appended to the description (e.g. what "*" means), or NULL */
    const struct chart_bar *bars;
    int nbars;
    int width, height; /* viewBox size; 0 = 640 x 240 */
};

/* Append the chart and its table.  Returns the number of bars drawn. */
int chart_bars_svg(struct buf *b, const struct chart_bar_spec *spec);

#endif
