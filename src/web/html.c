/*
 * html.c - escaping-by-default formatting for server-rendered pages (see
 * html.h).
 *
 * html_addf() walks the format itself: literal text is copied, each
 * conversion is parsed (flags, width, precision, length) and its argument
 * fetched with the matching type.  %s arguments are escaped; every other
 * conversion is handed to snprintf with the parsed spec.  Numbers cannot
 * contain markup, so they need no escaping.  Tuned for many short calls per
 * page: no allocation except the growth of the output buffer.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/url.h"
#include "web/html.h"

void html_raw(struct buf *b, const char *markup)
{
    buf_adds(b, markup);
}

typedef void (*str_fn)(struct buf *, const char *, size_t);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* Format one non-string conversion spec[0..] (NUL-terminated, starting with
 * '%') with the next argument(s). */
static void add_conv(struct buf *b, const char *spec, char conv, const char *len, int width,
                     int prec, bool star_w, bool star_p, va_list *ap)
{
    char tmp[128];
    int n = 0;
#define EMIT(T)                                                                                    \
    do {                                                                                           \
        T v = va_arg(*ap, T);                                                                      \
        if (star_w && star_p)                                                                      \
            n = snprintf(tmp, sizeof tmp, spec, width, prec, v);                                   \
        else if (star_w)                                                                           \
            n = snprintf(tmp, sizeof tmp, spec, width, v);                                         \
        else if (star_p)                                                                           \
            n = snprintf(tmp, sizeof tmp, spec, prec, v);                                          \
        else                                                                                       \
            n = snprintf(tmp, sizeof tmp, spec, v);                                                \
    } while (0)
    switch (conv) {
    case 'd':
    case 'i':
        if (strcmp(len, "l") == 0)
            EMIT(long);
        else if (strcmp(len, "ll") == 0)
            EMIT(long long);
        else if (strcmp(len, "z") == 0)
            EMIT(ssize_t);
        else if (strcmp(len, "j") == 0)
            EMIT(intmax_t);
        else if (strcmp(len, "t") == 0)
            EMIT(ptrdiff_t);
        else
            EMIT(int);
        break;
    case 'u':
    case 'x':
    case 'X':
    case 'o':
        if (strcmp(len, "l") == 0)
            EMIT(unsigned long);
        else if (strcmp(len, "ll") == 0)
            EMIT(unsigned long long);
        else if (strcmp(len, "z") == 0)
            EMIT(size_t);
        else if (strcmp(len, "j") == 0)
            EMIT(uintmax_t);
        else if (strcmp(len, "t") == 0)
            EMIT(ptrdiff_t);
        else
            EMIT(unsigned);
        break;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
        if (strcmp(len, "L") == 0)
            EMIT(long double);
        else
            EMIT(double);
        break;
    case 'c':
        EMIT(int);
        break;
    case 'p':
        EMIT(void *);
        break;
    default:
        abort(); /* BUG: a conversion the printf attribute let through */
    }
#undef EMIT
    if (n < 0)
        return;
    /* Output longer than tmp needs a width over 100 in a literal format: cut. */
    buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
#pragma GCC diagnostic pop

static void vformat(struct buf *b, str_fn add_str, const char *fmt, va_list ap0)
{
    va_list ap;
    va_copy(ap, ap0);
    const char *p = fmt;
    while (*p) {
        const char *pct = strchr(p, '%');
        if (!pct) {
            buf_adds(b, p);
            break;
        }
        buf_add(b, p, (size_t)(pct - p));
        const char *q = pct + 1;
        if (*q == '%') {
            buf_addc(b, '%');
            p = q + 1;
            continue;
        }
        while (*q && strchr("-+ #0", *q))
            q++;
        int width = 0, prec = -1;
        bool star_w = false, star_p = false;
        if (*q == '*') {
            star_w = true;
            width = va_arg(ap, int);
            q++;
        } else {
            while (*q >= '0' && *q <= '9')
                q++;
        }
        if (*q == '.') {
            q++;
            if (*q == '*') {
                star_p = true;
                prec = va_arg(ap, int);
                q++;
            } else {
                prec = 0;
                while (*q >= '0' && *q <= '9')
                    prec = prec * 10 + (*q++ - '0');
            }
        }
        char len[3] = {0};
        int nl = 0;
        while (*q && strchr("hlLzjt", *q) && nl < 2)
            len[nl++] = *q++;
        char conv = *q;
        if (!conv)
            break;
        if (conv == 's') {
            const char *s = va_arg(ap, const char *);
            if (s) {
                size_t n = strlen(s);
                if (prec >= 0 && (size_t)prec < n)
                    n = (size_t)prec;
                add_str(b, s, n);
            }
        } else {
            char spec[32];
            size_t sl = (size_t)(q - pct) + 1;
            if (sl >= sizeof spec)
                abort(); /* BUG: absurd conversion spec in a literal format */
            memcpy(spec, pct, sl);
            spec[sl] = 0;
            add_conv(b, spec, conv, len, width, prec, star_w, star_p, &ap);
        }
        p = q + 1;
    }
    va_end(ap);
}

void html_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(b, buf_add_html_n, fmt, ap);
    va_end(ap);
}

void html_url_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(b, url_encode_n, fmt, ap);
    va_end(ap);
}

void html_text_lines(struct buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            size_t e = i;
            if (e > start && s[e - 1] == '\r')
                e--;
            buf_add_html_n(b, s + start, e - start);
            buf_adds(b, "<br>");
            start = i + 1;
        }
    }
    buf_add_html_n(b, s + start, n - start);
}

/* Encode code point cp as UTF-8 into out (at least 4 bytes); returns length. */
static size_t utf8_put(unsigned long cp, char *out)
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool tag_is(const char *t, size_t tn, const char *name)
{
    size_t n = strlen(name);
    if (tn < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return false;
    }
    return tn == n || t[n] == ' ' || t[n] == '/' || t[n] == '\t' || t[n] == '\n' || t[n] == '>';
}

static bool breaks_line(const char *t, size_t tn)
{
    static const char *const names[] = {"br",  "/p",  "p",   "/div", "/li",    "/tr", "/h1", "/h2",
                                        "/h3", "/h4", "/h5", "/h6",  "/table", "/ul", "/ol"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (tag_is(t, tn, names[i]))
            return true;
    return false;
}

void html_text_from_markup(struct buf *b, const char *s, size_t n)
{
    struct buf text = BUF_INIT;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '<') {
            if (i + 3 < n && memcmp(s + i, "<!--", 4) == 0) {
                size_t j = i + 4;
                while (j + 3 <= n && memcmp(s + j, "-->", 3) != 0)
                    j++;
                i = j + 3 <= n ? j + 3 : n;
                continue;
            }
            const char *gt = memchr(s + i, '>', n - i);
            if (!gt)
                break; /* unterminated tag: drop the rest */
            const char *t = s + i + 1;
            size_t tn = (size_t)(gt - t);
            if (tag_is(t, tn, "script") || tag_is(t, tn, "style")) {
                const char *close = tag_is(t, tn, "script") ? "</script" : "</style";
                size_t cl = strlen(close);
                size_t j = (size_t)(gt - s) + 1;
                for (; j + cl <= n; j++)
                    if (strncasecmp(s + j, close, cl) == 0)
                        break;
                const char *g2 = j < n ? memchr(s + j, '>', n - j) : NULL;
                i = g2 ? (size_t)(g2 - s) + 1 : n;
                continue;
            }
            if (breaks_line(t, tn))
                buf_addc(&text, '\n');
            else if (tag_is(t, tn, "td") || tag_is(t, tn, "th") || tag_is(t, tn, "li"))
                buf_addc(&text, ' ');
            i = (size_t)(gt - s) + 1;
            continue;
        }
        if (c == '&') {
            const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
            if (semi) {
                const char *e = s + i + 1;
                size_t en = (size_t)(semi - e);
                char out[4];
                size_t on = 0;
                if (en == 3 && memcmp(e, "amp", 3) == 0)
                    out[on++] = '&';
                else if (en == 2 && memcmp(e, "lt", 2) == 0)
                    out[on++] = '<';
                else if (en == 2 && memcmp(e, "gt", 2) == 0)
                    out[on++] = '>';
                else if (en == 4 && memcmp(e, "quot", 4) == 0)
                    out[on++] = '"';
                else if (en == 4 && memcmp(e, "apos", 4) == 0)
                    out[on++] = '\'';
                else if (en == 4 && memcmp(e, "nbsp", 4) == 0)
                    out[on++] = ' ';
                else if (en >= 2 && e[0] == '#') {
                    char num[12];
                    memcpy(num, e + 1, en - 1);
                    num[en - 1] = 0;
                    char *endp;
                    unsigned long cp = (num[0] == 'x' || num[0] == 'X')
                                           ? strtoul(num + 1, &endp, 16)
                                           : strtoul(num, &endp, 10);
                    if (*endp == 0 && endp != num)
                        on = utf8_put(cp, out);
                }
                if (on) {
                    buf_add(&text, out, on);
                    i = (size_t)(semi - s) + 1;
                    continue;
                }
            }
        }
        buf_addc(&text, c == '\t' || c == '\r' ? ' ' : c);
        i++;
    }
    /* Collapse runs of blank lines and trim; then escape line by line. */
    struct buf out = BUF_INIT;
    int newlines = 0;
    bool started = false;
    for (size_t k = 0; k < text.len; k++) {
        char c = text.data[k];
        if (c == '\n') {
            if (started)
                newlines++;
            continue;
        }
        if (c == ' ' && (newlines || !started || (out.len && out.data[out.len - 1] == ' ')))
            continue;
        if (newlines) {
            buf_addc(&out, '\n');
            if (newlines > 1)
                buf_addc(&out, '\n');
            newlines = 0;
        }
        buf_addc(&out, c);
        started = true;
    }
    html_text_lines(b, out.data, out.len);
    buf_release(&out);
    buf_release(&text);
}
