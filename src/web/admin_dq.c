/*
 * admin_dq.c - the data-quality pages (admin.h): per organisation the
 * newest run's scores, the trend over runs as a server-drawn SVG chart
 * (chart.h), each check against its threshold, feed lag and the failing
 * records with the source's own identifiers.  Governance roles see every
 * organisation; a data-quality lead only their own (authz_may_review_dq).
 * The pages read the kept runs (store_dq_*); they never run the checks.
 * Every view is audited (action read, what "dq:ODS"), since the failing
 * records name people by the sources' identifiers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access/authz.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "dq/dq.h"
#include "dq/rules.h"
#include "http/server.h"
#include "store/access.h"
#include "store/dq.h"
#include "web/admin.h"
#include "web/chart.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

#define FAILURES_SHOWN 200

bool web_admin_user(struct http_req *req)
{
    if (req->principal.kind == PRINCIPAL_NONE) {
        web_error_page(req, 401, "You are not signed in",
                       "These pages are for staff signed in to the shared care record.",
                       "Open the shared care record from your own clinical system, then come "
                       "back to this page.");
        return false;
    }
    if (req->principal.kind != PRINCIPAL_USER || req->principal.scopes) {
        web_error_page(req, 403, "You do not have permission to view this page",
                       "These pages are for members of staff signed in from their own "
                       "clinical system, not for API clients or apps.",
                       "Use the FHIR API at /fhir.");
        return false;
    }
    return true;
}

void web_admin_reply(struct http_req *req, int status, struct buf *b)
{
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "X-Frame-Options", "DENY");
    http_reply_header(req, "Referrer-Policy", "same-origin");
    http_reply_header(req, "Content-Security-Policy",
                      "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                      "font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'");
    http_reply_buf(req, status, "text/html; charset=utf-8", b);
}

void web_admin_nav(struct buf *b, const char *current, bool governance)
{
    static const char *const links[][2] = {
        {"/admin/dq", "Data quality"},
        {"/admin/governance", "Governance"},
        {"/admin/governance/access", "Who viewed a record"},
        {"/admin/governance/breakglass", "Break-glass reviews"},
        {"/admin/governance/requests", "Objections and requests"},
        {"/admin/governance/sar", "Subject access"},
        {"/admin/governance/agreements", "Agreements"},
        {"/admin/governance/feeds", "Feeds"},
        {"/admin/governance/policy", "Access policy"},
    };
    html_raw(b,
             "<nav class=\"weft-nav\" aria-label=\"Administration\"><ul class=\"weft-nav__list\">");
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        if (i > 0 && !governance)
            break;
        bool cur = strcmp(current, links[i][0]) == 0;
        html_addf(
            b, "<li class=\"weft-nav__item\"><a class=\"weft-nav__link\" href=\"%s\"%s>%s</a></li>",
            links[i][0], cur ? " aria-current=\"page\"" : "", links[i][1]);
    }
    html_raw(b, "</ul></nav>");
}

static bool valid_ods(const char *s)
{
    if (!s || !*s || strlen(s) > 16)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')))
            return false;
    return true;
}

/* Authorise a data-quality page for ods (NULL: the index).  False after
 * replying (and auditing a refusal). */
static bool dq_allowed(struct http_req *req, struct store *s, const char *ods, const char **only)
{
    if (!authz_may_review_dq(s, &req->principal, only)) {
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL,
                           "data-quality reports: role without dq-review or audit-review");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "Data-quality reports are for data-quality leads, information officers "
                       "and governance roles.",
                       "Ask your information governance team if you need access.");
        return false;
    }
    if (ods && *only && strcmp(*only, ods) != 0) {
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL,
                           "data-quality report of another organisation");
        web_error_page(req, 403, "You can only see your own organisation's data quality",
                       "Each organisation's data-quality lead sees that organisation's "
                       "reports; governance roles see every organisation's.",
                       "Go to your own organisation's report.");
        return false;
    }
    return true;
}

static void score_cell(struct buf *b, json_t *v)
{
    if (json_is_number(v))
        html_addf(b, "<td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">%.1f</td>",
                  json_number_value(v));
    else
        html_raw(b, "<td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">none tested</td>");
}

static struct store *store_or_503(struct http_req *req)
{
    struct store *s = http_req_store(req);
    if (!s)
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
    return s;
}

/* GET /admin/dq */
static int h_index(struct http_req *req, void *arg)
{
    struct web *w = arg;
    if (!web_admin_user(req))
        return 0;
    struct store *s = store_or_503(req);
    const char *only = NULL;
    if (!s || !dq_allowed(req, s, NULL, &only))
        return 0;
    if (only) { /* a data-quality lead: straight to their organisation */
        struct buf loc = BUF_INIT;
        html_url_addf(&loc, "/admin/dq/%s", only);
        http_reply_header(req, "Location", loc.data);
        buf_release(&loc);
        http_reply(req, 303, "text/plain", "", 0);
        return 0;
    }
    struct buf b = BUF_INIT;
    web_frame_begin(&b, w->service_name, "Data quality by organisation");
    web_admin_nav(&b, "/admin/dq", true);
    html_raw(&b, "<h1>Data quality by organisation</h1>");
    struct store_org *orgs = NULL;
    int no = 0;
    store_org_list(s, &orgs, &no);
    struct store_dq_run *runs = NULL;
    int nr = 0;
    store_dq_run_list(s, NULL, 1, &runs, &nr);
    if (nr == 0) {
        html_raw(&b, "<p>No data-quality run has finished yet. Runs happen daily inside the "
                     "server, or on demand with <code>weft dq run</code>.</p>");
    } else {
        html_addf(&b,
                  "<p>Newest run finished %.16s, as of %s. Scores are percentages "
                  "(docs/DATA_QUALITY.md explains the method).</p>",
                  runs[0].finished, runs[0].as_of);
        html_raw(&b, "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption\">"
                     "Scores per organisation</caption><thead class=\"nhsuk-table__head\"><tr>"
                     "<th scope=\"col\">Organisation</th><th scope=\"col\">Overall</th>");
        for (int d = 0; dq_dimensions[d]; d++)
            html_addf(&b, "<th scope=\"col\">%s</th>", dq_dimensions[d]);
        html_raw(&b, "</tr></thead><tbody class=\"nhsuk-table__body\">");
        for (int i = 0; i < no; i++) {
            struct store_dq_run *r = NULL;
            int n = 0;
            if (store_dq_run_list(s, orgs[i].ods, 1, &r, &n) == 0 && n == 1) {
                struct dq_scores sc;
                dq_scores_get(s, r[0].id, orgs[i].ods, &sc);
                if (sc.overall >= 0) {
                    struct buf href = BUF_INIT;
                    html_url_addf(&href, "/admin/dq/%s", orgs[i].ods);
                    html_addf(&b,
                              "<tr class=\"nhsuk-table__row\"><th scope=\"row\"><a href=\"%s\">%s"
                              "</a> <span class=\"nhsuk-body-s\">%s</span></th>"
                              "<td class=\"nhsuk-table__cell\">%.1f</td>",
                              href.data, orgs[i].name, orgs[i].ods, sc.overall);
                    buf_release(&href);
                    for (int d = 0; dq_dimensions[d]; d++)
                        if (sc.dims[d] >= 0)
                            html_addf(&b, "<td class=\"nhsuk-table__cell\">%.1f</td>", sc.dims[d]);
                        else
                            html_raw(&b, "<td class=\"nhsuk-table__cell\">-</td>");
                    html_raw(&b, "</tr>");
                }
            }
            store_dq_runs_free(r, n);
        }
        html_raw(&b, "</tbody></table>");
    }
    for (int i = 0; i < no; i++)
        store_org_clear(&orgs[i]);
    free(orgs);
    store_dq_runs_free(runs, nr);
    web_frame_end(&b);
    authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "dq:index", 0);
    web_admin_reply(req, 200, &b);
    return 0;
}

struct fail_page {
    struct buf *b;
    int n;
    int64_t total;
};

static int fail_row(const struct store_dq_failure *f, void *ctx)
{
    struct fail_page *fp = ctx;
    if (fp->n >= FAILURES_SHOWN)
        return 1; /* enough for the page: stop reading (the total comes from the results) */
    fp->n++;
    html_addf(fp->b,
              "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s</td></tr>",
              f->check, f->resource_type, f->source_id, f->patient_local_id, f->message_control_id,
              f->detail);
    return 0;
}

/* GET /admin/dq/{ods} */
static int h_report(struct http_req *req, void *arg)
{
    struct web *w = arg;
    if (!web_admin_user(req))
        return 0;
    const char *ods = http_req_param(req, "ods");
    struct store *s = store_or_503(req);
    const char *only = NULL;
    if (!s)
        return 0;
    if (!valid_ods(ods)) {
        web_error_page(req, 404, "Page not found", "There is no organisation with that code.",
                       "Go back to the data-quality index.");
        return 0;
    }
    if (!dq_allowed(req, s, ods, &only))
        return 0;
    struct store_org org = {0};
    bool named = store_org_get(s, ods, &org) == 0;
    struct buf rep = BUF_INIT;
    char err[256];
    int rc = dq_report(s, ods, "json", 30, &rep, err, sizeof err);
    struct buf b = BUF_INIT;
    struct buf title = BUF_INIT;
    buf_addf(&title, "Data quality: %s", named ? org.name : ods);
    web_frame_begin(&b, w->service_name, title.data);
    web_admin_nav(&b, "/admin/dq", only == NULL);
    html_addf(&b, "<h1>%s <span class=\"nhsuk-caption-l\">%s data quality</span></h1>", title.data,
              ods);
    json_t *j = rc == 0 ? json_loads(rep.data, 0, NULL) : NULL;
    int64_t shown = 0;
    if (!j) {
        html_raw(&b, "<p>No data-quality run has covered this organisation yet. Runs happen "
                     "daily inside the server, or on demand with <code>weft dq run</code>.</p>");
    } else {
        json_t *run = json_object_get(j, "run");
        html_addf(&b, "<p>Run %lld finished %.16s (dates in the future measured from %s).</p>",
                  (long long)json_integer_value(json_object_get(run, "id")),
                  json_string_value(json_object_get(run, "finished")),
                  json_string_value(json_object_get(run, "as_of")));
        /* scores */
        html_raw(
            &b,
            "<h2>Scores</h2><table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption"
            " nhsuk-u-visually-hidden\">Scores</caption><thead class=\"nhsuk-table__head\">"
            "<tr><th scope=\"col\">Dimension</th><th scope=\"col\">Score (%)</th></tr></thead>"
            "<tbody class=\"nhsuk-table__body\"><tr class=\"nhsuk-table__row\"><th scope=\"row\">"
            "Overall</th>");
        score_cell(&b, json_object_get(j, "overall"));
        html_raw(&b, "</tr>");
        json_t *dims = json_object_get(j, "dimensions");
        for (int d = 0; dq_dimensions[d]; d++) {
            html_addf(&b, "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%s</th>",
                      dq_dimensions[d]);
            score_cell(&b, json_object_get(dims, dq_dimensions[d]));
            html_raw(&b, "</tr>");
        }
        html_raw(&b, "</tbody></table>");
        /* trend */
        json_t *trend = json_object_get(j, "trend");
        size_t nt = json_array_size(trend);
        struct chart_point *pts = xcalloc(nt ? nt : 1, sizeof *pts);
        int np = 0;
        for (size_t i = 0; i < nt; i++) {
            json_t *t = json_array_get(trend, i);
            if (!json_is_number(json_object_get(t, "overall")))
                continue;
            pts[np].date = json_string_value(json_object_get(t, "finished"));
            pts[np++].value = json_number_value(json_object_get(t, "overall"));
        }
        html_raw(&b, "<h2>Trend</h2>");
        struct chart_series ser = {"Overall score", pts, np};
        struct chart_spec spec = {.id = "dq-trend",
                                  .title = "Overall data-quality score",
                                  .unit = "%",
                                  .series = &ser,
                                  .nseries = 1};
        chart_svg(&b, &spec);
        free(pts);
        /* checks */
        html_raw(
            &b, "<h2>Checks</h2><table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption"
                " nhsuk-u-visually-hidden\">Checks</caption><thead class=\"nhsuk-table__head\"><tr>"
                "<th scope=\"col\">Check</th><th scope=\"col\">Dimension</th>"
                "<th scope=\"col\">Tested</th><th scope=\"col\">Failed</th>"
                "<th scope=\"col\">Pass rate</th><th scope=\"col\">Threshold</th>"
                "<th scope=\"col\">Met</th></tr></thead><tbody class=\"nhsuk-table__body\">");
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(j, "checks"), i, c)
        {
            json_t *rate = json_object_get(c, "pass_rate"), *met = json_object_get(c, "met");
            html_addf(
                &b,
                "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%s</th>"
                "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%lld</td>"
                "<td class=\"nhsuk-table__cell\">%lld</td>",
                json_string_value(json_object_get(c, "check")),
                json_string_value(json_object_get(c, "dimension")),
                (long long)json_integer_value(json_object_get(c, "tested")),
                (long long)json_integer_value(json_object_get(c, "failed")));
            if (json_is_number(rate))
                html_addf(&b, "<td class=\"nhsuk-table__cell\">%.2f%%</td>",
                          100 * json_number_value(rate));
            else
                html_raw(&b, "<td class=\"nhsuk-table__cell\">nothing tested</td>");
            html_addf(&b,
                      "<td class=\"nhsuk-table__cell\">%.2f%%</td><td "
                      "class=\"nhsuk-table__cell\">%s</td></tr>",
                      100 * json_number_value(json_object_get(c, "threshold")),
                      json_is_true(met)    ? "Yes"
                      : json_is_false(met) ? "No"
                                           : "-");
        }
        html_raw(&b, "</tbody></table>");
        /* feed lag */
        json_t *lag = json_object_get(j, "feed_lag");
        if (json_array_size(lag)) {
            html_raw(
                &b,
                "<h2>Feed lag</h2><table class=\"nhsuk-table\"><caption "
                "class=\"nhsuk-table__caption"
                " nhsuk-u-visually-hidden\">Feed lag</caption><thead "
                "class=\"nhsuk-table__head\"><tr>"
                "<th scope=\"col\">Feed</th><th scope=\"col\">Events</th>"
                "<th scope=\"col\">50% within (hours)</th><th scope=\"col\">90% within (hours)</th>"
                "<th scope=\"col\">Threshold (hours)</th></tr></thead><tbody "
                "class=\"nhsuk-table__body\">");
            json_array_foreach(lag, i, c)
            {
                html_addf(&b,
                          "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%s</th><td "
                          "class=\"nhsuk-table__cell\">%lld</td>"
                          "<td class=\"nhsuk-table__cell\">%.1f</td><td "
                          "class=\"nhsuk-table__cell\">%.1f</td>"
                          "<td class=\"nhsuk-table__cell\">%g</td></tr>",
                          json_string_value(json_object_get(c, "feed")),
                          (long long)json_integer_value(json_object_get(c, "events")),
                          json_number_value(json_object_get(c, "p50_hours")),
                          json_number_value(json_object_get(c, "p90_hours")),
                          json_number_value(json_object_get(c, "threshold_hours")));
            }
            html_raw(&b, "</tbody></table>");
        }
        /* failures */
        struct buf href = BUF_INIT;
        html_url_addf(&href, "/admin/dq/%s/failures.csv", ods);
        html_addf(&b,
                  "<h2>Failing records</h2><p>Each row names the record by the identifiers "
                  "your own systems use. <a href=\"%s\">Download every failing record (CSV)"
                  "</a>.</p>",
                  href.data);
        buf_release(&href);
        html_raw(&b,
                 "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption"
                 " nhsuk-u-visually-hidden\">Failing records</caption><thead "
                 "class=\"nhsuk-table__head\"><tr>"
                 "<th scope=\"col\">Check</th><th scope=\"col\">Type</th><th scope=\"col\">Source "
                 "id</th>"
                 "<th scope=\"col\">Patient local id</th><th scope=\"col\">Message control id</th>"
                 "<th scope=\"col\">Detail</th></tr></thead><tbody class=\"nhsuk-table__body\">");
        struct fail_page fp = {&b, 0, 0};
        json_array_foreach(json_object_get(j, "checks"), i, c)
        {
            const char *name = json_string_value(json_object_get(c, "check"));
            if (name && strcmp(name, "feed-lag") != 0) /* feed lag lists no records */
                fp.total += json_integer_value(json_object_get(c, "failed"));
        }
        store_dq_failure_list(s, json_integer_value(json_object_get(run, "id")), ods, fail_row,
                              &fp);
        html_raw(&b, "</tbody></table>");
        if (fp.total > fp.n)
            html_addf(
                &b,
                "<p>The first %d of %lld failing records are shown; the CSV holds them all.</p>",
                fp.n, (long long)fp.total);
        shown = fp.n;
        json_decref(j);
    }
    web_frame_end(&b);
    struct buf what = BUF_INIT;
    buf_addf(&what, "dq:%s", ods);
    authz_audit_access(s, &req->principal, AUDIT_READ, NULL, what.data, shown);
    buf_release(&what);
    buf_release(&title);
    buf_release(&rep);
    if (named)
        store_org_clear(&org);
    web_admin_reply(req, 200, &b);
    return 0;
}

static int add_buf(const char *data, size_t len, void *ctx)
{
    buf_add(ctx, data, len);
    return 0;
}

/* GET /admin/dq/{ods}/failures.csv */
static int h_csv(struct http_req *req, void *arg)
{
    (void)arg;
    if (!web_admin_user(req))
        return 0;
    const char *ods = http_req_param(req, "ods");
    struct store *s = store_or_503(req);
    const char *only = NULL;
    if (!s)
        return 0;
    if (!valid_ods(ods)) {
        web_error_page(req, 404, "Page not found", "There is no organisation with that code.",
                       "Go back to the data-quality index.");
        return 0;
    }
    if (!dq_allowed(req, s, ods, &only))
        return 0;
    struct buf b = BUF_INIT;
    char err[256];
    int rc = dq_failures_csv(s, ods, add_buf, &b, err, sizeof err);
    if (rc == WEFT_ENOTFOUND) {
        buf_release(&b);
        web_error_page(req, 404, "No data-quality run yet", err, "Run the checks first.");
        return 0;
    }
    struct buf what = BUF_INIT;
    buf_addf(&what, "dq:%s failures.csv", ods);
    authz_audit_access(s, &req->principal, AUDIT_EXPORT, NULL, what.data, 0);
    buf_release(&what);
    struct buf disp = BUF_INIT;
    buf_addf(&disp, "attachment; filename=\"dq-failures-%s.csv\"", ods);
    http_reply_header(req, "Content-Disposition", disp.data);
    buf_release(&disp);
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_buf(req, rc == 0 ? 200 : 500, "text/csv; charset=utf-8", &b);
    return 0;
}

int web_admin_dq_routes_add(struct http_server *srv, struct web *w)
{
    int rc;
    if ((rc = http_route_add(srv, "GET", "/admin/dq", h_index, w, 0)) < 0 ||
        (rc = http_route_add(srv, "GET", "/admin/dq/{ods}", h_report, w, 0)) < 0 ||
        (rc = http_route_add(srv, "GET", "/admin/dq/{ods}/failures.csv", h_csv, w, 0)) < 0)
        return rc;
    return web_admin_gov_routes_add(srv, w);
}
