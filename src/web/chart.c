/*
 * chart.c - server-rendered SVG trend charts (see chart.h).
 *
 * Layout: a plot area inside fixed margins (left for value labels, bottom
 * for date labels).  x is time in days (so uneven sampling shows as uneven
 * spacing, which is what a clinician needs to read a trend honestly); y is
 * the value, padded to round tick steps that include the reference range.
 * Colours are NHS palette colours with at least 3:1 contrast against white
 * (WCAG 2.1 non-text contrast); series also differ by marker shape, and
 * out-of-range points are drawn hollow and larger.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/chart.h"
#include "web/fmt.h"
#include "web/html.h"

static bool dig(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static long civil_days(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

bool chart_date_days(const char *iso, double *out)
{
    int y, m, d, hh = 0, mi = 0;
    if (!iso || !dig(iso, 4, &y) || iso[4] != '-' || !dig(iso + 5, 2, &m) || iso[7] != '-' ||
        !dig(iso + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    if (iso[10] == 'T' && dig(iso + 11, 2, &hh) && iso[13] == ':' && dig(iso + 14, 2, &mi)) {
        if (hh > 23 || mi > 59)
            hh = mi = 0;
    }
    *out = (double)civil_days(y, m, d) + (hh * 60 + mi) / 1440.0;
    return true;
}

static void days_to_civil(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

double chart_nice_step(double span, int target)
{
    if (!(span > 0) || !isfinite(span))
        return 1;
    if (target < 1)
        target = 1;
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nice * mag;
}

static const char *const mon_name[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Steps tried, smallest first: days, or months (a year is 12). */
static const struct {
    int days, months;
} tick_steps[] = {{1, 0},  {2, 0},  {7, 0},  {14, 0},  {0, 1},   {0, 2},   {0, 3},   {0, 6},
                  {0, 12}, {0, 24}, {0, 60}, {0, 120}, {0, 240}, {0, 600}, {0, 1200}};

/* Ticks of one step inside [xmin, xmax]; returns how many there would be
 * (only the first max are written when out is not NULL). */
static int ticks_of(int k, double xmin, double xmax, int max, struct chart_tick *out)
{
    int n = 0;
    long first = (long)ceil(xmin), last = (long)floor(xmax);
    if (tick_steps[k].days) {
        int step = tick_steps[k].days;
        long d = first;
        if (step == 7 || step == 14) /* weeks start on Monday (1970-01-05 was one) */
            while (((d - 4) % 7 + 7) % 7 != 0)
                d++;
        else
            d = (long)ceil((double)first / step) * step;
        int prev_year = 0;
        for (; d <= last; d += step, n++) {
            if (!out || n >= max)
                continue;
            int y, m, dd;
            days_to_civil(d, &y, &m, &dd);
            out[n].day = (double)d;
            if (n == 0 || y != prev_year)
                snprintf(out[n].label, sizeof out[n].label, "%d %s %d", dd, mon_name[m - 1], y);
            else
                snprintf(out[n].label, sizeof out[n].label, "%d %s", dd, mon_name[m - 1]);
            prev_year = y;
        }
        return n;
    }
    int step = tick_steps[k].months;
    int y, m, dd;
    days_to_civil(first, &y, &m, &dd);
    long idx = (long)y * 12 + (m - 1); /* months since year 0 */
    if (dd > 1)
        idx++;
    idx = (idx + step - 1) / step * step; /* aligned: Jan, Apr ... or 2020, 2025 ... */
    for (;; idx += step) {
        int ty = (int)(idx / 12), tm = (int)(idx % 12) + 1;
        long d = civil_days(ty, tm, 1);
        if (d > last)
            break;
        if (out && n < max) {
            out[n].day = (double)d;
            if (step % 12 == 0)
                snprintf(out[n].label, sizeof out[n].label, "%d", ty);
            else
                snprintf(out[n].label, sizeof out[n].label, "%s %d", mon_name[tm - 1], ty);
        }
        n++;
    }
    return n;
}

int chart_time_ticks(double xmin, double xmax, int max_ticks, struct chart_tick *out)
{
    if (!isfinite(xmin) || !isfinite(xmax) || max_ticks < 1)
        return 0;
    if (xmax < xmin) {
        double t = xmin;
        xmin = xmax;
        xmax = t;
    }
    int nsteps = (int)(sizeof tick_steps / sizeof tick_steps[0]);
    for (int k = 0; k < nsteps; k++) {
        int n = ticks_of(k, xmin, xmax, max_ticks, NULL);
        if (n >= 1 && n <= max_ticks)
            return ticks_of(k, xmin, xmax, max_ticks, out);
    }
    /* A range with no boundary inside it (under a day): its start. */
    int y, m, d;
    days_to_civil((long)floor(xmin), &y, &m, &d);
    out[0].day = xmin;
    snprintf(out[0].label, sizeof out[0].label, "%d %s %d", d, mon_name[m - 1], y);
    return 1;
}

static const char *const colours[] = {"#005eb8", "#7c2855", "#006747"};

static void marker(struct buf *b, int series, double x, double y, bool out_of_range,
                   const char *colour)
{
    double r = out_of_range ? 5.5 : 4;
    const char *fill = out_of_range ? "#ffffff" : colour;
    if (series % 2 == 0)
        buf_addf(b,
                 "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" stroke=\"%s\" "
                 "stroke-width=\"2\">",
                 x, y, r, fill, colour);
    else
        buf_addf(b,
                 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                 "stroke=\"%s\" stroke-width=\"2\">",
                 x - r, y - r, 2 * r, 2 * r, fill, colour);
}

static void marker_end(struct buf *b, int series)
{
    buf_adds(b, series % 2 == 0 ? "</circle>" : "</rect>");
}

struct pt {
    double x, v;
    const char *date;
};

static int cmp_pt(const void *a, const void *b)
{
    const struct pt *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

static void value_text(struct buf *b, double v)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.6g", v);
    buf_adds(b, tmp);
}

int chart_svg(struct buf *b, const struct chart_spec *spec)
{
    int W = spec->width > 0 ? spec->width : 640, H = spec->height > 0 ? spec->height : 240;
    const double ml = 64, mr = 16, mt = 16, mb = 40;
    double pw = W - ml - mr, ph = H - mt - mb;
    int ns = spec->nseries;
    struct pt **pts = xcalloc(ns > 0 ? (size_t)ns : 1, sizeof *pts);
    int *np = xcalloc(ns > 0 ? (size_t)ns : 1, sizeof *np);
    int total = 0, skipped = 0;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int s = 0; s < ns; s++) {
        const struct chart_series *se = &spec->series[s];
        pts[s] = xcalloc(se->npoints > 0 ? (size_t)se->npoints : 1, sizeof **pts);
        for (int i = 0; i < se->npoints; i++) {
            double x, v = se->points[i].value;
            if (!chart_date_days(se->points[i].date, &x) || !isfinite(v)) {
                skipped++;
                continue;
            }
            pts[s][np[s]++] = (struct pt){x, v, se->points[i].date};
            xmin = fmin(xmin, x), xmax = fmax(xmax, x);
            ymin = fmin(ymin, v), ymax = fmax(ymax, v);
        }
        qsort(pts[s], (size_t)np[s], sizeof **pts, cmp_pt);
        total += np[s];
    }
    if (total == 0) {
        html_addf(b, "<p class=\"nhsuk-body-s\">No values to chart for %s.</p>", spec->title);
        goto out;
    }
    if (spec->has_low)
        ymin = fmin(ymin, spec->ref_low);
    if (spec->has_high)
        ymax = fmax(ymax, spec->ref_high);
    if (ymax - ymin < 1e-9) {
        double pad = fabs(ymax) > 0 ? fabs(ymax) * 0.1 : 1;
        ymin -= pad, ymax += pad;
    }
    double step = chart_nice_step(ymax - ymin, 4);
    double y0 = floor(ymin / step) * step, y1 = ceil(ymax / step) * step;
    if (y1 - y0 < step)
        y1 = y0 + step;
    if (xmax - xmin < 1) {
        xmin -= 15;
        xmax += 15;
    }
    double span = xmax - xmin;
    xmin -= span * 0.03, xmax += span * 0.03;
#define X(x) (ml + ((x)-xmin) / (xmax - xmin) * pw)
#define Y(v) (mt + ph - ((v)-y0) / (y1 - y0) * ph)

    const char *id = spec->id ? spec->id : "chart";
    buf_addf(b,
             "<svg class=\"weft-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
             "role=\"img\" ",
             W, H);
    html_addf(b, "aria-labelledby=\"%s-title %s-desc\" focusable=\"false\">", id, id);
    html_addf(b, "<title id=\"%s-title\">%s%s%s%s</title>", id, spec->title, spec->unit ? " (" : "",
              spec->unit ? spec->unit : "", spec->unit ? ")" : "");

    /* The description: count, period, latest value(s), range. */
    struct buf desc = BUF_INIT;
    buf_addf(&desc, "%d value%s", total, total == 1 ? "" : "s");
    struct pt *any = NULL, *last = NULL;
    for (int s = 0; s < ns; s++)
        if (np[s]) {
            if (!any || pts[s][0].x < any->x)
                any = &pts[s][0];
            if (!last || pts[s][np[s] - 1].x > last->x)
                last = &pts[s][np[s] - 1];
        }
    buf_adds(&desc, " from ");
    fmt_date(&desc, any->date, false);
    buf_adds(&desc, " to ");
    fmt_date(&desc, last->date, false);
    buf_adds(&desc, ". Latest:");
    for (int s = 0; s < ns; s++) {
        if (!np[s])
            continue;
        const struct pt *lp = &pts[s][np[s] - 1];
        buf_addf(&desc, " %s%s", spec->series[s].label ? spec->series[s].label : "",
                 spec->series[s].label ? " " : "");
        value_text(&desc, lp->v);
        if (spec->unit)
            buf_addf(&desc, " %s", spec->unit);
        buf_adds(&desc, " on ");
        fmt_date(&desc, lp->date, false);
        buf_adds(&desc, ".");
    }
    if (spec->has_low || spec->has_high) {
        buf_adds(&desc, " Reference range ");
        if (spec->has_low && spec->has_high) {
            value_text(&desc, spec->ref_low);
            buf_adds(&desc, " to ");
            value_text(&desc, spec->ref_high);
        } else if (spec->has_low) {
            buf_adds(&desc, "above ");
            value_text(&desc, spec->ref_low);
        } else {
            buf_adds(&desc, "below ");
            value_text(&desc, spec->ref_high);
        }
        buf_adds(&desc, ".");
    }
    if (skipped)
        buf_addf(&desc, " %d value%s without a usable date or number not shown.", skipped,
                 skipped == 1 ? "" : "s");
    html_addf(b, "<desc id=\"%s-desc\">%s</desc>", id, desc.data);
    buf_release(&desc);

    buf_addf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>", W, H);
    /* Reference band. */
    if (spec->has_low || spec->has_high) {
        double lo = spec->has_low ? fmax(spec->ref_low, y0) : y0;
        double hi = spec->has_high ? fmin(spec->ref_high, y1) : y1;
        if (hi > lo)
            buf_addf(b,
                     "<rect class=\"weft-chart-range\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                     "height=\"%.1f\" fill=\"#e8f1f8\"><title>Reference range</title></rect>",
                     ml, Y(hi), pw, Y(lo) - Y(hi));
    }
    /* Horizontal grid and value labels. */
    for (double v = y0; v <= y1 + step / 2; v += step) {
        double y = Y(v);
        buf_addf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d8dde0\"/>",
                 ml, y, ml + pw, y);
        buf_addf(b,
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"13\" "
                 "fill=\"#212b32\">",
                 ml - 6, y + 4);
        value_text(b, fabs(v) < step * 1e-6 ? 0 : v);
        buf_adds(b, "</text>");
    }
    /* Date ticks at calendar boundaries (chart_time_ticks): as many as
     * fit without labels touching (about 90 units each). */
    struct chart_tick ticks[8];
    int maxt = (int)(pw / 90);
    if (maxt > 8)
        maxt = 8;
    if (maxt < 2)
        maxt = 2;
    int nt = chart_time_ticks(xmin, xmax, maxt, ticks);
    for (int i = 0; i < nt; i++) {
        double x = X(ticks[i].day);
        buf_addf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#4c6272\"/>", x,
                 mt + ph, x, mt + ph + 5);
        buf_addf(b,
                 "<text class=\"weft-chart-tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                 "font-size=\"13\" fill=\"#212b32\">%s</text>",
                 x, mt + ph + 20, ticks[i].label);
    }
    buf_addf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#4c6272\"/>", ml,
             mt + ph, ml + pw, mt + ph);
    buf_addf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#4c6272\"/>", ml,
             mt, ml, mt + ph);
    if (spec->unit)
        html_addf(b,
                  "<text x=\"12\" y=\"%.1f\" font-size=\"13\" fill=\"#212b32\" "
                  "transform=\"rotate(-90 12 %.1f)\" text-anchor=\"middle\">%s</text>",
                  mt + ph / 2, mt + ph / 2, spec->unit);
    /* Lines then markers, per series. */
    for (int s = 0; s < ns; s++) {
        const char *colour = colours[s % 3];
        /* one polyline per run of points no further apart than max_gap_days
         * (all of them when 0), so a gap in the data shows as a gap */
        for (int i = 0; i < np[s];) {
            int j = i + 1;
            while (j < np[s] &&
                   (spec->max_gap_days <= 0 || pts[s][j].x - pts[s][j - 1].x <= spec->max_gap_days))
                j++;
            if (j - i > 1) {
                buf_addf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                         colour);
                for (int k = i; k < j; k++)
                    buf_addf(b, "%s%.1f,%.1f", k > i ? " " : "", X(pts[s][k].x), Y(pts[s][k].v));
                buf_adds(b, "\"/>");
            }
            i = j;
        }
        for (int i = 0; i < np[s]; i++) {
            const struct pt *p = &pts[s][i];
            bool oor = (spec->has_low && p->v < spec->ref_low) ||
                       (spec->has_high && p->v > spec->ref_high);
            marker(b, s, X(p->x), Y(p->v), oor, colour);
            struct buf t = BUF_INIT;
            fmt_date(&t, p->date, false);
            buf_addf(&t, ": %s%s", spec->series[s].label ? spec->series[s].label : "",
                     spec->series[s].label ? " " : "");
            value_text(&t, p->v);
            if (spec->unit)
                buf_addf(&t, " %s", spec->unit);
            if (oor)
                buf_adds(&t, " (outside reference range)");
            html_addf(b, "<title>%s</title>", t.data);
            buf_release(&t);
            marker_end(b, s);
        }
    }
    /* Legend when more than one series. */
    if (ns > 1) {
        double lx = ml + 8;
        for (int s = 0; s < ns; s++) {
            marker(b, s, lx + 4, mt + 8, false, colours[s % 3]);
            marker_end(b, s);
            html_addf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#212b32\">%s</text>",
                      lx + 14, mt + 12, spec->series[s].label ? spec->series[s].label : "");
            lx += 110;
        }
    }
    buf_adds(b, "</svg>");
#undef X
#undef Y
out:
    for (int s = 0; s < ns; s++)
        free(pts[s]);
    free(pts);
    free(np);
    return total;
}

/* ---- bar charts ------------------------------------------------------------------ */

int chart_bars_svg(struct buf *b, const struct chart_bar_spec *spec)
{
    int W = spec->width > 0 ? spec->width : 640, H = spec->height > 0 ? spec->height : 240;
    const double ml = 64, mr = 16, mt = 16, mb = 48;
    double pw = W - ml - mr, ph = H - mt - mb;
    int n = spec->nbars > 0 ? spec->nbars : 0, drawn = 0;
    double ymax = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(spec->bars[i].value) && spec->bars[i].value > ymax)
            ymax = spec->bars[i].value;
    double step = chart_nice_step(ymax > 0 ? ymax : 1, 4);
    double y1 = ceil((ymax > 0 ? ymax : 1) / step) * step;
    struct buf desc = BUF_INIT;
    for (int i = 0; i < n; i++)
        buf_addf(&desc, "%s%s %s: %s", i ? "; " : "", spec->bars[i].label,
                 spec->x_label ? spec->x_label : "", spec->bars[i].text);
    if (spec->note)
        buf_addf(&desc, ". %s", spec->note);
    html_addf(b,
              "<svg class=\"weft-chart\" id=\"%s\" viewBox=\"0 0 %d %d\" role=\"img\" "
              "aria-label=\"%s\" aria-describedby=\"%s-desc\" focusable=\"false\" "
              "xmlns=\"http://www.w3.org/2000/svg\"><title>%s</title><desc id=\"%s-desc\">%s"
              "</desc>",
              spec->id, W, H, spec->title, spec->id, spec->title, spec->id, desc.data);
    buf_release(&desc);
    /* value axis: gridlines and labels */
    for (double v = 0; v <= y1 + step / 2; v += step) {
        double y = mt + ph - v / y1 * ph;
        html_addf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d8dde0\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" "
                  "fill=\"#4c6272\">",
                  ml, y, ml + pw, y, ml - 6, y + 4);
        value_text(b, v);
        html_raw(b, "</text>");
    }
    if (spec->y_label)
        html_addf(b,
                  "<text x=\"14\" y=\"%.1f\" font-size=\"12\" fill=\"#4c6272\" "
                  "transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">%s</text>",
                  mt + ph / 2, mt + ph / 2, spec->y_label);
    double slot = n ? pw / n : pw, bw = slot * 0.7;
    for (int i = 0; i < n; i++) {
        const struct chart_bar *bar = &spec->bars[i];
        double x = ml + slot * i + (slot - bw) / 2, cx = x + bw / 2;
        if (isfinite(bar->value) && bar->value >= 0) {
            double h = bar->value / y1 * ph;
            html_addf(b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"#005eb8\"><title>%s %s: %s</title></rect>",
                      x, mt + ph - h, bw, h, bar->label, spec->x_label ? spec->x_label : "",
                      bar->text);
            drawn++;
        }
        html_addf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                  "fill=\"#212b32\">%s</text>",
                  cx, isfinite(bar->value) ? mt + ph - bar->value / y1 * ph - 4 : mt + ph - 4,
                  bar->text);
        html_addf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                  "fill=\"#4c6272\">%s</text>",
                  cx, mt + ph + 16, bar->label);
    }
    html_addf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#4c6272\"/>", ml,
              mt + ph, ml + pw, mt + ph);
    if (spec->x_label)
        html_addf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                  "fill=\"#4c6272\">%s</text>",
                  ml + pw / 2, mt + ph + 36, spec->x_label);
    html_raw(b, "</svg>");
    /* the same figures as a table */
    html_addf(b,
              "<table class=\"nhsuk-table\" id=\"%s-table\"><caption class=\"nhsuk-table__"
              "caption\">%s (table)</caption><thead class=\"nhsuk-table__head\"><tr "
              "class=\"nhsuk-table__row\"><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
              "</tr></thead><tbody class=\"nhsuk-table__body\">",
              spec->id, spec->title, spec->x_label ? spec->x_label : "category",
              spec->y_label ? spec->y_label : "value");
    for (int i = 0; i < n; i++)
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\" class=\"nhsuk-table__cell\">"
                  "%s</th><td class=\"nhsuk-table__cell\">%s</td></tr>",
                  spec->bars[i].label, spec->bars[i].text);
    html_raw(b, "</tbody></table>");
    return drawn;
}
