/*
 * mpi.c - the master person index's decisions (see mpi.h): the model
 * cache, matching a new record on the feed path, and the manual changes.
 *
 * The model is read from the store's meta ("identity.model", its id under
 * "identity.model.id") and cached per process by id: the feed path checks
 * the id (one small read) per new record and parses the JSON only when a
 * new estimate was stored.  Inside a transaction the id is read once: the
 * model the last transaction to ask was given is kept with that
 * transaction's number (store's txn_serial), so later records of the same
 * transaction skip the read (2,700 instructions a record; a SQLite
 * transaction sees one snapshot, and on PostgreSQL a model estimated
 * meanwhile by another session is taken up by the next transaction).
 * Replacing the cached model or saving one forgets it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "identity/block.h"
#include "identity/identity.h"
#include "identity/jaro.h"
#include "identity/mpi.h"
#include "store/identity.h"
#include "store/meta.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"

/* ---- the model cache ------------------------------------------------------------ */

struct cached_model {
    struct idmodel m;
    int refs;
};

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached_model *model_cur;
static struct cached_model model_default;
static int model_default_ready;
static unsigned long model_txn;          /* the transaction model_txn_c was read in */
static struct cached_model *model_txn_c; /* model_cur or &model_default */

static void cached_unref(struct cached_model *c)
{
    if (c == &model_default)
        return;
    if (--c->refs == 0) {
        idmodel_free(&c->m);
        free(c);
    }
}

const struct idmodel *mpi_model_acquire(struct store *s)
{
    unsigned long txn = store_txn_serial(s);
    if (txn) {
        pthread_mutex_lock(&model_lock);
        if (model_txn_c && model_txn == txn) {
            struct cached_model *c = model_txn_c;
            if (c != &model_default)
                c->refs++;
            pthread_mutex_unlock(&model_lock);
            return &c->m;
        }
        pthread_mutex_unlock(&model_lock);
    }
    char *id = NULL;
    int rc = store_meta_get(s, "identity.model.id", &id);
    pthread_mutex_lock(&model_lock);
    if (!model_default_ready) {
        idmodel_init_default(&model_default.m);
        model_default_ready = 1;
    }
    struct cached_model *c = &model_default;
    if (rc == 0 && id) {
        if (model_cur && strcmp(model_cur->m.id, id) == 0) {
            c = model_cur;
        } else {
            pthread_mutex_unlock(&model_lock);
            char *body = NULL;
            struct cached_model *n = NULL;
            if (store_meta_get(s, "identity.model", &body) == 0 && body) {
                json_t *j = json_loads(body, 0, NULL);
                n = xmalloc(sizeof *n);
                n->refs = 1;
                if (idmodel_from_json(j, &n->m) != 0) {
                    idmodel_free(&n->m);
                    free(n);
                    n = NULL;
                }
                json_decref(j);
            }
            free(body);
            pthread_mutex_lock(&model_lock);
            if (n) {
                if (model_cur)
                    cached_unref(model_cur);
                model_cur = n; /* the cache's reference */
                model_txn_c = NULL;
                c = n;
            }
        }
    }
    if (c != &model_default)
        c->refs++;
    if (txn && (c == model_cur || c == &model_default)) {
        model_txn = txn;
        model_txn_c = c;
    }
    pthread_mutex_unlock(&model_lock);
    free(id);
    return &c->m;
}

void mpi_model_release(const struct idmodel *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&model_lock);
    cached_unref((struct cached_model *)(void *)m); /* m is the first member */
    pthread_mutex_unlock(&model_lock);
}

int mpi_model_save(struct store *s, struct idmodel *m)
{
    char *v = NULL;
    int prev = 0;
    if (store_meta_get(s, "identity.model.version", &v) == 0 && v)
        prev = atoi(v);
    free(v);
    m->version = prev + 1;
    pthread_mutex_lock(&model_lock);
    model_txn_c = NULL; /* the transaction saving it reads the new one */
    pthread_mutex_unlock(&model_lock);
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(m->id, sizeof m->id, r, sizeof r);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = idmodel_to_json(m);
    char *body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    char key[48], ver[16];
    snprintf(key, sizeof key, "identity.model.v%d", m->version);
    snprintf(ver, sizeof ver, "%d", m->version);
    struct store_txn t;
    int rc = store_txn_begin(&t, s);
    if (rc == 0 && (rc = store_meta_set(s, key, body)) == 0 &&
        (rc = store_meta_set(s, "identity.model", body)) == 0 &&
        (rc = store_meta_set(s, "identity.model.version", ver)) == 0 &&
        (rc = store_meta_set(s, "identity.model.id", m->id)) == 0)
        rc = store_txn_commit(&t);
    else
        store_txn_rollback(&t);
    free(body);
    return rc;
}

/* ---- matching one record --------------------------------------------------------- */

double mpi_compare(const struct idmodel *m, const struct demog *a, const struct demog *b,
                   signed char gamma[CF_N], double fw[CF_N])
{
    compare_pair(a, b, gamma);
    return idmodel_weight(m, gamma, a, fw);
}

/* Names that agree once given and family are swapped (a common entry error). */
static int names_swapped(const struct demog *a, const struct demog *b)
{
    return a->given[0] && a->family[0] && b->given[0] && b->family[0] &&
           jaro_winkler(a->given, b->family) >= 0.92 && jaro_winkler(a->family, b->given) >= 0.92;
}

double mpi_auto_weight(const struct idmodel *m, const struct demog *a, const struct demog *b,
                       const signed char gamma[CF_N], double w)
{
    int given_apart = gamma[CF_GIVEN] == compare_levels(CF_GIVEN) - 1;
    int family_apart = gamma[CF_FAMILY] == compare_levels(CF_FAMILY) - 1;
    if (given_apart && family_apart && w >= m->link_weight && !names_swapped(a, b))
        return m->link_weight - 0.01;
    return w;
}

void mpi_match_free(struct mpi_match *m)
{
    free(m->link_to);
    free(m->via_org);
    free(m->via_source_id);
    for (int i = 0; i < m->nmerge; i++) {
        free(m->merge[i].person_id);
        free(m->merge[i].org);
        free(m->merge[i].source_id);
    }
    for (int i = 0; i < m->nreview; i++) {
        free(m->review[i].person_id);
        free(m->review[i].org);
        free(m->review[i].source_id);
    }
    free(m->merge);
    free(m->review);
    memset(m, 0, sizeof *m);
}

struct cand_person {
    const char *person_id, *nhs;
    const struct store_idrec *best;
    double score;
    int blocked;
};

static int by_score(const void *a, const void *b)
{
    double x = ((const struct cand_person *)a)->score, y = ((const struct cand_person *)b)->score;
    if (x != y)
        return x < y ? 1 : -1;
    /* ties: a fixed order, so the outcome does not depend on arrival */
    return strcmp(((const struct cand_person *)a)->person_id,
                  ((const struct cand_person *)b)->person_id);
}

static void add_other(struct mpi_other **arr, int *n, const struct cand_person *p)
{
    *arr = xrealloc(*arr, sizeof **arr * (size_t)(*n + 1));
    (*arr)[*n] = (struct mpi_other){xstrdup(p->person_id), xstrdup(p->best->org),
                                    xstrdup(p->best->source_id), p->score};
    (*n)++;
}

/* Persons holding a record said not to be the same as (org, source_id). */
static int blocked_persons(struct store *s, const char *org, const char *source_id, char ***out,
                           int *n)
{
    struct store_idrec *nm = NULL;
    int nn = 0;
    *out = NULL;
    *n = 0;
    int rc = store_idnonmatch_list(s, org, source_id, &nm, &nn);
    for (int i = 0; rc == 0 && i < nn; i++) {
        char *pid = NULL;
        int r = store_person_find_local(s, nm[i].org, LINK_SOURCE_ID_SYSTEM, nm[i].source_id, &pid);
        if (r == 0) {
            *out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
            (*out)[(*n)++] = pid;
        } else if (r != WEFT_ENOTFOUND) {
            rc = r;
        }
    }
    store_idrecs_free(nm, nn);
    return rc;
}

static int is_blocked(char **bl, int nbl, const char *pid)
{
    for (int i = 0; i < nbl; i++)
        if (strcmp(bl[i], pid) == 0)
            return 1;
    return 0;
}

int mpi_match_record(struct store *s, const char *org, const char *source_id, const struct demog *d,
                     const char keys[BLOCK_NKEYS][BLOCK_KEYLEN], const char *nhs_person,
                     struct mpi_match *out)
{
    memset(out, 0, sizeof *out);
    const char *kp[4] = {keys[0], keys[1], keys[2], keys[3]};
    struct store_idrec *c = NULL;
    int nc = 0;
    /* a record with an NHS number only ever pulls in persons without one */
    int rc = store_idrec_candidates(s, LINK_SOURCE_ID_SYSTEM, kp, BLOCK_FEED_CAP,
                                    nhs_person != NULL, &c, &nc);
    if (rc != 0) {
        store_idrecs_free(c, nc);
        return rc;
    }
    return mpi_match_candidates(s, org, source_id, d, nhs_person, c, nc, out);
}

int mpi_match_candidates(struct store *s, const char *org, const char *source_id,
                         const struct demog *d, const char *nhs_person, struct store_idrec *c,
                         int nc, struct mpi_match *out)
{
    memset(out, 0, sizeof *out);
    int rc = WEFT_OK;
    if (nc == 0) {
        store_idrecs_free(c, nc);
        return rc;
    }
    const struct idmodel *m = mpi_model_acquire(s);
    out->model_version = m->version;
    char **bl = NULL;
    int nbl = 0;
    struct cand_person *ps = xmalloc(sizeof *ps * (size_t)nc);
    int np = 0;
    for (int i = 0; i < nc; i++) {
        struct store_idrec *r = &c[i];
        if (strcmp(r->org, org) == 0 && strcmp(r->source_id, source_id) == 0)
            continue;
        struct demog o;
        if (demog_unpack(r->demog, &o) != 0)
            continue;
        signed char g[CF_N];
        double w = mpi_compare(m, d, &o, g, NULL);
        w = mpi_auto_weight(m, d, &o, g, w);
        /* below the review weight a candidate decides nothing (the best
         * person must reach it before anything happens): its person is
         * never read */
        if (w < m->review_weight)
            continue;
        if ((rc = store_idrec_person(s, LINK_SOURCE_ID_SYSTEM, r)) != 0) {
            free(ps);
            goto done;
        }
        if (!r->person_id)
            continue;
        int k = 0;
        while (k < np && strcmp(ps[k].person_id, r->person_id) != 0)
            k++;
        if (k == np) {
            ps[np++] = (struct cand_person){r->person_id, r->person_nhs, r, w, 0};
        } else if (w > ps[k].score ||
                   (w == ps[k].score && strcmp(r->source_id, ps[k].best->source_id) < 0)) {
            ps[k].score = w;
            ps[k].best = r;
        }
    }
    /* the "not the same person" decisions matter only to the persons
     * reaching the review weight: read them only when there are some (most
     * new records have none) */
    if (np > 0 && (rc = blocked_persons(s, org, source_id, &bl, &nbl)) != 0) {
        free(ps);
        goto done;
    }
    for (int i = 0; i < np; i++)
        ps[i].blocked = is_blocked(bl, nbl, ps[i].person_id);
    qsort(ps, (size_t)np, sizeof *ps, by_score);
    if (!nhs_person) {
        const struct cand_person *best = NULL;
        for (int i = 0; i < np && !best; i++)
            if (!ps[i].blocked)
                best = &ps[i];
        if (best && best->score >= m->link_weight) {
            /* another person above the link weight with a different NHS
             * number: ambiguous (twins) - review, never a guess */
            int ambiguous = 0;
            for (int i = 0; i < np; i++) {
                const struct cand_person *p = &ps[i];
                if (p == best || p->blocked || p->score < m->link_weight)
                    continue;
                if (p->nhs && best->nhs && strcmp(p->nhs, best->nhs) != 0)
                    ambiguous = 1;
            }
            if (ambiguous) {
                for (int i = 0; i < np && out->nreview < MPI_REVIEWS_PER_RECORD; i++)
                    if (!ps[i].blocked && ps[i].score >= m->review_weight)
                        add_other(&out->review, &out->nreview, &ps[i]);
            } else {
                out->link_to = xstrdup(best->person_id);
                out->via_org = xstrdup(best->best->org);
                out->via_source_id = xstrdup(best->best->source_id);
                out->score = best->score;
                /* other persons above the link weight that may be one with it */
                for (int i = 0; i < np; i++) {
                    const struct cand_person *p = &ps[i];
                    if (p == best || p->blocked || p->score < m->link_weight)
                        continue;
                    if (!p->nhs || !best->nhs || strcmp(p->nhs, best->nhs) == 0)
                        add_other(&out->merge, &out->nmerge, p);
                }
            }
        } else if (best && best->score >= m->review_weight) {
            for (int i = 0; i < np && out->nreview < MPI_REVIEWS_PER_RECORD; i++)
                if (!ps[i].blocked && ps[i].score >= m->review_weight)
                    add_other(&out->review, &out->nreview, &ps[i]);
        }
    } else {
        for (int i = 0; i < np; i++) {
            const struct cand_person *p = &ps[i];
            if (p->blocked || strcmp(p->person_id, nhs_person) == 0 || p->nhs)
                continue;
            if (p->score >= m->link_weight)
                add_other(&out->merge, &out->nmerge, p);
            else if (p->score >= m->review_weight && out->nreview < MPI_REVIEWS_PER_RECORD)
                add_other(&out->review, &out->nreview, p);
        }
    }
    free(ps);
done:
    for (int i = 0; i < nbl; i++)
        free(bl[i]);
    free(bl);
    mpi_model_release(m);
    store_idrecs_free(c, nc);
    return rc;
}

/* An audit entry for an identity decision (synchronous, in the caller's
 * transaction). */
static int audit_decision(struct store *s, const char *by, const char *person_id, const char *what,
                          const char *reason)
{
    struct audit_event ev = {.action = AUDIT_IDENTITY,
                             .outcome = AUDIT_OK,
                             .user_id = by,
                             .client = by,
                             .person_id = person_id,
                             .what = what,
                             .count = -1,
                             .reason = reason};
    return audit_append(s, &ev, NULL);
}

static int record_decision(struct store *s, struct store_iddecision *d, int64_t *id_out)
{
    int rc = store_iddecision_add(s, d, id_out);
    if (rc != 0)
        return rc;
    char what[256], reason[160];
    snprintf(what, sizeof what, "%s %s|%s", d->action, d->org ? d->org : "-",
             d->source_id ? d->source_id : "-");
    snprintf(reason, sizeof reason, "by=%s score=%.2f model=%d other=%s merge=%lld%s%s",
             d->decided_by, d->score, d->model_version, d->other_person ? d->other_person : "-",
             (long long)d->merge_id, d->note ? " note=" : "", d->note ? d->note : "");
    return audit_decision(s, d->decided_by, d->person_id, what, reason);
}

int mpi_decisions_record_many(struct store *s, const struct store_iddecision *d, size_t n)
{
    /* in chunks: memory bounded whatever n */
    enum { CHUNK = 8192 };
    int rc = 0;
    for (size_t i = 0; rc == 0 && n > CHUNK && i < n; i += CHUNK)
        rc = mpi_decisions_record_many(s, d + i, n - i < CHUNK ? n - i : CHUNK);
    if (n > CHUNK)
        return rc;
    rc = store_iddecision_add_many(s, d, n);
    if (rc != 0 || n == 0)
        return rc;
    /* the audit entries record_decision writes, all at once */
    enum { WHAT = 256, REASON = 160 };
    struct audit_event *ev = xmalloc(sizeof *ev * n);
    char *text = xmalloc((size_t)(WHAT + REASON) * n);
    for (size_t i = 0; i < n; i++) {
        char *what = text + (WHAT + REASON) * i, *reason = what + WHAT;
        snprintf(what, WHAT, "%s %s|%s", d[i].action, d[i].org ? d[i].org : "-",
                 d[i].source_id ? d[i].source_id : "-");
        snprintf(reason, REASON, "by=%s score=%.2f model=%d other=%s merge=%lld%s%s",
                 d[i].decided_by, d[i].score, d[i].model_version,
                 d[i].other_person ? d[i].other_person : "-", (long long)d[i].merge_id,
                 d[i].note ? " note=" : "", d[i].note ? d[i].note : "");
        ev[i] = (struct audit_event){.action = AUDIT_IDENTITY,
                                     .outcome = AUDIT_OK,
                                     .user_id = d[i].decided_by,
                                     .client = d[i].decided_by,
                                     .person_id = d[i].person_id,
                                     .what = what,
                                     .count = -1,
                                     .reason = reason};
    }
    rc = audit_append_many(s, ev, n);
    free(text);
    free(ev);
    return rc;
}

int mpi_match_apply(struct store *s, const char *org, const char *source_id, const char *person_id,
                    const struct mpi_match *m)
{
    int rc = 0;
    if (m->link_to) {
        struct store_iddecision d = {.action = "link",
                                     .org = (char *)org,
                                     .source_id = (char *)source_id,
                                     .person_id = (char *)person_id,
                                     .other_org = m->via_org,
                                     .other_source_id = m->via_source_id,
                                     .score = m->score,
                                     .model_version = m->model_version,
                                     .decided_by = MPI_AUTO};
        if ((rc = record_decision(s, &d, NULL)) != 0)
            return rc;
    }
    for (int i = 0; i < m->nmerge; i++) {
        /* the person may have been merged already by an earlier step */
        char *now = NULL;
        if (store_person_find_local(s, m->merge[i].org, LINK_SOURCE_ID_SYSTEM,
                                    m->merge[i].source_id, &now) != 0)
            continue;
        if (strcmp(now, person_id) == 0) {
            free(now);
            continue;
        }
        int done = 0;
        int r = mpi_merge_auto(s, person_id, now, m->merge[i].org, m->merge[i].source_id,
                               m->merge[i].score, m->model_version, MPI_AUTO, &done);
        free(now);
        if (r != 0)
            return r;
    }
    for (int i = 0; i < m->nreview; i++) {
        struct store_idreview rv = {.org = (char *)org,
                                    .source_id = (char *)source_id,
                                    .other_org = m->review[i].org,
                                    .other_source_id = m->review[i].source_id,
                                    .score = m->review[i].score,
                                    .model_version = m->model_version};
        if ((rc = store_idreview_add(s, &rv, NULL)) != 0)
            return rc;
    }
    return rc;
}

int mpi_record_put(struct store *s, const char *org, const char *source_id, const struct demog *d,
                   const char keys[BLOCK_NKEYS][BLOCK_KEYLEN], const char *locals)
{
    char packed[512];
    demog_pack(d, packed, sizeof packed);
    const char *kp[4] = {keys[0], keys[1], keys[2], keys[3]};
    struct store_idrec r = {.org = (char *)org,
                            .source_id = (char *)source_id,
                            .demog = packed,
                            .nhs = (char *)(d->nhs[0] ? d->nhs : NULL),
                            .locals = (char *)locals};
    return store_idrec_put(s, &r, kp);
}

/* ---- manual changes ----------------------------------------------------------- */

/* The reason the last manual change of this thread failed, when the
 * identity module (not the store) refused it. */
static _Thread_local char err_buf[256];

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

const char *identity_errmsg(struct store *s)
{
    return err_buf[0] ? err_buf : store_errmsg(s);
}

/* Run body (an expression: its result code) as a unit of work (store/txn.h:
 * its own transaction, rolled back whole and evaluated again once when it
 * met another writer - a person command beside serving nodes), the result
 * into rc.  Commands call these outside a transaction. */
#define TXN(s, rc, body)                                                                           \
    do {                                                                                           \
        for (int a_ = 0;; a_++) {                                                                  \
            err_buf[0] = 0;                                                                        \
            struct store_txn t_;                                                                   \
            if ((rc = store_txn_unit_begin(&t_, s, a_)) != 0)                                      \
                break;                                                                             \
            rc = (body);                                                                           \
            if ((rc = store_txn_unit_end(&t_, rc, a_, "person")) != STORE_TXN_AGAIN)               \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* Whether any record of person a was decided not the same as any of b's. */
static int persons_apart(struct store *s, const char *a, const char *b, int *apart)
{
    *apart = 0;
    struct store_idrec *ra = NULL;
    int na = 0;
    int rc = store_idrec_of_person(s, LINK_SOURCE_ID_SYSTEM, a, &ra, &na);
    for (int i = 0; rc == 0 && i < na && !*apart; i++) {
        struct store_idrec *nm = NULL;
        int nn = 0;
        rc = store_idnonmatch_list(s, ra[i].org, ra[i].source_id, &nm, &nn);
        for (int k = 0; rc == 0 && k < nn && !*apart; k++) {
            char *pid = NULL;
            if (store_person_find_local(s, nm[k].org, LINK_SOURCE_ID_SYSTEM, nm[k].source_id,
                                        &pid) == 0 &&
                strcmp(pid, b) == 0)
                *apart = 1;
            free(pid);
        }
        store_idrecs_free(nm, nn);
    }
    store_idrecs_free(ra, na);
    return rc;
}

int mpi_merge_auto(struct store *s, const char *survivor, const char *retired, const char *org,
                   const char *source_id, double score, int model_version, const char *by,
                   int *done)
{
    *done = 0;
    int apart = 0;
    int rc = persons_apart(s, survivor, retired, &apart);
    if (rc != 0 || apart)
        return rc;
    int64_t mid = 0;
    rc = store_person_merge(s, survivor, retired, by, 0, &mid);
    if (rc == WEFT_ECONFLICT)
        return 0; /* two NHS numbers: leave them apart */
    if (rc != 0)
        return rc;
    *done = 1;
    struct store_iddecision d = {.action = "merge",
                                 .org = (char *)org,
                                 .source_id = (char *)source_id,
                                 .person_id = (char *)survivor,
                                 .other_person = (char *)retired,
                                 .score = score,
                                 .model_version = model_version,
                                 .decided_by = (char *)by,
                                 .merge_id = mid};
    return record_decision(s, &d, NULL);
}

int mpi_merge_source(struct store *s, const char *survivor, const char *retired, const char *org,
                     int64_t inbox_id, const char *by, int64_t *merge_id_out)
{
    err_buf[0] = 0;
    int64_t mid = 0;
    int rc = store_person_merge(s, survivor, retired, org, inbox_id, &mid);
    if (rc != 0)
        return rc;
    if (merge_id_out)
        *merge_id_out = mid;
    char note[64];
    snprintf(note, sizeof note, "inbox %lld", (long long)inbox_id);
    struct store_iddecision d = {.action = "merge",
                                 .org = (char *)org,
                                 .person_id = (char *)survivor,
                                 .other_person = (char *)retired,
                                 .decided_by = (char *)by,
                                 .merge_id = mid,
                                 .note = note};
    return record_decision(s, &d, NULL);
}

static int do_merge(struct store *s, const char *survivor, const char *retired, const char *by,
                    const char *note, const char *action, const char *org, const char *source_id,
                    int64_t *merge_id_out)
{
    int apart = 0;
    int rc = persons_apart(s, survivor, retired, &apart);
    if (rc != 0)
        return rc;
    if (apart)
        return fail(WEFT_ECONFLICT, "a record of one was decided not the same person as a record"
                                    " of the other: decide that review again first");
    int64_t mid = 0;
    if ((rc = store_person_merge(s, survivor, retired, by, 0, &mid)) != 0)
        return rc;
    if (merge_id_out)
        *merge_id_out = mid;
    struct store_iddecision d = {.action = (char *)action,
                                 .org = (char *)org,
                                 .source_id = (char *)source_id,
                                 .person_id = (char *)survivor,
                                 .other_person = (char *)retired,
                                 .decided_by = (char *)by,
                                 .merge_id = mid,
                                 .note = (char *)note};
    return record_decision(s, &d, NULL);
}

static int link_body(struct store *s, const char *org, const char *source_id, const char *person_id,
                     const char *by, const char *note)
{
    char *cur = NULL;
    int rc = store_person_find_local(s, org, LINK_SOURCE_ID_SYSTEM, source_id, &cur);
    if (rc != 0)
        return rc == WEFT_ENOTFOUND ? fail(rc, "no source record %s|%s", org, source_id) : rc;
    struct store_person p;
    if ((rc = store_person_get(s, person_id, &p)) != 0) {
        free(cur);
        return rc == WEFT_ENOTFOUND ? fail(rc, "no person %s", person_id) : rc;
    }
    store_person_clear(&p);
    if (strcmp(cur, person_id) == 0) {
        free(cur);
        return fail(WEFT_ECONFLICT, "the record already belongs to that person");
    }
    rc = do_merge(s, person_id, cur, by, note, "link", org, source_id, NULL);
    free(cur);
    return rc;
}

int identity_link(struct store *s, const char *org, const char *source_id, const char *person_id,
                  const char *by, const char *note)
{
    int rc;
    TXN(s, rc, link_body(s, org, source_id, person_id, by, note));
    return rc;
}

static int unlink_body(struct store *s, const char *org, const char *source_id, const char *by,
                       const char *note, char **new_person_out)
{
    char *cur = NULL;
    int rc = store_person_find_local(s, org, LINK_SOURCE_ID_SYSTEM, source_id, &cur);
    if (rc != 0)
        return rc == WEFT_ENOTFOUND ? fail(rc, "no source record %s|%s", org, source_id) : rc;
    /* the others the record is now kept apart from */
    struct store_idrec *others = NULL;
    int no = 0;
    if ((rc = store_idrec_of_person(s, LINK_SOURCE_ID_SYSTEM, cur, &others, &no)) != 0)
        goto out;
    char *np = NULL;
    if ((rc = store_person_split(s, cur, LINK_SOURCE_ID_SYSTEM, org, source_id, &np)) != 0)
        goto out;
    int64_t did = 0;
    struct store_iddecision d = {.action = "unlink",
                                 .org = (char *)org,
                                 .source_id = (char *)source_id,
                                 .person_id = np,
                                 .other_person = cur,
                                 .decided_by = (char *)by,
                                 .note = (char *)note};
    rc = record_decision(s, &d, &did);
    for (int i = 0; rc == 0 && i < no; i++)
        if (strcmp(others[i].org, org) != 0 || strcmp(others[i].source_id, source_id) != 0)
            rc = store_idnonmatch_add(s, org, source_id, others[i].org, others[i].source_id, did);
    if (rc == 0 && new_person_out) {
        free(*new_person_out); /* a rolled-back attempt's */
        *new_person_out = np;
    } else {
        free(np);
    }
out:
    store_idrecs_free(others, no);
    free(cur);
    return rc;
}

int identity_unlink(struct store *s, const char *org, const char *source_id, const char *by,
                    const char *note, char **new_person_out)
{
    char *np = NULL;
    int rc;
    TXN(s, rc, unlink_body(s, org, source_id, by, note, &np));
    if (rc != 0) { /* a first attempt's person was rolled back with it */
        free(np);
        np = NULL;
    }
    if (new_person_out)
        *new_person_out = np;
    else
        free(np);
    return rc;
}

int identity_merge(struct store *s, const char *survivor, const char *retired, const char *by,
                   const char *note, int64_t *merge_id_out)
{
    int rc;
    TXN(s, rc, do_merge(s, survivor, retired, by, note, "merge", NULL, NULL, merge_id_out));
    return rc;
}

static int unmerge_body(struct store *s, int64_t merge_id, const char *by, const char *note)
{
    int rc = store_person_unmerge(s, merge_id);
    if (rc != 0)
        return rc;
    struct store_merge *ms = NULL;
    int n = 0;
    char *surv = NULL, *ret = NULL;
    /* who the merge joined, for the decision row */
    if (store_person_merge_list(s, 100000, &ms, &n) == 0)
        for (int i = 0; i < n; i++)
            if (ms[i].id == merge_id) {
                surv = xstrdup(ms[i].survivor);
                ret = xstrdup(ms[i].retired);
            }
    store_merges_free(ms, n);
    struct store_iddecision d = {.action = "unmerge",
                                 .person_id = surv,
                                 .other_person = ret,
                                 .decided_by = (char *)by,
                                 .merge_id = merge_id,
                                 .note = (char *)note};
    rc = record_decision(s, &d, NULL);
    /* an undone automatic decision must stay undone: keep the two apart */
    struct store_idrec *ra = NULL, *rb = NULL;
    int na = 0, nb = 0;
    if (rc == 0 && surv && ret &&
        (rc = store_idrec_of_person(s, LINK_SOURCE_ID_SYSTEM, surv, &ra, &na)) == 0 &&
        (rc = store_idrec_of_person(s, LINK_SOURCE_ID_SYSTEM, ret, &rb, &nb)) == 0)
        for (int i = 0; rc == 0 && i < nb; i++)
            for (int k = 0; rc == 0 && k < na; k++)
                rc = store_idnonmatch_add(s, rb[i].org, rb[i].source_id, ra[k].org, ra[k].source_id,
                                          0);
    store_idrecs_free(ra, na);
    store_idrecs_free(rb, nb);
    free(surv);
    free(ret);
    return rc;
}

int mpi_unmerge_source(struct store *s, const char *org, const char *system, const char *value,
                       const char *by, int64_t *merge_id_out)
{
    err_buf[0] = 0;
    int64_t mid = 0;
    int rc = store_person_merge_of_local(s, org, system, value, &mid);
    if (rc != 0)
        return rc;
    if (merge_id_out)
        *merge_id_out = mid;
    return unmerge_body(s, mid, by, "HL7 A37 unlink");
}

int identity_unmerge(struct store *s, int64_t merge_id, const char *by, const char *note)
{
    int rc;
    TXN(s, rc, unmerge_body(s, merge_id, by, note));
    return rc;
}

static int review_body(struct store *s, int64_t id, int same, const char *by, const char *note)
{
    struct store_idreview r;
    int rc = store_idreview_get(s, id, &r);
    if (rc != 0)
        return rc == WEFT_ENOTFOUND ? fail(rc, "no review %lld", (long long)id) : rc;
    if (strcmp(r.status, "open") != 0) {
        rc = fail(WEFT_ECONFLICT, "review %lld was decided already (%s)", (long long)id, r.status);
        goto out;
    }
    int64_t did = 0;
    if (same) {
        char *other = NULL;
        if ((rc = store_person_find_local(s, r.other_org, LINK_SOURCE_ID_SYSTEM, r.other_source_id,
                                          &other)) != 0)
            goto out;
        char *mine = NULL;
        if ((rc = store_person_find_local(s, r.org, LINK_SOURCE_ID_SYSTEM, r.source_id, &mine)) ==
                0 &&
            strcmp(mine, other) != 0)
            rc = do_merge(s, other, mine, by, note, "link", r.org, r.source_id, NULL);
        free(mine);
        free(other);
        if (rc != 0)
            goto out;
        rc = store_idreview_decide(s, id, "same", by, 0);
    } else {
        struct store_iddecision d = {.action = "not-same",
                                     .org = r.org,
                                     .source_id = r.source_id,
                                     .other_org = r.other_org,
                                     .other_source_id = r.other_source_id,
                                     .score = r.score,
                                     .model_version = r.model_version,
                                     .decided_by = (char *)by,
                                     .note = (char *)note};
        if ((rc = record_decision(s, &d, &did)) == 0 &&
            (rc = store_idnonmatch_add(s, r.org, r.source_id, r.other_org, r.other_source_id,
                                       did)) == 0)
            rc = store_idreview_decide(s, id, "not-same", by, did);
    }
out:
    free(r.created);
    free(r.org);
    free(r.source_id);
    free(r.other_org);
    free(r.other_source_id);
    free(r.status);
    free(r.decided_by);
    free(r.decided);
    return rc;
}

int identity_review_decide(struct store *s, int64_t id, int same, const char *by, const char *note)
{
    int rc;
    TXN(s, rc, review_body(s, id, same, by, note));
    return rc;
}
