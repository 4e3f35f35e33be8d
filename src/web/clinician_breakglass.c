/*
 * clinician_breakglass.c - emergency access (break-glass) for staff: the one
 * form and the one POST handler, on two addresses:
 *   GET/POST /patient/{id}/break-glass   from the record page (the person is
 *                                        the page's)
 *   GET/POST /breakglass                 the access module's address (the
 *                                        person in the session's context, or
 *                                        an NHS number typed in); JSON replies
 *                                        for programs (Accept: application/json)
 * Both check the form with access_form_verify() (session, same origin, CSRF
 * token; refusals audited) and start break-glass with breakglass_request()
 * (access/breakglass.h), then render the outcome with the shared layout.
 * The form shows no patient data: it is reachable when the record is not.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "access/authz.h"
#include "access/breakglass.h"
#include "access/form.h"
#include "access/org.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"
#include "store/access.h"
#include "store/records.h"
#include "store/store.h"
#include "web/html.h"
#include "web/web_int.h"

static void break_glass_form(struct web_ctx *c, const char *csrf, const char *error,
                             const char *code, const char *text)
{
    struct buf *b = &c->out;
    /* The form posts back here (break_glass_post: the same checks as the
     * access module's /breakglass).  It must not carry the person's NHS
     * number: the form is shown before any access is granted, so it would
     * tell anyone with a session the NHS number behind a person id. */
    struct buf action = BUF_INIT;
    if (!c->person_id) /* /breakglass: the person in context, or an NHS number */
        buf_adds(&action, "/breakglass");
    else if (c->w->break_glass_action)
        buf_adds(&action, c->w->break_glass_action);
    else
        html_url_addf(&action, "/patient/%s/break-glass", c->person_id);
    if (error)
        html_addf(b,
                  "<div class=\"nhsuk-error-summary\" aria-labelledby=\"error-summary-title\" "
                  "role=\"alert\" tabindex=\"-1\"><h2 class=\"nhsuk-error-summary__title\" "
                  "id=\"error-summary-title\">There is a problem</h2><div "
                  "class=\"nhsuk-error-summary__body\"><ul class=\"nhsuk-list "
                  "nhsuk-error-summary__list\"><li>%s</li></ul></div></div>",
                  error);
    html_addf(b,
              "<h1 class=\"nhsuk-heading-l\">Request emergency access (break-glass)</h1>"
              "<p>Use this only when the person needs care and you need information your "
              "access does not normally show. Your name, role, organisation, the reason "
              "and the time are recorded and reviewed by your organisation's Caldicott "
              "guardian. Access lasts a few hours.</p>"
              "<form method=\"post\" action=\"%s\" id=\"break-glass-form\" novalidate>"
              "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
              action.data, csrf ? csrf : "");
    html_raw(b, "<div class=\"nhsuk-form-group\"><fieldset class=\"nhsuk-fieldset\">"
                "<legend class=\"nhsuk-fieldset__legend nhsuk-fieldset__legend--m\">Reason"
                "</legend><div class=\"nhsuk-radios\">");
    buf_release(&action);
    for (int i = 0; breakglass_codes[i]; i++)
        html_addf(b,
                  "<div class=\"nhsuk-radios__item\"><input class=\"nhsuk-radios__input\" "
                  "id=\"reason-%d\" name=\"reason_code\" type=\"radio\" value=\"%s\"%s>"
                  "<label class=\"nhsuk-label nhsuk-radios__label\" for=\"reason-%d\">%s"
                  "</label></div>",
                  i, breakglass_codes[i],
                  code && strcmp(code, breakglass_codes[i]) == 0 ? " checked" : "", i,
                  breakglass_code_label(breakglass_codes[i]));
    html_addf(b,
              "</div></fieldset></div><div class=\"nhsuk-form-group\"><label "
              "class=\"nhsuk-label\" for=\"reason-text\">Explain why you need access "
              "now</label><textarea class=\"nhsuk-textarea\" id=\"reason-text\" "
              "name=\"reason_text\" rows=\"4\" maxlength=\"%d\">%s</textarea></div>",
              BREAKGLASS_TEXT_MAX, text ? text : "");
    if (!c->person_id)
        html_raw(b, "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"nhs\">"
                    "NHS number of another patient (leave empty for the patient you opened)"
                    "</label><input class=\"nhsuk-input nhsuk-input--width-10\" id=\"nhs\" "
                    "name=\"nhs\" inputmode=\"numeric\"></div>");
    html_raw(b, "<button class=\"nhsuk-button nhsuk-button--warning\" type=\"submit\">"
                "Start emergency access</button></form>");
    if (c->p->person_id)
        html_addf(b,
                  "<p><a href=\"/patient/%s\" id=\"break-glass-cancel\">Cancel and go back to "
                  "the record you opened</a></p>",
                  c->p->person_id);
}

/* The break-glass pages have their own frame: they must be reachable when
 * the record itself is refused, so they show no patient data. */
static void bare_begin(struct buf *b, const char *service, const char *title)
{
    struct buf tmp = BUF_INIT;
    web_error_html(&tmp, service, title, "", "");
    /* Reuse the error frame's head: cut at <main ...> content. */
    const char *m = strstr(tmp.data, "<h1>");
    buf_add(b, tmp.data, m ? (size_t)(m - tmp.data) : tmp.len);
    buf_release(&tmp);
}

static void bare_end(struct buf *b)
{
    html_raw(b, "</main></div><footer role=\"contentinfo\" class=\"weft-footer\"><div "
                "class=\"nhsuk-width-container\"><p class=\"nhsuk-body-s\">Every view of this "
                "record is recorded.</p></div></footer></body></html>\n");
}

/* True when break-glass is already active for (user, person). */
static bool break_glass_active(struct web_ctx *c)
{
    struct store_access_facts f = {0};
    char day[11], now[32];
    org_day(time(NULL), day);
    audit_now(now);
    if (!c->p->user_id ||
        store_access_facts(c->store, c->p->org, day, c->person_id, c->p->user_id, now, &f) != 0)
        return false;
    return f.breakglass_until[0] != 0;
}

/* The form is offered only to roles the policy lets use break-glass, and
 * not while it is already active (issue 11): anything else is a page that
 * says so, with no form. */
static int break_glass_not_offered(struct web_ctx *c)
{
    if (!authz_may_break_glass(c->store, c->p)) {
        authz_audit_denial(c->store, c->p, AUDIT_BREAK_GLASS, c->person_id,
                           "break-glass form refused: the role may not use break-glass");
        web_error_html(&c->out, c->w->service_name, "You cannot use emergency access",
                       "Your role's access does not include emergency access (break-glass).",
                       "In an emergency, ask a colleague whose role allows emergency access, "
                       "or contact the organisation that holds the information.");
        return 403;
    }
    if (break_glass_active(c)) {
        struct buf href = BUF_INIT;
        html_url_addf(&href, "/patient/%s", c->person_id);
        web_error_html_link(&c->out, c->w->service_name, "Emergency access is already active",
                            "You already have emergency access (break-glass) to this record. "
                            "It is recorded and will be reviewed.",
                            "Go back to the record.", href.data, "Open the record");
        buf_release(&href);
        return 200;
    }
    return 0;
}

static int break_glass_get(struct web_ctx *c)
{
    struct store_session ss;
    if (access_current_session(c->req, c->store, &ss) != 0 || !ss.csrf) {
        store_session_clear(&ss);
        web_session_ended(c->req);
        return 0;
    }
    int not_offered = break_glass_not_offered(c);
    if (not_offered) {
        store_session_clear(&ss);
        return not_offered;
    }
    bare_begin(&c->out, c->w->service_name, "Request emergency access");
    break_glass_form(c, ss.csrf, NULL, NULL, NULL);
    bare_end(&c->out);
    store_session_clear(&ss);
    return 200;
}

static const char *form_value(const struct url_kv *kv, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

/* The record page's break-glass form: the one form check (access/form.h)
 * and the one break-glass request (access/breakglass.h) that /breakglass
 * uses too; this renders the outcome. */
static int break_glass_post(struct web_ctx *c)
{
    struct http_req *req = c->req;
    struct url_kv *kv = NULL;
    int n = 0;
    bool parsed = url_query_parse(req->body.data, req->body.len, &kv, &n, 16) == 0;
    if (!parsed && access_same_origin(req)) {
        url_kv_free(kv, n);
        web_error_page(req, 400, "Sorry, the form could not be read",
                       "The information sent was not in the expected form.",
                       "Go back and fill in the form again.");
        return 0;
    }
    struct store_session ss;
    enum access_form_verdict v =
        access_form_verify(req, c->store, parsed ? form_value(kv, n, "csrf") : NULL,
                           AUDIT_BREAK_GLASS, c->person_id, &ss);
    if (v != ACCESS_FORM_OK) {
        url_kv_free(kv, n);
        store_session_clear(&ss);
        if (v == ACCESS_FORM_NO_SESSION)
            web_session_ended(req);
        else if (v == ACCESS_FORM_UNAVAILABLE)
            return WEFT_EDB;
        else if (v == ACCESS_FORM_CROSS_SITE)
            web_error_page(req, 403, "This form was sent from another site",
                           "Emergency access can only be requested from the shared care "
                           "record's own page, so nothing was done.",
                           "Open the patient's record and use the emergency access link there.");
        else
            web_error_page(req, 403, "This form has expired",
                           "The form was not sent from this session, so nothing was done.",
                           "Go back, reload the page and fill in the form again.");
        return 0;
    }
    const char *code = form_value(kv, n, "reason_code");
    const char *text = form_value(kv, n, "reason_text");
    char expires[32], *person = NULL;
    const char *why = NULL;
    struct breakglass_ask ask = {
        .person_id = c->person_id, .code = code, .text = text, .hours = c->w->breakglass_hours};
    enum breakglass_outcome o = breakglass_request(c->store, c->p, &ask, &person, expires, &why);
    free(person);
    int status = 0;
    switch (o) {
    case BREAKGLASS_INVALID:
        bare_begin(&c->out, c->w->service_name, "Request emergency access");
        break_glass_form(c, ss.csrf, why ? why : "Choose a reason and explain it", code, text);
        bare_end(&c->out);
        status = 400;
        break;
    case BREAKGLASS_NOT_FOUND:
    case BREAKGLASS_BAD_NHS:
    case BREAKGLASS_NO_RECORD:
        web_error_page(req, 404, "Page not found",
                       "There is no patient record at this address, so emergency access was not "
                       "started.",
                       "Open the patient from your clinical system.");
        break;
    case BREAKGLASS_DENIED:
        web_error_page(req, 403, "You cannot use emergency access",
                       why ? why : "Your role or organisation may not use break-glass.",
                       "Ask a colleague whose role allows emergency access, or contact the "
                       "organisation that holds the information.");
        break;
    case BREAKGLASS_FAILED:
        status = WEFT_EDB;
        break;
    case BREAKGLASS_STARTED: {
        struct buf loc = BUF_INIT;
        html_url_addf(&loc, "/patient/%s", c->person_id);
        http_reply_header(req, "Location", loc.data);
        buf_release(&loc);
        http_reply(req, 303, "text/plain; charset=utf-8", "emergency access started\n", 25);
        break;
    }
    }
    url_kv_free(kv, n);
    store_session_clear(&ss);
    return status;
}

int web_page_break_glass(struct web_ctx *c, bool post)
{
    return post ? break_glass_post(c) : break_glass_get(c);
}

/* ---- /breakglass: the same form and request, the access module's address ---------------- */

static bool wants_json(struct http_req *req)
{
    const char *a = http_req_header(req, "Accept");
    return a && strstr(a, "json") && !strstr(a, "text/html");
}

/* A refusal for a person (an error page in the shared layout) or a program
 * (JSON: error, error_description, what_to_do). */
static void bg_problem(struct http_req *req, int status, const char *error, const char *what,
                       const char *todo)
{
    if (!wants_json(req)) {
        web_error_page(req, status,
                       status == 403 ? "Access not allowed" : "Emergency access was not started",
                       what, todo);
        return;
    }
    http_req_reason(req, what);
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "error", error, "error_description", what, "what_to_do", todo);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    web_security_headers(req);
    http_reply(req, status, "application/json", txt, strlen(txt));
    free(txt);
}

static int h_breakglass_get(struct http_req *req, void *arg)
{
    struct store *s = http_req_store(req);
    struct store_session ss;
    if (!s || access_current_session(req, s, &ss) != 0) {
        bg_problem(req, 401, "no_session", "You are not signed in to Weft",
                   "Open the patient's record from your own clinical system.");
        return 0;
    }
    struct web_ctx c = {0};
    c.w = arg;
    c.req = req;
    c.store = s;
    c.p = &req->principal;
    buf_init(&c.out);
    buf_init(&c.what);
    bare_begin(&c.out, c.w->service_name, "Request emergency access");
    break_glass_form(&c, ss.csrf, NULL, NULL, NULL);
    bare_end(&c.out);
    store_session_clear(&ss);
    web_security_headers(req);
    http_reply_buf(req, 200, "text/html; charset=utf-8", &c.out);
    web_ctx_release(&c);
    return 0;
}

static int h_breakglass_post(struct http_req *req, void *arg)
{
    struct web *w = arg;
    struct store *s = http_req_store(req);
    const char *ct = http_req_header(req, "Content-Type");
    struct url_kv *kv = NULL;
    int n = 0;
    if (!s || !ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
        url_query_parse(req->body.data, req->body.len, &kv, &n, 32) != 0) {
        url_kv_free(kv, n);
        bg_problem(req, 400, "invalid_request", "The break-glass request was not a form",
                   "Use the break-glass form on the record page.");
        return 0;
    }
    struct store_session ss;
    switch (access_form_verify(req, s, form_value(kv, n, "csrf"), AUDIT_BREAK_GLASS,
                               req->principal.person_id, &ss)) {
    case ACCESS_FORM_OK:
        break;
    case ACCESS_FORM_NO_SESSION:
        bg_problem(req, 401, "no_session", "You are not signed in to Weft",
                   "Open the patient's record from your own clinical system.");
        goto out;
    case ACCESS_FORM_UNAVAILABLE:
        bg_problem(req, 503, "unavailable", "Weft could not check your session",
                   "Try again in a moment.");
        goto out;
    case ACCESS_FORM_CROSS_SITE:
    case ACCESS_FORM_BAD_TOKEN:
        bg_problem(req, 403, "csrf", "This form did not come from your Weft session",
                   "Go back to the record page and submit the form from there.");
        goto out;
    }
    char *person = NULL, expires[32];
    const char *why = NULL;
    struct breakglass_ask ask = {.nhs = form_value(kv, n, "nhs"),
                                 .session_person = ss.person_id,
                                 .code = form_value(kv, n, "reason_code"),
                                 .text = form_value(kv, n, "reason_text"),
                                 .hours = w->breakglass_hours};
    switch (breakglass_request(s, &req->principal, &ask, &person, expires, &why)) {
    case BREAKGLASS_BAD_NHS:
        bg_problem(req, 400, "invalid_request", "That is not a valid NHS number",
                   "Check the number and try again.");
        break;
    case BREAKGLASS_NO_RECORD:
        bg_problem(req, 404, "not_found",
                   "The shared care record holds nothing for that NHS number",
                   "Check the number. If it is right, use the information in your own system.");
        break;
    case BREAKGLASS_INVALID:
        bg_problem(req, 400, "invalid_request", why ? why : "Choose a reason and explain it",
                   "Give a reason code and explain why.");
        break;
    case BREAKGLASS_NOT_FOUND:
        bg_problem(req, 404, "not_found", "The shared care record holds no such person",
                   "Open the patient from your own system.");
        break;
    case BREAKGLASS_DENIED:
        bg_problem(req, 403, "forbidden", why ? why : "Your role may not use break-glass",
                   "Ask a colleague whose role allows emergency access.");
        break;
    case BREAKGLASS_FAILED:
        bg_problem(req, 503, "unavailable", "Break-glass could not be recorded",
                   "Try again in a moment; access is not widened until it is recorded.");
        break;
    case BREAKGLASS_STARTED: {
        log_info("access", "break-glass started request=%s", req->request_id);
        struct buf loc = BUF_INIT;
        buf_adds(&loc, "/patient/");
        url_encode(&loc, person);
        web_security_headers(req);
        http_reply_header(req, "Location", loc.data);
        http_reply(req, 303, "text/plain; charset=utf-8", "See Other\n", 10);
        buf_release(&loc);
        break;
    }
    }
    free(person);
out:
    store_session_clear(&ss);
    url_kv_free(kv, n);
    return 0;
}

int web_breakglass_routes_add(struct http_server *srv, struct web *w)
{
    int rc = http_route_add(srv, "GET", "/breakglass", h_breakglass_get, w, 0);
    if (rc == 0)
        rc = http_route_add(srv, "POST", "/breakglass", h_breakglass_post, w, 0);
    return rc;
}
