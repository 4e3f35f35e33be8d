/*
 * load.c - the loading pipeline (see load.h for the contract): a bundle.
 *
 * A bundle is processed in passes over its entries:
 *   1. validate, derive identity (source id -> Weft id), index the entry by
 *      fullUrl and "Type/sourceid" in a small hash map (load_entry.c), the
 *      record category;
 *   P. without the store: references to entries of the bundle rewritten,
 *      index columns, meta, serialised once and digested
 *      (load_entry.c, load_refs.c, load_index.c);
 *   2. link Patients to persons (so pass 3 can link everything else to them);
 *   3. per entry: the keep-absent merge (keep_absent.c), references that
 *      need the store, the person, store.
 * All of it inside one store transaction per bundle: the unit of durability
 * (one fsync) and, for transaction bundles, of atomicity.  load_int.h lists
 * the pipeline's other files (files and NDJSON, the report, bulk memory).
 *
 * Tuned for bulk loads where most entries are new or unchanged: the JSON is
 * serialised once per entry (the store hashes that text), references are
 * resolved through the in-memory map without touching the store unless they
 * point outside the bundle.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/strmap.h"
#include "domain/category.h"
#include "fhir/load.h"
#include "fhir/load_int.h"
#include "fhir/outcome.h"
#include "identity/identity.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

/* Send the pending puts as one batch and take their outcomes into their
 * entries; 0 or the store error (remembered in flush_rc too). */
static int puts_flush(struct bundle_ctx *bc)
{
    if (bc->flush_rc != 0)
        return bc->flush_rc;
    /* Bundles are held whose puts came before anything this bundle reads
     * or writes (load_int.h): they cannot be sent from inside this bundle's
     * savepoint, which would take them along if the bundle is refused, so
     * the bundle fails with retry set and the caller loads it again once
     * they are stored. */
    struct load_defer *d = bc->ctx ? bc->ctx->defer : NULL;
    if (d && d->nheld > 0) {
        d->retry = true;
        return bc->flush_rc = WEFT_ECONFLICT;
    }
    if (bc->nputs == 0)
        return WEFT_OK;
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

struct store *load_store(struct bundle_ctx *bc)
{
    if (bc->s)
        puts_flush(bc);
    return bc->s;
}

/* Pass 3 for one entry: returns 0, or a store error (the bundle fails).
 * The put itself is queued (puts_flush sends it). */
static int entry_store(struct bundle_ctx *bc, struct entry *e)
{
    const struct load_ctx *ctx = bc->ctx;
    if (e->is_delete) {
        int rc = store_resource_delete(load_store(bc), e->type, e->id);
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
        .index = e->ixpairs,
        .nindex = e->ix.n,
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

/* The report's counts and rejections for a bundle's entries, once they are
 * stored (or not). */
static void report_entries(const struct bundle_ctx *bc, const char *file, struct load_report *rep,
                           bool labelled)
{
    for (int i = 0; i < bc->n; i++) {
        const struct entry *e = &bc->ents[i];
        const char *type = e->type;
        switch (e->state) {
        case E_REJECTED:
            add_rejection_at(rep, file, e->label, labelled, type, e->reason);
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

/* Before bc's puts join the queue d: the queue is sent first when one of
 * them names an id it holds (the batch stays set-based and the later put
 * sees the earlier) or when it would pass LOAD_DEFER_PUTS.  0 or the
 * error of that flush. */
static int defer_admit(struct load_defer *d, struct bundle_ctx *bc)
{
    if (d->nheld == 0)
        return WEFT_OK;
    bool clash = d->nputs + bc->nputs > LOAD_DEFER_PUTS;
    for (int i = 0; i < bc->nputs && !clash; i++)
        clash = strmap_get(&d->ids, bc->puts[i].id) >= 0;
    return clash ? load_defer_flush(d) : WEFT_OK;
}

/* Whether pass 3 will read or write the store for bc other than by its
 * puts (load_store: deletes, references that need the store, keep-absent
 * digests, an entry's person outside the bundle), judged before pass 2. */
static bool bundle_reads_store(const struct bundle_ctx *bc)
{
    for (int i = 0; i < bc->n; i++) {
        const struct entry *e = &bc->ents[i];
        if (e->state != E_PENDING)
            continue;
        if (e->is_delete || e->refs_pending || !e->prepped ||
            json_object_get(e->ent, LOAD_KEEP_ABSENT))
            return true;
        if (strcmp(e->type, "Patient") != 0 && entry_person_needs_store(bc, e))
            return true;
    }
    return false;
}

/* Drop bc's puts (sent or not). */
static void puts_free(struct bundle_ctx *bc)
{
    free(bc->puts);
    free(bc->put_ents);
    free(bc->put_out);
    bc->puts = NULL;
    bc->put_ents = NULL;
    bc->put_out = NULL;
    bc->nputs = 0;
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
    int rc;
    /* a bundle that will read the store sends the held puts first, before
     * its savepoint (else it would be undone and loaded again: puts_flush) */
    if (ctx->defer && ctx->defer->nheld > 0 && bundle_reads_store(bc) &&
        (rc = load_defer_flush(ctx->defer)) != 0)
        goto out;
    rc = load_txn_begin(s, ctx, &lt);
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
    /* a merge moves resources, among them (in the order the bundles came)
     * those of the held bundles, not yet stored: this bundle is undone and
     * loaded again once they are (load_int.h) */
    if (rc == 0 && merged && ctx->defer && ctx->defer->nheld > 0) {
        ctx->defer->retry = true;
        rc = WEFT_ECONFLICT;
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
    if (rc == 0)
        rc = keep_absent_prefetch(bc);
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
    for (int i = 0; i < n && !failed; i++)
        failed = bc->ents[i].state == E_REJECTED;
    /* a bundle with nothing rejected may leave its puts (and its report) in
     * the run's queue (load_int.h) */
    bool hold = rc == 0 && !failed && bc->may_defer && !response && bc->nputs > 0;
    if (hold) {
        rc = defer_admit(ctx->defer, bc);
        bc->held = rc == 0;
    } else if (rc == 0 && !(failed && atomic) && bc->nputs > 0) { /* else nothing to send */
        rc = puts_flush(bc);
        for (int i = 0; i < n && !failed; i++)
            failed = bc->ents[i].state == E_REJECTED;
    }
    if (bc->held) {
        rc = load_txn_end(ctx, &lt, true);
        if (rc != 0) {
            bc->held = false;
            load_txn_end(ctx, &lt, false);
        } else {
            bc->ctx = NULL; /* the caller's; gone before the queue is sent */
            return WEFT_OK; /* counted when the queue is sent (report_entries) */
        }
    }
    puts_free(bc);
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

    report_entries(bc, ctx->file, rep, labelled);
    if (response) {
        json_t *rb =
            json_pack("{s:s,s:s,s:[]}", "resourceType", "Bundle", "type", resp_type, "entry");
        json_t *arr = json_object_get(rb, "entry");
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, response_entry(&bc->ents[i], ctx->file));
        *response = rb;
    }
out:
    if (rc != 0 && rc != WEFT_EINVAL && !(ctx->defer && (ctx->defer->redo || ctx->defer->retry))) {
        if (store_raced(s)) /* its writer does the unit again (OPERATIONS.md) */
            log_info("load", "bundle met another writer (%s) org=%s entries=%d: loaded again",
                     weft_strerror(rc), ctx->org, n);
        else
            log_warn("load", "bundle not stored: %s (%s) org=%s entries=%d", weft_strerror(rc),
                     store_errmsg(s), ctx->org, n);
    }
    return rc;
}

int load_entries(struct store *s, json_t *entries, bool atomic, const struct load_ctx *ctx,
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

/* ---- the run's queue of held bundles (load_int.h: struct load_defer) -------------------- */

void load_defer_init(struct load_defer *d, struct store *s, struct load_report *rep)
{
    memset(d, 0, sizeof *d);
    d->s = s;
    d->rep = rep;
    strmap_init(&d->ids, 64);
}

void load_defer_drop(struct load_defer *d)
{
    for (int i = 0; i < d->nheld; i++) {
        puts_free(&d->preps[i]->bc);
        fhir_load_prep_free(d->preps[i]);
        load_tree_drop(d->docs[i]);
    }
    d->nheld = 0;
    d->nputs = 0;
    strmap_free(&d->ids);
    strmap_init(&d->ids, 64);
}

void load_defer_free(struct load_defer *d)
{
    load_defer_drop(d);
    strmap_free(&d->ids);
    free(d->preps);
    free(d->docs);
    memset(d, 0, sizeof *d);
}

int load_defer_flush(struct load_defer *d)
{
    if (d->nheld == 0)
        return WEFT_OK;
    struct store_put *puts = xcalloc((size_t)d->nputs, sizeof *puts);
    struct store_put_result *out = xcalloc((size_t)d->nputs, sizeof *out);
    int n = 0;
    for (int i = 0; i < d->nheld; i++) {
        const struct bundle_ctx *bc = &d->preps[i]->bc;
        memcpy(puts + n, bc->puts, sizeof *puts * (size_t)bc->nputs);
        n += bc->nputs;
    }
    assert(n == d->nputs);
    int rc = store_resource_put_batch(d->s, puts, n, out);
    d->flushes++;
    for (int i = 0; i < n && rc == 0; i++)
        if (out[i].rc != 0) /* an item refused alone: its bundle must fall alone */
            rc = WEFT_ECONFLICT;
    /* only loading the run again bundle by bundle tells which bundle a
     * refusal or a store error belongs to (and stores those before it) */
    if (rc != 0)
        d->redo = true;
    if (rc == 0) {
        n = 0;
        for (int i = 0; i < d->nheld; i++) {
            struct bundle_ctx *bc = &d->preps[i]->bc;
            for (int k = 0; k < bc->nputs; k++, n++) {
                struct entry *e = bc->put_ents[k];
                e->outcome = out[n].outcome;
                e->version = out[n].version;
                e->state = E_DONE;
            }
            report_entries(bc, NULL, d->rep, false);
        }
        load_defer_drop(d);
    }
    free(puts);
    free(out);
    return rc;
}

int load_bundle_deferred(struct store *s, json_t *doc, const struct load_ctx *ctx,
                         struct load_report *rep, bool *held)
{
    struct load_defer *d = ctx->defer;
    *held = false;
    struct load_prep *p = fhir_load_prepare(doc, ctx);
    p->bc.may_defer = true;
    int rc = fhir_load_prepared(s, p, ctx, rep, NULL);
    if (!p->bc.held) {
        fhir_load_prep_free(p);
        return rc;
    }
    if (d->nheld == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->preps = xrealloc(d->preps, sizeof *d->preps * (size_t)d->cap);
        d->docs = xrealloc(d->docs, sizeof *d->docs * (size_t)d->cap);
    }
    d->preps[d->nheld] = p;
    d->docs[d->nheld++] = doc;
    for (int i = 0; i < p->bc.nputs; i++)
        strmap_put(&d->ids, p->bc.puts[i].id, 1);
    d->nputs += p->bc.nputs;
    *held = true;
    return rc;
}
