/*
 * strmap.h - a small string -> int map: open addressing, linear probing,
 * FNV-1a, keys borrowed.
 *
 * Owns struct strmap.  Built for the loading pipeline's per-bundle index
 * (fullUrl, "Type/sourceid" and "Type/weftid" -> entry index): a few
 * thousand keys that all live in the bundle being loaded, inserted once,
 * looked up for every reference, and dropped together; so keys are not
 * copied, nothing is ever removed, and the table is at most half full.
 * Allocation failure aborts (core/buf.h's xcalloc).
 */
#ifndef WEFT_CORE_STRMAP_H
#define WEFT_CORE_STRMAP_H

#include <stddef.h>

struct strmap {
    const char **keys;
    int *vals;
    size_t cap; /* power of two */
    size_t n;
};

/* An empty map sized for about expect keys (it grows past that). */
void strmap_init(struct strmap *m, size_t expect);

/* Frees the table (not the keys, which are the caller's). */
void strmap_free(struct strmap *m);

/* Insert key -> val unless key is present; returns the value now stored
 * (val, or the earlier value when key was there already).  key is borrowed:
 * it must stay valid and unchanged while the map is used. */
int strmap_put(struct strmap *m, const char *key, int val);

/* The value of key, or -1 when absent. */
int strmap_get(const struct strmap *m, const char *key);

#endif
