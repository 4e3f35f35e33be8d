/*
 * my_proxy.c - proxy access on the citizen's pages (issue 17; see
 * access/proxy.h for the rules): a signed-in citizen proved to P9 who holds
 * a proxy grant for someone sees "records you can view" on their home page
 * and switches between their own record and the other person's
 * (POST /my/switch, CSRF-checked).  The choice is a cookie naming the grant;
 * it selects, it never authorises: every request reads the grant again
 * (proxy_check, and authz_scope_for_person for the record itself), so a
 * revoked or expired grant is refused at once with a clear page, audited,
 * and the citizen is back on their own record.
 *
 * While acting, every page shows a banner naming whose record it is, the
 * menu offers only what the grant's scope allows, and the principal carries
 * the grant (audit: client "proxy-grant:ID", purpose from the basis).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "access/proxy.h"
#include "access/session.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "identity/nhs.h"
#include "web/html.h"
#include "web/my_int.h"
#include "store/proxy.h"

#define AS_CLEAR MY_AS_COOKIE "=; Path=/my; HttpOnly; SameSite=Lax; Max-Age=0"

/* How the person of grant g is named: "Sam Citizen's record" or "the record
 * of NHS number 999 000 0000" (into out, as text to escape). */
static void record_of(struct buf *out, const struct store_proxy_grant *g)
{
    char fmt[13];
    if (g->name && *g->name)
        buf_addf(out, "%s's record", g->name);
    else
        buf_addf(out, "the record of NHS number %s", nhs_number_format(g->nhs, fmt) ? fmt : g->nhs);
}

static void act_as_self(struct my_citizen *c)
{
    if (c->proxy) {
        c->p.person_id = c->p.proxy_person_id;
        c->p.proxy_person_id = NULL;
        c->p.proxy_grant = 0;
        c->p.purpose = "PATRQT";
        c->p.client_name = NULL;
    }
    c->proxy = false;
}

int my_proxy_attach(struct http_req *req, struct store *s, struct my_citizen *c)
{
    const char *ck = http_req_header(req, "Cookie");
    char val[32];
    if (!ck || !session_cookie_get(ck, MY_AS_COOKIE, val, sizeof val) || !c->ss.person_id)
        return 0;
    char *end = NULL;
    long long id = strtoll(val, &end, 10);
    int rc = id > 0 && end && !*end ? store_proxy_grant_get(s, id, &c->grant) : WEFT_ENOTFOUND;
    if (rc == 0 && strcmp(c->grant.proxy_person_id, c->ss.person_id) == 0) {
        proxy_principal(&c->p, &c->grant, c->proxy_client);
        c->proxy = true;
        return 0;
    }
    /* not this citizen's grant (another person signed in on this browser),
     * or gone: forget the choice */
    store_proxy_grant_clear(&c->grant);
    http_reply_header(req, "Set-Cookie", AS_CLEAR);
    return rc == WEFT_ENOTFOUND || rc == 0 ? 0 : rc;
}

void my_proxy_leave(struct http_req *req, struct my_citizen *c)
{
    http_reply_header(req, "Set-Cookie", AS_CLEAR);
    act_as_self(c);
}

bool my_proxy_gate(struct http_req *req, struct store *s, struct my_citizen *c, unsigned need)
{
    if (!c->proxy)
        return true;
    const char *why = NULL;
    int rc = proxy_check(s, &c->p, need, &why);
    if (rc == 0)
        return true;
    struct buf body = BUF_INIT, whose = BUF_INIT;
    record_of(&whose, &c->grant);
    char today[11];
    org_day(time(NULL), today);
    bool ended = rc == WEFT_EDENIED && proxy_grant_ended(&c->grant, today) != NULL;
    if (rc != WEFT_EDENIED) {
        html_raw(&body, "<h1>Sorry, there is a problem</h1><p>Try again in a few minutes.</p>");
    } else if (ended) {
        /* the grant no longer works at all: back to their own record */
        html_addf(&body,
                  "<h1>You can no longer view this record</h1><p id=\"proxy-refused\">%s</p>"
                  "<p>You were viewing %s as their proxy. If you still need access, ask the GP "
                  "practice.</p>",
                  why, whose.data);
        my_proxy_leave(req, c);
    } else {
        html_addf(&body, "<h1>You cannot do this as a proxy</h1><p id=\"proxy-refused\">%s</p>",
                  why);
    }
    html_raw(&body, "<p><a href=\"/my\">Go to the home page</a></p>");
    my_page(req, rc == WEFT_EDENIED ? 403 : 503, "You cannot do this", c, &body);
    buf_release(&body);
    buf_release(&whose);
    return false;
}

void my_proxy_banner(struct buf *b, const struct my_citizen *c)
{
    if (!c->proxy)
        return;
    struct buf whose = BUF_INIT;
    record_of(&whose, &c->grant);
    html_addf(b,
              "<div class=\"nhsuk-warning-callout\" id=\"proxy-banner\"><h2 "
              "class=\"nhsuk-warning-callout__label\"><span role=\"text\">Acting as a proxy"
              "</span></h2><p>You are viewing %s as their proxy.</p>"
              "<form method=\"post\" action=\"/my/switch\"><input type=\"hidden\" name=\"csrf\" "
              "value=\"%s\"><input type=\"hidden\" name=\"grant\" value=\"0\"><button "
              "class=\"nhsuk-button nhsuk-button--secondary\" type=\"submit\" "
              "id=\"switch-own\">Go back to your own record</button></form></div>",
              whose.data, c->ss.csrf);
    buf_release(&whose);
}

void my_proxy_home(struct http_req *req, struct store *s, struct my_citizen *c, struct buf *body)
{
    char today[11];
    org_day(time(NULL), today);
    if (c->proxy && proxy_check(s, &c->p, 0, &c->proxy_ended) != 0) {
        struct buf whose = BUF_INIT;
        record_of(&whose, &c->grant);
        html_addf(body,
                  "<div class=\"nhsuk-inset-text\" id=\"proxy-ended\"><p>%s You were viewing "
                  "%s.</p></div>",
                  c->proxy_ended ? c->proxy_ended : "Your proxy access could not be checked.",
                  whose.data);
        buf_release(&whose);
        my_proxy_leave(req, c);
    }
    if (!c->ss.person_id)
        return;
    struct store_proxy_grant *g = NULL;
    int n = 0;
    if (store_proxy_grant_list(s, c->ss.person_id, &g, &n) != 0)
        return;
    int shown = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(g[i].proxy_person_id, c->ss.person_id) != 0 || proxy_grant_ended(&g[i], today))
            continue;
        if (shown++ == 0)
            html_raw(body, "<h2 id=\"records-you-can-view\">Records you can view</h2><p>You can "
                           "act for these people as their proxy.</p><ul class=\"nhsuk-list\">");
        struct buf whose = BUF_INIT;
        record_of(&whose, &g[i]);
        bool current = c->proxy && c->grant.id == g[i].id;
        html_addf(body,
                  "<li><form method=\"post\" action=\"/my/switch\"><input type=\"hidden\" "
                  "name=\"csrf\" value=\"%s\"><input type=\"hidden\" name=\"grant\" "
                  "value=\"%lld\"><button class=\"nhsuk-button nhsuk-button--secondary\" "
                  "type=\"submit\" id=\"switch-%lld\"%s>View %s</button></form> (until %s)</li>",
                  c->ss.csrf, (long long)g[i].id, (long long)g[i].id, current ? " disabled" : "",
                  whose.data, g[i].until);
        buf_release(&whose);
    }
    if (shown) {
        if (c->proxy)
            html_addf(body,
                      "<li><form method=\"post\" action=\"/my/switch\"><input type=\"hidden\" "
                      "name=\"csrf\" value=\"%s\"><input type=\"hidden\" name=\"grant\" "
                      "value=\"0\"><button class=\"nhsuk-button nhsuk-button--secondary\" "
                      "type=\"submit\">View your own record</button></form></li>",
                      c->ss.csrf);
        html_raw(body, "</ul>");
    }
    store_proxy_grants_free(g, n);
}

int my_proxy_switch(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    struct my_citizen c;
    if (!s || my_citizen_get(req, s, &c) != 0) {
        http_reply_error(req, 503, "the store is not available");
        return 0;
    }
    struct url_kv *kv = NULL;
    int n = 0;
    if (!my_form_ok(req, s, &c, &kv, &n)) {
        url_kv_free(kv, n);
        my_citizen_clear(&c);
        return 0;
    }
    const char *gs = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].name, "grant") == 0)
            gs = kv[i].value;
    char *end = NULL;
    long long id = gs ? strtoll(gs, &end, 10) : 0;
    bool bad = !gs || !end || *end || id < 0;
    url_kv_free(kv, n);
    act_as_self(&c);
    store_proxy_grant_clear(&c.grant);
    if (!c.p9 || bad || id == 0) {
        http_reply_header(req, "Set-Cookie", AS_CLEAR);
        http_reply_header(req, "Location", "/my");
        http_reply(req, 303, "text/plain", "", 0);
        my_citizen_clear(&c);
        return 0;
    }
    int rc = store_proxy_grant_get(s, id, &c.grant);
    bool theirs = rc == 0 && strcmp(c.grant.proxy_person_id, c.ss.person_id) == 0;
    if (theirs) {
        proxy_principal(&c.p, &c.grant, c.proxy_client);
        c.proxy = true;
    }
    if (rc != 0 && rc != WEFT_ENOTFOUND) {
        http_reply_error(req, 503, "the store is not available");
    } else if (!theirs) {
        /* someone else's grant, or none: nothing about it is shown; the
         * refusal is audited by proxy_check as a grant for nobody */
        store_proxy_grant_clear(&c.grant);
        struct principal p = c.p;
        p.proxy_grant = id;
        p.proxy_person_id = c.ss.person_id;
        const char *why = NULL;
        proxy_check(s, &p, 0, &why);
        struct buf body = BUF_INIT;
        html_addf(&body,
                  "<h1>You cannot view this record</h1><p id=\"proxy-refused\">%s</p><p><a "
                  "href=\"/my\">Go to the home page</a></p>",
                  why ? why : "You do not have proxy access to this record.");
        http_reply_header(req, "Set-Cookie", AS_CLEAR);
        my_page(req, 403, "You cannot view this record", &c, &body);
        buf_release(&body);
    } else if (my_proxy_gate(req, s, &c, 0)) {
        struct buf cookie = BUF_INIT;
        buf_addf(&cookie, MY_AS_COOKIE "=%lld; Path=/my; HttpOnly; SameSite=Lax; Max-Age=%d", id,
                 MY_ABSOLUTE_S);
        http_reply_header(req, "Set-Cookie", cookie.data);
        buf_release(&cookie);
        http_reply_header(req, "Location", "/my");
        http_reply(req, 303, "text/plain", "", 0);
    }
    my_citizen_clear(&c);
    return 0;
}

bool my_proxy_viewer(struct store *s, const char *client, const char *purpose, struct buf *who,
                     const char **why)
{
    if (!client || strncmp(client, "proxy-grant:", 12) != 0)
        return false;
    struct store_proxy_grant g;
    char fmt[13];
    if (store_proxy_grant_get(s, strtoll(client + 12, NULL, 10), &g) == 0) {
        buf_addf(who, "Your proxy (NHS number %s)",
                 nhs_number_format(g.proxy_nhs, fmt) ? fmt : g.proxy_nhs);
        store_proxy_grant_clear(&g);
    } else {
        buf_adds(who, "Your proxy");
    }
    *why = !purpose                          ? "acting for you as your proxy"
           : strcmp(purpose, "FAMRQT") == 0  ? "a parent acting for you"
           : strcmp(purpose, "SUPNWK") == 0  ? "a carer acting for you with your consent"
           : strcmp(purpose, "PWATRNY") == 0 ? "your attorney (lasting power of attorney)"
                                             : "acting for you as your proxy";
    return true;
}
