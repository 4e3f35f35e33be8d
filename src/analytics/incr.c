/*
 * incr.c - the secondary outputs kept up to date incrementally (incr.h).
 *
 * Data structure: a dictionary of cells, key text -> raw value, interned to
 * dense ids (an open-addressing hash), so that a person's contribution is a
 * short list of (id, value) pairs (a few varint bytes each) and subtracting
 * or adding it is that many array updates.  A key is
 *   "<job>|<kind>" then "|<length>:<bytes>" per field
 * (lengths, so a label may hold any byte), kinds:
 *   X            persons read but not cleared (job -1)
 *   N            persons an output counted
 *   R fields     a row is there (classified row; table, key1, key2; site, ward)
 *   C row col    a classified cell          A t k1 k2 col  an aggregate cell
 *   F m site ward i  a flow cell: m 0 admissions, 1 discharges, 2 occupancy
 *                    (i a day of the window), 3 length-of-stay bands (i the band)
 *   L site ward los  stays of that length in days (the medians' multiset)
 *   S person nhs site ward in out admitted  an inpatient stay (outputs at a
 *                    time: counted at whatever minute the output is for)
 * A person's cells come from counting the person alone into an empty copy
 * of each output (secondary_count_person, the same code a full computation
 * runs) and reading its rows back (agg_each, the flow's rows), so the
 * rules of what is counted live in one place.
 *
 * Workload: a full computation reads everyone once (as secondary_run_many)
 * plus the interning of about ten to a hundred keys a person, and writes one
 * contribution row a person; an update after k changed persons reads k
 * persons and k contributions, then rebuilds the outputs from the
 * dictionary (tens of thousands of cells: milliseconds).  The opt-out list
 * is loaded whole either way (one range read).
 */
#include "analytics/incr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/agg.h"
#include "analytics/efi.h"
#include "analytics/flow.h"
#include "analytics/optout.h"
#include "analytics/read.h"
#include "analytics/risklist.h"
#include "analytics/secondary.h"
#include "analytics/secondary_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/analytics.h"
#include "store/store.h"
#include "store/txn.h"

/* Bump when what a person contributes changes (a counting rule, a key): a
 * state made by another version is not updated, it is recomputed. */
#define INCR_MAGIC "weft-analytics-incremental-1"

/* ---- varints ------------------------------------------------------------------------ */

static void put_u(struct buf *b, uint64_t v)
{
    do {
        unsigned char byte = (unsigned char)(v & 0x7f);
        v >>= 7;
        buf_addc(b, (char)(v ? byte | 0x80 : byte));
    } while (v);
}

static void put_s(struct buf *b, int64_t v)
{
    put_u(b, v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1 : (uint64_t)v << 1);
}

static void put_str(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u(b, n);
    buf_add(b, s, n);
}

struct rd {
    const unsigned char *p;
    size_t n, i;
    bool bad;
};

static uint64_t get_u(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
        if (r->i >= r->n) {
            r->bad = true;
            return 0;
        }
        unsigned char byte = r->p[r->i++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t get_s(struct rd *r)
{
    uint64_t u = get_u(r);
    return u & 1 ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

static char *get_str(struct rd *r)
{
    uint64_t n = get_u(r);
    if (r->bad || n > r->n - r->i) {
        r->bad = true;
        return xstrdup("");
    }
    char *s = xmalloc((size_t)n + 1);
    memcpy(s, r->p + r->i, (size_t)n);
    s[n] = '\0';
    r->i += (size_t)n;
    return s;
}

/* ---- the dictionary of cells ------------------------------------------------------- */

struct dict {
    char **key;
    int64_t *val;
    int *job;
    char *kind;
    int n, cap;
    int *slot; /* id + 1, 0 empty */
    size_t scap;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int dict_id(struct dict *d, const char *k, int job, char kind)
{
    if ((size_t)(d->n + 1) * 2 > d->scap) {
        size_t cap = d->scap ? d->scap * 2 : 1024;
        int *slot = xcalloc(cap, sizeof *slot);
        for (int i = 0; i < d->n; i++) {
            size_t j = fnv(d->key[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = i + 1;
        }
        free(d->slot);
        d->slot = slot;
        d->scap = cap;
    }
    size_t j = fnv(k) & (d->scap - 1);
    for (; d->slot[j]; j = (j + 1) & (d->scap - 1))
        if (!strcmp(d->key[d->slot[j] - 1], k))
            return d->slot[j] - 1;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->key = xrealloc(d->key, (size_t)d->cap * sizeof *d->key);
        d->val = xrealloc(d->val, (size_t)d->cap * sizeof *d->val);
        d->job = xrealloc(d->job, (size_t)d->cap * sizeof *d->job);
        d->kind = xrealloc(d->kind, (size_t)d->cap);
    }
    int id = d->n++;
    d->key[id] = xstrdup(k);
    d->val[id] = 0;
    d->job[id] = job;
    d->kind[id] = kind;
    d->slot[j] = id + 1;
    return id;
}

static void dict_free(struct dict *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->key[i]);
    free(d->key);
    free(d->val);
    free(d->job);
    free(d->kind);
    free(d->slot);
    memset(d, 0, sizeof *d);
}

/* The fields of a key after "<job>|<kind>": pointers into k and lengths. */
static int key_fields(const char *k, const char *f[], size_t fl[], int max)
{
    const char *p = strchr(k, '|');
    p = p ? strchr(p + 1, '|') : NULL;
    int n = 0;
    while (p && *p == '|' && n < max) {
        char *e;
        unsigned long len = strtoul(p + 1, &e, 10);
        if (*e != ':' || strlen(e + 1) < len)
            return -1;
        f[n] = e + 1;
        fl[n++] = len;
        p = e + 1 + len;
    }
    return n;
}

static char *field_dup(const char *f, size_t n)
{
    char *s = xmalloc(n + 1);
    memcpy(s, f, n);
    s[n] = '\0';
    return s;
}

/* ---- multisets of NHS numbers (the counted sets) ----------------------------------- */

struct u64v {
    uint64_t *v;
    size_t n, cap;
};

static void u64v_push(struct u64v *a, uint64_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* set = set + adds - dels, as multisets; set stays sorted. */
static void u64v_apply(struct u64v *set, struct u64v *adds, struct u64v *dels)
{
    if (adds->n)
        qsort(adds->v, adds->n, sizeof *adds->v, cmp_u64);
    if (dels->n)
        qsort(dels->v, dels->n, sizeof *dels->v, cmp_u64);
    struct u64v out = {0};
    size_t i = 0, j = 0, k = 0;
    while (i < set->n || j < adds->n) {
        uint64_t x;
        if (j >= adds->n || (i < set->n && set->v[i] <= adds->v[j]))
            x = set->v[i++];
        else
            x = adds->v[j++];
        while (k < dels->n && dels->v[k] < x)
            k++; /* a removal of something not there: cannot happen; ignored */
        if (k < dels->n && dels->v[k] == x) {
            k++;
            continue;
        }
        u64v_push(&out, x);
    }
    free(set->v);
    *set = out;
    adds->n = dels->n = 0;
}

/* ---- the engine --------------------------------------------------------------------- */

struct pair {
    int id;
    int64_t v;
};

struct eng {
    int n;
    struct prep *pr;
    struct run_ctx *scratch; /* per output: one person counted alone */
    struct dict d;
    struct u64v *counted, *adds, *dels; /* per output */
    const struct optout_set *cleared;
    int x_id; /* the "not cleared" key */
    struct buf kb;
    struct pair *c; /* the contribution being built */
    int cn, ccap;
    uint64_t nhs;
    /* the direct-care risk list's rows of the persons read (risk_day >= 0) */
    const struct efi_codes *efi;
    int64_t risk_day;
    struct risk_row *risk;
    char **risk_practice;
    int nrisk, riskcap;
    /* the contributions made, to store */
    struct buf blobs;
    char **pid;
    size_t *off, *len;
    int np, pcap;
    int64_t read;
};

static void kb_start(struct eng *e, int job, char kind)
{
    buf_reset(&e->kb);
    buf_addf(&e->kb, "%d|%c", job, kind);
}

static void kb_str(struct eng *e, const char *s)
{
    buf_addf(&e->kb, "|%zu:", strlen(s));
    buf_adds(&e->kb, s);
}

static void kb_int(struct eng *e, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    kb_str(e, t);
}

static void contrib_add(struct eng *e, int job, char kind, int64_t v)
{
    int id = dict_id(&e->d, e->kb.data, job, kind);
    if (e->cn == e->ccap) {
        e->ccap = e->ccap ? e->ccap * 2 : 64;
        e->c = xrealloc(e->c, (size_t)e->ccap * sizeof *e->c);
    }
    e->c[e->cn++] = (struct pair){id, v};
}

struct agg_cb {
    struct eng *e;
    int job;
};

static void agg_cell(void *arg, int t, const char *k1, const char *k2, int col, int64_t v)
{
    struct agg_cb *x = arg;
    kb_start(x->e, x->job, col < 0 ? 'R' : 'A');
    kb_int(x->e, t);
    kb_str(x->e, k1);
    kb_str(x->e, k2 ? k2 : "");
    if (col >= 0)
        kb_int(x->e, col);
    contrib_add(x->e, x->job, col < 0 ? 'R' : 'A', col < 0 ? 1 : v);
}

static void flow_cells(struct eng *e, int j, struct flow *f)
{
    for (int r = 0; r < f->nrows; r++) {
        kb_start(e, j, 'R');
        kb_str(e, f->site[r]);
        kb_str(e, f->ward[r]);
        contrib_add(e, j, 'R', 1);
        int64_t *m[3] = {f->adm[r], f->dis[r], f->occ[r]};
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < (k < 3 ? f->ndays : FLOW_LOS_BANDS); i++) {
                int64_t v = k < 3 ? m[k][i] : f->los[r][i];
                if (!v)
                    continue;
                kb_start(e, j, 'F');
                kb_int(e, k);
                kb_str(e, f->site[r]);
                kb_str(e, f->ward[r]);
                kb_int(e, i);
                contrib_add(e, j, 'F', v);
            }
        for (int64_t i = 0; i < f->los_n[r]; i++) {
            kb_start(e, j, 'L');
            kb_str(e, f->site[r]);
            kb_str(e, f->ward[r]);
            kb_int(e, f->los_v[r][i]);
            contrib_add(e, j, 'L', 1);
        }
    }
}

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* What person p adds, into e->c (sorted by id, one pair an id) and e->nhs. */
static void person_contrib(struct eng *e, const struct analytics_person *p)
{
    e->cn = 0;
    e->nhs = 0;
    if (!p->nhs || !optout_set_has(e->cleared, p->nhs)) {
        kb_start(e, -1, 'X');
        contrib_add(e, -1, 'X', 1);
        return;
    }
    e->nhs = optout_nhs_key(p->nhs);
    char nhs[24];
    snprintf(nhs, sizeof nhs, "%llu", (unsigned long long)e->nhs);
    for (int j = 0; j < e->n; j++) {
        struct run_ctx *c = &e->scratch[j];
        if (e->pr[j].def->window == WIN_AT) {
            /* the stays: counted at the output's minute when it is made */
            for (int i = 0; i < p->nitems; i++) {
                char site[128], ward[128];
                int64_t in, out, admitted;
                if (!flow_inpatient_of(&p->items[i], &in, &out, &admitted, site, ward))
                    continue;
                kb_start(e, j, 'S');
                kb_str(e, p->person_id);
                kb_str(e, nhs);
                kb_str(e, site);
                kb_str(e, ward);
                kb_int(e, in);
                kb_int(e, out);
                kb_int(e, admitted);
                contrib_add(e, j, 'S', 1);
            }
            continue;
        }
        c->ncounted = 0;
        secondary_count_person(c, p);
        if (!c->ncounted)
            continue;
        kb_start(e, j, 'N');
        contrib_add(e, j, 'N', 1);
        if (c->flow) {
            flow_cells(e, j, c->flow);
            flow_clear(c->flow);
        } else if (c->agg) {
            struct agg_cb x = {e, j};
            agg_each(c->agg, agg_cell, &x);
            agg_clear(c->agg);
        } else {
            for (int r = 0; r < c->rows.n; r++) {
                kb_start(e, j, 'R');
                kb_str(e, c->rows.labels[r]);
                contrib_add(e, j, 'R', 1);
                for (int col = 0; col < c->def->ncols; col++) {
                    if (!c->rows.cells[r][col])
                        continue;
                    kb_start(e, j, 'C');
                    kb_str(e, c->rows.labels[r]);
                    kb_int(e, col);
                    contrib_add(e, j, 'C', c->rows.cells[r][col]);
                }
            }
            secondary_rows_free(&c->rows);
            memset(&c->rows, 0, sizeof c->rows);
        }
    }
    if (e->cn > 1)
        qsort(e->c, (size_t)e->cn, sizeof *e->c, cmp_pair);
    int k = 0;
    for (int i = 0; i < e->cn; i++) {
        if (k && e->c[k - 1].id == e->c[i].id)
            e->c[k - 1].v += e->c[i].v;
        else
            e->c[k++] = e->c[i];
    }
    e->cn = k;
}

/* Add (sign 1) or subtract (sign -1) a contribution from the state. */
static void apply(struct eng *e, const struct pair *c, int n, uint64_t nhs, int sign)
{
    for (int i = 0; i < n; i++) {
        e->d.val[c[i].id] += sign * c[i].v;
        if (e->d.kind[c[i].id] == 'N') {
            int j = e->d.job[c[i].id];
            for (int64_t k = 0; k < c[i].v; k++)
                u64v_push(sign > 0 ? &e->adds[j] : &e->dels[j], nhs);
        }
    }
}

/* Keep the contribution just made (e->c) for person_id, to be stored. */
static void keep_contrib(struct eng *e, const char *person_id)
{
    if (e->np == e->pcap) {
        e->pcap = e->pcap ? e->pcap * 2 : 1024;
        e->pid = xrealloc(e->pid, (size_t)e->pcap * sizeof *e->pid);
        e->off = xrealloc(e->off, (size_t)e->pcap * sizeof *e->off);
        e->len = xrealloc(e->len, (size_t)e->pcap * sizeof *e->len);
    }
    size_t at = e->blobs.len;
    put_u(&e->blobs, e->nhs);
    put_u(&e->blobs, (uint64_t)e->cn);
    for (int i = 0; i < e->cn; i++) {
        put_u(&e->blobs, (uint64_t)e->c[i].id);
        put_s(&e->blobs, e->c[i].v);
    }
    e->pid[e->np] = xstrdup(person_id);
    e->off[e->np] = at;
    e->len[e->np] = e->blobs.len - at;
    e->np++;
}

static void keep_risk(struct eng *e, const struct analytics_person *p)
{
    if (e->nrisk == e->riskcap) {
        e->riskcap = e->riskcap ? e->riskcap * 2 : 1024;
        e->risk = xrealloc(e->risk, (size_t)e->riskcap * sizeof *e->risk);
        e->risk_practice = xrealloc(e->risk_practice, (size_t)e->riskcap * sizeof(char *));
    }
    /* direct care: everyone registered, cleared or not */
    if (risk_row_of(e->efi, p, e->risk_day, &e->risk[e->nrisk]))
        e->risk_practice[e->nrisk++] = xstrdup(p->gp);
}

static int read_person(const struct analytics_person *p, void *arg)
{
    struct eng *e = arg;
    e->read++;
    if (e->risk_day >= 0)
        keep_risk(e, p);
    person_contrib(e, p);
    apply(e, e->c, e->cn, e->nhs, 1);
    keep_contrib(e, p->person_id);
    return 0;
}

/* A stored contribution subtracted from the state. */
static int subtract(const char *person_id, const unsigned char *blob, size_t len, void *arg)
{
    (void)person_id;
    struct eng *e = arg;
    struct rd r = {blob, len, 0, false};
    uint64_t nhs = get_u(&r), n = get_u(&r);
    for (uint64_t i = 0; i < n && !r.bad; i++) {
        uint64_t id = get_u(&r);
        int64_t v = get_s(&r);
        if (r.bad || id >= (uint64_t)e->d.n) {
            r.bad = true;
            break;
        }
        struct pair c = {(int)id, v};
        apply(e, &c, 1, nhs, -1);
    }
    return r.bad ? WEFT_EPARSE : 0;
}

/* ---- the state ---------------------------------------------------------------------- */

static void state_encode(const struct eng *e, const struct secondary_options *o, int64_t list_id,
                         struct buf *b)
{
    put_str(b, INCR_MAGIC);
    put_u(b, (uint64_t)list_id);
    put_str(b, o[0].efi_codes ? o[0].efi_codes : "");
    put_u(b, (uint64_t)e->n);
    for (int j = 0; j < e->n; j++) {
        put_str(b, e->pr[j].def->name);
        put_str(b, e->pr[j].params);
    }
    put_u(b, (uint64_t)e->d.n);
    for (int i = 0; i < e->d.n; i++) {
        put_s(b, e->d.job[i]);
        buf_addc(b, e->d.kind[i]);
        put_str(b, e->d.key[i]);
        put_s(b, e->d.val[i]);
    }
    for (int j = 0; j < e->n; j++) {
        put_u(b, e->counted[j].n);
        uint64_t prev = 0;
        for (size_t k = 0; k < e->counted[j].n; k++) {
            put_u(b, e->counted[j].v[k] - prev);
            prev = e->counted[j].v[k];
        }
    }
}

/* Load a state into e when it is for exactly these outputs, list and code
 * sets; else why (a reason for a full computation). */
static bool state_decode(struct eng *e, const unsigned char *blob, size_t len,
                         const struct secondary_options *o, int64_t list_id, char *why,
                         size_t whylen)
{
    struct rd r = {blob, len, 0, false};
    char *magic = get_str(&r);
    bool ok = !r.bad && !strcmp(magic, INCR_MAGIC);
    free(magic);
    if (!ok) {
        snprintf(why, whylen, "the stored state was made by another version");
        return false;
    }
    if ((int64_t)get_u(&r) != list_id) {
        snprintf(why, whylen, "a new opt-out list is in force");
        return false;
    }
    char *efi = get_str(&r);
    ok = !strcmp(efi, o[0].efi_codes ? o[0].efi_codes : "");
    free(efi);
    if (!ok) {
        snprintf(why, whylen, "other eFI code sets");
        return false;
    }
    ok = get_u(&r) == (uint64_t)e->n;
    for (int j = 0; j < e->n && ok; j++) {
        char *name = get_str(&r), *params = get_str(&r);
        ok = !r.bad && !strcmp(name, e->pr[j].def->name) && !strcmp(params, e->pr[j].params);
        free(name);
        free(params);
    }
    if (!ok) {
        snprintf(why, whylen, "other outputs or windows (a new day, or a new window asked for)");
        return false;
    }
    uint64_t nk = get_u(&r);
    for (uint64_t i = 0; i < nk && !r.bad; i++) {
        int job = (int)get_s(&r);
        char kind = r.i < r.n ? (char)r.p[r.i++] : (r.bad = true, 0);
        char *key = get_str(&r);
        int64_t v = get_s(&r);
        if (!r.bad) {
            int id = dict_id(&e->d, key, job, kind);
            e->d.val[id] = v;
        }
        free(key);
    }
    e->x_id = dict_id(&e->d, "-1|X", -1, 'X');
    for (int j = 0; j < e->n && !r.bad; j++) {
        uint64_t n = get_u(&r), prev = 0;
        for (uint64_t k = 0; k < n && !r.bad; k++) {
            prev += get_u(&r);
            u64v_push(&e->counted[j], prev);
        }
    }
    if (r.bad || r.i != r.n) {
        snprintf(why, whylen, "the stored state is unreadable");
        return false;
    }
    return true;
}

/* ---- the outputs from the state ----------------------------------------------------- */

struct stay_person {
    const char *person;
    uint64_t nhs;
};

static int cmp_stay_person(const void *a, const void *b)
{
    return strcmp(((const struct stay_person *)a)->person, ((const struct stay_person *)b)->person);
}

static int64_t field_int(const char *f, size_t n)
{
    char t[24];
    snprintf(t, sizeof t, "%.*s", (int)(n < 23 ? n : 23), f);
    return strtoll(t, NULL, 10);
}

/* Output j's counting context filled from the state: what a full count of
 * everyone would have left in it. */
static void build_output(struct eng *e, int j, struct run_ctx *c)
{
    secondary_ctx_init(c, &e->pr[j], NULL);
    struct stay_person *sp = NULL;
    size_t nsp = 0, capsp = 0;
    /* rows first (present while some person made them), then cells */
    for (int pass = 0; pass < 2; pass++)
        for (int id = 0; id < e->d.n; id++) {
            if (e->d.job[id] != j || e->d.val[id] == 0)
                continue;
            char kind = e->d.kind[id];
            if ((pass == 0) != (kind == 'R'))
                continue;
            const char *f[8];
            size_t fl[8];
            int nf = key_fields(e->d.key[id], f, fl, 8);
            int64_t v = e->d.val[id];
            if (kind == 'R' && c->flow && nf == 2) {
                char *site = field_dup(f[0], fl[0]), *ward = field_dup(f[1], fl[1]);
                flow_row(c->flow, site, ward);
                free(site);
                free(ward);
            } else if (kind == 'R' && c->agg && nf == 3) {
                char *k1 = field_dup(f[1], fl[1]), *k2 = field_dup(f[2], fl[2]);
                agg_touch(c->agg, (int)field_int(f[0], fl[0]), k1, k2);
                free(k1);
                free(k2);
            } else if (kind == 'R' && nf == 1) {
                char *row = field_dup(f[0], fl[0]);
                secondary_rows_get(&c->rows, row, c->def->ncols);
                free(row);
            } else if (kind == 'C' && nf == 2) {
                char *row = field_dup(f[0], fl[0]);
                int col = (int)field_int(f[1], fl[1]);
                int r = secondary_rows_get(&c->rows, row, c->def->ncols);
                if (col >= 0 && col < c->def->ncols)
                    c->rows.cells[r][col] += v;
                free(row);
            } else if (kind == 'A' && c->agg && nf == 4) {
                char *k1 = field_dup(f[1], fl[1]), *k2 = field_dup(f[2], fl[2]);
                agg_add(c->agg, (int)field_int(f[0], fl[0]), k1, k2, (int)field_int(f[3], fl[3]),
                        v);
                free(k1);
                free(k2);
            } else if (kind == 'F' && c->flow && nf == 4) {
                char *site = field_dup(f[1], fl[1]), *ward = field_dup(f[2], fl[2]);
                int r = flow_row(c->flow, site, ward);
                int m = (int)field_int(f[0], fl[0]);
                int64_t i = field_int(f[3], fl[3]);
                if (m < 3 && i >= 0 && i < c->flow->ndays)
                    (m == 0 ? c->flow->adm : m == 1 ? c->flow->dis : c->flow->occ)[r][i] += v;
                else if (m == 3 && i >= 0 && i < FLOW_LOS_BANDS)
                    c->flow->los[r][i] += v;
                free(site);
                free(ward);
            } else if (kind == 'L' && c->flow && nf == 3) {
                char *site = field_dup(f[0], fl[0]), *ward = field_dup(f[1], fl[1]);
                int r = flow_row(c->flow, site, ward);
                int64_t los = field_int(f[2], fl[2]);
                struct flow *fw = c->flow;
                for (int64_t k = 0; k < v; k++) {
                    if (fw->los_n[r] == fw->los_cap[r]) {
                        fw->los_cap[r] = fw->los_cap[r] ? fw->los_cap[r] * 2 : 16;
                        fw->los_v[r] =
                            xrealloc(fw->los_v[r], (size_t)fw->los_cap[r] * sizeof **fw->los_v);
                    }
                    fw->los_v[r][fw->los_n[r]++] = los;
                }
                free(site);
                free(ward);
            } else if (kind == 'S' && c->agg && nf == 7) {
                int band = flow_inpatient_band(field_int(f[4], fl[4]), field_int(f[5], fl[5]),
                                               field_int(f[6], fl[6]), c->at);
                if (band < 0)
                    continue;
                char *site = field_dup(f[2], fl[2]), *ward = field_dup(f[3], fl[3]);
                agg_add(c->agg, 0, site, ward, band, v);
                free(site);
                free(ward);
                if (nsp == capsp) {
                    capsp = capsp ? capsp * 2 : 256;
                    sp = xrealloc(sp, capsp * sizeof *sp);
                }
                /* the key's person field, NUL-free: compared by its text with length */
                sp[nsp++] = (struct stay_person){e->d.key[id], (uint64_t)field_int(f[1], fl[1])};
            }
        }
    if (e->pr[j].def->window == WIN_AT) {
        /* a person counted once however many of their stays count: the
         * keys of one person share their prefix up to the person field */
        for (size_t i = 0; i < nsp; i++) {
            const char *f[8];
            size_t fl[8];
            key_fields(sp[i].person, f, fl, 8);
            sp[i].person = field_dup(f[0], fl[0]);
        }
        if (nsp > 1)
            qsort(sp, nsp, sizeof *sp, cmp_stay_person);
        for (size_t i = 0; i < nsp; i++) {
            if (i && !strcmp(sp[i].person, sp[i - 1].person))
                continue;
            if (c->ncounted == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 256;
                c->counted = xrealloc(c->counted, c->cap * sizeof *c->counted);
            }
            c->counted[c->ncounted++] = sp[i].nhs;
        }
        for (size_t i = 0; i < nsp; i++)
            free((char *)sp[i].person);
    } else if (e->counted[j].n) {
        c->counted = xmalloc(e->counted[j].n * sizeof *c->counted);
        memcpy(c->counted, e->counted[j].v, e->counted[j].n * sizeof *c->counted);
        c->ncounted = c->cap = e->counted[j].n;
    }
    free(sp);
}

/* ---- the run ------------------------------------------------------------------------ */

struct ids {
    char **v;
    int n, cap;
};

static int collect_id(const char *person_id, void *arg)
{
    struct ids *a = arg;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->v = xrealloc(a->v, (size_t)a->cap * sizeof *a->v);
    }
    a->v[a->n++] = xstrdup(person_id);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void eng_free(struct eng *e)
{
    for (int j = 0; j < e->n; j++) {
        if (e->scratch)
            secondary_ctx_free(&e->scratch[j]);
        if (e->counted) {
            free(e->counted[j].v);
            free(e->adds[j].v);
            free(e->dels[j].v);
        }
    }
    free(e->scratch);
    free(e->counted);
    free(e->adds);
    free(e->dels);
    dict_free(&e->d);
    buf_release(&e->kb);
    buf_release(&e->blobs);
    for (int i = 0; i < e->np; i++)
        free(e->pid[i]);
    free(e->pid);
    for (int i = 0; i < e->nrisk; i++) {
        risk_row_clear(&e->risk[i]);
        free(e->risk_practice[i]);
    }
    free(e->risk);
    free(e->risk_practice);
    free(e->off);
    free(e->len);
    free(e->c);
}

/* The contributions to store: every one made (full), or one per changed
 * person (its new one, or none: deleted). */
static int store_contribs(struct store *s, struct eng *e, const struct ids *changed, bool full)
{
    int n = full ? e->np : changed->n;
    const char **pid = xcalloc((size_t)(n ? n : 1), sizeof *pid);
    const unsigned char **blob = xcalloc((size_t)(n ? n : 1), sizeof *blob);
    size_t *len = xcalloc((size_t)(n ? n : 1), sizeof *len);
    const unsigned char *base = (const unsigned char *)e->blobs.data;
    if (full) {
        for (int i = 0; i < n; i++) {
            pid[i] = e->pid[i];
            blob[i] = base + e->off[i];
            len[i] = e->len[i];
        }
    } else {
        /* e->pid in read order; changed->v sorted */
        int *at = xcalloc((size_t)(n ? n : 1), sizeof *at);
        for (int i = 0; i < n; i++)
            at[i] = -1;
        for (int k = 0; k < e->np; k++) {
            char **hit =
                bsearch(&e->pid[k], changed->v, (size_t)changed->n, sizeof *changed->v, cmp_str);
            if (hit)
                at[hit - changed->v] = k;
        }
        for (int i = 0; i < n; i++) {
            pid[i] = changed->v[i];
            if (at[i] >= 0) {
                blob[i] = base + e->off[at[i]];
                len[i] = e->len[at[i]];
            }
        }
        free(at);
    }
    int rc = full ? store_analytics_contrib_clear(s) : 0;
    if (rc == 0)
        rc = store_analytics_contrib_put(s, pid, blob, len, n);
    free(pid);
    free(blob);
    free(len);
    return rc;
}

/* The risk list's rows: every one made (full), or one per changed person
 * (its new row, or none: deleted); and the day they are for. */
static int store_risk(struct store *s, struct eng *e, const struct ids *changed, bool full,
                      const char *computed)
{
    if (e->risk_day < 0) /* not computed (other eFI code sets): the pages compute theirs */
        return store_analytics_risk_clear(s);
    int n = full ? e->nrisk : changed->n, rc = 0;
    struct store_analytics_risk *rows = xcalloc((size_t)(n ? n : 1), sizeof *rows);
    int *at = NULL;
    if (!full) {
        at = xcalloc((size_t)(n ? n : 1), sizeof *at);
        for (int i = 0; i < n; i++)
            at[i] = -1;
        for (int k = 0; k < e->nrisk; k++) {
            char **hit = bsearch(&e->risk[k].person_id, changed->v, (size_t)changed->n,
                                 sizeof *changed->v, cmp_str);
            if (hit)
                at[hit - changed->v] = k;
        }
    }
    for (int i = 0; i < n; i++) {
        int k = full ? i : at[i];
        rows[i].person_id = full ? e->risk[i].person_id : changed->v[i];
        if (k < 0)
            continue; /* practice NULL: no row now */
        const struct risk_row *r = &e->risk[k];
        rows[i] = (struct store_analytics_risk){.person_id = r->person_id,
                                                .practice = e->risk_practice[k],
                                                .name = r->name,
                                                .nhs = r->nhs,
                                                .deficits = r->deficits,
                                                .age = r->age,
                                                .efi_count = r->efi_count,
                                                .band = (int)r->band,
                                                .ae = r->ae,
                                                .admissions = r->admissions,
                                                .ambulance = r->ambulance,
                                                .assessed = r->assessed};
    }
    if (full)
        rc = store_analytics_risk_clear(s);
    if (rc == 0)
        rc = store_analytics_risk_put(s, rows, n);
    if (rc == 0)
        rc = store_analytics_risk_day_put(s, e->risk_day, computed);
    free(at);
    free(rows);
    return rc;
}

int incr_run(struct store *s, const struct secondary_options *o, int n, bool full, int64_t risk_day,
             struct secondary_table *out, struct incr_stats *stats, incr_store_fn store_fn,
             void *store_ctx, char *err, size_t errlen)
{
    err[0] = '\0';
    struct incr_stats st0;
    if (!stats)
        stats = &st0;
    memset(stats, 0, sizeof *stats);
    for (int i = 0; i < n; i++)
        memset(&out[i], 0, sizeof out[i]);
    if (n <= 0)
        return 0;
    struct eng e = {.n = n, .risk_day = risk_day};
    e.pr = xcalloc((size_t)n, sizeof *e.pr);
    bool needs_efi = false;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = secondary_prepare(&o[i], &e.pr[i], err, errlen);
        needs_efi |= rc == 0 && e.pr[i].def->needs_efi;
    }
    struct optout_gate gate;
    if (rc == 0)
        rc = optout_gate(s, o[0].today, &gate, err, errlen);
    struct efi_codes *efi = NULL;
    if (rc == 0 && (needs_efi || risk_day >= 0))
        rc = efi_codes_load(o[0].efi_codes, &efi, err, errlen);
    e.efi = efi;
    if (rc) {
        free(e.pr);
        efi_codes_free(efi);
        return rc;
    }
    e.scratch = xcalloc((size_t)n, sizeof *e.scratch);
    e.counted = xcalloc((size_t)n, sizeof *e.counted);
    e.adds = xcalloc((size_t)n, sizeof *e.adds);
    e.dels = xcalloc((size_t)n, sizeof *e.dels);
    for (int j = 0; j < n; j++)
        secondary_ctx_init(&e.scratch[j], &e.pr[j], efi);

    /* the marks first: whatever changes after them is read again next time */
    int64_t seq = 0, moved = 0, gen = 0, old_seq = 0, old_moved = 0;
    unsigned char *blob = NULL;
    size_t blen = 0;
    struct ids changed = {0};
    if ((rc = store_analytics_marks(s, &seq, &moved)) != 0) {
        snprintf(err, errlen, "reading the record's marks: %s", store_errmsg(s));
        goto out;
    }
    rc = store_analytics_state_get(s, &blob, &blen, &old_seq, &old_moved, &gen);
    if (rc && rc != WEFT_ENOTFOUND) {
        snprintf(err, errlen, "reading the analytics state: %s", store_errmsg(s));
        goto out;
    }
    bool incremental = false;
    if (full)
        snprintf(stats->why_full, sizeof stats->why_full, "asked for");
    else if (rc == WEFT_ENOTFOUND)
        snprintf(stats->why_full, sizeof stats->why_full, "no stored state");
    else
        incremental =
            state_decode(&e, blob, blen, o, gate.list_id, stats->why_full, sizeof stats->why_full);
    rc = 0;
    free(blob);
    blob = NULL;
    if (!incremental) { /* start again from nothing */
        dict_free(&e.d);
        for (int j = 0; j < n; j++)
            e.counted[j].n = 0;
    }
    e.x_id = dict_id(&e.d, "-1|X", -1, 'X');

    struct optout_set cleared;
    if ((rc = optout_set_load(s, gate.list_id, &cleared)) != 0) {
        snprintf(err, errlen, "reading the opt-out list: %s", store_errmsg(s));
        goto out;
    }
    e.cleared = &cleared;
    if (incremental) {
        rc = store_analytics_changed(s, old_seq, old_moved, collect_id, &changed);
        if (rc == 0 && changed.n > 1)
            qsort(changed.v, (size_t)changed.n, sizeof *changed.v, cmp_str);
        if (rc == 0)
            rc = store_analytics_contrib_get(s, (const char *const *)changed.v, changed.n, subtract,
                                             &e);
        if (rc == 0 && changed.n) {
            struct analytics_read sel = {(const char *const *)changed.v, changed.n};
            rc = analytics_read_persons(s, &sel, read_person, &e);
        }
    } else {
        rc = analytics_read_persons(s, NULL, read_person, &e);
    }
    optout_set_free(&cleared);
    if (rc) {
        snprintf(err, errlen, "%s: %s",
                 rc == WEFT_EPARSE ? "a stored contribution is unreadable" : "reading the record",
                 store_errmsg(s));
        goto out;
    }
    for (int j = 0; j < n; j++)
        u64v_apply(&e.counted[j], &e.adds[j], &e.dels[j]);
    stats->incremental = incremental;
    stats->persons = incremental ? changed.n : e.read;
    stats->contributed = e.np;

    /* everything stored in one transaction, if the state is still the one we read */
    struct store_txn tx;
    if ((rc = store_txn_begin(&tx, s)) != 0) {
        snprintf(err, errlen, "storing the figures: %s", store_errmsg(s));
        goto out;
    }
    int64_t s1, m1, gen_now = 0;
    int grc = store_analytics_state_get(s, NULL, NULL, &s1, &m1, &gen_now);
    if (grc && grc != WEFT_ENOTFOUND) {
        rc = grc;
        snprintf(err, errlen, "reading the analytics state: %s", store_errmsg(s));
    } else if (gen_now != gen) {
        rc = WEFT_EBUSY;
        snprintf(err, errlen,
                 "another analytics refresh stored its figures meanwhile; run it "
                 "again");
    }
    int64_t excluded = e.d.val[e.x_id];
    for (int j = 0; j < n && rc == 0; j++) {
        struct run_ctx c;
        build_output(&e, j, &c);
        rc = secondary_finish(s, &o[j], &e.pr[j], &c, excluded, &gate, &out[j], err, errlen);
        secondary_ctx_free(&c);
    }
    if (rc == 0 && store_fn)
        rc = store_fn(s, out, n, store_ctx, err, errlen);
    if (rc == 0 && (rc = store_contribs(s, &e, &changed, !incremental)) != 0)
        snprintf(err, errlen, "storing the contributions: %s", store_errmsg(s));
    if (rc == 0 && (rc = store_risk(s, &e, &changed, !incremental, n ? out[0].computed : "")) != 0)
        snprintf(err, errlen, "storing the risk list: %s", store_errmsg(s));
    if (rc == 0) {
        struct buf sb = BUF_INIT;
        state_encode(&e, o, gate.list_id, &sb);
        rc = store_analytics_state_put(s, (const unsigned char *)sb.data, sb.len, seq, moved,
                                       gen + 1);
        if (rc)
            snprintf(err, errlen, "storing the analytics state: %s", store_errmsg(s));
        buf_release(&sb);
    }
    rc = store_txn_check(&tx, rc);
    if (rc)
        store_txn_rollback(&tx);
    else if ((rc = store_txn_commit(&tx)) != 0)
        snprintf(err, errlen, "storing the figures: %s", store_errmsg(s));
out:
    for (int i = 0; i < changed.n; i++)
        free(changed.v[i]);
    free(changed.v);
    eng_free(&e);
    free(e.pr);
    efi_codes_free(efi);
    if (rc)
        for (int i = 0; i < n; i++)
            secondary_table_free(&out[i]);
    return rc;
}
