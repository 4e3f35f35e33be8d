/*
 * load_index.c - what the loading pipeline computes for the store from one
 * resource, without the store (load_int.h: entry_compute): id and meta set,
 * the index columns (effective, code, status), the search terms, the
 * canonical text (fhir/canon.h) and its digest.  Runs once per resource
 * loaded, on whichever thread prepares the bundle, so it allocates little:
 * terms borrow their strings from the resource where they can.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "domain/systems.h"
#include "core/err.h"
#include "fhir/canon.h"
#include "fhir/jload.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "store/meta.h"
#include "store/records.h"
#include "store/txn.h"

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

void terms_release(struct terms *t)
{
    for (int i = 0; i < t->nowned; i++)
        buf_release(&t->owned[i]);
}

/* The search-index rows (fhir/searchparam.h) of resource r of type into
 * x: its type's parameters, and under "code" and "date" (for types that
 * have those parameters) the store's own code and date columns (every
 * coding of the main concept; the effective day, eff NULL: none), so that
 * the store's code and date parameters are answered through the index
 * across patients too (fhir/search_run.c); they are nearly always the
 * specification's values again, and rows of the same value are written
 * once.  The loader and `weft reindex`
 * (fhir_load_reindex) both call it: one indexer. */
static void index_rows(struct fhir_sp_ixrows *x, const char *type, const json_t *r,
                       const json_t *concept, const char *eff)
{
    fhir_sp_ixrows_resource(x, type, r);
    fhir_sp_ixrows_columns(x, type, concept, eff);
}

static const char **index_pairs(const struct fhir_sp_ixrows *x)
{
    const char **pairs = xmalloc(sizeof *pairs * (size_t)(2 * x->n + 1));
    fhir_sp_ixrows_pairs(x, pairs);
    return pairs;
}

int fhir_load_reindex(struct store *s, int64_t *items_out, int64_t *rows_out)
{
    struct store_query q = {.sort = STORE_SORT_SEQ, .limit = 500};
    int64_t items = 0, rows = 0;
    char *after = NULL;
    /* pending while the rows are rebuilt (searches across patients read
     * without the index meanwhile), emptied, then a page of versions at a
     * time, each page written as one batch of posting lists */
    int rc = store_meta_set(s, STORE_SEARCH_INDEX_META, "pending");
    if (rc == 0)
        rc = store_search_index_clear(s);
    while (rc == 0) {
        struct store_result res;
        q.after = after;
        rc = store_search(s, &q, &res);
        if (rc != 0)
            break;
        q.snapshot = res.snapshot;
        struct fhir_sp_ixrows *x = xcalloc((size_t)(res.nrows ? res.nrows : 1), sizeof *x);
        struct store_ixitem *it = xcalloc((size_t)(res.nrows ? res.nrows : 1), sizeof *it);
        int nit = 0;
        for (int i = 0; i < res.nrows; i++) {
            const struct store_row *row = &res.rows[i];
            json_t *r = jload_parse(row->json, row->json_len);
            if (!r)
                continue;
            struct fhir_sp_ixrows *xi = &x[nit];
            *xi = (struct fhir_sp_ixrows)FHIR_SP_IXROWS_INIT;
            struct buf code = BUF_INIT;
            const json_t *concept = NULL;
            code_of(r, &code, &concept);
            char eff[20];
            index_rows(xi, row->type, r, concept, effective_of(r, eff) ? eff : NULL);
            it[nit] = (struct store_ixitem){row->seq, row->type, index_pairs(xi), xi->n};
            nit++;
            items++;
            rows += xi->n;
            buf_release(&code);
            json_decref(r);
        }
        struct store_txn t;
        rc = store_txn_begin(&t, s);
        if (rc == 0) {
            rc = store_txn_check(&t, store_search_index_add(s, it, nit));
            if (rc == 0)
                rc = store_txn_commit(&t);
            else
                store_txn_rollback(&t);
        }
        for (int i = 0; i < nit; i++) {
            free((void *)it[i].pairs);
            fhir_sp_ixrows_release(&x[i]);
        }
        free(it);
        free(x);
        free(after);
        after = res.next;
        res.next = NULL;
        store_result_clear(&res);
        if (!after)
            break;
    }
    free(after);
    if (rc == 0)
        rc = store_meta_set(s, STORE_SEARCH_INDEX_META, "ready");
    if (items_out)
        *items_out = items;
    if (rows_out)
        *rows_out = rows;
    return rc;
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

/* What the store is given for one entry, computed without the store: id and
 * meta set, index columns and terms taken, the text serialised once and its
 * digest.  Rejects the entry when it cannot be serialised or is too large. */
void entry_compute(struct bundle_ctx *bc, struct entry *e)
{
    /* pass 1 left a resource, its type and Weft id (not a DELETE) */
    assert(bc->ctx && e->res && e->type && strlen(e->id) == STORE_ID_LEN && !e->is_delete);
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
    index_rows(&e->ix, e->type, e->res, concept, e->has_eff ? e->eff : NULL);
    e->ixpairs = index_pairs(&e->ix);
    size_t len = canon_dump(e->res, &e->text);
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
