/*
 * clinician_results.c - results and observations: a table per test with the latest
 * value, units, reference range and out-of-range marking; trend charts
 * (chart.c) for the key measures and any test with repeated numeric values;
 * and the chart page with the chart and its data as a table.
 *
 * Grouping is by the stored main code ("system|code"), so the same test
 * from two laboratories is one row when both use the same code.  Reading
 * the whole category for one person is bounded (MAX_RESULTS, newest first)
 * and said on the page when reached.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "domain/contrib.h"
#include "http/server.h"
#include "web/chart.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "store/records.h"

#define MAX_RESULTS 2000
#define MAX_CHART_POINTS 2000

static const struct web_measure measures[] = {
    {"hba1c",
     "HbA1c",
     /* 59261-8: HbA1c by the IFCC method (mmol/mol), how UK labs report it */
     {"4548-4", "17856-6", "59261-8", "1049301000000100", "999791000000106"},
     {0}},
    {"egfr",
     "eGFR",
     {"33914-3", "62238-1", "69405-9", "98979-8", "48642-3", "1011481000000105",
      "1020291000000106"},
     {0}},
    {"bp", "Blood pressure", {"85354-9", "55284-4", "75367002", "163020007"}, {"8480-6", "8462-4"}},
    {"weight", "Weight", {"29463-7", "3141-9", "27113001"}, {0}},
    {"bmi", "Body mass index", {"39156-5", "60621009"}, {0}},
    {"cholesterol", "Total cholesterol", {"2093-3", "1005671000000105"}, {0}},
    {"creatinine", "Creatinine", {"38483-4", "2160-0", "1000731000000107"}, {0}},
    {"potassium", "Potassium", {"6298-4", "2823-3", "1000651000000109"}, {0}},
    {"heart-rate", "Heart rate", {"8867-4", "364075005"}, {0}},
    {"temperature", "Temperature", {"8310-5", "8331-1", "386725007"}, {0}},
    {"spo2", "Oxygen saturation", {"59408-5", "2708-6", "431314004"}, {0}},
};

const struct web_measure *web_measures(int *n)
{
    *n = (int)(sizeof measures / sizeof measures[0]);
    return measures;
}

const struct web_measure *web_measure_find(const char *key)
{
    for (size_t i = 0; key && i < sizeof measures / sizeof measures[0]; i++)
        if (strcmp(measures[i].key, key) == 0)
            return &measures[i];
    return NULL;
}

bool web_measure_has_code(const struct web_measure *m, const char *code)
{
    if (!code)
        return false;
    const char *bar = strrchr(code, '|');
    const char *bare = bar ? bar + 1 : code;
    for (int i = 0; i < 8 && m->codes[i]; i++)
        if (strcmp(m->codes[i], bare) == 0)
            return true;
    return false;
}

int web_measure_ncodes(const struct web_measure *m)
{
    int n = 0;
    while (n < 8 && m->codes[n])
        n++;
    return n;
}

static const char *flag_html(enum fmt_flag f)
{
    switch (f) {
    case FMT_FLAG_HIGH:
        return "<strong class=\"weft-oor\">High</strong>";
    case FMT_FLAG_LOW:
        return "<strong class=\"weft-oor\">Low</strong>";
    case FMT_FLAG_ABNORMAL:
        return "<strong class=\"weft-oor\">Abnormal</strong>";
    default:
        return "";
    }
}

static bool same_unit(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const char *unit_of(const json_t *obs, const char *component_code)
{
    const json_t *src = obs;
    if (component_code) {
        size_t i;
        const json_t *cmp;
        src = NULL;
        json_array_foreach(json_object_get(obs, "component"), i, cmp)
        {
            if (fmt_cc_has_code(json_object_get(cmp, "code"), component_code)) {
                src = cmp;
                break;
            }
        }
    }
    const json_t *vq = json_object_get(src, "valueQuantity");
    const char *u = json_string_value(json_object_get(vq, "unit"));
    return u ? u : json_string_value(json_object_get(vq, "code"));
}

/* Reference range numbers from the newest item in this unit that has them. */
static void ref_bounds(struct web_list *l, const char *unit, struct chart_spec *spec)
{
    for (int i = l->n - 1; i >= 0; i--) {
        if (!same_unit(unit_of(l->items[i].res, NULL), unit))
            continue;
        const json_t *rr = json_array_get(json_object_get(l->items[i].res, "referenceRange"), 0);
        const json_t *lo = json_object_get(json_object_get(rr, "low"), "value");
        const json_t *hi = json_object_get(json_object_get(rr, "high"), "value");
        if (json_is_number(lo) || json_is_number(hi)) {
            spec->has_low = json_is_number(lo);
            spec->has_high = json_is_number(hi);
            spec->ref_low = json_number_value(lo);
            spec->ref_high = json_number_value(hi);
            return;
        }
    }
}

static const char *const bp_comp[2] = {"8480-6", "8462-4"};

/* One chart of the values of l (oldest first) recorded in unit. */
static int draw_unit(struct web_ctx *c, struct web_list *l, const char *id, const char *title,
                     bool bp, int w, int h, const char *unit)
{
    int ns = bp ? 2 : 1;
    struct chart_point *pts[2] = {xcalloc((size_t)l->n + 1, sizeof(struct chart_point)),
                                  xcalloc((size_t)l->n + 1, sizeof(struct chart_point))};
    int np[2] = {0, 0};
    for (int i = 0; i < l->n; i++) {
        const char *date = web_item_date(&l->items[i]);
        for (int s = 0; s < ns; s++) {
            double v;
            const char *comp = bp ? bp_comp[s] : NULL;
            if (!fmt_obs_number(l->items[i].res, comp, &v) ||
                !same_unit(unit_of(l->items[i].res, comp), unit))
                continue;
            pts[s][np[s]++] = (struct chart_point){date, v};
        }
    }
    struct chart_series series[2] = {{bp ? "Systolic" : NULL, pts[0], np[0]},
                                     {"Diastolic", pts[1], np[1]}};
    struct buf shown_unit = BUF_INIT; /* as people read it (fmt_unit) */
    fmt_unit(&shown_unit, unit);
    struct chart_spec spec = {.id = id,
                              .title = title,
                              .unit = shown_unit.len ? shown_unit.data : NULL,
                              .series = series,
                              .nseries = ns,
                              .width = w,
                              .height = h};
    if (!bp)
        ref_bounds(l, unit, &spec);
    html_raw(&c->out, "<figure class=\"weft-figure\">");
    int drawn = chart_svg(&c->out, &spec);
    html_raw(&c->out, "</figure>");
    free(pts[0]);
    free(pts[1]);
    buf_release(&shown_unit);
    return drawn;
}

/* Charts of l: one per unit the values were recorded in, so that values in
 * different units (HbA1c in % and in mmol/mol) are never drawn on one axis.
 * Returns the number of points drawn. */
static int draw(struct web_ctx *c, struct web_list *l, const char *id, const char *title, bool bp,
                int w, int h)
{
    const char *units[4];
    int nu = 0, drawn = 0;
    for (int i = 0; i < l->n; i++) {
        double v;
        const char *comp = bp ? bp_comp[0] : NULL;
        if (!fmt_obs_number(l->items[i].res, comp, &v))
            continue;
        const char *u = unit_of(l->items[i].res, comp);
        int k = 0;
        while (k < nu && !same_unit(units[k], u))
            k++;
        if (k == nu && nu < 4)
            units[nu++] = u;
    }
    if (nu == 0)
        return draw_unit(c, l, id, title, bp, w, h, NULL);
    for (int k = 0; k < nu; k++) {
        char uid[80];
        snprintf(uid, sizeof uid, "%s%s%d", id, k ? "-" : "", k);
        if (k == 0)
            snprintf(uid, sizeof uid, "%s", id);
        drawn += draw_unit(c, l, uid, title, bp, w, h, units[k]);
    }
    return drawn;
}

static bool is_bp(const struct web_list *l)
{
    for (int i = 0; i < l->n && i < 5; i++) {
        double v;
        if (fmt_obs_number(l->items[i].res, "8480-6", &v))
            return true;
    }
    return false;
}

static int numeric_count(const struct web_list *l)
{
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        double v;
        if (fmt_obs_number(l->items[i].res, NULL, &v) ||
            fmt_obs_number(l->items[i].res, "8480-6", &v))
            n++;
    }
    return n;
}

struct group {
    const char *code;
    bool patient; /* entered by the patient: a group of its own */
    int latest;   /* index into the list (newest first) */
    int count, numeric;
};

int web_page_results(struct web_ctx *c, const struct web_category *cat)
{
    struct buf *b = &c->out;
    const char *cats[] = {cat->name};
    web_page_begin(c, cat->label);
    html_addf(b, "<h1 class=\"nhsuk-heading-l\">%s</h1>", cat->label);
    web_withheld_notice(c);

    struct web_list l = {0};
    struct web_fetch f = {
        .categories = cats, .ncategories = 1, .sort = STORE_SORT_DATE_DESC, .limit = MAX_RESULTS};
    int rc = web_fetch(c, &f, &l);
    if (rc < 0) {
        web_list_clear(&l);
        return rc;
    }

    /* Trend charts for key measures with repeated values in this category,
     * from the items already read (no query per measure). */
    int nm, ncharts = 0;
    const struct web_measure *ms = web_measures(&nm);
    struct web_item *subset = xcalloc((size_t)l.n + 1, sizeof *subset);
    /* what the person entered themself is charted apart (pass 1), marked,
     * never on the same axes as the clinical values */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nm; i++) {
            struct web_list ml = {.items = subset};
            for (int k = l.n - 1; k >= 0; k--) /* oldest first */
                if (web_measure_has_code(&ms[i], l.items[k].row.code) &&
                    web_row_patient_entered(&l.items[k].row) == (pass == 1))
                    ml.items[ml.n++] = l.items[k];
            if (numeric_count(&ml) < 2)
                continue;
            if (ncharts++ == 0)
                html_raw(b, "<h2 class=\"nhsuk-heading-m\">Trends</h2><div class=\"weft-charts\">");
            char id[48], label[96];
            snprintf(id, sizeof id, "chart-%s%s", ms[i].key, pass ? "-patient" : "");
            snprintf(label, sizeof label, "%s%s", ms[i].label, pass ? " (" CONTRIB_LABEL ")" : "");
            html_addf(b,
                      "<section class=\"weft-chart-card%s\" aria-labelledby=\"%s-h\"><h3 "
                      "class=\"nhsuk-heading-s\" id=\"%s-h\">%s",
                      pass ? " weft-patient-entered" : "", id, id, ms[i].label);
            html_raw(b, pass ? " " WEB_PATIENT_TAG "</h3>" : "</h3>");
            draw(c, &ml, id, label, ms[i].component[0] != NULL, 480, 200);
            html_addf(b,
                      "<p><a href=\"/patient/%s/chart?m=%s\">%s: chart and values</a></p>"
                      "</section>",
                      c->person_id, ms[i].key, ms[i].label);
        }
    free(subset); /* the items belong to l */
    if (ncharts)
        html_raw(b, "</div>");

    /* One row per test, newest value first. */
    struct group *g = xcalloc((size_t)l.n + 1, sizeof *g);
    int ng = 0;
    for (int i = 0; i < l.n; i++) {
        if (strcmp(l.items[i].row.type, "Observation") != 0)
            continue;
        const char *code = l.items[i].row.code ? l.items[i].row.code : l.items[i].row.id;
        bool patient = web_row_patient_entered(&l.items[i].row);
        int k = 0;
        for (; k < ng; k++)
            if (strcmp(g[k].code, code) == 0 && g[k].patient == patient)
                break;
        if (k == ng)
            g[ng++] = (struct group){code, patient, i, 0, 0};
        g[k].count++;
        double v;
        if (fmt_obs_number(l.items[i].res, NULL, &v) ||
            fmt_obs_number(l.items[i].res, "8480-6", &v))
            g[k].numeric++;
    }
    html_addf(b, "<h2 class=\"nhsuk-heading-m\">Latest by test</h2>");
    if (ng) {
        html_addf(b,
                  "<table class=\"nhsuk-table weft-table\" id=\"results-table\"><caption "
                  "class=\"nhsuk-u-visually-hidden\">%s: latest value of each test</caption>"
                  "<thead class=\"nhsuk-table__head\"><tr><th scope=\"col\">Test</th>"
                  "<th scope=\"col\">Latest value</th><th scope=\"col\">Reference range</th>"
                  "<th scope=\"col\">Flag</th><th scope=\"col\">Date</th>"
                  "<th scope=\"col\">Source</th><th scope=\"col\">Values</th></tr></thead><tbody>",
                  cat->label);
        for (int k = 0; k < ng; k++) {
            struct web_item *it = &l.items[g[k].latest];
            struct buf t = BUF_INIT, v = BUF_INIT, rr = BUF_INIT, href = BUF_INIT;
            fmt_resource_title(&t, it->res);
            fmt_obs_value(&v, it->res);
            fmt_ref_range(&rr, it->res);
            web_item_href(c, &href, &it->row);
            enum fmt_flag fl = fmt_obs_flag(it->res);
            html_addf(b,
                      "<tr class=\"nhsuk-table__row%s%s\"><th scope=\"row\" "
                      "class=\"nhsuk-table__cell\"><a href=\"%s\">%s</a>",
                      fl ? " weft-row-oor" : "", g[k].patient ? " weft-patient-entered" : "",
                      href.data, t.data);
            if (g[k].patient)
                html_raw(b, " " WEB_PATIENT_TAG);
            html_addf(b,
                      "</th><td class=\"nhsuk-table__cell\">%s</td><td "
                      "class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">",
                      v.len ? v.data : "no value", rr.len ? rr.data : "not given");
            html_raw(b, flag_html(fl));
            html_raw(b, "</td>");
            web_cell_item_date(c, it, false);
            web_cell_source(c, &it->row);
            if (g[k].numeric >= 2) {
                struct buf u = BUF_INIT;
                html_url_addf(&u, "/patient/%s/chart?code=%s", c->person_id, g[k].code);
                html_addf(b,
                          "<td class=\"nhsuk-table__cell\">%d <a href=\"%s\">trend<span "
                          "class=\"nhsuk-u-visually-hidden\"> of %s</span></a></td></tr>",
                          g[k].count, u.data, t.data);
                buf_release(&u);
            } else {
                html_addf(b, "<td class=\"nhsuk-table__cell\">%d</td></tr>", g[k].count);
            }
            web_audit_note(c, &it->row);
            buf_release(&t);
            buf_release(&v);
            buf_release(&rr);
            buf_release(&href);
        }
        html_raw(b, "</tbody></table>");
    } else {
        web_empty(c, cats, 1, "None recorded.", "no-items");
    }
    free(g);

    /* Reports (DiagnosticReport, ImagingStudy ...) with their reader. */
    int nrep = 0;
    for (int i = 0; i < l.n; i++) {
        struct web_item *it = &l.items[i];
        if (strcmp(it->row.type, "Observation") == 0)
            continue;
        if (nrep++ == 0)
            html_raw(b, "<h2 class=\"nhsuk-heading-m\">Reports</h2><table class=\"nhsuk-table "
                        "weft-table\" id=\"reports-table\"><caption "
                        "class=\"nhsuk-u-visually-hidden\">Reports</caption><thead "
                        "class=\"nhsuk-table__head\"><tr><th scope=\"col\">Date</th>"
                        "<th scope=\"col\">Report</th><th scope=\"col\">Status</th>"
                        "<th scope=\"col\">Source</th></tr></thead><tbody>");
        struct buf t = BUF_INIT, href = BUF_INIT;
        fmt_resource_title(&t, it->res);
        web_item_href(c, &href, &it->row);
        const char *st = fmt_resource_status(it->res);
        html_raw(b, "<tr class=\"nhsuk-table__row\">");
        web_cell_item_date(c, it, true);
        html_addf(b,
                  "<td class=\"nhsuk-table__cell\"><a href=\"%s\">%s</a></td>"
                  "<td class=\"nhsuk-table__cell\">%s</td>",
                  href.data, t.data, st ? st : "");
        web_cell_source(c, &it->row);
        html_raw(b, "</tr>");
        web_audit_note(c, &it->row);
        buf_release(&t);
        buf_release(&href);
    }
    if (nrep)
        html_raw(b, "</tbody></table>");
    if (l.next)
        html_addf(b,
                  "<p>Only the newest %d items are summarised here. <a "
                  "href=\"/patient/%s/timeline?category=%s\">List every item by date</a>.</p>",
                  MAX_RESULTS, c->person_id, cat->name);
    else
        html_addf(b,
                  "<p><a href=\"/patient/%s/timeline?category=%s\">List these items by date, "
                  "with filters</a></p>",
                  c->person_id, cat->name);
    web_list_clear(&l);
    web_page_end(c);
    return 200;
}

int web_page_chart(struct web_ctx *c)
{
    struct buf *b = &c->out;
    const char *m = http_req_arg(c->req, "m");
    const char *code = http_req_arg(c->req, "code");
    const struct web_measure *meas = web_measure_find(m);
    const char *codes_one[1] = {code};
    if (!meas && (!code || !*code || strlen(code) > 300))
        return 404;
    const char *cats[] = {"results", "observations"};
    struct web_list l = {0};
    struct web_fetch f = {.categories = cats,
                          .ncategories = 2,
                          .codes = meas ? meas->codes : codes_one,
                          .ncodes = meas ? web_measure_ncodes(meas) : 1,
                          .sort = STORE_SORT_DATE,
                          .limit = MAX_CHART_POINTS};
    int rc = web_fetch(c, &f, &l);
    if (rc < 0) {
        web_list_clear(&l);
        return rc;
    }
    struct buf title = BUF_INIT;
    if (meas)
        buf_adds(&title, meas->label);
    else if (l.n)
        fmt_resource_title(&title, l.items[l.n - 1].res);
    else
        buf_adds(&title, "Trend");
    web_page_begin(c, title.data);
    html_addf(b, "<h1 class=\"nhsuk-heading-l\">%s</h1>", title.data);
    web_withheld_notice(c);
    bool bp = (meas && meas->component[0]) || is_bp(&l);
    /* the clinical values and what the person entered themself: two charts,
     * two tables, never one series */
    struct web_list part[2] = {{.items = xcalloc((size_t)l.n + 1, sizeof(struct web_item))},
                               {.items = xcalloc((size_t)l.n + 1, sizeof(struct web_item))}};
    for (int i = 0; i < l.n; i++) {
        struct web_list *to = &part[web_row_patient_entered(&l.items[i].row) ? 1 : 0];
        to->items[to->n++] = l.items[i];
    }
    if (l.n == 0) {
        const char *both[] = {"observations", "results"};
        web_empty(c, both, 2, "No values recorded.", "no-items");
    }
    for (int pi = 0; pi < 2; pi++) {
        struct web_list *pl = &part[pi];
        if (pl->n == 0)
            continue;
        struct buf cap = BUF_INIT;
        buf_addf(&cap, "%s%s", title.data, pi ? " (" CONTRIB_LABEL ")" : "");
        if (pi) {
            html_addf(b, "<h2 class=\"nhsuk-heading-m weft-patient-entered\" "
                         "id=\"patient-entered\">Readings entered by the patient ");
            html_raw(b, WEB_PATIENT_TAG "</h2>");
        } else if (part[1].n) {
            html_raw(b, "<h2 class=\"nhsuk-heading-m\" id=\"clinical\">Recorded by "
                        "organisations caring for the patient</h2>");
        }
        draw(c, pl, pi ? "trend-patient" : "trend", cap.data, bp, 720, 280);
        html_addf(b,
                  "<table class=\"nhsuk-table weft-table\" id=\"%s\"><caption "
                  "class=\"nhsuk-table__caption\">%s: every value, newest first</caption>"
                  "<thead class=\"nhsuk-table__head\"><tr><th scope=\"col\">Date</th>"
                  "<th scope=\"col\">Value</th><th scope=\"col\">Reference range</th>"
                  "<th scope=\"col\">Flag</th><th scope=\"col\">Source</th></tr></thead><tbody>",
                  pi ? "chart-values-patient" : "chart-values", cap.data);
        buf_release(&cap);
        for (int i = pl->n - 1; i >= 0; i--) {
            struct web_item *it = &pl->items[i];
            struct buf v = BUF_INIT, rr = BUF_INIT;
            fmt_obs_value(&v, it->res);
            fmt_ref_range(&rr, it->res);
            html_raw(b, "<tr class=\"nhsuk-table__row\">");
            web_cell_item_date(c, it, true);
            html_addf(b,
                      "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">"
                      "%s</td><td class=\"nhsuk-table__cell\">",
                      v.data, rr.data);
            html_raw(b, flag_html(fmt_obs_flag(it->res)));
            html_raw(b, "</td>");
            web_cell_source(c, &it->row);
            html_raw(b, "</tr>");
            web_audit_note(c, &it->row);
            buf_release(&v);
            buf_release(&rr);
        }
        html_raw(b, "</tbody></table>");
    }
    free(part[0].items); /* the items belong to l */
    free(part[1].items);
    buf_release(&title);
    web_list_clear(&l);
    web_page_end(c);
    return 200;
}
