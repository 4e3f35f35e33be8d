/*
 * analytics_service.c - the service management page (secondary use;
 * analytics/service.h):
 *
 *   GET /analytics/service[?from=YYYY-MM-DD&as-of=YYYY-MM-DD]
 *       activity per organisation and service per month: encounters,
 *       appointments attended and missed, community and social care services
 *       started and open, caseloads, referrals sent and received; a chart of
 *       encounters per month
 *   GET /analytics/service?format=csv[&from=..&as-of=..]
 *       the same CSV as `weft analytics secondary --output service`
 *
 * For roles with the policy capability secondary-use (authz_secondary_use),
 * exactly as the patient flow page: the stored figures of the "service"
 * output for the window (analytics_view_get: written by `weft analytics
 * refresh`, or by the first view of a window; never recomputed per view; only
 * people on the opt-out list in force, 409 saying why when none is or it
 * expired; small numbers suppressed as in the CSV: the page shows the text
 * agg_emit gives); every view audited (read, or export for CSV; what
 * "secondary:service from=.. as-of=.. output=N") and recorded for the
 * compliance report; a view whose audit entry cannot be written is not shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/authz.h"
#include "analytics/day.h"
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

static const struct {
    const char *measure, *caption;
} tables[] = {
    {"encounters", "Encounters per month"},
    {"appointments-attended", "Appointments attended (fulfilled) per month"},
    {"appointments-missed", "Appointments missed (did not attend) per month"},
    {"services-started", "Community and social care services started per month"},
    {"services-open", "Community and social care services open at the end of each month"},
    {"caseload", "Caseload: people with an open service at the end of each month"},
    {"referrals-sent", "Referrals sent per month"},
    {"referrals-received", "Referrals received per month"},
};

static void render_html(struct buf *b, const struct web *w, const struct analytics_view *t,
                        const char *from, const char *as_of)
{
    web_frame_begin(b, w->service_name, "Service management");
    html_raw(b, "<h1>Service management</h1>");
    html_addf(b,
              "<p>Activity per organisation and service per month, %s to %s (a month the "
              "window cuts counts its part). Only people cleared by the national data opt-out "
              "list %lld (checked %s, usable until %s) are counted: %lld counted, %lld not "
              "cleared. Counts of 1 to 7 are shown as *, other counts are rounded to the nearest "
              "5, and a second figure is withheld where a total would reveal a withheld one. "
              "Computed at <time datetime=\"%s\">%s</time>.</p>",
              from, as_of, (long long)t->gate.list_id, t->gate.checked, t->gate.expires,
              (long long)t->counted, (long long)t->excluded, t->computed, t->computed);
    analytics_window_form(b, "/analytics/service", from, as_of, NULL);
    struct buf href = BUF_INIT;
    html_url_addf(&href, "/analytics/service?format=csv&from=%s&as-of=%s", from, as_of);
    html_addf(b, "<p><a href=\"%s\">Download these figures (CSV)</a></p>", href.data);
    buf_release(&href);
    struct agg_figs f;
    agg_figs_parse(t->csv, &f);
    struct chart_bar bars[16];
    int nb = 0;
    for (int i = 0; i < f.n && nb < 16; i++)
        if (!strcmp(f.v[i].measure, "encounters") && !strcmp(f.v[i].k1, "total") &&
            strcmp(f.v[i].period, "total") != 0)
            bars[nb++] =
                (struct chart_bar){f.v[i].period, f.v[i].value, agg_figs_value(f.v[i].value)};
    struct chart_bar_spec bs = {.id = "encounters-chart",
                                .title = "Encounters per month, all organisations",
                                .x_label = "month",
                                .y_label = "encounters",
                                .note = "* means 1 to 7 encounters (withheld)",
                                .bars = bars,
                                .nbars = nb};
    html_raw(b, "<h2>Encounters per month</h2>");
    chart_bars_svg(b, &bs);
    html_raw(b, "<h2>By organisation and service</h2>");
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        agg_figs_table(b, &f, tables[i].measure, tables[i].caption, "service");
    agg_figs_free(&f);
    web_frame_end(b);
}

static void refuse_form(struct http_req *req, const struct web *w, const char *from,
                        const char *as_of, const char *error)
{
    struct buf b = BUF_INIT;
    web_frame_begin(&b, w->service_name, "Service management");
    html_raw(&b, "<h1>Service management</h1>");
    analytics_window_form(&b, "/analytics/service", from, as_of, error);
    web_frame_end(&b);
    web_admin_reply(req, 400, &b);
}

/* GET /analytics/service */
static int h_service(struct http_req *req, void *arg)
{
    struct web *w = arg;
    bool csv;
    struct store *s =
        analytics_page_begin(req, authz_secondary_use,
                             "Service management figures are for analysts and planners (the policy "
                             "capability secondary-use).",
                             &csv);
    if (!s)
        return 0;
    const struct principal *p = &req->principal;
    const char *from_arg, *as_of_arg;
    analytics_window_args(req, &from_arg, &as_of_arg);
    int64_t from, as_of;
    char from_txt[11], as_of_txt[11], msg[160];
    const char *error = analytics_window_parse(from_arg, as_of_arg, "service", &from, &as_of, msg);
    if (error) {
        if (csv)
            web_error_page(req, 400, "The days asked for are not valid", error,
                           "Give from and as-of as YYYY-MM-DD.");
        else
            refuse_form(req, w, from_arg, as_of_arg, error);
        return 0;
    }
    day_text(from, from_txt);
    day_text(as_of, as_of_txt);
    struct buf by = BUF_INIT;
    buf_addf(&by, "web:%s", p->user_id ? p->user_id : "unknown");
    struct secondary_options so = {
        .output = "service", .as_of = as_of_txt, .by = by.data, .from = from_txt};
    struct analytics_view t;
    char err[1024];
    int rc = analytics_view_get(s, &so, &t, err, sizeof err);
    buf_release(&by);
    if (rc == WEFT_EDENIED) {
        web_error_page(req, 409,
                       "Service management figures cannot be shown until a current opt-out "
                       "list is loaded",
                       err,
                       "Secondary uses count only people cleared by the national data opt-out "
                       "check. Ask for a new check and load its answer with weft optout import.");
        return 0;
    }
    if (rc) {
        web_error_page(req, 500, "Service management figures could not be computed",
                       "Something went wrong reading the record.", "Try again later.");
        return 0;
    }
    struct buf what = BUF_INIT;
    buf_addf(&what, "secondary:service from=%s as-of=%s output=%lld%s", from_txt, as_of_txt,
             (long long)t.output_id, csv ? " csv" : "");
    rc = authz_audit_access(s, p, csv ? AUDIT_EXPORT : AUDIT_READ, NULL, what.data, t.counted);
    buf_release(&what);
    if (rc) {
        analytics_view_free(&t);
        web_error_page(req, 500, "Service management figures could not be shown",
                       "The view could not be written to the audit log.", "Try again later.");
        return 0;
    }
    struct buf b = BUF_INIT;
    if (csv) {
        buf_adds(&b, t.csv);
        analytics_view_free(&t);
        http_reply_header(req, "Content-Disposition", "attachment; filename=\"service.csv\"");
        http_reply_header(req, "Cache-Control", "no-store");
        http_reply_header(req, "X-Content-Type-Options", "nosniff");
        http_reply_buf(req, 200, "text/csv; charset=utf-8", &b);
        return 0;
    }
    render_html(&b, w, &t, from_txt, as_of_txt);
    analytics_view_free(&t);
    web_admin_reply(req, 200, &b);
    return 0;
}

int web_analytics_service_routes_add(struct http_server *srv, struct web *w)
{
    return http_route_add(srv, "GET", "/analytics/service", h_service, w, 0);
}
