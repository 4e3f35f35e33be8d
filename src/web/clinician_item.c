/*
 * clinician_item.c - one item of the record: the document reader (discharge
 * summaries, letters, care plans, risk assessments, referrals, imaging and
 * laboratory reports) and the detail page for any other item.
 *
 * Document content comes from senders, so it is never inserted as markup:
 * text/plain attachments are shown line by line, HTML/XHTML attachments and
 * FHIR narratives are reduced to their text (html_text_from_markup) and
 * escaped.  Other formats (PDF, images) are named with their size, not
 * rendered.  Referenced items (report results, care plan goals) are read
 * through the same scope check as the item itself, so a reference cannot
 * reveal an item the user may not see.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "domain/systems.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"

#define MAX_ATTACHMENT (8u * 1024u * 1024u)

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void row_dl(struct buf *b, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    html_addf(b,
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">"
              "%s</dt><dd class=\"nhsuk-summary-list__value\">%s</dd></div>",
              key, value);
}

static bool is_text_type(const char *ct, bool *markup)
{
    *markup = false;
    if (!ct)
        return true; /* assume text when the sender did not say */
    if (strncmp(ct, "text/html", 9) == 0 || strncmp(ct, "application/xhtml", 17) == 0 ||
        strncmp(ct, "text/xml", 8) == 0 || strncmp(ct, "application/xml", 15) == 0) {
        *markup = true;
        return true;
    }
    return strncmp(ct, "text/", 5) == 0 || strncmp(ct, "application/json", 16) == 0 ||
           strncmp(ct, "application/fhir+json", 21) == 0;
}

static void attachment(struct buf *b, const json_t *a)
{
    const char *ct = str(a, "contentType"), *data = str(a, "data"), *url = str(a, "url");
    const char *title = str(a, "title");
    html_raw(b, "<article class=\"weft-document\">");
    if (title)
        html_addf(b, "<h3 class=\"nhsuk-heading-s\">%s</h3>", title);
    bool markup;
    if (data && is_text_type(ct, &markup)) {
        size_t dlen = strlen(data);
        size_t cap = dlen / 4 * 3 + 3;
        if (cap > MAX_ATTACHMENT) {
            html_raw(b, "<p>This document is too large to show here.</p></article>");
            return;
        }
        unsigned char *bin = xmalloc(cap + 1);
        size_t blen = 0;
        if (sodium_base642bin(bin, cap, data, dlen, " \r\n\t", &blen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            html_raw(b, "<p>The content of this document could not be read (it is not valid "
                        "base64). Ask the organisation that sent it for a copy.</p>");
        } else {
            html_raw(b, "<div class=\"weft-document__text\">");
            if (markup)
                html_text_from_markup(b, (const char *)bin, blen);
            else
                html_text_lines(b, (const char *)bin, blen);
            html_raw(b, "</div>");
        }
        free(bin);
    } else if (data) {
        html_addf(b,
                  "<p>This document is in a format that cannot be shown here (%s, about %zu "
                  "KB). Ask the organisation that sent it for a copy.</p>",
                  ct, strlen(data) * 3 / 4 / 1024 + 1);
    } else if (url) {
        html_addf(b,
                  "<p>The document is held by the organisation that sent it, at: "
                  "<span class=\"weft-break\">%s</span></p>",
                  url);
    } else {
        html_raw(b, "<p>No content was sent with this document.</p>");
    }
    html_raw(b, "</article>");
}

static void narrative(struct buf *b, const json_t *res, const char *heading)
{
    const char *div = str(json_object_get(res, "text"), "div");
    if (!div)
        return;
    html_addf(b, "<h2 class=\"nhsuk-heading-m\">%s</h2><div class=\"weft-document__text\">",
              heading);
    html_text_from_markup(b, div, strlen(div));
    html_raw(b, "</div>");
}

/* Table of the items a reference list points at (report results, goals),
 * each read through the scope check. */
static void referenced(struct web_ctx *c, const json_t *refs, const char *heading)
{
    struct buf *b = &c->out;
    size_t i;
    const json_t *ref;
    int shown = 0, hidden = 0;
    json_array_foreach(refs, i, ref)
    {
        const char *r = str(ref, "reference");
        const char *slash = r ? strchr(r, '/') : NULL;
        if (!slash || strchr(slash + 1, '/'))
            continue;
        char type[64];
        size_t tl = (size_t)(slash - r);
        if (tl >= sizeof type)
            continue;
        memcpy(type, r, tl);
        type[tl] = 0;
        struct web_item it;
        if (web_get_item(c, type, slash + 1, &it) != WEFT_OK) {
            hidden++;
            continue;
        }
        if (shown++ == 0)
            html_addf(b,
                      "<h2 class=\"nhsuk-heading-m\">%s</h2><table class=\"nhsuk-table "
                      "weft-table\"><caption class=\"nhsuk-u-visually-hidden\">%s</caption>"
                      "<thead class=\"nhsuk-table__head\"><tr><th scope=\"col\">Item</th>"
                      "<th scope=\"col\">Value or detail</th><th scope=\"col\">Reference "
                      "range</th><th scope=\"col\">Status</th></tr></thead><tbody>",
                      heading, heading);
        struct buf t = BUF_INIT, d = BUF_INIT, rr = BUF_INIT, href = BUF_INIT;
        fmt_resource_title(&t, it.res);
        fmt_resource_detail(&d, it.res);
        if (!strcmp(it.row.type, "Observation"))
            fmt_ref_range(&rr, it.res);
        web_item_href(c, &href, &it.row);
        enum fmt_flag fl =
            strcmp(it.row.type, "Observation") ? FMT_FLAG_NONE : fmt_obs_flag(it.res);
        const char *st = fmt_resource_status(it.res);
        html_addf(b,
                  "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a "
                  "href=\"%s\">%s</a></td><td class=\"nhsuk-table__cell\">%s%s</td>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
                  "</tr>",
                  href.data, t.data, d.data,
                  fl == FMT_FLAG_HIGH  ? " (high)"
                  : fl == FMT_FLAG_LOW ? " (low)"
                  : fl                 ? " (abnormal)"
                                       : "",
                  rr.data, st ? st : "");
        web_audit_note(c, &it.row);
        buf_release(&t);
        buf_release(&d);
        buf_release(&rr);
        buf_release(&href);
        web_item_clear(&it);
    }
    if (shown)
        html_raw(b, "</tbody></table>");
    (void)hidden; /* not reported: the count itself could reveal withheld items */
}

/* A Patient: identifiers, ways to get in touch, and the people to contact
 * (Patient.contact; RelatedPerson items have their own rows). */
static void patient_details(struct web_ctx *c, const json_t *res)
{
    struct buf *b = &c->out;
    struct buf t = BUF_INIT;
    html_raw(b, "<h2 class=\"nhsuk-heading-m\">Identifiers</h2><dl class=\"nhsuk-summary-list\">");
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(res, "identifier"), i, x)
    {
        const char *sys = str(x, "system"), *val = str(x, "value");
        if (!val)
            continue;
        buf_reset(&t);
        bool nhs = sys && strcmp(sys, NHS_NUMBER_SYSTEM) == 0;
        if (nhs)
            fmt_nhs_number(&t, val);
        else
            buf_adds(&t, val);
        row_dl(b, nhs ? "NHS number" : sys ? sys : "Identifier", t.data);
    }
    html_raw(b, "</dl>");
    const json_t *tel = json_object_get(res, "telecom");
    if (json_array_size(tel)) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">Contact details</h2><dl "
                    "class=\"nhsuk-summary-list\">");
        json_array_foreach(tel, i, x)
        {
            buf_reset(&t);
            buf_addf(&t, "%s%s%s", str(x, "system") ? str(x, "system") : "contact",
                     str(x, "use") ? ", " : "", str(x, "use") ? str(x, "use") : "");
            row_dl(b, t.data, str(x, "value"));
        }
        html_raw(b, "</dl>");
    }
    const json_t *contacts = json_object_get(res, "contact");
    if (json_array_size(contacts)) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">People to contact</h2><dl "
                    "class=\"nhsuk-summary-list\">");
        json_array_foreach(contacts, i, x)
        {
            buf_reset(&t);
            fmt_human_name(&t, json_object_get(x, "name"));
            const char *rel = fmt_cc(json_object_get(x, "relationship"));
            struct buf v = BUF_INIT;
            if (rel)
                buf_adds(&v, rel);
            const json_t *ph = json_array_get(json_object_get(x, "telecom"), 0);
            if (str(ph, "value"))
                buf_addf(&v, "%s%s", v.len ? "; " : "", str(ph, "value"));
            row_dl(b, t.len ? t.data : "Contact", v.len ? v.data : "-");
            buf_release(&v);
        }
        html_raw(b, "</dl>");
    }
    buf_release(&t);
}

static void careplan(struct web_ctx *c, const json_t *res)
{
    struct buf *b = &c->out;
    const json_t *acts = json_object_get(res, "activity");
    if (json_array_size(acts)) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">Activities</h2><ul class=\"nhsuk-list "
                    "nhsuk-list--bullet\">");
        size_t i;
        const json_t *a;
        json_array_foreach(acts, i, a)
        {
            const json_t *d = json_object_get(a, "detail");
            const char *t = fmt_cc(json_object_get(d, "code"));
            if (!t)
                t = str(d, "description");
            const char *st = str(d, "status");
            html_addf(b, "<li>%s%s%s%s</li>", t ? t : "Activity", st ? " (" : "", st ? st : "",
                      st ? ")" : "");
        }
        html_raw(b, "</ul>");
    }
    referenced(c, json_object_get(res, "goal"), "Goals");
    referenced(c, json_object_get(res, "addresses"), "Addresses");
}

static void questionnaire(struct buf *b, const json_t *items, int depth)
{
    if (!json_array_size(items) || depth > 8)
        return;
    html_raw(b, "<dl class=\"nhsuk-summary-list\">");
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        struct buf ans = BUF_INIT;
        size_t j;
        const json_t *a;
        json_array_foreach(json_object_get(it, "answer"), j, a)
        {
            if (ans.len)
                buf_adds(&ans, "; ");
            const char *s = str(a, "valueString");
            const json_t *cd = json_object_get(a, "valueCoding");
            if (s)
                buf_adds(&ans, s);
            else if (cd)
                buf_adds(&ans, str(cd, "display") ? str(cd, "display") : str(cd, "code"));
            else if (json_is_boolean(json_object_get(a, "valueBoolean")))
                buf_adds(&ans, json_is_true(json_object_get(a, "valueBoolean")) ? "yes" : "no");
            else if (json_is_integer(json_object_get(a, "valueInteger")))
                buf_addf(&ans, "%lld",
                         (long long)json_integer_value(json_object_get(a, "valueInteger")));
            else if (str(a, "valueDate"))
                fmt_date(&ans, str(a, "valueDate"), false);
        }
        row_dl(b, str(it, "text") ? str(it, "text") : str(it, "linkId"), ans.len ? ans.data : "-");
        buf_release(&ans);
        questionnaire(b, json_object_get(it, "item"), depth + 1);
    }
    html_raw(b, "</dl>");
}

int web_page_item(struct web_ctx *c, const char *type, const char *id)
{
    struct web_item it;
    int rc = web_get_item(c, type, id, &it);
    if (rc == WEFT_ENOTFOUND)
        return 404;
    if (rc < 0)
        return rc;
    struct buf *b = &c->out;
    const json_t *res = it.res;
    struct buf title = BUF_INIT, t = BUF_INIT;
    web_item_title(c, &title, &it);
    const struct web_category *cat = web_category_find(it.row.category);
    c->page = cat ? cat->name : "item";
    web_page_begin(c, title.data);
    if (cat)
        html_addf(b,
                  "<div class=\"nhsuk-back-link\"><a class=\"nhsuk-back-link__link\" "
                  "href=\"/patient/%s/%s\">Back to %s</a></div>",
                  c->person_id, cat->name, cat->label);
    html_addf(b,
              "<span class=\"nhsuk-caption-l\">%s</span><h1 class=\"nhsuk-heading-l\" "
              "id=\"item-title\">%s</h1>",
              fmt_type_label(it.row.type), title.data);
    html_raw(b, "<dl class=\"nhsuk-summary-list\" id=\"item-facts\">");
    fmt_date(&t, web_item_date(&it), true);
    row_dl(b, "Date", t.len ? t.data : "Date not recorded");
    buf_reset(&t);
    if (!web_item_date(&it)) {
        /* the time Weft received it, labelled as such: never the date */
        fmt_date(&t, fmt_resource_received(res), true);
        if (t.len)
            row_dl(b, "Received by the shared record", t.data);
        buf_reset(&t);
    }
    row_dl(b, "Source", web_org_name(c, it.row.source_org));
    row_dl(b, "Status", fmt_resource_status(res));
    row_dl(b, "Category", cat ? cat->label : it.row.category);
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(res, "author"), i, a)
    {
        if (str(a, "display"))
            buf_addf(&t, "%s%s", t.len ? "; " : "", str(a, "display"));
    }
    row_dl(b, "Author", t.data);
    buf_reset(&t);
    if (!strcmp(type, "Observation")) {
        fmt_obs_value(&t, res);
        row_dl(b, "Value", t.data);
        buf_reset(&t);
        fmt_ref_range(&t, res);
        row_dl(b, "Reference range", t.data);
        buf_reset(&t);
        enum fmt_flag fl = fmt_obs_flag(res);
        row_dl(b, "Flag",
               fl == FMT_FLAG_HIGH  ? "High"
               : fl == FMT_FLAG_LOW ? "Low"
               : fl                 ? "Abnormal"
                                    : NULL);
    } else {
        fmt_resource_detail(&t, res);
        row_dl(b, "Detail", t.data);
        buf_reset(&t);
    }
    row_dl(b, "Description", str(res, "description"));
    row_dl(b, "Conclusion", str(res, "conclusion"));
    html_raw(b, "</dl>");
    web_audit_note(c, &it.row);

    /* Content. */
    const json_t *contents = json_object_get(res, "content");
    if (!strcmp(type, "DocumentReference") && json_array_size(contents)) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">Document</h2>");
        json_array_foreach(contents, i, a) attachment(b, json_object_get(a, "attachment"));
    }
    const json_t *forms = json_object_get(res, "presentedForm");
    if (json_array_size(forms)) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">Report</h2>");
        json_array_foreach(forms, i, a) attachment(b, a);
    }
    if (!strcmp(type, "DiagnosticReport"))
        referenced(c, json_object_get(res, "result"), "Results in this report");
    if (!strcmp(type, "CarePlan"))
        careplan(c, res);
    if (!strcmp(type, "Patient"))
        patient_details(c, res);
    if (!strcmp(type, "QuestionnaireResponse")) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">Answers</h2>");
        questionnaire(b, json_object_get(res, "item"), 0);
    }
    if (!strcmp(type, "Composition")) {
        json_array_foreach(json_object_get(res, "section"), i, a)
        {
            html_addf(b, "<h2 class=\"nhsuk-heading-m\">%s</h2>",
                      str(a, "title") ? str(a, "title") : "Section");
            const char *div = str(json_object_get(a, "text"), "div");
            if (div) {
                html_raw(b, "<div class=\"weft-document__text\">");
                html_text_from_markup(b, div, strlen(div));
                html_raw(b, "</div>");
            }
        }
    } else {
        narrative(b, res, "Narrative from the source system");
    }
    const json_t *notes = json_object_get(res, "note");
    if (json_array_size(notes)) {
        html_raw(b, "<h2 class=\"nhsuk-heading-m\">Notes</h2>");
        json_array_foreach(notes, i, a)
        {
            const char *nt = str(a, "text");
            if (nt) {
                html_raw(b, "<p>");
                html_text_lines(b, nt, strlen(nt));
                html_raw(b, "</p>");
            }
        }
    }
    buf_release(&t);
    buf_release(&title);
    web_item_clear(&it);
    web_page_end(c);
    return 200;
}
