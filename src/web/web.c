/*
 * web.c - the web part of `weft serve`: routes, the one request path every
 * page goes through, error pages, the break-glass form, and assets.
 *
 * Request path of a page (page_handler):
 *   1. who: req->principal from http/auth.c (a launched user's session
 *      cookie); nobody -> "your session has ended" page (401);
 *   2. may they: authz_scope_for_person() for the person in the URL (it
 *      audits its own denials) -> "no permission" page (403) on refusal;
 *   3. does the person exist -> "patient not found" page (404);
 *   4. render the page with every store query scoped (data.c);
 *   5. audit the view (action read, what was shown, count) through the
 *      group-commit audit log (the response does not wait for the disk).
 * Pages are not cached by the browser (no-store) and carry a strict
 * Content-Security-Policy: no scripts at all, styles and images from self.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/breakglass.h"
#include "access/org.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "http/serve.h"
#include "http/server.h"
#include "http/static.h"
#include "web/admin.h"
#include "identity/identity.h"
#include "web/cache.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/web_int.h"
#include "web/web_serve.h"
#include "store/access.h"
#include "store/records.h"

#define SERVICE_DEFAULT "Weft shared care record"

/* Weft's own styles on top of nhsuk-frontend: the banner, flags, navigation,
 * filters and charts.  Colours are from the NHS palette with WCAG 2.1 AA
 * contrast against their backgrounds. */
static const char weft_css[] =
    ".weft-banner{background:#f0f4f5;border-bottom:4px solid #005eb8;padding:12px 0}\n"
    ".weft-banner__name{font-size:1.5rem;font-weight:600;margin:0 0 8px}\n"
    ".weft-banner__details{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0}\n"
    ".weft-banner__details div{display:flex;gap:6px}\n"
    ".weft-banner__details dt{font-weight:600}\n"
    ".weft-banner__details dd{margin:0}\n"
    ".weft-flags{list-style:none;margin:12px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:8px}\n"
    ".weft-flag{display:inline-block;padding:6px 12px;font-weight:600;text-decoration:none;"
    "border:2px solid currentColor}\n"
    ".weft-flag--eol{background:#330072;color:#fff}\n"
    ".weft-flag--eol:visited{color:#fff}\n"
    ".weft-flag--alert{background:#fff;color:#8a1538}\n"
    ".weft-flag--safeguarding{background:#fff;color:#7c2855}\n"
    ".weft-flag:focus{outline:4px solid #ffeb3b;background:#ffeb3b;color:#212b32}\n"
    ".weft-breakglass{background:#d5281b;color:#fff;padding:8px 12px;margin:12px 0 0}\n"
    ".weft-nav{background:#005eb8}\n"
    ".weft-nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap}\n"
    ".weft-nav li{margin:0}\n"
    ".weft-nav a{display:block;padding:10px 12px;color:#fff;text-decoration:none}\n"
    ".weft-nav a:visited{color:#fff}\n"
    ".weft-nav a[aria-current=page]{background:#003087;text-decoration:underline}\n"
    ".weft-nav a:hover{text-decoration:underline}\n"
    ".weft-nav a:focus{background:#ffeb3b;color:#212b32;outline:none;box-shadow:0 -2px "
    "#ffeb3b,0 4px #212b32}\n"
    ".weft-muted{color:#4c6272}\n"
    ".weft-table{font-size:1rem}\n"
    ".weft-nowrap{white-space:nowrap}\n"
    ".weft-type{color:#4c6272;font-size:.875rem}\n"
    ".weft-oor{color:#8a1538}\n"
    ".weft-row-oor th,.weft-row-oor td{background:#fdf2f4}\n"
    ".weft-filters{display:flex;flex-wrap:wrap;gap:0 16px;align-items:flex-end}\n"
    ".weft-filter{margin-bottom:16px}\n"
    ".weft-filter--button .nhsuk-button{margin-bottom:0}\n"
    ".weft-charts{display:flex;flex-wrap:wrap;gap:16px}\n"
    ".weft-chart-card{flex:1 1 420px;max-width:520px}\n"
    ".weft-figure{margin:0 0 8px}\n"
    ".weft-chart{width:100%;height:auto;border:1px solid #d8dde0}\n"
    ".weft-document__text{background:#fff;border-left:4px solid #005eb8;padding:12px 16px;"
    "margin-bottom:16px;white-space:normal}\n"
    ".weft-break{word-break:break-all}\n"
    ".weft-footer{border-top:4px solid #005eb8;padding:16px 0;margin-top:32px}\n"
    ".weft-section{margin-bottom:24px}\n"
    /* issue 11: the objection banner, undated items, and a layout whose main
     * content starts on the first screen (1280x1000 and 390x844) */
    ".weft-objection{background:#fff9c4;border-left:8px solid #ffeb3b;color:#212b32;"
    "padding:8px 12px;margin:12px 0 0}\n"
    ".weft-objection p{margin:0}\n"
    /* issue 13: a pending identity review, said neutrally */
    ".weft-identity-review{background:#e8edee;border-left:8px solid #768692;color:#212b32;"
    "padding:8px 12px;margin:12px 0 0}\n"
    ".weft-received{color:#4c6272;font-size:.875rem}\n"
    ".weft-nodate{color:#212b32}\n"
    ".weft-banner{padding:8px 0}\n"
    ".weft-banner__name{margin:0 0 4px}\n"
    ".weft-flags{margin:8px 0 0}\n"
    ".weft-flag{padding:2px 8px}\n"
    ".weft-breakglass{margin:8px 0 0;padding:6px 12px}\n"
    ".weft-nav a{padding:6px 10px;font-size:1rem}\n"
    ".nhsuk-header__container{padding-top:8px;padding-bottom:8px}\n"
    "main.nhsuk-main-wrapper{padding-top:16px}\n"
    "main .nhsuk-heading-l{margin-bottom:12px}\n"
    ".weft-filter-box{margin-bottom:12px}\n"
    ".weft-filter-box summary{cursor:pointer;color:#005eb8;text-decoration:underline;"
    "margin-bottom:8px}\n"
    "@media (max-width:640px){"
    ".weft-nav ul{flex-wrap:nowrap;overflow-x:auto}"
    ".weft-nav li{flex:0 0 auto}"
    ".weft-banner__name{font-size:1.25rem}"
    ".weft-banner__details{font-size:.875rem;gap:0 12px}"
    ".weft-table{display:block;overflow-x:auto}"
    ".weft-table td,.weft-table th{min-width:7em}"
    ".weft-flag{font-size:.875rem}"
    "main.nhsuk-main-wrapper{padding-top:8px}"
    "}\n";

/* nhsuk-frontend's dist folder when none was configured: under the current
 * directory, else beside the executable or two levels up from it (the
 * repository when run as ./weft or build/san/weft).  Caller frees. */
static char *default_assets(void)
{
    static const char rel[] = "node_modules/nhsuk-frontend/dist/nhsuk";
    struct stat st;
    if (stat(rel, &st) == 0 && S_ISDIR(st.st_mode))
        return xstrdup(rel);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        static const char *const ups[] = {"", "/../.."};
        for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
            struct buf b = BUF_INIT;
            buf_addf(&b, "%s%s/%s", exe, ups[i], rel);
            if (stat(b.data, &st) == 0 && S_ISDIR(st.st_mode))
                return buf_detach(&b, NULL);
            buf_release(&b);
        }
    }
    return xstrdup(rel);
}

int web_init(struct web **out, const struct web_config *cfg)
{
    struct web *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->version_mu, NULL);
    const char *assets = cfg && cfg->assets_dir ? cfg->assets_dir : getenv("WEFT_ASSETS");
    w->assets_dir = assets && *assets ? xstrdup(assets) : default_assets();
    w->audit = cfg ? cfg->audit : NULL;
    w->break_glass_action =
        cfg && cfg->break_glass_action ? xstrdup(cfg->break_glass_action) : NULL;
    w->service_name = xstrdup(cfg && cfg->service_name ? cfg->service_name : SERVICE_DEFAULT);
    w->breakglass_hours =
        cfg && cfg->breakglass_hours > 0 ? cfg->breakglass_hours : BREAKGLASS_HOURS_DEFAULT;
    long entries = cfg && cfg->cache_entries ? cfg->cache_entries : WEB_CACHE_ENTRIES_DEFAULT;
    w->cache = web_cache_new(entries > 0 ? (size_t)entries : 0, WEB_CACHE_BYTES_DEFAULT);
    *out = w;
    return WEFT_OK;
}

void web_free(struct web *w)
{
    if (!w)
        return;
    free(w->assets_dir);
    free(w->break_glass_action);
    free(w->service_name);
    web_cache_free(w->cache);
    pthread_mutex_destroy(&w->version_mu);
    free(w);
}

static void security_headers(struct http_req *req)
{
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "X-Frame-Options", "DENY");
    http_reply_header(req, "Referrer-Policy",
                      "same-origin"); /* no-referrer would make form posts say Origin: null */
    http_reply_header(req, "Content-Security-Policy",
                      "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                      "font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'");
}

void web_error_page(struct http_req *req, int status, const char *title, const char *what,
                    const char *next_step)
{
    struct buf b = BUF_INIT;
    http_req_reason(req, title);
    web_error_html(&b, SERVICE_DEFAULT, title, what, next_step);
    security_headers(req);
    http_reply_buf(req, status, "text/html; charset=utf-8", &b);
}

/* Error renderer for server-made errors under /patient (no route, 405...). */
static void render_error(struct http_req *req, int status, const char *message)
{
    if (status == 404)
        web_error_page(req, 404, "Page not found", "There is no page at this address.",
                       "Go back to the patient's summary, or open the patient again from your "
                       "own clinical system.");
    else
        web_error_page(req, status, "Sorry, there is a problem", message,
                       "Go back and try again. If it keeps happening, tell your IT service "
                       "desk the time it happened.");
}

static void session_ended(struct http_req *req)
{
    web_error_page(req, 401, "Your session has ended",
                   "You are not signed in to the shared care record, or your session has "
                   "expired. Sessions end after a working day and when the launch link has "
                   "been used or has run out of time.",
                   "Go back to your own clinical system and open the shared care record for "
                   "the patient again from there.");
}

/* Audit a page view that did not show the page (outcome failed/denied). */
static void audit_outcome(struct web_ctx *c, const char *page, const char *outcome,
                          const char *reason)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, c->p);
    ev.action = strcmp(outcome, AUDIT_DENIED) == 0 ? AUDIT_DENIAL : AUDIT_READ;
    ev.outcome = outcome;
    ev.person_id = c->person_id;
    ev.request_id = c->req->request_id;
    struct buf what = BUF_INIT;
    buf_addf(&what, "page:%s", page);
    ev.what = what.data;
    ev.count = 0;
    ev.reason = reason;
    int rc =
        c->w->audit ? audit_log_append(c->w->audit, &ev, false) : audit_append(c->store, &ev, NULL);
    if (rc < 0)
        log_error("web", "audit append failed for request %s: %s", c->req->request_id,
                  weft_strerror(rc));
    buf_release(&what);
}

static void audit_view(struct web_ctx *c, const char *page)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, c->p);
    ev.action = AUDIT_READ;
    ev.outcome = AUDIT_OK;
    ev.person_id = c->person_id;
    ev.request_id = c->req->request_id;
    struct buf what = BUF_INIT;
    buf_addf(&what, "page:%s%s%s", page, c->what.len ? " " : "", c->what.data);
    ev.what = what.data;
    ev.count = c->count;
    int rc =
        c->w->audit ? audit_log_append(c->w->audit, &ev, false) : audit_append(c->store, &ev, NULL);
    if (rc < 0)
        log_error("web", "audit append failed for request %s: %s", c->req->request_id,
                  weft_strerror(rc));
    buf_release(&what);
}

static void ctx_release(struct web_ctx *c)
{
    web_list_clear(&c->all);
    authz_scope_clear(&c->scope);
    buf_release(&c->out);
    buf_release(&c->what);
    json_decref(c->patient);
    store_row_clear(&c->patient_row);
    for (int i = 0; i < c->norgs; i++) {
        free(c->orgs[i].ods);
        free(c->orgs[i].name);
    }
}

/* Does the store hold anything for this person?  *snap gets the store's
 * current snapshot, which the whole page then reads at. */
static int person_exists(struct store *s, const char *person_id, bool *exists, int64_t *snap)
{
    struct store_person sp = {0};
    int rc = store_person_get(s, person_id, &sp);
    store_person_clear(&sp);
    if (rc == WEFT_ENOTFOUND) {
        *exists = false;
        return WEFT_OK;
    }
    if (rc < 0)
        return rc;
    /* A Patient first (one index probe); any item otherwise. */
    struct store_query q = {.type = "Patient", .person_id = person_id, .limit = 1};
    struct store_result r = {0};
    rc = store_search(s, &q, &r);
    *exists = rc == WEFT_OK && r.nrows > 0;
    *snap = r.snapshot;
    store_result_clear(&r);
    if (rc == WEFT_OK && !*exists) {
        struct store_query any = {.person_id = person_id, .limit = 1, .snapshot = *snap};
        rc = store_search(s, &any, &r);
        *exists = rc == WEFT_OK && r.nrows > 0;
        store_result_clear(&r);
    }
    return rc;
}

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* Look up the CSRF token of the caller's session (cookie). */
static bool session_csrf(struct http_req *req, struct store *s, char *out, size_t n)
{
    char secret[SESSION_SECRET_LEN + 16];
    const char *cookie = http_req_header(req, "Cookie");
    if (!cookie || !session_cookie_get(cookie, SESSION_COOKIE, secret, sizeof secret))
        return false;
    struct store_session ss = {0};
    bool ok = false;
    if (session_lookup(s, secret, &ss) == WEFT_OK && ss.csrf && strlen(ss.csrf) < n) {
        memcpy(out, ss.csrf, strlen(ss.csrf) + 1);
        ok = true;
    }
    store_session_clear(&ss);
    return ok;
}

static void break_glass_form(struct web_ctx *c, const char *csrf, const char *error,
                             const char *code, const char *text)
{
    struct buf *b = &c->out;
    /* The form posts back here (break_glass_post: the same checks as the
     * access module's /breakglass).  It must not carry the person's NHS
     * number: the form is shown before any access is granted, so it would
     * tell anyone with a session the NHS number behind a person id. */
    struct buf action = BUF_INIT;
    if (c->w->break_glass_action)
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
              "name=\"reason_text\" rows=\"4\" maxlength=\"%d\">%s</textarea></div>"
              "<button class=\"nhsuk-button nhsuk-button--warning\" type=\"submit\">"
              "Start emergency access</button></form>",
              BREAKGLASS_TEXT_MAX, text ? text : "");
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
    char csrf[SESSION_SECRET_LEN + 16];
    if (!session_csrf(c->req, c->store, csrf, sizeof csrf)) {
        session_ended(c->req);
        return 0;
    }
    int not_offered = break_glass_not_offered(c);
    if (not_offered)
        return not_offered;
    bare_begin(&c->out, c->w->service_name, "Request emergency access");
    break_glass_form(c, csrf, NULL, NULL, NULL);
    bare_end(&c->out);
    return 200;
}

static const char *form_value(const struct url_kv *kv, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

/* The browser's own statement of where a request came from (Sec-Fetch-Site,
 * Origin): a cross-site post is refused whatever token it carries. */
static bool same_origin(struct http_req *req)
{
    const char *sfs = http_req_header(req, "Sec-Fetch-Site");
    if (sfs && strcmp(sfs, "same-origin") != 0 && strcmp(sfs, "none") != 0)
        return false;
    const char *origin = http_req_header(req, "Origin");
    if (!origin)
        return true;
    const char *host = http_req_header(req, "Host");
    const char *o = origin;
    if (strncmp(o, "http://", 7) == 0)
        o += 7;
    else if (strncmp(o, "https://", 8) == 0)
        o += 8;
    else
        return false;
    return host && strcmp(o, host) == 0;
}

static int break_glass_post(struct web_ctx *c)
{
    struct http_req *req = c->req;
    if (!same_origin(req)) {
        authz_audit_denial(c->store, c->p, AUDIT_BREAK_GLASS, c->person_id,
                           "form refused: cross-site request");
        web_error_page(req, 403, "This form was sent from another site",
                       "Emergency access can only be requested from the shared care record's "
                       "own page, so nothing was done.",
                       "Open the patient's record and use the emergency access link there.");
        return 0;
    }
    char csrf[SESSION_SECRET_LEN + 16];
    if (!session_csrf(req, c->store, csrf, sizeof csrf)) {
        session_ended(req);
        return 0;
    }
    struct url_kv *kv = NULL;
    int n = 0;
    if (url_query_parse(req->body.data, req->body.len, &kv, &n, 16) != 0) {
        url_kv_free(kv, n);
        web_error_page(req, 400, "Sorry, the form could not be read",
                       "The information sent was not in the expected form.",
                       "Go back and fill in the form again.");
        return 0;
    }
    const char *token = form_value(kv, n, "csrf");
    if (!token || !session_secret_equal(token, csrf)) {
        url_kv_free(kv, n);
        authz_audit_denial(c->store, c->p, AUDIT_BREAK_GLASS, c->person_id,
                           "form refused: missing or wrong CSRF token");
        web_error_page(req, 403, "This form has expired",
                       "The form was not sent from this session, so nothing was done.",
                       "Go back, reload the page and fill in the form again.");
        return 0;
    }
    const char *code = form_value(kv, n, "reason_code");
    const char *text = form_value(kv, n, "reason_text");
    char expires[32];
    const char *why = NULL;
    int rc = breakglass_start(c->store, c->p, c->person_id, code, text, c->w->breakglass_hours,
                              expires, &why);
    if (rc == WEFT_EINVAL) {
        bare_begin(&c->out, c->w->service_name, "Request emergency access");
        break_glass_form(c, csrf, why ? why : "Choose a reason and explain it", code, text);
        bare_end(&c->out);
        url_kv_free(kv, n);
        return 400;
    }
    url_kv_free(kv, n);
    if (rc == WEFT_ENOTFOUND) {
        web_error_page(req, 404, "Page not found",
                       "There is no patient record at this address, so emergency access was not "
                       "started.",
                       "Open the patient from your clinical system.");
        return 0;
    }
    if (rc == WEFT_EDENIED) {
        web_error_page(req, 403, "You cannot use emergency access",
                       why ? why : "Your role or organisation may not use break-glass.",
                       "Ask a colleague whose role allows emergency access, or contact the "
                       "organisation that holds the information.");
        return 0;
    }
    if (rc < 0)
        return rc;
    struct buf loc = BUF_INIT;
    html_url_addf(&loc, "/patient/%s", c->person_id);
    http_reply_header(req, "Location", loc.data);
    buf_release(&loc);
    http_reply(req, 303, "text/plain; charset=utf-8", "emergency access started\n", 25);
    return 0;
}

/* An error page into out (status returned). */
static int error_into(struct web_ctx *c, int status, const char *title, const char *what,
                      const char *next_step)
{
    buf_reset(&c->out);
    http_req_reason(c->req, title);
    web_error_html(&c->out, c->w->service_name, title, what, next_step);
    return status;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* store_person_version(), remembered while the store's snapshot stays the
 * same (no write anywhere: the version cannot have changed). */
static int person_version(struct web *w, struct store *s, const char *pid, int64_t snap,
                          int64_t *seq, int64_t *count)
{
    struct web_version_slot *slot = &w->versions[fnv(pid) % WEB_VERSION_SLOTS];
    pthread_mutex_lock(&w->version_mu);
    bool hit = slot->snapshot == snap && strcmp(slot->person, pid) == 0;
    if (hit) {
        *seq = slot->seq;
        *count = slot->count;
    }
    pthread_mutex_unlock(&w->version_mu);
    if (hit)
        return WEFT_OK;
    int rc = store_person_version(s, pid, snap, seq, count, NULL);
    if (rc == WEFT_OK && strlen(pid) < sizeof slot->person) {
        pthread_mutex_lock(&w->version_mu);
        memcpy(slot->person, pid, strlen(pid) + 1);
        slot->snapshot = snap;
        slot->seq = *seq;
        slot->count = *count;
        pthread_mutex_unlock(&w->version_mu);
    }
    return rc;
}

/* The key of the page in the cache: everything the rendered bytes depend on
 * (with_page false: only what every page of the person shares). */
static void cache_key(const struct web_ctx *c, struct buf *key, bool with_page)
{
    const char *type = http_req_param(c->req, "type"), *rid = http_req_param(c->req, "rid");
    buf_addf(key, "%s|%lld.%lld|%s|%d%d%d%d%d|%s|", c->person_id, (long long)c->version_seq,
             (long long)c->version_count, c->today, c->scope.restricted, c->glass,
             c->scope.objection, c->scope.may_break_glass, c->under_review,
             c->p->org ? c->p->org : "");
    if (with_page)
        buf_addf(key, "%s|%s|%s|%s|", c->page, type ? type : "", rid ? rid : "",
                 c->req->query ? c->req->query : "");
    if (c->scope.ncategories < 0)
        buf_adds(key, "*");
    for (int i = 0; i < c->scope.ncategories; i++)
        buf_addf(key, "%s,", c->scope.categories[i]);
    buf_addc(key, '|');
    if (c->scope.norgs < 0)
        buf_adds(key, "*");
    for (int i = 0; i < c->scope.norgs; i++)
        buf_addf(key, "%s,", c->scope.orgs[i]);
}

/* The navigation (which categories have visible data) is the same for every
 * page of a person at a snapshot and scope: kept in the cache beside the
 * pages, as a string of '0'/'1' per category. */
static int nav_cached(struct web_ctx *c)
{
    struct buf key = BUF_INIT, flags = BUF_INIT, none = BUF_INIT;
    buf_adds(&key, "nav|");
    cache_key(c, &key, false);
    int status;
    int64_t count;
    int rc = WEFT_OK;
    if (web_cache_get(c->w->cache, key.data, &flags, &none, &status, &count) &&
        flags.len == sizeof c->nav_has) {
        for (size_t i = 0; i < sizeof c->nav_has; i++)
            c->nav_has[i] = flags.data[i] == '1';
    } else if ((rc = web_nav_scan(c)) == WEFT_OK) {
        buf_reset(&flags);
        for (size_t i = 0; i < sizeof c->nav_has; i++)
            buf_addc(&flags, c->nav_has[i] ? '1' : '0');
        web_cache_put(c->w->cache, key.data, &flags, &none, 200, 0);
    }
    buf_release(&key);
    buf_release(&flags);
    buf_release(&none);
    return rc;
}

/* Render the page itself (the scope is decided); its HTTP status. */
static int render(struct web_ctx *c, const char *page, const char *type, const char *rid)
{
    const struct web_category *cat = web_category_find(page);
    /* What the scope hides of this record (STYLE habit 18), so the page can
     * tell "none recorded" from "none you may see".  A failure leaves it
     * saying hidden, the safe answer. */
    int hrc = authz_scope_hidden(c->store, &c->scope, c->person_id, c->snapshot, &c->hidden);
    if (hrc < 0)
        log_warn("web", "hidden-items check failed for request %s: %s",
                 c->req->request_id ? c->req->request_id : "-", weft_strerror(hrc));
    if (strcmp(page, "summary") == 0)
        return web_page_summary(c);
    if (strcmp(page, "timeline") == 0)
        return web_page_timeline(c);
    if (strcmp(page, "chart") == 0) {
        if (!web_scope_category(c, "results") && !web_scope_category(c, "observations"))
            return error_into(c, 403, "You do not have permission to view this part of the record",
                              "Your role's access does not include results or observations.",
                              "Go back to the patient's summary.");
        return web_page_chart(c);
    }
    if (strcmp(page, "item") == 0)
        return web_page_item(c, type, rid);
    if (cat && !web_scope_category(c, cat->name))
        return error_into(c, 403, "You do not have permission to view this part of the record",
                          "Your role's access does not include this kind of information.",
                          "Go back to the patient's summary. In an emergency, ask a colleague "
                          "whose role includes it.");
    if (cat && cat->kind == WEB_CAT_RESULTS)
        return web_page_results(c, cat);
    if (cat)
        return web_page_category(c, cat);
    return 404;
}

int web_view(struct web *w, struct http_req *req, struct store *s, struct buf *out)
{
    const char *pid = http_req_param(req, "id");
    const char *page = http_req_param(req, "page");
    const char *type = http_req_param(req, "type"), *rid = http_req_param(req, "rid");
    if (!page)
        page = type ? "item" : "summary";
    struct web_ctx c = {0};
    c.w = w;
    c.req = req;
    c.store = s;
    c.p = &req->principal;
    c.person_id = pid;
    c.page = page;
    buf_init(&c.out);
    buf_init(&c.what);
    fmt_today(c.today);
    int status = 0, rc;
    struct buf key = BUF_INIT;

    rc = authz_scope_for_person(s, c.p, pid, &c.scope);
    if (rc < 0 || !c.scope.allowed) {
        struct buf what = BUF_INIT, next = BUF_INIT;
        buf_addf(&what, "Your access does not allow this: %s.",
                 c.scope.reason ? c.scope.reason : "the access check could not be made");
        html_url_addf(&next, "/patient/%s/break-glass", pid);
        bool may_glass = rc >= 0 && authz_may_break_glass(s, c.p);
        web_error_html_link(&c.out, w->service_name,
                            "You do not have permission to view this record", what.data,
                            may_glass ? "If this is the patient you are caring for, open them "
                                        "again from your own clinical system. In an emergency "
                                        "you can request emergency access (break-glass); it is "
                                        "recorded and reviewed."
                                      : "If this is the patient you are caring for, open them "
                                        "again from your own clinical system. Your role cannot "
                                        "use emergency access: in an emergency, ask a colleague "
                                        "whose role can.",
                            may_glass ? next.data : NULL, "Request emergency access (break-glass)");
        buf_release(&what);
        buf_release(&next);
        status = rc < 0 ? 503 : 403;
        goto done;
    }
    bool exists = false;
    if ((rc = person_exists(s, pid, &exists, &c.snapshot)) < 0) {
        status = rc;
        goto done;
    }
    if (!exists) {
        audit_outcome(&c, page, AUDIT_FAILED, "no record held for this person");
        status = error_into(&c, 404, "Patient not found",
                            "The shared care record holds no information about this person yet. "
                            "This can happen when the person is new to the area or their records "
                            "have not yet been sent by their GP or hospital.",
                            "Check you opened the right patient in your own system. If the NHS "
                            "number is right, use the information in your own system for now.");
        goto done;
    }
    c.glass = c.p->break_glass || !c.p->person_id || strcmp(c.p->person_id, pid) != 0;
    /* The cache key names the version of this person's record, not the
     * store-wide snapshot, so writes about other people keep it valid. */
    rc = person_version(w, s, pid, c.snapshot, &c.version_seq, &c.version_count);
    if (rc == WEFT_EUNSUPPORTED) {
        /* A backend without it: key by the store-wide snapshot (still exact). */
        c.version_seq = c.snapshot;
        c.version_count = -1;
    } else if (rc < 0) {
        status = rc;
        goto done;
    }
    /* a pending identity review changes no version of the record: read it
     * each time (it is part of the cache key) */
    if ((rc = identity_under_review(s, pid, &c.under_review)) < 0) {
        status = rc;
        goto done;
    }
    cache_key(&c, &key, true);
    if (web_cache_get(w->cache, key.data, &c.out, &c.what, &status, &c.count)) {
        audit_view(&c, page);
        goto done;
    }
    if ((rc = nav_cached(&c)) < 0) {
        status = rc;
        goto done;
    }
    status = render(&c, page, type, rid);
    if (status == 200)
        web_cache_put(w->cache, key.data, &c.out, &c.what, status, c.count);
    if (status == 200 || status == 400)
        audit_view(&c, page);
    else if (status == 403)
        audit_outcome(&c, page, AUDIT_DENIED, "the role's access does not include this section");
    else if (status == 404)
        audit_outcome(&c, page, AUDIT_FAILED, "not found or not available with this access");
    if (status == 404)
        error_into(&c, 404, "Not found",
                   "There is nothing at this address in this patient's record, or it is not "
                   "available with your access.",
                   "Go back to the patient's summary and choose from the sections there.");
done:
    if (status < 0) {
        log_error("web", "page %s failed for request %s: %s", page,
                  req->request_id ? req->request_id : "-", weft_strerror(status));
        error_into(&c, 500, "Sorry, there is a problem with the service",
                   "The page could not be made. Nothing has been changed.",
                   "Try again. If it keeps happening, tell your IT service desk the time it "
                   "happened.");
        status = 500;
    }
    buf_release(&key);
    buf_release(out);
    *out = c.out;
    buf_init(&c.out);
    ctx_release(&c);
    return status;
}

static int page_handler(struct http_req *req, void *arg)
{
    struct web *w = arg;
    uint64_t t0 = http_now_ns();
    const char *pid = http_req_param(req, "id");
    const char *page = http_req_param(req, "page");
    const char *type = http_req_param(req, "type"), *rid = http_req_param(req, "rid");
    bool post = strcmp(req->method, "POST") == 0;
    if (req->principal.kind == PRINCIPAL_NONE) {
        session_ended(req);
        return 0;
    }
    /* A SMART app token is a user principal too, but limited to the FHIR
     * types it was granted (authz_type_allowed): the pages show every
     * category the role allows, so they are for launched sessions only. */
    if (req->principal.kind != PRINCIPAL_USER || req->principal.scopes) {
        struct store *ds = http_req_store(req);
        if (ds && req->principal.kind == PRINCIPAL_USER)
            authz_audit_denial(ds, &req->principal, NULL, req->principal.person_id,
                               "web pages are for launched sessions, not app tokens");
        web_error_page(req, 403, "You do not have permission to view this page",
                       "These pages are for members of staff opening a patient's record from "
                       "their own clinical system.",
                       "Open the patient from your clinical system. API clients should use the "
                       "FHIR API at /fhir.");
        return 0;
    }
    if (!valid_id(pid) || (type && (!valid_id(type) || !valid_id(rid)))) {
        render_error(req, 404, "not found");
        return 0;
    }
    struct store *s = http_req_store(req);
    if (!s) {
        web_error_page(req, 503, "The record cannot be shown at the moment",
                       "The shared care record's database is not available.",
                       "Try again in a few minutes. If it keeps happening, tell your IT "
                       "service desk.");
        return 0;
    }
    if (page && strcmp(page, "break-glass") == 0) {
        struct web_ctx c = {0};
        c.w = w;
        c.req = req;
        c.store = s;
        c.p = &req->principal;
        c.person_id = pid;
        c.page = page;
        buf_init(&c.out);
        buf_init(&c.what);
        int status = post ? break_glass_post(&c) : break_glass_get(&c);
        if (status < 0)
            web_error_page(req, 500, "Sorry, there is a problem with the service",
                           "Emergency access could not be started. Nothing has been changed.",
                           "Try again. If it keeps happening, tell your IT service desk.");
        else if (status > 0) {
            security_headers(req);
            http_reply_buf(req, status, "text/html; charset=utf-8", &c.out);
        }
        ctx_release(&c);
        return 0;
    }
    if (post) {
        render_error(req, 405, "this page cannot be posted to");
        return 0;
    }
    struct buf out = BUF_INIT;
    int status = web_view(w, req, s, &out);
    security_headers(req);
    http_reply_buf(req, status, "text/html; charset=utf-8", &out);
    log_debug("web", "page=%s status=%d request=%s ms=%.2f", page ? page : "summary", status,
              req->request_id, (double)(http_now_ns() - t0) / 1e6);
    return 0;
}

static int css_handler(struct http_req *req, void *arg)
{
    (void)arg;
    http_reply_header(req, "Cache-Control", "public, max-age=3600");
    http_reply(req, 200, "text/css; charset=utf-8", weft_css, sizeof weft_css - 1);
    return 0;
}

int web_routes_add(struct http_server *srv, struct web *w)
{
    static const char *const get_patterns[] = {
        "/patient/{id}",
        "/patient/{id}/{page}",
        "/patient/{id}/item/{type}/{rid}",
    };
    int rc;
    for (size_t i = 0; i < sizeof get_patterns / sizeof get_patterns[0]; i++)
        if ((rc = http_route_add(srv, "GET", get_patterns[i], page_handler, w, 0)) < 0)
            return rc;
    if ((rc = http_route_add(srv, "POST", "/patient/{id}/{page}", page_handler, w, 0)) < 0)
        return rc;
    if ((rc = http_route_add(srv, "GET", "/assets/weft.css", css_handler, w, 0)) < 0)
        return rc;
    if ((rc = web_admin_dq_routes_add(srv, w)) < 0) /* /admin/dq, /admin/governance */
        return rc;
    if ((rc = web_admin_identity_routes_add(srv, w)) < 0) /* /admin/identity */
        return rc;
    http_server_error_renderer(srv, "/patient", render_error);
    /* nhsuk-frontend's CSS refers to /assets/images/...; its images live in
     * the package's assets/images folder, everything else at the top. */
    struct buf images = BUF_INIT;
    buf_addf(&images, "%s/assets/images", w->assets_dir);
    rc = http_static_route(srv, "/assets/images", images.data);
    buf_release(&images);
    if (rc == WEFT_OK)
        rc = http_static_route(srv, "/assets", w->assets_dir);
    if (rc == WEFT_ENOTFOUND) {
        log_warn("web",
                 "nhsuk-frontend assets not found under %s (run npm install or set "
                 "--assets): pages will be unstyled",
                 w->assets_dir);
        rc = WEFT_OK;
    }
    return rc;
}

/* ---- the serve part ---------------------------------------------------------- */

struct web_part {
    struct web *web;
    struct audit_log *audit;
};

int web_serve_start(const struct serve_ctx *ctx, void **state)
{
    struct web_part *part = xcalloc(1, sizeof *part);
    int rc = audit_log_open(&part->audit, ctx->db);
    if (rc < 0) {
        fprintf(stderr, "weft serve: web pages cannot open the audit log: %s\n", weft_strerror(rc));
        free(part);
        return rc;
    }
    long cache = 0;
    if (opts_get_long(ctx->opts, "web-cache", WEB_CACHE_ENTRIES_DEFAULT, &cache) != 0 ||
        cache < 0) {
        fprintf(stderr, "weft serve: --web-cache must be a number of pages (0 = off)\n");
        audit_log_close(part->audit);
        free(part);
        return WEFT_EINVAL;
    }
    long bg = 0; /* validated (1-72) by the access part, which owns the option */
    if (opts_get_long(ctx->opts, "breakglass-hours", BREAKGLASS_HOURS_DEFAULT, &bg) != 0 ||
        bg < 1 || bg > 72)
        bg = BREAKGLASS_HOURS_DEFAULT;
    struct web_config cfg = {.assets_dir = opts_get(ctx->opts, "assets"),
                             .audit = part->audit,
                             .cache_entries = cache == 0 ? -1 : cache,
                             .breakglass_hours = (int)bg};
    web_init(&part->web, &cfg);
    rc = web_routes_add(ctx->http, part->web);
    if (rc < 0) {
        fprintf(stderr, "weft serve: cannot register the web pages: %s\n", weft_strerror(rc));
        web_free(part->web);
        audit_log_close(part->audit);
        free(part);
        return rc;
    }
    *state = part;
    return WEFT_OK;
}

void web_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    struct web_part *part = state;
    if (!part)
        return;
    audit_log_close(part->audit);
    web_free(part->web);
    free(part);
}
