/*
 * api_include.c - _include and _revinclude for a page of search matches,
 * through the scoped-read path: every included resource is decided on its
 * own (access_read_ids: the same rule as a read by id), and a _revinclude's
 * candidates come from a scoped search of the matches' persons
 * (access_read_search), so an include never brings in what the caller may
 * not see.  The included rows join the page's audit entry.
 *
 * Limits (docs/FHIR_SEARCH.md): at most FHIR_INCLUDE_MAX resources per page,
 * FHIR_INCLUDE_MAX_DEPTH rounds of :iterate, FHIR_REVINCLUDE_SCAN candidates
 * per person and _revinclude; a reply cut by a limit says so in an
 * OperationOutcome.  A _revinclude follows references within the persons
 * of the resources it starts from; for resources not linked to a person
 * (Medication, Organization, Practitioner ...) it asks the search index
 * (fhir/searchparam.h) for the items across people whose reference
 * parameter holds their ids, through a scoped read across people (the
 * caller's scope, objections per row), and keeps those that point at them.
 */
#include <stdlib.h>
#include <string.h>

#include "access/read.h"
#include "core/buf.h"
#include "core/err.h"
#include "fhir/api_include.h"
#include "fhir/searchparam.h"
#include "fhir/shape.h"
#include "store/meta.h"
#include "store/records.h"

struct keyset {
    char **keys; /* "Type/id" */
    int n, cap;
};

static bool keyset_has(const struct keyset *k, const char *type, const char *id)
{
    size_t tn = strlen(type);
    for (int i = 0; i < k->n; i++)
        if (strncmp(k->keys[i], type, tn) == 0 && k->keys[i][tn] == '/' &&
            strcmp(k->keys[i] + tn + 1, id) == 0)
            return true;
    return false;
}

static void keyset_add(struct keyset *k, const char *type, const char *id)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->keys = xrealloc(k->keys, sizeof *k->keys * (size_t)k->cap);
    }
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s/%s", type, id);
    k->keys[k->n++] = buf_detach(&b, NULL);
}

static void keyset_clear(struct keyset *k)
{
    for (int i = 0; i < k->n; i++)
        free(k->keys[i]);
    free(k->keys);
    memset(k, 0, sizeof *k);
}

/* References wanted by the forward includes of one round: type -> ids. */
struct wanted {
    struct keyset *seen;
    struct keyset want;
};

static void want_ref(void *ctx, const char *type, const char *id)
{
    struct wanted *w = ctx;
    if (!keyset_has(w->seen, type, id) && !keyset_has(&w->want, type, id))
        keyset_add(&w->want, type, id);
}

/* A _revinclude candidate: does it point at one of the round's sources? */
struct hit {
    const struct keyset *sources;
    bool found;
};

static void hit_ref(void *ctx, const char *type, const char *id)
{
    struct hit *h = ctx;
    h->found = h->found || keyset_has(h->sources, type, id);
}

static void out_add(struct api_include_result *out, struct store_row *row)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 16;
        out->rows = xrealloc(out->rows, sizeof *out->rows * (size_t)out->cap);
    }
    out->rows[out->n++] = *row;
    memset(row, 0, sizeof *row);
}

/* Fetch the wanted refs (each decided on its own) into out. */
static int fetch_wanted(struct access_read *r, struct keyset *want, struct keyset *seen,
                        struct api_include_result *out)
{
    for (int i = 0; i < want->n; i++) {
        char *slash = strchr(want->keys[i], '/');
        *slash = 0;
        const char *type = want->keys[i], *id = slash + 1;
        if (out->n >= FHIR_INCLUDE_MAX) {
            out->truncated = true;
            *slash = '/';
            break;
        }
        struct store_result res;
        const char *ids[1] = {id};
        int rc = access_read_ids(r, type, ids, 1, &res);
        if (rc == 0 && res.nrows == 1 && !keyset_has(seen, type, id)) {
            keyset_add(seen, type, id);
            out_add(out, &res.rows[0]);
        }
        *slash = '/';
        store_result_clear(&res);
        if (rc != 0)
            return rc;
    }
    return WEFT_OK;
}

/* The persons of rows, once each (NULL left out). */
static int persons_of(const struct store_row *rows, int n, const char **out)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!rows[i].person_id)
            continue;
        bool dup = false;
        for (int j = 0; j < k && !dup; j++)
            dup = strcmp(out[j], rows[i].person_id) == 0;
        if (!dup)
            out[k++] = rows[i].person_id;
    }
    return k;
}

/* The index condition values of the unlinked sources' ids (at most
 * FHIR_SEARCH_MAX_VALUES per query: more are left out and said). */
#define UNLINKED_MAX 64

/* _revinclude of sources not linked to a person: candidates across people
 * found through the search index (the loader's rows for inc->param hold the
 * ids the references point at), read under the caller's scope across
 * people, kept when they point at a source. */
static int revinclude_unlinked(struct access_read *r, const struct fhir_include *inc,
                               const struct store_row *src, int nsrc, const struct keyset *keys,
                               struct keyset *seen, struct api_include_result *out)
{
    struct store_ixval vals[UNLINKED_MAX];
    char norm[UNLINKED_MAX][FHIR_SP_IX_VALUE_MAX + 1];
    int n = 0;
    for (int i = 0; i < nsrc; i++) {
        if (src[i].person_id || (inc->target[0] && strcmp(inc->target, src[i].type) != 0))
            continue;
        if (!fhir_sp_ix_ref_rows(src[i].type)) {
            /* an item of a patient's own kind linked to nobody: references
             * to it have no index rows, so its sources cannot be found */
            out->truncated = true;
            continue;
        }
        if (n == UNLINKED_MAX) {
            out->truncated = true;
            break;
        }
        fhir_sp_ix_norm(src[i].id, norm[n]);
        vals[n] = (struct store_ixval){STORE_IX_EQ, norm[n], NULL};
        n++;
    }
    if (n == 0)
        return WEFT_OK;
    const struct fhir_sp *sp = fhir_sp_find(inc->source, inc->param);
    char *state = NULL;
    int rc = store_meta_get(r->s, STORE_SEARCH_INDEX_META, &state);
    bool ready = rc == WEFT_ENOTFOUND || (rc == 0 && state && strcmp(state, "pending") != 0);
    free(state);
    if (rc != 0 && rc != WEFT_ENOTFOUND)
        return rc;
    if (!ready || !sp || sp->kind != FHIR_SP_REFERENCE) {
        out->truncated = true; /* cannot be looked up: say some may be missing */
        return WEFT_OK;
    }
    struct store_ixcond c = {inc->param, vals, n};
    struct store_query q = {.type = inc->source,
                            .ix = &c,
                            .nix = 1,
                            .sort = STORE_SORT_SEQ,
                            .limit = FHIR_REVINCLUDE_SCAN};
    struct access_read pr;
    rc = access_read_open(&pr, r->s, r->p, r->purpose, NULL);
    if (rc == 0 && !pr.scope.allowed) {
        out->truncated = true; /* the caller may not read across people */
    } else if (rc == 0) {
        struct store_result res;
        rc = access_read_search(&pr, &q, &res);
        if (rc == 0 && res.next)
            out->truncated = true;
        for (int i = 0; rc == 0 && i < res.nrows; i++) {
            struct store_row *cand = &res.rows[i];
            if (cand->deleted || keyset_has(seen, cand->type, cand->id))
                continue;
            struct hit h = {keys, false};
            fhir_shape_refs(cand->type, inc->param, NULL, cand->json, cand->json_len, hit_ref, &h);
            if (!h.found)
                continue;
            if (out->n >= FHIR_INCLUDE_MAX) {
                out->truncated = true;
                break;
            }
            keyset_add(seen, cand->type, cand->id);
            out_add(out, cand);
        }
        store_result_clear(&res);
    }
    access_read_close(&pr);
    return rc;
}

/* One _revinclude over the sources: candidates of inc->source within each
 * source person, read scoped, kept when they point at a source. */
static int revinclude(struct access_read *r, const struct fhir_include *inc,
                      const struct store_row *src, int nsrc, struct keyset *seen,
                      struct api_include_result *out)
{
    struct keyset keys = {0};
    for (int i = 0; i < nsrc; i++)
        if (!inc->target[0] || strcmp(inc->target, src[i].type) == 0)
            keyset_add(&keys, src[i].type, src[i].id);
    const char **persons = xcalloc((size_t)nsrc + 1, sizeof *persons);
    int np = persons_of(src, nsrc, persons);
    int rc = WEFT_OK;
    for (int p = 0; p < np && rc == 0 && keys.n > 0; p++) {
        /* the person's own decision: the same scope as a search of them */
        struct access_read pr;
        rc = access_read_open(&pr, r->s, r->p, r->purpose, persons[p]);
        if (rc == 0 && pr.scope.allowed) {
            struct store_query q = {.type = inc->source,
                                    .person_id = persons[p],
                                    .sort = STORE_SORT_DATE_DESC,
                                    .limit = FHIR_REVINCLUDE_SCAN};
            struct store_result res;
            rc = access_read_search(&pr, &q, &res);
            if (rc == 0 && res.next)
                out->truncated = true;
            for (int i = 0; rc == 0 && i < res.nrows; i++) {
                struct store_row *c = &res.rows[i];
                if (keyset_has(seen, c->type, c->id))
                    continue;
                struct hit h = {&keys, false};
                fhir_shape_refs(c->type, inc->param, NULL, c->json, c->json_len, hit_ref, &h);
                if (!h.found)
                    continue;
                if (out->n >= FHIR_INCLUDE_MAX) {
                    out->truncated = true;
                    break;
                }
                keyset_add(seen, c->type, c->id);
                out_add(out, c);
            }
            store_result_clear(&res);
        }
        access_read_close(&pr);
    }
    if (rc == 0 && keys.n > 0)
        rc = revinclude_unlinked(r, inc, src, nsrc, &keys, seen, out);
    free(persons);
    keyset_clear(&keys);
    return rc;
}

int api_include_rows(struct access_read *r, const struct fhir_shape *sh,
                     const struct store_row *matches, int nmatches, struct api_include_result *out)
{
    memset(out, 0, sizeof *out);
    if (sh->ninc == 0)
        return WEFT_OK;
    struct keyset seen = {0};
    for (int i = 0; i < nmatches; i++)
        keyset_add(&seen, matches[i].type, matches[i].id);
    /* each round starts from what the previous one added: rows of out, by
     * index (out->rows moves as it grows) */
    int nsrc = nmatches, from = 0, rc = WEFT_OK;
    for (int round = 0; round <= FHIR_INCLUDE_MAX_DEPTH && nsrc > 0 && rc == 0; round++) {
        int before = out->n;
        struct wanted w = {&seen, {0}};
        const struct store_row *src = round == 0 ? matches : out->rows + from;
        for (int k = 0; k < sh->ninc; k++) {
            const struct fhir_include *inc = &sh->inc[k];
            if (inc->rev || (round > 0 && !inc->iterate))
                continue;
            for (int i = 0; i < nsrc; i++)
                if (strcmp(src[i].type, inc->source) == 0 && src[i].json)
                    fhir_shape_refs(src[i].type, inc->param, inc->target, src[i].json,
                                    src[i].json_len, want_ref, &w);
        }
        rc = fetch_wanted(r, &w.want, &seen, out);
        keyset_clear(&w.want);
        for (int k = 0; k < sh->ninc && rc == 0; k++) {
            const struct fhir_include *inc = &sh->inc[k];
            if (!inc->rev || (round > 0 && !inc->iterate))
                continue;
            /* revinclude copies what it needs of the sources before it adds */
            src = round == 0 ? matches : out->rows + from;
            rc = revinclude(r, inc, src, nsrc, &seen, out);
        }
        from = before;
        nsrc = out->n - before;
        if (round == FHIR_INCLUDE_MAX_DEPTH && nsrc > 0) {
            bool more = false;
            for (int k = 0; k < sh->ninc; k++)
                more = more || sh->inc[k].iterate;
            out->truncated = out->truncated || more;
        }
    }
    keyset_clear(&seen);
    return rc;
}

void api_include_result_clear(struct api_include_result *out)
{
    for (int i = 0; i < out->n; i++)
        store_row_clear(&out->rows[i]);
    free(out->rows);
    memset(out, 0, sizeof *out);
}
