/*
 * app.c - registered SMART apps (see app.h).
 */
#include <stdlib.h>
#include <string.h>

#include "access/app.h"
#include "core/buf.h"
#include "store/apps.h"

bool app_client_id_valid(const char *id)
{
    size_t n = 0;
    if (!id)
        return false;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= APP_CLIENT_ID_MAX;
}

static bool loopback_host(const char *h, size_t n)
{
    static const char *const ok[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (n == strlen(ok[i]) && memcmp(h, ok[i], n) == 0)
            return true;
    return false;
}

bool app_redirect_uri_valid(const char *uri, const char **why)
{
    *why = NULL;
    size_t n = uri ? strlen(uri) : 0;
    if (n == 0 || n > APP_REDIRECT_URI_MAX) {
        *why = "a redirect URI must be 1-2000 characters";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c)) {
            *why = "a redirect URI is printable ASCII without spaces, line breaks or \"<>\\^`{|}";
            return false;
        }
    }
    if (strchr(uri, '#')) {
        *why = "a redirect URI may not have a fragment (#)";
        return false;
    }
    const char *rest;
    bool https = strncmp(uri, "https://", 8) == 0;
    if (https)
        rest = uri + 8;
    else if (strncmp(uri, "http://", 7) == 0)
        rest = uri + 7;
    else {
        *why = "a redirect URI must start with https:// (http:// only for localhost)";
        return false;
    }
    size_t alen = strcspn(rest, "/?");
    if (memchr(rest, '@', alen)) {
        *why = "a redirect URI may not carry user information (user@host)";
        return false;
    }
    /* the host, without a port */
    size_t hlen = alen;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', alen);
        hlen = close ? (size_t)(close - rest) + 1 : alen;
    } else {
        const char *colon = memchr(rest, ':', alen);
        if (colon)
            hlen = (size_t)(colon - rest);
    }
    if (hlen == 0) {
        *why = "a redirect URI must name a host";
        return false;
    }
    if (!https && !loopback_host(rest, hlen)) {
        *why = "a redirect URI must use https:// (http:// only for localhost)";
        return false;
    }
    return true;
}

bool app_redirect_uri_registered(const struct store_app *a, const char *uri)
{
    if (!a->redirect_uris || !uri)
        return false;
    size_t n = strlen(uri);
    const char *p = a->redirect_uris;
    while (*p) {
        size_t len = strcspn(p, "\n");
        if (len == n && memcmp(p, uri, n) == 0)
            return true;
        p += len;
        if (*p == '\n')
            p++;
    }
    return false;
}

/* Is the scope s[0..n) one of the space-separated list? */
static bool in_list(const char *list, const char *s, size_t n)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && len > 0 && memcmp(p, s, n) == 0)
            return true;
        p += len;
    }
    return false;
}

char *app_scopes_allowed(const struct store_app *a, const char *granted)
{
    if (!granted)
        return NULL;
    if (!a->scopes || !*a->scopes)
        return xstrdup(granted);
    struct buf b = BUF_INIT;
    const char *p = granted;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len && in_list(a->scopes, p, len)) {
            if (b.len)
                buf_addc(&b, ' ');
            buf_add(&b, p, len);
        }
        p += len;
    }
    if (b.len == 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}
