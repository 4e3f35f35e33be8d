/*
 * jload.c - in-place JSON scanner building jansson trees (see jload.h).
 *
 * Tuned for FHIR bundles: mostly short ASCII strings and keys, objects of
 * a few keys, some numbers.  Strings without escapes become one
 * json_stringn_nocheck of the bytes in the buffer (validated here first, as
 * jansson would); only strings with escapes are decoded through a scratch
 * buffer.  Every construct this file does not fully handle returns "ask
 * jansson" (NULL) rather than guessing, so the only contract to keep is:
 * whatever is returned equals json_loadb's tree.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fhir/jload.h"

#define JLOAD_MAX_DEPTH 512 /* below jansson's 2048; deeper goes to jansson */

struct jp {
    const unsigned char *p, *end;
    struct buf tmp; /* decoded strings with escapes */
    int depth;
};

static inline void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* Length of the valid UTF-8 sequence at s (s < end, *s >= 0x80), 0 when
 * invalid: jansson's rules (no overlongs, surrogates or > U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const unsigned char *s, const unsigned char *end)
{
    if (end - s < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void put_utf8(struct buf *b, uint32_t v)
{
    char o[4];
    size_t n;
    if (v < 0x80) {
        o[0] = (char)v;
        n = 1;
    } else if (v < 0x800) {
        o[0] = (char)(0xC0 | (v >> 6));
        o[1] = (char)(0x80 | (v & 0x3F));
        n = 2;
    } else if (v < 0x10000) {
        o[0] = (char)(0xE0 | (v >> 12));
        o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[2] = (char)(0x80 | (v & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (v >> 18));
        o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[3] = (char)(0x80 | (v & 0x3F));
        n = 4;
    }
    buf_add(b, o, n);
}

/* Scan the string starting after the opening quote.  On success *s and *n name
 * the text (in the input, or in j->tmp when it had escapes) and j->p is
 * past the closing quote.  \u0000 is refused (jansson refuses NUL without
 * JSON_ALLOW_NUL), as is every other error. */
static bool scan_string(struct jp *j, const char **s, size_t *n)
{
    const unsigned char *p = j->p, *start = p;
    for (;;) { /* fast path: no escapes */
        if (p >= j->end)
            return false;
        unsigned c = *p;
        if (c == '"') {
            *s = (const char *)start;
            *n = (size_t)(p - start);
            j->p = p + 1;
            return true;
        }
        if (c == '\\')
            break;
        if (c < 0x20)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_seq(p, j->end);
        if (!k)
            return false;
        p += k;
    }
    buf_reset(&j->tmp);
    buf_add(&j->tmp, start, (size_t)(p - start));
    for (;;) {
        if (p >= j->end)
            return false;
        unsigned c = *p;
        if (c == '"') {
            *s = j->tmp.data;
            *n = j->tmp.len;
            j->p = p + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            size_t k = utf8_seq(p, j->end);
            if (!k)
                return false;
            buf_add(&j->tmp, p, k);
            p += k;
            continue;
        }
        if (c != '\\') {
            const unsigned char *q = p;
            while (q < j->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
                q++;
            buf_add(&j->tmp, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (p + 1 >= j->end)
            return false;
        char e = (char)p[1];
        p += 2;
        switch (e) {
        case '"':
            buf_addc(&j->tmp, '"');
            break;
        case '\\':
            buf_addc(&j->tmp, '\\');
            break;
        case '/':
            buf_addc(&j->tmp, '/');
            break;
        case 'b':
            buf_addc(&j->tmp, '\b');
            break;
        case 'f':
            buf_addc(&j->tmp, '\f');
            break;
        case 'n':
            buf_addc(&j->tmp, '\n');
            break;
        case 'r':
            buf_addc(&j->tmp, '\r');
            break;
        case 't':
            buf_addc(&j->tmp, '\t');
            break;
        case 'u': {
            int v = hex4(p, j->end);
            if (v <= 0) /* malformed, or \u0000 */
                return false;
            p += 4;
            uint32_t cp = (uint32_t)v;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u')
                    return false;
                int lo = hex4(p + 2, j->end);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            }
            put_utf8(&j->tmp, cp);
            break;
        }
        default:
            return false;
        }
    }
}

/* A number token: jansson's grammar, integer (strtoll) or real (strtod). */
static json_t *scan_number(struct jp *j)
{
    const unsigned char *p = j->p, *start = p;
    bool real = false;
    if (p < j->end && *p == '-')
        p++;
    if (p >= j->end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < j->end && *p == '.') {
        real = true;
        p++;
        if (p >= j->end || !(*p >= '0' && *p <= '9'))
            return NULL;
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= j->end || !(*p >= '0' && *p <= '9'))
            return NULL;
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    /* jansson reads the token up to the next byte; a letter or digit
     * glued on ("1x", "01") is its error to report */
    if (p < j->end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                       (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '-' || *p == '+'))
        return NULL;
    size_t n = (size_t)(p - start);
    char tok[128];
    if (n >= sizeof tok)
        return NULL;
    memcpy(tok, start, n);
    tok[n] = 0;
    char *endp;
    errno = 0;
    json_t *v;
    if (real) {
        double d = strtod(tok, &endp);
        if (endp != tok + n || (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)))
            return NULL;
        v = json_real(d);
    } else {
        long long i = strtoll(tok, &endp, 10);
        if (endp != tok + n || errno == ERANGE)
            return NULL;
        v = json_integer((json_int_t)i);
    }
    j->p = p;
    return v;
}

static json_t *scan_value(struct jp *j);

static json_t *scan_object(struct jp *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    j->p++; /* '{' */
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return o;
    }
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"')
            goto fail;
        j->p++;
        const char *k;
        size_t kn;
        if (!scan_string(j, &k, &kn))
            goto fail;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':')
            goto fail;
        j->p++;
        /* a decoded key lives in tmp, which the value may reuse */
        char kbuf[256], *kheap = NULL;
        if (k == j->tmp.data) {
            char *copy = kn < sizeof kbuf ? kbuf : (kheap = xmalloc(kn + 1));
            memcpy(copy, k, kn);
            k = copy;
        }
        skip_ws(j);
        json_t *v = scan_value(j);
        if (!v) {
            free(kheap);
            goto fail;
        }
        size_t before = json_object_size(o);
        int rc = json_object_setn_new_nocheck(o, k, kn, v); /* takes v even on failure */
        free(kheap);
        if (rc != 0 || json_object_size(o) == before) /* duplicate key: jansson reports it */
            goto fail;
        skip_ws(j);
        if (j->p >= j->end)
            goto fail;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == '}') {
            j->p++;
            return o;
        }
        goto fail;
    }
fail:
    json_decref(o);
    return NULL;
}

static json_t *scan_array(struct jp *j)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    j->p++; /* '[' */
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return a;
    }
    for (;;) {
        skip_ws(j);
        json_t *v = scan_value(j);
        if (!v || json_array_append_new(a, v) != 0)
            goto fail;
        skip_ws(j);
        if (j->p >= j->end)
            goto fail;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == ']') {
            j->p++;
            return a;
        }
        goto fail;
    }
fail:
    json_decref(a);
    return NULL;
}

static bool word(struct jp *j, const char *w, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return false;
    const unsigned char *q = j->p + n;
    if (q < j->end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                       (*q >= '0' && *q <= '9') || *q == '_'))
        return false;
    j->p = q;
    return true;
}

static json_t *scan_value(struct jp *j)
{
    if (j->p >= j->end)
        return NULL;
    json_t *v = NULL;
    switch (*j->p) {
    case '{':
    case '[':
        if (++j->depth > JLOAD_MAX_DEPTH)
            return NULL;
        v = *j->p == '{' ? scan_object(j) : scan_array(j);
        j->depth--;
        return v;
    case '"': {
        j->p++;
        const char *s;
        size_t n;
        return scan_string(j, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    }
    case 't':
        return word(j, "true", 4) ? json_true() : NULL;
    case 'f':
        return word(j, "false", 5) ? json_false() : NULL;
    case 'n':
        return word(j, "null", 4) ? json_null() : NULL;
    default:
        return scan_number(j);
    }
}

json_t *jload_parse(const char *data, size_t len)
{
    struct jp j = {.p = (const unsigned char *)data,
                   .end = (const unsigned char *)data + len,
                   .tmp = BUF_INIT};
    skip_ws(&j);
    json_t *v = NULL;
    if (j.p < j.end && (*j.p == '{' || *j.p == '['))
        v = scan_value(&j);
    if (v) {
        skip_ws(&j);
        if (j.p != j.end) { /* trailing text: jansson's "end of file expected" */
            json_decref(v);
            v = NULL;
        }
    }
    buf_release(&j.tmp);
    return v;
}

json_t *jload_loadb(const char *data, size_t len, json_error_t *error)
{
    json_t *v = jload_parse(data, len);
    return v ? v : json_loadb(data, len, JSON_REJECT_DUPLICATES, error);
}
