/*
 * my_pages.c - the citizen's pages under /my/ (see my.h): plain English, phone
 * first (nhsuk-frontend), rendered with the clinician view's formatting core
 * (web/fmt.h, web/html.h, the category table).  Every read of the record
 * goes through authz_scope_for_person() with a citizen principal, then the
 * policy's citizen-withhold rules, and is audited; forms carry the session's
 * CSRF token and are refused (and audited) without it.
 *
 *   GET  /my                 home: sign in, or what you can do
 *   GET  /my/record          your record by category, each item with its source
 *   GET  /my/viewers         who has viewed your record (denied attempts are not views)
 *   GET  /my/objection       your objection: lodge, status, decision, withdraw
 *   POST /my/objection
 *   GET  /my/copy            ask for a copy of your record; its progress
 *   POST /my/copy
 *   GET  /my/copy/{id}/{file}  a finished copy: record.html, record.json, access-log.csv
 *   GET  /my/about           the national data opt-out and the Summary Care Record
 *   POST /my/logout
 *   GET  /my/login, /my/callback   sign-in (my_login.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "access/authz.h"
#include "access/objection.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/proxy.h"
#include "access/read.h"
#include "access/sar.h"
#include "domain/contrib.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/serve.h"
#include "http/server.h"
#include "web/fmt.h"
#include "web/html.h"
#include "web/my.h"
#include "web/my_int.h"
#include "web/web_int.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/citizen.h"
#include "store/records.h"

/* ---- the signed-in citizen ----------------------------------------------------------------- */

static void iso_at(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int my_citizen_get(struct http_req *req, struct store *s, struct my_citizen *c)
{
    memset(c, 0, sizeof *c);
    const char *ck = http_req_header(req, "Cookie");
    char secret[SESSION_SECRET_LEN + 8];
    if (!ck || !session_cookie_get(ck, MY_COOKIE, secret, sizeof secret))
        return 0;
    char hash[SESSION_HASH_LEN + 1];
    session_hash(secret, hash);
    int rc = store_citizen_session_get(s, hash, &c->ss);
    if (rc == WEFT_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    char now[32], idle[32];
    audit_now(now);
    iso_at(time(NULL) - MY_IDLE_S, idle);
    if (strcmp(c->ss.expires, now) <= 0 || strcmp(c->ss.last_seen, idle) < 0) {
        c->expired = strcmp(c->ss.expires, now) <= 0
                         ? "You were signed out because you had been signed in for an hour."
                         : "You were signed out because you had not done anything for 15 "
                           "minutes.";
        store_citizen_session_revoke(s, hash);
        store_citizen_session_clear(&c->ss);
        http_reply_header(req, "Set-Cookie",
                          MY_COOKIE "=; Path=/my; HttpOnly; SameSite=Lax; Max-Age=0");
        return 0;
    }
    if ((rc = store_citizen_session_touch(s, hash, now)) != 0)
        return rc;
    c->signed_in = true;
    c->p9 = c->ss.ial && strcmp(c->ss.ial, MY_LEVEL_FOR_RECORD) == 0 && c->ss.person_id;
    c->p = (struct principal){.kind = PRINCIPAL_CITIZEN,
                              .user_id = c->ss.sub,
                              .purpose = "PATRQT",
                              .person_id = c->ss.person_id,
                              .session_id = c->ss.id_hash,
                              .request_id = req->request_id};
    return c->p9 ? my_proxy_attach(req, s, c) : 0; /* acting for someone (my_proxy.c) */
}

void my_citizen_clear(struct my_citizen *c)
{
    store_citizen_session_clear(&c->ss);
    store_proxy_grant_clear(&c->grant);
    memset(c, 0, sizeof *c);
}

/* ---- the frame ---------------------------------------------------------------------------------
 */

void my_page(struct http_req *req, int status, const char *title, const struct my_citizen *c,
             struct buf *body)
{
    struct buf b = BUF_INIT;
    html_addf(&b,
              "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              "<title>%s - Your health and care record</title>"
              "<link rel=\"stylesheet\" href=\"/assets/nhsuk-frontend.min.css\">"
              "<link rel=\"stylesheet\" href=\"/assets/weft.css\"></head><body>"
              "<a class=\"nhsuk-skip-link\" href=\"#maincontent\">Skip to main content</a>"
              "<header class=\"nhsuk-header\" role=\"banner\"><div class=\"nhsuk-header__container "
              "nhsuk-width-container\"><div class=\"nhsuk-header__service\">"
              "<a class=\"nhsuk-header__service-name weft-service-name\" href=\"/my\">Your health "
              "and care record</a></div></div></header>",
              title);
    if (c && c->signed_in) {
        html_raw(&b, "<nav class=\"weft-nav\" aria-label=\"Your record\"><div "
                     "class=\"nhsuk-width-container\"><ul><li><a href=\"/my\">Home</a></li>");
        /* a proxy is offered what the grant's scope allows */
        unsigned sc = c->proxy ? proxy_scope_parse(c->grant.scope) : ~0u;
        if (c->p9 && (sc & PROXY_SCOPE_VIEW))
            html_raw(&b, "<li><a href=\"/my/record\">Your record</a></li>"
                         "<li><a href=\"/my/viewers\">Who has viewed it</a></li>");
        if (c->p9 && !c->proxy) /* contributions are the person's own, never a proxy's */
            html_raw(&b, "<li><a href=\"/my/contribute\">Add to it</a></li>");
        if (c->p9 && (sc & PROXY_SCOPE_OBJECTION))
            html_raw(&b, "<li><a href=\"/my/objection\">Objecting to sharing</a></li>");
        if (c->p9 && (sc & PROXY_SCOPE_COPY))
            html_raw(&b, "<li><a href=\"/my/copy\">Get a copy</a></li>");
        html_raw(&b, "<li><a href=\"/my/about\">Opting out</a></li></ul></div></nav>");
    }
    html_raw(&b, "<div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" "
                 "id=\"maincontent\" role=\"main\">");
    if (c && c->signed_in)
        my_proxy_banner(&b, c);
    buf_add(&b, body->data, body->len);
    if (c && c->signed_in)
        html_addf(&b,
                  "<form method=\"post\" action=\"/my/logout\"><input type=\"hidden\" "
                  "name=\"csrf\" value=\"%s\"><button class=\"nhsuk-button "
                  "nhsuk-button--secondary\" type=\"submit\">Sign out</button></form>",
                  c->ss.csrf);
    html_raw(&b, "</main></div><footer role=\"contentinfo\" class=\"weft-footer\"><div "
                 "class=\"nhsuk-width-container\"><p class=\"nhsuk-body-s\">Every time someone "
                 "looks at your record it is recorded. Information comes from the organisations "
                 "named beside each item: contact them to correct it.</p></div></footer>"
                 "</body></html>\n");
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply_buf(req, status, "text/html; charset=utf-8", &b);
    buf_release(&b);
}

static int unavailable(struct http_req *req)
{
    struct buf body = BUF_INIT;
    html_raw(&body, "<h1>Sorry, there is a problem</h1><p>Try again in a few minutes.</p>");
    my_page(req, 503, "Sorry, there is a problem", NULL, &body);
    buf_release(&body);
    return 0;
}

/* The page for someone who is not signed in, or not proved to P9. */
static int need_p9(struct http_req *req, struct store *s, const struct my_citizen *c)
{
    struct buf body = BUF_INIT;
    if (!c->signed_in) {
        html_raw(&body, "<h1>Sign in to see your record</h1>");
        if (c->expired)
            html_addf(&body, "<p id=\"signed-out\">%s</p>", c->expired);
        html_raw(&body, "<p><a href=\"/my\">Sign in</a></p>");
        my_page(req, 401, "Sign in", c, &body);
    } else {
        if (c->ss.person_id)
            authz_audit_denial(s, &c->p, AUDIT_DENIAL, c->ss.person_id,
                               "citizen asked for the record without identity proofing P9");
        html_addf(&body,
                  "<h1>You cannot see your record yet</h1><p id=\"why-not-p9\">To see your "
                  "health record you need to prove who you are to the highest level (P9) with "
                  "NHS login. You have proved who you are to level %s.</p>"
                  "<p>You can do this in the NHS App or on the NHS login website, using photo ID. "
                  "Until then you can read the general pages, such as "
                  "<a href=\"/my/about\">how to opt out of sharing</a>.</p>",
                  c->ss.ial ? c->ss.ial : "unknown");
        my_page(req, 403, "You cannot see your record yet", c, &body);
    }
    buf_release(&body);
    return 0;
}

/* The signed-in citizen of req, proved to P9 and (acting as a proxy) with
 * the grant scope `need` over the record in view: true with *s and c filled
 * (the caller clears c); false when the page has been answered instead - a
 * 503, the sign-in page or the proxy's refusal - with c cleared. */
static bool my_open(struct http_req *req, struct store **s, struct my_citizen *c, unsigned need)
{
    *s = http_req_store(req);
    if (!*s || my_citizen_get(req, *s, c) != 0) {
        unavailable(req);
        return false;
    }
    if (!c->p9 || !my_proxy_gate(req, *s, c, need)) {
        if (!c->p9)
            need_p9(req, *s, c);
        my_citizen_clear(c);
        return false;
    }
    return true;
}

/* Parse a form body; check the CSRF token (and origin) of the session. */
static bool form_ok(struct http_req *req, struct store *s, const struct my_citizen *c,
                    struct url_kv **kv, int *n)
{
    *kv = NULL;
    *n = 0;
    url_query_parse(req->body.data ? req->body.data : "", req->body.len, kv, n, 32);
    const char *csrf = NULL;
    for (int i = 0; i < *n; i++)
        if (strcmp((*kv)[i].name, "csrf") == 0)
            csrf = (*kv)[i].value;
    const char *origin = http_req_header(req, "Origin"), *host = http_req_header(req, "Host");
    bool origin_ok = true;
    if (origin) {
        const char *o = strncmp(origin, "http://", 7) == 0    ? origin + 7
                        : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                              : NULL;
        origin_ok = o && host && strcmp(o, host) == 0;
    }
    if (c->signed_in && csrf && origin_ok && session_secret_equal(csrf, c->ss.csrf))
        return true;
    struct principal anon = {.kind = PRINCIPAL_CITIZEN, .request_id = req->request_id};
    authz_audit_denial(s, c->signed_in ? &c->p : &anon, AUDIT_ADMIN, c->ss.person_id,
                       "citizen form refused: missing or wrong CSRF token or cross-site request");
    struct buf body = BUF_INIT;
    html_raw(&body, "<h1>This form could not be accepted</h1><p id=\"csrf-refused\">It did not "
                    "come from your signed-in session. Go back to the page, reload it and try "
                    "again.</p>");
    my_page(req, 403, "This form could not be accepted", c, &body);
    buf_release(&body);
    return false;
}

bool my_form_ok(struct http_req *req, struct store *s, const struct my_citizen *c,
                struct url_kv **kv, int *n)
{
    return form_ok(req, s, c, kv, n);
}

/* ---- GET /my -----------------------------------------------------------------------------------
 */

static int page_home(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct my_citizen c;
    if (!s || my_citizen_get(req, s, &c) != 0)
        return unavailable(req);
    struct buf body = BUF_INIT;
    if (!c.signed_in) {
        html_raw(&body, "<h1>Your health and care record</h1>");
        if (c.expired)
            html_addf(&body, "<p id=\"signed-out\">%s</p>", c.expired);
        html_raw(&body, "<p>See the information that GPs, hospitals, community, mental health "
                        "and social care services in this area share about you, who has looked "
                        "at it, and ask for a copy.</p>");
        struct store_citizen_idp *idps = NULL;
        int n = 0;
        store_citizen_idp_list(s, &idps, &n);
        for (int i = 0; i < n; i++) {
            html_addf(&body,
                      "<p><a class=\"nhsuk-button\" id=\"signin-%s\" href=\"/my/login?idp=%s\">"
                      "Continue with NHS login</a></p>",
                      idps[i].name, idps[i].name);
            store_citizen_idp_clear(&idps[i]);
        }
        free(idps);
        if (n == 0)
            html_raw(&body, "<p>Signing in is not available yet.</p>");
        html_raw(&body, "<p><a href=\"/my/about\">How your information is shared and how to opt "
                        "out</a></p>");
    } else {
        html_raw(&body, "<h1>Your health and care record</h1>");
        if (!c.ss.person_id)
            html_raw(&body, "<p id=\"no-record\">You are signed in, but the record holds no "
                            "information under your NHS number.</p>");
        else if (!c.p9)
            html_addf(&body,
                      "<p id=\"why-not-p9\">To see your health record you need to prove who you "
                      "are to the highest level (P9) with NHS login. You have proved who you are "
                      "to level %s.</p>",
                      c.ss.ial ? c.ss.ial : "unknown");
        else
            html_raw(&body,
                     "<ul class=\"nhsuk-list\"><li><a href=\"/my/record\">See your record</a>"
                     "</li><li><a href=\"/my/contribute\">Add your own readings, preferences "
                     "and what matters to you</a></li>"
                     "<li><a href=\"/my/viewers\">See who has viewed your record</a></li>"
                     "<li><a href=\"/my/objection\">Object to your record being shared</a></li>"
                     "<li><a href=\"/my/copy\">Ask for a copy of your record</a></li></ul>");
        if (c.p.person_id && c.p9 &&
            (!c.proxy || (proxy_scope_parse(c.grant.scope) & PROXY_SCOPE_VIEW)) &&
            my_summary(s, &c, &body) != 0)
            html_raw(&body, "<p id=\"summary-error\">The summary of your record cannot be "
                            "shown just now. <a href=\"/my/record\">See your record</a>.</p>");
        if (c.p9)
            my_proxy_home(req, s, &c, &body); /* records held as a proxy */
        html_raw(&body, "<p><a href=\"/my/about\">How your information is shared and how to opt "
                        "out</a></p>");
    }
    my_page(req, 200, "Your health and care record", &c, &body);
    buf_release(&body);
    my_citizen_clear(&c);
    return 0;
}

/* ---- GET /my/record
 * ------------------------------------------------------------------------------ */

/* Labels of res's meta.security and meta.tag ("system|code") into b. */
static int labels_of(const json_t *res, struct buf *b, const char **out, int max)
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

/* Organisation names seen on one page (a record cites a handful). */
#define NAMES_MAX 32
struct org_names {
    int n;
    char *ods[NAMES_MAX], *name[NAMES_MAX];
};

static const char *org_name(struct org_names *nm, struct store *s, const char *ods)
{
    if (!ods)
        return "unknown organisation";
    if (strcmp(ods, CONTRIB_SOURCE) == 0) /* what the person added themself */
        return "You (entered by you)";
    for (int i = 0; i < nm->n; i++)
        if (strcmp(nm->ods[i], ods) == 0)
            return nm->name[i];
    struct store_org o = {0};
    char *name = xstrdup(store_org_get(s, ods, &o) == 0 && o.name ? o.name : ods);
    store_org_clear(&o);
    int slot = nm->n < NAMES_MAX ? nm->n++ : NAMES_MAX - 1;
    if (slot == NAMES_MAX - 1 && nm->ods[slot]) {
        free(nm->ods[slot]);
        free(nm->name[slot]);
    }
    nm->ods[slot] = xstrdup(ods);
    nm->name[slot] = name;
    return name;
}

static void org_names_free(struct org_names *nm)
{
    for (int i = 0; i < nm->n; i++) {
        free(nm->ods[i]);
        free(nm->name[i]);
    }
    nm->n = 0;
}

static int page_record(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s;
    struct my_citizen c;
    if (!my_open(req, &s, &c, PROXY_SCOPE_VIEW))
        return 0;
    struct access_read rd; /* the one scoped-read path (access/read.h) */
    int rc = access_read_open(&rd, s, &c.p, AUDIT_READ, c.p.person_id);
    const struct policy *pol = NULL;
    if (rc == 0 && rd.scope.allowed)
        rc = policy_current(s, &pol, NULL) == WEFT_ENOTFOUND ? 0 : rc;
    if (rc || !rd.scope.allowed) {
        access_read_close(&rd);
        my_citizen_clear(&c);
        return unavailable(req);
    }
    struct buf body = BUF_INIT, nav = BUF_INIT, what = BUF_INIT;
    html_addf(&body,
              "<h1>%s</h1><p>This is what the organisations caring for %s share in this record. "
              "Each item says where it came from.</p>",
              c.proxy ? "Their record" : "Your record", c.proxy ? "them" : "you");
    int ncat;
    const struct web_category *cats = web_categories(&ncat);
    int64_t shown = 0, withheld = 0, snapshot = 0;
    struct buf sections = BUF_INIT;
    struct org_names names = {0};
    for (int i = 0; rc == 0 && i < ncat; i++) {
        const char *cat1[1] = {cats[i].name};
        struct store_query q = {.person_id = c.p.person_id,
                                .categories = cat1,
                                .ncategories = 1,
                                .sort = STORE_SORT_DATE_DESC,
                                .snapshot = snapshot,
                                .limit = 200};
        struct store_result r = {0};
        if ((rc = access_read_search(&rd, &q, &r)) != 0)
            break;
        snapshot = r.snapshot;
        struct buf rows = BUF_INIT;
        int nrows = 0;
        for (int k = 0; k < r.nrows; k++) {
            const struct store_row *row = &r.rows[k];
            if (row->deleted)
                continue;
            json_t *res = json_loadb(row->json, row->json_len, 0, NULL);
            struct buf lb = BUF_INIT;
            const char *labels[32];
            int nl = json_is_object(res) ? labels_of(res, &lb, labels, 32) : 0;
            if (!json_is_object(res) || policy_citizen_withhold(pol, row->category, labels, nl)) {
                withheld++;
            } else {
                struct buf t = BUF_INIT, d = BUF_INIT, det = BUF_INIT;
                fmt_resource_title(&t, res);
                fmt_resource_detail(&det, res);
                const char *iso = fmt_resource_date(res);
                if (iso)
                    fmt_date(&d, iso, false);
                const char *from = org_name(&names, s, row->source_org);
                html_addf(&rows,
                          "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s</td>"
                          "<td class=\"nhsuk-table__cell\">%s%s%s</td>"
                          "<td class=\"nhsuk-table__cell\">%s</td></tr>",
                          d.len ? d.data : "date not recorded", t.data, det.len ? " - " : "",
                          det.data ? det.data : "", from);
                buf_release(&t);
                buf_release(&d);
                buf_release(&det);
                if (what.len < 4096)
                    buf_addf(&what, "%s%s/%s", what.len ? " " : "", row->type, row->id);
                nrows++;
                shown++;
            }
            buf_release(&lb);
            json_decref(res);
        }
        if (nrows) {
            html_addf(&nav, "<li><a href=\"#%s\">%s</a></li>", cats[i].name, cats[i].label);
            html_addf(&sections,
                      "<h2 id=\"%s\">%s</h2><table class=\"nhsuk-table\"><caption "
                      "class=\"nhsuk-u-visually-hidden\">%s</caption><thead><tr>"
                      "<th scope=\"col\">Date</th><th scope=\"col\">What</th>"
                      "<th scope=\"col\">From</th></tr></thead><tbody>",
                      cats[i].name, cats[i].label, cats[i].label);
            buf_add(&sections, rows.data, rows.len);
            html_raw(&sections, "</tbody></table>");
            if (r.next)
                html_raw(&sections, "<p>Only the 200 most recent items are shown here. "
                                    "<a href=\"/my/copy\">Ask for a copy</a> to see them all.</p>");
        }
        buf_release(&rows);
        store_result_clear(&r);
    }
    org_names_free(&names);
    if (rc) {
        access_read_close(&rd);
        buf_release(&body);
        buf_release(&nav);
        buf_release(&sections);
        buf_release(&what);
        my_citizen_clear(&c);
        return unavailable(req);
    }
    if (withheld)
        html_raw(&body, "<div class=\"nhsuk-inset-text\" id=\"withheld-notice\"><p>Some "
                        "information is not shown here. The law allows some information to be "
                        "kept from you, for example when it is about someone else or when "
                        "seeing it could cause serious harm. You can ask your GP practice about "
                        "it.</p></div>");
    if (shown == 0)
        html_raw(&body, "<p id=\"record-empty\">There is nothing in your record that can be shown "
                        "here.</p>");
    if (nav.len) {
        html_raw(&body, "<nav aria-label=\"Parts of your record\"><ul class=\"nhsuk-list\">");
        buf_add(&body, nav.data, nav.len);
        html_raw(&body, "</ul></nav>");
    }
    buf_add(&body, sections.data, sections.len);
    access_read_audit(&rd, what.data, shown);
    access_read_close(&rd);
    my_page(req, 200, "Your record", &c, &body);
    buf_release(&body);
    buf_release(&nav);
    buf_release(&sections);
    buf_release(&what);
    my_citizen_clear(&c);
    return 0;
}

/* ---- GET /my/viewers ----------------------------------------------------------------------------
 */

struct viewers {
    struct store *s;
    struct buf rows;
    int n;
    int nglass;
    struct {
        char user[96], org[16], until[32], code[48];
    } glass[32];
};

static int viewer_row(const struct store_audit_row *r, void *ctx)
{
    struct viewers *v = ctx;
    if (!r->action || !r->outcome || strcmp(r->outcome, AUDIT_OK) != 0)
        return 0; /* refused attempts are not views */
    if (strcmp(r->action, AUDIT_BREAK_GLASS) == 0 && v->nglass < 32) {
        const char *reason = r->reason ? r->reason : "";
        size_t n = strcspn(reason, ":");
        const char *u = strstr(reason, "(until ");
        snprintf(v->glass[v->nglass].user, 96, "%s", r->user_id ? r->user_id : "");
        snprintf(v->glass[v->nglass].org, 16, "%s", r->org ? r->org : "");
        snprintf(v->glass[v->nglass].code, 48, "%.*s", (int)(n < 47 ? n : 47), reason);
        snprintf(v->glass[v->nglass].until, 32, "%.24s", u ? u + 7 : "");
        v->nglass++;
        return 0;
    }
    if (strcmp(r->action, AUDIT_READ) != 0 && strcmp(r->action, AUDIT_SEARCH) != 0 &&
        strcmp(r->action, AUDIT_EXPORT) != 0)
        return 0;
    if (!r->org && r->client && strncmp(r->client, "citizen", 7) == 0)
        return 0;
    struct buf proxy_who = BUF_INIT; /* a proxy acting for the person (my_proxy.c) */
    const char *proxy_why = NULL;
    bool proxy = !r->org && my_proxy_viewer(v->s, r->client, r->purpose, &proxy_who, &proxy_why);
    const char *code = NULL;
    for (int i = v->nglass - 1; i >= 0 && !code; i--)
        if (r->user_id && r->org && strcmp(v->glass[i].user, r->user_id) == 0 &&
            strcmp(v->glass[i].org, r->org) == 0 && strcmp(r->time, v->glass[i].until) < 0)
            code = v->glass[i].code;
    bool self = !r->org && !r->client && r->user_id; /* the person, signed in */
    struct buf when = BUF_INIT;
    fmt_date(&when, r->time, true);
    struct store_org o = {0};
    const char *org = r->org  ? (store_org_get(v->s, r->org, &o) == 0 && o.name ? o.name : r->org)
                      : proxy ? proxy_who.data
                      : self  ? "You"
                              : "Records office (a copy or an administrative check)";
    const char *purpose = proxy                               ? proxy_why
                          : !r->purpose                       ? "not recorded"
                          : strcmp(r->purpose, "TREAT") == 0  ? "your care"
                          : strcmp(r->purpose, "ETREAT") == 0 ? "emergency care"
                          : strcmp(r->purpose, "PATRQT") == 0 ? "your own request"
                                                              : r->purpose;
    html_addf(&v->rows,
              "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">%s</td>"
              "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">",
              when.data, org, r->role ? r->role : "-", purpose);
    if (code || (r->purpose && strcmp(r->purpose, "ETREAT") == 0))
        html_addf(&v->rows, "<strong class=\"weft-emergency\">Emergency access%s%s</strong>",
                  code ? ": " : "", code ? code : "");
    html_raw(&v->rows, "</td></tr>");
    store_org_clear(&o);
    buf_release(&when);
    buf_release(&proxy_who);
    v->n++;
    return 0;
}

static int page_viewers(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s;
    struct my_citizen c;
    if (!my_open(req, &s, &c, PROXY_SCOPE_VIEW))
        return 0;
    struct viewers *v = xcalloc(1, sizeof *v);
    v->s = s;
    int rc = store_audit_person(s, c.p.person_id, viewer_row, v);
    if (rc) {
        buf_release(&v->rows);
        free(v);
        my_citizen_clear(&c);
        return unavailable(req);
    }
    struct buf body = BUF_INIT;
    html_raw(&body, "<h1>Who has viewed your record</h1><p>Every time someone looks at your "
                    "record it is recorded. Here is when, which organisation, their job role and "
                    "why. Emergency access is marked.</p>");
    if (v->n == 0)
        html_raw(&body, "<p id=\"no-views\">Nobody has viewed your record yet.</p>");
    else {
        html_raw(&body, "<table class=\"nhsuk-table\" id=\"viewers\"><caption "
                        "class=\"nhsuk-u-visually-hidden\">Views of your record</caption><thead>"
                        "<tr><th scope=\"col\">When</th><th scope=\"col\">Organisation</th>"
                        "<th scope=\"col\">Job role</th><th scope=\"col\">Why</th>"
                        "<th scope=\"col\">Emergency</th></tr></thead><tbody>");
        buf_add(&body, v->rows.data, v->rows.len);
        html_raw(&body, "</tbody></table>");
    }
    authz_audit_access(s, &c.p, AUDIT_READ, c.p.person_id, "access log of the record", v->n);
    my_page(req, 200, "Who has viewed your record", &c, &body);
    buf_release(&body);
    buf_release(&v->rows);
    free(v);
    my_citizen_clear(&c);
    return 0;
}

/* ---- /my/objection
 * -------------------------------------------------------------------------------- */

static int page_objection(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s;
    struct my_citizen c;
    if (!my_open(req, &s, &c, PROXY_SCOPE_OBJECTION))
        return 0;
    const char *message = NULL;
    int status = 200;
    if (strcmp(req->method, "POST") == 0) {
        struct url_kv *kv;
        int n;
        if (!form_ok(req, s, &c, &kv, &n)) {
            url_kv_free(kv, n);
            my_citizen_clear(&c);
            return 0;
        }
        const char *action = url_kv_get(kv, n, "action"), *why = NULL;
        int rc;
        if (action && strcmp(action, "withdraw") == 0) {
            long id = strtol(url_kv_get(kv, n, "id") ? url_kv_get(kv, n, "id") : "0", NULL, 10);
            rc = objection_withdraw(s, &c.p, id, NULL, &why);
            message =
                rc == 0 ? "Your objection has been withdrawn. Your record is shared again." : why;
        } else {
            int64_t id = 0;
            rc = objection_lodge(s, &c.p, c.p.person_id, url_kv_get(kv, n, "org"),
                                 url_kv_get(kv, n, "reason"), &id, &why);
            message = rc == 0 ? "Your objection has been sent. A clinician will decide it." : why;
        }
        if (rc)
            status = rc == WEFT_EINVAL || rc == WEFT_EEXIST || rc == WEFT_ECONFLICT ? 400 : 500;
        if (!message)
            message = "Something went wrong: try again";
        url_kv_free(kv, n);
    }
    struct store_objection *cases = NULL;
    int n = 0;
    if (store_objection_list(s, c.p.person_id, false, &cases, &n) != 0) {
        my_citizen_clear(&c);
        return unavailable(req);
    }
    char today[11];
    org_day(time(NULL), today);
    struct buf body = BUF_INIT;
    html_raw(&body, "<h1>Objecting to your record being shared</h1>");
    if (message)
        html_addf(&body, "<div class=\"nhsuk-inset-text\" id=\"objection-message\"><p>%s</p></div>",
                  message);
    html_raw(&body, "<p>You can object to the organisations caring for you sharing your "
                    "information through this record. A clinician looks at your reasons and "
                    "decides, usually within a month. While an objection is upheld, each "
                    "organisation sees only what it recorded itself, except in an emergency.</p>");
    bool open = false;
    for (int i = n - 1; i >= 0; i--) {
        const struct store_objection *o = &cases[i];
        struct buf lodged = BUF_INIT, due = BUF_INIT;
        fmt_date(&lodged, o->lodged, false);
        fmt_date(&due, o->due, false);
        const char *st = strcmp(o->status, "lodged") == 0   ? "waiting for a decision"
                         : strcmp(o->status, "upheld") == 0 ? "upheld: your record is not shared"
                         : strcmp(o->status, "not-upheld") == 0 ? "not upheld"
                         : strcmp(o->status, "withdrawn") == 0  ? "withdrawn"
                                                                : o->status;
        html_addf(&body,
                  "<div class=\"nhsuk-card\"><div class=\"nhsuk-card__content\">"
                  "<h2 class=\"nhsuk-card__heading\">Objection made on %s</h2>"
                  "<p class=\"objection-status\">Status: <strong>%s</strong></p>"
                  "<p>Your reason: %s</p>",
                  lodged.data, st, o->reason);
        if (strcmp(o->status, "lodged") == 0)
            html_addf(&body, "<p>A decision is due by %s.%s</p>", due.data,
                      objection_overdue(o, today) ? " <strong>It is overdue.</strong>" : "");
        if (o->rationale)
            html_addf(&body, "<p class=\"objection-rationale\">The clinician's reasons: %s</p>",
                      o->rationale);
        if (strcmp(o->status, "lodged") == 0 || strcmp(o->status, "upheld") == 0) {
            open = true;
            html_addf(&body,
                      "<form method=\"post\" action=\"/my/objection\"><input type=\"hidden\" "
                      "name=\"csrf\" value=\"%s\"><input type=\"hidden\" name=\"action\" "
                      "value=\"withdraw\"><input type=\"hidden\" name=\"id\" value=\"%lld\">"
                      "<button class=\"nhsuk-button nhsuk-button--secondary\" type=\"submit\" "
                      "id=\"withdraw\">Withdraw this objection</button></form>",
                      c.ss.csrf, (long long)o->id);
        }
        html_raw(&body, "</div></div>");
        buf_release(&lodged);
        buf_release(&due);
    }
    store_objections_free(cases, n);
    if (!open) {
        struct store_org *orgs = NULL;
        int norgs = 0;
        store_org_list(s, &orgs, &norgs);
        html_addf(&body,
                  "<h2>Make an objection</h2><form method=\"post\" action=\"/my/objection\">"
                  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                  "<div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"org\">Who "
                  "should consider it (usually your GP practice)</label><select "
                  "class=\"nhsuk-select\" id=\"org\" name=\"org\">",
                  c.ss.csrf);
        for (int i = 0; i < norgs; i++) {
            html_addf(&body, "<option value=\"%s\">%s</option>", orgs[i].ods, orgs[i].name);
            store_org_clear(&orgs[i]);
        }
        free(orgs);
        html_raw(&body, "</select></div><div class=\"nhsuk-form-group\"><label "
                        "class=\"nhsuk-label\" for=\"reason\">Why do you object?</label>"
                        "<textarea class=\"nhsuk-textarea\" id=\"reason\" name=\"reason\" "
                        "rows=\"4\" maxlength=\"2000\"></textarea></div><button "
                        "class=\"nhsuk-button\" type=\"submit\" id=\"lodge\">Send my "
                        "objection</button></form>");
    }
    my_page(req, status, "Objecting to sharing", &c, &body);
    buf_release(&body);
    my_citizen_clear(&c);
    return 0;
}

/* ---- /my/copy
 * -------------------------------------------------------------------------------------- */

static int page_copy(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s;
    struct my_citizen c;
    if (!my_open(req, &s, &c, PROXY_SCOPE_COPY))
        return 0;
    const char *message = NULL;
    if (strcmp(req->method, "POST") == 0) {
        struct url_kv *kv;
        int n;
        bool ok = form_ok(req, s, &c, &kv, &n);
        url_kv_free(kv, n);
        if (!ok) {
            my_citizen_clear(&c);
            return 0;
        }
        char today[11];
        org_day(time(NULL), today);
        int64_t id = 0;
        const char *why = NULL;
        message = sar_create(s, &c.p, c.p.person_id, today, &id, &why) == 0
                      ? "Your request has been sent. We will answer within one month."
                      : "Your request could not be sent: try again";
    }
    struct store_sar *rows = NULL;
    int n = 0;
    if (store_sar_list(s, c.p.person_id, &rows, &n) != 0) {
        my_citizen_clear(&c);
        return unavailable(req);
    }
    struct buf body = BUF_INIT;
    html_raw(&body, "<h1>Get a copy of your record</h1>");
    if (message)
        html_addf(&body, "<div class=\"nhsuk-inset-text\" id=\"copy-message\"><p>%s</p></div>",
                  message);
    html_raw(&body, "<p>You have the right to a copy of the information held about you. It is "
                    "free. We must answer within one month; if your record is very large or "
                    "complicated we may take up to two more months, and will tell you why.</p>");
    if (n) {
        html_raw(&body, "<table class=\"nhsuk-table\" id=\"copies\"><caption "
                        "class=\"nhsuk-u-visually-hidden\">Your requests</caption><thead><tr>"
                        "<th scope=\"col\">Asked on</th><th scope=\"col\">Due by</th>"
                        "<th scope=\"col\">Progress</th></tr></thead><tbody>");
        for (int i = 0; i < n; i++) {
            struct buf rec = BUF_INIT, due = BUF_INIT;
            fmt_date(&rec, rows[i].received, false);
            fmt_date(&due, rows[i].due, false);
            bool ready = strcmp(rows[i].status, "completed") == 0 && rows[i].package;
            const char *st = ready ? "ready"
                             : strcmp(rows[i].status, "extended") == 0
                                 ? "being prepared (more time needed)"
                                 : "being prepared";
            html_addf(&body,
                      "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">%s</td>"
                      "<td class=\"nhsuk-table__cell\">%s</td><td class=\"nhsuk-table__cell\">"
                      "%s%s%s",
                      rec.data, due.data, st, rows[i].extension_reason ? ": " : "",
                      rows[i].extension_reason ? rows[i].extension_reason : "");
            if (ready)
                html_addf(&body,
                          ": <a class=\"copy-ready\" href=\"/my/copy/%lld/record.html\">read "
                          "your copy</a>, <a href=\"/my/copy/%lld/record.json\">download it as "
                          "data (FHIR)</a>, <a href=\"/my/copy/%lld/access-log.csv\">download who "
                          "has looked at it</a>",
                          (long long)rows[i].id, (long long)rows[i].id, (long long)rows[i].id);
            html_raw(&body, "</td></tr>");
            buf_release(&rec);
            buf_release(&due);
        }
        html_raw(&body, "</tbody></table>");
    }
    store_sars_free(rows, n);
    html_addf(&body,
              "<form method=\"post\" action=\"/my/copy\"><input type=\"hidden\" name=\"csrf\" "
              "value=\"%s\"><button class=\"nhsuk-button\" type=\"submit\" id=\"ask-copy\">Ask "
              "for a copy</button></form>",
              c.ss.csrf);
    my_page(req, 200, "Get a copy of your record", &c, &body);
    buf_release(&body);
    my_citizen_clear(&c);
    return 0;
}

/* GET /my/copy/{id}/{file}: a finished copy's files (never the reviewer's note). */
static int page_copy_file(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s;
    struct my_citizen c;
    if (!my_open(req, &s, &c, PROXY_SCOPE_COPY))
        return 0;
    static const char *const files[][2] = {{"record.html", "text/html; charset=utf-8"},
                                           {"record.json", "application/fhir+json"},
                                           {"access-log.csv", "text/csv; charset=utf-8"}};
    const char *file = http_req_param(req, "file"), *type = NULL;
    for (int i = 0; i < 3; i++)
        if (file && strcmp(file, files[i][0]) == 0)
            type = files[i][1];
    char *end = NULL;
    const char *ids = http_req_param(req, "id");
    long long id = ids ? strtoll(ids, &end, 10) : 0;
    struct store_sar r = {0};
    bool mine = type && end && !*end && id > 0 && store_sar_get(s, id, &r) == 0 &&
                strcmp(r.person_id, c.p.person_id) == 0 && strcmp(r.status, "completed") == 0 &&
                r.package;
    int fd = -1;
    struct stat sb;
    if (mine) {
        struct buf path = BUF_INIT;
        buf_addf(&path, "%s/%s", r.package, file);
        fd = open(path.data, O_RDONLY | O_CLOEXEC);
        buf_release(&path);
        if (fd >= 0 && fstat(fd, &sb) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        struct buf body = BUF_INIT;
        html_raw(&body, "<h1>That copy is not available</h1><p>It may not be ready yet. See "
                        "<a href=\"/my/copy\">your requests</a>.</p>");
        my_page(req, 404, "Not available", &c, &body);
        buf_release(&body);
    } else {
        struct buf what = BUF_INIT;
        buf_addf(&what, "subject-access-request %lld: %s downloaded", id, file);
        authz_audit_access(s, &c.p, AUDIT_EXPORT, c.p.person_id, what.data, -1);
        buf_release(&what);
        if (strcmp(file, "record.html") != 0) {
            struct buf cd = BUF_INIT;
            buf_addf(&cd, "attachment; filename=\"%s\"", file);
            http_reply_header(req, "Content-Disposition", cd.data);
            buf_release(&cd);
        }
        http_reply_header(req, "Cache-Control", "no-store");
        http_reply_file(req, 200, type, fd, (uint64_t)sb.st_size);
    }
    store_sar_clear(&r);
    my_citizen_clear(&c);
    return 0;
}

/* ---- /my/about, /my/logout
 * ---------------------------------------------------------------------------- */

static int page_about(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct my_citizen c;
    if (!s || my_citizen_get(req, s, &c) != 0)
        return unavailable(req);
    struct buf body = BUF_INIT;
    html_raw(
        &body,
        "<h1>How your information is shared, and how to opt out</h1>"
        "<h2>This shared care record</h2><p>GPs, hospitals, community and mental health "
        "services and social care in this area share information about you here so that the "
        "people caring for you can see it. Only staff caring for you can open your record, and "
        "every time they do it is recorded. You can object to this sharing: a clinician will "
        "consider your reasons.</p>"
        "<h2 id=\"national-opt-out\">The national data opt-out</h2><p>The national data opt-out "
        "is about your information being used for research and planning, not for your own "
        "care. It is set nationally, not here: you can set it in the NHS App, on the NHS "
        "website (nhs.uk/your-nhs-data-matters) or by calling 0300 303 5678. It does not stop "
        "the people caring for you seeing this record.</p>"
        "<h2 id=\"summary-care-record\">The Summary Care Record</h2><p>The Summary Care Record "
        "is a separate, national record of your medicines, allergies and bad reactions. Opting "
        "out of the Summary Care Record does not opt you out of this shared care record. To "
        "stop this record being shared, make an objection here or ask your GP practice.</p>");
    my_page(req, 200, "How your information is shared", &c, &body);
    buf_release(&body);
    my_citizen_clear(&c);
    return 0;
}

static int page_logout(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct my_citizen c;
    if (!s || my_citizen_get(req, s, &c) != 0)
        return unavailable(req);
    struct url_kv *kv;
    int n;
    bool ok = form_ok(req, s, &c, &kv, &n);
    url_kv_free(kv, n);
    if (ok) {
        store_citizen_session_revoke(s, c.ss.id_hash);
        http_reply_header(req, "Set-Cookie",
                          MY_COOKIE "=; Path=/my; HttpOnly; SameSite=Lax; Max-Age=0");
        my_proxy_leave(req, &c);
        http_reply_header(req, "Location", "/my");
        http_reply(req, 303, "text/plain", "", 0);
    }
    my_citizen_clear(&c);
    return 0;
}

/* ---- shared with the other /my/ files (my_int.h) ------------------------------------------ */

int my_unavailable(struct http_req *req)
{
    return unavailable(req);
}

int my_need_p9(struct http_req *req, struct store *s, const struct my_citizen *c)
{
    return need_p9(req, s, c);
}

const char *my_kv_get(const struct url_kv *kv, int n, const char *name)
{
    return url_kv_get(kv, n, name);
}

/* ---- the serve part
 * ------------------------------------------------------------------------------------- */

int my_serve_start(const struct serve_ctx *ctx, void **state)
{
    *state = NULL;
    static const struct http_route_def routes[] = {
        {"GET", "/my", page_home, 0},
        {"GET", "/my/login", my_login, 0},
        {"GET", "/my/callback", my_callback, 0},
        {"GET", "/my/record", page_record, 0},
        {"GET", "/my/viewers", page_viewers, 0},
        {"GET", "/my/objection", page_objection, 0},
        {"POST", "/my/objection", page_objection, 0},
        {"GET", "/my/copy", page_copy, 0},
        {"POST", "/my/copy", page_copy, 0},
        {"GET", "/my/copy/{id}/{file}", page_copy_file, 0},
        {"GET", "/my/about", page_about, 0},
        {"GET", "/my/contribute", my_contribute_page, 0},
        {"POST", "/my/contribute", my_contribute_page, 0},
        {"POST", "/my/logout", page_logout, 0},
        {"POST", "/my/switch", my_proxy_switch, 0},
    };
    return http_routes_add(ctx->http, routes, sizeof routes / sizeof routes[0], NULL);
}

void my_serve_stop(const struct serve_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
}
