/*
 * analytics_agg.c - aggregate-table outputs on the pages (analytics_agg.h).
 */
#include "web/analytics_agg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/authz.h"
#include "analytics/day.h"
#include "analytics/flow.h"
#include "analytics/secondary.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "web/admin.h"
#include "web/html.h"
#include "web/web.h"

void analytics_csv_each(const char *csv, void (*fn)(void *arg, int nf, char **f), void *arg)
{
    enum { MAXF = 16 };
    struct buf field[MAXF];
    for (int i = 0; i < MAXF; i++)
        field[i] = (struct buf)BUF_INIT;
    const char *c = csv ? csv : "";
    while (*c) {
        int nf = 0;
        for (int i = 0; i < MAXF; i++)
            buf_reset(&field[i]);
        for (;;) { /* one field */
            struct buf *b = &field[nf < MAXF ? nf : MAXF - 1];
            buf_adds(b, "");
            if (*c == '"') {
                for (c++; *c; c++) {
                    if (*c == '"' && c[1] == '"')
                        buf_addc(b, *c++);
                    else if (*c == '"')
                        break;
                    else
                        buf_addc(b, *c);
                }
                if (*c == '"')
                    c++;
            }
            for (; *c && *c != ',' && *c != '\n'; c++)
                if (*c != '\r')
                    buf_addc(b, *c);
            nf += nf < MAXF;
            if (*c != ',')
                break;
            c++;
        }
        if (*c == '\n')
            c++;
        char *f[MAXF];
        for (int i = 0; i < nf; i++)
            f[i] = field[i].data;
        fn(arg, nf, f);
    }
    for (int i = 0; i < MAXF; i++)
        buf_release(&field[i]);
}

static void parse_line(void *arg, int nf, char **v)
{
    struct agg_figs *f = arg;
    if (f->nkeys == 0) { /* the header: measure, the keys, period, value */
        f->nkeys = nf == 5 ? 2 : 1;
        for (int k = 0; k < f->nkeys; k++)
            f->key_names[k] = xstrdup(nf > k + 1 ? v[k + 1] : "");
        return;
    }
    if (nf != f->nkeys + 3)
        return;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 256;
        f->v = xrealloc(f->v, (size_t)f->cap * sizeof *f->v);
    }
    f->v[f->n++] = (struct agg_fig){xstrdup(v[0]), xstrdup(v[1]), xstrdup(f->nkeys > 1 ? v[2] : ""),
                                    xstrdup(v[f->nkeys + 1]), xstrdup(v[f->nkeys + 2])};
}

void agg_figs_parse(const char *csv, struct agg_figs *f)
{
    memset(f, 0, sizeof *f);
    analytics_csv_each(csv, parse_line, f);
}

void agg_figs_free(struct agg_figs *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->v[i].measure);
        free(f->v[i].k1);
        free(f->v[i].k2);
        free(f->v[i].period);
        free(f->v[i].value);
    }
    free(f->v);
    free(f->key_names[0]);
    free(f->key_names[1]);
    memset(f, 0, sizeof *f);
}

const char *agg_figs_get(const struct agg_figs *f, const char *measure, const char *k1,
                         const char *k2, const char *period)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].measure, measure) && !strcmp(f->v[i].k1, k1) &&
            !strcmp(f->v[i].k2, k2 ? k2 : "") && !strcmp(f->v[i].period, period))
            return f->v[i].value;
    return NULL;
}

double agg_figs_value(const char *v)
{
    if (!v || !*v || !strcmp(v, "*"))
        return NAN;
    return strtod(v, NULL);
}

static char *capitalised(const char *s)
{
    char *c = xstrdup(s);
    if (c[0] >= 'a' && c[0] <= 'z')
        c[0] = (char)(c[0] - 32);
    return c;
}

void agg_figs_table(struct buf *b, const struct agg_figs *f, const char *measure,
                    const char *caption, const char *prefix)
{
    /* the measure's figures are one run in emit order: rows, then periods */
    int first = -1, last = -1;
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].measure, measure)) {
            if (first < 0)
                first = i;
            last = i;
        }
    if (first < 0)
        return;
    int ncols = 0;
    while (first + ncols <= last && !strcmp(f->v[first + ncols].k1, f->v[first].k1) &&
           !strcmp(f->v[first + ncols].k2, f->v[first].k2))
        ncols++;
    html_addf(b,
              "<div class=\"weft-scroll\" role=\"region\" aria-labelledby=\"%s-%s-cap\" "
              "tabindex=\"0\"><table class=\"nhsuk-table\" id=\"%s-%s\" data-measure=\"%s\">"
              "<caption class=\"nhsuk-table__caption\" id=\"%s-%s-cap\">%s</caption><thead "
              "class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">",
              prefix, measure, prefix, measure, measure, prefix, measure, caption);
    for (int k = 0; k < f->nkeys; k++) {
        char *h = capitalised(f->key_names[k]);
        html_addf(b, "<th scope=\"col\">%s</th>", h);
        free(h);
    }
    for (int c = 0; c < ncols; c++)
        html_addf(b, "<th scope=\"col\">%s</th>", f->v[first + c].period);
    html_raw(b, "</tr></thead><tbody class=\"nhsuk-table__body\">");
    for (int i = first; i <= last; i += ncols) {
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\" class=\"nhsuk-table__cell\">"
                  "%s</th>",
                  f->v[i].k1);
        if (f->nkeys > 1)
            html_addf(b, "<td class=\"nhsuk-table__cell\">%s</td>", f->v[i].k2);
        for (int c = 0; c < ncols && i + c <= last; c++)
            html_addf(b, "<td class=\"nhsuk-table__cell\" data-period=\"%s\">%s</td>",
                      f->v[i + c].period, f->v[i + c].value);
        html_raw(b, "</tr>");
    }
    html_raw(b, "</tbody></table></div>");
}

void analytics_window_form(struct buf *b, const char *action, const char *from, const char *as_of,
                           const char *error)
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
              "<form method=\"get\" action=\"%s\" novalidate><fieldset "
              "class=\"nhsuk-fieldset\"><legend class=\"nhsuk-fieldset__legend\">The days to "
              "show (at most %d)</legend><div class=\"nhsuk-form-group\"><label "
              "class=\"nhsuk-label\" for=\"from\">First day (YYYY-MM-DD)</label><input "
              "class=\"nhsuk-input\" id=\"from\" name=\"from\" type=\"text\" value=\"%s\"",
              action, FLOW_MAX_DAYS, from ? from : "");
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

void analytics_window_args(struct http_req *req, const char **from_arg, const char **as_of_arg)
{
    *from_arg = http_req_arg(req, "from");
    *as_of_arg = http_req_arg(req, "as-of");
    if (*from_arg && !**from_arg)
        *from_arg = NULL;
    if (*as_of_arg && !**as_of_arg)
        *as_of_arg = NULL;
}

const char *analytics_window_parse(const char *from_arg, const char *as_of_arg, const char *output,
                                   int64_t *from, int64_t *as_of, char msg[160])
{
    *as_of = day_today();
    if (as_of_arg && (strlen(as_of_arg) != 10 || !day_parse(as_of_arg, as_of)))
        return "The last day must be a real date written YYYY-MM-DD, for example 2026-11-30.";
    *from = secondary_window_from(output, *as_of);
    if (from_arg && (strlen(from_arg) != 10 || !day_parse(from_arg, from)))
        return "The first day must be a real date written YYYY-MM-DD, for example 2026-11-01.";
    if (*from > *as_of || *as_of - *from >= FLOW_MAX_DAYS) {
        snprintf(msg, 160,
                 "The first day must be on or before the last day and at most %d days before it.",
                 FLOW_MAX_DAYS - 1);
        return msg;
    }
    return NULL;
}

struct store *analytics_page_begin(struct http_req *req,
                                   int (*allow)(struct store *s, const struct principal *p,
                                                const char **reason),
                                   const char *for_whom, bool *csv)
{
    *csv = false;
    if (!web_admin_user(req))
        return NULL;
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
        return NULL;
    }
    const char *reason = NULL;
    int rc = allow(s, &req->principal, &reason);
    if (rc || reason) {
        web_error_page(req, 403, "You do not have permission to view this page",
                       reason ? reason : "Access could not be checked.", for_whom);
        return NULL;
    }
    const char *format = http_req_arg(req, "format");
    *csv = format && !strcmp(format, "csv");
    if (format && !*csv) {
        web_error_page(req, 400, "Unknown format", "The only format offered is csv.",
                       "Use ?format=csv, or no format for the page.");
        return NULL;
    }
    return s;
}
