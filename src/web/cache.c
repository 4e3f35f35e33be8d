/*
 * cache.c - LRU cache of rendered pages (see cache.h).  Chained hash table
 * over FNV-1a of the key, a doubly linked recency list; entries own copies
 * of key, page and audit note.
 */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "web/cache.h"

struct entry {
    char *key;
    uint64_t hash;
    char *html, *what;
    size_t html_len, what_len;
    int status;
    int64_t count;
    struct entry *next_in_bucket;
    struct entry *prev, *next; /* recency: head = most recent */
};

struct web_cache {
    pthread_mutex_t mu;
    size_t max_entries, max_bytes;
    size_t nentries, bytes;
    size_t nbuckets;
    struct entry **buckets;
    struct entry *head, *tail;
    uint64_t hits, misses;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

struct web_cache *web_cache_new(size_t max_entries, size_t max_bytes)
{
    struct web_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->nbuckets = 1;
    while (c->nbuckets < max_entries * 2 && c->nbuckets < (1u << 20))
        c->nbuckets <<= 1;
    c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
    return c;
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->html);
    free(e->what);
    free(e);
}

static void unlink_lru(struct web_cache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct web_cache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void remove_entry(struct web_cache *c, struct entry *e)
{
    struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next_in_bucket;
    if (*pp)
        *pp = e->next_in_bucket;
    unlink_lru(c, e);
    assert(c->nentries > 0 && c->bytes >= e->html_len + e->what_len + strlen(e->key));
    c->nentries--;
    c->bytes -= e->html_len + e->what_len + strlen(e->key);
    entry_free(e);
}

static struct entry *find(struct web_cache *c, const char *key, uint64_t h)
{
    assert(c->nbuckets && (c->nbuckets & (c->nbuckets - 1)) == 0); /* masking needs 2^k */
    for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next_in_bucket)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

void web_cache_free(struct web_cache *c)
{
    if (!c)
        return;
    while (c->head)
        remove_entry(c, c->head);
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool web_cache_get(struct web_cache *c, const char *key, struct buf *html, struct buf *what,
                   int *status, int64_t *count)
{
    if (!c || c->max_entries == 0)
        return false;
    uint64_t h = fnv1a(key);
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(c, key, h);
    if (!e) {
        c->misses++;
        pthread_mutex_unlock(&c->mu);
        metrics_add("weft_web_page_cache_lookups_total", "result=\"miss\"", 1);
        return false;
    }
    c->hits++;
    metrics_add("weft_web_page_cache_lookups_total", "result=\"hit\"", 1);
    unlink_lru(c, e);
    push_front(c, e);
    buf_reset(html);
    buf_add(html, e->html, e->html_len);
    buf_reset(what);
    buf_add(what, e->what, e->what_len);
    *status = e->status;
    *count = e->count;
    pthread_mutex_unlock(&c->mu);
    return true;
}

void web_cache_put(struct web_cache *c, const char *key, const struct buf *html,
                   const struct buf *what, int status, int64_t count)
{
    if (!c || c->max_entries == 0)
        return;
    size_t size = html->len + what->len + strlen(key);
    if (size > c->max_bytes / 4)
        return; /* one page never takes over the cache */
    uint64_t h = fnv1a(key);
    struct entry *e = xcalloc(1, sizeof *e);
    e->key = xstrdup(key);
    e->hash = h;
    e->html = xmalloc(html->len + 1);
    memcpy(e->html, html->data, html->len + 1);
    e->html_len = html->len;
    e->what = xmalloc(what->len + 1);
    memcpy(e->what, what->data, what->len + 1);
    e->what_len = what->len;
    e->status = status;
    e->count = count;
    pthread_mutex_lock(&c->mu);
    struct entry *old = find(c, key, h);
    if (old)
        remove_entry(c, old);
    while (c->tail && (c->nentries + 1 > c->max_entries || c->bytes + size > c->max_bytes))
        remove_entry(c, c->tail);
    struct entry **b = &c->buckets[h & (c->nbuckets - 1)];
    e->next_in_bucket = *b;
    *b = e;
    push_front(c, e);
    c->nentries++;
    c->bytes += size;
    /* the bounds hold after every put (one page is at most a quarter) */
    assert(c->nentries <= c->max_entries && c->bytes <= c->max_bytes);
    assert(c->head == e && c->tail && !c->tail->next);
    pthread_mutex_unlock(&c->mu);
}

void web_cache_stats(struct web_cache *c, uint64_t *hits, uint64_t *misses, size_t *entries,
                     size_t *bytes)
{
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    *entries = c->nentries;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
}
