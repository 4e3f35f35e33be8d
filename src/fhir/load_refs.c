/*
 * load_refs.c - references in a bundle being loaded (load_int.h:
 * rewrite_refs, entry_person): every "reference" of a resource resolved to
 * the Weft id of its target and rewritten "Type/{weft id}" - urn:uuid:
 * fullUrls and "Type/id" of entries of the same bundle through the bundle's
 * map without the store; "Type/id" sent before by the same organisation,
 * "Type/{weft id}" and conditional "Type?identifier=[system|]value" through
 * the store - and the person an entry belongs to, found through its
 * subject/patient reference.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/strmap.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "identity/identity.h"
#include "store/records.h"

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
    if (!load_valid_type(type) || n == 0 || strchr(want, '&')) {
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
    int rc = store_search(load_store(bc), &sq, &r);
    if (rc == 0 && r.nrows == 0) {
        store_result_clear(&r);
        sq.source_orgs = NULL;
        sq.nsource_orgs = 0;
        rc = store_search(load_store(bc), &sq, &r);
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

/* Resolve one reference string of entry e.  On success type and id
 * name the target (a Weft id) and *target its entry index (-1 outside the
 * bundle).  Returns 1 resolved, 0 leave as is, -1 broken (entry rejected),
 * 2 needs the store (only while preparing, bc->s NULL: left as is). */
static int resolve_ref(struct bundle_ctx *bc, struct entry *e, const char *ref, char type[64],
                       char id[65], int *target)
{
    *target = -1;
    if (ref[0] == '#' || strncmp(ref, "http://", 7) == 0 || strncmp(ref, "https://", 8) == 0)
        return 0;
    if (strncmp(ref, "urn:uuid:", 9) == 0 || strncmp(ref, "urn:oid:", 8) == 0) {
        int j = strmap_get(&bc->map, ref);
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
    if (!load_split_relative(ref, type, sid)) {
        entry_reject(e, "reference '%.100s' is neither Type/id, urn:uuid: nor an absolute URL",
                     ref);
        return -1;
    }
    char key[140];
    snprintf(key, sizeof key, "%s/%s", type, sid);
    int j = strmap_get(&bc->map, key);
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
    int rc = store_resource_person(load_store(bc), type, wid, NULL);
    if (rc == 0) {
        memcpy(id, wid, 33);
        return 1;
    }
    /* already a Weft id of a stored item? */
    if (strlen(sid) == 32 && store_resource_person(load_store(bc), type, sid, NULL) == 0) {
        memcpy(id, sid, 33);
        return 1;
    }
    entry_reject(e, "reference '%.100s' names nothing in the bundle or sent before by %s", ref,
                 bc->ctx->org);
    return -1;
}

/* Walk v rewriting every "reference" string; false once the entry is rejected. */
bool rewrite_refs(struct bundle_ctx *bc, struct entry *e, json_t *v, int depth)
{
    assert(bc->ctx && e->type && depth >= 0);
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
        int j = strmap_get(&bc->map, ref); /* "Patient/{weft id}" of an entry here */
        if (j >= 0) {
            if (bc->ents[j].person_id)
                *person = xstrdup(bc->ents[j].person_id);
            return WEFT_OK;
        }
        int rc = store_resource_person(load_store(bc), "Patient", id, person);
        return rc == WEFT_ENOTFOUND ? WEFT_OK : rc;
    }
    json_t *ident = json_object_get(refobj, "identifier");
    const char *sys = json_string_value(json_object_get(ident, "system"));
    const char *val = json_string_value(json_object_get(ident, "value"));
    if (sys && val) {
        int rc = identity_of_identifier(load_store(bc), bc->ctx->org, sys, val, person);
        if (rc == WEFT_ENOTFOUND || rc == WEFT_EINVAL)
            return WEFT_OK; /* unknown or invalid: not linked */
        return rc;
    }
    return WEFT_OK;
}

int entry_person(struct bundle_ctx *bc, struct entry *e)
{
    assert(bc->s && e->res && !e->person_id); /* pass 3, once, with the store */
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

/* Whether person_of_ref would call the store for refobj, before pass 2:
 * 1 yes, 0 no and it stops there (a Patient of the bundle, which pass 2
 * links), -1 no and the next reference is tried. */
static int ref_needs_store(const struct bundle_ctx *bc, const json_t *refobj)
{
    const char *ref = json_string_value(json_object_get(refobj, "reference"));
    if (ref && strncmp(ref, "Patient/", 8) == 0) {
        int j = strmap_get(&bc->map, ref);
        if (j < 0)
            return 1;
        const struct entry *t = &bc->ents[j];
        return t->state == E_PENDING && !t->is_delete && strcmp(t->type, "Patient") == 0 ? 0 : -1;
    }
    json_t *ident = json_object_get(refobj, "identifier");
    if (json_string_value(json_object_get(ident, "system")) &&
        json_string_value(json_object_get(ident, "value")))
        return 1;
    return -1;
}

bool entry_person_needs_store(const struct bundle_ctx *bc, const struct entry *e)
{
    if (!e->res || e->person_id)
        return false;
    static const char *const keys[] = {"subject", "patient", "individual", "beneficiary"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        json_t *r = json_object_get(e->res, keys[k]);
        int w = json_is_object(r) ? ref_needs_store(bc, r) : -1;
        if (w >= 0)
            return w == 1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(e->res, "participant"), i, p)
    {
        json_t *actor = json_object_get(p, "actor");
        int w = json_is_object(actor) ? ref_needs_store(bc, actor) : -1;
        if (w >= 0)
            return w == 1;
    }
    return false;
}
