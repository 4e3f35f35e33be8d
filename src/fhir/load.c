/*
 * load.c - the loading pipeline (see load.h for the contract).
 *
 * A bundle is processed in three passes over its entries:
 *   1. validate, derive identity (source id -> Weft id), index the entry by
 *      fullUrl and "Type/sourceid" in a small hash map;
 *   2. link Patients to persons (so pass 3 can link everything else to them);
 *   3. per entry: rewrite references, find the person, category, index
 *      columns, meta, serialise once, store.
 * All of it inside one store transaction per bundle: the unit of durability
 * (one fsync) and, for transaction bundles, of atomicity.
 *
 * Tuned for bulk loads where most entries are new or unchanged: the JSON is
 * serialised once per entry (the store hashes that text), references are
 * resolved through the in-memory map without touching the store unless they
 * point outside the bundle.
 */
#include <dirent.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fhir/canon.h"
#include "fhir/jload.h"
#include "domain/category.h"
#include "domain/systems.h"
#include "fhir/load.h"
#include "fhir/outcome.h"
#include "identity/identity.h"
#include "identity/nhs.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

/* ---- serialising and bulk-mode memory ------------------------------------------- */

/* Serialise j into b (reused between calls, so a bundle needs no malloc per
 * resource) in the canonical form the store hashes (fhir/canon.h: compact,
 * sorted keys, byte-identical to jansson's); returns the length, 0 on
 * failure. */
static size_t dump_into(const json_t *j, struct buf *b)
{
    return canon_dump(j, b);
}

/*
 * Bulk mode: jansson allocates from an arena (bump allocation in 4 MB
 * blocks, free is a no-op) that is reset after each file or NDJSON batch,
 * when every tree of it is gone.  Parsing a bundle makes hundreds of
 * thousands of small allocations that are all freed together; with malloc
 * that cost more than the parse itself.
 */
#define ARENA_BLOCK (4u << 20)
#define ARENA_BIG (256u << 10)

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    max_align_t data[];
};

static struct {
    bool on;
    struct arena_block *blocks; /* current first; full ones after */
    struct arena_block *spare;  /* reset blocks, reused */
    struct arena_block *big;    /* single large allocations */
} arena;

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
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static void arena_free(void *p)
{
    (void)p;
}

/* Release a tree: in bulk mode the arena reset that follows frees it all at
 * once, so walking it to free each node is skipped. */
static void tree_drop(json_t *j)
{
    if (!arena.on)
        json_decref(j);
}

/* Drop everything allocated since the last reset (no tree may be alive). */
static void arena_reset(void)
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
    json_set_alloc_funcs(arena_malloc, arena_free);
    arena.on = true;
}

void fhir_load_bulk_end(void)
{
    if (!arena.on)
        return;
    arena_reset();
    while (arena.spare) {
        struct arena_block *b = arena.spare;
        arena.spare = b->next;
        free(b);
    }
    arena.on = false;
    json_set_alloc_funcs(malloc, free);
}

/* ---- report ----------------------------------------------------------------- */

void load_report_init(struct load_report *r)
{
    memset(r, 0, sizeof *r);
}

void load_report_free(struct load_report *r)
{
    for (int i = 0; i < r->nrejections; i++) {
        free(r->rejections[i].file);
        free(r->rejections[i].type);
        free(r->rejections[i].reason);
    }
    free(r->rejections);
    free(r->types);
    memset(r, 0, sizeof *r);
}

static int cmp_type(const void *a, const void *b)
{
    return strcmp(((const struct load_type_count *)a)->type,
                  ((const struct load_type_count *)b)->type);
}

void load_report_finish(struct load_report *r)
{
    if (r->ntypes > 1)
        qsort(r->types, (size_t)r->ntypes, sizeof *r->types, cmp_type);
}

void load_report_total(const struct load_report *r, struct load_type_count *sum)
{
    memset(sum, 0, sizeof *sum);
    snprintf(sum->type, sizeof sum->type, "total");
    for (int i = 0; i < r->ntypes; i++) {
        sum->stored += r->types[i].stored;
        sum->updated += r->types[i].updated;
        sum->unchanged += r->types[i].unchanged;
        sum->deleted += r->types[i].deleted;
        sum->rejected += r->types[i].rejected;
        sum->not_shareable += r->types[i].not_shareable;
    }
}

static struct load_type_count *type_row(struct load_report *r, const char *type)
{
    if (!type || !*type)
        type = "(unknown)";
    for (int i = 0; i < r->ntypes; i++)
        if (strcmp(r->types[i].type, type) == 0)
            return &r->types[i];
    r->types = xrealloc(r->types, sizeof *r->types * (size_t)(r->ntypes + 1));
    struct load_type_count *t = &r->types[r->ntypes++];
    memset(t, 0, sizeof *t);
    snprintf(t->type, sizeof t->type, "%.63s", type);
    return t;
}

static void add_rejection_at(struct load_report *r, const char *file, long entry, bool line,
                             const char *type, const char *reason)
{
    r->rejected++;
    type_row(r, type)->rejected++;
    if (r->nrejections >= LOAD_MAX_REJECTIONS)
        return;
    r->rejections = xrealloc(r->rejections, sizeof *r->rejections * (size_t)(r->nrejections + 1));
    struct load_rejection *j = &r->rejections[r->nrejections++];
    j->file = file ? xstrdup(file) : NULL;
    j->entry = entry;
    j->line = line;
    j->type = type ? xstrdup(type) : NULL;
    j->reason = xstrdup(reason);
}

static void add_rejection(struct load_report *r, const char *file, long entry, const char *type,
                          const char *reason)
{
    add_rejection_at(r, file, entry, false, type, reason);
}

/* ---- a small string -> int map (open addressing, keys borrowed) --------------- */

struct strmap {
    const char **keys;
    int *vals;
    size_t cap; /* power of two */
    size_t n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void map_init(struct strmap *m, size_t expect)
{
    m->cap = 16;
    while (m->cap < expect * 2 + 2)
        m->cap *= 2;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    m->n = 0;
}

static void map_free(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
}

/* Insert key (borrowed: must outlive the map) unless present; returns the
 * value now stored. */
static int map_put(struct strmap *m, const char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct strmap bigger;
        map_init(&bigger, m->cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                map_put(&bigger, m->keys[i], m->vals[i]);
        map_free(m);
        *m = bigger;
    }
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

static int map_get(const struct strmap *m, const char *key)
{
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- validation and identity ---------------------------------------------------- */

static bool valid_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return false;
    }
    return n >= 1 && n <= 64;
}

static bool valid_type(const char *s)
{
    if (!s || !(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    size_t n = 1;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z')))
            return false;
    return n <= 63;
}

enum entry_state { E_PENDING = 0, E_REJECTED, E_DONE, E_NOT_SHAREABLE };

/* Search terms of one resource: (param, value) pairs, values borrowed from
 * the resource or owned here. */
struct terms {
    const char *v[128];
    int n; /* strings in v (pairs * 2) */
    struct buf owned[8];
    int nowned;
};

struct entry {
    json_t *ent;          /* the Bundle.entry object, borrowed */
    json_t *res;          /* borrowed from the bundle; NULL for DELETE */
    const char *type;     /* borrowed (resource or request url) */
    char type_buf[64];    /* for DELETE entries */
    char *source_id;      /* malloc'd */
    char *key;            /* "Type/sourceid", malloc'd (map key) */
    char *wkey;           /* "Type/weftid", malloc'd (map key) */
    char id[33];          /* Weft id */
    const char *category; /* NULL: not shareable */
    char *person_id;      /* malloc'd, NULL when not linked */
    enum entry_state state;
    bool is_delete;
    char *reason; /* when rejected */
    enum store_put_outcome outcome;
    int version;
    long label; /* entry index or NDJSON line for messages */
    /* Prepared without the store (entry_compute): the stored text, its
     * digest, index columns and terms.  refs_pending: a reference needs the
     * store to resolve, so pass 3 resolves it and computes these again. */
    bool prepped;
    bool refs_pending;
    struct buf text;
    unsigned char hash[STORE_HASH_LEN];
    bool has_eff;
    char eff[20];
    bool has_code;
    struct buf code;
    const char *status;
    struct terms terms;
};

static void entry_reject(struct entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void entry_reject(struct entry *e, const char *fmt, ...)
{
    if (e->state == E_REJECTED)
        return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    free(e->reason);
    e->reason = buf_detach(&b, NULL);
    e->state = E_REJECTED;
}

/* Content digest as a source id for resources sent without any id. */
static char *content_source_id(const json_t *res)
{
    struct buf text = BUF_INIT;
    size_t n = dump_into(res, &text);
    unsigned char d[16];
    crypto_generichash(d, sizeof d, (const unsigned char *)text.data, n, NULL, 0);
    buf_release(&text);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    struct buf b = BUF_INIT;
    buf_addf(&b, "sha-%s", hex);
    return buf_detach(&b, NULL);
}

/* Split "Type/id[/_history/v]" (relative) into type and id (copied into
 * the buffers); false when it is not of that shape. */
static bool split_relative(const char *ref, char type[64], char id[65])
{
    const char *slash = strchr(ref, '/');
    if (!slash || slash == ref || slash - ref >= 64)
        return false;
    memcpy(type, ref, (size_t)(slash - ref));
    type[slash - ref] = 0;
    if (!valid_type(type))
        return false;
    const char *idp = slash + 1;
    const char *end = strchr(idp, '/');
    size_t n = end ? (size_t)(end - idp) : strlen(idp);
    if (n == 0 || n > 64)
        return false;
    if (end && strncmp(end, "/_history/", 10) != 0)
        return false;
    memcpy(id, idp, n);
    id[n] = 0;
    return valid_id(id);
}

/* Pass 1 for one entry. */
static void entry_prepare(struct entry *e, json_t *ent, const char *org)
{
    json_t *req = json_object_get(ent, "request");
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *url = json_string_value(json_object_get(req, "url"));
    if (method && strcmp(method, "GET") == 0) {
        entry_reject(e, "GET entries are not supported in a loaded bundle (search the API)");
        return;
    }
    if (method && strcmp(method, "DELETE") == 0) {
        char id[65];
        if (!url || !split_relative(url, e->type_buf, id)) {
            entry_reject(e, "DELETE entry needs request.url \"Type/id\"");
            return;
        }
        e->type = e->type_buf;
        e->is_delete = true;
        e->source_id = xstrdup(id);
        store_resource_id(org, e->type, e->source_id, e->id);
        return;
    }
    json_t *res = json_object_get(ent, "resource");
    if (!json_is_object(res)) {
        entry_reject(e, "entry has no resource object");
        return;
    }
    e->res = res;
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    if (!type) {
        entry_reject(e, "resource has no resourceType");
        return;
    }
    if (!valid_type(type)) {
        entry_reject(e, "resourceType '%.64s' is not a FHIR resource type name", type);
        return;
    }
    e->type = type;
    if (strcmp(type, "Bundle") == 0) {
        entry_reject(e, "a Bundle inside a Bundle is not loaded (send its entries)");
        return;
    }
    json_t *idv = json_object_get(res, "id");
    const char *fu = json_string_value(json_object_get(ent, "fullUrl"));
    if (idv) {
        const char *id = json_string_value(idv);
        if (!id || !valid_id(id)) {
            entry_reject(e, "id is not valid (FHIR ids are 1-64 of A-Z a-z 0-9 - .)");
            return;
        }
        e->source_id = xstrdup(id);
    } else if (fu && strncmp(fu, "urn:uuid:", 9) == 0 && valid_id(fu + 9)) {
        e->source_id = xstrdup(fu + 9);
    } else if (method && strcmp(method, "PUT") == 0 && url) {
        char t[64], id[65];
        if (!split_relative(url, t, id) || strcmp(t, type) != 0) {
            entry_reject(e, "PUT request.url '%.100s' is not %s/id", url, type);
            return;
        }
        e->source_id = xstrdup(id);
    } else {
        e->source_id = content_source_id(res);
    }
    store_resource_id(org, type, e->source_id, e->id);
}

/* ---- references -------------------------------------------------------------------- */

struct bundle_ctx {
    struct store *s;
    const struct load_ctx *ctx;
    struct entry *ents;
    int n;
    struct strmap map;
    /* pass 3's puts not sent yet (store_resource_put_batch): sent together
     * at the end of the bundle, or before anything else of pass 3 reads or
     * writes the store (bc_store), so every read sees every earlier put */
    struct store_put *puts;
    struct entry **put_ents;
    struct store_put_result *put_out;
    int nputs;
    int flush_rc; /* a failed batch: the bundle fails with it */
};

/* Send the pending puts as one batch and take their outcomes into their
 * entries; 0 or the store error (remembered in flush_rc too). */
static int puts_flush(struct bundle_ctx *bc)
{
    if (bc->nputs == 0 || bc->flush_rc != 0)
        return bc->flush_rc;
    int n = bc->nputs;
    bc->nputs = 0;
    int rc = store_resource_put_batch(bc->s, bc->puts, n, bc->put_out);
    if (rc != 0)
        return bc->flush_rc = rc;
    for (int i = 0; i < n; i++) {
        struct entry *e = bc->put_ents[i];
        const struct store_put_result *o = &bc->put_out[i];
        if (o->rc == WEFT_ECONFLICT) {
            entry_reject(e, "%s", o->error);
        } else {
            e->outcome = o->outcome;
            e->version = o->version;
            e->state = E_DONE;
        }
    }
    return WEFT_OK;
}

/* The store, for pass 3's reads and other writes: the pending puts are sent
 * first (a failure shows in flush_rc, which fails the bundle). */
static struct store *bc_store(struct bundle_ctx *bc)
{
    if (bc->s)
        puts_flush(bc);
    return bc->s;
}

/* Resolve one reference string of entry e.  On success type and id
 * name the target (a Weft id) and *target its entry index (-1 outside the
 * bundle).  Returns 1 resolved, 0 leave as is, -1 broken (entry rejected),
 * 2 needs the store (only while preparing, bc->s NULL: left as is). */
/* Whether resource r carries identifier "system|value" (or "value"). */
static bool has_identifier(const json_t *r, const char *want)
{
    size_t i;
    json_t *idf;
    const char *bar = strchr(want, '|');
    json_array_foreach(json_object_get(r, "identifier"), i, idf)
    {
        const char *sys = json_string_value(json_object_get(idf, "system"));
        const char *val = json_string_value(json_object_get(idf, "value"));
        if (!val)
            continue;
        if (!bar && strcmp(val, want) == 0)
            return true;
        if (bar && sys && strlen(sys) == (size_t)(bar - want) &&
            strncmp(sys, want, (size_t)(bar - want)) == 0 && strcmp(val, bar + 1) == 0)
            return true;
    }
    return false;
}

/* A conditional reference "Type?identifier=[system|]value" (percent-encoded
 * or not): the one resource of that type with that identifier, in the bundle
 * or stored.  Returns 1 resolved, -1 rejected. */
static int resolve_conditional(struct bundle_ctx *bc, struct entry *e, const char *ref,
                               char type[64], char id[65], int *target)
{
    const char *q = strchr(ref, '?');
    size_t tl = (size_t)(q - ref);
    if (tl == 0 || tl >= 64 || strncmp(q + 1, "identifier=", 11) != 0) {
        entry_reject(e, "conditional reference '%.100s' is not supported (use Type?identifier=)",
                     ref);
        return -1;
    }
    memcpy(type, ref, tl);
    type[tl] = 0;
    char want[256];
    size_t n = 0;
    for (const char *p = q + 12; *p && n + 1 < sizeof want; p++) {
        if (*p == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            want[n++] = (char)strtol(hex, NULL, 16);
            p += 2;
        } else {
            want[n++] = *p == '+' ? ' ' : *p;
        }
    }
    want[n] = 0;
    if (!valid_type(type) || n == 0 || strchr(want, '&')) {
        entry_reject(e, "conditional reference '%.100s' is not Type?identifier=[system|]value",
                     ref);
        return -1;
    }
    for (int j = 0; j < bc->n; j++) {
        struct entry *t = &bc->ents[j];
        if (t->res && t->type && strcmp(t->type, type) == 0 && has_identifier(t->res, want)) {
            memcpy(id, t->id, 33);
            *target = j;
            return 1;
        }
    }
    if (!bc->s)
        return 2; /* prepared off the store: pass 3 searches */
    /* the sender's own resource first, else the only one anyone sent */
    struct store_term term = {"identifier", want, false};
    const char *orgs[] = {bc->ctx->org};
    struct store_query sq = {.type = type,
                             .terms = &term,
                             .nterms = 1,
                             .limit = 2,
                             .source_orgs = orgs,
                             .nsource_orgs = 1};
    struct store_result r;
    int rc = store_search(bc_store(bc), &sq, &r);
    if (rc == 0 && r.nrows == 0) {
        store_result_clear(&r);
        sq.source_orgs = NULL;
        sq.nsource_orgs = 0;
        rc = store_search(bc_store(bc), &sq, &r);
    }
    if (rc == 0 && r.nrows == 1) {
        snprintf(id, 65, "%s", r.rows[0].id);
        store_result_clear(&r);
        return 1;
    }
    int found = rc == 0 ? r.nrows : -1;
    if (rc == 0)
        store_result_clear(&r);
    if (found == 0)
        entry_reject(e, "conditional reference '%.100s' matches no %s", ref, type);
    else if (found > 1)
        entry_reject(e, "conditional reference '%.100s' matches more than one %s", ref, type);
    else
        entry_reject(e, "conditional reference '%.100s' could not be searched", ref);
    return -1;
}

static int resolve_ref(struct bundle_ctx *bc, struct entry *e, const char *ref, char type[64],
                       char id[65], int *target)
{
    *target = -1;
    if (ref[0] == '#' || strncmp(ref, "http://", 7) == 0 || strncmp(ref, "https://", 8) == 0)
        return 0;
    if (strncmp(ref, "urn:uuid:", 9) == 0 || strncmp(ref, "urn:oid:", 8) == 0) {
        int j = map_get(&bc->map, ref);
        if (j < 0 || !bc->ents[j].type) {
            entry_reject(e, "reference '%.100s' does not match any fullUrl in the bundle", ref);
            return -1;
        }
        snprintf(type, 64, "%s", bc->ents[j].type);
        memcpy(id, bc->ents[j].id, 33);
        *target = j;
        return 1;
    }
    if (strchr(ref, '?'))
        return resolve_conditional(bc, e, ref, type, id, target);
    char sid[65];
    if (!split_relative(ref, type, sid)) {
        entry_reject(e, "reference '%.100s' is neither Type/id, urn:uuid: nor an absolute URL",
                     ref);
        return -1;
    }
    char key[140];
    snprintf(key, sizeof key, "%s/%s", type, sid);
    int j = map_get(&bc->map, key);
    if (j >= 0) {
        memcpy(id, bc->ents[j].id, 33);
        *target = j;
        return 1;
    }
    if (!bc->s)
        return 2;
    /* sent earlier by the same organisation? */
    char wid[33];
    store_resource_id(bc->ctx->org, type, sid, wid);
    int rc = store_resource_person(bc_store(bc), type, wid, NULL);
    if (rc == 0) {
        memcpy(id, wid, 33);
        return 1;
    }
    /* already a Weft id of a stored item? */
    if (strlen(sid) == 32 && store_resource_person(bc_store(bc), type, sid, NULL) == 0) {
        memcpy(id, sid, 33);
        return 1;
    }
    entry_reject(e, "reference '%.100s' names nothing in the bundle or sent before by %s", ref,
                 bc->ctx->org);
    return -1;
}

/* Walk v rewriting every "reference" string; false once the entry is rejected. */
static bool rewrite_refs(struct bundle_ctx *bc, struct entry *e, json_t *v, int depth)
{
    if (depth > 64) {
        entry_reject(e, "resource nests deeper than 64 levels");
        return false;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            if (json_is_string(c)) {
                if (k[0] == 'r' && strcmp(k, "reference") == 0) {
                    char type[64], id[65];
                    int target;
                    int r = resolve_ref(bc, e, json_string_value(c), type, id, &target);
                    if (r < 0)
                        return false;
                    if (r == 2)
                        e->refs_pending = true;
                    else if (r > 0) {
                        char nref[140];
                        snprintf(nref, sizeof nref, "%s/%s", type, id);
                        json_string_set(c, nref);
                    }
                }
            } else if (json_is_object(c) || json_is_array(c)) {
                if (!rewrite_refs(bc, e, c, depth + 1))
                    return false;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if ((json_is_object(c) || json_is_array(c)) && !rewrite_refs(bc, e, c, depth + 1))
                return false;
        }
    }
    return true;
}

/* The person of a (rewritten) Patient reference object {reference, identifier}. */
static int person_of_ref(struct bundle_ctx *bc, const json_t *refobj, char **person)
{
    *person = NULL;
    const char *ref = json_string_value(json_object_get(refobj, "reference"));
    if (ref && strncmp(ref, "Patient/", 8) == 0) {
        const char *id = ref + 8;
        int j = map_get(&bc->map, ref); /* "Patient/{weft id}" of an entry here */
        if (j >= 0) {
            if (bc->ents[j].person_id)
                *person = xstrdup(bc->ents[j].person_id);
            return WEFT_OK;
        }
        int rc = store_resource_person(bc_store(bc), "Patient", id, person);
        return rc == WEFT_ENOTFOUND ? WEFT_OK : rc;
    }
    json_t *ident = json_object_get(refobj, "identifier");
    const char *sys = json_string_value(json_object_get(ident, "system"));
    const char *val = json_string_value(json_object_get(ident, "value"));
    if (sys && val) {
        int rc = identity_of_identifier(bc_store(bc), bc->ctx->org, sys, val, person);
        if (rc == WEFT_ENOTFOUND || rc == WEFT_EINVAL)
            return WEFT_OK; /* unknown or invalid: not linked */
        return rc;
    }
    return WEFT_OK;
}

static int entry_person(struct bundle_ctx *bc, struct entry *e)
{
    static const char *const keys[] = {"subject", "patient", "individual", "beneficiary"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        json_t *r = json_object_get(e->res, keys[k]);
        if (json_is_object(r)) {
            int rc = person_of_ref(bc, r, &e->person_id);
            if (rc != 0 || e->person_id)
                return rc;
        }
    }
    json_t *parts = json_object_get(e->res, "participant");
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        json_t *actor = json_object_get(p, "actor");
        if (json_is_object(actor)) {
            int rc = person_of_ref(bc, actor, &e->person_id);
            if (rc != 0 || e->person_id)
                return rc;
        }
    }
    return WEFT_OK;
}

/* ---- index columns and terms ----------------------------------------------------------- */

/* Normalise a FHIR date/dateTime/instant for the effective column: up to
 * seconds, time zone and fractions dropped.  out holds 20 bytes. */
static bool norm_date(const char *v, char out[20])
{
    size_t n = 0;
    while (v[n] && n < 19 && v[n] != '+' && v[n] != 'Z' && v[n] != '.' && !(n >= 10 && v[n] == '-'))
        n++;
    if (n < 4 || !(v[0] >= '0' && v[0] <= '9'))
        return false;
    memcpy(out, v, n);
    out[n] = 0;
    return true;
}

static const char *path_str(const json_t *r, const char *a, const char *b)
{
    const json_t *v = json_object_get(r, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static bool effective_of(const json_t *r, char out[20])
{
    static const char *const paths[][2] = {
        {"effectiveDateTime", NULL},
        {"effectiveInstant", NULL},
        {"effectivePeriod", "start"},
        {"occurrenceDateTime", NULL},
        {"occurrencePeriod", "start"},
        {"performedDateTime", NULL},
        {"performedPeriod", "start"},
        {"onsetDateTime", NULL},
        {"onsetPeriod", "start"},
        {"period", "start"},
        {"start", NULL},
        {"started", NULL},
        {"authoredOn", NULL},
        {"authored", NULL},
        {"recordedDate", NULL},
        {"recorded", NULL},
        {"dateTime", NULL},
        {"date", NULL},
        {"issued", NULL},
        {"created", NULL},
        {"startDate", NULL},
        {"dateAsserted", NULL},
        {"birthDate", NULL},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const char *v = path_str(r, paths[i][0], paths[i][1]);
        if (v && norm_date(v, out))
            return true;
    }
    return false;
}

/* First coding of the first concept found: "system|code" into b. */
/* The code column: the first coding of the resource's main concept as
 * "system|code"; *concept (may be NULL) gets that concept, whose other
 * codings become "code" terms (code_terms). */
static bool code_of(const json_t *r, struct buf *b, const json_t **concept)
{
    static const char *const keys[] = {"code", "medicationCodeableConcept", "vaccineCode", "type"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const json_t *c = json_object_get(r, keys[k]);
        if (json_is_array(c))
            c = json_array_get(c, 0);
        const json_t *cd = json_array_get(json_object_get(c, "coding"), 0);
        const char *code = json_string_value(json_object_get(cd, "code"));
        if (code) {
            const char *sys = json_string_value(json_object_get(cd, "system"));
            buf_addf(b, "%s|%s", sys ? sys : "", code);
            if (concept)
            *concept = c;
            return true;
        }
    }
    return false;
}

static const char *status_of(const json_t *r)
{
    const char *s = json_string_value(json_object_get(r, "status"));
    if (s)
        return s;
    const json_t *cs = json_object_get(r, "clinicalStatus");
    return json_string_value(
        json_object_get(json_array_get(json_object_get(cs, "coding"), 0), "code"));
}

static void term_add(struct terms *t, const char *param, const char *value)
{
    if (!value || !*value || t->n + 2 > (int)(sizeof t->v / sizeof t->v[0]))
        return;
    t->v[t->n++] = param;
    t->v[t->n++] = value;
}

/* The search terms of a Patient: exactly the token/string parameters that
 * fhir/search.c answers from resource_term (identifier as value and as
 * system|value, family, given, birthdate).  Each is a row written with the
 * Patient, so a term nothing searches is pure cost. */
static void patient_terms(const json_t *r, struct terms *t)
{
    size_t i, k;
    json_t *v, *g;
    json_array_foreach(json_object_get(r, "identifier"), i, v)
    {
        const char *sys = json_string_value(json_object_get(v, "system"));
        const char *val = json_string_value(json_object_get(v, "value"));
        if (!val)
            continue;
        term_add(t, "identifier", val);
        if (sys && t->nowned < 8) {
            struct buf *b = &t->owned[t->nowned++];
            buf_addf(b, "%s|%s", sys, val);
            term_add(t, "identifier", b->data);
        }
    }
    json_array_foreach(json_object_get(r, "name"), i, v)
    {
        term_add(t, "family", json_string_value(json_object_get(v, "family")));
        json_array_foreach(json_object_get(v, "given"), k, g)
        {
            term_add(t, "given", json_string_value(g));
        }
    }
    term_add(t, "birthdate", json_string_value(json_object_get(r, "birthDate")));
}

/* The concept's codings after the first (the first is the code column): a
 * "code" term "system|code" each and a "code-any" term with the bare code, so
 * a search by any coding finds the item (a lab result coded in LOINC and in
 * the lab's own code system, a condition in SNOMED and Read). */
static void code_terms(const json_t *concept, struct terms *t)
{
    const json_t *codings = json_object_get(concept, "coding");
    for (size_t i = 1; i < json_array_size(codings) && t->nowned < 8; i++) {
        const json_t *cd = json_array_get(codings, i);
        const char *code = json_string_value(json_object_get(cd, "code"));
        if (!code || !*code)
            continue;
        const char *sys = json_string_value(json_object_get(cd, "system"));
        struct buf *b = &t->owned[t->nowned++];
        buf_addf(b, "%s|%s", sys ? sys : "", code);
        term_add(t, "code", b->data);
        term_add(t, "code-any", code);
    }
}

static void terms_release(struct terms *t)
{
    for (int i = 0; i < t->nowned; i++)
        buf_release(&t->owned[i]);
}

/* ---- meta ------------------------------------------------------------------------------- */

/* {"system": system, "code": code} (json_pack parses its format per call:
 * this runs for every resource loaded). */
static json_t *tag_new(const char *system, const char *code)
{
    json_t *t = json_object();
    json_object_set_new_nocheck(t, "system", json_string(system));
    json_object_set_new_nocheck(t, "code", json_string(code));
    return t;
}

static void set_meta(json_t *res, const char *org, const char *feed, const char *source_id)
{
    json_t *meta = json_object_get(res, "meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(res, "meta", meta);
    }
    json_object_del(meta, "versionId");
    json_object_del(meta, "lastUpdated");
    char src[256]; /* per resource: a stack buffer, not buf_addf's malloc */
    int sl = snprintf(src, sizeof src, "urn:weft:feed:%s:%s", org, feed ? feed : "manual");
    if (sl >= 0 && (size_t)sl < sizeof src) {
        json_object_set_new(meta, "source", json_stringn(src, (size_t)sl));
    } else {
        struct buf b = BUF_INIT;
        buf_addf(&b, "urn:weft:feed:%s:%s", org, feed ? feed : "manual");
        json_object_set_new(meta, "source", json_stringn(b.data, b.len));
        buf_release(&b);
    }
    json_t *tags = json_object_get(meta, "tag");
    if (!json_is_array(tags)) {
        tags = json_array();
        json_object_set_new(meta, "tag", tags);
    }
    for (size_t i = json_array_size(tags); i-- > 0;) {
        const char *sys = json_string_value(json_object_get(json_array_get(tags, i), "system"));
        if (sys && (strcmp(sys, ODS_SYSTEM) == 0 || strcmp(sys, SOURCE_ID_SYSTEM) == 0))
            json_array_remove(tags, i);
    }
    json_array_append_new(tags, tag_new(ODS_SYSTEM, org));
    json_array_append_new(tags, tag_new(SOURCE_ID_SYSTEM, source_id));
}

/* ---- one entry -------------------------------------------------------------------------- */

static void entry_init(struct entry *e)
{
    buf_init(&e->text);
    buf_init(&e->code);
    for (int i = 0; i < 8; i++)
        buf_init(&e->terms.owned[i]);
}

static void entry_prep_release(struct entry *e)
{
    buf_release(&e->text);
    buf_release(&e->code);
    terms_release(&e->terms);
    e->terms.n = 0;
    e->terms.nowned = 0;
    e->prepped = false;
}

/* What the store is given for one entry, computed without the store: id and
 * meta set, index columns and terms taken, the text serialised once and its
 * digest.  Rejects the entry when it cannot be serialised or is too large. */
static void entry_compute(struct bundle_ctx *bc, struct entry *e)
{
    const struct load_ctx *ctx = bc->ctx;
    entry_prep_release(e);
    json_object_set_new(e->res, "id", json_string(e->id));
    set_meta(e->res, ctx->org, ctx->feed, e->source_id);
    e->has_eff = effective_of(e->res, e->eff);
    const json_t *concept = NULL;
    e->has_code = code_of(e->res, &e->code, &concept);
    if (strcmp(e->type, "Patient") == 0)
        patient_terms(e->res, &e->terms);
    if (concept)
        code_terms(concept, &e->terms);
    e->status = status_of(e->res);
    size_t len = dump_into(e->res, &e->text);
    if (len == 0) {
        entry_reject(e, "resource could not be serialised");
        return;
    }
    if (len > LOAD_MAX_RESOURCE_BYTES) {
        entry_reject(e, "resource is %.1f MB, larger than the %u MB limit",
                     (double)len / (1024.0 * 1024.0), LOAD_MAX_RESOURCE_BYTES >> 20);
        return;
    }
    store_content_hash(e->text.data, e->text.len, e->hash);
    e->prepped = true;
}

/* Pass P for one entry, without the store (any thread): references to
 * entries of the bundle rewritten, a Patient's invalid NHS numbers flagged
 * (identity_resolve_patient finds them flagged already), then entry_compute.  An entry
 * with a reference that needs the store is finished in pass 3. */
static void entry_prepare_pure(struct bundle_ctx *bc, struct entry *e)
{
    if (e->state != E_PENDING || e->is_delete)
        return;
    if (!rewrite_refs(bc, e, e->res, 0))
        return;
    if (strcmp(e->type, "Patient") == 0)
        identity_mark_invalid(e->res);
    if (!e->refs_pending)
        entry_compute(bc, e);
}

/* Whether key is element name (len n; choice: name without "[x]" followed by
 * a capitalised type) or its primitive extension "_name". */
static bool element_key(const char *key, const char *name, size_t n, bool choice)
{
    if (key[0] == '_')
        key++;
    if (strncmp(key, name, n) != 0)
        return false;
    return choice ? key[n] >= 'A' && key[n] <= 'Z' : key[n] == 0;
}

/*
 * LOAD_KEEP_ABSENT (load.h) for entry e (ent its Bundle.entry object): copy
 * each named element that e->res lacks from the current version of the same
 * item, then drop the member.  Runs before entry_store, so the merged
 * resource is resolved, linked, indexed and hashed as if sent whole (a
 * repeat of what is stored is "unchanged").  Returns 0 (a malformed list
 * rejects e) or a store error.
 */
/*
 * keep_absent's memo, per thread (in practice the MLLP writer's): the key is
 * a digest of (the prepared resource's digest, the element list, the stored
 * version's digest), the value the digest of their merge.  A lab that sends
 * the same thin PID again finds its merge known: when the merge is what is
 * stored, the Patient is unchanged without reading, parsing or serialising
 * anything.  A merge is a pure function of the three, so an entry can only
 * be stale by a digest collision (128 bits).
 */
#define KEEP_MEMO_SLOTS 1024
static _Thread_local struct {
    unsigned char key[STORE_HASH_LEN], out[STORE_HASH_LEN];
    bool used;
} keep_memo[KEEP_MEMO_SLOTS];

static void keep_memo_key(const unsigned char in[STORE_HASH_LEN],
                          const unsigned char cur[STORE_HASH_LEN], const json_t *keep,
                          unsigned char key[STORE_HASH_LEN])
{
    struct buf b = BUF_INIT;
    buf_add(&b, (const char *)in, STORE_HASH_LEN);
    buf_add(&b, (const char *)cur, STORE_HASH_LEN);
    size_t i;
    const json_t *v;
    json_array_foreach(keep, i, v)
    {
        buf_adds(&b, json_string_value(v));
        buf_add(&b, ",", 1);
    }
    store_content_hash(b.data, b.len, key);
    buf_release(&b);
}

/* "+name" of LOAD_KEEP_ABSENT: res's array name becomes the stored array
 * old with the members of each system the incoming array has replaced by
 * the incoming ones (in the stored order, so a restatement is unchanged),
 * then the incoming members of systems not stored; a missing "system" counts
 * as one more system.  Returns true when res changed. */
static bool same_system(const json_t *a, const json_t *b)
{
    const json_t *x = json_object_get(a, "system"), *y = json_object_get(b, "system");
    return (!x && !y) || (x && y && json_equal(x, y));
}

static bool merge_by_system(json_t *res, const char *name, const json_t *old)
{
    if (!json_is_array(old) || json_array_size(old) == 0)
        return false;
    json_t *cur = json_object_get(res, name);
    if (!json_is_array(cur)) {
        json_object_set_new(res, name, json_deep_copy(old));
        return true;
    }
    size_t nin = json_array_size(cur), i, j;
    bool *used = calloc(nin ? nin : 1, sizeof *used);
    if (!used)
        return false;
    json_t *out = json_array();
    const json_t *ov;
    json_array_foreach(old, i, ov)
    {
        bool sent = false;
        for (j = 0; j < nin; j++) {
            if (!same_system(ov, json_array_get(cur, j)))
                continue;
            sent = true;
            if (!used[j])
                json_array_append(out, json_array_get(cur, j));
            used[j] = true;
        }
        if (!sent)
            json_array_append_new(out, json_deep_copy(ov));
    }
    for (j = 0; j < nin; j++)
        if (!used[j])
            json_array_append(out, json_array_get(cur, j));
    free(used);
    bool changed = !json_equal(out, cur);
    if (changed)
        json_object_set_new(res, name, out);
    else
        json_decref(out);
    return changed;
}

/* An Encounter whose keep list names "?status": each location without a
 * status follows the (merged) stay's.  Returns true when res changed. */
static bool location_follows(json_t *res)
{
    const char *st = json_string_value(json_object_get(res, "status"));
    if (!st)
        return false;
    const char *ls =
        !strcmp(st, "planned") ? "planned"
        : (!strcmp(st, "finished") || !strcmp(st, "cancelled") || !strcmp(st, "entered-in-error"))
            ? "completed"
            : "active";
    bool changed = false;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(res, "location"), i, l)
    {
        if (json_is_object(l) && !json_object_get(l, "status")) {
            json_object_set_new(l, "status", json_string(ls));
            changed = true;
        }
    }
    return changed;
}

static int keep_absent(struct bundle_ctx *bc, struct entry *e)
{
    json_t *keep = json_incref(json_object_get(e->ent, LOAD_KEEP_ABSENT));
    if (!keep)
        return WEFT_OK;
    json_object_del(e->ent, LOAD_KEEP_ABSENT);
    int rc = WEFT_OK;
    size_t i;
    json_t *v;
    bool ok = json_is_array(keep);
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    json_array_foreach(keep, i, v)
    {
        const char *n = json_string_value(v);
        bool union_ = n && n[0] == '+';
        if (n && (n[0] == '?' || n[0] == '+'))
            n++;
        size_t len = n ? strspn(n, alnum) : 0;
        bool sub = n && n[len] == '.' && n[len + 1] >= 'a' && n[len + 1] <= 'z' &&
                   (n + len + 1)[strspn(n + len + 1, alnum)] == 0 && strlen(n + len + 1) < 64;
        bool reserved =
            n && ((len == 2 && !strncmp(n, "id", 2)) || (len == 4 && !strncmp(n, "meta", 4)) ||
                  (len == 12 && !strncmp(n, "resourceType", 12)));
        ok = ok && n && n[0] >= 'a' && n[0] <= 'z' && len < 64 &&
             (n[len] == 0 || (!union_ && (strcmp(n + len, "[x]") == 0 || sub))) && !reserved;
    }
    if (!ok) {
        entry_reject(e,
                     "%s must be an array of element names (\"name\", \"name[x]\", "
                     "\"name.part\", each may start with '?'; \"+name\"; not id, meta, "
                     "resourceType)",
                     LOAD_KEEP_ABSENT);
        goto out;
    }
    /* prepared as stored already (a repeat): nothing to copy */
    unsigned char digest[STORE_HASH_LEN], mkey[STORE_HASH_LEN];
    int version = 0;
    int drc = e->prepped && e->res
                  ? store_resource_digest(bc_store(bc), e->type, e->id, digest, &version)
                  : WEFT_EINVAL;
    bool follows = false; /* an Encounter's locations follow its status */
    json_array_foreach(keep, i, v)
    {
        follows =
            follows || (!strcmp(e->type, "Encounter") && !strcmp(json_string_value(v), "?status"));
    }
    json_t *old = NULL;
    bool have_digest = drc == 0;
    unsigned slot = 0;
    if (drc == WEFT_ENOTFOUND)
        goto merged; /* nothing stored (a new item, or deleted): nothing to keep */
    if (have_digest && memcmp(digest, e->hash, STORE_HASH_LEN) == 0)
        goto out;
    if (have_digest) { /* merged into what is stored before? */
        keep_memo_key(e->hash, digest, keep, mkey);
        memcpy(&slot, mkey, sizeof slot);
        slot %= KEEP_MEMO_SLOTS;
        if (keep_memo[slot].used && memcmp(keep_memo[slot].key, mkey, STORE_HASH_LEN) == 0 &&
            memcmp(keep_memo[slot].out, digest, STORE_HASH_LEN) == 0) {
            e->state = E_DONE; /* the merge is the stored version: unchanged */
            e->outcome = STORE_PUT_UNCHANGED;
            e->version = version;
            goto out;
        }
    }
    struct store_row cur;
    if (!e->res || (rc = store_resource_get(bc_store(bc), e->type, e->id, 0, &cur)) != 0) {
        rc = rc == WEFT_ENOTFOUND ? WEFT_OK : rc; /* a DELETE, or nothing stored yet */
        if (rc == WEFT_OK && e->res)
            goto merged;
        goto out;
    }
    /* Most often the stored version has none of the elements: a key
     * "name... appears nowhere in its text, so there is nothing to copy and
     * no need to parse it (the prepared text stays as it is). */
    bool mentioned = false;
    json_array_foreach(keep, i, v)
    {
        char pat[72];
        const char *nm = json_string_value(v);
        nm += nm[0] == '?' || nm[0] == '+';
        snprintf(pat, sizeof pat, "\"%.*s", (int)strcspn(nm, "[."), nm);
        mentioned = mentioned || (!cur.deleted && strstr(cur.json, pat));
    }
    old = mentioned ? json_loadb(cur.json, cur.json_len, 0, NULL) : NULL;
    store_row_clear(&cur);
    json_array_foreach(keep, i, v)
    {
        const char *name = json_string_value(v), *key;
        bool weak = name[0] == '?';   /* the stored value wins when there is one */
        bool union_ = name[0] == '+'; /* stored members of other systems are kept */
        name += weak || union_;
        size_t n = strcspn(name, "[.");
        if (!old)
            continue;
        if (union_) {
            if (merge_by_system(e->res, name, json_object_get(old, name)))
                e->prepped = false;
            continue;
        }
        if (name[n] == '.') { /* one part of an element: "period.end" */
            char top[64];
            snprintf(top, sizeof top, "%.*s", (int)n, name);
            const char *part = name + n + 1;
            json_t *ov = json_object_get(json_object_get(old, top), part);
            json_t *nt = json_object_get(e->res, top);
            if (!ov || (!weak && json_object_get(nt, part)))
                continue;
            if (!json_is_object(nt)) {
                nt = json_object();
                json_object_set_new(e->res, top, nt);
            }
            json_object_set(nt, part, ov);
            e->prepped = false;
            continue;
        }
        bool choice = name[n] == '[', has = false, stored = false;
        json_t *val;
        json_object_foreach(old, key, val)
        {
            stored = stored || element_key(key, name, n, choice);
        }
        json_object_foreach(e->res, key, val)
        {
            has = has || element_key(key, name, n, choice);
        }
        if (!stored || (has && !weak))
            continue;
        void *tmp;
        json_object_foreach_safe(e->res, tmp, key, val)
        {
            if (element_key(key, name, n, choice))
                json_object_del(e->res, key);
        }
        json_object_foreach(old, key, val)
        {
            if (element_key(key, name, n, choice))
                json_object_set(e->res, key, val);
        }
        e->prepped = false; /* prepared without it: done again below */
    }
    json_decref(old);
merged:
    if (follows && e->res && location_follows(e->res))
        e->prepped = false;
    if (!e->prepped && !e->refs_pending) {
        if (!rewrite_refs(bc, e, e->res, 0))
            goto out;
        entry_compute(bc, e);
    }
    if (have_digest && e->prepped) {
        memcpy(keep_memo[slot].key, mkey, STORE_HASH_LEN);
        memcpy(keep_memo[slot].out, e->hash, STORE_HASH_LEN);
        keep_memo[slot].used = true;
    }
out:
    json_decref(keep);
    return rc;
}

/* Pass 3 for one entry: returns 0, or a store error (the bundle fails). */
static int entry_store(struct bundle_ctx *bc, struct entry *e)
{
    const struct load_ctx *ctx = bc->ctx;
    if (e->is_delete) {
        int rc = store_resource_delete(bc_store(bc), e->type, e->id);
        if (rc == WEFT_ENOTFOUND) {
            entry_reject(e, "DELETE %s/%s: nothing of that id was sent by %s", e->type,
                         e->source_id, ctx->org);
            return WEFT_OK;
        }
        if (rc == 0)
            e->state = E_DONE;
        return rc;
    }
    if (e->refs_pending || !e->prepped) {
        e->refs_pending = false;
        if (!rewrite_refs(bc, e, e->res, 0))
            return WEFT_OK;
        entry_compute(bc, e);
        if (e->state == E_REJECTED)
            return WEFT_OK;
    }
    if (!e->person_id && strcmp(e->type, "Patient") != 0) {
        int rc = entry_person(bc, e);
        if (rc != 0)
            return rc;
    }
    struct store_put p = {
        .type = e->type,
        .source_org = ctx->org,
        .source_id = e->source_id,
        .feed = ctx->feed,
        .person_id = e->person_id,
        .category = e->category,
        .effective = e->has_eff ? e->eff : NULL,
        .code = e->has_code ? e->code.data : NULL,
        .status = e->status,
        .json = e->text.data,
        .json_len = e->text.len,
        .terms = e->terms.v,
        .nterms = e->terms.n / 2,
        .id = e->id,
        .hash = e->hash,
    };
    /* queued: sent with the bundle's other puts (puts_flush) */
    bc->puts[bc->nputs] = p;
    bc->put_ents[bc->nputs++] = e;
    return bc->flush_rc;
}

/* ---- a bundle --------------------------------------------------------------------------- */

static void entries_free(struct entry *ents, int n)
{
    for (int i = 0; i < n; i++) {
        free(ents[i].source_id);
        free(ents[i].key);
        free(ents[i].wkey);
        free(ents[i].person_id);
        free(ents[i].reason);
        entry_prep_release(&ents[i]);
    }
    free(ents);
}

static json_t *response_entry(const struct entry *e, const char *file)
{
    char status[64] = "200 OK";
    json_t *resp = json_object();
    if (e->state == E_REJECTED) {
        snprintf(status, sizeof status, "400 Bad Request");
        json_t *oo = fhir_outcome_new();
        char expr[64];
        snprintf(expr, sizeof expr, "Bundle.entry[%ld]", e->label);
        fhir_outcome_add(oo, "error", "invalid", e->reason ? e->reason : "rejected", expr);
        json_object_set_new(resp, "outcome", oo);
    } else if (e->state == E_NOT_SHAREABLE) {
        struct buf b = BUF_INIT;
        buf_addf(&b, "not stored: %s is outside the shared care record", e->type);
        json_object_set_new(resp, "outcome",
                            fhir_outcome_make("information", "informational", b.data));
        buf_release(&b);
    } else if (e->is_delete) {
        snprintf(status, sizeof status, "204 No Content");
    } else {
        if (e->outcome == STORE_PUT_CREATED)
            snprintf(status, sizeof status, "201 Created");
        struct buf loc = BUF_INIT;
        buf_addf(&loc, "%s/%s/_history/%d", e->type, e->id, e->version);
        json_object_set_new(resp, "location", json_stringn(loc.data, loc.len));
        buf_reset(&loc);
        buf_addf(&loc, "W/\"%d\"", e->version);
        json_object_set_new(resp, "etag", json_stringn(loc.data, loc.len));
        buf_release(&loc);
    }
    (void)file;
    json_object_set_new(resp, "status", json_string(status));
    return json_pack("{s:o}", "response", resp);
}

/* The bundle's transaction: its own (not nested), an item of the caller's
 * transaction (nested), or nothing of its own (the caller's item). */
struct load_txn {
    struct store_txn own;
    struct store_txn *t;
    bool item; /* an item of t is open for this bundle */
};

static int load_txn_begin(struct store *s, const struct load_ctx *ctx, struct load_txn *lt)
{
    lt->item = false;
    if (!ctx->nested) {
        lt->t = &lt->own;
        return store_txn_begin(&lt->own, s);
    }
    lt->t = store_txn_current(s);
    assert(lt->t); /* nested: inside the caller's transaction */
    if (!lt->t)
        return WEFT_EINVAL;
    if (ctx->caller_savepoint)
        return WEFT_OK;
    int rc = store_txn_item(lt->t);
    lt->item = rc == 0;
    return rc;
}

/* End the bundle's transaction: commit (or, nested, keep its item) when ok,
 * else roll it back (nested: undo its item).  Once only: later calls do
 * nothing. */
static int load_txn_end(const struct load_ctx *ctx, struct load_txn *lt, bool ok)
{
    if (!ctx->nested) {
        if (ok && lt->own.open)
            return store_txn_commit(&lt->own);
        store_txn_rollback(&lt->own);
        return WEFT_OK;
    }
    if (!lt->item)
        return WEFT_OK; /* the caller's item: it undoes what failed */
    lt->item = false;
    return store_txn_item_end(lt->t, ok);
}

/*
 * The core: process entries (a JSON array of Bundle.entry objects) as one
 * unit.  labels[i] (may be NULL: use i) names entry i in messages.
 */
/* Passes 1 and P (no store, any thread): entries of the JSON array
 * validated, identified, indexed, and prepared for the store.  bc->ctx must
 * be set; bc->s is NULL. */
static void prep_entries(struct bundle_ctx *bc, json_t *entries, const long *labels)
{
    int n = (int)json_array_size(entries);
    const struct load_ctx *ctx = bc->ctx;
    bc->n = n;
    bc->ents = xcalloc((size_t)(n ? n : 1), sizeof *bc->ents);
    map_init(&bc->map, (size_t)n * 3);
    for (int i = 0; i < n; i++)
        entry_init(&bc->ents[i]);

    /* pass 1: validate, identity, index */
    for (int i = 0; i < n; i++) {
        struct entry *e = &bc->ents[i];
        e->label = labels ? labels[i] : i;
        json_t *ent = json_array_get(entries, (size_t)i);
        if (!json_is_object(ent)) {
            entry_reject(e, "entry is not a JSON object");
            continue;
        }
        e->ent = ent;
        entry_prepare(e, ent, ctx->org);
        if (e->state == E_REJECTED)
            continue;
        struct buf k = BUF_INIT;
        buf_addf(&k, "%s/%s", e->type, e->source_id);
        e->key = buf_detach(&k, NULL);
        buf_addf(&k, "%s/%s", e->type, e->id);
        e->wkey = buf_detach(&k, NULL);
        int prev = map_put(&bc->map, e->key, i);
        if (prev != i) {
            entry_reject(e, "%s appears twice in the bundle (also entry %ld)", e->key,
                         bc->ents[prev].label);
            continue;
        }
        map_put(&bc->map, e->wkey, i);
        const char *fu = json_string_value(json_object_get(ent, "fullUrl"));
        if (fu)
            map_put(&bc->map, fu, i);
        if (!e->is_delete) {
            e->category = category_of(e->res);
            if (!e->category)
                e->state = E_NOT_SHAREABLE;
        }
    }
    /* pass P: references within the bundle, meta, serialisation */
    for (int i = 0; i < n; i++)
        entry_prepare_pure(bc, &bc->ents[i]);
}

static void bundle_ctx_free(struct bundle_ctx *bc)
{
    map_free(&bc->map);
    entries_free(bc->ents, bc->n);
    bc->ents = NULL;
    bc->n = 0;
}

/* Passes 2 and 3 (the store): link Patients, store every entry, in one
 * transaction (or the caller's savepoint); the report and response. */
static int run_entries(struct bundle_ctx *bc, struct store *s, bool atomic,
                       const struct load_ctx *ctx, struct load_report *rep, json_t **response,
                       const char *resp_type, bool labelled)
{
    int n = bc->n;
    bc->s = s;
    bc->ctx = ctx;
    rep->bundles++;
    rep->entries += n;
    struct load_txn lt;
    int rc = load_txn_begin(s, ctx, &lt);
    if (rc != 0)
        goto out;
    /* pass 2: Patients -> persons */
    bool merged = false;
    for (int i = 0; i < n && rc == 0; i++) {
        struct entry *e = &bc->ents[i];
        if (e->state != E_PENDING || e->is_delete || strcmp(e->type, "Patient") != 0)
            continue;
        struct identity_outcome lo;
        rc = identity_resolve_patient(s, ctx->org, e->source_id, e->res, &lo);
        if (rc == 0) {
            e->person_id = lo.person_id;
            rep->persons_linked++;
            rep->invalid_nhs += lo.invalid_nhs;
            merged |= lo.merged > 0;
        }
    }
    /* the master person index merged persons: an earlier Patient of this
     * bundle may now belong to another person (identity/mpi.h) */
    for (int i = 0; i < n && rc == 0 && merged; i++) {
        struct entry *e = &bc->ents[i];
        if (!e->person_id || strcmp(e->type, "Patient") != 0)
            continue;
        char *now = NULL;
        if (identity_record_person(s, ctx->org, e->source_id, &now) == 0) {
            free(e->person_id);
            e->person_id = now;
        }
    }
    /* pass 3: store (the puts queued, sent in batches: puts_flush) */
    bool failed = false;
    bc->puts = xcalloc((size_t)(n ? n : 1), sizeof *bc->puts);
    bc->put_ents = xcalloc((size_t)(n ? n : 1), sizeof *bc->put_ents);
    bc->put_out = xcalloc((size_t)(n ? n : 1), sizeof *bc->put_out);
    bc->nputs = 0;
    bc->flush_rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct entry *e = &bc->ents[i];
        if (e->state == E_PENDING)
            rc = keep_absent(bc, e);
        if (e->state == E_PENDING && rc == 0)
            rc = entry_store(bc, e);
        if (rc == 0)
            rc = bc->flush_rc;
        if (e->state == E_REJECTED)
            failed = true;
        if (failed && atomic)
            break;
    }
    if (rc == 0 && !(failed && atomic)) /* else all is rolled back: no need */
        rc = puts_flush(bc);
    for (int i = 0; i < n && !failed; i++)
        failed = bc->ents[i].state == E_REJECTED;
    free(bc->puts);
    free(bc->put_ents);
    free(bc->put_out);
    bc->puts = NULL;
    bc->put_ents = NULL;
    bc->put_out = NULL;
    bc->nputs = 0;
    if (rc != 0) {
        load_txn_end(ctx, &lt, false);
        goto out;
    }
    if (failed && atomic) {
        rc = load_txn_end(ctx, &lt, false);
        if (rc == 0)
            rc = WEFT_EINVAL;
        int bad = -1;
        for (int i = 0; i < n; i++)
            if (bc->ents[i].state == E_REJECTED) {
                bad = i;
                break;
            }
        for (int i = 0; i < n; i++) {
            struct entry *e = &bc->ents[i];
            if (i == bad)
                continue;
            e->state = E_PENDING;
            entry_reject(e, "not stored: the transaction failed at entry %ld", bc->ents[bad].label);
        }
    } else {
        rc = load_txn_end(ctx, &lt, true);
        if (rc != 0) {
            load_txn_end(ctx, &lt, false);
            goto out;
        }
    }

    /* report */
    for (int i = 0; i < n; i++) {
        struct entry *e = &bc->ents[i];
        const char *type = e->type;
        switch (e->state) {
        case E_REJECTED:
            add_rejection_at(rep, ctx->file, e->label, labelled, type, e->reason);
            break;
        case E_NOT_SHAREABLE:
            type_row(rep, type)->not_shareable++;
            break;
        case E_DONE:
            if (e->is_delete)
                type_row(rep, type)->deleted++;
            else if (e->outcome == STORE_PUT_CREATED)
                type_row(rep, type)->stored++;
            else if (e->outcome == STORE_PUT_UPDATED)
                type_row(rep, type)->updated++;
            else
                type_row(rep, type)->unchanged++;
            break;
        case E_PENDING:
            break;
        }
    }
    if (response) {
        json_t *rb =
            json_pack("{s:s,s:s,s:[]}", "resourceType", "Bundle", "type", resp_type, "entry");
        json_t *arr = json_object_get(rb, "entry");
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, response_entry(&bc->ents[i], ctx->file));
        *response = rb;
    }
out:
    if (rc != 0 && rc != WEFT_EINVAL)
        log_warn("load", "bundle not stored: %s (%s) org=%s entries=%d", weft_strerror(rc),
                 store_errmsg(s), ctx->org, n);
    return rc;
}

static int load_entries(struct store *s, json_t *entries, bool atomic, const struct load_ctx *ctx,
                        struct load_report *rep, json_t **response, const char *resp_type,
                        const long *labels)
{
    struct bundle_ctx bc = {.ctx = ctx};
    prep_entries(&bc, entries, labels);
    int rc = run_entries(&bc, s, atomic, ctx, rep, response, resp_type, labels != NULL);
    bundle_ctx_free(&bc);
    return rc;
}

/* A bundle prepared without the store (fhir_load_prepare). */
struct load_prep {
    char *org, *feed; /* the ctx it was prepared for */
    char *btype;      /* bundle-level rejection: its type (may be NULL) ... */
    char *breason;    /* ... and reason; NULL when the bundle is loadable */
    bool atomic;
    const char *resp_type;
    struct bundle_ctx bc;
};

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

struct load_prep *fhir_load_prepare(json_t *bundle, const struct load_ctx *ctx)
{
    struct load_prep *p = xcalloc(1, sizeof *p);
    p->org = xstrdup(ctx->org);
    p->feed = ctx->feed ? xstrdup(ctx->feed) : NULL;
    const char *rt = json_string_value(json_object_get(bundle, "resourceType"));
    if (!json_is_object(bundle) || !rt || strcmp(rt, "Bundle") != 0) {
        p->btype = rt ? xstrdup(rt) : NULL;
        p->breason = xstrdup("not a Bundle (resourceType must be \"Bundle\")");
        return p;
    }
    const char *bt = json_string_value(json_object_get(bundle, "type"));
    if (bt && strcmp(bt, "transaction") == 0) {
        p->atomic = true;
        p->resp_type = "transaction-response";
    } else if (bt && (strcmp(bt, "batch") == 0 || strcmp(bt, "collection") == 0)) {
        p->atomic = false;
        p->resp_type = "batch-response";
    } else {
        struct buf b = BUF_INIT;
        buf_addf(&b, "Bundle.type '%.40s' is not loaded (use transaction, batch or collection)",
                 bt ? bt : "(missing)");
        p->btype = xstrdup("Bundle");
        p->breason = buf_detach(&b, NULL);
        return p;
    }
    json_t *entries = json_object_get(bundle, "entry");
    if (!entries) {
        entries = json_array();
        json_object_set_new(bundle, "entry", entries);
    }
    if (!json_is_array(entries)) {
        p->btype = xstrdup("Bundle");
        p->breason = xstrdup("Bundle.entry is not an array");
        return p;
    }
    p->bc.ctx = ctx;
    prep_entries(&p->bc, entries, NULL);
    p->bc.ctx = NULL;
    return p;
}

int fhir_load_prepared(struct store *s, struct load_prep *p, const struct load_ctx *ctx,
                       struct load_report *rep, json_t **response)
{
    if (response)
        *response = NULL;
    if (p->breason) {
        add_rejection(rep, ctx->file, -1, p->btype, p->breason);
        return WEFT_EINVAL;
    }
    if (!same_str(p->org, ctx->org) || !same_str(p->feed, ctx->feed)) {
        /* ids and meta were derived for another sender: a caller's bug */
        add_rejection(rep, ctx->file, -1, "Bundle",
                      "internal error: bundle prepared for another feed");
        return WEFT_EINVAL;
    }
    return run_entries(&p->bc, s, p->atomic, ctx, rep, response, p->resp_type, false);
}

void fhir_load_prep_free(struct load_prep *p)
{
    if (!p)
        return;
    bundle_ctx_free(&p->bc);
    free(p->org);
    free(p->feed);
    free(p->btype);
    free(p->breason);
    free(p);
}

int fhir_load_bundle(struct store *s, json_t *bundle, const struct load_ctx *ctx,
                     struct load_report *rep, json_t **response)
{
    struct load_prep *p = fhir_load_prepare(bundle, ctx);
    int rc = fhir_load_prepared(s, p, ctx, rep, response);
    fhir_load_prep_free(p);
    return rc;
}

/* ---- files ------------------------------------------------------------------------------ */

static void reject_file(struct load_report *rep, const char *file, long entry, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject_file(struct load_report *rep, const char *file, long entry, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    add_rejection_at(rep, file, entry, entry >= 0, NULL, b.data);
    buf_release(&b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* NDJSON: LOAD_NDJSON_BATCH lines per store transaction, as batch entries. */
static int load_ndjson(struct store *s, FILE *f, const struct load_ctx *ctx,
                       struct load_report *rep, load_progress_fn progress, void *parg,
                       long long *done, long long total)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = WEFT_OK;
    json_t *entries = json_array();
    long *labels = xmalloc(sizeof *labels * LOAD_NDJSON_BATCH);
    int nb = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        *done += len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t sp = 0;
        while (sp < (size_t)len && (line[sp] == ' ' || line[sp] == '\t'))
            sp++;
        if (sp == (size_t)len)
            continue;
        rep->entries++;
        if ((size_t)len > LOAD_MAX_LINE_BYTES) {
            reject_file(rep, ctx->file, lineno, "line is %.1f MB, larger than the %u MB limit",
                        (double)len / (1024.0 * 1024.0), LOAD_MAX_LINE_BYTES >> 20);
            continue;
        }
        json_error_t err;
        json_t *res = jload_loadb(line, (size_t)len, &err);
        if (!res) {
            reject_file(rep, ctx->file, lineno, "invalid JSON at column %d: %s", err.column,
                        err.text);
            continue;
        }
        json_array_append_new(entries, json_pack("{s:o}", "resource", res));
        labels[nb++] = lineno;
        if (nb == LOAD_NDJSON_BATCH) {
            rep->entries -= nb; /* load_entries counts them */
            rc = load_entries(s, entries, false, ctx, rep, NULL, "batch-response", labels);
            tree_drop(entries);
            arena_reset();
            entries = json_array();
            nb = 0;
            if (progress)
                progress(parg, rep, *done, total);
            if (rc != 0)
                break;
        }
    }
    if (rc == 0 && nb > 0) {
        rep->entries -= nb;
        rc = load_entries(s, entries, false, ctx, rep, NULL, "batch-response", labels);
        if (progress)
            progress(parg, rep, *done, total);
    }
    if (rc == 0 && ferror(f))
        rc = WEFT_EIO;
    json_decref(entries);
    free(labels);
    free(line);
    return rc;
}

static int load_file_at(struct store *s, const char *path, const struct load_ctx *ctx0,
                        struct load_report *rep, load_progress_fn progress, void *parg,
                        long long *done, long long total)
{
    struct load_ctx ctx = *ctx0;
    ctx.file = path;
    rep->files++;
    FILE *f = fopen(path, "rb");
    if (!f) {
        reject_file(rep, path, -1, "cannot open: %s", strerror(errno));
        return WEFT_OK;
    }
    struct stat st;
    long long size = fstat(fileno(f), &st) == 0 ? (long long)st.st_size : 0;
    int rc = WEFT_OK;
    if (ends_with(path, ".ndjson") || ends_with(path, ".jsonl")) {
        rc = load_ndjson(s, f, &ctx, rep, progress, parg, done, total);
        fclose(f);
        return rc;
    }
    if (size > (long long)LOAD_MAX_FILE_BYTES) {
        reject_file(rep, path, -1, "file is %lld MB, larger than the %u MB limit", size >> 20,
                    LOAD_MAX_FILE_BYTES >> 20);
        fclose(f);
        *done += size;
        return WEFT_OK;
    }
    char *data = xmalloc((size_t)size + 1);
    size_t got = fread(data, 1, (size_t)size, f);
    bool ioerr = ferror(f);
    fclose(f);
    if (ioerr || got != (size_t)size) {
        free(data);
        reject_file(rep, path, -1, "read error: %s", ioerr ? strerror(errno) : "short read");
        *done += size;
        return WEFT_OK;
    }
    json_error_t err;
    json_t *doc = jload_loadb(data, got, &err);
    if (!doc) {
        /* maybe NDJSON without the extension: several objects, one per line */
        if (err.position > 0 && (size_t)err.position < got && got > 0 &&
            strstr(err.text, "end of file expected")) {
            FILE *m = fmemopen(data, got, "rb");
            if (m) {
                long long d0 = *done;
                rc = load_ndjson(s, m, &ctx, rep, progress, parg, done, total);
                fclose(m);
                *done = d0 + size;
                free(data);
                return rc;
            }
        }
        free(data);
        reject_file(rep, path, -1, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                    err.text);
        *done += size;
        return WEFT_OK;
    }
    free(data);
    const char *rt = json_string_value(json_object_get(doc, "resourceType"));
    if (json_is_object(doc) && rt && strcmp(rt, "Bundle") == 0) {
        rc = fhir_load_bundle(s, doc, &ctx, rep, NULL);
    } else if (json_is_object(doc)) {
        json_t *entries = json_pack("[{s:O}]", "resource", doc);
        rc = load_entries(s, entries, false, &ctx, rep, NULL, "batch-response", NULL);
        json_decref(entries);
    } else {
        reject_file(rep, path, -1, "not a FHIR resource or Bundle (a JSON object is expected)");
    }
    tree_drop(doc);
    arena_reset();
    if (rc == WEFT_EINVAL) /* the reasons are in the report */
        rc = WEFT_OK;
    *done += size;
    if (progress)
        progress(parg, rep, *done, total);
    return rc;
}

int fhir_load_file(struct store *s, const char *path, const struct load_ctx *ctx,
                   struct load_report *rep)
{
    long long done = 0;
    return load_file_at(s, path, ctx, rep, NULL, NULL, &done, 0);
}

/* Collect the loadable files under path (recursively, sorted) into list. */
static int collect(const char *path, char ***list, int *n, long long *bytes, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode)) {
        *list = xrealloc(*list, sizeof **list * (size_t)(*n + 1));
        (*list)[(*n)++] = xstrdup(path);
        *bytes += st.st_size;
        return 0;
    }
    if (depth > 32)
        return 0;
    struct dirent **names = NULL;
    int k = scandir(path, &names, NULL, alphasort);
    if (k < 0)
        return -errno;
    for (int i = 0; i < k; i++) {
        const char *nm = names[i]->d_name;
        if (nm[0] != '.') {
            struct buf child = BUF_INIT;
            buf_addf(&child, "%s/%s", path, nm);
            struct stat cs;
            if (stat(child.data, &cs) == 0 && (S_ISDIR(cs.st_mode) || ends_with(nm, ".json") ||
                                               ends_with(nm, ".ndjson") || ends_with(nm, ".jsonl")))
                collect(child.data, list, n, bytes, depth + 1);
            buf_release(&child);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

/*
 * Groups: fhir_load_paths runs several files in one store transaction, each
 * bundle (or NDJSON batch) in a savepoint of its own, and commits when the
 * group holds LOAD_GROUP_ENTRIES entries.  A bundle that fails still rolls
 * back alone (transaction semantics are per bundle); what the group saves is
 * the commit per bundle, which rewrote every index page the bundle touched.
 * The counts are snapshotted when a group opens: if its commit fails they are
 * put back and each of its files is reported as not stored, so the report
 * never counts what is not on disk.
 */
struct load_group {
    struct store_txn txn;
    bool open;
    int first; /* index of the group's first file */
    long entries0;
    struct load_report snap; /* scalars + type rows at the group's start */
};

static int group_open(struct store *s, struct load_group *g, struct load_report *rep, int first)
{
    int rc = store_txn_begin(&g->txn, s);
    if (rc != 0)
        return rc;
    g->open = true;
    g->first = first;
    g->entries0 = rep->entries;
    free(g->snap.types);
    g->snap = *rep;
    g->snap.rejections = NULL;
    g->snap.types = xmalloc(sizeof *rep->types * (size_t)(rep->ntypes ? rep->ntypes : 1));
    if (rep->ntypes)
        memcpy(g->snap.types, rep->types, sizeof *rep->types * (size_t)rep->ntypes);
    return WEFT_OK;
}

static int group_close(struct store *s, struct load_group *g, struct load_report *rep,
                       const char *const *files, int end)
{
    if (!g->open)
        return WEFT_OK;
    g->open = false;
    int rc = store_txn_commit(&g->txn); /* rolled back when it fails */
    if (rc == 0)
        return WEFT_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", store_errmsg(s));
    /* back to the counts at the group's start; the types added since stay
     * as rows of zero */
    for (int i = 0; i < rep->ntypes; i++) {
        struct load_type_count *t = &rep->types[i];
        const struct load_type_count *was = NULL;
        for (int k = 0; k < g->snap.ntypes && !was; k++)
            if (strcmp(g->snap.types[k].type, t->type) == 0)
                was = &g->snap.types[k];
        char name[sizeof t->type];
        memcpy(name, t->type, sizeof name);
        if (was)
            *t = *was;
        else
            memset(t, 0, sizeof *t);
        memcpy(t->type, name, sizeof name);
    }
    rep->persons_linked = g->snap.persons_linked;
    rep->invalid_nhs = g->snap.invalid_nhs;
    for (int i = g->first; i < end; i++)
        reject_file(rep, files[i], -1, "not stored: the commit failed (%s)", why);
    return rc;
}

static void group_release(struct load_group *g)
{
    free(g->snap.types);
    g->snap.types = NULL;
}

int fhir_load_paths(struct store *s, const char *const *paths, int npaths,
                    const struct load_ctx *ctx, struct load_report *rep, load_progress_fn progress,
                    void *progress_arg)
{
    char **files = NULL;
    int nfiles = 0;
    long long total = 0, done = 0;
    for (int i = 0; i < npaths; i++) {
        int before = nfiles;
        int e = collect(paths[i], &files, &nfiles, &total, 0);
        if (e < 0)
            reject_file(rep, paths[i], -1, "cannot read: %s", strerror(-e));
        else if (nfiles == before)
            reject_file(rep, paths[i], -1, "no .json, .ndjson or .jsonl files found");
    }
    int rc = WEFT_OK;
    struct load_group g = {.first = 0};
    struct load_ctx gctx = *ctx;
    gctx.nested = true;
    for (int i = 0; i < nfiles && rc == 0; i++) {
        if (!g.open && (rc = group_open(s, &g, rep, i)) != 0)
            break;
        rc = load_file_at(s, files[i], &gctx, rep, progress, progress_arg, &done, total);
        bool last = i + 1 == nfiles || rc != 0;
        if (last || rep->entries - g.entries0 >= LOAD_GROUP_ENTRIES) {
            int crc = group_close(s, &g, rep, (const char *const *)files, i + 1);
            if (rc == 0)
                rc = crc;
        }
    }
    if (g.open)
        group_close(s, &g, rep, (const char *const *)files, nfiles);
    group_release(&g);
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    load_report_finish(rep);
    return rc;
}
