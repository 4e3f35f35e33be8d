/*
 * my_summary.c - the record summary on the signed-in person's home page
 * (GET /my, P9): how many items each category of their record holds, the
 * newest date in each, and their five newest items with where they came
 * from; the whole record is one link away (/my/record).
 *
 * Tuned for the target of issue 17 (< 20 ms server time at p50 for the
 * region's largest person, uncached): one scoped query over the person's
 * record through the one scoped-read path (access/read.h), read page by
 * page at one snapshot; the policy's citizen-withhold rules applied to
 * every item (by category from the index row; by label only for items
 * whose JSON mentions a label rule's code at all -
 * policy_citizen_withhold_maybe - which are then parsed), and JSON parsed
 * otherwise only for the five items shown.  Counts therefore never include
 * what is withheld from the person, and the page says when something was.
 * Audited once (action read, what "record summary", the items counted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access/policy.h"
#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "domain/contrib.h"
#include "store/access.h"
#include "store/records.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/my_int.h"
#include "web/web_int.h"

#define SUMMARY_PAGE 1000
#define SUMMARY_PAGES 50 /* 50,000 items at most are counted */
#define SUMMARY_NEWEST 5

struct newest {
    char effective[32];
    char *json;
    size_t len;
    char source[32];
};

/* The labels of an item (meta.security and meta.tag), as "system|code". */
static int labels(const json_t *res, struct buf *b, const char **out, int max)
{
    const json_t *meta = json_object_get(res, "meta");
    static const char *const keys[] = {"security", "tag"};
    size_t offs[32];
    int n = 0;
    for (int k = 0; k < 2; k++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(meta, keys[k]), i, c)
        {
            const char *sys = json_string_value(json_object_get(c, "system"));
            const char *code = json_string_value(json_object_get(c, "code"));
            if (!code || n >= max || n >= 32)
                continue;
            offs[n++] = b->len;
            buf_addf(b, "%s|%s", sys ? sys : "", code);
            buf_addc(b, 0);
        }
    }
    for (int i = 0; i < n; i++)
        out[i] = b->data + offs[i];
    return n;
}

/* Withheld from the person by the policy's citizen-withhold rules? */
static bool withheld(const struct policy *pol, const struct store_row *row)
{
    if (policy_citizen_withhold(pol, row->category, NULL, 0))
        return true;
    if (!policy_citizen_withhold_maybe(pol, row->json, row->json_len))
        return false;
    json_t *res = json_loadb(row->json, row->json_len, 0, NULL);
    if (!json_is_object(res)) {
        json_decref(res);
        return true; /* unreadable: not shown, as /my/record does */
    }
    struct buf lb = BUF_INIT;
    const char *l[32];
    int n = labels(res, &lb, l, 32);
    bool w = policy_citizen_withhold(pol, row->category, l, n) != NULL;
    buf_release(&lb);
    json_decref(res);
    return w;
}

static void keep_newest(struct newest *nw, int *nn, const struct store_row *row)
{
    const char *eff = row->effective ? row->effective : "";
    int at = *nn;
    while (at > 0 && strcmp(nw[at - 1].effective, eff) < 0)
        at--;
    if (at >= SUMMARY_NEWEST)
        return;
    if (*nn == SUMMARY_NEWEST)
        free(nw[--*nn].json);
    memmove(&nw[at + 1], &nw[at], (size_t)(*nn - at) * sizeof *nw);
    (*nn)++;
    snprintf(nw[at].effective, sizeof nw[at].effective, "%s", eff);
    snprintf(nw[at].source, sizeof nw[at].source, "%s", row->source_org ? row->source_org : "");
    nw[at].json = malloc(row->json_len + 1);
    if (nw[at].json) {
        memcpy(nw[at].json, row->json, row->json_len);
        nw[at].json[row->json_len] = 0;
    }
    nw[at].len = row->json_len;
}

int my_summary(struct store *s, const struct my_citizen *c, struct buf *body)
{
    struct access_read rd;
    int rc = access_read_open(&rd, s, &c->p, AUDIT_READ, c->p.person_id);
    const struct policy *pol = NULL;
    if (rc == 0 && rd.scope.allowed && policy_current(s, &pol, NULL) != 0)
        pol = NULL;
    if (rc || !rd.scope.allowed) {
        access_read_close(&rd);
        return rc ? rc : WEFT_EDENIED;
    }
    int ncat;
    const struct web_category *cats = web_categories(&ncat);
    long *count = calloc((size_t)ncat + 1, sizeof *count);
    char(*latest)[32] = calloc((size_t)ncat + 1, sizeof *latest);
    struct newest nw[SUMMARY_NEWEST + 1];
    int nn = 0;
    long total = 0, hidden = 0;
    struct store_query q = {.person_id = c->p.person_id, .limit = SUMMARY_PAGE};
    char *after = NULL;
    for (int page = 0; count && latest && page < SUMMARY_PAGES; page++) {
        struct store_result r = {0};
        q.after = after;
        if ((rc = access_read_search(&rd, &q, &r)) != 0) {
            store_result_clear(&r);
            break;
        }
        q.snapshot = r.snapshot;
        for (int i = 0; i < r.nrows; i++) {
            const struct store_row *row = &r.rows[i];
            if (row->deleted || strcmp(row->type, "Patient") == 0)
                continue;
            if (withheld(pol, row)) {
                hidden++;
                continue;
            }
            int k = 0;
            while (k < ncat && !(row->category && strcmp(cats[k].name, row->category) == 0))
                k++;
            count[k]++;
            total++;
            if (row->effective && strcmp(row->effective, latest[k]) > 0)
                snprintf(latest[k], sizeof latest[k], "%s", row->effective);
            keep_newest(nw, &nn, row);
        }
        free(after);
        after = r.next ? xstrdup(r.next) : NULL;
        store_result_clear(&r);
        if (!after)
            break;
    }
    free(after);
    if (rc == 0 && (!count || !latest))
        rc = WEFT_ENOMEM;
    if (rc == 0) {
        html_addf(body,
                  "<h2 id=\"summary-heading\">Your record at a glance</h2><p id=\"summary-total\">"
                  "Your record holds %ld item(s) shared by the organisations caring for you%s.</p>",
                  total, hidden ? ", and some information that is not shown to you" : "");
        if (total) {
            html_raw(body, "<table class=\"nhsuk-table\" id=\"summary\"><caption "
                           "class=\"nhsuk-table__caption nhsuk-u-visually-hidden\">Items in "
                           "your record by category</caption><thead class=\"nhsuk-table__head\">"
                           "<tr><th scope=\"col\">Category</th><th scope=\"col\">Items</th>"
                           "<th scope=\"col\">Latest</th></tr></thead><tbody "
                           "class=\"nhsuk-table__body\">");
            for (int k = 0; k <= ncat; k++) {
                if (!count[k])
                    continue;
                struct buf d = BUF_INIT;
                if (latest[k][0])
                    fmt_date(&d, latest[k], false);
                html_addf(body,
                          "<tr class=\"nhsuk-table__row\"><th scope=\"row\"><a "
                          "href=\"/my/record#%s\">%s</a></th><td class=\"nhsuk-table__cell\">%ld"
                          "</td><td class=\"nhsuk-table__cell\">%s</td></tr>",
                          k < ncat ? cats[k].name : "other", k < ncat ? cats[k].label : "Other",
                          count[k], d.len ? d.data : "date not recorded");
                buf_release(&d);
            }
            html_raw(body, "</tbody></table><h2 id=\"newest-heading\">Newest in your record</h2>"
                           "<ul class=\"nhsuk-list\" id=\"newest\">");
            for (int i = 0; i < nn; i++) {
                json_t *res = nw[i].json ? json_loadb(nw[i].json, nw[i].len, 0, NULL) : NULL;
                struct buf t = BUF_INIT, d = BUF_INIT;
                if (res)
                    fmt_resource_title(&t, res);
                if (nw[i].effective[0])
                    fmt_date(&d, nw[i].effective, false);
                struct store_org o = {0};
                bool mine = strcmp(nw[i].source, CONTRIB_SOURCE) == 0;
                bool named = !mine && store_org_get(s, nw[i].source, &o) == 0 && o.name;
                html_addf(body, "<li>%s: %s (from %s)</li>", d.len ? d.data : "date not recorded",
                          t.len ? t.data : "an item",
                          mine    ? "you"
                          : named ? o.name
                                  : nw[i].source);
                store_org_clear(&o);
                buf_release(&t);
                buf_release(&d);
                json_decref(res);
            }
            html_raw(body, "</ul><p><a href=\"/my/record\">See everything in your record</a></p>");
        }
        rc = access_read_audit(&rd, "record summary", total);
    }
    for (int i = 0; i < nn; i++)
        free(nw[i].json);
    free(count);
    free(latest);
    access_read_close(&rd);
    return rc;
}
