/*
 * load_arena.c - bulk mode's memory for the loading pipeline (load.h:
 * fhir_load_bulk_begin/end; load_int.h: load_arena_reset, load_tree_drop).
 *
 * Bulk mode: jansson allocates from an arena (bump allocation in 4 MB
 * blocks, free is a no-op) that is reset after each file or NDJSON batch,
 * when every tree of it is gone.  Parsing a bundle makes hundreds of
 * thousands of small allocations that are all freed together; with malloc
 * that cost more than the parse itself.
 *
 * The arena is the calling thread's (`weft load --jobs N` runs N loader
 * threads, each with its own): jansson's allocation functions are
 * process-wide, so they are installed while any thread is in bulk mode and
 * send each allocation to the arena of the thread that makes it, or to
 * malloc/free on a thread not in bulk mode.  A tree must therefore be made
 * and released on one thread, which the loader does (a file's trees live on
 * the thread that loads it).
 */
#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/buf.h"
#include "fhir/load.h"
#include "fhir/load_int.h"

#define ARENA_BLOCK (4u << 20)
#define ARENA_BIG (256u << 10)

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    max_align_t data[];
};

static _Thread_local struct {
    bool on;
    struct arena_block *blocks; /* current first; full ones after */
    struct arena_block *spare;  /* reset blocks, reused */
    struct arena_block *big;    /* single large allocations */
} arena;

/* Threads in bulk mode: the allocation functions stay installed while any is */
static pthread_mutex_t bulk_mu = PTHREAD_MUTEX_INITIALIZER;
static int bulk_threads;

static struct arena_block *block_new(size_t size)
{
    struct arena_block *b = xmalloc(sizeof *b + size);
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

static void *arena_malloc(size_t n)
{
    if (!arena.on)
        return malloc(n);
    n = (n + 15) & ~(size_t)15;
    if (n >= ARENA_BIG) {
        struct arena_block *b = block_new(n);
        b->next = arena.big;
        arena.big = b;
        return b->data;
    }
    struct arena_block *b = arena.blocks;
    if (!b || b->size - b->used < n) {
        if (arena.spare) {
            b = arena.spare;
            arena.spare = b->next;
            b->used = 0;
        } else {
            b = block_new(ARENA_BLOCK);
        }
        b->next = arena.blocks;
        arena.blocks = b;
    }
    assert(arena.on && b->size - b->used >= n);
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static void arena_free(void *p)
{
    if (!arena.on)
        free(p);
}

/* Release a tree: in bulk mode the arena reset that follows frees it all at
 * once, so walking it to free each node is skipped. */
void load_tree_drop(json_t *j)
{
    if (!arena.on)
        json_decref(j);
}

/* Drop everything allocated since the last reset (no tree may be alive). */
void load_arena_reset(void)
{
    if (!arena.on)
        return;
    while (arena.blocks) {
        struct arena_block *b = arena.blocks;
        arena.blocks = b->next;
        b->next = arena.spare;
        arena.spare = b;
    }
    while (arena.big) {
        struct arena_block *b = arena.big;
        arena.big = b->next;
        free(b);
    }
}

void fhir_load_bulk_begin(void)
{
    if (arena.on)
        return;
    pthread_mutex_lock(&bulk_mu);
    if (bulk_threads++ == 0)
        json_set_alloc_funcs(arena_malloc, arena_free);
    pthread_mutex_unlock(&bulk_mu);
    arena.on = true;
}

void fhir_load_bulk_end(void)
{
    if (!arena.on)
        return;
    load_arena_reset();
    while (arena.spare) {
        struct arena_block *b = arena.spare;
        arena.spare = b->next;
        free(b);
    }
    arena.on = false;
    pthread_mutex_lock(&bulk_mu);
    if (--bulk_threads == 0)
        json_set_alloc_funcs(malloc, free);
    pthread_mutex_unlock(&bulk_mu);
}
