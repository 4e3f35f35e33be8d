/*
 * api_search.c - search (GET and POST _search) and Patient/$everything.
 *
 * Both run one store query built by fhir/search.c through the scoped-read
 * path (access_read_open_type + access_read_search), so withheld items
 * are never fetched and cannot show in totals or paging.  Paging is the
 * store's snapshot + keyset: the `next` link carries an opaque cursor holding
 * the snapshot, the total at that snapshot and the store's keyset cursor, so
 * pages neither repeat nor skip items when others are inserted meanwhile, and
 * later pages do not count again.  The Bundle is written as text around the
 * stored JSON of each resource: nothing is parsed on the way out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/url.h"
#include "access/read.h"
#include "audit/audit.h"
#include "fhir/api_include.h"
#include "fhir/api_int.h"
#include "fhir/search.h"
#include "fhir/shape.h"
#include "store/meta.h"
#include "store/paging.h"
#include "store/records.h"
#include "store/store.h"

struct issue {
    const char *severity, *code, *text;
};

#define MAX_ISSUES (FHIR_SEARCH_MAX_WARNINGS + 4)

struct page {
    const char *base; /* base URL, for fullUrl */
    const char *self; /* self link */
    const char *next; /* next link or NULL */
    int64_t total;    /* -1: omit */
    struct store_row *rows;
    int nrows;
    int nmatch; /* rows[0..nmatch) are matches, the rest included (-1: all match) */
    const struct fhir_shape *shape; /* _summary / _elements for matches (NULL: whole) */
    const bool *hidden;             /* rows not to show (NULL: all shown) */
    bool count_only;                /* rows are audited as revealed, but not written out */
    struct issue issues[MAX_ISSUES];
    int nissues;
    /* what to audit when no row is shown: the search (with its total) within
     * audit_person (NULL: across people); NULL: nothing was looked up */
    const char *audit_query;
    struct access_read *read; /* the scoped read this page comes from (audits it) */
};

static void add_issue(struct page *pg, const char *severity, const char *code, const char *text)
{
    if (pg->nissues < MAX_ISSUES)
        pg->issues[pg->nissues++] = (struct issue){severity, code, text};
}

/* Audit what the reply reveals, through the scoped-read path: the rows it
 * shows (one entry per person), or, when it shows none (a count, _count=0,
 * nothing matched), the search itself and its total:
 * "Condition?patient=X&code=Y" with total 0 or 3 tells as much about a
 * person as the items would. */
static void audit_page(const struct page *pg)
{
    int shown = 0;
    for (int i = 0; i < pg->nrows; i++)
        shown += !(pg->hidden && pg->hidden[i]);
    if (!pg->read)
        return;
    if (shown > 0) {
        access_read_audit_rows(pg->read, pg->rows, pg->nrows, pg->hidden);
        return;
    }
    if (!pg->audit_query)
        return;
    struct buf what = BUF_INIT;
    if (pg->total >= 0)
        buf_addf(&what, "%s: total %lld", pg->audit_query, (long long)pg->total);
    else
        buf_addf(&what, "%s: no total", pg->audit_query);
    access_read_audit(pg->read, what.data, pg->total > 0 ? pg->total : 0);
    buf_release(&what);
}

/* "Observation?patient=X&code=Y" (or "Patient/ID/$everything?...") for the
 * audit, without paging and format parameters, at most ~400 bytes. */
static const char *search_what(struct http_req *req, const char *type, const char *everything_id,
                               const struct url_kv *args, int nargs)
{
    struct buf b = BUF_INIT;
    if (everything_id)
        buf_addf(&b, "Patient/%s/$everything", everything_id);
    else
        buf_adds(&b, type ? type : "");
    char sep = '?';
    for (int i = 0; i < nargs && b.len < 400; i++) {
        if (strcmp(args[i].name, "_cursor") == 0 || strcmp(args[i].name, "_format") == 0)
            continue;
        buf_addc(&b, sep);
        sep = '&';
        url_encode(&b, args[i].name);
        buf_addc(&b, '=');
        url_encode(&b, args[i].value);
    }
    if (b.len > 400) {
        b.len = 400;
        b.data[b.len] = 0;
        buf_adds(&b, "...");
    }
    const char *r = http_req_strdup(req, b.data);
    buf_release(&b);
    return r;
}

static void reply_searchset(struct http_req *req, struct page *pg)
{
    audit_page(pg); /* access: audit */
    struct buf b = BUF_INIT;
    size_t guess = 512;
    for (int i = 0; i < pg->nrows; i++)
        guess += pg->rows[i].json_len + 160;
    buf_grow(&b, guess);
    char now[32];
    api_now_instant(now);
    buf_addf(&b,
             "{\"resourceType\":\"Bundle\",\"id\":\"%s\",\"meta\":{\"lastUpdated\":\"%s\"},"
             "\"type\":\"searchset\"",
             req->request_id, now);
    if (pg->total >= 0)
        buf_addf(&b, ",\"total\":%lld", (long long)pg->total);
    buf_adds(&b, ",\"link\":[{\"relation\":\"self\",\"url\":\"");
    buf_add_json_str(&b, pg->self, strlen(pg->self));
    buf_adds(&b, "\"}");
    if (pg->next) {
        buf_adds(&b, ",{\"relation\":\"next\",\"url\":\"");
        buf_add_json_str(&b, pg->next, strlen(pg->next));
        buf_adds(&b, "\"}");
    }
    buf_adds(&b, "],\"entry\":[");
    bool first = true;
    size_t baselen = strlen(pg->base);
    for (int i = 0; i < pg->nrows && !pg->count_only; i++) {
        const struct store_row *r = &pg->rows[i];
        if (pg->hidden && pg->hidden[i])
            continue;
        if (!first)
            buf_addc(&b, ',');
        first = false;
        buf_adds(&b, "{\"fullUrl\":\"");
        buf_add_json_str(&b, pg->base, baselen);
        buf_addc(&b, '/');
        buf_adds(&b, r->type);
        buf_addc(&b, '/');
        buf_adds(&b, r->id);
        buf_adds(&b, "\",\"resource\":");
        bool match = pg->nmatch < 0 || i < pg->nmatch;
        if (match && pg->shape)
            fhir_shape_resource(pg->shape, r->json, r->json_len, &b);
        else
            buf_add(&b, r->json, r->json_len);
        buf_adds(&b, match ? ",\"search\":{\"mode\":\"match\"}}"
                           : ",\"search\":{\"mode\":\"include\"}}");
    }
    if (pg->nissues > 0) {
        if (!first)
            buf_addc(&b, ',');
        buf_adds(&b, "{\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":[");
        for (int i = 0; i < pg->nissues; i++) {
            if (i)
                buf_addc(&b, ',');
            buf_addf(&b, "{\"severity\":\"%s\",\"code\":\"%s\",\"diagnostics\":\"",
                     pg->issues[i].severity, pg->issues[i].code);
            buf_add_json_str(&b, pg->issues[i].text, strlen(pg->issues[i].text));
            buf_adds(&b, "\"}");
        }
        buf_adds(&b, "]},\"search\":{\"mode\":\"outcome\"}}");
    }
    buf_adds(&b, "]}");
    http_reply_buf(req, 200, FHIR_JSON, &b);
}

static void store_failed(struct http_req *req, struct store *s, int rc)
{
    if (rc == WEFT_EINVAL) { /* the store refused the cursor or a value */
        api_outcome(req, 400, "invalid", "the search could not be run: %s", store_errmsg(s));
        return;
    }
    if (rc == WEFT_ETOOBIG) { /* more values than one store query takes, or more items
                                 to match than one search reads */
        api_outcome(req, 400, "too-costly",
                    "the search has too many parameters or values, or would read more than %d "
                    "items to match parameters that the search index does not narrow (across "
                    "patients the index serves token, reference, string and date parameters "
                    "without modifiers other than :exact and :Type, and the prefixes other than "
                    "ne and ap; not quantity, number, uri, composite, :contains, :text, :missing, "
                    ":not, :identifier, :of-type or system| tokens, nor status and other "
                    "tokens of a few fixed codes; a reference to a patient's own items, such as "
                    "encounter=, is narrowed to the persons of the items it names): narrow it "
                    "(e.g. with "
                    "patient= or an indexed parameter) or split it into several searches",
                    FHIR_SEARCH_SCAN_MAX);
        return;
    }
    log_error("fhir", "store error request=%s: %s (%s)", req->request_id, weft_strerror(rc),
              store_errmsg(s));
    if (rc == WEFT_EBUSY)
        api_outcome(req, 503, "transient", "the record store is busy; try again");
    else
        api_outcome(req, 500, "exception", "the record store reported an error");
}

static const char *restricted_text =
    "Some information in this record is not shown because of access rules.";

/* The warning of a reply narrowed by the person's upheld objection (the
 * reply must not read as the whole record). */
static void add_objection_issue(struct http_req *req, struct page *pg, int norgs)
{
    const char *text;
    if (req->principal.kind == PRINCIPAL_USER)
        text = "This person has objected to sharing their record: only items from your "
               "organisation are shown. In an emergency, break-glass shows the rest.";
    else if (norgs > 0)
        text = "This person has objected to sharing their record: only items from this "
               "client's organisation are shown.";
    else
        text = "This person has objected to sharing their record: only items from the "
               "caller's own organisation may be shown, and this client has no organisation, "
               "so none are shown.";
    add_issue(pg, "warning", "suppressed", text);
}

/* Add the _include/_revinclude resources of the matches pg shows (through
 * the scoped-read path) after them, and audit them with the page.  Returns
 * 0, or a negative store error (nothing replied). */
static int add_includes(struct http_req *req, struct access_read *r, const struct fhir_shape *sh,
                        struct page *pg, struct api_include_result *inc)
{
    memset(inc, 0, sizeof *inc);
    pg->nmatch = pg->nrows;
    if (sh->ninc == 0 || pg->count_only || pg->nrows == 0)
        return WEFT_OK;
    int rc = api_include_rows(r, sh, pg->rows, pg->nrows, inc);
    if (rc != 0)
        return rc;
    if (inc->truncated)
        add_issue(pg, "warning", "incomplete",
                  "some included resources are not shown: _include/_revinclude stop at "
                  "their limits (see docs/FHIR_SEARCH.md); ask for a smaller page");
    if (inc->n == 0)
        return WEFT_OK;
    struct store_row *all = http_req_alloc(req, sizeof *all * (size_t)(pg->nrows + inc->n + 1));
    memcpy(all, pg->rows, sizeof *all * (size_t)pg->nrows);
    memcpy(all + pg->nrows, inc->rows, sizeof *all * (size_t)inc->n);
    pg->rows = all;
    pg->nrows += inc->n;
    return WEFT_OK;
}

/* Rows for _id searches: each fetched by id and decided on its own by the
 * scoped-read path (access_read_ids); items the caller may not see are
 * simply not part of the result, as unknown ids are not. */
static void search_by_ids(struct http_req *req, struct store *s, struct fhir_search *fs,
                          const struct fhir_shape *sh, struct page *pg, const char *type)
{
    /* refusals that do not depend on the ids (type, role, agreement, read
     * scope) are 403 for any ids; the rest is decided per id below */
    const char *why = NULL;
    int rc = access_read_check(pg->read, type, &why);
    if (rc != 0 || why) {
        if (rc != 0)
            api_read_failed(req, s, rc);
        else
            api_refused(req, pg->read, type, why);
        return;
    }
    struct store_result res;
    rc = access_read_ids(pg->read, type, (const char *const *)fs->ids, fs->nids, &res);
    if (rc != 0) {
        store_failed(req, s, rc);
        return;
    }
    if (pg->read->rows_objection)
        add_objection_issue(req, pg, pg->read->rows_objection_orgs);
    if (pg->read->rows_restricted)
        add_issue(pg, "information", "suppressed", restricted_text);
    /* a count of ids reveals which exist: the rows are audited all the same */
    pg->rows = res.rows;
    pg->nrows = res.nrows;
    pg->count_only = fs->summary_count;
    pg->total = res.nrows;
    struct api_include_result inc;
    rc = add_includes(req, pg->read, sh, pg, &inc);
    if (rc != 0)
        store_failed(req, s, rc);
    else
        reply_searchset(req, pg);
    api_include_result_clear(&inc);
    store_result_clear(&res);
}

/* The answer for a patient id the store does not know, or the Patient of a
 * person the caller may not open: the same, so that ids do not reveal who
 * has a record.  $everything: 404; a search: an empty searchset without a
 * total (it would claim to know there is nothing). */
static void reply_unknown_patient(struct http_req *req, struct page *pg, const char *everything_id)
{
    if (everything_id) {
        api_outcome(req, 404, "not-found", "Patient/%s is not known or not available to you",
                    everything_id);
        return;
    }
    pg->total = -1;
    pg->nrows = 0;
    add_issue(pg, "warning", "not-found", "the patient given is not known or not available to you");
    reply_searchset(req, pg);
}

/* The store calls of a search with specification parameters
 * (fhir/search.h fhir_search_exec): the search's own query is scoped by
 * api_authz_search; the inner queries of chains and _has get the scope sc
 * here, and a type the caller may not read answers nothing. */
struct search_exec {
    struct store *s;
    const struct principal *p;
    const struct authz_scope *sc;
    struct access_read *r; /* the search's own scoped read (NULL: chains only) */
};

static int exec_main(void *ctx, const struct store_query *q, struct store_result *out)
{
    const struct search_exec *x = ctx;
    if (!x->r)
        return WEFT_EDENIED;
    return access_read_search(x->r, q, out);
}

static int exec_inner(void *ctx, const struct store_query *q, struct store_result *out)
{
    const struct search_exec *x = ctx;
    memset(out, 0, sizeof *out);
    if (!x->sc || !x->sc->allowed || !authz_type_allowed(x->p, q->type))
        return WEFT_EDENIED;
    struct store_query sq = *q;
    struct access_qbuf qb = {0};
    int rc = WEFT_OK;
    if (access_scope_query(x->sc, &sq, &qb))
        rc = store_search(x->s, &sq, out);
    access_qbuf_clear(&qb);
    return rc;
}

/* Across patients, a reference filter to a patient's own items (encounter=E,
 * result=O ...) has no search-index rows (fhir/searchparam.h
 * fhir_sp_ix_ref_rows): its matches are looked for among the items of the
 * persons of the items it names (each found by id, no JSON read), as a
 * patient-scoped search reads them.  It narrows only when every value names
 * an existing item linked to a person; else the search reads as before
 * (and may be refused as too costly).  The persons only narrow the store
 * query: every row is still decided by the caller's scope, and the filter
 * still matches each one. */
#define REF_PERSONS_MAX 64
static int narrow_ref_persons(struct http_req *req, struct store *s, struct fhir_search *fs,
                              const char **persons)
{
    for (int i = 0; i < fs->nfilters; i++) {
        const struct fhir_sp_filter *f = &fs->filters[i];
        if (!f->sp || f->sp->kind != FHIR_SP_REFERENCE || f->nvalues <= 0 ||
            f->nvalues > REF_PERSONS_MAX ||
            (f->mod != FHIR_SP_MOD_NONE && f->mod != FHIR_SP_MOD_TYPE))
            continue;
        struct store_ixcond c;
        if (fhir_sp_index_cond(f, &c)) { /* the index narrows it */
            fhir_sp_index_cond_free(&c);
            continue;
        }
        int n = 0;
        bool all = true;
        for (int j = 0; j < f->nvalues && all; j++) {
            const char *v = fhir_sp_filter_value(f, j);
            char type[64], id[65];
            const char *types = f->ref_type ? f->ref_type : f->sp->targets;
            if (fhir_sp_ref_split(v, type, id))
                types = type;
            else if (!strchr(v, '/') && strlen(v) < sizeof id)
                snprintf(id, sizeof id, "%s", v);
            else
                types = NULL;
            char *person = NULL;
            int rc = WEFT_ENOTFOUND;
            for (const char *p = types; p && *p && rc == WEFT_ENOTFOUND;) {
                size_t len = strcspn(p, ",");
                char t[64];
                if (len == 0 || len >= sizeof t)
                    break;
                memcpy(t, p, len);
                t[len] = 0;
                p += len + (p[len] == ',');
                if (fhir_sp_ix_ref_rows(t)) { /* not a patient's own kind */
                    rc = WEFT_EINVAL;
                    break;
                }
                rc = store_resource_person(s, t, id, &person);
            }
            if (rc != 0 && rc != WEFT_ENOTFOUND && rc != WEFT_EINVAL)
                return rc;
            all = rc == 0 && person;
            bool seen = false;
            for (int k = 0; all && k < n && !seen; k++)
                seen = strcmp(persons[k], person) == 0;
            if (all && !seen)
                persons[n++] = http_req_strdup(req, person);
            free(person);
        }
        if (all && n > 0) {
            fs->q.person_ids = persons;
            fs->q.nperson_ids = n;
            return WEFT_OK;
        }
    }
    return WEFT_OK;
}

/* Resolve the chains (has: the _has parameters) of fs; 0, or answered. */
static int resolve_chains(struct http_req *req, struct store *s, struct fhir_search *fs, bool has,
                          const char *person_id, struct access_read *r,
                          const struct authz_scope *sc)
{
    struct search_exec x = {s, &req->principal, r ? &r->scope : sc, r};
    struct fhir_search_exec ex = {exec_main, exec_inner, &x};
    int rc = fhir_search_resolve(fs, &ex, has, person_id);
    if (rc == WEFT_EINVAL)
        api_outcome(req, 400, "invalid", "%s", fs->err_msg);
    else if (rc == WEFT_EDENIED)
        api_outcome(req, 403, "forbidden",
                    "your access does not include the resources a chained or _has parameter "
                    "searches");
    else if (rc)
        store_failed(req, s, rc);
    return rc;
}

/* A match of a multi-patient search with its sort key (the store's sort:
 * date, last updated, store order; "" for _id). */
struct merged {
    char key[32];
    struct store_row *row;
};

static int merged_asc(const void *a, const void *b)
{
    const struct merged *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->row->id, y->row->id);
}

static int merged_desc(const void *a, const void *b)
{
    const struct merged *x = a, *y = b;
    int c = strcmp(y->key, x->key);
    return c ? c : strcmp(x->row->id, y->row->id);
}

/* rows[0..n) in the order of sort (each row's key as the store orders it) */
static void merge_order(struct store_row *rows, int n, enum store_sort sort)
{
    struct merged *m = xcalloc((size_t)(n ? n : 1), sizeof *m);
    for (int i = 0; i < n; i++) {
        m[i].row = &rows[i];
        if (sort == STORE_SORT_DATE || sort == STORE_SORT_DATE_DESC)
            snprintf(m[i].key, sizeof m[i].key, "%s", rows[i].effective ? rows[i].effective : "");
        else if (sort == STORE_SORT_LASTUPDATED || sort == STORE_SORT_LASTUPDATED_DESC)
            snprintf(m[i].key, sizeof m[i].key, "%s", rows[i].last_updated);
        else if (sort == STORE_SORT_SEQ)
            snprintf(m[i].key, sizeof m[i].key, "%020lld", (long long)rows[i].seq);
    }
    qsort(m, (size_t)n, sizeof *m, store_sort_desc(sort) ? merged_desc : merged_asc);
    struct store_row *tmp = xcalloc((size_t)(n ? n : 1), sizeof *tmp);
    for (int i = 0; i < n; i++)
        tmp[i] = *m[i].row;
    memcpy(rows, tmp, sizeof *rows * (size_t)n);
    free(tmp);
    free(m);
}

/*
 * patient=a,b,...: each Patient's person decided and searched on its own
 * (access_read_open_type: that person's scope, refusal audited), the
 * matches merged in the search's order, and the page cut at an offset into
 * them at one snapshot ("+N" in the cursor, as fhir_search_run's).  Each
 * person's rows on the page are audited by that person's read.  A patient
 * not known, not linked to a person or refused to the caller adds nothing
 * (said once, as for one patient).  Not with _sort on a specification
 * parameter.  Replies in every case.
 */
static void run_patients(struct http_req *req, struct store *s, struct fhir_search *fs,
                         const struct fhir_shape *sh, struct page *pg, const char *type,
                         const char *link_base, const struct url_kv *args, int nargs)
{
    struct access_read rd[FHIR_SEARCH_MAX_PATIENTS];
    char *persons[FHIR_SEARCH_MAX_PATIENTS];
    int nrd = 0, rc = WEFT_OK;
    bool unknown = false, objection = false, restricted = false;
    struct store_row *all = NULL;
    int nall = 0, cap = 0;
    int64_t snapshot = fs->snapshot;
    long offset = 0;
    struct api_include_result inc;
    memset(&inc, 0, sizeof inc);
    if (fs->sort_sp) {
        api_outcome(req, 400, "not-supported",
                    "parameter '_sort': with several patients only date, -date, _lastUpdated, "
                    "-_lastUpdated and _id are supported");
        return;
    }
    if (fs->after && (fs->after[0] != '+' || (offset = strtol(fs->after + 1, NULL, 10)) < 0)) {
        api_outcome(req, 400, "invalid", "parameter '_cursor': not a paging cursor of this search");
        return;
    }
    if (!fs->sort_given)
        fs->q.sort = STORE_SORT_DATE_DESC;
    for (int i = 0; i < fs->npatient_ids && rc == 0; i++) {
        char *person = NULL;
        rc = store_resource_person(s, "Patient", fs->patient_ids[i], &person);
        if (rc == WEFT_ENOTFOUND || (rc == 0 && !person)) {
            unknown = true;
            rc = WEFT_OK;
            continue;
        }
        if (rc != 0)
            break;
        bool dup = false;
        for (int k = 0; k < nrd && !dup; k++)
            dup = strcmp(persons[k], person) == 0;
        if (dup) {
            free(person);
            continue;
        }
        struct access_read *r = &rd[nrd];
        persons[nrd++] = person;
        rc = access_read_open_type(r, s, &req->principal, AUDIT_SEARCH, type, person);
        if (rc != 0)
            break;
        if (!r->scope.allowed) {
            if (!r->scope.person_refused) { /* refused whoever the person is */
                api_refused(req, r, type, r->scope.reason);
                goto done_replied;
            }
            unknown = true;
            continue;
        }
        objection |= r->scope.objection;
        restricted |= r->scope.restricted;
        if (fs->nchains > 0) {
            if (resolve_chains(req, s, fs, true, person, r, NULL) != 0)
                goto done_replied;
        }
        /* every match of this person at the search's snapshot */
        struct fhir_search_exec ex;
        struct search_exec sx = {s, &req->principal, &r->scope, r};
        ex = (struct fhir_search_exec){exec_main, exec_inner, &sx};
        fs->q.person_id = person;
        fs->q.snapshot = snapshot;
        fs->q.want_total = false;
        char *after = NULL;
        for (;;) {
            struct store_result res;
            fs->q.after = after;
            fs->q.limit = FHIR_COUNT_MAX;
            free(fs->after);
            fs->after = NULL;
            rc = fhir_search_run(fs, &ex, &res);
            if (rc != 0) {
                store_result_clear(&res);
                break;
            }
            snapshot = res.snapshot ? res.snapshot : snapshot;
            fs->q.snapshot = snapshot;
            for (int k = 0; k < res.nrows; k++) {
                if (res.rows[k].deleted)
                    continue;
                if (nall >= FHIR_SEARCH_SCAN_MAX) {
                    rc = WEFT_ETOOBIG;
                    break;
                }
                if (nall == cap) {
                    cap = cap ? cap * 2 : 64;
                    all = xrealloc(all, sizeof *all * (size_t)cap);
                }
                all[nall++] = res.rows[k];
                memset(&res.rows[k], 0, sizeof res.rows[k]);
            }
            free(after);
            after = res.next;
            res.next = NULL;
            store_result_clear(&res);
            if (rc != 0 || !after)
                break;
        }
        free(after);
        fs->q.after = NULL;
        fs->q.person_id = NULL;
    }
    if (rc != 0) {
        store_failed(req, s, rc);
        goto done_replied;
    }
    if (unknown)
        add_issue(pg, "warning", "not-found",
                  "a patient given is not known or not available to you");
    if (objection)
        add_issue(pg, "warning", "suppressed",
                  "A person's objection to sharing their record narrows what is shown.");
    if (restricted)
        add_issue(pg, "information", "suppressed", restricted_text);
    merge_order(all, nall, fs->q.sort);
    long first = offset < nall ? offset : nall;
    long n = fs->summary_count ? 0 : (nall - first < fs->count ? nall - first : fs->count);
    pg->total = fs->no_total ? -1 : nall;
    pg->rows = all + first;
    pg->nrows = (int)n;
    pg->read = NULL; /* audited below, per person */
    for (int k = 0; k < nrd; k++) {
        if (!rd[k].scope.allowed)
            continue;
        int shown = 0;
        for (long i = 0; i < n; i++)
            shown += pg->rows[i].person_id && strcmp(pg->rows[i].person_id, persons[k]) == 0;
        if (shown == 0) {
            struct buf what = BUF_INIT;
            buf_addf(&what, "%s: %lld across the patients given", pg->audit_query, (long long)nall);
            access_read_audit(&rd[k], what.data, 0);
            buf_release(&what);
            continue;
        }
        struct store_row *mine = xcalloc((size_t)shown, sizeof *mine);
        int m = 0;
        for (long i = 0; i < n; i++)
            if (pg->rows[i].person_id && strcmp(pg->rows[i].person_id, persons[k]) == 0)
                mine[m++] = pg->rows[i]; /* borrowed: not cleared */
        access_read_audit_rows(&rd[k], mine, m, NULL);
        free(mine);
    }
    if (n > 0 && sh->ninc > 0) {
        rc = add_includes(req, nrd > 0 ? &rd[0] : NULL, sh, pg, &inc);
        if (rc != 0) {
            store_failed(req, s, rc);
            goto done_replied;
        }
        if (inc.n > 0 && nrd > 0) /* the included rows, with the first person's read */
            access_read_audit_rows(&rd[0], inc.rows, inc.n, NULL);
    }
    if (first + n < nall) {
        struct buf cur = BUF_INIT, next = BUF_INIT, off = BUF_INIT;
        buf_addf(&off, "+%ld", first + n);
        fhir_search_cursor_encode(&cur, snapshot, nall, off.data);
        fhir_search_page_url(&next, link_base, args, nargs, cur.data);
        pg->next = http_req_strdup(req, next.data);
        buf_release(&cur);
        buf_release(&next);
        buf_release(&off);
    }
    reply_searchset(req, pg);
done_replied:
    api_include_result_clear(&inc);
    for (int i = 0; i < nall; i++)
        store_row_clear(&all[i]);
    free(all);
    for (int k = 0; k < nrd; k++) {
        access_read_close(&rd[k]);
        free(persons[k]);
    }
}

/*
 * The one search runner.  type: the resource type (NULL for $everything);
 * everything_id: the Patient id for $everything; link_base: URL that paging
 * links are built on; args: the search parameters.  Every decision, the
 * scoped query and the audit entry are the scoped-read path's
 * (access/read.h); this function turns its verdicts into replies.
 */
/* One try of run_search; true when nothing was answered because the
 * Patient's kept person (store_patient_person_kept) turned out stale: the
 * caller tries again with fresh (the person read, not kept). */
static bool run_search_try(struct http_req *req, const struct api_ctx *ctx, struct store *s,
                           const char *type, const char *everything_id, const char *link_base,
                           const struct url_kv *args, int nargs, bool fresh)
{
    bool again = false, kept = false;
    enum fhir_search_mode mode = everything_id ? FHIR_SEARCH_EVERYTHING : FHIR_SEARCH_TYPE;
    struct fhir_search fs;
    struct page pg;
    memset(&pg, 0, sizeof pg);
    pg.base = api_base_url(req, ctx);
    pg.total = -1;
    struct access_read r;
    access_read_begin(&r, s, &req->principal, AUDIT_SEARCH);
    pg.read = &r;
    struct store_row patient;
    memset(&patient, 0, sizeof patient);
    char *person_id = NULL; /* the person whose record is searched */
    struct store_result res;
    memset(&res, 0, sizeof res);

    struct fhir_shape sh;
    struct url_kv *rest = NULL;
    int nrest = 0;
    struct api_include_result inc;
    memset(&inc, 0, sizeof inc);
    memset(&fs, 0, sizeof fs);
    pg.nmatch = -1;
    int rc = fhir_shape_take(&sh, everything_id != NULL, args, nargs, &rest, &nrest);
    if (rc != 0) {
        api_outcome(req, 400, "invalid", "%s", sh.err);
        goto out;
    }
    if (fhir_shape_subsets(&sh))
        pg.shape = &sh;
    rc = fhir_search_parse(&fs, mode, type, rest, nrest, api_lenient(req));
    if (rc != 0) {
        api_outcome(req, 400, strstr(fs.err_msg, "not supported") ? "not-supported" : "invalid",
                    "%s", fs.err_msg);
        goto out;
    }
    for (int i = 0; i < fs.nwarnings; i++)
        add_issue(&pg, "warning", "not-supported", fs.warnings[i]);
    if (type && !everything_id && !fs.patient_id) {
        /* across patients the search index narrows (fhir/search_run.c), once
         * it holds every item (`weft reindex` for data loaded before it) */
        char *ixs = NULL;
        int mrc = store_meta_get(s, STORE_SEARCH_INDEX_META, &ixs);
        fs.index_ready = mrc == WEFT_ENOTFOUND || (mrc == 0 && ixs && strcmp(ixs, "pending") != 0);
        if (!fs.index_ready)
            add_issue(&pg, "information", "incomplete",
                      "the search index of this database is not built (weft reindex builds it): "
                      "searches across patients read every item of the type");
        free(ixs);
    }
    struct buf self = BUF_INIT;
    fhir_search_page_url(&self, link_base, args, nargs, fs.cursor);
    pg.self = http_req_strdup(req, self.data);
    buf_release(&self);

    /* chains first: one through patient or subject may name the patient */
    if (fs.nchains > 0) {
        struct authz_scope across;
        rc = authz_scope_for_person(s, &req->principal, NULL, &across);
        if (rc == 0)
            rc = resolve_chains(req, s, &fs, false, NULL, NULL, &across);
        else
            api_outcome(req, 500, "exception", "the access decision could not be made");
        authz_scope_clear(&across);
        if (rc)
            goto out;
    }
    if (fs.npatient_ids > 1 && !everything_id) {
        pg.audit_query = search_what(req, type, NULL, args, nargs);
        run_patients(req, s, &fs, &sh, &pg, type, link_base, args, nargs);
        goto out;
    }
    const char *pid = everything_id ? everything_id : fs.patient_id;
    if (pid) {
        /* only the Patient's person is needed (no JSON read); for a plain
         * search of the patient's items it may be a kept one, which the
         * search checks in its own snapshot (struct access_read
         * patient_check) */
        if (!fresh && !everything_id && fs.nchains == 0 && fs.nids == 0)
            rc = store_patient_person_kept(s, pid, &person_id, &kept);
        else
            rc = store_resource_person(s, "Patient", pid, &person_id);
        if (rc == WEFT_ENOTFOUND) {
            /* refusals that do not depend on the patient answer as for a
             * known one; otherwise as for one the caller may not open */
            const char *why = NULL;
            rc = access_read_check(&r, everything_id ? NULL : type, &why);
            if (rc != 0)
                api_read_failed(req, s, rc);
            else if (why)
                api_refused(req, &r, everything_id ? NULL : type, why);
            else
                reply_unknown_patient(req, &pg, everything_id);
            goto out;
        }
        if (rc != 0) {
            store_failed(req, s, rc);
            goto out;
        }
        if (!person_id && everything_id) {
            /* A Patient not linked to a person: its record is itself alone,
             * read by id as a read would (decided and audited). */
            enum access_row_verdict v;
            const char *why = NULL;
            r.purpose = AUDIT_READ;
            rc = access_read_get(&r, "Patient", everything_id, 0, &patient, &v, &why);
            if (rc != 0)
                api_read_failed(req, s, rc);
            else if (v == ACCESS_ROW_UNKNOWN || (v == ACCESS_ROW_SHOWN && patient.deleted))
                reply_unknown_patient(req, &pg, everything_id);
            else if (v == ACCESS_ROW_REFUSED)
                api_refused(req, &r, "Patient", why);
            else {
                r.purpose = AUDIT_SEARCH; /* read, and returned by the search */
                pg.rows = &patient;
                pg.nrows = 1;
                pg.total = 1;
                reply_searchset(req, &pg);
            }
            goto out;
        }
        if (!person_id) {
            /* A type search of a Patient not linked to a person: nothing of
             * anyone's record is linked to it. */
            rc = access_read_open(&r, s, &req->principal, AUDIT_SEARCH, NULL);
            if (rc != 0)
                api_read_failed(req, s, rc);
            else if (!r.scope.allowed && r.scope.person_refused)
                reply_unknown_patient(req, &pg, NULL);
            else if (!r.scope.allowed)
                api_refused(req, &r, type, r.scope.reason);
            else {
                pg.read = NULL; /* nothing of anyone's was looked at */
                pg.total = 0;
                add_issue(&pg, "warning", "not-found",
                          "the patient given is not linked to a person's record");
                reply_searchset(req, &pg);
            }
            goto out;
        }
    }

    if (fs.nids > 0) {
        pg.audit_query = search_what(req, type, NULL, args, nargs);
        search_by_ids(req, s, &fs, &sh, &pg, type);
        goto out;
    }
    /* $everything: _type, start and end (the clinical date) */
    if (sh.ntypes == 1) {
        fs.q.type = sh.types[0];
    } else if (sh.ntypes > 1) {
        fs.q.types = (const char *const *)sh.types;
        fs.q.ntypes = sh.ntypes;
    }
    for (int k = 0; k < 2; k++) {
        const char *v = k == 0 ? sh.start : sh.end;
        char ge[32], lt[32];
        if (!v)
            continue;
        if (fhir_search_date_range(v, ge, lt) != 0 || (k == 0 && !ge[0]) || (k == 1 && !lt[0])) {
            api_outcome(req, 400, "invalid",
                        "parameter '%s': '%.40s' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)",
                        k == 0 ? "start" : "end", v);
            goto out;
        }
        if (k == 0)
            fs.q.date_ge = http_req_strdup(req, ge);
        else
            fs.q.date_lt = http_req_strdup(req, lt);
    }

    /* the decision: type, then the person (or across people) */
    rc = access_read_open_type(&r, s, &req->principal, AUDIT_SEARCH, fs.q.type, person_id);
    if (rc != 0) {
        api_read_failed(req, s, rc);
        goto out;
    }
    if (kept)
        r.patient_check = pid;
    if (!r.scope.allowed && kept && person_id) {
        /* refused for a kept person: the refusal stands only if the Patient
         * is still that person's (else decided again for the new one) */
        char *now = NULL;
        rc = store_resource_person(s, "Patient", pid, &now);
        again = rc != 0 || !now || strcmp(now, person_id) != 0;
        free(now);
        if (again)
            goto out;
    }
    if (!r.scope.allowed) {
        if (r.scope.person_refused && person_id)
            reply_unknown_patient(req, &pg, everything_id); /* audited by the decision */
        else
            api_refused(req, &r, fs.q.type, r.scope.reason);
        goto out;
    }
    pg.audit_query = search_what(req, type, everything_id, args, nargs);
    /* a person's rows may come from the read standby, for callers whose
     * reads may lag (access_read_standby; across people: the primary) */
    if (person_id)
        r.data = access_read_standby(req);
    if (r.scope.objection)
        add_objection_issue(req, &pg, r.scope.norgs);
    if (r.scope.restricted)
        add_issue(&pg, "information", "suppressed", restricted_text);
    /* One type within one patient: newest first unless asked otherwise.  It
     * is the order of the store's patient index (person, type, effective), so
     * a page is a short index walk; ordering by id there would make SQLite
     * walk every item of the type to find a small patient's few. */
    if (!fs.sort_given && person_id && fs.q.type)
        fs.q.sort = STORE_SORT_DATE_DESC;
    /* One type across patients: store order (oldest first), the order of the
     * store's (type) index, so a page is a range of it and new items join at
     * the end of it. */
    else if (!fs.sort_given && fs.q.type)
        fs.q.sort = STORE_SORT_SEQ;
    if (fs.summary_count)
        fs.q.limit = 1;
    if (fs.nchains > 0 && resolve_chains(req, s, &fs, true, person_id, &r, NULL) != 0)
        goto out;
    const char *ref_persons[REF_PERSONS_MAX];
    if (!person_id && fs.q.type && (rc = narrow_ref_persons(req, s, &fs, ref_persons)) != 0) {
        store_failed(req, s, rc);
        goto out;
    }
    /* the scope goes inside the store query (every query of a matched search) */
    struct search_exec sx = {s, &req->principal, &r.scope, &r};
    struct fhir_search_exec ex = {exec_main, exec_inner, &sx};
    rc = fhir_search_run(&fs, &ex, &res);
    if (rc != 0 && r.person_stale) {
        again = true; /* nothing read, audited or answered */
        goto out;
    }
    if (rc != 0) {
        store_failed(req, s, rc);
        goto out;
    }
    if (r.scope_empty) {
        pg.total = 0;
        reply_searchset(req, &pg);
        goto out;
    }
    pg.total = fs.no_total ? -1 : fs.total >= 0 ? fs.total : res.total;
    if (!fs.summary_count) {
        pg.rows = res.rows;
        pg.nrows = res.nrows;
        rc = add_includes(req, &r, &sh, &pg, &inc);
        if (rc != 0) {
            store_failed(req, s, rc);
            goto out;
        }
        if (res.next) {
            struct buf cur = BUF_INIT, next = BUF_INIT;
            fhir_search_cursor_encode(&cur, res.snapshot, pg.total < 0 ? 0 : pg.total, res.next);
            fhir_search_page_url(&next, link_base, args, nargs, cur.data);
            pg.next = http_req_strdup(req, next.data);
            buf_release(&cur);
            buf_release(&next);
        }
    }
    reply_searchset(req, &pg);
out:
    if (r.data_failed)
        http_req_store_read_failed(req);
    api_include_result_clear(&inc);
    fhir_shape_free(&sh);
    free(rest);
    free(person_id);
    store_result_clear(&res);
    store_row_clear(&patient);
    access_read_close(&r);
    fhir_search_free(&fs);
    return again;
}

static void run_search(struct http_req *req, const struct api_ctx *ctx, struct store *s,
                       const char *type, const char *everything_id, const char *link_base,
                       const struct url_kv *args, int nargs)
{
    if (run_search_try(req, ctx, s, type, everything_id, link_base, args, nargs, false))
        run_search_try(req, ctx, s, type, everything_id, link_base, args, nargs, true);
}

int api_search(struct http_req *req, void *ctx)
{
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *type = http_req_param(req, "type");
    if (!api_check_type(req, type))
        return 0;
    struct buf base = BUF_INIT;
    buf_addf(&base, "%s/%s", api_base_url(req, ctx), type);
    run_search(req, ctx, s, type, NULL, base.data, req->args, req->nargs);
    buf_release(&base);
    return 0;
}

int api_search_post(struct http_req *req, void *ctx)
{
    const char *ct = http_req_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        api_outcome(req, 415, "not-supported",
                    "POST _search takes application/x-www-form-urlencoded parameters");
        return 0;
    }
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *type = http_req_param(req, "type");
    if (!api_check_type(req, type))
        return 0;
    /* parameters from the URL and the body, in that order */
    struct url_kv *args = NULL;
    int nargs = 0;
    for (int i = 0; i < req->nargs; i++) {
        args = xrealloc(args, sizeof *args * (size_t)(nargs + 1));
        args[nargs].name = xstrdup(req->args[i].name);
        args[nargs].value = xstrdup(req->args[i].value);
        nargs++;
    }
    if (url_query_parse(req->body.data, req->body.len, &args, &nargs, 256) != 0) {
        url_kv_free(args, nargs);
        api_outcome(req, 400, "invalid",
                    "the form body is not valid "
                    "application/x-www-form-urlencoded data");
        return 0;
    }
    struct buf base = BUF_INIT;
    buf_addf(&base, "%s/%s", api_base_url(req, ctx), type);
    run_search(req, ctx, s, type, NULL, base.data, args, nargs);
    buf_release(&base);
    url_kv_free(args, nargs);
    return 0;
}

int api_everything(struct http_req *req, void *ctx)
{
    struct store *s = api_begin(req);
    if (!s)
        return 0;
    const char *id = http_req_param(req, "id");
    if (!api_valid_id(id)) {
        api_outcome(req, 400, "invalid", "'%.80s' is not a valid resource id", id);
        return 0;
    }
    struct buf base = BUF_INIT;
    buf_addf(&base, "%s/Patient/%s/$everything", api_base_url(req, ctx), id);
    run_search(req, ctx, s, NULL, id, base.data, req->args, req->nargs);
    buf_release(&base);
    return 0;
}
