/*
 * admin_form.c - what every staff page with a form shares (admin.h): the
 * hidden CSRF field, the redirect after a POST, and reading a posted form
 * with its CSRF token checked (access_form_check).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "access/access_serve.h"
#include "core/buf.h"
#include "core/url.h"
#include "http/server.h"
#include "web/admin.h"
#include "web/html.h"
#include "web/web_int.h"

void web_admin_csrf_field(struct buf *b, struct http_req *req)
{
    char *tok = access_csrf_token(req);
    html_addf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok ? tok : "");
    free(tok);
}

void web_admin_redirect(struct http_req *req, const char *to)
{
    http_reply_header(req, "Location", to);
    http_reply(req, 303, "text/plain", "", 0);
}

bool web_admin_form_read(struct http_req *req, struct url_kv **kv, int *n)
{
    *kv = NULL;
    *n = 0;
    if (url_query_parse(req->body.data, req->body.len, kv, n, 16) != 0) {
        url_kv_free(*kv, *n);
        *kv = NULL;
        *n = 0;
        web_error_page(req, 400, "Sorry, the form could not be read",
                       "The information sent was not in the expected form. Nothing was recorded.",
                       "Go back and fill in the form again.");
        return false;
    }
    if (access_form_check(req, url_kv_get(*kv, *n, "csrf")) != 0) {
        url_kv_free(*kv, *n);
        *kv = NULL;
        *n = 0;
        return false;
    }
    return true;
}
