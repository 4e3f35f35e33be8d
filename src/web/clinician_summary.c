/*
 * clinician_summary.c - the summary page, where a launch lands: the few things a
 * clinician needs first, each item with its source organisation and date.
 *
 * Sections (BRIEF §1): alerts and risks, end-of-life preferences,
 * allergies, current medications, active problems, recent encounters,
 * upcoming appointments, latest key observations.  Each section is one
 * scoped store query with a small limit (the newest first), so the page
 * costs the same for a person with ten items or ten thousand; "current" and
 * "active" are judged from the resource's status, and a "see all" link goes
 * to the category page.  A category the scope withholds says so in general
 * terms ("not available with your access"), which reveals nothing about the
 * person.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "store/records.h"

enum keep {
    KEEP_ALL,
    KEEP_ACTIVE_FLAG,
    KEEP_CURRENT_MED,
    KEEP_ACTIVE_PROBLEM,
    KEEP_ALLERGY,
    KEEP_HOSPITAL_DIAGNOSIS
};

/* A Condition a hospital recorded for one episode (HL7 DG1, FHIR category
 * encounter-diagnosis), as opposed to a problem list entry (GP and
 * long-term problem lists: category problem-list-item, or none given). */
static bool episode_diagnosis(const json_t *res)
{
    size_t i;
    const json_t *cc;
    json_array_foreach(json_object_get(res, "category"), i, cc)
    {
        if (fmt_cc_has_code(cc, "encounter-diagnosis"))
            return true;
    }
    return false;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcasecmp(s, *list) == 0)
            return true;
    return false;
}

/* st: the stored status index column (status, else clinicalStatus code). */
static bool keep(enum keep k, const char *st)
{
    static const char *const gone[] = {"inactive",   "entered-in-error", "resolved", "remission",
                                       "revoked",    "cancelled",        "stopped",  "completed",
                                       "superseded", "refuted",          NULL};
    switch (k) {
    case KEEP_ALL:
        return true;
    case KEEP_ACTIVE_FLAG:
    case KEEP_ALLERGY:
        return !in_list(st, gone);
    case KEEP_CURRENT_MED: {
        static const char *const cur[] = {"active", "on-hold", "intended", NULL};
        return !st || in_list(st, cur);
    }
    case KEEP_ACTIVE_PROBLEM:
    case KEEP_HOSPITAL_DIAGNOSIS: {
        static const char *const act[] = {"active", "recurrence", "relapse", NULL};
        return !st || in_list(st, act);
    }
    }
    return true;
}

struct section {
    const char *category;
    const char *title;
    const char *id;
    enum keep keep;
    int fetch, show;
    bool upcoming;
    const char *empty;
};

static void section(struct web_ctx *c, const struct section *s)
{
    struct buf *b = &c->out;
    html_addf(b,
              "<section class=\"weft-section\" aria-labelledby=\"%s-h\">"
              "<h2 id=\"%s-h\" class=\"nhsuk-heading-m\">%s</h2>",
              s->id, s->id, s->title);
    if (!web_scope_category(c, s->category)) {
        const char *one[] = {s->category};
        web_empty(c, one, 1, s->empty, NULL);
        html_raw(b, "</section>");
        return;
    }
    /* The rows of this category: cut from web_all() when it holds the whole
     * record, else a query of its own.  l.items point into either. */
    struct web_list own = {0}, *src = &own;
    struct web_list *all;
    bool from_all = web_all(c, &all) == WEFT_OK && c->all_complete;
    if (from_all) {
        src = all;
    } else {
        const char *cats[] = {s->category};
        struct web_fetch f = {.categories = cats,
                              .ncategories = 1,
                              .sort = s->upcoming ? STORE_SORT_DATE : STORE_SORT_DATE_DESC,
                              .limit = s->fetch,
                              .date_ge = s->upcoming ? c->today : NULL,
                              .rows_only = true};
        if (web_fetch(c, &f, &own) < 0) {
            html_raw(b, "<p>This section could not be loaded. Try again.</p></section>");
            web_list_clear(&own);
            return;
        }
    }
    /* Order: newest first, or for upcoming items the soonest first. */
    int *order = xcalloc((size_t)src->n + 1, sizeof *order);
    int norder = 0;
    for (int i = 0; i < src->n; i++) {
        const struct store_row *r = &src->items[i].row;
        if (from_all && strcmp(r->category, s->category) != 0)
            continue;
        if (from_all && s->upcoming && (!r->effective || strcmp(r->effective, c->today) < 0))
            continue;
        order[norder++] = i;
    }
    if (from_all && s->upcoming)
        for (int i = 0, j = norder - 1; i < j; i++, j--) {
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    struct web_list l = {.items = src->items, .n = src->n, .next = src->next};
    int shown = 0;
    for (int o = 0; o < norder; o++) {
        int i = order[o];
        /* Judged on the index column; only the rows shown are parsed. */
        if (!keep(s->keep, l.items[i].row.status))
            continue;
        if (shown >= s->show)
            continue;
        struct web_item *it = &l.items[i];
        if (!web_item_parse(it))
            continue;
        /* Problems: the problem lists only; a hospital's episode diagnoses
         * have their own list (issue 11: they swamped the problem list). */
        if ((s->keep == KEEP_ACTIVE_PROBLEM && episode_diagnosis(it->res)) ||
            (s->keep == KEEP_HOSPITAL_DIAGNOSIS && !episode_diagnosis(it->res)))
            continue;
        if (shown == 0)
            html_addf(b,
                      "<table class=\"nhsuk-table weft-table\"><caption "
                      "class=\"nhsuk-u-visually-hidden\">%s</caption><thead "
                      "class=\"nhsuk-table__head\"><tr><th scope=\"col\">Item</th>"
                      "<th scope=\"col\">Details</th><th scope=\"col\">Date</th>"
                      "<th scope=\"col\">Source</th></tr></thead><tbody>",
                      s->title);
        struct buf t = BUF_INIT, d = BUF_INIT, href = BUF_INIT;
        web_item_title(c, &t, it);
        fmt_resource_detail(&d, it->res);
        web_item_href(c, &href, &it->row);
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">"
                  "<a href=\"%s\">%s</a></td><td class=\"nhsuk-table__cell\">%s</td>",
                  href.data, t.data, d.data);
        web_cell_item_date(c, it, s->upcoming);
        web_cell_source(c, &it->row);
        html_raw(b, "</tr>");
        web_audit_note(c, &it->row);
        buf_release(&t);
        buf_release(&d);
        buf_release(&href);
        shown++;
    }
    if (shown) {
        html_raw(b, "</tbody></table>");
    } else {
        const char *one[] = {s->category};
        web_empty(c, one, 1, s->empty, NULL);
    }
    if (norder > 0)
        html_addf(b, "<p><a href=\"/patient/%s/%s\">See all %s</a></p>", c->person_id, s->category,
                  web_category_find(s->category)->label);
    html_raw(b, "</section>");
    free(order);
    web_list_clear(&own);
}

static void key_observations(struct web_ctx *c)
{
    struct buf *b = &c->out;
    html_raw(b, "<section class=\"weft-section\" aria-labelledby=\"keyobs-h\">"
                "<h2 id=\"keyobs-h\" class=\"nhsuk-heading-m\">Latest key observations and "
                "results</h2>");
    bool any_allowed = web_scope_category(c, "observations") || web_scope_category(c, "results");
    if (!any_allowed) {
        html_raw(b, "<p class=\"weft-muted\">Not available with your access.</p></section>");
        return;
    }
    const char *cats[] = {"observations", "results"};
    int nm;
    const struct web_measure *ms = web_measures(&nm);
    /* One query for every measure's codes, newest first and index columns
     * only; a measure not among those rows (a person with a very long
     * history) gets a query of its own. */
    const char *all_codes[128];
    int na = 0;
    for (int i = 0; i < nm; i++)
        for (int k = 0; k < web_measure_ncodes(&ms[i]) && na < 128; k++)
            all_codes[na++] = ms[i].codes[k];
    struct web_list batch = {0}, *all;
    bool from_all = web_all(c, &all) == WEFT_OK && c->all_complete;
    if (!from_all) {
        struct web_fetch bf = {.categories = cats,
                               .ncategories = 2,
                               .codes = all_codes,
                               .ncodes = na,
                               .sort = STORE_SORT_DATE_DESC,
                               .limit = 400,
                               .rows_only = true};
        if (web_fetch(c, &bf, &batch) < 0)
            web_list_clear(&batch);
    }
    /* Candidates, newest first: the observation and result rows of web_all(),
     * or the rows of the query above.  Pointers: rows are parsed in place. */
    struct web_list *srcl = from_all ? all : &batch;
    struct web_item **cand = xcalloc((size_t)srcl->n + 1, sizeof *cand);
    int ncand = 0;
    for (int i = 0; i < srcl->n; i++)
        if (!from_all || !strcmp(srcl->items[i].row.category, "observations") ||
            !strcmp(srcl->items[i].row.category, "results"))
            cand[ncand++] = &srcl->items[i];
    int shown = 0;
    for (int i = 0; i < nm; i++) {
        struct web_list l = {0};
        int k = 0;
        while (k < ncand && !web_measure_has_code(&ms[i], cand[k]->row.code))
            k++;
        struct web_item *picked = NULL;
        if (k < ncand) {
            picked = cand[k];
            if (!web_item_parse(picked))
                continue;
        } else if (!from_all && batch.next) {
            struct web_fetch f = {.categories = cats,
                                  .ncategories = 2,
                                  .codes = ms[i].codes,
                                  .ncodes = web_measure_ncodes(&ms[i]),
                                  .sort = STORE_SORT_DATE_DESC,
                                  .limit = 1};
            if (web_fetch(c, &f, &l) < 0 || l.n == 0) {
                web_list_clear(&l);
                continue;
            }
        } else {
            continue;
        }
        struct web_item *it = picked ? picked : &l.items[0];
        if (shown++ == 0)
            html_raw(b, "<table class=\"nhsuk-table weft-table\"><caption "
                        "class=\"nhsuk-u-visually-hidden\">Latest key observations</caption>"
                        "<thead class=\"nhsuk-table__head\"><tr><th scope=\"col\">Measure</th>"
                        "<th scope=\"col\">Latest value</th><th scope=\"col\">Date</th>"
                        "<th scope=\"col\">Source</th><th scope=\"col\">Trend</th></tr></thead>"
                        "<tbody>");
        struct buf v = BUF_INIT;
        fmt_obs_value(&v, it->res);
        enum fmt_flag flag = fmt_obs_flag(it->res);
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\" "
                  "class=\"nhsuk-table__cell\">%s</th><td class=\"nhsuk-table__cell\">%s",
                  ms[i].label, v.len ? v.data : "no value");
        html_raw(b, flag == FMT_FLAG_HIGH       ? " <strong class=\"weft-oor\">(high)</strong>"
                    : flag == FMT_FLAG_LOW      ? " <strong class=\"weft-oor\">(low)</strong>"
                    : flag == FMT_FLAG_ABNORMAL ? " <strong class=\"weft-oor\">(abnormal)</strong>"
                                                : "");
        html_raw(b, "</td>");
        web_cell_item_date(c, it, false);
        web_cell_source(c, &it->row);
        html_addf(b,
                  "<td class=\"nhsuk-table__cell\"><a href=\"/patient/%s/chart?m=%s\">"
                  "%s trend</a></td></tr>",
                  c->person_id, ms[i].key, ms[i].label);
        web_audit_note(c, &it->row);
        buf_release(&v);
        web_list_clear(&l);
    }
    free(cand);
    web_list_clear(&batch);
    if (shown)
        html_raw(b, "</tbody></table>");
    else
        web_empty(c, cats, 2, "None recorded.", NULL);
    html_raw(b, "</section>");
}

int web_page_summary(struct web_ctx *c)
{
    static const struct section sections[] = {
        {"alerts", "Alerts and risks", "alerts", KEEP_ACTIVE_FLAG, 20, 10, false,
         "No alerts or risks recorded."},
        {"end-of-life", "End of life care and preferences", "eol", KEEP_ALL, 5, 5, false,
         "No end of life care plan or preferences recorded."},
        {"allergies", "Allergies and intolerances", "allergies", KEEP_ALLERGY, 50, 20, false,
         "No allergies or intolerances recorded."},
        {"medications", "Current medications", "meds", KEEP_CURRENT_MED, 200, 20, false,
         "No current medications recorded."},
        {"conditions", "Active problems", "problems", KEEP_ACTIVE_PROBLEM, 200, 20, false,
         "No active problems recorded."},
        {"conditions", "Recent hospital diagnoses", "hospital-diagnoses", KEEP_HOSPITAL_DIAGNOSIS,
         200, 5, false, "No hospital diagnoses recorded."},
        {"encounters", "Recent encounters", "encounters", KEEP_ALL, 5, 5, false,
         "No encounters recorded."},
        {"appointments", "Upcoming appointments", "appointments", KEEP_ALL, 5, 5, true,
         "No upcoming appointments recorded."},
    };
    web_page_begin(c, "Summary");
    html_raw(&c->out, "<h1 class=\"nhsuk-heading-l\">Summary</h1>");
    web_withheld_notice(c);
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        section(c, &sections[i]);
        if (i == 5)
            key_observations(c);
    }
    web_page_end(c);
    return 200;
}
