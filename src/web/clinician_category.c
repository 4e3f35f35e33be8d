/*
 * clinician_category.c - a page per record category, and the timeline across all of
 * them: one table, newest first, filterable by organisation, date range and
 * status (and by category on the timeline), paged by the store's keyset
 * cursor so a page link stays stable while feeds keep arriving.
 *
 * Filters are a plain GET form (works without JavaScript; the URL can be
 * bookmarked).  The organisation and status choices list the values present
 * in the items the user may see, so they leak nothing the table would not
 * show.  Bad filter input (a malformed date, "to" before "from") is reported
 * on the page with an error summary, the table is not shown until it is put
 * right, and nothing is lost (the form keeps what was typed).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "http/server.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "store/records.h"

#define PAGE_ROWS 100
#define OPTION_SCAN 1000

static bool valid_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    struct tm tmv = {0};
    tmv.tm_year = atoi(s) - 1900;
    tmv.tm_mon = atoi(s + 5) - 1;
    tmv.tm_mday = atoi(s + 8);
    if (tmv.tm_mon < 0 || tmv.tm_mon > 11 || tmv.tm_mday < 1 || tmv.tm_mday > 31)
        return false;
    time_t t = timegm(&tmv);
    struct tm back;
    gmtime_r(&t, &back);
    return back.tm_mday == atoi(s + 8); /* timegm normalised 31 Feb to March */
}

static void next_day(const char *s, char out[11])
{
    struct tm tmv = {0};
    tmv.tm_year = atoi(s) - 1900;
    tmv.tm_mon = atoi(s + 5) - 1;
    tmv.tm_mday = atoi(s + 8) + 1;
    time_t t = timegm(&tmv);
    struct tm back;
    gmtime_r(&t, &back);
    strftime(out, 11, "%Y-%m-%d", &back);
}

static const char *arg(struct web_ctx *c, const char *name)
{
    const char *v = http_req_arg(c->req, name);
    return v && *v ? v : NULL;
}

struct strset {
    char *v[64];
    int n;
};

static void strset_add(struct strset *s, const char *v)
{
    if (!v || !*v)
        return;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return;
    if (s->n < 64)
        s->v[s->n++] = xstrdup(v);
}

static void strset_free(struct strset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static const char *item_status(const struct web_item *it)
{
    const char *s = fmt_resource_status(it->res);
    return s ? s : it->row.status;
}

static void select_field(struct web_ctx *c, const char *name, const char *label,
                         const struct strset *opts, const char *current, bool org_names)
{
    struct buf *b = &c->out;
    html_addf(b,
              "<div class=\"nhsuk-form-group weft-filter\"><label class=\"nhsuk-label\" "
              "for=\"f-%s\">%s</label><select class=\"nhsuk-select\" id=\"f-%s\" name=\"%s\">"
              "<option value=\"\">All</option>",
              name, label, name, name);
    for (int i = 0; i < opts->n; i++) {
        const char *shown = org_names ? web_org_name(c, opts->v[i]) : opts->v[i];
        if (!org_names) {
            const struct web_category *cat = web_category_find(opts->v[i]);
            if (cat && strcmp(name, "category") == 0)
                shown = cat->label;
        }
        html_addf(b, "<option value=\"%s\"%s>%s</option>", opts->v[i],
                  current && strcmp(current, opts->v[i]) == 0 ? " selected" : "", shown);
    }
    html_raw(b, "</select></div>");
}

/* The listing shared by category pages and the timeline.  cats NULL: every
 * category allowed (timeline). */
static int listing(struct web_ctx *c, const char *const *cats, int ncats, bool timeline,
                   const char *heading)
{
    struct buf *b = &c->out;
    const char *org = arg(c, "org"), *from = arg(c, "from"), *to = arg(c, "to");
    const char *status = arg(c, "status"), *after = arg(c, "after"), *snap = arg(c, "snap");
    const char *cat_filter = timeline ? arg(c, "category") : NULL;
    const char *errors[4];
    int nerr = 0;
    if (from && !valid_date(from))
        errors[nerr++] = "Enter the 'from' date as a real date in the form YYYY-MM-DD, for "
                         "example 2023-04-05";
    if (to && !valid_date(to))
        errors[nerr++] = "Enter the 'to' date as a real date in the form YYYY-MM-DD, for "
                         "example 2023-04-05";
    if (!nerr && from && to && strcmp(from, to) > 0)
        errors[nerr++] = "The 'to' date must be the same as or after the 'from' date";
    if (cat_filter && !web_category_find(cat_filter))
        errors[nerr++] = "Choose a category from the list";

    web_page_begin(c, heading);
    html_addf(b, "<h1 class=\"nhsuk-heading-l\">%s</h1>", heading);
    if (nerr) {
        html_raw(b, "<div class=\"nhsuk-error-summary\" aria-labelledby=\"error-summary-title\" "
                    "role=\"alert\" tabindex=\"-1\"><h2 class=\"nhsuk-error-summary__title\" "
                    "id=\"error-summary-title\">There is a problem</h2><div "
                    "class=\"nhsuk-error-summary__body\"><ul class=\"nhsuk-list "
                    "nhsuk-error-summary__list\">");
        for (int i = 0; i < nerr; i++)
            html_addf(b, "<li>%s</li>", errors[i]);
        html_raw(b, "</ul></div></div>");
    }
    web_withheld_notice(c);

    /* Options for the filters, from what the user may see. */
    const char *one[1];
    const char *const *qcats = cats;
    int nq = ncats;
    if (cat_filter && !nerr) {
        one[0] = cat_filter;
        qcats = one;
        nq = 1;
    }
    struct strset orgs = {0}, statuses = {0}, catset = {0};
    /* From the page's whole-record rows when they are complete (no query),
     * else a rows-only query of the page's categories. */
    struct web_list opt = {0}, *all = NULL, *src = &opt;
    int rc;
    if (web_all(c, &all) == WEFT_OK && c->all_complete) {
        src = all;
    } else {
        struct web_fetch of = {
            .categories = cats, .ncategories = ncats, .limit = OPTION_SCAN, .rows_only = true};
        rc = web_fetch(c, &of, &opt);
        if (rc < 0) {
            web_list_clear(&opt);
            return rc;
        }
    }
    for (int i = 0; i < src->n; i++) {
        const struct store_row *row = &src->items[i].row;
        if (timeline && !strcmp(row->category, "demographics"))
            continue;
        bool in_cats = !cats;
        for (int k = 0; !in_cats && k < ncats; k++)
            in_cats = strcmp(cats[k], row->category) == 0;
        if (!in_cats)
            continue;
        strset_add(&orgs, row->source_org);
        strset_add(&statuses, row->status);
        strset_add(&catset, row->category);
    }
    web_list_clear(&opt);

    /* The filters fold away (a <details>, no script) so the list starts on
     * the first screen; open while a filter is in use or is wrong. */
    bool filtering = org || from || to || status || cat_filter || nerr;
    html_addf(b,
              "<details class=\"weft-filter-box\"%s><summary>Filter items%s</summary>"
              "<form method=\"get\" class=\"weft-filters\" action=\"%s\" "
              "aria-label=\"Filter items\">",
              filtering ? " open" : "", filtering ? " (filters in use)" : "", c->req->path);
    select_field(c, "org", "Organisation", &orgs, org, true);
    if (timeline)
        select_field(c, "category", "Category", &catset, cat_filter, false);
    select_field(c, "status", "Status", &statuses, status, false);
    html_addf(b,
              "<div class=\"nhsuk-form-group weft-filter\"><label class=\"nhsuk-label\" "
              "for=\"f-from\">From (YYYY-MM-DD)</label><input class=\"nhsuk-input "
              "nhsuk-input--width-10\" id=\"f-from\" name=\"from\" type=\"text\" "
              "inputmode=\"numeric\" value=\"%s\"></div>"
              "<div class=\"nhsuk-form-group weft-filter\"><label class=\"nhsuk-label\" "
              "for=\"f-to\">To (YYYY-MM-DD)</label><input class=\"nhsuk-input "
              "nhsuk-input--width-10\" id=\"f-to\" name=\"to\" type=\"text\" "
              "inputmode=\"numeric\" value=\"%s\"></div>",
              from ? from : "", to ? to : "");
    html_raw(b, "<div class=\"weft-filter weft-filter--button\"><button class=\"nhsuk-button "
                "nhsuk-button--secondary\" type=\"submit\">Apply filters</button></div></form>"
                "</details>");
    strset_free(&orgs);
    strset_free(&statuses);
    strset_free(&catset);
    if (nerr) {
        web_page_end(c);
        return 400;
    }

    char to_excl[11] = {0};
    if (to)
        next_day(to, to_excl);
    struct web_list l = {0};
    struct web_fetch f = {.categories = qcats,
                          .ncategories = nq,
                          .org = org,
                          .date_ge = from,
                          .date_lt = to ? to_excl : NULL,
                          .sort = STORE_SORT_DATE_DESC,
                          .limit = PAGE_ROWS,
                          .after = after,
                          .snapshot = snap ? strtoll(snap, NULL, 10) : 0};
    rc = web_fetch(c, &f, &l);
    if (rc < 0) {
        web_list_clear(&l);
        return rc;
    }
    int shown = 0;
    for (int i = 0; i < l.n; i++) {
        struct web_item *it = &l.items[i];
        if (timeline && (!strcmp(it->row.category, "demographics")))
            continue;
        const char *st = item_status(it);
        if (status && (!it->row.status || strcmp(it->row.status, status) != 0))
            continue;
        if (shown++ == 0) {
            /* The header cells are markup: html_raw, never through %s (which
             * escapes: issue 11 saw them printed as text). */
            html_addf(b,
                      "<table class=\"nhsuk-table weft-table\" id=\"items\"><caption "
                      "class=\"nhsuk-table__caption nhsuk-u-visually-hidden\">%s</caption><thead "
                      "class=\"nhsuk-table__head\"><tr><th scope=\"col\">Date</th>",
                      heading);
            if (timeline)
                html_raw(b, "<th scope=\"col\">Category</th>");
            html_raw(b, "<th scope=\"col\">Item</th><th scope=\"col\">Details</th>"
                        "<th scope=\"col\">Status</th><th scope=\"col\">Source</th></tr></thead>"
                        "<tbody>");
        }
        struct buf t = BUF_INIT, d = BUF_INIT, href = BUF_INIT;
        web_item_title(c, &t, it);
        fmt_resource_detail(&d, it->res);
        web_item_href(c, &href, &it->row);
        html_raw(b, "<tr class=\"nhsuk-table__row\">");
        web_cell_item_date(c, it, true);
        if (timeline) {
            const struct web_category *cat = web_category_find(it->row.category);
            html_addf(b, "<td class=\"nhsuk-table__cell\">%s</td>",
                      cat ? cat->label : it->row.category);
        }
        html_addf(b,
                  "<td class=\"nhsuk-table__cell\"><a href=\"%s\">%s</a>"
                  "<span class=\"weft-type\"> %s</span></td>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>",
                  href.data, t.data, fmt_type_label(it->row.type), d.data, st ? st : "");
        web_cell_source(c, &it->row);
        html_raw(b, "</tr>");
        web_audit_note(c, &it->row);
        buf_release(&t);
        buf_release(&d);
        buf_release(&href);
    }
    if (shown)
        html_raw(b, "</tbody></table>");
    else if (org || from || to || status || cat_filter)
        html_raw(b, "<p id=\"no-items\">No items to show with these filters.</p>");
    else
        web_empty(c, cats, ncats, "None recorded.", "no-items");
    if (l.next) {
        struct buf u = BUF_INIT;
        buf_adds(&u, c->req->path);
        html_url_addf(&u, "?after=%s&snap=%lld", l.next, (long long)l.snapshot);
        if (org)
            html_url_addf(&u, "&org=%s", org);
        if (status)
            html_url_addf(&u, "&status=%s", status);
        if (from)
            html_url_addf(&u, "&from=%s", from);
        if (to)
            html_url_addf(&u, "&to=%s", to);
        if (cat_filter)
            html_url_addf(&u, "&category=%s", cat_filter);
        html_addf(b,
                  "<nav class=\"nhsuk-pagination\" role=\"navigation\" "
                  "aria-label=\"Pagination\"><a class=\"nhsuk-pagination__link\" "
                  "href=\"%s\" rel=\"next\">Older items</a></nav>",
                  u.data);
        buf_release(&u);
    }
    web_list_clear(&l);
    web_page_end(c);
    return 200;
}

int web_page_category(struct web_ctx *c, const struct web_category *cat)
{
    const char *cats[] = {cat->name};
    return listing(c, cats, 1, false, cat->label);
}

int web_page_timeline(struct web_ctx *c)
{
    return listing(c, NULL, 0, true, "Timeline");
}
