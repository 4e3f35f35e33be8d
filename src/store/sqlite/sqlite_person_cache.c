/*
 * sqlite_person_cache.c - the per-handle cache of person links (see
 * sqlite_person_cache.h for what it holds and why it cannot go stale).
 *
 * Data structure: a 4-way set-associative table of SQLITE_PCACHE_ENTRIES
 * fixed-size entries (128 bytes: the key bytes and the 32-character person
 * id inline) beside a compact array of sets (32 bytes: per way a 32-bit tag
 * from the 64-bit FNV-1a hash of the key and the entry's generation).  A
 * miss reads one cache line of tags, a hit that line and the entry; nothing
 * is allocated but the copy of the id the store API returns.  The tags
 * matter when the patients outnumber the entries: then most lookups miss,
 * and a miss must cost next to nothing beside the SELECT it precedes.  Keys are "nparts byte, parts
 * joined by NUL"; a key or id that does not fit an entry is simply not cached.  Forgetting
 * everything is one increment of the generation; forgetting the open transaction's entries walks
 * the list of slots it wrote (when that list overflowed, everything is forgotten instead).
 * Eviction: round-robin within the set.
 *
 * Workload: the MLLP writer thread, one BEGIN IMMEDIATE transaction per
 * batch of a few hundred messages, each message two to four lookups of
 * patients that recur; a lookup is a hit far more often than a miss once
 * the feed has run for a while.  Rollbacks (a message that fails) are rare,
 * so forgetting a whole batch's entries on one is acceptable.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/sqlite/sqlite_int.h"

#define WAYS 4
#define NSETS (SQLITE_PCACHE_ENTRIES / WAYS)
#define PENDING_MAX 4096
#define ID_MAX 32
#define KEY_MAX 94

struct pcache_set {
    uint32_t tag[WAYS]; /* high 32 bits of the key's hash */
    uint32_t gen[WAYS]; /* way valid iff == the cache's gen (which is never 0) */
};

struct pcache_entry {
    uint8_t klen;
    uint8_t idlen;
    char id[ID_MAX];
    char key[KEY_MAX];
};

_Static_assert(sizeof(struct pcache_set) == 32, "two sets a cache line");
_Static_assert(sizeof(struct pcache_entry) == 128, "entry is two cache lines");
_Static_assert((NSETS & (NSETS - 1)) == 0, "sets are a power of two");

static int on_commit(void *ctx)
{
    /* The commit may still fail: nothing is promoted here (see validate). */
    ((struct sqlite_store *)ctx)->pcache.txn_checked = false;
    return 0;
}

static void on_rollback(void *ctx)
{
    struct sqlite_store *ss = ctx;
    ss->pcache.txn_checked = false;
    sqlite_person_cache_rollback(ss);
}

void sqlite_person_cache_init(struct sqlite_store *ss)
{
    memset(&ss->pcache, 0, sizeof ss->pcache);
    ss->pcache.gen = 1;
    sqlite3_commit_hook(ss->db, on_commit, ss);
    sqlite3_rollback_hook(ss->db, on_rollback, ss);
}

void sqlite_person_cache_free(struct sqlite_store *ss)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    sqlite3_commit_hook(ss->db, NULL, NULL);
    sqlite3_rollback_hook(ss->db, NULL, NULL);
    if (pc->dv_stmt)
        sqlite3_finalize(pc->dv_stmt);
    free(pc->sets);
    free(pc->tab);
    free(pc->pending);
    memset(pc, 0, sizeof *pc);
}

void sqlite_person_cache_clear(struct sqlite_store *ss)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    pc->npending = 0;
    pc->pending_overflow = false;
    if (!pc->sets)
        return;
    if (++pc->gen == 0) {
        memset(pc->sets, 0, sizeof *pc->sets * NSETS);
        pc->gen = 1;
    }
}

void sqlite_person_cache_rollback(struct sqlite_store *ss)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    if (pc->pending_overflow) {
        sqlite_person_cache_clear(ss);
        return;
    }
    for (uint32_t i = 0; i < pc->npending; i++)
        pc->sets[pc->pending[i] / WAYS].gen[pc->pending[i] % WAYS] = 0;
    pc->npending = 0;
}

void sqlite_person_cache_commit(struct sqlite_store *ss)
{
    ss->pcache.npending = 0;
    ss->pcache.pending_overflow = false;
    ss->pcache.txn_checked = false;
}

bool sqlite_person_cache_sql_rolls_back(const char *sql)
{
    for (const char *p = sql; *p; p++) {
        if ((*p == 'R' || *p == 'r') && sqlite3_strnicmp(p, "ROLLBACK", 8) == 0)
            return true;
    }
    return false;
}

/* PRAGMA data_version: changes when another connection commits (never for
 * this connection's own commits, which the rest of this file accounts for).
 * Its own statement, not the handle's statement cache: it must never evict
 * a statement a caller holds, nor set the handle's error message. */
static bool data_version(struct sqlite_store *ss, int64_t *v)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    if (!pc->dv_stmt &&
        sqlite3_prepare_v3(ss->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
                           &pc->dv_stmt, NULL) != SQLITE_OK)
        return false;
    bool ok = sqlite3_step(pc->dv_stmt) == SQLITE_ROW;
    if (ok)
        *v = sqlite3_column_int64(pc->dv_stmt, 0);
    sqlite3_reset(pc->dv_stmt);
    return ok;
}

/* Read data_version and forget everything when another connection has
 * committed since the entries were learned.  False (and everything
 * forgotten) when it cannot be read: the caller then reads the database. */
static bool check_version(struct sqlite_store *ss)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    int64_t v;
    if (!data_version(ss, &v)) {
        sqlite_person_cache_clear(ss);
        pc->dv_known = false;
        return false;
    }
    if (!pc->dv_known || v != pc->dv) {
        sqlite_person_cache_clear(ss);
        pc->dv = v;
        pc->dv_known = true;
    }
    return true;
}

/* Make the entries fit to answer from: a transaction that ended without the
 * rollback hook firing committed, so its pending entries stay; then the
 * data_version check, skipped inside a BEGIN IMMEDIATE transaction whose
 * start was checked (it holds the write lock: nobody else commits). */
static bool validate(struct sqlite_store *ss)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    bool autocommit = sqlite3_get_autocommit(ss->db) != 0;
    if (autocommit) {
        pc->npending = 0;
        pc->pending_overflow = false;
        pc->txn_checked = false;
    }
    if (pc->txn_checked)
        return true;
    return check_version(ss);
}

void sqlite_person_cache_begin(struct sqlite_store *ss)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    /* BEGIN succeeded, so no transaction was open before it: whatever was
     * still pending belonged to one that ended without a rollback. */
    pc->npending = 0;
    pc->pending_overflow = false;
    pc->txn_checked = false;
    if (pc->sets && check_version(ss))
        pc->txn_checked = true;
}

/* The key bytes of parts into k; false when they do not fit. */
static bool make_key(const char *const *parts, int nparts, char k[KEY_MAX], size_t *klen)
{
    size_t n = 0;
    k[n++] = (char)nparts;
    for (int i = 0; i < nparts; i++) {
        if (!parts[i])
            return false;
        size_t l = strlen(parts[i]);
        if (l + 1 > KEY_MAX - n)
            return false;
        memcpy(k + n, parts[i], l);
        n += l;
        if (i + 1 < nparts)
            k[n++] = 0;
    }
    *klen = n;
    return true;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The slot holding key, or -1. */
static long find(const struct sqlite_person_cache *pc, uint64_t h, const char *k, size_t klen)
{
    size_t set = (size_t)(h & (NSETS - 1));
    const struct pcache_set *st = &pc->sets[set];
    for (size_t w = 0; w < WAYS; w++) {
        if (st->gen[w] != pc->gen || st->tag[w] != (uint32_t)(h >> 32))
            continue;
        const struct pcache_entry *e = &pc->tab[set * WAYS + w];
        if (e->klen == klen && memcmp(e->key, k, klen) == 0)
            return (long)(set * WAYS + w);
    }
    return -1;
}

int sqlite_person_cache_get(struct sqlite_store *ss, const char *const *parts, int nparts,
                            char **person_id_out)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    if (!pc->sets) {
        pc->sets = calloc(NSETS, sizeof *pc->sets);
        pc->tab = malloc(sizeof *pc->tab * SQLITE_PCACHE_ENTRIES);
        pc->pending = malloc(sizeof *pc->pending * PENDING_MAX);
        if (!pc->sets || !pc->tab || !pc->pending) {
            free(pc->sets);
            free(pc->tab);
            free(pc->pending);
            pc->sets = NULL;
            pc->tab = NULL;
            pc->pending = NULL;
            return WEFT_ENOTFOUND; /* no memory for a cache: run without one */
        }
        pc->dv_known = false;
        pc->txn_checked = false;
    }
    if (!validate(ss)) {
        pc->misses++;
        return WEFT_ENOTFOUND;
    }
    char k[KEY_MAX];
    size_t klen;
    long slot = -1;
    if (make_key(parts, nparts, k, &klen))
        slot = find(pc, fnv1a(k, klen), k, klen);
    if (slot < 0) {
        pc->misses++;
        return WEFT_ENOTFOUND;
    }
    pc->hits++;
    *person_id_out = xstrndup(pc->tab[slot].id, pc->tab[slot].idlen);
    return WEFT_OK;
}

void sqlite_person_cache_put(struct sqlite_store *ss, const char *const *parts, int nparts,
                             const char *person_id)
{
    struct sqlite_person_cache *pc = &ss->pcache;
    /* Only after a validated _get(): the entry then belongs to the version
     * of the database the baseline describes (or a later one, which the next
     * check notices and forgets). */
    if (!pc->sets || !pc->dv_known || !person_id)
        return;
    char k[KEY_MAX];
    size_t klen, idlen = strlen(person_id);
    if (idlen > ID_MAX || !make_key(parts, nparts, k, &klen))
        return;
    uint64_t h = fnv1a(k, klen);
    long slot = find(pc, h, k, klen);
    size_t set = (size_t)(h & (NSETS - 1));
    struct pcache_set *st = &pc->sets[set];
    if (slot < 0) {
        for (size_t w = 0; w < WAYS && slot < 0; w++) {
            if (st->gen[w] != pc->gen)
                slot = (long)(set * WAYS + w);
        }
        if (slot < 0)
            slot = (long)(set * WAYS + (pc->victim++ % WAYS));
    }
    struct pcache_entry *e = &pc->tab[slot];
    st->tag[slot % WAYS] = (uint32_t)(h >> 32);
    st->gen[slot % WAYS] = pc->gen;
    e->klen = (uint8_t)klen;
    e->idlen = (uint8_t)idlen;
    memcpy(e->id, person_id, idlen);
    memcpy(e->key, k, klen);
    /* Learned inside a transaction (read or written): it must go if the
     * transaction, or a savepoint of it, is rolled back. */
    if (!sqlite3_get_autocommit(ss->db)) {
        if (pc->npending < PENDING_MAX)
            pc->pending[pc->npending++] = (uint32_t)slot;
        else
            pc->pending_overflow = true;
    }
}

void sqlite_person_cache_stats(struct store *s, uint64_t *hits, uint64_t *misses)
{
    *hits = sqlite_of(s)->pcache.hits;
    *misses = sqlite_of(s)->pcache.misses;
}
