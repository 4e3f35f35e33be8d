/*
 * cache.h - rendered pages kept per store snapshot.
 *
 * A page is a pure function of (person, store snapshot, the viewer's scope,
 * whether break-glass is shown, the page and its arguments, today's date):
 * the store never changes what is visible at a snapshot, and any write makes
 * a new snapshot.  So a page rendered once can be served again, byte for
 * byte, to the next viewer with the same key, which is what a ward round or
 * a busy emergency department does: many views of one person, few writes.
 * The authorisation decision and the audit entry are still made for every
 * view (web.c); the cache keeps the list of items the page showed so each
 * view's audit entry names them.
 *
 * Bounded by entries and bytes, least recently used evicted first;
 * thread-safe (one mutex: lookups are a hash probe and a copy).
 */
#ifndef WEFT_WEB_CACHE_H
#define WEFT_WEB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct web_cache;

/* max_entries 0: caching off (every call misses, put does nothing). */
struct web_cache *web_cache_new(size_t max_entries, size_t max_bytes);
void web_cache_free(struct web_cache *c);

/* On a hit, copy the page into html, the audit note into what, and return
 * true with *status and *count set. */
bool web_cache_get(struct web_cache *c, const char *key, struct buf *html, struct buf *what,
                   int *status, int64_t *count);
/* Store a copy (replacing an entry with the same key). */
void web_cache_put(struct web_cache *c, const char *key, const struct buf *html,
                   const struct buf *what, int status, int64_t count);

/* Counters for the operational log and tests. */
void web_cache_stats(struct web_cache *c, uint64_t *hits, uint64_t *misses, size_t *entries,
                     size_t *bytes);

#endif
