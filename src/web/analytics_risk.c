/*
 * analytics_risk.c - the direct-care risk list page (analytics/risklist.h):
 *
 *   GET /analytics/risk-list               the signed-in user's GP practice's
 *                                          registered patients, ranked; each
 *                                          row links to the patient's record
 *   GET /analytics/risk-list?page=N&count=C  page N (from 1) of C rows
 *                                          (default 100, at most 1,000): a
 *                                          10,000-patient practice's whole
 *                                          list is megabytes of HTML
 *   GET /analytics/risk-list?format=csv    the whole table as CSV
 *
 * For a practice's own staff only (authz_risk_list: role with risk-list, a
 * GP practice with an agreement in force); nobody sees another practice's
 * list (the practice is the signed-in user's organisation, never a
 * parameter).  The rows are those `weft analytics refresh` stored for today
 * (analytics_risk, kept up to date by its incremental update), read by
 * practice; when none are stored for today they are computed for the view
 * (risk_list_build).  Either way the page says when they were computed.  Every view is audited
 * (action read, what "risk-list:ODS", count the rows shown); a view whose audit entry cannot be
 * written is not shown.  Direct care: the national data opt-out does not apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/authz.h"
#include "analytics/day.h"
#include "analytics/efi.h"
#include "analytics/risklist.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "identity/nhs.h"
#include "web/admin.h"
#include "web/analytics_agg.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

static void csv_field(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_adds(b, s);
        return;
    }
    buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_addc(b, '"');
        buf_addc(b, *s);
    }
    buf_addc(b, '"');
}

static void render_csv(struct buf *b, const struct risk_list *l)
{
    buf_adds(b, "rank,person_id,name,nhs_number,age,efi_band,efi_deficits,ae_attendances_12m,"
                "emergency_admissions_12m,ambulance_incidents_12m,computed\n");
    for (int i = 0; i < l->n; i++) {
        const struct risk_row *r = &l->rows[i];
        buf_addf(b, "%d,%s,", i + 1, r->person_id);
        csv_field(b, r->name);
        buf_addf(b, ",%s,", r->nhs ? r->nhs : "");
        if (r->age >= 0)
            buf_addf(b, "%d", r->age);
        buf_addf(b, ",%s,", r->assessed ? efi_band_name(r->band) : "not assessed (under 65)");
        if (r->assessed)
            buf_addf(b, "%d", r->efi_count);
        buf_addf(b, ",%d,%d,%d,%s\n", r->ae, r->admissions, r->ambulance, l->computed);
    }
}

#define RISK_PAGE_ROWS 100
#define RISK_PAGE_MAX 1000

/* A positive whole number from the query, or def when absent; -1 when bad. */
static long page_arg(const struct http_req *req, const char *name, long def, long max)
{
    const char *v = http_req_arg(req, name);
    if (!v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *v && !*end && n >= 1 && n <= max ? n : -1;
}

static void page_link(struct buf *b, long page, long count, const char *rel, const char *label)
{
    struct buf u = BUF_INIT;
    html_url_addf(&u, "/analytics/risk-list?page=%ld", page);
    if (count != RISK_PAGE_ROWS)
        html_url_addf(&u, "&count=%ld", count);
    html_addf(b,
              "<li class=\"nhsuk-pagination-item--%s\"><a class=\"nhsuk-pagination__link "
              "nhsuk-pagination__link--%s\" href=\"%s\" rel=\"%s\"><span "
              "class=\"nhsuk-pagination__title\">%s</span></a></li>",
              strcmp(rel, "prev") == 0 ? "previous" : "next",
              strcmp(rel, "prev") == 0 ? "prev" : "next", u.data, rel, label);
    buf_release(&u);
}

/* Rows [from, to) of the list, with links to the pages either side. */
static void render_html(struct buf *b, const struct web *w, const struct risk_list *l,
                        const char *practice, long page, long count, int from, int to)
{
    web_frame_begin(b, w->service_name, "Risk list");
    html_addf(b, "<h1>Risk list <span class=\"nhsuk-caption-l\">%s</span></h1>", practice);
    html_addf(b,
              "<p>Your practice's registered patients, most frail first (electronic Frailty "
              "Index band, for people aged 65 and over), then by unplanned care in the 12 months "
              "to %s: A&amp;E attendances, emergency admissions and ambulance incidents. "
              "Computed at <time datetime=\"%s\">%s</time>.</p>",
              l->as_of, l->computed, l->computed);
    html_raw(b, "<p><a href=\"/analytics/risk-list?format=csv\">Download this table (CSV)</a>"
                "</p>");
    if (l->n == 0) {
        html_raw(b, "<p>The shared care record holds no registered patients of your practice "
                    "yet.</p>");
        web_frame_end(b);
        return;
    }
    if (from >= to) {
        html_addf(b,
                  "<p id=\"risk-range\">There is no page %ld: the list has %d patients.</p>"
                  "<p><a href=\"/analytics/risk-list\">The first page</a></p>",
                  page, l->n);
        web_frame_end(b);
        return;
    }
    html_addf(b, "<p id=\"risk-range\">Patients %d to %d of %d.</p>", from + 1, to, l->n);
    html_raw(b, "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption\">"
                "Registered patients by frailty and unplanned care</caption>"
                "<thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">"
                "<th scope=\"col\">Patient</th><th scope=\"col\">NHS number</th>"
                "<th scope=\"col\">Age</th><th scope=\"col\">Frailty (eFI)</th>"
                "<th scope=\"col\">A&amp;E</th><th scope=\"col\">Emergency admissions</th>"
                "<th scope=\"col\">Ambulance</th></tr></thead>"
                "<tbody class=\"nhsuk-table__body\">");
    for (int i = from; i < to; i++) {
        const struct risk_row *r = &l->rows[i];
        struct buf href = BUF_INIT;
        html_url_addf(&href, "/patient/%s", r->person_id);
        char nhsf[13] = "";
        if (r->nhs)
            nhs_number_format(r->nhs, nhsf);
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\" class=\"nhsuk-table__cell\">"
                  "<a href=\"%s\">%s</a></th><td class=\"nhsuk-table__cell\">%s</td>",
                  href.data, r->name, nhsf[0] ? nhsf : "none");
        buf_release(&href);
        if (r->age >= 0)
            html_addf(b, "<td class=\"nhsuk-table__cell\">%d</td>", r->age);
        else
            html_raw(b, "<td class=\"nhsuk-table__cell\">unknown</td>");
        if (r->assessed) {
            html_addf(b, "<td class=\"nhsuk-table__cell\">%s (%d of 36)", efi_band_name(r->band),
                      r->efi_count);
            if (r->deficits) {
                html_raw(b, "<details class=\"nhsuk-details\"><summary class=\"nhsuk-details__"
                            "summary\"><span class=\"nhsuk-details__summary-text\">Deficits and "
                            "the records that showed them</span></summary><div class=\"nhsuk-"
                            "details__text\">");
                html_text_lines(b, r->deficits, strlen(r->deficits));
                html_raw(b, "</div></details>");
            }
            html_raw(b, "</td>");
        } else {
            html_raw(b, "<td class=\"nhsuk-table__cell\">not assessed (under 65)</td>");
        }
        html_addf(b,
                  "<td class=\"nhsuk-table__cell\">%d</td><td class=\"nhsuk-table__cell\">%d</td>"
                  "<td class=\"nhsuk-table__cell\">%d</td></tr>",
                  r->ae, r->admissions, r->ambulance);
    }
    html_raw(b, "</tbody></table>");
    if (from > 0 || to < l->n) {
        html_raw(b, "<nav class=\"nhsuk-pagination\" role=\"navigation\" aria-label=\""
                    "Pages of the risk list\"><ul class=\"nhsuk-list nhsuk-pagination__list\">");
        if (from > 0)
            page_link(b, page - 1, count, "prev", "Previous patients");
        if (to < l->n)
            page_link(b, page + 1, count, "next", "Next patients");
        html_raw(b, "</ul></nav>");
    }
    web_frame_end(b);
}

/* GET /analytics/risk-list */
static int h_risk(struct http_req *req, void *arg)
{
    struct web *w = arg;
    bool csv;
    struct store *s = analytics_page_begin(
        req, authz_risk_list,
        "The risk list is for a GP practice's clinicians and nurses, signed in "
        "from the practice's own system.",
        &csv);
    if (!s)
        return 0;
    long page = page_arg(req, "page", 1, 1000000);
    long count = page_arg(req, "count", RISK_PAGE_ROWS, RISK_PAGE_MAX);
    if (page < 0 || count < 0) {
        web_error_page(req, 400, "That page of the risk list does not exist",
                       "The page must be a whole number from 1, and the rows per page from 1 to "
                       "1,000.",
                       "Go back to the first page of the risk list.");
        return 0;
    }
    const struct principal *p = &req->principal;
    struct efi_codes *efi = NULL;
    char err[512];
    struct risk_list l;
    int64_t today = day_today();
    /* the rows the last refresh stored for today; else computed for this view */
    int rc = risk_list_stored(s, p->org, today, &l);
    if (rc == WEFT_ENOTFOUND) {
        if ((rc = efi_codes_load(NULL, &efi, err, sizeof err)) == 0)
            rc = risk_list_build(s, efi, p->org, today, &l);
        efi_codes_free(efi);
    }
    if (rc) {
        web_error_page(req, 500, "The risk list could not be computed",
                       "Something went wrong reading the record.", "Try again later.");
        return 0;
    }
    /* the rows shown: the page's (HTML), every one (CSV) */
    int from = 0, to = l.n;
    if (!csv) {
        long f = (page - 1) * count;
        from = f < l.n ? (int)f : l.n;
        to = l.n - from > count ? from + (int)count : l.n;
    }
    struct buf what = BUF_INIT;
    buf_addf(&what, "risk-list:%s%s", p->org, csv ? " csv" : "");
    rc = authz_audit_access(s, p, csv ? AUDIT_EXPORT : AUDIT_READ, NULL, what.data, to - from);
    buf_release(&what);
    if (rc) {
        risk_list_free(&l);
        web_error_page(req, 500, "The risk list could not be shown",
                       "The view could not be written to the audit log.", "Try again later.");
        return 0;
    }
    struct buf b = BUF_INIT;
    if (csv) {
        render_csv(&b, &l);
        risk_list_free(&l);
        http_reply_header(req, "Content-Disposition", "attachment; filename=\"risk-list.csv\"");
        http_reply_header(req, "Cache-Control", "no-store");
        http_reply_header(req, "X-Content-Type-Options", "nosniff");
        http_reply_buf(req, 200, "text/csv; charset=utf-8", &b);
        return 0;
    }
    render_html(&b, w, &l, p->org, page, count, from, to);
    risk_list_free(&l);
    web_admin_reply(req, 200, &b);
    return 0;
}

int web_analytics_routes_add(struct http_server *srv, struct web *w)
{
    return http_route_add(srv, "GET", "/analytics/risk-list", h_risk, w, 0);
}
