/*
 * admin_objection.c - the staff pages of the objection workflow (admin.h;
 * access/objection.h is the workflow itself):
 *
 *   GET  /admin/objections/lodge   lodge an objection on a person's behalf
 *   POST /admin/objections/lodge   nhs, reason, csrf (any launched staff: GP
 *                                  or provider staff lodge with their own
 *                                  organisation)
 *   GET  /admin/objections         the review queue: open objections, oldest
 *                                  first, with due dates, overdue flagged
 *   GET  /admin/objections/{id}    one case: the reason, its history, the
 *                                  person's record context and the decision
 *   POST /admin/objections/{id}    decision=upheld|not-upheld, rationale, csrf
 *
 * The queue and the case are for the clinicians the policy names (capability
 * objection-decide, authz_may_decide_objection); anyone else is refused with
 * a page saying so, and the refusal is audited.  A decision posted by a role
 * the policy does not allow is refused by objection_decide() itself, which
 * audits it, so the page and `weft objection decide` cannot disagree.  The
 * decider is the session's user (SDS id and role), never a form field.
 *
 * The record context is read through the one scoped-read path
 * (access/read.h) as the signed-in clinician: the rules of any other read
 * apply (their role's categories, the patient of their launch context), and
 * the read is audited.  It is a count of items per source organisation and
 * category - what an upheld objection would stop being shared - rather than
 * the record itself, which the clinician opens from their own system.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/access_serve.h"
#include "access/authz.h"
#include "access/objection.h"
#include "access/org.h"
#include "access/read.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"
#include "http/server.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/citizen.h"
#include "store/records.h"
#include "web/admin.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

#define CONTEXT_PAGES 40 /* at most 40 x 500 items counted for the context */
#define CONTEXT_PAGE 500
#define CONTEXT_GROUPS 64

static struct web *ob_web;

static struct store *store_or_503(struct http_req *req)
{
    struct store *s = http_req_store(req);
    if (!s)
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
    return s;
}

/* Launched staff whose role may decide objections; NULL after replying. */
static struct store *decider_begin(struct http_req *req, const char *what)
{
    if (!web_admin_user(req))
        return NULL;
    struct store *s = store_or_503(req);
    if (!s)
        return NULL;
    if (!authz_may_decide_objection(s, &req->principal)) {
        struct buf why = BUF_INIT;
        buf_addf(&why, "%s: role without objection-decide", what);
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL, why.data);
        buf_release(&why);
        web_error_page(req, 403, "You do not have permission to view this page",
                       "Objections to sharing are decided by the clinicians the access policy "
                       "names (roles with the objection-decide capability). Your job role is "
                       "not one of them.",
                       "You can still lodge an objection for a person at "
                       "/admin/objections/lodge; a clinician will decide it.");
        return NULL;
    }
    return s;
}

static void page_open(struct buf *b, const char *title, const char *current)
{
    static const char *const links[][2] = {
        {"/admin/objections", "Objections to decide"},
        {"/admin/objections/lodge", "Lodge an objection"},
    };
    web_frame_begin(b, ob_web->service_name, title);
    html_raw(b, "<nav class=\"weft-nav\" aria-label=\"Objections\"><ul class=\"weft-nav__list\">");
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        html_addf(b,
                  "<li class=\"weft-nav__item\"><a class=\"weft-nav__link\" href=\"%s\"%s>%s</a>"
                  "</li>",
                  links[i][0], strcmp(current, links[i][0]) == 0 ? " aria-current=\"page\"" : "",
                  links[i][1]);
    html_raw(b, "</ul></nav>");
    html_addf(b, "<h1>%s</h1>", title);
}

/* Parse a posted form and check its CSRF token; false after replying. */
static void person_nhs(struct store *s, const char *person_id, char out[13])
{
    struct store_person pe = {0};
    snprintf(out, 13, "not known");
    if (store_person_get(s, person_id, &pe) == 0) {
        if (pe.nhs)
            nhs_number_format(pe.nhs, out);
        store_person_clear(&pe);
    }
}

static void error_summary(struct buf *b, const char *field, const char *message)
{
    html_addf(b,
              "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\" "
              "id=\"form-error\"><h2 class=\"nhsuk-error-summary__title\">There is a problem</h2>"
              "<div class=\"nhsuk-error-summary__body\"><ul class=\"nhsuk-list "
              "nhsuk-error-summary__list\"><li><a href=\"#%s\">%s</a></li></ul></div></div>",
              field, message);
}

/* ---- lodging on a person's behalf ------------------------------------------------------- */

static void lodge_page(struct http_req *req, struct store *s, int status, const char *field,
                       const char *error, const char *nhs, const char *reason)
{
    struct buf b = BUF_INIT;
    page_open(&b, "Lodge an objection for a person", "/admin/objections/lodge");
    if (error)
        error_summary(&b, field, error);
    const char *done = http_req_arg(req, "lodged");
    if (!error && done)
        html_addf(&b,
                  "<div class=\"nhsuk-inset-text\" id=\"lodged\" role=\"status\"><p>Objection "
                  "%s lodged. A clinician will decide it within one calendar month; the person "
                  "sees its progress in their record at /my/objection.</p></div>",
                  done);
    struct store_org so = {0};
    const char *org = req->principal.org;
    bool named = org && store_org_get(s, org, &so) == 0;
    html_addf(&b,
              "<p>Use this page when a person asks your organisation to stop sharing their "
              "information through the shared record (an objection under UK GDPR article 21). "
              "It is lodged with <strong id=\"lodge-org\">%s%s%s%s</strong>, your organisation, "
              "and decided by a clinician. Nothing is withheld until a clinician upholds it.</p>",
              named ? so.name : "", named ? " (" : "", org ? org : "no organisation",
              named ? ")" : "");
    if (named)
        store_org_clear(&so);
    html_raw(&b, "<form method=\"post\" action=\"/admin/objections/lodge\" id=\"lodge-form\">");
    web_admin_csrf_field(&b, req);
    html_addf(&b,
              "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"nhs\">The "
              "person's NHS number</label><input class=\"nhsuk-input nhsuk-input--width-10\" "
              "id=\"nhs\" name=\"nhs\" type=\"text\" inputmode=\"numeric\" "
              "autocomplete=\"off\" value=\"%s\"></div>"
              "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"reason\">The "
              "person's reasons, in their words</label><textarea class=\"nhsuk-textarea\" "
              "id=\"reason\" name=\"reason\" rows=\"5\" maxlength=\"2000\">%s</textarea></div>"
              "<button class=\"nhsuk-button\" type=\"submit\" id=\"lodge\">Lodge the "
              "objection</button></form>",
              nhs ? nhs : "", reason ? reason : "");
    web_frame_end(&b);
    web_admin_reply(req, status, &b);
}

/* GET /admin/objections/lodge */
static int h_lodge_form(struct http_req *req, void *arg)
{
    (void)arg;
    if (!web_admin_user(req))
        return 0;
    struct store *s = store_or_503(req);
    if (s)
        lodge_page(req, s, 200, NULL, NULL, NULL, NULL);
    return 0;
}

/* POST /admin/objections/lodge */
static int h_lodge(struct http_req *req, void *arg)
{
    (void)arg;
    if (!web_admin_user(req))
        return 0;
    struct store *s = store_or_503(req);
    struct url_kv *kv = NULL;
    int n = 0;
    if (!s || !web_admin_form_read(req, &kv, &n))
        return 0;
    const char *nhs = url_kv_get(kv, n, "nhs"), *reason = url_kv_get(kv, n, "reason");
    char digits[11];
    char *person = NULL;
    if (!nhs || !nhs_number_valid(nhs, digits)) {
        lodge_page(req, s, 400, "nhs", "Enter a valid NHS number (10 digits). Nothing was lodged.",
                   nhs, reason);
    } else {
        int rc = store_person_find_nhs(s, digits, &person);
        if (rc == WEFT_ENOTFOUND) {
            lodge_page(req, s, 400, "nhs",
                       "No person in the shared record holds that NHS number. Nothing was "
                       "lodged.",
                       nhs, reason);
        } else if (rc) {
            web_error_page(req, 503, "Sorry, the objection was not lodged",
                           "The shared care record's database did not answer.", "Try again.");
        } else {
            int64_t id = 0;
            const char *why = NULL;
            rc = objection_lodge(s, &req->principal, person, req->principal.org, reason, &id, &why);
            if (rc == 0) {
                char to[64];
                snprintf(to, sizeof to, "/admin/objections/lodge?lodged=%lld", (long long)id);
                web_admin_redirect(req, to);
            } else if (rc == WEFT_EINVAL || rc == WEFT_EEXIST) {
                struct buf m = BUF_INIT;
                buf_addf(&m, "Nothing was lodged: %s.", why ? why : "the form is not complete");
                lodge_page(req, s, 400, rc == WEFT_EEXIST ? "nhs" : "reason", m.data, nhs, reason);
                buf_release(&m);
            } else {
                web_error_page(req, 503, "Sorry, the objection was not lodged",
                               "The shared care record's database did not answer.", "Try again.");
            }
        }
    }
    free(person);
    url_kv_free(kv, n);
    return 0;
}

/* ---- the review queue --------------------------------------------------------------------- */

/* GET /admin/objections */
static int h_queue(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = decider_begin(req, "objection queue");
    if (!s)
        return 0;
    struct store_objection *ob = NULL;
    int n = 0;
    if (store_objection_list(s, NULL, true, &ob, &n) != 0) {
        web_error_page(req, 503, "The objections could not be read",
                       "The shared care record's database did not answer.",
                       "Try again in a few minutes.");
        return 0;
    }
    char day[11], nhsf[13];
    org_day(time(NULL), day);
    int late = 0;
    for (int i = 0; i < n; i++)
        late += objection_overdue(&ob[i], day);
    struct buf b = BUF_INIT;
    page_open(&b, "Objections to decide", "/admin/objections");
    const char *done = http_req_arg(req, "done"), *what = http_req_arg(req, "decision");
    if (done && what)
        html_addf(&b,
                  "<div class=\"nhsuk-inset-text\" id=\"decided\" role=\"status\"><p>Objection "
                  "%s: recorded as %s. It takes effect on sharing at once.</p></div>",
                  done, strcmp(what, "upheld") == 0 ? "upheld" : "not upheld");
    html_addf(&b,
              "<p id=\"queue-summary\">%d objection(s) waiting for a decision, %d overdue (not "
              "decided within one calendar month of lodging).</p>",
              n, late);
    if (n > 0) {
        html_raw(&b, "<table class=\"nhsuk-table\" id=\"queue\"><caption class=\"nhsuk-table__"
                     "caption\">Open objections, oldest first</caption><thead class=\"nhsuk-"
                     "table__head\"><tr class=\"nhsuk-table__row\">"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Objection</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">NHS number</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Lodged with</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Lodged</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Due</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Overdue</th>"
                     "</tr></thead><tbody class=\"nhsuk-table__body\">");
        for (int i = 0; i < n; i++) {
            bool over = objection_overdue(&ob[i], day);
            person_nhs(s, ob[i].person_id, nhsf);
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row%s\" id=\"case-%lld\"><td "
                      "class=\"nhsuk-table__cell\"><a href=\"/admin/objections/%lld\">Objection "
                      "%lld</a></td><td class=\"nhsuk-table__cell\">%s</td><td "
                      "class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%.10s"
                      "</td><td class=\"nhsuk-table__cell\">%s</td><td "
                      "class=\"nhsuk-table__cell\">%s</td></tr>",
                      over ? " weft-overdue" : "", (long long)ob[i].id, (long long)ob[i].id,
                      (long long)ob[i].id, nhsf, ob[i].org, ob[i].lodged, ob[i].due,
                      over ? "OVERDUE" : "No");
        }
        html_raw(&b, "</tbody></table>");
    }
    web_frame_end(&b);
    store_objections_free(ob, n);
    if (authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "objections-queue", n) != 0) {
        buf_release(&b);
        web_error_page(req, 503, "The service is not available at the moment",
                       "The view could not be recorded in the audit log, so it is not shown.",
                       "Try again in a few minutes.");
        return 0;
    }
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- one case ------------------------------------------------------------------------------- */

static bool parse_id(struct http_req *req, int64_t *id)
{
    const char *p = http_req_param(req, "id");
    char *end = NULL;
    long long v = p ? strtoll(p, &end, 10) : 0;
    if (!p || !*p || *end || v <= 0) {
        web_error_page(req, 404, "Page not found", "There is no such objection.",
                       "Go back to the objections to decide.");
        return false;
    }
    *id = v;
    return true;
}

struct group {
    char orgbuf[32], catbuf[48];
    long count;
};

/* The person's record as this clinician may see it: items per source
 * organisation and category, through the scoped-read path (audited). */
static int record_context(struct http_req *req, struct store *s, const char *person_id,
                          struct buf *b)
{
    struct access_read rd;
    int rc = access_read_open(&rd, s, &req->principal, AUDIT_READ, person_id);
    html_raw(b, "<h2 id=\"context-heading\">The person's record</h2>");
    if (rc < 0) {
        access_read_close(&rd);
        html_raw(b, "<p class=\"nhsuk-error-message\" id=\"context\">The record could not be "
                    "read just now.</p>");
        return rc;
    }
    if (!rd.scope.allowed) {
        html_addf(b,
                  "<p id=\"context\">You cannot see this person's record from here: %s. Open "
                  "their record from your own clinical system (so the shared record opens with "
                  "this person), then come back to this page to see what they hold.</p>",
                  rd.scope.reason ? rd.scope.reason : "the access rules refuse it");
        access_read_close(&rd);
        return 0;
    }
    struct group *groups = calloc(CONTEXT_GROUPS, sizeof *groups);
    int ng = 0;
    long total = 0;
    bool more = false;
    struct store_query q = {.person_id = person_id, .limit = CONTEXT_PAGE};
    char *after = NULL;
    int64_t snap = 0;
    for (int page = 0; groups && page < CONTEXT_PAGES; page++) {
        struct store_result res = {0};
        q.after = after;
        q.snapshot = snap;
        if ((rc = access_read_search(&rd, &q, &res)) != 0) {
            store_result_clear(&res);
            break;
        }
        snap = res.snapshot;
        for (int i = 0; i < res.nrows; i++) {
            const struct store_row *r = &res.rows[i];
            if (r->deleted)
                continue;
            total++;
            const char *o = r->source_org ? r->source_org : "-";
            const char *c = r->category ? r->category : "-";
            int k = 0;
            while (k < ng &&
                   !(strcmp(groups[k].orgbuf, o) == 0 && strcmp(groups[k].catbuf, c) == 0))
                k++;
            if (k == ng && ng < CONTEXT_GROUPS) {
                snprintf(groups[k].orgbuf, sizeof groups[k].orgbuf, "%s", o);
                snprintf(groups[k].catbuf, sizeof groups[k].catbuf, "%s", c);
                ng++;
            }
            if (k < ng)
                groups[k].count++;
        }
        free(after);
        after = res.next ? xstrdup(res.next) : NULL;
        store_result_clear(&res);
        if (!after)
            break;
        if (page == CONTEXT_PAGES - 1)
            more = true;
    }
    free(after);
    if (rc != 0 || !groups) {
        free(groups);
        access_read_close(&rd);
        html_raw(b, "<p class=\"nhsuk-error-message\" id=\"context\">The record could not be "
                    "read just now.</p>");
        return rc ? rc : WEFT_ENOMEM;
    }
    html_addf(b,
              "<p id=\"context\">You can see %ld%s item(s) from %s organisation(s) in this "
              "person's record. If the objection is upheld, each organisation sees only what it "
              "recorded itself, except in an emergency (break-glass).</p>",
              total, more ? "+" : "", ng ? "these" : "no");
    if (ng) {
        html_raw(b, "<table class=\"nhsuk-table\" id=\"context-table\"><caption "
                    "class=\"nhsuk-table__caption\">Items you can see, by the organisation that "
                    "sent them</caption><thead class=\"nhsuk-table__head\"><tr "
                    "class=\"nhsuk-table__row\"><th scope=\"col\" class=\"nhsuk-table__header\">"
                    "Organisation</th><th scope=\"col\" class=\"nhsuk-table__header\">Category"
                    "</th><th scope=\"col\" class=\"nhsuk-table__header\">Items</th></tr>"
                    "</thead><tbody class=\"nhsuk-table__body\">");
        for (int k = 0; k < ng; k++) {
            struct store_org so = {0};
            bool named = store_org_get(s, groups[k].orgbuf, &so) == 0;
            html_addf(b,
                      "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s%s%s%s"
                      "</td><td class=\"nhsuk-table__cell\">%s</td><td "
                      "class=\"nhsuk-table__cell\">%ld</td></tr>",
                      named ? so.name : "", named ? " (" : "", groups[k].orgbuf, named ? ")" : "",
                      groups[k].catbuf, groups[k].count);
            if (named)
                store_org_clear(&so);
        }
        html_raw(b, "</tbody></table>");
    }
    struct authz_hidden hid = {0};
    if (access_read_hidden(&rd, 0, &hid) == 0 && (hid.categories || hid.orgs))
        html_raw(b, "<p id=\"context-hidden\">The access rules hide some of this person's "
                    "record from you (categories your role does not cover, or organisations "
                    "whose items you may not see), so this is not everything held.</p>");
    rc = access_read_audit(&rd, "objection review: record context", total);
    free(groups);
    access_read_close(&rd);
    return rc;
}

/* GET /admin/objections/{id} */
static int h_case(struct http_req *req, void *arg)
{
    (void)arg;
    int64_t id;
    struct store *s = decider_begin(req, "objection case");
    if (!s || !parse_id(req, &id))
        return 0;
    struct store_objection o;
    int rc = store_objection_case(s, id, &o);
    if (rc != 0) {
        if (rc == WEFT_ENOTFOUND)
            web_error_page(req, 404, "Page not found", "There is no such objection.",
                           "Go back to the objections to decide.");
        else
            web_error_page(req, 503, "The objection could not be read",
                           "The shared care record's database did not answer.",
                           "Try again in a few minutes.");
        return 0;
    }
    char day[11], nhsf[13], title[64];
    org_day(time(NULL), day);
    person_nhs(s, o.person_id, nhsf);
    bool over = objection_overdue(&o, day);
    snprintf(title, sizeof title, "Objection %lld", (long long)id);
    struct buf b = BUF_INIT;
    page_open(&b, title, "");
    html_addf(&b,
              "<dl class=\"nhsuk-summary-list\" id=\"case\">"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">NHS "
              "number</dt><dd class=\"nhsuk-summary-list__value\">%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Status"
              "</dt><dd class=\"nhsuk-summary-list__value\" id=\"status\">%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Lodged"
              "</dt><dd class=\"nhsuk-summary-list__value\">%.10s with %s, by %s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Due"
              "</dt><dd class=\"nhsuk-summary-list__value\" id=\"due\">%s%s</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">The "
              "person's reasons</dt><dd class=\"nhsuk-summary-list__value\" id=\"reason\">%s</dd>"
              "</div></dl>",
              nhsf, o.status, o.lodged, o.org, o.lodged_by, o.due, over ? " - OVERDUE" : "",
              o.reason);
    if (o.decided)
        html_addf(&b, "<p id=\"decision\">Decided %.16s by %s (%s): <strong>%s</strong>. %s</p>",
                  o.decided, o.decided_by, o.decided_role ? o.decided_role : "-", o.status,
                  o.rationale ? o.rationale : "");
    struct store_objection_step *st = NULL;
    int nst = 0;
    if (store_objection_steps(s, id, &st, &nst) == 0 && nst > 0) {
        html_raw(&b, "<h2>History</h2><ol class=\"nhsuk-list nhsuk-list--number\" "
                     "id=\"history\">");
        for (int i = 0; i < nst; i++)
            html_addf(&b, "<li>%.19s: %s by %s%s%s</li>", st[i].time, st[i].step, st[i].by,
                      st[i].detail ? ": " : "", st[i].detail ? st[i].detail : "");
        html_raw(&b, "</ol>");
    }
    store_objection_steps_free(st, nst);
    rc = record_context(req, s, o.person_id, &b);
    if (strcmp(o.status, "lodged") == 0) {
        const struct principal *p = &req->principal;
        html_addf(&b, "<form method=\"post\" action=\"/admin/objections/%lld\" id=\"decide\">",
                  (long long)id);
        web_admin_csrf_field(&b, req);
        html_addf(&b,
                  "<div class=\"nhsuk-form-group\"><fieldset class=\"nhsuk-fieldset\">"
                  "<legend class=\"nhsuk-fieldset__legend nhsuk-fieldset__legend--m\">Your "
                  "decision</legend><div class=\"nhsuk-radios\">"
                  "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                  "id=\"d-upheld\" name=\"decision\" type=\"radio\" value=\"upheld\"><label "
                  "class=\"nhsuk-label nhsuk-radios__label\" for=\"d-upheld\">Upheld: stop "
                  "sharing (each organisation sees only its own items)</label></div>"
                  "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                  "id=\"d-not-upheld\" name=\"decision\" type=\"radio\" value=\"not-upheld\">"
                  "<label class=\"nhsuk-label nhsuk-radios__label\" for=\"d-not-upheld\">Not "
                  "upheld: sharing continues</label></div></div></fieldset></div>"
                  "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" "
                  "for=\"rationale\">Your reasons (the person will read them)</label><textarea "
                  "class=\"nhsuk-textarea\" id=\"rationale\" name=\"rationale\" rows=\"5\" "
                  "maxlength=\"4000\"></textarea></div>"
                  "<p id=\"decider\">Recorded as decided by %s (SDS user %s, job role %s).</p>"
                  "<button class=\"nhsuk-button\" type=\"submit\">Record the decision</button>"
                  "</form>",
                  p->user_name ? p->user_name : p->user_id, p->user_id, p->role);
    }
    web_frame_end(&b);
    store_objection_clear(&o);
    if (rc != 0) {
        buf_release(&b);
        web_error_page(req, 503, "The service is not available at the moment",
                       "The view could not be recorded in the audit log, so it is not shown.",
                       "Try again in a few minutes.");
        return 0;
    }
    web_admin_reply(req, 200, &b);
    return 0;
}

/* POST /admin/objections/{id} */
static int h_decide(struct http_req *req, void *arg)
{
    (void)arg;
    int64_t id;
    if (!web_admin_user(req))
        return 0;
    struct store *s = store_or_503(req);
    struct url_kv *kv = NULL;
    int n = 0;
    if (!s || !parse_id(req, &id) || !web_admin_form_read(req, &kv, &n))
        return 0;
    const char *decision = url_kv_get(kv, n, "decision"), *why = NULL;
    /* objection_decide refuses (and audits) a role the policy does not name */
    int rc =
        objection_decide(s, &req->principal, id, decision, url_kv_get(kv, n, "rationale"), &why);
    if (rc == 0) {
        char to[96];
        snprintf(to, sizeof to, "/admin/objections?done=%lld&decision=%s", (long long)id,
                 strcmp(decision, "upheld") == 0 ? "upheld" : "not-upheld");
        web_admin_redirect(req, to);
    } else if (rc == WEFT_EDENIED) {
        web_error_page(req, 403, "You may not decide objections",
                       "Nothing was recorded: objections to sharing are decided by the "
                       "clinicians the access policy names (capability objection-decide), and "
                       "your job role is not one of them. The attempt has been recorded.",
                       "Ask a clinician at the organisation the objection was lodged with.");
    } else if (rc == WEFT_EINVAL) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "Nothing was recorded: %s.", why ? why : "the form is not complete");
        web_error_page(req, 400, "Choose a decision and give your reasons", m.data,
                       "Go back to the objection and fill in the form again.");
        buf_release(&m);
    } else if (rc == WEFT_ENOTFOUND) {
        web_error_page(req, 404, "Page not found", "There is no such objection.",
                       "Go back to the objections to decide.");
    } else if (rc == WEFT_ECONFLICT) {
        web_error_page(req, 409, "That decision was not recorded",
                       "The objection is not waiting for a decision: it has been decided or "
                       "withdrawn already.",
                       "Go back to the objections to decide.");
    } else {
        web_error_page(req, 503, "Sorry, that was not recorded",
                       "The shared care record's database did not answer.", "Try again.");
    }
    url_kv_free(kv, n);
    return 0;
}

int web_admin_objection_routes_add(struct http_server *srv, struct web *w)
{
    ob_web = w;
    static const struct http_route_def routes[] = {
        {"GET", "/admin/objections", h_queue, 0},
        {"GET", "/admin/objections/lodge", h_lodge_form, 0},
        {"POST", "/admin/objections/lodge", h_lodge, 0},
        {"GET", "/admin/objections/{id}", h_case, 0},
        {"POST", "/admin/objections/{id}", h_decide, 0},
    };
    return http_routes_add(srv, routes, sizeof routes / sizeof routes[0], w);
}
