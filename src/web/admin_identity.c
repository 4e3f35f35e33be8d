/*
 * admin_identity.c - the identity review pages (admin.h) for the data-quality
 * and identity team: the queue of record pairs matching was unsure about, one
 * pair side by side (each field of both records, how far they agree and the
 * weight the current model gives that), and the decision: the same person,
 * not the same person, or decide later.
 *
 *   GET  /admin/identity         the open reviews, oldest first
 *   GET  /admin/identity/{id}    one pair side by side, with the decision form
 *   POST /admin/identity/{id}    decision=same|not-same|defer, note
 *
 * Only staff whose role has the policy capability identity-decide see or
 * decide anything here (authz_may_decide_identity); anyone else is refused
 * (403) and the refusal audited.  The decisions are the identity API's
 * (identity_review_decide: the same store decisions as `weft person review
 * decide`, recorded and audited there, by the user's SDS id); "defer" changes
 * nothing and is audited.  Every page view is audited (action read; the pair
 * page once per person shown), since the pages show people's demographics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access_serve.h"
#include "access/authz.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "identity/identity.h"
#include "identity/nhs.h"
#include "core/url.h"
#include "store/identity.h"
#include "store/store.h"
#include "web/admin.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

#define QUEUE_SHOWN 500

static struct web *id_web;

/* Launched staff whose role may decide who is who; NULL after replying. */
static struct store *id_begin(struct http_req *req)
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
    if (!authz_may_decide_identity(s, &req->principal)) {
        authz_audit_denial(s, &req->principal, AUDIT_READ, NULL,
                           "identity reviews: role without identity-decide");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "Identity reviews are for the data-quality and identity team (roles with "
                       "the identity-decide capability in the access policy).",
                       "Ask your information governance team if you need access.");
        return NULL;
    }
    return s;
}

static void page_open(struct buf *b, const char *title)
{
    web_frame_begin(b, id_web->service_name, title);
    html_raw(b,
             "<nav class=\"weft-nav\" aria-label=\"Administration\"><ul class=\"weft-nav__list\">"
             "<li class=\"weft-nav__item\"><a class=\"weft-nav__link\" href=\"/admin/identity\">"
             "Identity reviews</a></li><li class=\"weft-nav__item\"><a class=\"weft-nav__link\" "
             "href=\"/admin/dq\">Data quality</a></li></ul></nav>");
    html_addf(b, "<h1>%s</h1>", title);
}

static bool parse_id(struct http_req *req, int64_t *id)
{
    const char *p = http_req_param(req, "id");
    char *end = NULL;
    long long v = p ? strtoll(p, &end, 10) : 0;
    if (!p || !*p || *end || v <= 0) {
        web_error_page(req, 404, "Page not found", "There is no such identity review.",
                       "Go back to the identity reviews.");
        return false;
    }
    *id = v;
    return true;
}

/* GET /admin/identity */
static int h_queue(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = id_begin(req);
    if (!s)
        return 0;
    struct store_idreview *rv = NULL;
    int n = 0;
    int64_t waiting = 0;
    if (store_idreview_list(s, "open", QUEUE_SHOWN, &rv, &n) != 0 ||
        (n == QUEUE_SHOWN && store_idreview_count(s, "open", &waiting) != 0)) {
        store_idreviews_free(rv, n);
        web_error_page(req, 503, "The reviews could not be read",
                       "The shared care record's database did not answer.",
                       "Try again in a few minutes.");
        return 0;
    }
    struct buf b = BUF_INIT;
    page_open(&b, "Identity reviews");
    const char *done = http_req_arg(req, "done");
    const char *what = http_req_arg(req, "decision");
    if (done && what)
        html_addf(&b,
                  "<div class=\"nhsuk-inset-text\" id=\"decided\" role=\"status\"><p>Review %s: "
                  "%s.</p></div>",
                  done,
                  strcmp(what, "same") == 0       ? "recorded as the same person"
                  : strcmp(what, "not-same") == 0 ? "recorded as not the same person"
                                                  : "left for later");
    html_addf(&b,
              "<p id=\"queue-summary\">%lld pair(s) of records waiting for a decision%s. "
              "Matching queues a pair when their details agree too well to be ignored and not "
              "well enough to join them unattended.</p>",
              n == QUEUE_SHOWN ? (long long)waiting : (long long)n,
              n == QUEUE_SHOWN ? " (the oldest shown below)" : "");
    if (n > 0) {
        html_raw(&b, "<table class=\"nhsuk-table\" id=\"queue\"><caption class=\"nhsuk-table__"
                     "caption\">Open identity reviews, oldest first</caption><thead class=\""
                     "nhsuk-table__head\"><tr class=\"nhsuk-table__row\">"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Review</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Queued</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Score</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Record</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Other record</th>"
                     "</tr></thead><tbody class=\"nhsuk-table__body\">");
        for (int i = 0; i < n; i++)
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a "
                      "href=\"/admin/identity/%lld\">Review %lld</a></td><td "
                      "class=\"nhsuk-table__cell\">%.16s</td><td class=\"nhsuk-table__cell\">%.1f"
                      "</td><td class=\"nhsuk-table__cell\">%s %s</td><td "
                      "class=\"nhsuk-table__cell\">%s %s</td></tr>",
                      (long long)rv[i].id, (long long)rv[i].id, rv[i].created, rv[i].score,
                      rv[i].org, rv[i].source_id, rv[i].other_org, rv[i].other_source_id);
        html_raw(&b, "</tbody></table>");
    }
    web_frame_end(&b);
    store_idreviews_free(rv, n);
    if (authz_audit_access(s, &req->principal, AUDIT_READ, NULL, "identity-reviews", n) != 0) {
        buf_release(&b);
        web_error_page(req, 503, "The service is not available at the moment",
                       "The view could not be recorded in the audit log, so it is not shown.",
                       "Try again in a few minutes.");
        return 0;
    }
    web_admin_reply(req, 200, &b);
    return 0;
}

static void cell(struct buf *b, const char *v)
{
    if (v && *v)
        html_addf(b, "<td class=\"nhsuk-table__cell\">%s</td>", v);
    else
        html_raw(b, "<td class=\"nhsuk-table__cell\"><span class=\"weft-missing\">not "
                    "given</span></td>");
}

static void row(struct buf *b, const char *label, const char *x, const char *y)
{
    html_addf(b,
              "<tr class=\"nhsuk-table__row\"><th scope=\"row\" class=\"nhsuk-table__header\">%s"
              "</th>",
              label);
    cell(b, x);
    cell(b, y);
    html_raw(b, "</tr>");
}

static void dob_text(const char *d, char out[11])
{
    if (strlen(d) == 8)
        snprintf(out, 11, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
    else
        snprintf(out, 11, "%s", d);
}

/* GET /admin/identity/{id} */
static int h_pair(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = id_begin(req);
    int64_t id;
    if (!s || !parse_id(req, &id))
        return 0;
    struct identity_pair p;
    int rc = identity_review_get(s, id, &p);
    if (rc != 0) {
        identity_pair_clear(&p);
        if (rc == WEFT_ENOTFOUND)
            web_error_page(req, 404, "Page not found", "There is no such identity review.",
                           "Go back to the identity reviews.");
        else
            web_error_page(req, 503, "The review could not be read",
                           "The shared care record's database did not answer.",
                           "Try again in a few minutes.");
        return 0;
    }
    struct buf b = BUF_INIT;
    char title[64];
    snprintf(title, sizeof title, "Identity review %lld", (long long)id);
    page_open(&b, title);
    html_addf(&b,
              "<p id=\"pair-status\">Queued %.16s with a score of %.1f (model %d). Status: "
              "<strong>%s</strong>%s%s%s%s.</p>",
              p.created, p.queued_score, p.queued_model, p.status,
              p.decided_by ? ", decided by " : "", p.decided_by ? p.decided_by : "",
              p.decided ? " at " : "", p.decided ? p.decided : "");
    const struct identity_side *a = &p.a, *o = &p.b;
    char sa[4] = "", so[4] = "", da[11] = "", dob2[11] = "", na[13] = "", no[13] = "";
    if (a->d.sex)
        snprintf(sa, sizeof sa, "%c", a->d.sex);
    if (o->d.sex)
        snprintf(so, sizeof so, "%c", o->d.sex);
    dob_text(a->d.dob, da);
    dob_text(o->d.dob, dob2);
    if (a->nhs)
        nhs_number_format(a->nhs, na);
    if (o->nhs)
        nhs_number_format(o->nhs, no);
    html_raw(&b, "<table class=\"nhsuk-table\" id=\"pair\"><caption class=\"nhsuk-table__caption\">"
                 "The two records side by side (as matching read them: names in capitals, "
                 "punctuation removed)</caption><thead class=\"nhsuk-table__head\"><tr "
                 "class=\"nhsuk-table__row\"><td class=\"nhsuk-table__header\"></td>"
                 "<th scope=\"col\" class=\"nhsuk-table__header\">Record</th>"
                 "<th scope=\"col\" class=\"nhsuk-table__header\">Other record</th></tr></thead>"
                 "<tbody class=\"nhsuk-table__body\">");
    row(&b, "Sent by", a->org, o->org);
    row(&b, "Sender's id", a->source_id, o->source_id);
    row(&b, "NHS number", na, no);
    row(&b, "Given name", a->d.given, o->d.given);
    row(&b, "Second given name", a->d.given2, o->d.given2);
    row(&b, "Family name", a->d.family, o->d.family);
    row(&b, "Date of birth", da, dob2);
    row(&b, "Sex", sa, so);
    row(&b, "Postcode", a->d.postcode, o->d.postcode);
    row(&b, "Address", a->d.addr, o->d.addr);
    row(&b, "Town", a->d.city, o->d.city);
    row(&b, "Phone", a->d.phone, o->d.phone);
    row(&b, "Email", a->d.email, o->d.email);
    row(&b, "Person now", a->person_id, o->person_id);
    html_raw(&b, "</tbody></table>");
    if (!a->known || !o->known)
        html_raw(&b, "<p class=\"nhsuk-error-message\" id=\"pair-gone\">One of the records is no "
                     "longer held, so the two cannot be compared.</p>");
    if (p.compared) {
        html_raw(&b, "<table class=\"nhsuk-table\" id=\"weights\"><caption class=\"nhsuk-table__"
                     "caption\">How far each field agrees, and its weight</caption><thead class=\""
                     "nhsuk-table__head\"><tr class=\"nhsuk-table__row\">"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Field</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Agreement</th>"
                     "<th scope=\"col\" class=\"nhsuk-table__header\">Weight</th></tr></thead>"
                     "<tbody class=\"nhsuk-table__body\">");
        for (int f = 0; f < CF_N; f++)
            html_addf(&b,
                      "<tr class=\"nhsuk-table__row weft-%s\"><th scope=\"row\" "
                      "class=\"nhsuk-table__header\">%s</th><td class=\"nhsuk-table__cell\">%s"
                      "</td><td class=\"nhsuk-table__cell\">%+.2f</td></tr>",
                      p.weight[f] > 0   ? "agrees"
                      : p.weight[f] < 0 ? "disagrees"
                                        : "neutral",
                      compare_field_name(f), compare_level_name(f, p.level[f]), p.weight[f]);
        html_addf(&b,
                  "</tbody></table><p id=\"total\">Total now %.2f (model %d): joined unattended "
                  "at %.1f or more, queued for review at %.1f or more.</p>",
                  p.total, p.model_version, p.link_weight, p.review_weight);
    }
    bool open = strcmp(p.status, "open") == 0;
    if (open) {
        html_addf(&b, "<form method=\"post\" action=\"/admin/identity/%lld\" id=\"decide\">",
                  (long long)id);
        char *tok = access_csrf_token(req);
        html_addf(&b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok ? tok : "");
        free(tok);
        html_raw(&b,
                 "<div class=\"nhsuk-form-group\"><fieldset class=\"nhsuk-fieldset\">"
                 "<legend class=\"nhsuk-fieldset__legend nhsuk-fieldset__legend--m\">Are these "
                 "records about the same person?</legend><div class=\"nhsuk-radios\">"
                 "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                 "id=\"d-same\" name=\"decision\" type=\"radio\" value=\"same\"><label "
                 "class=\"nhsuk-label nhsuk-radios__label\" for=\"d-same\">The same person: join "
                 "their records</label></div>"
                 "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                 "id=\"d-not-same\" name=\"decision\" type=\"radio\" value=\"not-same\"><label "
                 "class=\"nhsuk-label nhsuk-radios__label\" for=\"d-not-same\">Not the same "
                 "person: keep them apart for good</label></div>"
                 "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                 "id=\"d-defer\" name=\"decision\" type=\"radio\" value=\"defer\"><label "
                 "class=\"nhsuk-label nhsuk-radios__label\" for=\"d-defer\">Not sure yet: leave it "
                 "in the queue</label></div></div></fieldset></div>"
                 "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"note\">Why "
                 "(recorded with the decision)</label><textarea class=\"nhsuk-textarea\" "
                 "id=\"note\" name=\"note\" rows=\"3\" maxlength=\"1000\"></textarea></div>"
                 "<button class=\"nhsuk-button\" type=\"submit\">Record the decision</button>"
                 "</form>");
    }
    web_frame_end(&b);
    /* the page shows both records' people: one audit entry for each */
    rc = 0;
    char what[64];
    snprintf(what, sizeof what, "identity-review %lld", (long long)id);
    if (a->person_id)
        rc = authz_audit_access(s, &req->principal, AUDIT_READ, a->person_id, what, 1);
    if (rc == 0 && o->person_id && !(a->person_id && strcmp(a->person_id, o->person_id) == 0))
        rc = authz_audit_access(s, &req->principal, AUDIT_READ, o->person_id, what, 1);
    identity_pair_clear(&p);
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

/* POST /admin/identity/{id} */
static int h_decide(struct http_req *req, void *arg)
{
    (void)arg;
    struct store *s = id_begin(req);
    int64_t id;
    if (!s || !parse_id(req, &id))
        return 0;
    struct url_kv *kv = NULL;
    int n = 0;
    if (url_query_parse(req->body.data, req->body.len, &kv, &n, 16) != 0) {
        url_kv_free(kv, n);
        web_error_page(req, 400, "Sorry, the form could not be read",
                       "The information sent was not in the expected form.",
                       "Go back and fill in the form again.");
        return 0;
    }
    const char *csrf = NULL, *decision = NULL, *note = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(kv[i].name, "csrf") == 0)
            csrf = kv[i].value;
        else if (strcmp(kv[i].name, "decision") == 0)
            decision = kv[i].value;
        else if (strcmp(kv[i].name, "note") == 0)
            note = kv[i].value;
    }
    if (access_form_check(req, csrf) != 0) {
        url_kv_free(kv, n);
        return 0;
    }
    bool same = decision && strcmp(decision, "same") == 0;
    bool apart = decision && strcmp(decision, "not-same") == 0;
    bool defer = decision && strcmp(decision, "defer") == 0;
    if ((!same && !apart && !defer) || (note && strlen(note) > 1000)) {
        url_kv_free(kv, n);
        web_error_page(req, 400, "Choose a decision",
                       "Nothing was recorded: choose the same person, not the same person or "
                       "not sure yet (a note may be up to 1000 characters).",
                       "Go back to the review.");
        return 0;
    }
    const struct principal *pr = &req->principal;
    struct buf why = BUF_INIT;
    if (note && *note)
        buf_addf(&why, "%s", note);
    if (defer) {
        struct store_idreview r;
        int rc = store_idreview_get(s, id, &r);
        if (rc == 0) {
            free(r.created);
            free(r.org);
            free(r.source_id);
            free(r.other_org);
            free(r.other_source_id);
            free(r.status);
            free(r.decided_by);
            free(r.decided);
        }
        char what[64];
        snprintf(what, sizeof what, "identity-review %lld", (long long)id);
        struct audit_event ev = {0};
        audit_event_from_principal(&ev, pr);
        ev.action = AUDIT_IDENTITY;
        ev.outcome = rc == 0 ? AUDIT_OK : AUDIT_FAILED;
        ev.what = what;
        ev.count = -1;
        ev.reason = "identity review deferred (left open)";
        int arc = rc == 0 ? audit_record(s, &ev, true) : 0;
        url_kv_free(kv, n);
        buf_release(&why);
        if (rc == WEFT_ENOTFOUND) {
            web_error_page(req, 404, "Page not found", "There is no such identity review.",
                           "Go back to the identity reviews.");
            return 0;
        }
        if (rc || arc) {
            web_error_page(req, 503, "Sorry, that was not recorded",
                           "The shared care record's database did not answer.", "Try again.");
            return 0;
        }
    } else {
        int rc = identity_review_decide(s, id, same, pr->user_id, why.len ? why.data : NULL);
        url_kv_free(kv, n);
        buf_release(&why);
        if (rc == WEFT_ENOTFOUND) {
            web_error_page(req, 404, "Page not found", "There is no such identity review.",
                           "Go back to the identity reviews.");
            return 0;
        }
        if (rc == WEFT_ECONFLICT) {
            web_error_page(req, 409, "That decision was not recorded", identity_errmsg(s),
                           "Go back to the identity reviews: someone may have decided it "
                           "already.");
            return 0;
        }
        if (rc != 0) {
            web_error_page(req, 503, "Sorry, that was not recorded",
                           "The shared care record's database did not answer.", "Try again.");
            return 0;
        }
    }
    struct buf to = BUF_INIT;
    buf_addf(&to, "/admin/identity?done=%lld&decision=%s", (long long)id,
             same    ? "same"
             : apart ? "not-same"
                     : "defer");
    http_reply_header(req, "Location", to.data);
    http_reply(req, 303, "text/plain", "", 0);
    buf_release(&to);
    return 0;
}

int web_admin_identity_routes_add(struct http_server *srv, struct web *w)
{
    id_web = w;
    int rc;
    if ((rc = http_route_add(srv, "GET", "/admin/identity", h_queue, w, 0)) < 0 ||
        (rc = http_route_add(srv, "GET", "/admin/identity/{id}", h_pair, w, 0)) < 0 ||
        (rc = http_route_add(srv, "POST", "/admin/identity/{id}", h_decide, w, 0)) < 0)
        return rc;
    return 0;
}
