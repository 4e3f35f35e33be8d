/*
 * store.c - the public store API (store.h): opens the backend named by the
 * URL and dispatches every call through its operations table.  Also the
 * backend-independent helpers: derived ids, clearing result structs, the
 * meta splice that adds versionId/lastUpdated to stored JSON on read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/store_int.h"

int store_fail(struct store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

const char *store_errmsg(struct store *s)
{
    return s->errmsg;
}

int store_open(struct store **out, const char *url, bool create, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (sodium_init() < 0) {
        if (errmsg)
            *errmsg = xstrdup("cannot initialise libsodium");
        return WEFT_EINTERNAL;
    }
    if (!url || !*url) {
        if (errmsg)
            *errmsg = xstrdup("no database given (use --db PATH)");
        return WEFT_EINVAL;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        if (errmsg)
            *errmsg = xstrdup("the PostgreSQL backend is not built yet: use a SQLite file path");
        return WEFT_EUNSUPPORTED;
    }
    if (strncmp(url, "sqlite:", 7) == 0)
        url += 7;
    return sqlite_store_open(out, url, create, errmsg);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

int store_migrate(struct store *s, int *from_version, int *to_version)
{
    return STORE_CALL(s, migrate, from_version, to_version);
}

int store_schema_version(struct store *s, int *version)
{
    return STORE_CALL(s, schema_version, version);
}

int store_bulk(struct store *s, bool on)
{
    return STORE_CALL(s, bulk, on);
}

int store_begin(struct store *s)
{
    return STORE_CALL0(s, begin);
}

int store_commit(struct store *s)
{
    return STORE_CALL0(s, commit);
}

int store_rollback(struct store *s)
{
    return STORE_CALL0(s, rollback);
}

void store_resource_id(const char *org, const char *type, const char *source_id, char *out)
{
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)org, strlen(org));
    crypto_hash_sha256_update(&h, (const unsigned char *)"\x1f", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)type, strlen(type));
    crypto_hash_sha256_update(&h, (const unsigned char *)"\x1f", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)source_id, strlen(source_id));
    crypto_hash_sha256_final(&h, d);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < STORE_ID_LEN / 2; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[STORE_ID_LEN] = 0;
}

int store_resource_put(struct store *s, const struct store_put *in, enum store_put_outcome *outcome,
                       char id_out[STORE_ID_LEN + 1], int *version_out)
{
    if (!in->type || !in->source_org || !in->source_id || !in->category || !in->json)
        return store_fail(s, WEFT_EINVAL,
                          "resource put: type, source_org, source_id, category"
                          " and json are required");
    return STORE_CALL(s, resource_put, in, outcome, id_out, version_out);
}

int store_resource_get(struct store *s, const char *type, const char *id, int version,
                       struct store_row *out)
{
    return STORE_CALL(s, resource_get, type, id, version, out);
}

int store_resource_person(struct store *s, const char *type, const char *id, char **person_id_out)
{
    return STORE_CALL(s, resource_person, type, id, person_id_out);
}

int store_resource_delete(struct store *s, const char *type, const char *id)
{
    return STORE_CALL(s, resource_delete, type, id);
}

int store_search(struct store *s, const struct store_query *q, struct store_result *out)
{
    return STORE_CALL(s, search, q, out);
}

int store_history(struct store *s, const char *type, const char *id, int limit,
                  struct store_result *out)
{
    return STORE_CALL(s, history, type, id, limit, out);
}

int store_person_by_nhs(struct store *s, const char *nhs, char **person_id_out)
{
    return STORE_CALL(s, person_by_nhs, nhs, person_id_out);
}

int store_person_by_local(struct store *s, const char *org, const char *system, const char *value,
                          const char *link_to_person, char **person_id_out)
{
    return STORE_CALL(s, person_by_local, org, system, value, link_to_person, person_id_out);
}

int store_person_find_local(struct store *s, const char *org, const char *system, const char *value,
                            char **person_id_out)
{
    return STORE_CALL(s, person_find_local, org, system, value, person_id_out);
}

int store_person_get(struct store *s, const char *person_id, struct store_person *out)
{
    return STORE_CALL(s, person_get, person_id, out);
}

int store_person_version(struct store *s, const char *person_id, int64_t snapshot, int64_t *max_seq,
                         int64_t *count, int64_t *snapshot_out)
{
    return STORE_CALL(s, person_version, person_id, snapshot, max_seq, count, snapshot_out);
}

int store_client_add(struct store *s, const char *name, const char *org, const char *scopes,
                     const char *token_hash, int64_t *id_out)
{
    return STORE_CALL(s, client_add, name, org, scopes, token_hash, id_out);
}

int store_client_by_hash(struct store *s, const char *token_hash, struct store_client *out)
{
    return STORE_CALL(s, client_by_hash, token_hash, out);
}

int store_client_list(struct store *s, struct store_client **out, int *n)
{
    return STORE_CALL(s, client_list, out, n);
}

int store_client_revoke(struct store *s, int64_t id)
{
    return STORE_CALL(s, client_revoke, id);
}

int store_meta_get(struct store *s, const char *key, char **value_out)
{
    return STORE_CALL(s, meta_get, key, value_out);
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
    return STORE_CALL(s, meta_set, key, value);
}

void store_row_clear(struct store_row *r)
{
    if (!r)
        return;
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

void store_client_clear(struct store_client *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->org);
    free(c->created);
    free(c->revoked);
    free(c->scopes);
    memset(c, 0, sizeof *c);
}

/*
 * Find the value of top-level key "meta" in a JSON object text: returns the
 * offset just after its '{', or 0 when there is no top-level meta object.
 * A linear scan tracking strings and depth; no allocation.
 */
static size_t find_top_meta(const char *j, size_t len)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = j[i];
        if (c == '"') {
            size_t start = i + 1;
            for (i++; i < len && j[i] != '"'; i++)
                if (j[i] == '\\')
                    i++;
            if (depth == 1 && i - start == 4 && memcmp(j + start, "meta", 4) == 0) {
                size_t k = i + 1;
                while (k < len && (j[k] == ' ' || j[k] == ':' || j[k] == '\n'))
                    k++;
                if (k < len && j[k] == '{')
                    return k + 1;
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

char *store_json_with_meta(const char *json, size_t len, int version, const char *last_updated,
                           size_t *len_out)
{
    struct buf b = BUF_INIT;
    buf_grow(&b, len + 96);
    size_t at = find_top_meta(json, len);
    char add[96];
    if (at) {
        bool empty = json[at] == '}';
        snprintf(add, sizeof add, "\"versionId\":\"%d\",\"lastUpdated\":\"%s\"%s", version,
                 last_updated ? last_updated : "", empty ? "" : ",");
    } else {
        const char *p = memchr(json, '{', len);
        at = p ? (size_t)(p - json) + 1 : 0;
        bool empty = at < len && json[at] == '}';
        snprintf(add, sizeof add, "\"meta\":{\"versionId\":\"%d\",\"lastUpdated\":\"%s\"}%s",
                 version, last_updated ? last_updated : "", empty ? "" : ",");
    }
    buf_add(&b, json, at);
    buf_adds(&b, add);
    buf_add(&b, json + at, len - at);
    return buf_detach(&b, len_out);
}
