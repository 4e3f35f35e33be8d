/*
 * admin_gov.c - the governance console (admin.h): for the roles the policy
 * gives audit-review (Privacy Officer R0001, Caldicott Guardian R5105, IG
 * officers).  Who viewed a record (by NHS number), break-glass reviews with
 * their outcome recorded and overdue ones flagged, agreements (all,
 * expiring within 60 days, organisations sending without one in force),
 * feeds health, the objections queue and subject access requests with their
 * due dates (overdue flagged), the audit chain (last verification, verify now) and the
 * access policy as a role x category matrix with its change history.
 * Reading the audit log about a person is itself audited.  The forms carry
 * the session's CSRF token and are checked by access_form_check().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/access_serve.h"
#include "access/authz.h"
#include "access/objection.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/sar.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/citizen.h"
#include "store/feeds.h"
#include "store/gov.h"
#include "store/meta.h"
#include "store/records.h"
#include "web/admin.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

#define REVIEW_DUE_DAYS 7
#define EXPIRY_WARN_DAYS 60
#define VERIFY_META "audit.last_verify"

struct gov {
    struct web *w;
    struct http_server *srv;
};
static struct gov gov_ctx;

static const char *const outcomes[][2] = {
    {"appropriate", "Appropriate"},
    {"inappropriate", "Inappropriate"},
    {"follow-up", "Needs follow-up"},
};

/* Launched staff whose role may review the audit log; false after replying. */
static struct store *gov_begin(struct http_req *req)
{
    if (!web_admin_user(req))
        return NULL;
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The service is not available at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes.");
        return NULL;
    }
    if (!authz_may_review_audit(s, &req->principal)) {
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL,
                           "governance console: role without audit-review");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "The governance console is for privacy officers, Caldicott guardians and "
                       "information governance officers.",
                       "Ask your information governance team if you need access.");
        return NULL;
    }
    return s;
}

static void page_open(struct buf *b, const char *title, const char *current)
{
    web_frame_begin(b, gov_ctx.w->service_name, title);
    web_admin_nav(b, current, true);
    html_addf(b, "<h1>%s</h1>", title);
}

static void today(char out[11], long plus_days)
{
    time_t t = time(NULL) + plus_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* ---- index and the audit chain ------------------------------------------------------ */
static int h_index(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    struct buf b = BUF_INIT;
    page_open(&b, "Governance", "/admin/governance");
    int64_t seq = 0, rows = 0;
    unsigned char h[32];
    store_audit_head(s, &seq, h, &rows);
    char *last = NULL;
    store_meta_get(s, VERIFY_META, &last);
    html_addf(&b,
              "<h2>Audit chain</h2><dl class=\"nhsuk-summary-list\">"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Entries"
              "</dt><dd class=\"nhsuk-summary-list__value\">%lld</dd></div>"
              "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Last "
              "verification</dt><dd class=\"nhsuk-summary-list__value\" "
              "id=\"last-verify\">%s</dd></div></dl>",
              (long long)rows, last ? last : "never verified from this console");
    free(last);
    html_raw(&b, "<p>The chain proves that no entry was changed, removed or inserted relative to "
                 "the recorded head. A rewrite of the newest entries together with the head is "
                 "only detected against the head anchored outside the database "
                 "(<code>weft serve --audit-anchor FILE</code>, checked by <code>weft audit verify "
                 "--anchor FILE</code>).</p>");
    html_raw(&b, "<form method=\"post\" action=\"/admin/governance/audit/verify\">");
    web_admin_csrf_field(&b, req);
    html_raw(&b, "<button class=\"nhsuk-button\" type=\"submit\">Verify the audit chain "
                 "now</button></form>");
    html_raw(&b, "<h2>Reviews and reports</h2><ul class=\"nhsuk-list nhsuk-list--bullet\">"
                 "<li><a href=\"/admin/governance/access\">Who viewed a record</a></li>"
                 "<li><a href=\"/admin/governance/breakglass\">Break-glass reviews</a></li>"
                 "<li><a href=\"/admin/governance/requests\">Objections and subject access "
                 "requests</a></li>"
                 "<li><a href=\"/admin/governance/sar\">Subject access requests: log, extend, "
                 "produce the package</a></li>"
                 "<li><a href=\"/admin/governance/agreements\">Data sharing agreements</a></li>"
                 "<li><a href=\"/admin/governance/feeds\">Feeds health</a></li>"
                 "<li><a href=\"/admin/governance/policy\">The access policy</a></li>"
                 "<li><a href=\"/admin/dq\">Data quality by organisation</a></li></ul>");
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

struct form {
    struct url_kv *kv;
    int n;
};

static const char *form_get(const struct form *f, const char *k)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->kv[i].name, k) == 0)
            return f->kv[i].value;
    return NULL;
}

/* Parse and check a posted form; false after replying. */
static bool form_read(struct http_req *req, struct form *f)
{
    memset(f, 0, sizeof *f);
    if (url_query_parse(req->body.data, req->body.len, &f->kv, &f->n, 16) != 0) {
        url_kv_free(f->kv, f->n);
        web_error_page(req, 400, "Sorry, the form could not be read",
                       "The information sent was not in the expected form.",
                       "Go back and fill in the form again.");
        return false;
    }
    if (access_form_check(req, form_get(f, "csrf")) != 0) {
        url_kv_free(f->kv, f->n);
        return false;
    }
    return true;
}

static int h_verify(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    struct form f;
    if (!form_read(req, &f))
        return 0;
    url_kv_free(f.kv, f.n);
    struct audit_verify_result r;
    const char *url = http_server_store_url(gov_ctx.srv);
    int rc = url ? audit_verify(url, 2, &r) : WEFT_EINTERNAL;
    char now[32];
    audit_now(now);
    struct buf v = BUF_INIT;
    if (rc == 0)
        buf_addf(&v, "%.19s: intact, %lld entries (by %s)", now, (long long)r.entries,
                 req->principal.user_name ? req->principal.user_name : req->principal.user_id);
    else if (rc == WEFT_ECONFLICT)
        buf_addf(&v, "%.19s: TAMPERED at entry %lld: %s", now, (long long)r.bad_seq, r.problem);
    else
        buf_addf(&v, "%.19s: could not be verified: %s", now, r.problem);
    store_meta_set(s, VERIFY_META, v.data);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &req->principal);
    ev.action = AUDIT_ADMIN;
    ev.outcome = AUDIT_OK;
    ev.what = "audit-verify";
    ev.count = -1;
    ev.reason = v.data;
    audit_record(s, &ev, true);
    buf_release(&v);
    web_admin_redirect(req, "/admin/governance");
    return 0;
}

/* ---- who viewed a record ------------------------------------------------------------ */
struct rows_ctx {
    struct buf *b;
    int n;
};

static int access_row(const struct store_audit_row *r, void *ctx)
{
    struct rows_ctx *c = ctx;
    c->n++;
    html_addf(c->b,
              "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%.19s</td>"
              "<td class=\"nhsuk-table__cell\">%s%s</td><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s (%s)</td><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td></tr>",
              r->time, r->action,
              r->purpose && strcmp(r->purpose, "ETREAT") == 0 ? " (emergency access)" : "",
              r->outcome,
              r->user_name ? r->user_name
              : r->user_id ? r->user_id
                           : r->client,
              r->role ? r->role : "-", r->org ? r->org : "-", r->what ? r->what : "",
              r->reason ? r->reason : "");
    return 0;
}

static int h_access(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    const char *nhs = http_req_arg(req, "nhs");
    struct buf b = BUF_INIT;
    page_open(&b, "Who viewed a record", "/admin/governance/access");
    char digits[11] = "";
    bool valid = nhs && *nhs && nhs_number_valid(nhs, digits);
    if (nhs && *nhs && !valid)
        html_addf(&b,
                  "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\">"
                  "<h2 class=\"nhsuk-error-summary__title\">There is a problem</h2>"
                  "<div class=\"nhsuk-error-summary__body\"><ul class=\"nhsuk-list "
                  "nhsuk-error-summary__list\"><li><a href=\"#nhs\">'%s' is not a valid NHS "
                  "number</a></li></ul></div></div>",
                  nhs);
    html_addf(
        &b,
        "<form method=\"get\" action=\"/admin/governance/access\"><div class=\"nhsuk-form-group\">"
        "<label class=\"nhsuk-label\" for=\"nhs\">NHS number</label>"
        "<input class=\"nhsuk-input nhsuk-input--width-10\" id=\"nhs\" name=\"nhs\" "
        "type=\"text\" inputmode=\"numeric\" value=\"%s\"></div>"
        "<button class=\"nhsuk-button\" type=\"submit\">Show who viewed</button></form>",
        nhs ? nhs : "");
    if (valid) {
        char *person = NULL;
        int rc = store_person_find_nhs(s, digits, &person);
        if (rc == WEFT_ENOTFOUND) {
            html_addf(&b,
                      "<p id=\"result\">No person in the shared record holds NHS number %s, so "
                      "nobody has viewed such a record.</p>",
                      digits);
        } else if (rc == 0) {
            html_addf(&b,
                      "<h2 id=\"result\">Views, searches, denials and emergency access for NHS "
                      "number %s</h2>",
                      digits);
            html_raw(
                &b,
                "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption "
                "nhsuk-u-visually-hidden\">Audit entries</caption><thead "
                "class=\"nhsuk-table__head\"><tr>"
                "<th scope=\"col\">When (UTC)</th><th scope=\"col\">Action</th>"
                "<th scope=\"col\">Outcome</th><th scope=\"col\">Who (role)</th>"
                "<th scope=\"col\">Organisation</th><th scope=\"col\">What</th>"
                "<th scope=\"col\">Reason</th></tr></thead><tbody class=\"nhsuk-table__body\">");
            struct rows_ctx c = {&b, 0};
            struct store_audit_filter f = {.person_id = person, .limit = 1000};
            store_audit_search(s, &f, access_row, &c);
            html_raw(&b, "</tbody></table>");
            if (c.n == 0)
                html_raw(&b, "<p>No entries: nobody has opened this record.</p>");
            authz_audit_access(s, &req->principal, AUDIT_READ, person, "audit-log", c.n);
            free(person);
        }
    }
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- break-glass reviews ------------------------------------------------------------ */
static int h_breakglass(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    struct store_breakglass *bg = NULL;
    int n = 0;
    struct store_bg_review *rv = NULL;
    int nrv = 0;
    store_breakglass_list(s, NULL, &bg, &n);
    store_bg_review_list(s, &rv, &nrv);
    char due[11];
    today(due, -REVIEW_DUE_DAYS);
    struct buf b = BUF_INIT;
    page_open(&b, "Break-glass reviews", "/admin/governance/breakglass");
    int pending = 0, overdue = 0;
    for (int i = 0; i < n; i++) {
        bool done = false;
        for (int k = 0; k < nrv; k++)
            done |= rv[k].breakglass_id == bg[i].id;
        pending += !done;
        overdue += !done && strncmp(bg[i].started, due, 10) < 0;
    }
    html_addf(&b,
              "<p id=\"summary\">%d emergency access event(s); %d not reviewed, %d overdue (not "
              "reviewed within %d days).</p>",
              n, pending, overdue, REVIEW_DUE_DAYS);
    for (int i = 0; i < n; i++) {
        const struct store_bg_review *r = NULL;
        for (int k = 0; k < nrv; k++)
            if (rv[k].breakglass_id == bg[i].id)
                r = &rv[k];
        bool late = !r && strncmp(bg[i].started, due, 10) < 0;
        struct store_person pe = {0};
        bool has = store_person_get(s, bg[i].person_id, &pe) == 0;
        char nhsf[13] = "";
        if (has && pe.nhs)
            nhs_number_format(pe.nhs, nhsf);
        html_addf(&b,
                  "<div class=\"nhsuk-card\" id=\"bg-%lld\"><div class=\"nhsuk-card__content\">"
                  "<h2 class=\"nhsuk-card__heading nhsuk-heading-s\">%.16s: %s (%s, %s)%s</h2>"
                  "<p>Patient NHS number %s. Reason: %s: %s. Until %.16s.</p>",
                  (long long)bg[i].id, bg[i].started,
                  bg[i].user_name ? bg[i].user_name : bg[i].user_id, bg[i].role ? bg[i].role : "-",
                  bg[i].org, late ? " - OVERDUE for review" : "", nhsf[0] ? nhsf : "not known",
                  bg[i].reason_code, bg[i].reason_text, bg[i].expires);
        if (has)
            store_person_clear(&pe);
        if (r) {
            html_addf(
                &b,
                "<p class=\"weft-review\">Reviewed %.16s by %s (%s): <strong>%s</strong>. %s</p>",
                r->reviewed, r->reviewer, r->reviewer_role ? r->reviewer_role : "-", r->outcome,
                r->note ? r->note : "");
        }
        html_addf(&b, "<form method=\"post\" action=\"/admin/governance/breakglass/%lld\">",
                  (long long)bg[i].id);
        web_admin_csrf_field(&b, req);
        html_addf(&b,
                  "<div class=\"nhsuk-form-group\"><fieldset class=\"nhsuk-fieldset\">"
                  "<legend class=\"nhsuk-fieldset__legend nhsuk-fieldset__legend--s\">%s</legend>"
                  "<div class=\"nhsuk-radios nhsuk-radios--inline\">",
                  r ? "Change the outcome" : "Outcome of the review");
        for (int k = 0; k < 3; k++)
            html_addf(&b,
                      "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                      "id=\"o-%lld-%d\" name=\"outcome\" type=\"radio\" value=\"%s\"%s>"
                      "<label class=\"nhsuk-label nhsuk-radios__label\" for=\"o-%lld-%d\">%s"
                      "</label></div>",
                      (long long)bg[i].id, k, outcomes[k][0],
                      r && strcmp(r->outcome, outcomes[k][0]) == 0 ? " checked" : "",
                      (long long)bg[i].id, k, outcomes[k][1]);
        html_addf(&b,
                  "</div></fieldset></div><div class=\"nhsuk-form-group\">"
                  "<label class=\"nhsuk-label\" for=\"note-%lld\">Note</label>"
                  "<textarea class=\"nhsuk-textarea\" id=\"note-%lld\" name=\"note\" rows=\"2\">"
                  "</textarea></div><button class=\"nhsuk-button nhsuk-button--secondary\" "
                  "type=\"submit\">Record the review</button></form></div></div>",
                  (long long)bg[i].id, (long long)bg[i].id);
    }
    for (int i = 0; i < n; i++)
        store_breakglass_clear(&bg[i]);
    free(bg);
    store_bg_reviews_free(rv, nrv);
    web_frame_end(&b);
    authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "breakglass-reviews", n);
    web_admin_reply(req, 200, &b);
    return 0;
}

static int h_review(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    const char *id = http_req_param(req, "id");
    char *end = NULL;
    long long bgid = id ? strtoll(id, &end, 10) : 0;
    if (!id || !*id || *end || bgid <= 0) {
        web_error_page(req, 404, "Page not found", "There is no such break-glass event.",
                       "Go back to the break-glass reviews.");
        return 0;
    }
    struct form f;
    if (!form_read(req, &f))
        return 0;
    const char *outcome = form_get(&f, "outcome"), *note = form_get(&f, "note");
    bool ok = false;
    for (int k = 0; k < 3 && outcome; k++)
        ok |= strcmp(outcome, outcomes[k][0]) == 0;
    bool exists = false;
    struct store_breakglass *bg = NULL;
    int n = 0;
    store_breakglass_list(s, NULL, &bg, &n);
    for (int i = 0; i < n; i++) {
        exists |= bg[i].id == bgid;
        store_breakglass_clear(&bg[i]);
    }
    free(bg);
    if (!exists || !ok || (note && strlen(note) > 2000)) {
        url_kv_free(f.kv, f.n);
        web_error_page(req, exists ? 400 : 404,
                       exists ? "Choose the outcome of the review" : "Page not found",
                       exists ? "The review was not recorded: choose appropriate, inappropriate "
                                "or needs follow-up (a note may be up to 2000 characters)."
                              : "There is no such break-glass event.",
                       "Go back to the break-glass reviews.");
        return 0;
    }
    char now[32];
    audit_now(now);
    const struct principal *p = &req->principal;
    struct store_bg_review r = {bgid,
                                (char *)outcome,
                                note && *note ? (char *)note : NULL,
                                (char *)(p->user_name ? p->user_name : p->user_id),
                                (char *)p->role,
                                now};
    int rc = store_bg_review_add(s, &r);
    struct buf why = BUF_INIT;
    buf_addf(&why, "break-glass %lld reviewed: %s", bgid, outcome);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    ev.action = AUDIT_ADMIN;
    ev.outcome = rc == 0 ? AUDIT_OK : AUDIT_FAILED;
    ev.what = "breakglass-review";
    ev.count = -1;
    ev.reason = why.data;
    audit_record(s, &ev, true);
    buf_release(&why);
    url_kv_free(f.kv, f.n);
    if (rc != 0) {
        web_error_page(req, 500, "Sorry, the review was not recorded",
                       "The database could not record it.", "Try again.");
        return 0;
    }
    struct buf to = BUF_INIT;
    buf_addf(&to, "/admin/governance/breakglass#bg-%lld", bgid);
    web_admin_redirect(req, to.data);
    buf_release(&to);
    return 0;
}

/* ---- objections queue and subject access requests ----------------------------------- */
/* The formatted NHS number of person_id into out ("not known" without one). */
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

static void table_open(struct buf *b, const char *id, const char *caption, const char *const *cols,
                       int ncols)
{
    html_addf(b,
              "<table class=\"nhsuk-table\" id=\"%s\"><caption class=\"nhsuk-table__caption "
              "nhsuk-u-visually-hidden\">%s</caption><thead class=\"nhsuk-table__head\"><tr>",
              id, caption);
    for (int i = 0; i < ncols; i++)
        html_addf(b, "<th scope=\"col\">%s</th>", cols[i]);
    html_raw(b, "</tr></thead><tbody class=\"nhsuk-table__body\">");
}

static void overdue_cell(struct buf *b, bool late)
{
    html_raw(b, late ? "<td class=\"nhsuk-table__cell\"><strong>OVERDUE</strong></td></tr>"
                     : "<td class=\"nhsuk-table__cell\">No</td></tr>");
}

static int h_requests(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    char day[11], nhsf[13];
    org_day(time(NULL), day);
    struct store_objection *ob = NULL;
    struct store_sar *sr = NULL;
    int no = 0, ns = 0, late_o = 0, late_s = 0;
    int rco = store_objection_list(s, NULL, true, &ob, &no);
    int rcs = store_sar_list(s, NULL, &sr, &ns);
    for (int i = 0; i < no; i++)
        late_o += objection_overdue(&ob[i], day);
    for (int i = 0; i < ns; i++)
        late_s += sar_overdue(&sr[i], day);
    struct buf b = BUF_INIT;
    page_open(&b, "Objections and subject access requests", "/admin/governance/requests");
    html_addf(&b,
              "<h2>Objections waiting for a decision</h2><p id=\"objections-summary\">%d "
              "open objection(s), %d overdue (not decided within one calendar month of "
              "lodging).</p>",
              no, late_o);
    static const char *const ocols[] = {"NHS number", "Lodged with", "Reason",
                                        "Lodged",     "Due",         "Overdue"};
    table_open(&b, "objections", "Open objections", ocols, 6);
    for (int i = 0; i < no; i++) {
        bool late = objection_overdue(&ob[i], day);
        person_nhs(s, ob[i].person_id, nhsf);
        html_addf(&b,
                  "<tr class=\"nhsuk-table__row%s\"><th scope=\"row\">%s</th>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
                  "<td class=\"nhsuk-table__cell\">%.10s</td><td class=\"nhsuk-table__cell\">%s"
                  "</td>",
                  late ? " weft-overdue" : "", nhsf, ob[i].org, ob[i].reason, ob[i].lodged,
                  ob[i].due);
        overdue_cell(&b, late);
    }
    html_raw(&b, "</tbody></table>");
    if (rco)
        html_raw(&b, "<p class=\"nhsuk-error-message\">The objections could not be read from "
                     "the database.</p>");
    html_addf(&b,
              "<h2>Subject access requests</h2><p id=\"sars-summary\">%d request(s), %d "
              "overdue (not completed by the due day).</p>",
              ns, late_s);
    static const char *const scols[] = {"NHS number", "Received",         "Due",
                                        "Status",     "Extension reason", "Overdue"};
    table_open(&b, "sars", "Subject access requests", scols, 6);
    for (int i = 0; i < ns; i++) {
        bool late = sar_overdue(&sr[i], day);
        person_nhs(s, sr[i].person_id, nhsf);
        html_addf(&b,
                  "<tr class=\"nhsuk-table__row%s\"><th scope=\"row\">%s</th>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>",
                  late ? " weft-overdue" : "", nhsf, sr[i].received, sr[i].due, sr[i].status,
                  sr[i].extension_reason ? sr[i].extension_reason : "-");
        overdue_cell(&b, late);
    }
    html_raw(&b, "</tbody></table>");
    if (rcs)
        html_raw(&b, "<p class=\"nhsuk-error-message\">The subject access requests could not "
                     "be read from the database.</p>");
    store_objections_free(ob, no);
    store_sars_free(sr, ns);
    web_frame_end(&b);
    authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "objections-queue", no);
    authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "subject-access-requests", ns);
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- agreements ----------------------------------------------------------------------- */
static int h_agreements(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    char now[11], soon[11];
    today(now, 0);
    today(soon, EXPIRY_WARN_DAYS);
    struct store_agreement *ag = NULL;
    int na = 0;
    store_agreement_list(s, NULL, &ag, &na);
    struct buf b = BUF_INIT;
    page_open(&b, "Data sharing agreements", "/admin/governance/agreements");
    html_raw(&b, "<h2>Expiring within 60 days</h2><ul class=\"nhsuk-list\" id=\"expiring\">");
    int ne = 0;
    for (int i = 0; i < na; i++)
        if (ag[i].to && strcmp(ag[i].to, now) >= 0 && strcmp(ag[i].to, soon) <= 0) {
            html_addf(&b, "<li>%s %s agreement ends %s</li>", ag[i].ods, ag[i].kind, ag[i].to);
            ne++;
        }
    if (!ne)
        html_raw(&b, "<li>None.</li>");
    html_raw(&b, "</ul><h2>Organisations sending data without an agreement in force</h2>"
                 "<ul class=\"nhsuk-list\" id=\"without\">");
    struct store_feed *fl = NULL;
    int nf = 0, nw = 0;
    store_feed_list(s, &fl, &nf);
    for (int i = 0; i < nf; i++) {
        bool in = false;
        if (!fl[i].disabled && store_agreement_in_force(s, fl[i].org, now, &in) == 0 && !in) {
            html_addf(&b, "<li>%s: feed %s (%s)%s%s</li>", fl[i].org, fl[i].name, fl[i].kind,
                      fl[i].last_received ? ", last message " : "",
                      fl[i].last_received ? fl[i].last_received : "");
            nw++;
        }
    }
    if (!nw)
        html_raw(&b, "<li>None: every enabled feed's organisation has an agreement in force.</li>");
    html_raw(
        &b,
        "</ul><h2>All agreements</h2><table class=\"nhsuk-table\"><caption "
        "class=\"nhsuk-table__caption "
        "nhsuk-u-visually-hidden\">All agreements</caption><thead class=\"nhsuk-table__head\"><tr>"
        "<th scope=\"col\">Organisation</th><th scope=\"col\">Kind</th><th scope=\"col\">From</th>"
        "<th scope=\"col\">To</th><th scope=\"col\">In force today</th></tr></thead>"
        "<tbody class=\"nhsuk-table__body\">");
    for (int i = 0; i < na; i++) {
        bool in = strcmp(ag[i].from, now) <= 0 && (!ag[i].to || strcmp(ag[i].to, now) >= 0);
        html_addf(&b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%s</th><td "
                  "class=\"nhsuk-table__cell\">%s</td>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
                  "<td class=\"nhsuk-table__cell\">%s</td></tr>",
                  ag[i].ods, ag[i].kind, ag[i].from, ag[i].to ? ag[i].to : "open-ended",
                  in ? "Yes" : "No");
        store_agreement_clear(&ag[i]);
    }
    free(ag);
    for (int i = 0; i < nf; i++)
        store_feed_clear(&fl[i]);
    free(fl);
    html_raw(&b, "</tbody></table>");
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- feeds health ----------------------------------------------------------------------- */
static int h_feeds(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    char now[11];
    today(now, 0);
    struct store_feed *fl = NULL;
    int nf = 0;
    store_feed_list(s, &fl, &nf);
    struct buf b = BUF_INIT;
    page_open(&b, "Feeds health", "/admin/governance/feeds");
    html_raw(
        &b,
        "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption "
        "nhsuk-u-visually-hidden\">"
        "Feeds</caption><thead class=\"nhsuk-table__head\"><tr><th scope=\"col\">Feed</th>"
        "<th scope=\"col\">Status</th><th scope=\"col\">Last message</th>"
        "<th scope=\"col\">Received (today / all)</th><th scope=\"col\">Rejected (today / all)</th>"
        "<th scope=\"col\">Mean lag, recent events (minutes)</th><th scope=\"col\">Last error</th>"
        "</tr></thead><tbody class=\"nhsuk-table__body\">");
    for (int i = 0; i < nf; i++) {
        struct store_feed_counts t = {0}, all = {0};
        store_feed_counts_get(s, fl[i].id, now, &t, &all);
        struct buf href = BUF_INIT;
        html_url_addf(&href, "/admin/feeds/%s/messages", fl[i].name);
        html_addf(
            &b,
            "<tr class=\"nhsuk-table__row\"><th scope=\"row\"><a href=\"%s\">%s</a> "
            "<span class=\"nhsuk-body-s\">%s, %s</span></th><td class=\"nhsuk-table__cell\">%s</td>"
            "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%lld / "
            "%lld</td>"
            "<td class=\"nhsuk-table__cell\">%lld / %lld</td>",
            href.data, fl[i].name, fl[i].org, fl[i].kind, fl[i].disabled ? "disabled" : "enabled",
            fl[i].last_received ? fl[i].last_received : "never", (long long)t.received,
            (long long)all.received, (long long)t.rejected, (long long)all.rejected);
        buf_release(&href);
        if (all.lag_recent_n)
            html_addf(&b, "<td class=\"nhsuk-table__cell\">%.1f</td>",
                      (double)all.lag_recent_sum_ms / (double)all.lag_recent_n / 60000.0);
        else
            html_raw(&b, "<td class=\"nhsuk-table__cell\">-</td>");
        html_addf(&b, "<td class=\"nhsuk-table__cell\">%s%s%s</td></tr>",
                  fl[i].last_error ? fl[i].last_error : "", fl[i].last_error_at ? " at " : "",
                  fl[i].last_error_at ? fl[i].last_error_at : "");
        store_feed_clear(&fl[i]);
    }
    free(fl);
    html_raw(&b, "</tbody></table>");
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

/* ---- the access policy ------------------------------------------------------------------- */
static int h_policy(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = gov_begin(req);
    if (!s)
        return 0;
    const struct policy *pol = NULL;
    int64_t version = 0;
    struct buf b = BUF_INIT;
    page_open(&b, "The access policy", "/admin/governance/policy");
    if (policy_current(s, &pol, &version) != 0) {
        html_raw(&b, "<p>No access policy is loaded.</p>");
    } else {
        int nc = 0;
        const char *const *cats = policy_categories(&nc);
        html_addf(&b,
                  "<p>Version %lld. A tick means the role sees that record category. Restricted "
                  "categories are marked <strong>(restricted)</strong>.</p>",
                  (long long)version);
        html_raw(
            &b,
            "<div class=\"weft-scroll\" role=\"region\" aria-labelledby=\"matrix-cap\" "
            "tabindex=\"0\"><table class=\"nhsuk-table\" id=\"matrix\"><caption "
            "class=\"nhsuk-table__caption\" id=\"matrix-cap\">"
            "Roles and the record categories they see</caption><thead class=\"nhsuk-table__head\">"
            "<tr><th scope=\"col\">Role</th><th scope=\"col\">Profile</th><th "
            "scope=\"col\">Capabilities</th>");
        for (int c = 0; c < nc; c++)
            html_addf(&b, "<th scope=\"col\">%s%s</th>", cats[c],
                      policy_category_restricted(cats[c]) ? " (restricted)" : "");
        html_raw(&b, "</tr></thead><tbody class=\"nhsuk-table__body\">");
        for (int r = 0; r < policy_role_count(pol); r++) {
            const char *desc = NULL, *role = policy_role_at(pol, r, &desc);
            unsigned caps = policy_role_caps(pol, role);
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%s <span "
                      "class=\"nhsuk-body-s\">%s</span></th>"
                      "<td class=\"nhsuk-table__cell\">%s</td><td "
                      "class=\"nhsuk-table__cell\">%s%s%s</td>",
                      role, desc ? desc : "", policy_role_profile(pol, role),
                      caps & POLICY_CAP_BREAK_GLASS ? "break-glass " : "",
                      caps & POLICY_CAP_AUDIT_REVIEW ? "audit-review " : "",
                      caps & POLICY_CAP_DQ_REVIEW ? "dq-review" : "");
            for (int c = 0; c < nc; c++)
                html_raw(&b, policy_allows(pol, role, cats[c])
                                 ? "<td class=\"nhsuk-table__cell\">&#10003;<span "
                                   "class=\"nhsuk-u-visually-hidden\"> yes</span></td>"
                                 : "<td class=\"nhsuk-table__cell\"><span "
                                   "class=\"nhsuk-u-visually-hidden\">no</span></td>");
            html_raw(&b, "</tr>");
        }
        html_raw(&b, "</tbody></table></div>");
    }
    struct store_policy_version *v = NULL;
    int nv = 0;
    store_policy_version_list(s, &v, &nv);
    html_raw(
        &b,
        "<h2>Change history</h2><table class=\"nhsuk-table\" id=\"history\"><caption "
        "class=\"nhsuk-table__caption "
        "nhsuk-u-visually-hidden\">Policy versions</caption><thead class=\"nhsuk-table__head\"><tr>"
        "<th scope=\"col\">Version</th><th scope=\"col\">Loaded</th><th scope=\"col\">By</th>"
        "<th scope=\"col\">SHA-256</th></tr></thead><tbody class=\"nhsuk-table__body\">");
    for (int i = 0; i < nv; i++)
        html_addf(&b,
                  "<tr class=\"nhsuk-table__row\"><th scope=\"row\">%lld</th><td "
                  "class=\"nhsuk-table__cell\">%.19s</td>"
                  "<td class=\"nhsuk-table__cell\">%s</td><td "
                  "class=\"nhsuk-table__cell\"><code>%.16s</code></td></tr>",
                  (long long)v[i].version, v[i].loaded, v[i].loaded_by ? v[i].loaded_by : "-",
                  v[i].sha256);
    store_policy_versions_free(v, nv);
    html_raw(&b, "</tbody></table>");
    web_frame_end(&b);
    web_admin_reply(req, 200, &b);
    return 0;
}

int web_admin_gov_routes_add(struct http_server *srv, struct web *w)
{
    gov_ctx.w = w;
    gov_ctx.srv = srv;
    static const struct http_route_def routes[] = {
        {"GET", "/admin/governance", h_index, 0},
        {"POST", "/admin/governance/audit/verify", h_verify, 0},
        {"GET", "/admin/governance/access", h_access, 0},
        {"GET", "/admin/governance/breakglass", h_breakglass, 0},
        {"POST", "/admin/governance/breakglass/{id}", h_review, 0},
        {"GET", "/admin/governance/requests", h_requests, 0},
        {"GET", "/admin/governance/agreements", h_agreements, 0},
        {"GET", "/admin/governance/feeds", h_feeds, 0},
        {"GET", "/admin/governance/policy", h_policy, 0},
    };
    return http_routes_add(srv, routes, sizeof routes / sizeof routes[0], &gov_ctx);
}
