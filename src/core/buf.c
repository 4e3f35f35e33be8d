/*
 * buf.c - the growable buffer of buf.h.  Capacity doubles, so appending n
 * bytes in total costs O(n) amortised.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

char buf_empty[1];

/* The invariant every function keeps: an unallocated buffer is empty - the
 * shared "" of BUF_INIT, or NULL in a zeroed struct (xcalloc'd owners rely
 * on the add functions accepting it) - and an allocated one has its
 * terminator inside its capacity.  Nobody may write into buf_empty. */
#define BUF_OK(b)                                                                                  \
    ((b)->cap == 0 ? (b)->len == 0 && ((b)->data == buf_empty || !(b)->data) && !buf_empty[0]      \
                   : (b)->data && (b)->len < (b)->cap)

static void oom(void)
{
    fputs("weft: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void buf_init(struct buf *b)
{
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
}

void buf_release(struct buf *b)
{
    if (b->cap)
        free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    assert(BUF_OK(b));
    b->len = 0;
    if (b->cap)
        b->data[0] = 0;
}

void buf_grow(struct buf *b, size_t extra)
{
    assert(BUF_OK(b));
    assert(extra < SIZE_MAX / 2 - b->len); /* a length computed from garbage */
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (b->cap) {
        b->data = xrealloc(b->data, cap);
    } else {
        b->data = xmalloc(cap);
        b->data[0] = 0;
    }
    b->cap = cap;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
    if (!len)
        return;
    buf_grow(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    assert(BUF_OK(b));
}

void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
    buf_grow(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        buf_add(b, small, (size_t)n);
        return;
    }
    buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    assert(BUF_OK(b) && b->data[b->len] == 0);
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void buf_add_json_str(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
            u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
            esc = u;
        }
        if (esc) {
            buf_add(b, s + start, i - start);
            buf_adds(b, esc);
            start = i + 1;
        }
    }
    buf_add(b, s + start, len - start);
}

/* The one HTML escaper: web/html.c's html_addf and the few pages built
 * outside src/web call it, so every page escapes the same five characters
 * the same way. */
void buf_add_html_n(struct buf *b, const char *s, size_t n)
{
    assert(s || n == 0);
    size_t start = 0, i = 0;
    for (; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '&':
            esc = "&amp;";
            break;
        case '<':
            esc = "&lt;";
            break;
        case '>':
            esc = "&gt;";
            break;
        case '"':
            esc = "&quot;";
            break;
        case '\'':
            esc = "&#39;";
            break;
        case '\0':
            esc = "";
            break; /* never let a NUL into a page */
        default:
            break;
        }
        if (esc) {
            buf_add(b, s + start, i - start);
            buf_adds(b, esc);
            start = i + 1;
        }
    }
    buf_add(b, s + start, i - start);
}

void buf_add_html(struct buf *b, const char *s)
{
    buf_add_html_n(b, s, strlen(s));
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = 0;
}

char *buf_detach(struct buf *b, size_t *len_out)
{
    char *p;
    if (!b->cap) {
        p = xstrdup("");
    } else {
        p = b->data;
    }
    if (len_out)
        *len_out = b->len;
    buf_init(b);
    return p;
}
