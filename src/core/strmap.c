/*
 * strmap.c - a small string -> int map (strmap.h).  Moved out of the
 * loading pipeline (fhir/load.c), which looks up every reference of a
 * bundle in one; the probe loop is the whole cost, so it stays this simple.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/strmap.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void strmap_init(struct strmap *m, size_t expect)
{
    m->cap = 16;
    while (m->cap < expect * 2 + 2)
        m->cap *= 2;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    m->n = 0;
}

void strmap_free(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
}

int strmap_put(struct strmap *m, const char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct strmap bigger;
        strmap_init(&bigger, m->cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                strmap_put(&bigger, m->keys[i], m->vals[i]);
        strmap_free(m);
        *m = bigger;
    }
    /* a power of two, at most half full after this insert: a probe always
     * meets an empty slot */
    assert((m->cap & (m->cap - 1)) == 0 && (m->n + 1) * 2 <= m->cap);
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return val;
}

int strmap_get(const struct strmap *m, const char *key)
{
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}
