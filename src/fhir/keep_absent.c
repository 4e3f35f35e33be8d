/*
 * keep_absent.c - the keep-absent merge (keep_absent.h; load.h
 * LOAD_KEEP_ABSENT): a feed that sends only part of what it knows (a lab's
 * thin PID, an A08 without the discharge time) marks what it omitted, and
 * the omitted elements are copied from the stored version, so they are not
 * erased.
 *
 * The merge itself is pure (keep_absent_*).  keep_absent() is the loading
 * pipeline's step around it (load_int.h), tuned for the MLLP writer, where
 * most merges repeat: digests are compared first (a repeat costs one index
 * lookup), the stored version is read and parsed only when its text names a
 * listed element, and a per-thread memo answers a merge done before
 * without parsing anything.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "fhir/keep_absent.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "store/records.h"

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

bool keep_absent_list_valid(const json_t *keep)
{
    size_t i;
    const json_t *v;
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
    return ok;
}

bool keep_absent_mentioned(const json_t *keep, const char *stored_json)
{
    size_t i;
    const json_t *v;
    bool mentioned = false;
    json_array_foreach(keep, i, v)
    {
        char pat[72];
        const char *nm = json_string_value(v);
        nm += nm[0] == '?' || nm[0] == '+';
        snprintf(pat, sizeof pat, "\"%.*s", (int)strcspn(nm, "[."), nm);
        mentioned = mentioned || strstr(stored_json, pat);
    }
    return mentioned;
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

bool keep_absent_merge(json_t *res, const json_t *keep, json_t *old)
{
    bool changed = false;
    size_t i;
    const json_t *v;
    json_array_foreach(keep, i, v)
    {
        const char *name = json_string_value(v), *key;
        bool weak = name[0] == '?';   /* the stored value wins when there is one */
        bool union_ = name[0] == '+'; /* stored members of other systems are kept */
        name += weak || union_;
        size_t n = strcspn(name, "[.");
        if (union_) {
            if (merge_by_system(res, name, json_object_get(old, name)))
                changed = true;
            continue;
        }
        if (name[n] == '.') { /* one part of an element: "period.end" */
            char top[64];
            snprintf(top, sizeof top, "%.*s", (int)n, name);
            const char *part = name + n + 1;
            json_t *ov = json_object_get(json_object_get(old, top), part);
            json_t *nt = json_object_get(res, top);
            if (!ov || (!weak && json_object_get(nt, part)))
                continue;
            if (!json_is_object(nt)) {
                nt = json_object();
                json_object_set_new(res, top, nt);
            }
            json_object_set(nt, part, ov);
            changed = true;
            continue;
        }
        bool choice = name[n] == '[', has = false, stored = false;
        json_t *val;
        json_object_foreach(old, key, val)
        {
            stored = stored || element_key(key, name, n, choice);
        }
        json_object_foreach(res, key, val)
        {
            has = has || element_key(key, name, n, choice);
        }
        if (!stored || (has && !weak))
            continue;
        void *tmp;
        json_object_foreach_safe(res, tmp, key, val)
        {
            if (element_key(key, name, n, choice))
                json_object_del(res, key);
        }
        json_object_foreach(old, key, val)
        {
            if (element_key(key, name, n, choice))
                json_object_set(res, key, val);
        }
        changed = true;
    }
    return changed;
}

bool keep_absent_follows(const char *type, const json_t *keep)
{
    size_t i;
    const json_t *v;
    bool follows = false;
    json_array_foreach(keep, i, v)
    {
        follows =
            follows || (!strcmp(type, "Encounter") && !strcmp(json_string_value(v), "?status"));
    }
    return follows;
}

/* An Encounter whose keep list names "?status": each location without a
 * status follows the (merged) stay's.  Returns true when res changed. */
bool keep_absent_location_status(json_t *res)
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

/* ---- the loading pipeline's step ---- */

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

int keep_absent_prefetch(struct bundle_ctx *bc)
{
    struct store_digest_item *items = NULL;
    struct entry **of = NULL;
    int k = 0;
    for (int i = 0; i < bc->n; i++) {
        struct entry *e = &bc->ents[i];
        e->dg_have = false;
        if (e->state != E_PENDING || !e->prepped || !e->res || e->is_delete ||
            !json_object_get(e->ent, LOAD_KEEP_ABSENT))
            continue;
        /* another entry of the bundle with the same id: its put must be
         * seen first, so this one reads the store in its turn */
        bool alone = true;
        for (int j = 0; j < bc->n && alone; j++)
            alone = j == i || strcmp(bc->ents[j].id, e->id) != 0;
        if (!alone)
            continue;
        if (!items) {
            items = xcalloc((size_t)bc->n, sizeof *items);
            of = xcalloc((size_t)bc->n, sizeof *of);
        }
        items[k].type = e->type;
        items[k].id = e->id;
        of[k++] = e;
    }
    int rc = WEFT_OK;
    if (k > 0 && (rc = store_resource_digest_many(load_store(bc), items, k)) == 0) {
        for (int i = 0; i < k; i++) {
            of[i]->dg_have = true;
            of[i]->dg_rc = items[i].rc;
            of[i]->dg_version = items[i].version;
            memcpy(of[i]->dg_hash, items[i].hash, STORE_HASH_LEN);
        }
    }
    free(items);
    free(of);
    return rc;
}

/*
 * LOAD_KEEP_ABSENT (load.h) for entry e (ent its Bundle.entry object): copy
 * each named element that e->res lacks from the current version of the same
 * item, then drop the member.  Runs before entry_store, so the merged
 * resource is resolved, linked, indexed and hashed as if sent whole (a
 * repeat of what is stored is "unchanged").  Returns 0 (a malformed list
 * rejects e) or a store error.
 */
int keep_absent(struct bundle_ctx *bc, struct entry *e)
{
    assert(bc->s && e->state == E_PENDING); /* pass 3, before entry_store */
    json_t *keep = json_incref(json_object_get(e->ent, LOAD_KEEP_ABSENT));
    if (!keep)
        return WEFT_OK;
    json_object_del(e->ent, LOAD_KEEP_ABSENT);
    int rc = WEFT_OK;
    bool ok = keep_absent_list_valid(keep);
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
    int drc = WEFT_EINVAL;
    if (e->prepped && e->res && e->dg_have) {
        drc = e->dg_rc;
        version = e->dg_version;
        memcpy(digest, e->dg_hash, STORE_HASH_LEN);
    } else if (e->prepped && e->res) {
        drc = store_resource_digest(load_store(bc), e->type, e->id, digest, &version);
    }
    /* an Encounter's locations follow its status */
    bool follows = keep_absent_follows(e->type, keep);
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
    if (!e->res || (rc = store_resource_get(load_store(bc), e->type, e->id, 0, &cur)) != 0) {
        rc = rc == WEFT_ENOTFOUND ? WEFT_OK : rc; /* a DELETE, or nothing stored yet */
        if (rc == WEFT_OK && e->res)
            goto merged;
        goto out;
    }
    /* Most often the stored version has none of the elements: a key
     * "name... appears nowhere in its text, so there is nothing to copy and
     * no need to parse it (the prepared text stays as it is). */
    bool mentioned = !cur.deleted && keep_absent_mentioned(keep, cur.json);
    old = mentioned ? json_loadb(cur.json, cur.json_len, 0, NULL) : NULL;
    store_row_clear(&cur);
    if (old && keep_absent_merge(e->res, keep, old))
        e->prepped = false; /* prepared without them: done again below */
    json_decref(old);
merged:
    if (follows && e->res && keep_absent_location_status(e->res))
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
