/*
 * access_pages.c - the pages the access module answers browsers with
 * (access/access_serve.h struct access_pages), rendered here with the shared
 * layout so that every HTML page of Weft comes from src/web: a message page
 * (a refused or failed launch, "no shared record for this person", signed
 * out) and the SMART app's consent page.  web_serve_start registers them.
 */
#include <stdio.h>
#include <string.h>

#include "access/access_serve.h"
#include "core/buf.h"
#include "http/server.h"
#include "web/html.h"
#include "web/web.h"
#include "web/web_int.h"

#define SERVICE "Weft shared care record"

static void message(struct http_req *req, int status, const char *title, const char *what,
                    const char *todo)
{
    if (todo) {
        web_error_page(req, status, title, what, todo);
        return;
    }
    struct buf b = BUF_INIT;
    http_req_reason(req, title);
    web_frame_begin(&b, SERVICE, title);
    html_addf(&b, "<h1>%s</h1><p>%s</p>", title, what);
    web_frame_end(&b);
    web_security_headers(req);
    http_reply_buf(req, status, "text/html; charset=utf-8", &b);
}

/* One granted scope, "patient/Type.rs", in words. */
static void scope_words(struct buf *b, const char *scope, size_t n)
{
    if (n < 9 || strncmp(scope, "patient/", 8) != 0)
        return;
    const char *type = scope + 8;
    const char *dot = memchr(type, '.', n - 8);
    int tlen = (int)(dot ? (size_t)(dot - type) : n - 8);
    if (tlen == 1 && type[0] == '*')
        html_raw(b, "<li>everything in this patient's shared record that you may see");
    else
        html_addf(b, "<li>this patient's %.*s records that you may see", tlen, type);
    html_addf(b, " (read only; <code>%.*s</code>)</li>", (int)n, scope);
}

static void consent(struct http_req *req, const struct access_consent *c)
{
    struct buf b = BUF_INIT, title = BUF_INIT;
    buf_addf(&title, "Allow %s to read this patient's record?", c->app_name);
    web_frame_begin(&b, SERVICE, title.data);
    html_addf(&b,
              "<h1>%s</h1><p>The app <strong>%s</strong> (client id <code>%s</code>) asks to "
              "read, as you, for the next hour at most:</p><ul>",
              title.data, c->app_name, c->client_id);
    for (const char *p = c->granted ? c->granted : ""; *p;) {
        size_t n = strcspn(p, " ");
        scope_words(&b, p, n);
        p += n;
        while (*p == ' ')
            p++;
    }
    html_addf(&b,
              "</ul><p>It will be sent to <code>%s</code>. It cannot change anything, and "
              "everything it reads is recorded as read by you.</p>"
              "<form method=\"post\" action=\"/oauth/authorize\">",
              c->redirect_uri);
    for (int i = 0; i < c->nfields; i++)
        if (c->field_values[i])
            html_addf(&b, "<input type=\"hidden\" name=\"%s\" value=\"%s\">", c->field_names[i],
                      c->field_values[i]);
    html_raw(&b, "<button class=\"nhsuk-button\" type=\"submit\" name=\"decision\" "
                 "value=\"allow\" id=\"app-allow\">Allow</button> <button class=\"nhsuk-button "
                 "nhsuk-button--secondary\" type=\"submit\" name=\"decision\" value=\"deny\" "
                 "id=\"app-deny\">Do not allow</button></form>");
    web_frame_end(&b);
    buf_release(&title);
    web_security_headers(req);
    http_reply_buf(req, 200, "text/html; charset=utf-8", &b);
}

static const struct access_pages pages = {.message = message, .consent = consent};

void web_access_pages_register(void)
{
    access_pages_set(&pages);
}
