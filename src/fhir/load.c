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
#include "core/strmap.h"
#include "fhir/canon.h"
#include "fhir/jload.h"
#include "domain/category.h"
#include "domain/systems.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
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

/* ---- one entry -------------------------------------------------------------------------- */

static void entry_init(struct entry *e)
{
    buf_init(&e->text);
    buf_init(&e->code);
    for (int i = 0; i < 8; i++)
        buf_init(&e->terms.owned[i]);
}

void entry_prep_release(struct entry *e)
{
    buf_release(&e->text);
    buf_release(&e->code);
    terms_release(&e->terms);
    e->terms.n = 0;
    e->terms.nowned = 0;
    e->prepped = false;
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

/* Pass 3 for one entry: returns 0, or a store error (the bundle fails). */
static int entry_store(struct bundle_ctx *bc, struct entry *e)
{
    const struct load_ctx *ctx = bc->ctx;
    if (e->is_delete) {
        int rc = store_resource_delete(bc->s, e->type, e->id);
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
    char id[STORE_ID_LEN + 1];
    int rc = store_resource_put(bc->s, &p, &e->outcome, id, &e->version);
    if (rc == WEFT_ECONFLICT) {
        entry_reject(e, "%s", store_errmsg(bc->s));
        rc = WEFT_OK;
    } else if (rc == 0) {
        e->state = E_DONE;
    }
    return rc;
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
    strmap_init(&bc->map, (size_t)n * 3);
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
        int prev = strmap_put(&bc->map, e->key, i);
        if (prev != i) {
            entry_reject(e, "%s appears twice in the bundle (also entry %ld)", e->key,
                         bc->ents[prev].label);
            continue;
        }
        strmap_put(&bc->map, e->wkey, i);
        const char *fu = json_string_value(json_object_get(ent, "fullUrl"));
        if (fu)
            strmap_put(&bc->map, fu, i);
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
    strmap_free(&bc->map);
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
    /* pass 3: store */
    bool failed = false;
    for (int i = 0; i < n && rc == 0; i++) {
        struct entry *e = &bc->ents[i];
        if (e->state == E_PENDING)
            rc = keep_absent(bc, e);
        if (e->state == E_PENDING && rc == 0)
            rc = entry_store(bc, e);
        if (e->state == E_REJECTED)
            failed = true;
        if (failed && atomic)
            break;
    }
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
            load_tree_drop(entries);
            load_arena_reset();
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
    load_tree_drop(doc);
    load_arena_reset();
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
