/*
 * mpi_batch.c - the master person index over every record at once:
 * re-estimating the model (mpi_estimate) and re-running matching
 * (mpi_relink).  See mpi.h for the contracts.
 *
 * Both read every identity record into memory (normalised demographics
 * and blocking keys: about 500 bytes a record), then walk the blocks: for
 * each key, records are sorted by it and each is compared with the others
 * of its block; a block of more than BLOCK_CAP records is skipped (block.h),
 * so work is bounded by block sizes, never by the square of the record
 * count.  A pair sharing two keys is compared once (at the first).  Relink
 * sorts the keys on several threads, numbers each key's blocks (so "does
 * an earlier key hold this pair" compares integers), splits the blocks
 * into chunks of about equal work (block_chunks) that the threads take
 * one at a time, and compares in full only the pairs whose cheap fields
 * could still reach the review weight (pairscore_bound; the weights from
 * a table, pairscore.h).  It then decides the edges best first in memory
 * (union-find; each cluster's person, NHS number and "not the same person"
 * decisions known there), frees them, and writes the outcome in bulk in one
 * transaction: reviews REVIEW_FLUSH at a time, every retired person
 * straight into its cluster's final person in one store_person_merge_many
 * (each merge still undoes on its own; the persons read once for all the
 * checks), the decisions and their audit entries in batches.
 * Memory is the records, the edges above the review weight and one step
 * per merge: linear in the records and pairs, never their square.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "identity/block.h"
#include "identity/identity.h"
#include "identity/mpi.h"
#include "identity/pairscore.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/txn.h"

struct brec {
    struct demog d;
    char key[BLOCK_BATCH_NKEYS][BLOCK_KEYLEN];
    char *org, *src, *person, *person_nhs;
};

struct batch {
    struct brec *r;
    int n, cap;
};

static int load_one(const struct store_idrec *r, void *ctx)
{
    struct batch *b = ctx;
    if (!r->person_id)
        return 0; /* a record whose Patient never got a person (not expected) */
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->r = xrealloc(b->r, sizeof *b->r * (size_t)b->cap);
    }
    struct brec *x = &b->r[b->n];
    if (demog_unpack(r->demog, &x->d) != 0)
        return 0;
    if (r->nhs)
        snprintf(x->d.nhs, sizeof x->d.nhs, "%s", r->nhs);
    block_keys_batch(&x->d, x->key);
    x->org = xstrdup(r->org);
    x->src = xstrdup(r->source_id);
    x->person = xstrdup(r->person_id);
    x->person_nhs = r->person_nhs ? xstrdup(r->person_nhs) : NULL;
    b->n++;
    return 0;
}

static void batch_free(struct batch *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->r[i].org);
        free(b->r[i].src);
        free(b->r[i].person);
        free(b->r[i].person_nhs);
    }
    free(b->r);
}

static const struct batch *sort_b;
static int by_key_k(const char *kx, const char *ky, int i, int j)
{
    int c = strcmp(kx, ky);
    return c ? c : (i > j) - (i < j);
}

/* (key, record) for one key's sort: no global state, so keys can be sorted
 * on several threads at once */
struct keyed {
    const char *key;
    int i;
};
static int by_keyed(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    return by_key_k(a->key, b->key, a->i, b->i);
}

/* Call fn(i, j, ctx) once for every candidate pair of key k that no earlier
 * key holds (i < j).  A block of more than BLOCK_CAP records is skipped:
 * a key shared by that many tells no one apart (block.h). */
static void key_pairs(const struct batch *b, int k, struct keyed *idx, void (*fn)(int, int, void *),
                      void *ctx, long *npairs)
{
    int m = 0;
    for (int i = 0; i < b->n; i++)
        if (b->r[i].key[k][0])
            idx[m++] = (struct keyed){b->r[i].key[k], i};
    qsort(idx, (size_t)m, sizeof *idx, by_keyed);
    for (int s = 0; s < m;) {
        int e = s + 1;
        while (e < m && strcmp(idx[s].key, idx[e].key) == 0)
            e++;
        if (e - s > BLOCK_CAP) {
            s = e;
            continue;
        }
        for (int a = s; a < e; a++)
            for (int c = a + 1; c < e; c++) {
                const struct brec *x = &b->r[idx[a].i], *y = &b->r[idx[c].i];
                int seen = 0;
                for (int k2 = 0; k2 < k && !seen; k2++)
                    seen = x->key[k2][0] && strcmp(x->key[k2], y->key[k2]) == 0;
                if (seen)
                    continue;
                (*npairs)++;
                fn(idx[a].i, idx[c].i, ctx);
            }
        s = e;
    }
}

/* Call fn(i, j, ctx) once for every candidate pair (i < j), key by key. */
static void for_pairs(const struct batch *b, void (*fn)(int, int, void *), void *ctx, long *npairs)
{
    struct keyed *idx = xmalloc(sizeof *idx * (size_t)(b->n ? b->n : 1));
    for (int k = 0; k < BLOCK_BATCH_NKEYS; k++)
        key_pairs(b, k, idx, fn, ctx, npairs);
    free(idx);
}

/* ---- estimate ------------------------------------------------------------------ */

struct est {
    const struct batch *b;
    signed char *g;
    size_t n, cap;
};

#define EST_MAX_PAIRS 4000000

static void est_pair(int i, int j, void *ctx)
{
    struct est *e = ctx;
    if (e->n >= EST_MAX_PAIRS)
        return;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 65536;
        e->g = xrealloc(e->g, e->cap * CF_N);
    }
    compare_pair(&e->b->r[i].d, &e->b->r[j].d, e->g + e->n * CF_N);
    e->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Term frequencies of field (0 given, 1 family) over every record. */
static void tf_count(struct idmodel *m, const struct batch *b, int field)
{
    char **v = xmalloc(sizeof *v * (size_t)(b->n ? b->n : 1));
    int n = 0;
    for (int i = 0; i < b->n; i++) {
        char *s = field == 0 ? b->r[i].d.given : b->r[i].d.family;
        if (*s)
            v[n++] = s;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    char **names = xmalloc(sizeof *names * (size_t)(n ? n : 1));
    long *counts = xmalloc(sizeof *counts * (size_t)(n ? n : 1));
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && strcmp(names[k - 1], v[i]) == 0) {
            counts[k - 1]++;
        } else {
            names[k] = v[i];
            counts[k++] = 1;
        }
    }
    idmodel_tf_set(m, field, names, counts, k, n);
    free(v);
    free(names);
    free(counts);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int mpi_estimate(struct store *s, const double *link_bits, const double *review_bits, FILE *report)
{
    struct batch b = {0};
    int rc = store_idrec_scan(s, LINK_SOURCE_ID_SYSTEM, load_one, &b);
    if (rc != 0) {
        batch_free(&b);
        return rc;
    }
    if (b.n < 50) {
        batch_free(&b);
        if (report)
            fprintf(report, "too few records to estimate a model from (%d, need 50)\n", b.n);
        return WEFT_EINVAL;
    }
    const struct idmodel *cur = mpi_model_acquire(s);
    struct idmodel m;
    idmodel_init_default(&m);
    /* start EM from the current model's m; keep its thresholds */
    memcpy(m.m, cur->m, sizeof m.m);
    m.link_bits = link_bits ? *link_bits : cur->link_bits;
    m.review_bits = review_bits ? *review_bits : cur->review_bits;
    mpi_model_release(cur);
    struct est e = {.b = &b};
    long npairs = 0;
    for_pairs(&b, est_pair, &e, &npairs);
    size_t nrand = b.n > 1 ? 200000 : 0;
    signed char *rg = xmalloc(CF_N * (nrand ? nrand : 1));
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < nrand; i++) {
        int x = (int)(rng_next(&seed) % (uint64_t)b.n), y = (int)(rng_next(&seed) % (uint64_t)b.n);
        if (x == y)
            y = (y + 1) % b.n;
        compare_pair(&b.r[x].d, &b.r[y].d, rg + i * CF_N);
    }
    int rounds = idmodel_estimate(&m, e.g, e.n, rg, nrand, 100);
    /* the prior: true pairs among all pairs */
    double all = (double)b.n * (double)(b.n - 1) / 2.0;
    double p = m.lambda * (double)npairs / all;
    if (p < 1e-12)
        p = 1e-12;
    if (p > 0.5)
        p = 0.5;
    m.prior_bits = log2(p / (1 - p));
    idmodel_thresholds(&m);
    tf_count(&m, &b, 0);
    tf_count(&m, &b, 1);
    m.records = b.n;
    m.pairs = npairs;
    rc = mpi_model_save(s, &m);
    if (rc == 0 && report) {
        fprintf(report,
                "model version %d: %d records, %ld candidate pairs (%zu used), %zu random pairs,"
                " EM %d rounds, lambda %.5f, prior %.2f bits; link at posterior >= %.1f bits"
                " (match weight %.1f), review >= %.1f bits (weight %.1f)\n",
                m.version, b.n, npairs, e.n, nrand, rounds, m.lambda, m.prior_bits, m.link_bits,
                m.link_weight, m.review_bits, m.review_weight);
        fprintf(report, "%-10s %-26s %10s %10s %8s\n", "field", "level", "m", "u", "weight");
        for (int f = 0; f < CF_N; f++)
            for (int l = 0; l < compare_levels(f); l++)
                fprintf(report, "%-10s %-26s %10.6f %10.6f %8.2f\n", compare_field_name(f),
                        compare_level_name(f, l), m.m[f][l], m.u[f][l],
                        log2(m.m[f][l] / m.u[f][l]));
    }
    idmodel_free(&m);
    free(rg);
    free(e.g);
    batch_free(&b);
    return rc;
}

/* ---- relink -------------------------------------------------------------------- */

struct edge {
    int i, j;
    double w;
};

/* One scoring pass over every key at once: each key's records sorted by
 * (key, record), each record's block number under each key (so "does an
 * earlier key hold this pair" is a compare of integers), the blocks worth
 * comparing (2 to BLOCK_CAP records) in (key, key value) order, and those
 * split into chunks of about equal work for the threads (block_chunks). */
struct run {
    int k, s, e; /* key k's sorted records s .. e - 1 */
};

struct pass {
    const struct batch *b;
    const struct idmodel *m;
    struct pairscore ps;
    struct pairscore_names *names; /* each record's exact-name weights */
    const int *pid;                /* each record's person, as a number */
    int *idx[BLOCK_BATCH_NKEYS];
    int nidx[BLOCK_BATCH_NKEYS];
    uint32_t *kid; /* record i's block under key k: kid[i * NKEYS + k], 0 for none */
    struct run *runs;
    int nruns;
    int *bounds, nchunks;
    pthread_mutex_t lock;
    int next; /* the next key to sort (phase 1), the next chunk (phase 2) */
};

struct rl {
    struct pass *p;
    struct edge *e;
    size_t n, cap;
    long npairs;
};

/* Phase 1: sort key k, number its blocks. */
static void pass_sort_key(struct pass *p, int k)
{
    const struct batch *b = p->b;
    struct keyed *kx = xmalloc(sizeof *kx * (size_t)(b->n ? b->n : 1));
    int m = 0;
    for (int i = 0; i < b->n; i++)
        if (b->r[i].key[k][0])
            kx[m++] = (struct keyed){b->r[i].key[k], i};
    qsort(kx, (size_t)m, sizeof *kx, by_keyed);
    int *idx = xmalloc(sizeof *idx * (size_t)(m ? m : 1));
    uint32_t block = 0;
    for (int a = 0; a < m; a++) {
        if (a == 0 || strcmp(kx[a].key, kx[a - 1].key) != 0)
            block++;
        idx[a] = kx[a].i;
        p->kid[(size_t)kx[a].i * BLOCK_BATCH_NKEYS + (size_t)k] = block;
    }
    free(kx);
    p->idx[k] = idx;
    p->nidx[k] = m;
}

static void rl_pair(struct rl *r, int i, int j)
{
    const struct pass *p = r->p;
    if (p->pid[i] == p->pid[j])
        return; /* together already */
    const struct brec *x = &p->b->r[i], *y = &p->b->r[j];
    const struct pairscore_names *xn = &p->names[i];
    /* the cheap fields cannot reach the review weight: nothing to compare
     * (the bound is never below the weight; the margin covers the order of
     * the additions) */
    if (pairscore_bound(&p->ps, &x->d, xn, &y->d) < p->m->review_weight - 1e-9)
        return;
    signed char g[CF_N];
    compare_pair(&x->d, &y->d, g);
    double w = pairscore_weight(&p->ps, g, xn);
    w = mpi_auto_weight(p->m, &x->d, &y->d, g, w);
    if (w < p->m->review_weight)
        return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->e = xrealloc(r->e, sizeof *r->e * r->cap);
    }
    r->e[r->n++] = (struct edge){i, j, w};
}

/* Every candidate pair of one block that no earlier key holds (i < j). */
static void rl_run(struct rl *r, const struct run *u)
{
    const struct pass *p = r->p;
    const int *idx = p->idx[u->k];
    for (int a = u->s; a < u->e; a++)
        for (int c = a + 1; c < u->e; c++) {
            int i = idx[a], j = idx[c];
            const uint32_t *ki = &p->kid[(size_t)i * BLOCK_BATCH_NKEYS],
                           *kj = &p->kid[(size_t)j * BLOCK_BATCH_NKEYS];
            int seen = 0;
            for (int k2 = 0; k2 < u->k && !seen; k2++)
                seen = ki[k2] && ki[k2] == kj[k2];
            if (seen)
                continue;
            r->npairs++;
            rl_pair(r, i, j);
        }
}

static int by_weight(const void *a, const void *b);

/* Scoring on several threads: first each sorts the next key not yet
 * sorted; then each takes the next chunk of blocks and keeps its own
 * edges, sorted by (weight, i, j) at the end (merged afterwards), so the
 * outcome does not depend on which thread scored what. */
struct rl_job {
    struct rl out;
    int phase;
};

static int pass_take(struct pass *p)
{
    pthread_mutex_lock(&p->lock);
    int x = p->next++;
    pthread_mutex_unlock(&p->lock);
    return x;
}

static void *rl_thread(void *arg)
{
    struct rl_job *j = arg;
    struct pass *p = j->out.p;
    if (j->phase == 1) {
        for (int k; (k = pass_take(p)) < BLOCK_BATCH_NKEYS;)
            pass_sort_key(p, k);
        return NULL;
    }
    for (int c; (c = pass_take(p)) < p->nchunks;)
        for (int u = p->bounds[c]; u < p->bounds[c + 1]; u++)
            rl_run(&j->out, &p->runs[u]);
    if (j->out.n)
        qsort(j->out.e, j->out.n, sizeof *j->out.e, by_weight);
    return NULL;
}

/* Run phase on nt threads (this one among them; a thread that fails to
 * start is simply absent: the others take its share). */
static void rl_threads(struct rl_job *jobs, int nt, int phase)
{
    pthread_t th[4];
    int started = 0;
    for (int t = 0; t < nt; t++) {
        jobs[t].phase = phase;
        if (t > 0 && pthread_create(&th[t], NULL, rl_thread, &jobs[t]) == 0)
            started |= 1 << t;
    }
    rl_thread(&jobs[0]);
    for (int t = 1; t < nt; t++)
        if (started & (1 << t))
            pthread_join(th[t], NULL);
}

static void rl_score(const struct batch *b, const struct idmodel *m, const int *pid, struct rl *all)
{
    /* one thread a core, at most 4; WEFT_RELINK_THREADS sets it (tests
     * compare one thread with several) */
    const char *env = getenv("WEFT_RELINK_THREADS");
    long nt = env && *env ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
    nt = nt < 1 ? 1 : nt > 4 ? 4 : nt;
    struct pass p = {.b = b, .m = m, .pid = pid};
    pthread_mutex_init(&p.lock, NULL);
    pairscore_init(&p.ps, m);
    size_t nb = (size_t)(b->n ? b->n : 1);
    p.names = xmalloc(sizeof *p.names * nb);
    for (int i = 0; i < b->n; i++)
        pairscore_names(&p.ps, m, &b->r[i].d, &p.names[i]);
    p.kid = xcalloc(nb * BLOCK_BATCH_NKEYS, sizeof *p.kid);
    struct rl_job jobs[4];
    for (int t = 0; t < nt; t++)
        jobs[t] = (struct rl_job){.out = {.p = &p}};
    rl_threads(jobs, (int)nt, 1);
    /* the blocks worth comparing, key by key */
    int cap = 0;
    for (int k = 0; k < BLOCK_BATCH_NKEYS; k++)
        for (int s = 0; s < p.nidx[k];) {
            int e = s + 1;
            while (e < p.nidx[k] && p.kid[(size_t)p.idx[k][e] * BLOCK_BATCH_NKEYS + (size_t)k] ==
                                        p.kid[(size_t)p.idx[k][s] * BLOCK_BATCH_NKEYS + (size_t)k])
                e++;
            if (e - s >= 2 && e - s <= BLOCK_CAP) {
                if (p.nruns == cap) {
                    cap = cap ? cap * 2 : 4096;
                    p.runs = xrealloc(p.runs, sizeof *p.runs * (size_t)cap);
                }
                p.runs[p.nruns++] = (struct run){k, s, e};
            }
            s = e;
        }
    int *sizes = xmalloc(sizeof *sizes * (size_t)(p.nruns ? p.nruns : 1));
    long total = 0;
    for (int u = 0; u < p.nruns; u++) {
        sizes[u] = p.runs[u].e - p.runs[u].s;
        total += (long)sizes[u] * (sizes[u] - 1) / 2;
    }
    /* about 64 chunks a thread: small enough to even out, big enough that
     * taking one costs nothing */
    long target = total / (nt * 64);
    p.bounds = xmalloc(sizeof *p.bounds * (size_t)(p.nruns + 1));
    p.nchunks = block_chunks(sizes, p.nruns, target > 0 ? target : 1, p.bounds);
    free(sizes);
    p.next = 0;
    rl_threads(jobs, (int)nt, 2);
    /* merge the threads' sorted edges */
    *all = (struct rl){.p = NULL};
    size_t n = 0, at[4] = {0};
    for (int t = 0; t < nt; t++) {
        n += jobs[t].out.n;
        all->npairs += jobs[t].out.npairs;
    }
    all->e = xmalloc(sizeof *all->e * (n ? n : 1));
    for (size_t o = 0; o < n; o++) {
        int best = -1;
        for (int t = 0; t < nt; t++)
            if (at[t] < jobs[t].out.n &&
                (best < 0 || by_weight(&jobs[t].out.e[at[t]], &jobs[best].out.e[at[best]]) < 0))
                best = t;
        all->e[o] = jobs[best].out.e[at[best]++];
    }
    all->n = n;
    for (int t = 0; t < nt; t++)
        free(jobs[t].out.e);
    for (int k = 0; k < BLOCK_BATCH_NKEYS; k++)
        free(p.idx[k]);
    free(p.kid);
    free(p.runs);
    free(p.bounds);
    free(p.names);
    pthread_mutex_destroy(&p.lock);
}

static int by_weight(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    if (x->w != y->w)
        return x->w < y->w ? 1 : -1;
    if (x->i != y->i)
        return x->i - y->i;
    return x->j - y->j;
}

static int by_person(const void *x, const void *y)
{
    int i = *(const int *)x, j = *(const int *)y;
    int c = strcmp(sort_b->r[i].person, sort_b->r[j].person);
    return c ? c : (i > j) - (i < j);
}

static int uf_find(int *p, int x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

/* Persons holding a record with a "not the same person" decision, sorted. */
struct strset {
    char **v;
    int n, cap;
};
static int set_add(const char *person_id, void *ctx)
{
    struct strset *ss = ctx;
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? ss->cap * 2 : 64;
        ss->v = xrealloc(ss->v, sizeof *ss->v * (size_t)ss->cap);
    }
    ss->v[ss->n++] = xstrdup(person_id);
    return 0;
}

/* Reviews are queued REVIEW_FLUSH at a time (memory bounded whatever the
 * number of pairs). */
#define REVIEW_FLUSH 65536

/* The "not the same person" decisions that touch relink's records, as
 * pairs of record indices: a merge is refused when one joins the two
 * clusters (what persons_apart asks the store, answered in memory, since
 * relink writes its merges only at the end). */
struct apart_edges {
    int (*e)[2];
    int n, cap;
};

static int by_source(const void *x, const void *y)
{
    const struct brec *a = &sort_b->r[*(const int *)x], *b = &sort_b->r[*(const int *)y];
    int c = strcmp(a->org, b->org);
    return c ? c : strcmp(a->src, b->src);
}

/* The batch record of (org, source_id), else any batch record of the person
 * holding it now (by_person order), else -1. */
static int record_index(struct store *s, const struct batch *b, const int *by_src, const int *order,
                        const char *org, const char *source_id)
{
    int lo = 0, hi = b->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const struct brec *x = &b->r[by_src[mid]];
        int c = strcmp(org, x->org);
        if (!c)
            c = strcmp(source_id, x->src);
        if (!c)
            return by_src[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    char *pid = NULL;
    if (store_person_find_local(s, org, LINK_SOURCE_ID_SYSTEM, source_id, &pid) != 0)
        return -1;
    int found = -1;
    lo = 0, hi = b->n - 1;
    while (lo <= hi && found < 0) {
        int mid = (lo + hi) / 2;
        int c = strcmp(pid, b->r[order[mid]].person);
        if (!c)
            found = order[mid];
        else if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    free(pid);
    return found;
}

static int apart_edges_read(struct store *s, const struct batch *b, const int *order,
                            const char *flag, struct apart_edges *ae)
{
    int *by_src = xmalloc(sizeof *by_src * (size_t)(b->n ? b->n : 1));
    for (int i = 0; i < b->n; i++)
        by_src[i] = i;
    sort_b = b;
    qsort(by_src, (size_t)b->n, sizeof *by_src, by_source);
    int rc = 0;
    for (int i = 0; rc == 0 && i < b->n; i++) {
        if (!flag[i])
            continue;
        struct store_idrec *nm = NULL;
        int nn = 0;
        rc = store_idnonmatch_list(s, b->r[i].org, b->r[i].src, &nm, &nn);
        for (int k = 0; rc == 0 && k < nn; k++) {
            int j = record_index(s, b, by_src, order, nm[k].org, nm[k].source_id);
            if (j < 0)
                continue;
            if (ae->n == ae->cap) {
                ae->cap = ae->cap ? ae->cap * 2 : 64;
                ae->e = xrealloc(ae->e, sizeof *ae->e * (size_t)ae->cap);
            }
            ae->e[ae->n][0] = i;
            ae->e[ae->n][1] = j;
            ae->n++;
        }
        store_idrecs_free(nm, nn);
    }
    free(by_src);
    return rc;
}

static int apart_between(const struct apart_edges *ae, int *par, int a, int c)
{
    for (int k = 0; k < ae->n; k++) {
        int x = uf_find(par, ae->e[k][0]), y = uf_find(par, ae->e[k][1]);
        if ((x == a && y == c) || (x == c && y == a))
            return 1;
    }
    return 0;
}

static void apart_edges_free(struct apart_edges *ae)
{
    free(ae->e);
}

int mpi_relink(struct store *s, FILE *report)
{
    struct batch b = {0};
    int rc = store_idrec_scan(s, LINK_SOURCE_ID_SYSTEM, load_one, &b);
    struct strset apart = {0};
    if (rc == 0)
        rc = store_idnonmatch_persons(s, LINK_SOURCE_ID_SYSTEM, set_add, &apart);
    if (rc != 0) {
        batch_free(&b);
        for (int i = 0; i < apart.n; i++)
            free(apart.v[i]);
        free(apart.v);
        return rc;
    }
    if (apart.n)
        qsort(apart.v, (size_t)apart.n, sizeof *apart.v, cmp_str);
    const struct idmodel *m = mpi_model_acquire(s);
    /* each record's person as a number (records of one person together in
     * order), for the scoring threads' "together already" */
    size_t nb = (size_t)(b.n ? b.n : 1);
    int *order = xmalloc(sizeof *order * nb);
    int *pid = xmalloc(sizeof *pid * nb);
    for (int i = 0; i < b.n; i++)
        order[i] = i;
    sort_b = &b;
    qsort(order, (size_t)b.n, sizeof *order, by_person);
    for (int i = 0, np = 0; i < b.n; i++) {
        if (i > 0 && strcmp(b.r[order[i]].person, b.r[order[i - 1]].person) != 0)
            np++;
        pid[order[i]] = np;
    }
    struct rl r;
    rl_score(&b, m, pid, &r); /* edges strongest first */
    free(pid);
    long npairs = r.npairs, reviews_added = 0;
    /* clusters start as today's persons: relink never splits anyone.  Each
     * cluster's root knows its person now (cur), its NHS number and whether
     * any of its records has a "not the same person" decision (flag): only
     * then must the store be asked before a merge */
    int *par = xmalloc(sizeof *par * nb);
    const char **nhs = xmalloc(sizeof *nhs * nb);
    const char **cur = xmalloc(sizeof *cur * nb);
    char *flag = xmalloc(nb);
    unsigned char *nrev = xcalloc(nb, 1); /* reviews queued per record (capped) */
    for (int i = 0; i < b.n; i++) {
        par[i] = i;
        nhs[i] = b.r[i].person_nhs;
        cur[i] = b.r[i].person;
        flag[i] =
            apart.n && bsearch(&b.r[i].person, apart.v, (size_t)apart.n, sizeof *apart.v, cmp_str);
    }
    for (int i = 1; i < b.n; i++)
        if (strcmp(b.r[order[i]].person, b.r[order[i - 1]].person) == 0)
            par[uf_find(par, order[i])] = uf_find(par, order[i - 1]);
    struct apart_edges ae = {0};
    if (apart.n)
        rc = apart_edges_read(s, &b, order, flag, &ae);
    /* the edges best first, in memory: what links, what is refused, what
     * is queued; each merge as one step (survivor, retired: the clusters'
     * persons then), exactly as one store call a step would decide them */
    struct step {
        int ret_root; /* a record of the retired cluster (its person at the end: the survivor) */
        int via;      /* the record whose match caused it */
        const char *ret;
        double w;
    } *steps = xmalloc(sizeof *steps * nb);
    size_t nsteps = 0;
    struct edge *rv = NULL; /* the pairs to queue, best first (at most 3 a record) */
    size_t nrv = 0, caprv = 0;
    long joined = 0, merged = 0, reviews = 0, refused = 0, capped = 0;
    for (size_t k = 0; rc == 0 && k < r.n; k++) {
        const struct edge *e = &r.e[k];
        int a = uf_find(par, e->i), c = uf_find(par, e->j);
        if (a == c)
            continue;
        if (e->w < m->link_weight) {
            /* best first: a pair beyond both records' best few is not queued */
            if (nrev[e->i] >= MPI_REVIEWS_PER_RECORD && nrev[e->j] >= MPI_REVIEWS_PER_RECORD) {
                capped++;
                continue;
            }
            if (nrev[e->i] < 255)
                nrev[e->i]++;
            if (nrev[e->j] < 255)
                nrev[e->j]++;
            if (nrv == caprv) {
                caprv = caprv ? caprv * 2 : 4096;
                rv = xrealloc(rv, sizeof *rv * caprv);
            }
            rv[nrv++] = *e;
            continue;
        }
        if (nhs[a] && nhs[c] && strcmp(nhs[a], nhs[c]) != 0) {
            refused++;
            continue;
        }
        if ((flag[a] || flag[c]) && apart_between(&ae, par, a, c)) {
            refused++;
            continue;
        }
        const char *pa = cur[a], *pc = cur[c];
        if (strcmp(pa, pc) != 0) {
            /* the survivor: the one with an NHS number, else the first */
            int c_survives = nhs[c] && !nhs[a];
            steps[nsteps++] = (struct step){.ret_root = c_survives ? a : c,
                                            .via = c_survives ? e->i : e->j,
                                            .ret = c_survives ? pa : pc,
                                            .w = e->w};
            merged++;
            cur[a] = c_survives ? pc : pa;
        }
        par[c] = a;
        if (!nhs[a])
            nhs[a] = nhs[c];
        flag[a] = flag[a] || flag[c];
        joined++;
    }
    /* decided: the edges are done with (freed before the writes, which
     * then need no more than the records, the reviews and the steps); the
     * writes in one transaction: the reviews REVIEW_FLUSH at a time, best
     * first, then the merges */
    free(r.e);
    r.e = NULL;
    struct store_txn t = {0};
    if (rc == 0)
        rc = store_txn_begin(&t, s);
    int txn = rc == 0;
    struct store_idreview *rq = xmalloc(sizeof *rq * REVIEW_FLUSH);
    for (size_t k = 0; rc == 0 && k < nrv; k += REVIEW_FLUSH) {
        size_t nrq = nrv - k < REVIEW_FLUSH ? nrv - k : REVIEW_FLUSH;
        for (size_t q = 0; q < nrq; q++) {
            const struct edge *e = &rv[k + q];
            rq[q] = (struct store_idreview){.org = b.r[e->i].org,
                                            .source_id = b.r[e->i].src,
                                            .other_org = b.r[e->j].org,
                                            .other_source_id = b.r[e->j].src,
                                            .score = e->w,
                                            .model_version = m->version};
        }
        rc = store_idreview_add_many(s, rq, nrq, &reviews_added);
        reviews += reviews_added;
        reviews_added = 0;
    }
    free(rv);
    /* every retired person straight into its cluster's person at the end
     * (chains flattened: each merge undoes on its own), in one store call;
     * then the decisions and their audit entries in bulk */
    struct store_merge_pair *mp = xmalloc(sizeof *mp * (nsteps ? nsteps : 1));
    int64_t *mid = xmalloc(sizeof *mid * (nsteps ? nsteps : 1));
    for (size_t k = 0; k < nsteps; k++)
        mp[k] = (struct store_merge_pair){.survivor = cur[uf_find(par, steps[k].ret_root)],
                                          .retired = steps[k].ret};
    if (rc == 0)
        rc = store_person_merge_many(s, mp, nsteps, "relink", mid);
    if (rc == 0 && nsteps) {
        struct store_iddecision *d = xmalloc(sizeof *d * nsteps);
        for (size_t k = 0; k < nsteps; k++)
            d[k] = (struct store_iddecision){.action = (char *)"merge",
                                             .org = b.r[steps[k].via].org,
                                             .source_id = b.r[steps[k].via].src,
                                             .person_id = (char *)mp[k].survivor,
                                             .other_person = (char *)mp[k].retired,
                                             .score = steps[k].w,
                                             .model_version = m->version,
                                             .decided_by = (char *)"relink",
                                             .merge_id = mid[k]};
        rc = mpi_decisions_record_many(s, d, nsteps);
        free(d);
    }
    free(mp);
    free(mid);
    free(steps);
    free(rq);
    apart_edges_free(&ae);
    if (txn) {
        if (rc == 0)
            rc = store_txn_commit(&t);
        else
            store_txn_rollback(&t);
    }
    if (rc == 0 && report)
        fprintf(
            report,
            "relink with model version %d: %d records, %ld candidate pairs, %zu pairs above"
            " the review weight; %ld links, %ld persons merged, %ld refused (different NHS"
            " numbers or a not-same decision), %ld pairs queued for review (%ld more not queued:"
            " beyond both records' best %d)\n",
            m->version, b.n, npairs, r.n, joined, merged, refused, reviews, capped,
            MPI_REVIEWS_PER_RECORD);
    free(order);
    free(par);
    free(nhs);
    free(cur);
    free(flag);
    free(nrev);
    free(r.e);
    for (int i = 0; i < apart.n; i++)
        free(apart.v[i]);
    free(apart.v);
    mpi_model_release(m);
    batch_free(&b);
    return rc;
}
