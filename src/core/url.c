/*
 * url.c - percent-encoding and query strings (see url.h).
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/url.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *url_decode(const char *s, size_t len, bool plus)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus) {
            out[o++] = ' ';
        } else if (c == 0) {
            free(out);
            return NULL;
        } else {
            out[o++] = c;
        }
    }
    out[o] = 0;
    return out;
}

void url_encode_n(struct buf *b, const char *s, size_t n)
{
    assert(s || n == 0);
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_addc(b, (char)c);
        } else {
            buf_addc(b, '%');
            buf_addc(b, hex[c >> 4]);
            buf_addc(b, hex[c & 15]);
        }
    }
}

void url_encode(struct buf *b, const char *s)
{
    url_encode_n(b, s, strlen(s));
}

int url_query_parse(const char *q, size_t len, struct url_kv **args, int *nargs, int max)
{
    assert((q || len == 0) && args && nargs && *nargs >= 0 && (*nargs == 0 || *args));
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
            if (*nargs >= max)
                return WEFT_ETOOBIG;
            const char *eq = memchr(q + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (q + i)) : j - i;
            char *k = url_decode(q + i, klen, true);
            char *v = eq ? url_decode(eq + 1, (size_t)(q + j - eq - 1), true) : xstrdup("");
            if (!k || !v) {
                free(k);
                free(v);
                return WEFT_EINVAL;
            }
            *args = xrealloc(*args, sizeof **args * (size_t)(*nargs + 1));
            (*args)[*nargs].name = k;
            (*args)[*nargs].value = v;
            (*nargs)++;
        }
        i = j + 1;
    }
    return WEFT_OK;
}

void url_kv_free(struct url_kv *args, int n)
{
    for (int i = 0; i < n; i++) {
        free(args[i].name);
        free(args[i].value);
    }
    free(args);
}

const char *url_kv_get(const struct url_kv *args, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(args[i].name, name) == 0)
            return args[i].value;
    return NULL;
}
