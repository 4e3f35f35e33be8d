/*
 * layout.c - the frame every record page shares: document head with the
 * nhsuk-frontend stylesheet, header, skip link, the patient banner (name,
 * NHS number, date of birth and age, gender, address, registered GP, and the
 * flags: alerts, safeguarding when the scope allows it, end-of-life / ReSPECT
 * always prominent, break-glass when active), the record navigation listing
 * only categories with visible data, and the footer.
 *
 * The banner's demographics come from the person's Patient resources the
 * scope allows (the most recently updated one carrying an NHS number wins);
 * its flags from the alerts, safeguarding and end-of-life categories.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "domain/contrib.h"
#include "domain/systems.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "store/records.h"

static void head(struct buf *b, const char *service, const char *title)
{
    html_addf(b,
              "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              "<title>%s - %s</title>"
              "<link rel=\"stylesheet\" href=\"/assets/nhsuk-frontend.min.css\">"
              "<link rel=\"stylesheet\" href=\"/assets/weft.css\">"
              "<link rel=\"icon\" href=\"/assets/images/favicon.ico\" sizes=\"48x48\">"
              "</head><body>"
              "<a class=\"nhsuk-skip-link\" href=\"#maincontent\">Skip to main content</a>"
              "<header class=\"nhsuk-header\" role=\"banner\"><div class=\"nhsuk-header__container "
              "nhsuk-width-container\"><div class=\"nhsuk-header__service\">"
              "<span class=\"nhsuk-header__service-name weft-service-name\">%s</span>"
              "</div></div></header>",
              title, service, service);
}

static void foot(struct buf *b)
{
    html_raw(
        b,
        "<footer role=\"contentinfo\" class=\"weft-footer\"><div class=\"nhsuk-width-container\">"
        "<p class=\"nhsuk-body-s\">Every view of this record is recorded. Information comes "
        "from the organisations named beside each item; contact them to correct it.</p>"
        "</div></footer></body></html>\n");
}

/* Choose the banner's demographics: prefer an NHS-numbered Patient, newest
 * first. */
static void load_patient(struct web_ctx *c)
{
    if (c->patient)
        return;
    const char *cats[] = {"demographics"};
    struct web_list l = {0};
    struct web_fetch f = {.categories = cats,
                          .ncategories = 1,
                          .type = "Patient",
                          .sort = STORE_SORT_LASTUPDATED_DESC,
                          .limit = 20};
    if (web_fetch(c, &f, &l) < 0 || l.n == 0) {
        web_list_clear(&l);
        return;
    }
    int pick = 0;
    for (int i = 0; i < l.n; i++)
        if (fmt_identifier(l.items[i].res, NHS_NUMBER_SYSTEM)) {
            pick = i;
            break;
        }
    c->patient = l.items[pick].res;
    c->patient_row = l.items[pick].row;
    c->patient_org = c->patient_row.source_org;
    /* Another Patient resource may carry the GP or address this one lacks. */
    for (int i = 0; i < l.n; i++) {
        if (i == pick)
            continue;
        static const char *const fill[] = {"generalPractitioner", "address", "birthDate", "gender",
                                           "name"};
        for (size_t k = 0; k < sizeof fill / sizeof fill[0]; k++)
            if (!json_object_get(c->patient, fill[k]) && json_object_get(l.items[i].res, fill[k]))
                json_object_set(c->patient, fill[k], json_object_get(l.items[i].res, fill[k]));
    }
    l.items[pick].res = NULL;
    memset(&l.items[pick].row, 0, sizeof l.items[pick].row);
    web_list_clear(&l);
}

static void gp_text(struct web_ctx *c, struct buf *b)
{
    const json_t *gps = json_object_get(c->patient, "generalPractitioner");
    size_t i;
    const json_t *ref;
    json_array_foreach(gps, i, ref)
    {
        const char *display = json_string_value(json_object_get(ref, "display"));
        const char *r = json_string_value(json_object_get(ref, "reference"));
        const char *sys =
            json_string_value(json_object_get(json_object_get(ref, "identifier"), "system"));
        const char *val =
            json_string_value(json_object_get(json_object_get(ref, "identifier"), "value"));
        if (b->len)
            buf_adds(b, "; ");
        if (display) {
            buf_adds(b, display);
        } else if (r && strncmp(r, "Organization/", 13) == 0) {
            struct store_row row = {0};
            const char *name = NULL;
            json_t *o = NULL;
            if (store_resource_get(c->store, "Organization", r + 13, 0, &row) == WEFT_OK) {
                o = json_loadb(row.json, row.json_len, 0, NULL);
                name = json_string_value(json_object_get(o, "name"));
            }
            buf_adds(b, name ? name : "recorded (name not available)");
            json_decref(o);
            store_row_clear(&row);
        } else if (sys && val && strstr(sys, "ods-organization-code")) {
            buf_adds(b, web_org_name(c, val));
        } else {
            buf_adds(b, "recorded (name not available)");
        }
    }
}

/* Count active items of one category for a banner flag (0 when the scope
 * withholds the category). */
static bool flag_gone(const char *st)
{
    static const char *const gone[] = {"inactive",   "entered-in-error", "resolved", "revoked",
                                       "superseded", "cancelled",        NULL};
    for (int i = 0; st && gone[i]; i++)
        if (strcasecmp(st, gone[i]) == 0)
            return true;
    return false;
}

static int flag_count(struct web_ctx *c, const char *cat, struct buf *first_title)
{
    struct web_list *all;
    if (web_all(c, &all) == WEFT_OK && c->all_complete) {
        int n = 0;
        for (int i = 0; i < all->n; i++) {
            struct web_item *it = &all->items[i];
            if (strcmp(it->row.category, cat) != 0 || flag_gone(it->row.status))
                continue;
            if (n == 0 && first_title && web_item_parse(it))
                fmt_resource_title(first_title, it->res);
            n++;
        }
        return n;
    }
    const char *cats[] = {cat};
    struct web_list l = {0};
    struct web_fetch f = {
        .categories = cats, .ncategories = 1, .sort = STORE_SORT_DATE_DESC, .limit = 20};
    if (web_fetch(c, &f, &l) < 0) {
        web_list_clear(&l);
        return 0;
    }
    int n = 0;
    for (int i = 0; i < l.n; i++) {
        if (flag_gone(l.items[i].row.status))
            continue;
        if (n == 0 && first_title)
            fmt_resource_title(first_title, l.items[i].res);
        n++;
    }
    web_list_clear(&l);
    return n;
}

static void objection_banner(struct web_ctx *c);

static void banner(struct web_ctx *c)
{
    struct buf *b = &c->out;
    load_patient(c);
    html_raw(b, "<section class=\"weft-banner\" aria-label=\"Patient details\">"
                "<div class=\"nhsuk-width-container\">");
    struct buf t = BUF_INIT;
    if (c->patient)
        fmt_patient_name(&t, c->patient);
    /* Never "not available" when it is only withheld: say which. */
    const char *unknown = c->rd.scope.objection ? "not shown to you" : "not known";
    html_addf(b, "<p class=\"weft-banner__name\" id=\"patient-name\">%s</p>",
              t.len                   ? t.data
              : c->rd.scope.objection ? "Name not shown to you (objection to sharing upheld)"
                                      : "Name not recorded");
    buf_reset(&t);
    html_raw(b, "<dl class=\"weft-banner__details\">");
    const char *nhs = c->patient ? fmt_identifier(c->patient, NHS_NUMBER_SYSTEM) : NULL;
    struct store_person person = {0};
    if (!nhs && store_person_get(c->store, c->person_id, &person) == WEFT_OK && person.nhs &&
        web_scope_category(c, "demographics"))
        nhs = person.nhs;
    fmt_nhs_number(&t, nhs);
    html_addf(b, "<div><dt>NHS number</dt><dd id=\"patient-nhs\">%s</dd></div>",
              t.len ? t.data : unknown);
    buf_reset(&t);
    store_person_clear(&person);
    const char *dob =
        c->patient ? json_string_value(json_object_get(c->patient, "birthDate")) : NULL;
    if (dob) {
        fmt_date(&t, dob, false);
        struct buf age = BUF_INIT;
        const char *deceased = json_string_value(json_object_get(c->patient, "deceasedDateTime"));
        if (fmt_age(&age, dob, deceased ? deceased : c->today))
            buf_addf(&t, " (%s%s)", deceased ? "died aged " : "", age.data);
        buf_release(&age);
    }
    html_addf(b, "<div><dt>Born</dt><dd id=\"patient-dob\">%s</dd></div>",
              t.len ? t.data : unknown);
    buf_reset(&t);
    const char *died =
        c->patient ? json_string_value(json_object_get(c->patient, "deceasedDateTime")) : NULL;
    if (died) {
        fmt_date(&t, died, false);
        html_addf(b, "<div><dt>Died</dt><dd id=\"patient-died\"><strong>%s</strong></dd></div>",
                  t.data);
        buf_reset(&t);
    } else if (c->patient && json_is_true(json_object_get(c->patient, "deceasedBoolean"))) {
        html_raw(b, "<div><dt>Died</dt><dd id=\"patient-died\"><strong>yes</strong></dd></div>");
    }
    const char *gender =
        c->patient ? json_string_value(json_object_get(c->patient, "gender")) : NULL;
    html_addf(b, "<div><dt>Gender</dt><dd>%s</dd></div>", gender ? gender : unknown);
    if (c->patient)
        fmt_address(&t, c->patient);
    html_addf(b, "<div class=\"weft-banner__more\"><dt>Address</dt><dd>%s</dd></div>",
              t.len ? t.data : unknown);
    buf_reset(&t);
    if (c->patient)
        gp_text(c, &t);
    html_addf(b, "<div class=\"weft-banner__more\"><dt>GP</dt><dd>%s</dd></div>",
              t.len ? t.data : unknown);
    buf_reset(&t);
    html_raw(b, "</dl>");

    /* Flags: end-of-life first (must be findable first in an emergency). */
    struct buf flags = BUF_INIT;
    int n;
    if ((n = flag_count(c, "end-of-life", &t)) > 0)
        html_addf(&flags,
                  "<li><a class=\"weft-flag weft-flag--eol\" href=\"/patient/%s/end-of-life\">"
                  "End of life care / treatment escalation plan: %s</a></li>",
                  c->person_id, t.data);
    buf_reset(&t);
    if ((n = flag_count(c, "alerts", &t)) > 0)
        html_addf(&flags,
                  "<li><a class=\"weft-flag weft-flag--alert\" href=\"/patient/%s/alerts\">"
                  "%d alert%s or risk%s: %s</a></li>",
                  c->person_id, n, n == 1 ? "" : "s", n == 1 ? "" : "s", t.data);
    buf_reset(&t);
    if (web_scope_category(c, "safeguarding") && (n = flag_count(c, "safeguarding", &t)) > 0)
        html_addf(&flags,
                  "<li><a class=\"weft-flag weft-flag--safeguarding\" "
                  "href=\"/patient/%s/safeguarding\">Safeguarding: %s</a></li>",
                  c->person_id, t.data);
    buf_release(&t);
    if (flags.len) {
        html_raw(b, "<ul class=\"weft-flags\" aria-label=\"Flags\">");
        buf_add(b, flags.data, flags.len);
        html_raw(b, "</ul>");
    }
    buf_release(&flags);
    if (c->glass)
        html_raw(b, "<p class=\"weft-breakglass\" id=\"break-glass-active\"><strong>Emergency "
                    "access (break-glass) is active.</strong> You can see information that is "
                    "not normally shown to you (this person's record, or items withheld by an "
                    "objection to sharing); your role's kinds of information are unchanged. "
                    "This access is recorded and will be reviewed.</p>");
    else if (c->rd.scope.objection)
        objection_banner(c);
    /* neutral: nothing of the other candidate (who, where from, how alike) */
    if (c->under_review)
        html_raw(b, "<p class=\"weft-identity-review\" id=\"identity-review-notice\" "
                    "role=\"note\">Possible other records for this person are being reviewed. "
                    "Until the review is decided, information from them is not shown here.</p>");
    html_raw(b, "</div></section>");
}

/* On every record page while an upheld objection narrows the view: what is
 * not shown and why, and the emergency route when the role may use it. */
static void objection_banner(struct web_ctx *c)
{
    struct buf *b = &c->out;
    html_addf(b,
              "<div class=\"weft-objection\" id=\"objection-banner\" role=\"note\" "
              "aria-label=\"Objection to sharing\"><p><strong>This person has objected to "
              "sharing their record.</strong> Only information from your own organisation "
              "(%s) is shown; information from other organisations is not shown to you",
              web_org_name(c, c->p->org));
    if (c->rd.scope.may_break_glass)
        html_addf(b,
                  ". In an emergency you can <a href=\"/patient/%s/break-glass\" "
                  "id=\"objection-break-glass\">request emergency access (break-glass)</a>; "
                  "it is recorded and reviewed.</p></div>",
                  c->person_id);
    else
        html_raw(b, ". Your role cannot use emergency access: in an emergency, ask a "
                    "colleague whose role can.</p></div>");
}

static void nav(struct web_ctx *c)
{
    struct buf *b = &c->out;
    html_raw(b, "<nav class=\"weft-nav\" aria-label=\"Record sections\"><div "
                "class=\"nhsuk-width-container\"><ul>");
    html_addf(b, "<li><a href=\"/patient/%s\"%s>Summary</a></li>", c->person_id,
              strcmp(c->page, "summary") == 0 ? " aria-current=\"page\"" : "");
    html_addf(b, "<li><a href=\"/patient/%s/timeline\"%s>Timeline</a></li>", c->person_id,
              strcmp(c->page, "timeline") == 0 ? " aria-current=\"page\"" : "");
    int n;
    const struct web_category *cats = web_categories(&n);
    for (int i = 0; i < n && i < 32; i++) {
        if (!c->nav_has[i])
            continue;
        html_addf(b, "<li><a href=\"/patient/%s/%s\"%s>%s</a></li>", c->person_id, cats[i].name,
                  strcmp(c->page, cats[i].name) == 0 ? " aria-current=\"page\"" : "",
                  cats[i].label);
    }
    html_raw(b, "</ul></div></nav>");
}

void web_page_begin(struct web_ctx *c, const char *title)
{
    head(&c->out, c->w->service_name, title);
    banner(c);
    nav(c);
    html_raw(&c->out, "<div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" "
                      "id=\"maincontent\" role=\"main\">");
}

void web_page_end(struct web_ctx *c)
{
    html_raw(&c->out, "</main></div>");
    foot(&c->out);
}

bool web_scope_complete(const struct web_ctx *c, const char *const *cats, int ncats)
{
    if (!c->rd.scope.allowed || c->rd.scope.norgs >= 0)
        return false;
    if (!cats)
        return c->rd.scope.ncategories < 0 || !c->hidden.categories;
    for (int i = 0; i < ncats; i++)
        if (!web_scope_category(c, cats[i]))
            return false;
    return true;
}

void web_empty(struct web_ctx *c, const char *const *cats, int ncats, const char *none_recorded,
               const char *id)
{
    struct buf *b = &c->out;
    html_raw(b, "<p class=\"weft-muted weft-empty\"");
    if (id)
        html_addf(b, " id=\"%s\"", id);
    html_raw(b, ">");
    int allowed = 0;
    for (int i = 0; cats && i < ncats; i++)
        allowed += web_scope_category(c, cats[i]);
    if (web_scope_complete(c, cats, ncats))
        html_addf(b, "%s", none_recorded);
    else if (cats && allowed == 0)
        html_raw(b, "Not available with your access.");
    else if (c->rd.scope.objection)
        html_raw(b, "None shown to you. This person has objected to sharing: only records "
                    "from your organisation are shown.");
    else if (c->rd.scope.norgs >= 0)
        html_raw(b, "None shown to you. Some sources are not shared with you.");
    else
        html_raw(b, "None shown to you. Some kinds of information are not shared with your "
                    "role.");
    html_raw(b, "</p>");
}

void web_withheld_notice(struct web_ctx *c)
{
    /* Only where something is actually withheld from this page: items in
     * categories the role does not cover, on the pages that span categories
     * (a category page is either wholly allowed or refused, and an upheld
     * objection has its own banner on every page).  No break-glass link:
     * break-glass never widens a role's categories. */
    bool spans = strcmp(c->page, "summary") == 0 || strcmp(c->page, "timeline") == 0;
    if (!spans || c->rd.scope.ncategories < 0 || !c->hidden.categories)
        return;
    html_raw(&c->out, "<div class=\"nhsuk-inset-text weft-withheld\" id=\"withheld-notice\">"
                      "<span class=\"nhsuk-u-visually-hidden\">Information: </span>"
                      "<p>Some information may not be shown to you: this record holds kinds of "
                      "information your role's access does not include. Emergency access does not "
                      "change this; ask a colleague whose role includes it.</p></div>");
}

void web_cell_date(struct web_ctx *c, const char *iso, bool with_time)
{
    struct buf t = BUF_INIT;
    fmt_date(&t, iso, with_time);
    if (iso && t.len)
        html_addf(&c->out,
                  "<td class=\"nhsuk-table__cell weft-nowrap\"><time datetime=\"%.10s\">"
                  "%s</time></td>",
                  iso, t.data);
    else
        html_raw(&c->out, "<td class=\"nhsuk-table__cell weft-nodate\">Date not recorded</td>");
    buf_release(&t);
}

void web_cell_item_date(struct web_ctx *c, const struct web_item *it, bool with_time)
{
    const char *iso = web_item_date(it);
    if (iso && *iso) {
        web_cell_date(c, iso, with_time);
        return;
    }
    struct buf t = BUF_INIT;
    fmt_date(&t, it->res ? fmt_resource_received(it->res) : it->row.last_updated, false);
    html_raw(&c->out, "<td class=\"nhsuk-table__cell weft-nodate\">Date not recorded");
    if (t.len)
        html_addf(&c->out, "<br><span class=\"weft-received\">received %s</span>", t.data);
    html_raw(&c->out, "</td>");
    buf_release(&t);
}

void web_item_title(struct web_ctx *c, struct buf *b, const struct web_item *it)
{
    fmt_resource_title(b, it->res);
    if (it->res && strcmp(it->row.type, "Encounter") == 0 && it->row.source_org)
        buf_addf(b, " at %s", web_org_name(c, it->row.source_org));
}

void web_cell_source(struct web_ctx *c, const struct store_row *row)
{
    if (web_row_patient_entered(row))
        html_raw(&c->out, "<td class=\"nhsuk-table__cell\">" WEB_PATIENT_TAG "</td>");
    else
        html_addf(&c->out, "<td class=\"nhsuk-table__cell\">%s</td>",
                  web_org_name(c, row->source_org));
}

bool web_row_patient_entered(const struct store_row *row)
{
    return row->source_org && strcmp(row->source_org, CONTRIB_SOURCE) == 0;
}

void web_item_href(struct web_ctx *c, struct buf *b, const struct store_row *row)
{
    html_addf(b, "/patient/%s/item/%s/%s", c->person_id, row->type, row->id);
}

void web_audit_note(struct web_ctx *c, const struct store_row *row)
{
    c->count++;
    /* Keep the audit entry bounded: ids beyond 4 KiB are summarised by count. */
    if (c->what.len < 4096)
        buf_addf(&c->what, "%s%s/%s", c->what.len ? " " : "", row->type, row->id);
}

void web_error_html(struct buf *b, const char *service, const char *title, const char *what,
                    const char *next_step)
{
    web_error_html_link(b, service, title, what, next_step, NULL, NULL);
}

void web_error_html_link(struct buf *b, const char *service, const char *title, const char *what,
                         const char *next_step, const char *href, const char *link_text)
{
    head(b, service, title);
    html_addf(b,
              "<div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" "
              "id=\"maincontent\" role=\"main\"><h1>%s</h1><p>%s</p>"
              "<h2 class=\"nhsuk-heading-m\">What to do next</h2><p id=\"next-step\">%s</p>",
              title, what, next_step);
    if (href)
        html_addf(b, "<p><a href=\"%s\" id=\"next-link\">%s</a></p>", href, link_text);
    html_raw(b, "</main></div>");
    foot(b);
}

void web_frame_begin(struct buf *out, const char *service, const char *title)
{
    head(out, service, title);
    html_raw(out, "<div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" "
                  "id=\"maincontent\" role=\"main\">");
}

void web_frame_end(struct buf *out)
{
    html_raw(out, "</main></div>");
    foot(out);
}
