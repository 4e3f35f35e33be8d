/*
 * data.c - the only way pages read the record (see web_int.h): every query
 * goes through the one scoped-read path (access/read.h), which puts the
 * scope into the store query, so what the scope withholds is never fetched.
 * Also the category table and the per-request organisation name cache.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "domain/contrib.h"
#include "web/fmt.h"
#include "web/web_int.h"
#include "store/access.h"
#include "store/records.h"

static const struct web_category categories[] = {
    {"alerts", "Alerts and risks", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"end-of-life", "End of life care", WEB_CAT_DOCUMENTS, STORE_SORT_DATE_DESC},
    {"safeguarding", "Safeguarding", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"allergies", "Allergies", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"medications", "Medications", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"conditions", "Problems and diagnoses", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"encounters", "Encounters", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"appointments", "Appointments", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"results", "Test results", WEB_CAT_RESULTS, STORE_SORT_DATE_DESC},
    {"observations", "Observations", WEB_CAT_RESULTS, STORE_SORT_DATE_DESC},
    {"documents", "Documents", WEB_CAT_DOCUMENTS, STORE_SORT_DATE_DESC},
    {"imaging-reports", "Imaging reports", WEB_CAT_DOCUMENTS, STORE_SORT_DATE_DESC},
    {"procedures", "Procedures", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"immunisations", "Immunisations", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"history", "Past history", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"birth", "Birth details", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"service-summaries", "Service summaries", WEB_CAT_DOCUMENTS, STORE_SORT_DATE_DESC},
    {"services", "Services", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"social-care-assessment", "Social care assessments", WEB_CAT_DOCUMENTS, STORE_SORT_DATE_DESC},
    {"mental-health-act", "Mental Health Act", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"legal-status", "Legal status", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"contacts", "Contacts", WEB_CAT_GENERIC, STORE_SORT_ID},
    {"research", "Research", WEB_CAT_GENERIC, STORE_SORT_DATE_DESC},
    {"demographics", "Demographics", WEB_CAT_GENERIC, STORE_SORT_LASTUPDATED_DESC},
};

const struct web_category *web_categories(int *n)
{
    *n = (int)(sizeof categories / sizeof categories[0]);
    return categories;
}

const struct web_category *web_category_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof categories / sizeof categories[0]; i++)
        if (strcmp(categories[i].name, name) == 0)
            return &categories[i];
    return NULL;
}

void web_item_clear(struct web_item *it)
{
    store_row_clear(&it->row);
    json_decref(it->res);
    it->res = NULL;
}

void web_list_clear(struct web_list *l)
{
    for (int i = 0; i < l->n; i++)
        web_item_clear(&l->items[i]);
    free(l->items);
    free(l->next);
    memset(l, 0, sizeof *l);
}

bool web_scope_category(const struct web_ctx *c, const char *category)
{
    if (!c->rd.scope.allowed)
        return false;
    if (c->rd.scope.ncategories < 0)
        return true;
    for (int i = 0; i < c->rd.scope.ncategories; i++)
        if (strcmp(c->rd.scope.categories[i], category) == 0)
            return true;
    return false;
}

static void list_push(struct web_list *l, struct store_row *row, json_t *res)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->items = xrealloc(l->items, (size_t)l->cap * sizeof *l->items);
    }
    l->items[l->n].row = *row;
    l->items[l->n].res = res;
    l->n++;
    memset(row, 0, sizeof *row);
}

int web_fetch(struct web_ctx *c, const struct web_fetch *f, struct web_list *out)
{
    if (!c->rd.scope.allowed)
        return WEFT_OK;
    /* The query as the page wants it; the one scoped-read path
     * (access/read.h) intersects it with the scope inside the store query. */
    const char *orgs_one[1] = {f->org};
    struct store_query q = {0};
    q.type = f->type;
    q.person_id = c->person_id;
    q.categories = f->categories;
    q.ncategories = f->categories ? f->ncategories : 0;
    q.codes = f->codes;
    q.ncodes = f->ncodes;
    q.date_ge = f->date_ge;
    q.date_lt = f->date_lt;
    q.sort = f->sort;
    q.limit = f->limit > 0 ? f->limit : 100;
    q.after = f->after;
    q.snapshot = f->snapshot ? f->snapshot : c->snapshot;
    if (f->org) {
        q.source_orgs = orgs_one;
        q.nsource_orgs = 1;
    }
    if (f->categories && f->ncategories == 0)
        return WEFT_OK; /* an empty list of categories asks for nothing */
    struct store_result r = {0};
    int rc = access_read_search(&c->rd, &q, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; i < r.nrows; i++) {
        struct store_row *row = &r.rows[i];
        if (row->deleted)
            continue;
        json_t *res = NULL;
        if (!f->rows_only) {
            res = json_loadb(row->json, row->json_len, 0, NULL);
            if (!json_is_object(res)) {
                json_decref(res);
                continue;
            }
        }
        list_push(out, row, res);
    }
    out->snapshot = r.snapshot;
    free(out->next);
    out->next = r.next ? xstrdup(r.next) : NULL;
    store_result_clear(&r);
    return WEFT_OK;
}

int web_get_item(struct web_ctx *c, const char *type, const char *id, struct web_item *out)
{
    memset(out, 0, sizeof *out);
    if (!c->rd.scope.allowed)
        return WEFT_ENOTFOUND;
    struct store_row row = {0};
    int rc = store_resource_get(c->store, type, id, 0, &row);
    if (rc < 0)
        return rc;
    if (row.deleted || !row.person_id || strcmp(row.person_id, c->person_id) != 0 ||
        !authz_scope_allows(&c->rd.scope, row.category, row.source_org)) {
        store_row_clear(&row);
        return WEFT_ENOTFOUND;
    }
    json_t *res = json_loadb(row.json, row.json_len, 0, NULL);
    if (!json_is_object(res)) {
        json_decref(res);
        store_row_clear(&row);
        return WEFT_ENOTFOUND;
    }
    out->row = row;
    out->res = res;
    return WEFT_OK;
}

const char *web_org_name(struct web_ctx *c, const char *ods)
{
    if (!ods)
        return "unknown organisation";
    if (strcmp(ods, CONTRIB_SOURCE) == 0) /* not an organisation: the person themself */
        return CONTRIB_LABEL;
    for (int i = 0; i < c->norgs; i++)
        if (strcmp(c->orgs[i].ods, ods) == 0)
            return c->orgs[i].name;
    struct store_org o = {0};
    char *name = NULL;
    if (store_org_get(c->store, ods, &o) == WEFT_OK && o.name && *o.name)
        name = xstrdup(o.name);
    store_org_clear(&o);
    if (!name)
        name = xstrdup(ods);
    if (c->norgs < WEB_ORG_CACHE) {
        c->orgs[c->norgs].ods = xstrdup(ods);
        c->orgs[c->norgs].name = name;
        return c->orgs[c->norgs++].name;
    }
    /* Cache full (a page citing more than 32 organisations): keep the last
     * slot as a rolling entry so the returned string stays valid until the
     * next call. */
    free(c->orgs[WEB_ORG_CACHE - 1].ods);
    free(c->orgs[WEB_ORG_CACHE - 1].name);
    c->orgs[WEB_ORG_CACHE - 1].ods = xstrdup(ods);
    c->orgs[WEB_ORG_CACHE - 1].name = name;
    return name;
}

const char *web_item_date(const struct web_item *it)
{
    if (it->row.effective && *it->row.effective)
        return it->row.effective;
    return fmt_resource_date(it->res);
}

int web_all(struct web_ctx *c, struct web_list **out)
{
    if (!c->all_loaded) {
        struct web_fetch f = {
            .limit = WEB_ALL_ROWS, .sort = STORE_SORT_DATE_DESC, .rows_only = true};
        int rc = web_fetch(c, &f, &c->all);
        if (rc < 0) {
            web_list_clear(&c->all);
            return rc;
        }
        c->all_loaded = true;
        c->all_complete = c->all.next == NULL;
    }
    *out = &c->all;
    return WEFT_OK;
}

bool web_item_parse(struct web_item *it)
{
    if (!it->res)
        it->res = json_loadb(it->row.json, it->row.json_len, 0, NULL);
    return json_is_object(it->res);
}

/* Navigation from web_all(); when the person has more items than it reads,
 * the categories not yet seen are checked one by one with a one-row query. */
int web_nav_scan(struct web_ctx *c)
{
    int n;
    const struct web_category *cats = web_categories(&n);
    memset(c->nav_has, 0, sizeof c->nav_has);
    struct web_list *l;
    int rc = web_all(c, &l);
    if (rc < 0)
        return rc;
    for (int k = 0; k < l->n; k++)
        for (int i = 0; i < n && i < 32; i++)
            if (!c->nav_has[i] && strcmp(cats[i].name, l->items[k].row.category) == 0)
                c->nav_has[i] = true;
    if (c->all_complete)
        return WEFT_OK;
    for (int i = 0; i < n && i < 32; i++) {
        if (c->nav_has[i] || !web_scope_category(c, cats[i].name))
            continue;
        const char *one[1] = {cats[i].name};
        struct web_list one_l = {0};
        struct web_fetch f = {.categories = one, .ncategories = 1, .limit = 1, .rows_only = true};
        rc = web_fetch(c, &f, &one_l);
        c->nav_has[i] = one_l.n > 0;
        web_list_clear(&one_l);
        if (rc < 0)
            return rc;
    }
    return WEFT_OK;
}
