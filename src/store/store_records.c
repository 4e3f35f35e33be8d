/*
 * store_records.c - dispatchers of the care record's operations
 * (store/records.h): resources, search, history, persons and person
 * merges, the release functions of their structs, and what every backend
 * shares for them: derived ids, content digests, and the meta splice that
 * adds versionId/lastUpdated to stored JSON on read.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/hex.h"
#include "store/store_int.h"

void store_content_hash(const char *json, size_t len, unsigned char out[STORE_HASH_LEN])
{
    crypto_generichash(out, STORE_HASH_LEN, (const unsigned char *)json, len, NULL, 0);
}

void store_resource_id(const char *org, const char *type, const char *source_id, char *out)
{
    assert(org && type && source_id && out);
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)org, strlen(org));
    crypto_hash_sha256_update(&h, (const unsigned char *)"\x1f", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)type, strlen(type));
    crypto_hash_sha256_update(&h, (const unsigned char *)"\x1f", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)source_id, strlen(source_id));
    crypto_hash_sha256_final(&h, d);
    hex_encode(d, STORE_ID_LEN / 2, out);
}

int store_resource_put(struct store *s, const struct store_put *in, enum store_put_outcome *outcome,
                       char id_out[STORE_ID_LEN + 1], int *version_out)
{
    if (!in->type || !in->source_org || !in->source_id || !in->category || !in->json)
        return store_fail(s, WEFT_EINVAL,
                          "resource put: type, source_org, source_id, category"
                          " and json are required");
    return STORE_CALL(s, records, resource_put, in, outcome, id_out, version_out);
}

int store_resource_put_batch(struct store *s, const struct store_put *in, int n,
                             struct store_put_result *out)
{
    for (int i = 0; i < n; i++)
        if (!in[i].type || !in[i].source_org || !in[i].source_id || !in[i].category || !in[i].json)
            return store_fail(s, WEFT_EINVAL,
                              "resource put: type, source_org, source_id, category"
                              " and json are required");
    if (n <= 0)
        return WEFT_OK;
    return STORE_CALL(s, records, resource_put_batch, in, n, out);
}

int store_resource_get(struct store *s, const char *type, const char *id, int version,
                       struct store_row *out)
{
    return STORE_CALL(s, records, resource_get, type, id, version, out);
}

int store_resource_digest(struct store *s, const char *type, const char *id,
                          unsigned char hash[STORE_HASH_LEN], int *version)
{
    return STORE_CALL(s, records, resource_digest, type, id, hash, version);
}

int store_resource_digest_many(struct store *s, struct store_digest_item *items, int n)
{
    if (n <= 0)
        return WEFT_OK;
    if (s->ops->records && s->ops->records->resource_digest_many)
        return STORE_CALL(s, records, resource_digest_many, items, n);
    for (int i = 0; i < n; i++) {
        struct store_digest_item *it = &items[i];
        it->version = 0;
        it->rc = store_resource_digest(s, it->type, it->id, it->hash, &it->version);
        if (it->rc != 0 && it->rc != WEFT_ENOTFOUND)
            return it->rc;
    }
    return WEFT_OK;
}

int store_resource_person(struct store *s, const char *type, const char *id, char **person_id_out)
{
    return STORE_CALL(s, records, resource_person, type, id, person_id_out);
}

int store_patient_person_kept(struct store *s, const char *id, char **person_id_out, bool *kept)
{
    *kept = false;
    return STORE_CALL(s, records, patient_person_kept, id, person_id_out, kept);
}

int store_resource_delete(struct store *s, const char *type, const char *id)
{
    return STORE_CALL(s, records, resource_delete, type, id);
}

int store_search(struct store *s, const struct store_query *q, struct store_result *out)
{
    return STORE_CALL(s, records, search, q, out);
}

int store_search_index_clear(struct store *s)
{
    return STORE_CALL0(s, records, search_index_clear);
}

int store_search_index_add(struct store *s, const struct store_ixitem *items, int n)
{
    return STORE_CALL(s, records, search_index_add, items, n);
}

int store_history(struct store *s, const char *type, const char *id, int limit,
                  struct store_result *out)
{
    return STORE_CALL(s, records, history, type, id, limit, out);
}

int store_person_by_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    return STORE_CALL(s, records, person_by_nhs, nhs, person_id_out);
}

int store_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                          const char *link_to_person, char **person_id_out)
{
    return STORE_CALL(s, records, person_by_local, org, system, value, link_to_person,
                      person_id_out);
}

int store_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                            char **person_id_out)
{
    return STORE_CALL(s, records, person_find_local, org, system, value, person_id_out);
}

int store_person_get(struct store *s, const char *person_id, struct store_person *out)
{
    return STORE_CALL(s, records, person_get, person_id, out);
}

int store_person_nhs_scan(struct store *s,
                          int (*fn)(const char *person_id, const char *nhs, void *), void *ctx)
{
    return STORE_CALL(s, records, person_nhs_scan, fn, ctx);
}

int store_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                         int64_t *count, int64_t *snapshot_out)
{
    return STORE_CALL(s, records, person_version, person_id, snapshot, max_seq, count,
                      snapshot_out);
}

int store_snapshot_since(struct store *s, int64_t *snapshot, char time_out[32])
{
    return STORE_CALL(s, records, snapshot_since, snapshot, time_out);
}

void store_row_clear(struct store_row *r)
{
    if (!r)
        return;
    if (r->block) { /* packed by the backend: the strings are all in it */
        free(r->block);
        memset(r, 0, sizeof *r);
        return;
    }
    free(r->id);
    free(r->type);
    free(r->person_id);
    free(r->category);
    free(r->source_org);
    free(r->source_id);
    free(r->feed);
    free(r->effective);
    free(r->code);
    free(r->status);
    free(r->last_updated);
    free(r->json);
    memset(r, 0, sizeof *r);
}

void store_result_clear(struct store_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nrows; i++)
        store_row_clear(&r->rows[i]);
    free(r->rows);
    free(r->next);
    memset(r, 0, sizeof *r);
}

void store_person_clear(struct store_person *p)
{
    if (!p)
        return;
    free(p->id);
    free(p->nhs);
    free(p->created);
    memset(p, 0, sizeof *p);
}

/*
 * The meta splice runs for every row a read returns (ten per search page,
 * hundreds per $everything page), so it is tuned for what the store holds:
 * canonical JSON (fhir/canon.c: compact, keys sorted), 0.5-4 KB, most bytes
 * inside short strings, one "meta" object near the middle of the top-level
 * keys.  The scan below jumps over each string with memchr instead of
 * looking at every byte, and compares key names only at depth 1; it stops at
 * the top-level meta.  It stays correct for any JSON text (whitespace
 * anywhere, escapes, nested "meta" keys, "meta" inside strings): the stored
 * bytes are never assumed canonical, only fast when they are.
 */

/* Offset of the '"' that closes the string whose first content byte is at
 * j[i] (a quote preceded by an even run of backslashes), or len when the
 * string does not end. */
static size_t string_end(const char *j, size_t i, size_t len)
{
    while (i < len) {
        const char *q = memchr(j + i, '"', len - i);
        if (!q)
            return len;
        size_t k = (size_t)(q - j), bs = 0;
        while (k - bs > i && j[k - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return k;
        i = k + 1;
    }
    return len;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/*
 * Find the value of top-level key "meta" in a JSON object text: returns the
 * offset just after its '{', or 0 when there is no top-level meta object.
 * No allocation.
 */
static size_t find_top_meta(const char *j, size_t len)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = j[i];
        if (c == '"') {
            size_t start = i + 1;
            i = string_end(j, start, len);
            if (depth != 1 || i - start != 4 || memcmp(j + start, "meta", 4) != 0)
                continue;
            size_t k = i + 1;
            while (k < len && json_space(j[k]))
                k++;
            if (k >= len || j[k] != ':')
                continue; /* a string value "meta", not the key */
            for (k++; k < len && json_space(j[k]); k++)
                ;
            if (k < len && j[k] == '{')
                return k + 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

/* Decimal digits of v into out (at least 12 bytes); returns their count. */
static size_t put_int(char *out, int v)
{
    char t[12];
    size_t n = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    while (n)
        out[o++] = t[--n];
    return o;
}

size_t store_json_with_meta_into(char *o, const char *json, size_t len, int version,
                                 const char *last_updated)
{
    size_t at = find_top_meta(json, len);
    bool create = at == 0;
    if (create) {
        const char *p = memchr(json, '{', len);
        at = p ? (size_t)(p - json) + 1 : 0;
    }
    bool empty = at < len && json[at] == '}';
    const char *lu = last_updated ? last_updated : "";
    size_t lul = strlen(lu);
    size_t n = 0;
    memcpy(o, json, at);
    n = at;
#define PUT(lit) (memcpy(o + n, lit, sizeof lit - 1), n += sizeof lit - 1)
    if (create)
        PUT("\"meta\":{");
    PUT("\"versionId\":\"");
    n += put_int(o + n, version);
    PUT("\",\"lastUpdated\":\"");
    memcpy(o + n, lu, lul);
    n += lul;
    PUT("\"");
    if (create)
        PUT("}");
    if (!empty)
        PUT(",");
#undef PUT
    memcpy(o + n, json + at, len - at);
    n += len - at;
    o[n] = 0;
    return n;
}

char *store_json_with_meta(const char *json, size_t len, int version, const char *last_updated,
                           size_t *len_out)
{
    /* "meta":{ "versionId":"N","lastUpdated":"T" } , : 8 + 13 + 11 + 17 + T + 3 */
    size_t lul = last_updated ? strlen(last_updated) : 0;
    char *o = xmalloc(len + STORE_META_ADD_MAX(lul) + 1);
    size_t n = store_json_with_meta_into(o, json, len, version, last_updated);
    if (len_out)
        *len_out = n;
    return o;
}

int store_person_merge(struct store *s, const char *survivor, const char *retired,
                       const char *source_org, int64_t inbox_id, int64_t *merge_id_out)
{
    int rc =
        STORE_CALL(s, records, person_merge, survivor, retired, source_org, inbox_id, merge_id_out);
    store_note_shared(s);
    return rc;
}

int store_person_merge_many(struct store *s, const struct store_merge_pair *v, size_t n,
                            const char *source_org, int64_t *merge_ids_out)
{
    if (n == 0)
        return WEFT_OK;
    int rc = STORE_CALL(s, records, person_merge_many, v, n, source_org, merge_ids_out);
    store_note_shared(s);
    return rc;
}

void store_merges_free(struct store_merge *m, int n)
{
    for (int i = 0; i < n; i++) {
        free(m[i].survivor);
        free(m[i].retired);
        free(m[i].source_org);
        free(m[i].created);
        free(m[i].undone);
    }
    free(m);
}

int store_person_merge_list(struct store *s, int limit, struct store_merge **out, int *n)
{
    *out = NULL;
    *n = 0;
    return STORE_CALL(s, records, person_merge_list, limit, out, n);
}

int store_person_unmerge(struct store *s, int64_t merge_id)
{
    int rc = STORE_CALL(s, records, person_unmerge, merge_id);
    store_note_shared(s);
    return rc;
}

int store_person_find_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    *person_id_out = NULL;
    return STORE_CALL(s, records, person_find_nhs, nhs, person_id_out);
}

int store_person_merged_into(struct store *s, const char *retired, char **survivor_out,
                             int64_t *merge_id_out)
{
    *survivor_out = NULL;
    return STORE_CALL(s, records, person_merged_into, retired, survivor_out, merge_id_out);
}
