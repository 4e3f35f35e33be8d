/*
 * canon.c - canonical JSON text (compact, sorted keys) for the loader.
 *
 * See canon.h for the contract (byte-identical to jansson's
 * JSON_COMPACT | JSON_SORT_KEYS) and why it exists.  The workload is
 * hundreds of thousands of FHIR resources of 0.5-5 KB: objects of a handful
 * of keys, many short strings, few reals.  So: one growable output buffer,
 * escapes found by a byte scan that copies clean runs with one memcpy, keys
 * sorted by insertion sort in a stack array (qsort only past 32 keys).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fhir/canon.h"

#define CANON_MAX_DEPTH 2048 /* jansson's parser refuses deeper input */
#define SMALL_KEYS 32

struct key {
    const char *s;
    size_t len;
    const json_t *v;
};

/* jansson's order: bytes of the common prefix, then the shorter first. */
static int key_cmp(const struct key *a, const struct key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->s, b->s, n);
    if (r)
        return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int key_qcmp(const void *a, const void *b)
{
    return key_cmp(a, b);
}

static inline void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap)
        buf_grow(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void putc1(struct buf *b, char c)
{
    if (b->len + 2 > b->cap)
        buf_grow(b, 1);
    b->data[b->len++] = c;
}

/* A JSON string: '"' '\\' and controls escaped as jansson does (\b \f \n
 * \r \t, else \u00XX in upper-case hex); everything else, UTF-8 included,
 * copied as is. */
static void put_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    putc1(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        put(b, esc, el);
    }
    put(b, s + run, n - run);
    putc1(b, '"');
}

static void put_int(struct buf *b, json_int_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    /* unsigned arithmetic: -LLONG_MIN is not representable */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    put(b, p, (size_t)(tmp + sizeof tmp - p));
}

static bool put_value(struct buf *b, const json_t *j, int depth)
{
    if (depth > CANON_MAX_DEPTH)
        return false;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        if (n == 0) {
            put(b, "{}", 2);
            return true;
        }
        struct key small[SMALL_KEYS];
        struct key *k = n <= SMALL_KEYS ? small : xmalloc(sizeof *k * n);
        size_t i = 0;
        const char *key;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, key, klen, v)
        {
            if (i == n)
                break; /* defensive: the size is the count */
            struct key cur = {key, klen, v};
            size_t at = i++;
            if (n <= SMALL_KEYS) { /* insertion sort: objects are small */
                while (at > 0 && key_cmp(&k[at - 1], &cur) > 0) {
                    k[at] = k[at - 1];
                    at--;
                }
            }
            k[at] = cur;
        }
        if (n > SMALL_KEYS)
            qsort(k, i, sizeof *k, key_qcmp);
        bool ok = true;
        putc1(b, '{');
        for (size_t m = 0; m < i && ok; m++) {
            if (m)
                putc1(b, ',');
            put_str(b, k[m].s, k[m].len);
            putc1(b, ':');
            ok = put_value(b, k[m].v, depth + 1);
        }
        putc1(b, '}');
        if (k != small)
            free(k);
        return ok;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        putc1(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                putc1(b, ',');
            if (!put_value(b, json_array_get(j, i), depth + 1))
                return false;
        }
        putc1(b, ']');
        return true;
    }
    case JSON_STRING:
        put_str(b, json_string_value(j), json_string_length(j));
        return true;
    case JSON_INTEGER:
        put_int(b, json_integer_value(j));
        return true;
    case JSON_REAL: {
        /* jansson's own real formatting (precision, ".0", exponent form) */
        char tmp[64];
        size_t n = json_dumpb(j, tmp, sizeof tmp, JSON_ENCODE_ANY | JSON_COMPACT);
        if (n == 0 || n > sizeof tmp)
            return false;
        put(b, tmp, n);
        return true;
    }
    case JSON_TRUE:
        put(b, "true", 4);
        return true;
    case JSON_FALSE:
        put(b, "false", 5);
        return true;
    case JSON_NULL:
        put(b, "null", 4);
        return true;
    }
    return false;
}

size_t canon_dump(const json_t *j, struct buf *b)
{
    buf_reset(b);
    if (!j || !put_value(b, j, 0)) {
        buf_reset(b);
        return 0;
    }
    buf_grow(b, 0);
    b->data[b->len] = 0;
    return b->len;
}
