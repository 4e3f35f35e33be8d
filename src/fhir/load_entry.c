/*
 * load_entry.c - one entry of a bundle being loaded, before the store
 * (load_int.h): pass 1 (entry_prepare: request method, resource type and id
 * checked, the source id and the Weft id derived) and pass P
 * (entry_prepare_pure: references to entries of the same bundle rewritten,
 * a Patient's invalid NHS numbers flagged, then load_index.c's
 * entry_compute).  Neither touches the store, so a feed listener runs them
 * on its connection threads.
 */
#include <stdarg.h>
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "fhir/canon.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "identity/identity.h"
#include "store/records.h"

/* Serialise j into b (reused between calls, so a bundle needs no malloc per
 * resource) in the canonical form the store hashes (fhir/canon.h: compact,
 * sorted keys, byte-identical to jansson's); returns the length, 0 on
 * failure. */
static size_t dump_into(const json_t *j, struct buf *b)
{
    return canon_dump(j, b);
}

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

bool load_valid_type(const char *s)
{
    if (!s || !(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    size_t n = 1;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z')))
            return false;
    return n <= 63;
}

void entry_reject(struct entry *e, const char *fmt, ...)
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
bool load_split_relative(const char *ref, char type[64], char id[65])
{
    const char *slash = strchr(ref, '/');
    if (!slash || slash == ref || slash - ref >= 64)
        return false;
    memcpy(type, ref, (size_t)(slash - ref));
    type[slash - ref] = 0;
    if (!load_valid_type(type))
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
void entry_prepare(struct entry *e, json_t *ent, const char *org)
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
        if (!url || !load_split_relative(url, e->type_buf, id)) {
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
    if (!load_valid_type(type)) {
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
        if (!load_split_relative(url, t, id) || strcmp(t, type) != 0) {
            entry_reject(e, "PUT request.url '%.100s' is not %s/id", url, type);
            return;
        }
        e->source_id = xstrdup(id);
    } else {
        e->source_id = content_source_id(res);
    }
    store_resource_id(org, type, e->source_id, e->id);
}

void entry_init(struct entry *e)
{
    buf_init(&e->text);
    buf_init(&e->code);
    for (int i = 0; i < 8; i++)
        buf_init(&e->terms.owned[i]);
    buf_init(&e->ix.buf);
}

void entry_prep_release(struct entry *e)
{
    buf_release(&e->text);
    buf_release(&e->code);
    terms_release(&e->terms);
    e->terms.n = 0;
    e->terms.nowned = 0;
    fhir_sp_ixrows_release(&e->ix);
    free(e->ixpairs);
    e->ixpairs = NULL;
    e->prepped = false;
}

/* Pass P for one entry, without the store (any thread): references to
 * entries of the bundle rewritten, a Patient's invalid NHS numbers flagged
 * (identity_resolve_patient finds them flagged already), then entry_compute.  An entry
 * with a reference that needs the store is finished in pass 3. */
void entry_prepare_pure(struct bundle_ctx *bc, struct entry *e)
{
    assert(!bc->s); /* pass P runs without the store */
    if (e->state != E_PENDING || e->is_delete)
        return;
    if (!rewrite_refs(bc, e, e->res, 0))
        return;
    if (strcmp(e->type, "Patient") == 0)
        identity_mark_invalid(e->res);
    if (!e->refs_pending)
        entry_compute(bc, e);
}
