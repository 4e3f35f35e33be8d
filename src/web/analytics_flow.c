/*
 * analytics_flow.c - the patient flow page (secondary use; analytics/flow.h):
 *
 *   GET /analytics/flow[?from=YYYY-MM-DD&as-of=YYYY-MM-DD]
 *       admissions, discharges and midnight occupancy per day by site and
 *       ward, length of stay; a chart of admissions per day and a
 *       length-of-stay histogram
 *   GET /analytics/flow?format=csv[&from=..&as-of=..]
 *       the same CSV as `weft analytics secondary --output flow`
 *
 * For roles with the policy capability secondary-use (authz_secondary_use:
 * ANALYST, PLANNER).  The figures are secondary_run's "flow" output: only
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
#include "analytics/secondary.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "web/admin.h"
#include "web/chart.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

/* ---- the figures, as flow_emit gives them ---------------------------------------- */
struct fig {
    char *measure, *site, *ward, *period, *value;
};
struct figs {
    struct fig *v;
    int n, cap;
};

static void collect(void *arg, const char *measure, const char *site, const char *ward,
                    const char *period, const char *value)
{
    struct figs *f = arg;
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
    if (error)
        html_addf(
            b,
            "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\" "
            "aria-labelledby=\"error-summary-title\"><h2 class=\"nhsuk-error-summary__title\" "
            "id=\"error-summary-title\">There is a problem</h2><div "
            "class=\"nhsuk-error-summary__body\"><p>%s</p></div></div>",
            error);
    const char *invalid = error ? " aria-invalid=\"true\"" : "";
    html_addf(b,
              "<form method=\"get\" action=\"/analytics/flow\" novalidate><fieldset "
              "class=\"nhsuk-fieldset\"><legend class=\"nhsuk-fieldset__legend\">The days to "
              "show (at most %d)</legend><div class=\"nhsuk-form-group\"><label "
              "class=\"nhsuk-label\" for=\"from\">First day (YYYY-MM-DD)</label><input "
              "class=\"nhsuk-input\" id=\"from\" name=\"from\" type=\"text\" value=\"%s\"",
              FLOW_MAX_DAYS, from ? from : "");
    html_raw(b, invalid);
    html_addf(b,
              "></div><div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
              "for=\"as-of\">Last day (YYYY-MM-DD)</label><input class=\"nhsuk-input\" "
              "id=\"as-of\" name=\"as-of\" type=\"text\" value=\"%s\"",
              as_of ? as_of : "");
    html_raw(b, invalid);
    html_raw(b, "></div></fieldset><button class=\"nhsuk-button\" type=\"submit\">Show</button>"
                "</form>");
}

static void render_html(struct buf *b, const struct web *w, const struct secondary_table *t,
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
    flow_emit(t->flow, collect, &f);
    /* admissions per day: the total row */
    int nd = t->flow->ndays;
    struct chart_point *pts = xcalloc((size_t)nd, sizeof *pts);
    char(*dates)[11] = xcalloc((size_t)nd, sizeof *dates);
    for (int d = 0; d < nd; d++) {
        day_text(t->flow->from + d, dates[d]);
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
    if (!web_admin_user(req))
        return 0;
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
        return 0;
    }
    const struct principal *p = &req->principal;
    const char *reason = NULL;
    int rc = authz_secondary_use(s, p, &reason);
    if (rc || reason) {
        web_error_page(req, 403, "You do not have permission to view this page",
                       reason ? reason : "Access could not be checked.",
                       "Patient flow figures are for analysts and planners (the policy "
                       "capability secondary-use).");
        return 0;
    }
    const char *format = http_req_arg(req, "format");
    bool csv = format && !strcmp(format, "csv");
    if (format && !csv) {
        web_error_page(req, 400, "Unknown format", "The only format offered is csv.",
                       "Use ?format=csv, or no format for the page.");
        return 0;
    }
    /* the window: as-of defaults to today, from to 27 days before it */
    const char *from_arg = http_req_arg(req, "from"), *as_of_arg = http_req_arg(req, "as-of");
    if (from_arg && !*from_arg)
        from_arg = NULL;
    if (as_of_arg && !*as_of_arg)
        as_of_arg = NULL;
    int64_t from, as_of = day_today();
    char from_txt[11], as_of_txt[11], msg[160];
    const char *error = NULL;
    if (as_of_arg && (strlen(as_of_arg) != 10 || !day_parse(as_of_arg, &as_of))) {
        error = "The last day must be a real date written YYYY-MM-DD, for example 2026-11-30.";
    } else {
        from = as_of - 27;
        if (from_arg && (strlen(from_arg) != 10 || !day_parse(from_arg, &from))) {
            error = "The first day must be a real date written YYYY-MM-DD, for example "
                    "2026-11-01.";
        } else if (from > as_of || as_of - from >= FLOW_MAX_DAYS) {
            snprintf(msg, sizeof msg,
                     "The first day must be on or before the last day and at most %d days "
                     "before it.",
                     FLOW_MAX_DAYS - 1);
            error = msg;
        }
    }
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
    struct buf by = BUF_INIT;
    buf_addf(&by, "web:%s", p->user_id ? p->user_id : "unknown");
    struct secondary_options so = {
        .output = "flow", .as_of = as_of_txt, .by = by.data, .from = from_txt};
    struct secondary_table t;
    char err[1024];
    rc = secondary_run(s, &so, &t, err, sizeof err);
    buf_release(&by);
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
    struct buf what = BUF_INIT;
    buf_addf(&what, "secondary:flow from=%s as-of=%s output=%lld%s", from_txt, as_of_txt,
             (long long)t.output_id, csv ? " csv" : "");
    rc = authz_audit_access(s, p, csv ? AUDIT_EXPORT : AUDIT_READ, NULL, what.data, t.counted);
    buf_release(&what);
    if (rc) {
        secondary_table_free(&t);
        web_error_page(req, 500, "Patient flow could not be shown",
                       "The view could not be written to the audit log.", "Try again later.");
        return 0;
    }
    struct buf b = BUF_INIT;
    if (csv) {
        secondary_table_csv(&t, &b);
        secondary_table_free(&t);
        http_reply_header(req, "Content-Disposition", "attachment; filename=\"flow.csv\"");
        http_reply_header(req, "Cache-Control", "no-store");
        http_reply_header(req, "X-Content-Type-Options", "nosniff");
        http_reply_buf(req, 200, "text/csv; charset=utf-8", &b);
        return 0;
    }
    render_html(&b, w, &t, from_txt, as_of_txt);
    secondary_table_free(&t);
    web_admin_reply(req, 200, &b);
    return 0;
}

int web_analytics_flow_routes_add(struct http_server *srv, struct web *w)
{
    return http_route_add(srv, "GET", "/analytics/flow", h_flow, w, 0);
}
