/*
 * analytics_flow.c - the patient flow page (secondary use; analytics/flow.h):
 *
 *   GET /analytics/flow[?from=YYYY-MM-DD&as-of=YYYY-MM-DD]
 *       admissions, discharges and midnight occupancy per day by site and
 *       ward, length of stay; a chart of admissions per day and a
 *       length-of-stay histogram
 *       and, for the same window, emergency readmissions within 30 days by
 *       site and month, A&E attendances and the share admitted by site per
 *       day and month, and inpatients by ward (now, or at the end of the
 *       as-of day when one is given)
 *   GET /analytics/flow?format=csv[&output=flow|readmissions|ae|inpatients]
 *       [&from=..&as-of=..]
 *       the same CSV as `weft analytics secondary --output OUTPUT` (flow
 *       when no output is named)
 *
 * For roles with the policy capability secondary-use (authz_secondary_use:
 * ANALYST, PLANNER).  The figures are the stored figures of the "flow" output
 * and the three others for the window (analytics_view_get, analytics/refresh.h:
 * written by `weft analytics refresh`, or computed by the first view of a
 * window and kept), never computed again on each view: only
 * people on the national data opt-out list in force are counted, the page
 * refuses (saying why) when no list is in force or it has expired, and
 * small numbers are suppressed exactly as in the CSV (the page shows the
 * figures flow_emit gives, the same text as the CSV's).  Every view is
 * audited (action read, or export for CSV; what "secondary:flow from=..
 * as-of=.. output=N", count the people counted) and recorded as an output
 * for the compliance report; a view whose audit entry cannot be written is
 * not shown.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/authz.h"
#include "analytics/day.h"
#include "analytics/flow.h"
#include "analytics/refresh.h"
#include "analytics/secondary.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "web/admin.h"
#include "web/analytics_agg.h"
#include "web/chart.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

/* ---- the figures, as the flow CSV has them (flow_csv's lines) --------------------- */
struct fig {
    char *measure, *site, *ward, *period, *value;
};
struct figs {
    struct fig *v;
    int n, cap;
};

static void collect(void *arg, int nf, char **v)
{
    struct figs *f = arg;
    if (nf != 5 || !strcmp(v[0], "measure")) /* the header */
        return;
    const char *measure = v[0], *site = v[1], *ward = v[2], *period = v[3], *value = v[4];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 256;
        f->v = xrealloc(f->v, (size_t)f->cap * sizeof *f->v);
    }
    f->v[f->n++] = (struct fig){xstrdup(measure), xstrdup(site), xstrdup(ward), xstrdup(period),
                                xstrdup(value)};
}

static void figs_free(struct figs *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->v[i].measure);
        free(f->v[i].site);
        free(f->v[i].ward);
        free(f->v[i].period);
        free(f->v[i].value);
    }
    free(f->v);
}

static bool same_row(const struct fig *a, const struct fig *b)
{
    return !strcmp(a->site, b->site) && !strcmp(a->ward, b->ward);
}

/* One measure as a table: a row per site and ward (in the CSV's order), a
 * column per period (in order of first appearance). */
static void measure_table(struct buf *b, const struct figs *f, const char *measure,
                          const char *caption, const char *id)
{
    const char **cols = NULL;
    int ncols = 0;
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].measure, measure))
            continue;
        bool seen = false;
        for (int c = 0; c < ncols && !seen; c++)
            seen = !strcmp(cols[c], f->v[i].period);
        if (!seen) {
            cols = xrealloc(cols, (size_t)(ncols + 1) * sizeof *cols);
            cols[ncols++] = f->v[i].period;
        }
    }
    html_addf(b,
              "<div class=\"weft-scroll\" role=\"region\" aria-labelledby=\"%s-cap\" "
              "tabindex=\"0\"><table class=\"nhsuk-table\" id=\"%s\"><caption "
              "class=\"nhsuk-table__caption\" id=\"%s-cap\">%s</caption><thead "
              "class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\"><th scope=\"col\">Site"
              "</th><th scope=\"col\">Ward</th>",
              id, id, id, caption);
    for (int c = 0; c < ncols; c++)
        html_addf(b, "<th scope=\"col\">%s</th>", cols[c]);
    html_raw(b, "</tr></thead><tbody class=\"nhsuk-table__body\">");
    /* rows: a site and ward's figures of this measure (the los extras come
     * after the band table, so a row is gathered from all its lines) */
    const struct fig **rows = NULL;
    int nrows = 0;
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].measure, measure))
            continue;
        bool seen = false;
        for (int r = 0; r < nrows && !seen; r++)
            seen = same_row(rows[r], &f->v[i]);
        if (!seen) {
            rows = xrealloc(rows, (size_t)(nrows + 1) * sizeof *rows);
            rows[nrows++] = &f->v[i];
        }
    }
    for (int r = 0; r < nrows; r++) {
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\" class=\"nhsuk-table__cell\">"
                  "%s</th><td class=\"nhsuk-table__cell\">%s</td>",
                  rows[r]->site, rows[r]->ward);
        for (int c = 0; c < ncols; c++) {
            const char *v = "";
            for (int i = 0; i < f->n; i++)
                if (!strcmp(f->v[i].measure, measure) && same_row(&f->v[i], rows[r]) &&
                    !strcmp(f->v[i].period, cols[c])) {
                    v = f->v[i].value;
                    break;
                }
            html_addf(b, "<td class=\"nhsuk-table__cell\" data-period=\"%s\">%s</td>", cols[c], v);
        }
        html_raw(b, "</tr>");
    }
    html_raw(b, "</tbody></table></div>");
    free(rows);
    free(cols);
}

static const char *total_of(const struct figs *f, const char *measure, const char *period)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].measure, measure) && !strcmp(f->v[i].site, "total") &&
            !strcmp(f->v[i].ward, "total") && !strcmp(f->v[i].period, period))
            return f->v[i].value;
    return NULL;
}

static double shown_value(const char *v)
{
    if (!v || !*v || !strcmp(v, "*"))
        return NAN;
    return strtod(v, NULL);
}

static void form(struct buf *b, const char *from, const char *as_of, const char *error)
{
    analytics_window_form(b, "/analytics/flow", from, as_of, error);
}

/* The readmissions, A&E and inpatients sections (outputs x[0..2]). */
static void render_more(struct buf *b, const struct analytics_view *x, const char *from,
                        const char *as_of)
{
    struct agg_figs f;
    struct buf href = BUF_INIT;
    /* readmissions */
    agg_figs_parse(x[0].csv, &f);
    html_raw(b, "<h2 id=\"readmissions\">Emergency readmissions within 30 days</h2>");
    html_addf(b,
              "<p>Stays discharged in the window, by the site and month of discharge, and how "
              "many were followed by an emergency admission of the same person within 30 days "
              "(up to the last day). The rate is worked out from the figures as shown. %lld "
              "people counted. Computed at <time datetime=\"%s\">%s</time>.</p>",
              (long long)x[0].counted, x[0].computed, x[0].computed);
    html_url_addf(&href, "/analytics/flow?format=csv&output=readmissions&from=%s&as-of=%s", from,
                  as_of);
    html_addf(b, "<p><a href=\"%s\">Download the readmission figures (CSV)</a></p>", href.data);
    int nm = 0;
    struct chart_bar bars[16];
    for (int i = 0; i < f.n && nm < 16; i++)
        if (!strcmp(f.v[i].measure, "rate") && !strcmp(f.v[i].k1, "total") &&
            strcmp(f.v[i].period, "total") != 0)
            bars[nm++] =
                (struct chart_bar){f.v[i].period, f.v[i].value, agg_figs_value(f.v[i].value)};
    struct chart_bar_spec rs = {.id = "readmissions-chart",
                                .title = "Emergency readmission rate by month of discharge",
                                .x_label = "month",
                                .y_label = "per cent",
                                .note = "* means withheld (a count of 1 to 7 behind it)",
                                .bars = bars,
                                .nbars = nm};
    chart_bars_svg(b, &rs);
    agg_figs_table(b, &f, "discharges", "Stays discharged, by month", "readmissions");
    agg_figs_table(b, &f, "readmissions", "Of which readmitted as an emergency within 30 days",
                   "readmissions");
    agg_figs_table(b, &f, "rate", "Readmission rate (per cent)", "readmissions");
    agg_figs_free(&f);
    /* A&E */
    agg_figs_parse(x[1].csv, &f);
    html_raw(b, "<h2 id=\"ae\">A&amp;E attendances and the share admitted</h2>");
    html_addf(b,
              "<p>Attendances at emergency departments (not ambulance incidents) by site, and "
              "how many were followed by an admission that day or the next. %lld people counted. "
              "Computed at <time datetime=\"%s\">%s</time>.</p>",
              (long long)x[1].counted, x[1].computed, x[1].computed);
    buf_reset(&href);
    html_url_addf(&href, "/analytics/flow?format=csv&output=ae&from=%s&as-of=%s", from, as_of);
    html_addf(b, "<p><a href=\"%s\">Download the A&amp;E figures (CSV)</a></p>", href.data);
    int64_t d0;
    day_parse(from, &d0);
    int nd = 0;
    for (int i = 0; i < f.n; i++)
        nd += !strcmp(f.v[i].measure, "attendances") && !strcmp(f.v[i].k1, "total") &&
              strcmp(f.v[i].period, "total") != 0;
    struct chart_point *pts = xcalloc((size_t)(nd ? nd : 1), sizeof *pts);
    nd = 0;
    for (int i = 0; i < f.n; i++)
        if (!strcmp(f.v[i].measure, "attendances") && !strcmp(f.v[i].k1, "total") &&
            strcmp(f.v[i].period, "total") != 0)
            pts[nd++] = (struct chart_point){f.v[i].period, agg_figs_value(f.v[i].value)};
    struct chart_series se = {NULL, pts, nd};
    struct chart_spec cs = {.id = "ae-chart",
                            .title = "A&E attendances per day, all sites",
                            .unit = "attendances",
                            .series = &se,
                            .nseries = 1,
                            .max_gap_days = 1.5};
    chart_svg(b, &cs);
    free(pts);
    agg_figs_table(b, &f, "attendances", "A&amp;E attendances per day", "ae");
    agg_figs_table(b, &f, "admitted", "Of which admitted, per day", "ae");
    agg_figs_table(b, &f, "share-admitted", "Share admitted (per cent), per day", "ae");
    agg_figs_table(b, &f, "attendances-monthly", "A&amp;E attendances per month", "ae");
    agg_figs_table(b, &f, "admitted-monthly", "Of which admitted, per month", "ae");
    agg_figs_table(b, &f, "share-admitted-monthly", "Share admitted (per cent), per month", "ae");
    agg_figs_free(&f);
    /* inpatients */
    agg_figs_parse(x[2].csv, &f);
    html_raw(b, "<h2 id=\"inpatients\">Inpatients by ward</h2>");
    html_addf(b,
              "<p>People in hospital at <time datetime=\"%s\">%s</time> by site and ward, and "
              "how many days they have been in. %lld people counted. Computed at <time "
              "datetime=\"%s\">%s</time>.</p>",
              x[2].at, x[2].at, (long long)x[2].counted, x[2].computed, x[2].computed);
    buf_reset(&href);
    html_url_addf(&href, "/analytics/flow?format=csv&output=inpatients&from=%s&as-of=%s", from,
                  as_of);
    html_addf(b, "<p><a href=\"%s\">Download the inpatient figures (CSV)</a></p>", href.data);
    struct chart_bar ib[FLOW_NOW_BANDS];
    for (int i = 0; i < FLOW_NOW_BANDS; i++) {
        const char *v = agg_figs_get(&f, "inpatients", "total", "total", flow_now_band_label(i));
        ib[i] = (struct chart_bar){flow_now_band_label(i), v ? v : "", agg_figs_value(v)};
    }
    struct chart_bar_spec is = {.id = "inpatients-chart",
                                .title = "Inpatients by days in hospital so far",
                                .x_label = "days",
                                .y_label = "inpatients",
                                .note = "* means 1 to 7 people (withheld)",
                                .bars = ib,
                                .nbars = FLOW_NOW_BANDS};
    chart_bars_svg(b, &is);
    agg_figs_table(b, &f, "inpatients", "Inpatients by ward and days in hospital so far",
                   "inpatients");
    agg_figs_free(&f);
    buf_release(&href);
}

static void render_html(struct buf *b, const struct web *w, const struct analytics_view *t,
                        const struct analytics_view *more, int64_t from_day, int64_t to_day,
                        const char *from, const char *as_of)
{
    web_frame_begin(b, w->service_name, "Patient flow");
    html_raw(b, "<h1>Patient flow</h1>");
    html_addf(b,
              "<p>Inpatient stays from ADT feeds, %s to %s: admissions, discharges and beds "
              "occupied at midnight per day by site and ward, and length of stay of the stays "
              "discharged in the window. Only people cleared by the national data opt-out list "
              "%lld (checked %s, usable until %s) are counted: %lld counted, %lld not cleared. "
              "Counts of 1 to 7 are shown as *, other counts are rounded to the nearest 5, and a "
              "second figure is withheld where a total would reveal a withheld one. Computed at "
              "<time datetime=\"%s\">%s</time>.</p>",
              from, as_of, (long long)t->gate.list_id, t->gate.checked, t->gate.expires,
              (long long)t->counted, (long long)t->excluded, t->computed, t->computed);
    form(b, from, as_of, NULL);
    struct buf href = BUF_INIT;
    html_url_addf(&href, "/analytics/flow?format=csv&from=%s&as-of=%s", from, as_of);
    html_addf(b, "<p><a href=\"%s\">Download these figures (CSV)</a></p>", href.data);
    buf_release(&href);

    struct figs f = {0};
    analytics_csv_each(t->csv, collect, &f);
    /* admissions per day: the total row */
    int nd = (int)(to_day - from_day + 1);
    struct chart_point *pts = xcalloc((size_t)nd, sizeof *pts);
    char(*dates)[11] = xcalloc((size_t)nd, sizeof *dates);
    for (int d = 0; d < nd; d++) {
        day_text(from_day + d, dates[d]);
        pts[d] = (struct chart_point){dates[d], shown_value(total_of(&f, "admissions", dates[d]))};
    }
    struct chart_series se = {NULL, pts, nd};
    struct chart_spec cs = {.id = "admissions-chart",
                            .title = "Admissions per day, all sites",
                            .unit = "admissions",
                            .series = &se,
                            .nseries = 1,
                            .max_gap_days = 1.5};
    html_raw(b, "<h2>Admissions per day</h2>");
    chart_svg(b, &cs);
    html_raw(b, "<p class=\"nhsuk-body-s\">Days whose count is withheld (*) are not "
                "plotted (a gap in the line); the table below has every day.</p>");
    free(pts);
    free(dates);
    /* length-of-stay histogram: the total row's bands */
    struct chart_bar bars[FLOW_LOS_BANDS];
    for (int i = 0; i < FLOW_LOS_BANDS; i++) {
        const char *v = total_of(&f, "los", flow_los_band_label(i));
        bars[i] = (struct chart_bar){flow_los_band_label(i), v ? v : "", shown_value(v)};
    }
    struct chart_bar_spec bs = {.id = "los-chart",
                                .title = "Length of stay of stays discharged in the window",
                                .x_label = "days",
                                .y_label = "stays",
                                .note = "* means 1 to 7 stays (withheld)",
                                .bars = bars,
                                .nbars = FLOW_LOS_BANDS};
    html_raw(b, "<h2>Length of stay</h2>");
    chart_bars_svg(b, &bs);

    html_raw(b, "<h2>By site and ward</h2>");
    measure_table(b, &f, "admissions", "Admissions per day", "admissions");
    measure_table(b, &f, "discharges", "Discharges per day", "discharges");
    measure_table(b, &f, "occupancy", "Beds occupied at midnight per day (total: bed-days)",
                  "occupancy");
    measure_table(b, &f, "los",
                  "Length of stay in days (stays discharged in the window), stays over 7, 14 "
                  "and 21 days, median",
                  "los");
    figs_free(&f);
    render_more(b, more, from, as_of);
    web_frame_end(b);
}

static void refuse_form(struct http_req *req, const struct web *w, int status, const char *from,
                        const char *as_of, const char *error)
{
    struct buf b = BUF_INIT;
    web_frame_begin(&b, w->service_name, "Patient flow");
    html_raw(&b, "<h1>Patient flow</h1>");
    form(&b, from, as_of, error);
    web_frame_end(&b);
    web_admin_reply(req, status, &b);
}

/* GET /analytics/flow */
static int h_flow(struct http_req *req, void *arg)
{
    struct web *w = arg;
    bool csv;
    struct store *s =
        analytics_page_begin(req, authz_secondary_use,
                             "Patient flow figures are for analysts and planners (the policy "
                             "capability secondary-use).",
                             &csv);
    if (!s)
        return 0;
    const struct principal *p = &req->principal;
    /* the window: as-of defaults to today, from to 27 days before it */
    const char *from_arg, *as_of_arg;
    analytics_window_args(req, &from_arg, &as_of_arg);
    int64_t from, as_of;
    char from_txt[11], as_of_txt[11], msg[160];
    const char *error = analytics_window_parse(from_arg, as_of_arg, "flow", &from, &as_of, msg);
    if (error) {
        if (csv)
            web_error_page(req, 400, "The days asked for are not valid", error,
                           "Give from and as-of as YYYY-MM-DD.");
        else
            refuse_form(req, w, 400, from_arg, as_of_arg, error);
        return 0;
    }
    day_text(from, from_txt);
    day_text(as_of, as_of_txt);
    /* the outputs: flow first, then the page's other sections; the CSV is one */
    static const char *const names[] = {"flow", "readmissions", "ae", "inpatients"};
    enum { NOUT = 4 };
    const char *want = http_req_arg(req, "output");
    int only = -1;
    if (csv) {
        only = 0;
        if (want && *want) {
            only = -1;
            for (int i = 0; i < NOUT; i++)
                if (!strcmp(want, names[i]))
                    only = i;
        }
        if (only < 0) {
            web_error_page(req, 400, "Unknown output",
                           "The figures offered are flow, readmissions, ae and inpatients.",
                           "Use output=flow, readmissions, ae or inpatients.");
            return 0;
        }
    }
    struct buf by = BUF_INIT;
    buf_addf(&by, "web:%s", p->user_id ? p->user_id : "unknown");
    struct analytics_view t[NOUT];
    memset(t, 0, sizeof t);
    char err[1024];
    int rc = 0;
    for (int i = 0; i < NOUT && rc == 0; i++) {
        if (only >= 0 && i != only)
            continue;
        /* inpatients: at the end of the as-of day, or now when none is given */
        struct secondary_options so = {.output = names[i],
                                       .as_of = i == 3 && !as_of_arg ? NULL : as_of_txt,
                                       .by = by.data,
                                       .from = i == 3 ? NULL : from_txt};
        rc = analytics_view_get(s, &so, &t[i], err, sizeof err);
    }
    buf_release(&by);
    if (rc) {
        for (int i = 0; i < NOUT; i++)
            analytics_view_free(&t[i]);
    }
    if (rc == WEFT_EDENIED) {
        web_error_page(req, 409,
                       "Patient flow cannot be shown until a current opt-out list is "
                       "loaded",
                       err,
                       "Secondary uses count only people cleared by the national data opt-out "
                       "check. Ask for a new check and load its answer with weft optout import.");
        return 0;
    }
    if (rc) {
        web_error_page(req, 500, "Patient flow could not be computed",
                       "Something went wrong reading the record.", "Try again later.");
        return 0;
    }
    for (int i = 0; i < NOUT && rc == 0; i++) {
        if (only >= 0 && i != only)
            continue;
        struct buf what = BUF_INIT;
        if (i == 3)
            buf_addf(&what, "secondary:%s at=%s output=%lld%s", names[i], t[i].at,
                     (long long)t[i].output_id, csv ? " csv" : "");
        else
            buf_addf(&what, "secondary:%s from=%s as-of=%s output=%lld%s", names[i], from_txt,
                     as_of_txt, (long long)t[i].output_id, csv ? " csv" : "");
        rc = authz_audit_access(s, p, csv ? AUDIT_EXPORT : AUDIT_READ, NULL, what.data,
                                t[i].counted);
        buf_release(&what);
    }
    if (rc) {
        for (int i = 0; i < NOUT; i++)
            analytics_view_free(&t[i]);
        web_error_page(req, 500, "Patient flow could not be shown",
                       "The view could not be written to the audit log.", "Try again later.");
        return 0;
    }
    struct buf b = BUF_INIT;
    if (csv) {
        buf_adds(&b, t[only].csv);
        for (int i = 0; i < NOUT; i++)
            analytics_view_free(&t[i]);
        char disp[64];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.csv\"", names[only]);
        http_reply_header(req, "Content-Disposition", disp);
        http_reply_header(req, "Cache-Control", "no-store");
        http_reply_header(req, "X-Content-Type-Options", "nosniff");
        http_reply_buf(req, 200, "text/csv; charset=utf-8", &b);
        return 0;
    }
    render_html(&b, w, &t[0], &t[1], from, as_of, from_txt, as_of_txt);
    for (int i = 0; i < NOUT; i++)
        analytics_view_free(&t[i]);
    web_admin_reply(req, 200, &b);
    return 0;
}

int web_analytics_flow_routes_add(struct http_server *srv, struct web *w)
{
    return http_route_add(srv, "GET", "/analytics/flow", h_flow, w, 0);
}
