/*
 * store_paging.c - the search rules every backend shares (store/paging.h):
 * cursor encoding, page sizes, sort direction, term values.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "store/paging.h"

int store_page_limit(const struct store_query *q)
{
    return q->limit > 0 ? q->limit : STORE_PAGE_DEFAULT;
}

bool store_sort_desc(enum store_sort s)
{
    return s == STORE_SORT_DATE_DESC || s == STORE_SORT_LASTUPDATED_DESC;
}

char *store_cursor_make(const char *key, const char *id)
{
    assert(key && id && *id); /* ids are never empty: the cursor's id part is not */
    size_t n = strlen(key), idn = strlen(id);
    char *o = xmalloc(2 * n + 1 + idn + 1);
    hex_encode(key, n, o);
    o[2 * n] = '.';
    memcpy(o + 2 * n + 1, id, idn + 1);
    return o;
}

char *store_cursor_make_seq(int64_t seq, const char *id)
{
    char ks[24];
    snprintf(ks, sizeof ks, "%lld", (long long)seq);
    return store_cursor_make(ks, id);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool store_cursor_parse(const char *c, char **key, char **id)
{
    const char *dot = strchr(c, '.');
    if (!dot || (dot - c) % 2 != 0 || strlen(dot + 1) == 0 || strlen(dot + 1) > 64)
        return false;
    size_t n = (size_t)(dot - c) / 2;
    char *k = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(c[2 * i]), lo = hexval(c[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(k);
            return false;
        }
        k[i] = (char)(hi << 4 | lo);
    }
    k[n] = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-' || *p == '.')) {
            free(k);
            return false;
        }
    }
    *key = k;
    *id = xstrdup(dot + 1);
    return true;
}

bool store_cursor_seq(const char *k, int64_t *seq)
{
    size_t n = strlen(k);
    if (n == 0 || n > 18 || strspn(k, "0123456789") != n)
        return false;
    *seq = strtoll(k, NULL, 10);
    return true;
}

char *store_term_value(const char *s)
{
    char *o = xstrdup(s);
    for (char *p = o; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return o;
}

static uint32_t ix_fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int32_t store_ix_param_id(const char *type, const char *param)
{
    return (int32_t)(((ix_fnv(type) & 0x7fffu) << 16) | (ix_fnv(param) & 0xffffu));
}

void store_ix_type_range(const char *type, int32_t *lo, int32_t *hi)
{
    *lo = (int32_t)((ix_fnv(type) & 0x7fffu) << 16);
    *hi = *lo | 0xffff;
}

size_t store_ixpost_encode(const int64_t *seqs, int n, unsigned char *out)
{
    size_t len = 0;
    for (int i = 1; i < n; i++) {
        uint64_t d = (uint64_t)seqs[i] - (uint64_t)seqs[i - 1];
        while (d >= 0x80) {
            out[len++] = (unsigned char)(d | 0x80);
            d >>= 7;
        }
        out[len++] = (unsigned char)d;
    }
    return len;
}

/* One varint at p[*at..len) into *d; false when it is cut short or too long. */
static bool ixpost_varint(const unsigned char *p, size_t len, size_t *at, uint64_t *d)
{
    uint64_t v = 0;
    for (int shift = 0; *at < len && shift < 64; shift += 7) {
        unsigned char b = p[(*at)++];
        if (shift == 63 && (b & 0x7e))
            return false; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *d = v;
            return true;
        }
    }
    return false;
}

int store_ixpost_count(const unsigned char *p, size_t len)
{
    return store_ixpost_decode(0, p, len, NULL);
}

int store_ixpost_decode(int64_t first, const unsigned char *p, size_t len, int64_t *out)
{
    int n = 0;
    uint64_t seq = (uint64_t)first;
    if (out)
        out[n] = first;
    n++;
    for (size_t at = 0; at < len;) {
        uint64_t d;
        if (!ixpost_varint(p, len, &at, &d) || d == 0 || n == INT32_MAX)
            return -1;
        seq += d;
        if (out)
            out[n] = (int64_t)seq;
        n++;
    }
    return n;
}
