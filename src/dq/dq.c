/*
 * dq.c - the data-quality engine (dq.h).
 *
 * Workload: a region of 100,000 people is about a million current items,
 * read once in person order.  JSON is parsed only where a check needs what
 * the index columns do not hold (Patients, Observations); everything else is
 * judged from the columns.  A person's Patients, event dates and pending
 * failures are held until the scan moves to the next person, then judged
 * together (consistency across sources, events before birth or after death,
 * out-of-order arrival) and written out with the sending organisation's own
 * identifier of the person.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/systems.h"
#include "dq/check.h"
#include "dq/dq.h"
#include "fhir/jload.h"
#include "identity/nhs.h"
#include "store/access.h"
#include "store/dq.h"
#include "store/feeds.h"
#include "store/store.h"
#include "store/txn.h"

#define LAG_BUCKETS 40

/* First occurrence of n[0..nl) in h[0..hl), or NULL. */
static const char *mem_find(const char *h, size_t hl, const char *n, size_t nl)
{
    for (size_t i = 0; nl <= hl && i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
            return h + i;
    return NULL;
}

/* ---- small string -> index map (open addressing, grows) ------------------------- */
struct smap {
    char **keys;
    int *vals;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int smap_get(const struct smap *m, const char *k)
{
    if (!m->cap)
        return -1;
    for (size_t i = hash_str(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return -1;
        if (strcmp(m->keys[i], k) == 0)
            return m->vals[i];
    }
}

static void smap_put(struct smap *m, const char *k, int v)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct smap g = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof(char *)),
                         xcalloc(m->cap ? m->cap * 2 : 64, sizeof(int)), m->cap ? m->cap * 2 : 64,
                         0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                smap_put(&g, m->keys[i], m->vals[i]);
                free(m->keys[i]);
            }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = hash_str(k) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = xstrdup(k);
    m->vals[i] = v;
    m->n++;
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* ---- accumulators ------------------------------------------------------------------ */
struct org_acc {
    char *ods, *type;
    int64_t tested[DQ_NCHECKS], failed[DQ_NCHECKS];
};

struct feed_acc {
    char *name, *org, *kind;
    int64_t hist[LAG_BUCKETS]; /* bucket b: lag in [2^b - 1, 2^(b+1) - 1) minutes */
    int64_t n, over;
};

/* One source's Patient within the current person. */
struct pat {
    int64_t seq;
    char *org, *sid, *local, *family, *given, *dob, *sex;
    bool judged; /* its organisation is being checked */
};

/* One dated event of the current person. */
struct ev {
    int64_t seq, day;
    char *org, *type, *sid, *feed, *lu, *date;
};

/* A failure waiting for the person's local id. */
struct pend {
    enum dq_check c;
    char *org, *type, *sid, *detail;
};

struct engine {
    const struct dq_options *o;
    const struct dq_rules *r;
    struct store *wr;
    int64_t run_id, asof_day;
    char asof[11];
    struct smap org_idx, feed_idx;
    struct org_acc *orgs;
    int norgs;
    struct feed_acc *feeds;
    int nfeeds;
    /* current person */
    char *person;
    struct pat *pats;
    int npats, cpats;
    struct ev *evs;
    int nevs, cevs;
    struct pend *pends;
    int npends, cpends;
    char *death; /* earliest deceasedDateTime among the person's Patients */
    /* writing */
    struct store_txn txn; /* the writer's, open while pending_writes > 0 */
    int64_t pending_writes, failures;
    struct dq_summary *sum;
    int rc;
    char *err;
    size_t errlen;
};

static struct org_acc *org_of(struct engine *e, const char *ods)
{
    int i = smap_get(&e->org_idx, ods);
    if (i >= 0)
        return &e->orgs[i];
    e->orgs = xrealloc(e->orgs, (size_t)(e->norgs + 1) * sizeof *e->orgs);
    struct org_acc *a = &e->orgs[e->norgs];
    memset(a, 0, sizeof *a);
    a->ods = xstrdup(ods);
    smap_put(&e->org_idx, ods, e->norgs++);
    return a;
}

static bool judged(const struct engine *e, const char *org)
{
    return !e->o->org || (org && strcmp(e->o->org, org) == 0);
}

static int write_failure(struct engine *e, enum dq_check c, const char *org, const char *type,
                         const char *sid, const char *local, const char *mcid, const char *detail)
{
    if (e->rc)
        return e->rc;
    if (e->pending_writes == 0 && store_txn_begin(&e->txn, e->wr) != 0) {
        snprintf(e->err, e->errlen, "writing failures: %s", store_errmsg(e->wr));
        return e->rc = WEFT_EDB;
    }
    struct store_dq_failure f = {
        e->run_id,           org ? org : "", dq_check_name(c),   dq_check_dimension(c),
        type ? type : "",    sid ? sid : "", local ? local : "", mcid ? mcid : "",
        detail ? detail : ""};
    if (store_dq_failure_add(e->wr, &f) != 0) {
        snprintf(e->err, e->errlen, "writing failures: %s", store_errmsg(e->wr));
        store_txn_rollback(&e->txn);
        e->pending_writes = 0;
        return e->rc = WEFT_EDB;
    }
    e->failures++;
    if (++e->pending_writes >= DQ_COMMIT_EVERY) {
        e->pending_writes = 0;
        if (store_txn_commit(&e->txn) != 0) {
            snprintf(e->err, e->errlen, "writing failures: %s", store_errmsg(e->wr));
            return e->rc = WEFT_EDB;
        }
    }
    return 0;
}

/* Count one test of c for org; on failure remember it for the person flush
 * (type/sid/detail copied). */
static void tally(struct engine *e, enum dq_check c, const char *org, bool ok, const char *type,
                  const char *sid, const char *detail)
{
    if (!e->r->on[c] || !org)
        return;
    struct org_acc *a = org_of(e, org);
    a->tested[c]++;
    if (ok)
        return;
    a->failed[c]++;
    if (e->npends == e->cpends) {
        e->cpends = e->cpends ? e->cpends * 2 : 16;
        e->pends = xrealloc(e->pends, (size_t)e->cpends * sizeof *e->pends);
    }
    e->pends[e->npends++] = (struct pend){c, xstrdup(org), xstrdup(type ? type : ""),
                                          xstrdup(sid ? sid : ""), xstrdup(detail ? detail : "")};
}

/* ---- Patients ---------------------------------------------------------------------- */
static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* An identifier that is an NHS number: the NHS number system, or an
 * identifier typed NH (v2-0203) that the HL7 mapping kept aside because it
 * failed validation. */
static bool is_nhs_ident(const json_t *id)
{
    const char *sys = jstr(id, "system");
    if (sys && strcmp(sys, NHS_NUMBER_SYSTEM) == 0)
        return true;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(id, "type"), "coding"), i, c)
    {
        const char *code = jstr(c, "code");
        if (code && strcmp(code, "NH") == 0)
            return true;
    }
    return false;
}

static const char *nhs_of(const json_t *pt, const json_t **ident)
{
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(pt, "identifier"), i, id)
    {
        if (is_nhs_ident(id)) {
            *ident = id;
            return jstr(id, "value");
        }
    }
    return NULL;
}

static const char *local_of(const json_t *pt, const char *fallback)
{
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(pt, "identifier"), i, id)
    {
        const char *v = jstr(id, "value");
        if (v && !is_nhs_ident(id))
            return v;
    }
    return fallback;
}

static bool verified(const json_t *ident)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(ident, "extension"), i, x)
    {
        const char *url = jstr(x, "url");
        if (!url || strcmp(url, NHS_NUMBER_VERIFICATION_EXTENSION) != 0)
            continue;
        json_t *cc = json_object_get(x, "valueCodeableConcept"), *c;
        size_t j;
        json_array_foreach(json_object_get(cc, "coding"), j, c)
        {
            const char *code = jstr(c, "code");
            if (code && strcmp(code, "01") == 0)
                return true;
        }
    }
    return false;
}

static bool has_ethnicity(const json_t *pt)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(pt, "extension"), i, x)
    {
        const char *url = jstr(x, "url");
        if (url && (strstr(url, "EthnicCategory") || strstr(url, "ethnic")))
            return true;
    }
    return false;
}

static void patient(struct engine *e, const struct store_dq_item *it)
{
    json_t *pt = jload_parse(it->json, it->json_len);
    if (!pt)
        return;
    e->sum->patients++;
    const char *org = it->source_org, *sid = it->source_id;
    bool j = judged(e, org);
    char d[160];
    const json_t *ident = NULL;
    const char *nhs = nhs_of(pt, &ident);
    const char *dob = jstr(pt, "birthDate");
    const char *sex = jstr(pt, "gender");
    const char *pc = NULL;
    json_t *addr = json_array_get(json_object_get(pt, "address"), 0);
    if (addr)
        pc = jstr(addr, "postalCode");
    json_t *name = json_array_get(json_object_get(pt, "name"), 0);
    const char *family = jstr(name, "family");
    const char *given = json_string_value(json_array_get(json_object_get(name, "given"), 0));
    const char *dec = jstr(pt, "deceasedDateTime");
    if (dec && (!e->death || strcmp(dec, e->death) < 0)) {
        free(e->death);
        e->death = xstrndup(dec, 10);
    }
    if (j) {
        tally(e, DQ_NHS_PRESENT, org, nhs && *nhs, "Patient", sid, "no NHS number");
        if (nhs && *nhs) {
            bool valid = nhs_number_valid(nhs, NULL);
            snprintf(d, sizeof d, "NHS number %s fails the modulus 11 check", nhs);
            tally(e, DQ_NHS_VALID, org, valid, "Patient", sid, d);
            if (valid)
                tally(e, DQ_NHS_VERIFIED, org, verified(ident), "Patient", sid,
                      "NHS number verification status absent or not 01 (verified)");
        }
        tally(e, DQ_DOB_PRESENT, org, dob && *dob, "Patient", sid, "no date of birth");
        if (dob && *dob) {
            int64_t day = 0;
            bool ok = dq_day_number(dob, &day) && day <= e->asof_day &&
                      day >= e->asof_day - 125 * 36525 / 100 && strncmp(dob, "1900-01-01", 10) != 0;
            snprintf(d, sizeof d,
                     "date of birth %.20s is in the future, over 125 years ago, a "
                     "default value or not a date",
                     dob);
            tally(e, DQ_DOB_PLAUSIBLE, org, ok, "Patient", sid, d);
        }
        tally(e, DQ_SEX_PRESENT, org, sex && *sex && strcmp(sex, "unknown") != 0, "Patient", sid,
              "sex absent or unknown");
        tally(e, DQ_POSTCODE_PRESENT, org, pc && *pc, "Patient", sid, "no postcode");
        if (pc && *pc) {
            snprintf(d, sizeof d, "postcode '%.20s' is not a valid UK postcode", pc);
            tally(e, DQ_POSTCODE_VALID, org, dq_postcode_valid(pc), "Patient", sid, d);
        }
        tally(e, DQ_GP_PRESENT, org,
              json_array_size(json_object_get(pt, "generalPractitioner")) > 0, "Patient", sid,
              "no registered GP");
        const char *otype = org_of(e, org)->type;
        if (otype && dq_rules_ethnicity_expected(e->r, otype))
            tally(e, DQ_ETHNICITY_PRESENT, org, has_ethnicity(pt), "Patient", sid,
                  "no ethnic category");
    }
    if (e->npats == e->cpats) {
        e->cpats = e->cpats ? e->cpats * 2 : 8;
        e->pats = xrealloc(e->pats, (size_t)e->cpats * sizeof *e->pats);
    }
    e->pats[e->npats++] = (struct pat){
        .seq = it->seq,
        .org = xstrdup(org),
        .sid = xstrdup(sid),
        .local = xstrdup(local_of(pt, sid)),
        .family = family ? xstrdup(family) : NULL,
        .given = given ? xstrdup(given) : NULL,
        .dob = dob ? xstrndup(dob, 10) : NULL,
        .sex = sex ? xstrdup(sex) : NULL,
        .judged = j,
    };
    json_decref(pt);
}

/* ---- Observations ------------------------------------------------------------------- */
static void quantity(struct engine *e, const struct store_dq_item *it, const json_t *code,
                     const json_t *q)
{
    if (!q)
        return;
    const char *sys = jstr(q, "system"), *ucode = jstr(q, "code"), *unit = jstr(q, "unit");
    const char *u = ucode ? ucode : unit;
    char d[200];
    if (u && (!sys || strcmp(sys, UCUM_SYSTEM) == 0)) {
        snprintf(d, sizeof d, "unit '%.40s' is not valid UCUM", u);
        tally(e, DQ_UNIT_UCUM, it->source_org, dq_ucum_valid(u), it->type, it->source_id, d);
    }
    json_t *v = json_object_get(q, "value");
    if (!u || !json_is_number(v))
        return;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(code, "coding"), i, c)
    {
        const char *cs = jstr(c, "system"), *cc = jstr(c, "code");
        if (!cs || !cc || strcmp(cs, LOINC_SYSTEM) != 0)
            continue;
        const struct dq_plausible *p = dq_rules_plausible(e->r, cc, u);
        if (!p)
            continue;
        double x = json_number_value(v);
        snprintf(d, sizeof d, "%s %g %.20s outside the plausible %g-%g", p->label, x, u, p->low,
                 p->high);
        tally(e, DQ_VALUE_PLAUSIBLE, it->source_org, x >= p->low && x <= p->high, it->type,
              it->source_id, d);
        break;
    }
}

static void observation(struct engine *e, const struct store_dq_item *it)
{
    /* Only an Observation with a quantity needs parsing. */
    if (!mem_find(it->json, it->json_len, "valueQuantity", 13))
        return;
    json_t *ob = jload_parse(it->json, it->json_len);
    if (!ob)
        return;
    quantity(e, it, json_object_get(ob, "code"), json_object_get(ob, "valueQuantity"));
    size_t i;
    json_t *comp;
    json_array_foreach(json_object_get(ob, "component"), i, comp)
        quantity(e, it, json_object_get(comp, "code"), json_object_get(comp, "valueQuantity"));
    json_decref(ob);
}

/* ---- per-person judgement ------------------------------------------------------------ */

/* The value more of the person's records hold (compared case-insensitively)
 * than any other value, or NULL (two sources that disagree: which is wrong
 * cannot be told, so both are reported; no source, not even the GP
 * practice, is taken as the reference - typing errors happen there too). */
static const char *majority(struct engine *e, size_t off)
{
    const char *best = NULL;
    int bestn = 0, second = 0;
    for (int i = 0; i < e->npats; i++) {
        const char *v = *(char **)((char *)&e->pats[i] + off);
        if (!v)
            continue;
        int n = 0;
        for (int k = 0; k < e->npats; k++) {
            const char *w = *(char **)((char *)&e->pats[k] + off);
            n += w && strcasecmp(v, w) == 0;
        }
        if (best && strcasecmp(best, v) == 0)
            continue;
        if (n > bestn) {
            second = bestn;
            bestn = n;
            best = v;
        } else if (n > second) {
            second = n;
        }
    }
    return bestn > second ? best : NULL;
}

static int nvalues(struct engine *e, size_t off)
{
    int n = 0;
    for (int i = 0; i < e->npats; i++)
        n += *(char **)((char *)&e->pats[i] + off) != NULL;
    return n;
}

/* A name value v that differs from the majority (or, with none, from some
 * other record): is the nearest other value within two edits? */
static int nearest(struct engine *e, size_t off, const char *v, const char *maj, const char **other)
{
    if (maj) {
        *other = maj;
        return dq_edit_distance(v, maj, 2);
    }
    int best = 3;
    for (int i = 0; i < e->npats; i++) {
        const char *w = *(char **)((char *)&e->pats[i] + off);
        if (!w || strcasecmp(w, v) == 0)
            continue;
        int dd = dq_edit_distance(v, w, 2);
        if (dd < best) {
            best = dd;
            *other = w;
        }
    }
    return best;
}

static void judge_consistency(struct engine *e)
{
    char d[240];
    size_t o_dob = offsetof(struct pat, dob), o_fam = offsetof(struct pat, family),
           o_giv = offsetof(struct pat, given), o_sex = offsetof(struct pat, sex);
    const char *mdob = majority(e, o_dob), *mfam = majority(e, o_fam), *mgiv = majority(e, o_giv),
               *msex = majority(e, o_sex);
    int ndob = nvalues(e, o_dob), nname = nvalues(e, o_fam), nsex = nvalues(e, o_sex);
    for (int i = 0; i < e->npats; i++) {
        struct pat *p = &e->pats[i];
        if (!p->judged)
            continue;
        /* date of birth */
        if (p->dob && ndob >= 2) {
            bool ok = mdob && strcmp(p->dob, mdob) == 0;
            char sw[11];
            bool swapped = false;
            if (!ok)
                for (int k = 0; k < e->npats && !swapped; k++)
                    swapped = k != i && e->pats[k].dob && dq_date_swap_day_month(p->dob, sw) &&
                              strcmp(sw, e->pats[k].dob) == 0 &&
                              (!mdob || strcmp(e->pats[k].dob, mdob) == 0);
            snprintf(d, sizeof d, "date of birth %s; other sources: %s%s", p->dob,
                     mdob ? mdob : "disagree among themselves",
                     swapped ? " (day and month swapped)" : "");
            tally(e, DQ_DOB_CONSISTENT, p->org, ok || swapped, "Patient", p->sid, d);
            tally(e, DQ_DOB_DAY_MONTH_SWAPPED, p->org, !swapped, "Patient", p->sid, d);
        }
        /* name: family and first given name */
        if (nname >= 2 && (p->family || p->given)) {
            bool famok = !p->family || (mfam && strcasecmp(p->family, mfam) == 0);
            bool givok = !p->given || (mgiv && strcasecmp(p->given, mgiv) == 0);
            bool typo = false;
            const char *other = NULL;
            if (!famok && nearest(e, o_fam, p->family, mfam, &other) <= 2)
                typo = true;
            else if (!givok && famok && nearest(e, o_giv, p->given, mgiv, &other) <= 2)
                typo = true;
            snprintf(d, sizeof d, "name %s %s; other sources: %s %s", p->given ? p->given : "",
                     p->family ? p->family : "", mgiv ? mgiv : "?", mfam ? mfam : "?");
            tally(e, DQ_NAME_CONSISTENT, p->org, (famok && givok) || typo, "Patient", p->sid, d);
            tally(e, DQ_NAME_TYPO, p->org, !typo, "Patient", p->sid, d);
        }
        if (p->sex && nsex >= 2) {
            snprintf(d, sizeof d, "sex %s; other sources: %s", p->sex,
                     msex ? msex : "disagree among themselves");
            tally(e, DQ_SEX_CONSISTENT, p->org, msex && strcmp(p->sex, msex) == 0, "Patient",
                  p->sid, d);
        }
        /* a second record of this person at the same source */
        const struct pat *first = NULL;
        for (int k = 0; k < e->npats && !first; k++)
            if (e->pats[k].seq < p->seq && strcmp(e->pats[k].org, p->org) == 0 &&
                strcmp(e->pats[k].local, p->local) != 0)
                first = &e->pats[k];
        snprintf(d, sizeof d, "the same person as local id %s at this source",
                 first ? first->local : "");
        tally(e, DQ_DUPLICATE_RECORD, p->org, !first, "Patient", p->sid, d);
    }
}

static int ev_by_seq(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    int c = strcmp(x->feed ? x->feed : "", y->feed ? y->feed : "");
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void judge_events(struct engine *e)
{
    char d[240];
    const char *dob = majority(e, offsetof(struct pat, dob));
    int64_t born = 0, died = 0;
    bool has_born = dob && dq_day_number(dob, &born);
    bool has_died = e->death && dq_day_number(e->death, &died);
    for (int i = 0; i < e->nevs; i++) {
        struct ev *v = &e->evs[i];
        if (!judged(e, v->org))
            continue;
        if (has_born) {
            snprintf(d, sizeof d, "%s dated %s, before the date of birth %s", v->type, v->date,
                     dob);
            tally(e, DQ_EVENT_AFTER_BIRTH, v->org, v->day >= born, v->type, v->sid, d);
        }
        if (has_died) {
            snprintf(d, sizeof d, "%s dated %s, after the date of death %s", v->type, v->date,
                     e->death);
            tally(e, DQ_EVENT_BEFORE_DEATH, v->org, v->day <= died + 1, v->type, v->sid, d);
        }
    }
    /* Out of order: per feed, in arrival order, the items written together
     * (same lastUpdated: one message or bundle) against the latest event
     * date of everything that arrived before them. */
    qsort(e->evs, (size_t)e->nevs, sizeof *e->evs, ev_by_seq);
    for (int i = 0; i < e->nevs;) {
        int j = i;
        while (j < e->nevs && strcmp(e->evs[j].feed ? e->evs[j].feed : "",
                                     e->evs[i].feed ? e->evs[i].feed : "") == 0)
            j++;
        int64_t prevmax = INT64_MIN;
        const char *prevdate = NULL;
        for (int g = i; g < j;) {
            int h = g;
            int mini = g;
            int64_t gmax = INT64_MIN;
            const char *gmaxdate = NULL;
            while (h < j && strcmp(e->evs[h].lu, e->evs[g].lu) == 0) {
                if (e->evs[h].day < e->evs[mini].day)
                    mini = h;
                if (e->evs[h].day <= e->asof_day && e->evs[h].day > gmax) {
                    gmax = e->evs[h].day;
                    gmaxdate = e->evs[h].date;
                }
                h++;
            }
            struct ev *m = &e->evs[mini];
            if (g > i && judged(e, m->org)) {
                bool late = prevmax != INT64_MIN && m->day < prevmax - 1;
                snprintf(d, sizeof d, "%s dated %s arrived after an event of %s from the same feed",
                         m->type, m->date, prevdate ? prevdate : "");
                tally(e, DQ_OUT_OF_ORDER, m->org, !late, m->type, m->sid, d);
            }
            if (gmax > prevmax) {
                prevmax = gmax;
                prevdate = gmaxdate;
            }
            g = h;
        }
        i = j;
    }
}

static void person_flush(struct engine *e)
{
    if (e->npats)
        judge_consistency(e);
    if (e->nevs)
        judge_events(e);
    for (int i = 0; i < e->npends; i++) {
        struct pend *p = &e->pends[i];
        const char *local = "";
        for (int k = 0; k < e->npats; k++)
            if (strcmp(e->pats[k].org, p->org) == 0) {
                local = e->pats[k].local;
                if (strcmp(p->type, "Patient") != 0 || strcmp(e->pats[k].sid, p->sid) == 0)
                    break;
            }
        write_failure(e, p->c, p->org, p->type, p->sid, local, "", p->detail);
        free(p->org);
        free(p->type);
        free(p->sid);
        free(p->detail);
    }
    e->npends = 0;
    for (int i = 0; i < e->npats; i++) {
        struct pat *p = &e->pats[i];
        free(p->org);
        free(p->sid);
        free(p->local);
        free(p->family);
        free(p->given);
        free(p->dob);
        free(p->sex);
    }
    e->npats = 0;
    for (int i = 0; i < e->nevs; i++) {
        struct ev *v = &e->evs[i];
        free(v->org);
        free(v->type);
        free(v->sid);
        free(v->feed);
        free(v->lu);
        free(v->date);
    }
    e->nevs = 0;
    free(e->death);
    e->death = NULL;
    free(e->person);
    e->person = NULL;
}

/* ---- feed lag ------------------------------------------------------------------------ */
static struct feed_acc *feed_of(struct engine *e, const char *name, const char *org)
{
    int i = smap_get(&e->feed_idx, name);
    if (i >= 0)
        return &e->feeds[i];
    e->feeds = xrealloc(e->feeds, (size_t)(e->nfeeds + 1) * sizeof *e->feeds);
    struct feed_acc *f = &e->feeds[e->nfeeds];
    memset(f, 0, sizeof *f);
    f->name = xstrdup(name);
    f->org = xstrdup(org);
    smap_put(&e->feed_idx, name, e->nfeeds++);
    return f;
}

static bool epoch_ms(const char *iso, int64_t *ms)
{
    int64_t day;
    if (!dq_day_number(iso, &day))
        return false;
    int hh = 0, mm = 0, ss = 0;
    if (strlen(iso) >= 19 && iso[10] == 'T')
        sscanf(iso + 11, "%2d:%2d:%2d", &hh, &mm, &ss);
    *ms = ((day * 24 + hh) * 60 + mm) * 60000LL + ss * 1000LL;
    return true;
}

static void lag_sample(struct engine *e, const struct store_dq_item *it, int64_t day)
{
    if (!it->feed || !it->last_updated || day < e->asof_day - e->r->lag_window_days)
        return;
    int64_t ev, arr;
    if (!epoch_ms(it->effective, &ev) || !epoch_ms(it->last_updated, &arr) || ev > arr)
        return;
    struct feed_acc *f = feed_of(e, it->feed, it->source_org);
    double minutes = (double)(arr - ev) / 60000.0;
    int b = (int)floor(log2(minutes + 1));
    if (b >= LAG_BUCKETS)
        b = LAG_BUCKETS - 1;
    f->hist[b]++;
    f->n++;
    double th = dq_rules_lag_hours(e->r, f->kind);
    if (th > 0 && minutes > th * 60)
        f->over++;
}

/* ---- the scan ------------------------------------------------------------------------ */
static int on_item(const struct store_dq_item *it, void *ctx)
{
    struct engine *e = ctx;
    if (e->rc)
        return e->rc;
    e->sum->items++;
    if (!e->person || !it->person_id || strcmp(e->person, it->person_id) != 0) {
        person_flush(e);
        if (e->rc)
            return e->rc;
        e->person = it->person_id ? xstrdup(it->person_id) : NULL;
    }
    if (strcmp(it->type, "Patient") == 0) {
        patient(e, it);
        return 0;
    }
    bool j = judged(e, it->source_org);
    if (j && it->code) {
        const char *bar = strchr(it->code, '|');
        size_t sl = bar ? (size_t)(bar - it->code) : 0;
        char d[200];
        snprintf(d, sizeof d, "code %s from a code system the region does not know", it->code);
        tally(e, DQ_CODE_SYSTEM_KNOWN, it->source_org,
              sl && dq_rules_code_system_known(e->r, it->code, sl), it->type, it->source_id, d);
    }
    int64_t day;
    if (it->effective && dq_day_number(it->effective, &day)) {
        if (j && !dq_rules_future_ok(e->r, it->type)) {
            char d[120];
            snprintf(d, sizeof d, "%s dated %.10s, after %s", it->type, it->effective, e->asof);
            tally(e, DQ_DATE_NOT_FUTURE, it->source_org, day <= e->asof_day, it->type,
                  it->source_id, d);
        }
        if (!dq_rules_future_ok(e->r, it->type) && !dq_rules_state_type(e->r, it->type)) {
            if (j)
                lag_sample(e, it, day);
            if (it->person_id) {
                if (e->nevs == e->cevs) {
                    e->cevs = e->cevs ? e->cevs * 2 : 32;
                    e->evs = xrealloc(e->evs, (size_t)e->cevs * sizeof *e->evs);
                }
                e->evs[e->nevs++] = (struct ev){it->seq,
                                                day,
                                                xstrdup(it->source_org),
                                                xstrdup(it->type),
                                                xstrdup(it->source_id),
                                                it->feed ? xstrdup(it->feed) : NULL,
                                                xstrdup(it->last_updated ? it->last_updated : ""),
                                                xstrndup(it->effective, 10)};
            }
        }
    }
    if (j && strcmp(it->type, "Observation") == 0)
        observation(e, it);
    return 0;
}

/* The sender's identifier of the person in a message that was refused
 * (best effort: the message may be broken anywhere). */
static void body_local_id(const struct store_dq_inbox *m, char *out, size_t cap)
{
    out[0] = 0;
    if (!m->body || !m->kind)
        return;
    const char *b = m->body, *end = m->body + m->body_len;
    if (strcmp(m->kind, "hl7v2") == 0) {
        const char *p = mem_find(b, m->body_len, "PID|", 4);
        if (!p)
            return;
        /* PID-3: after three bars */
        int bars = 0;
        while (p < end && bars < 3)
            bars += *p++ == '|';
        const char *f3 = p;
        while (p < end && *p != '|' && *p != '\r' && *p != '\n')
            p++;
        /* repetitions: the first whose type (component 5) is not NH */
        for (const char *r = f3; r < p;) {
            const char *re = r;
            while (re < p && *re != '~')
                re++;
            const char *c1 = r, *c1e = r;
            while (c1e < re && *c1e != '^')
                c1e++;
            const char *t = c1e;
            int carets = 0;
            while (t < re && carets < 4)
                carets += *t++ == '^';
            bool nh = carets == 4 && re - t >= 2 && t[0] == 'N' && t[1] == 'H';
            if (!nh && c1e > c1) {
                snprintf(out, cap, "%.*s", (int)(c1e - c1), c1);
                return;
            }
            r = re + 1;
        }
    } else if (strcmp(m->kind, "fhir") == 0) {
        const char *p = mem_find(b, m->body_len, "\"resourceType\":\"Patient\"", 24);
        if (!p)
            return;
        const char *q =
            mem_find(p, (size_t)(end - p) < 400 ? (size_t)(end - p) : 400, "\"id\":\"", 6);
        if (!q)
            return;
        q += 6;
        const char *qe = q;
        while (qe < end && *qe != '"' && qe - q < 64)
            qe++;
        if (qe < end && *qe == '"')
            snprintf(out, cap, "%.*s", (int)(qe - q), q);
    }
}

static int on_inbox(const struct store_dq_inbox *m, void *ctx)
{
    struct engine *e = ctx;
    if (e->rc)
        return e->rc;
    const char *org = m->org ? m->org : "?";
    if (!judged(e, org) || !e->r->on[DQ_MESSAGE_REJECTED])
        return 0;
    if (m->outcome && (strcmp(m->outcome, "duplicate") == 0 || strcmp(m->outcome, "pending") == 0))
        return 0;
    e->sum->messages++;
    struct org_acc *a = org_of(e, org);
    a->tested[DQ_MESSAGE_REJECTED]++;
    bool bad =
        m->outcome && (strcmp(m->outcome, "rejected") == 0 || strcmp(m->outcome, "partial") == 0);
    if (!bad)
        return 0;
    a->failed[DQ_MESSAGE_REJECTED]++;
    char local[80], type[64], d[400];
    body_local_id(m, local, sizeof local);
    bool hl7 = m->kind && strcmp(m->kind, "hl7v2") == 0;
    snprintf(type, sizeof type, "%s",
             hl7                                      ? "HL7v2 message"
             : m->kind && strcmp(m->kind, "csv") == 0 ? "CSV file"
                                                      : "Bundle");
    snprintf(d, sizeof d, "%s %s (inbox %lld): %s", m->outcome, m->msg_type ? m->msg_type : "",
             (long long)m->id, m->error ? m->error : "");
    return write_failure(e, DQ_MESSAGE_REJECTED, org, type, m->control_id ? m->control_id : "",
                         local, hl7 && m->control_id ? m->control_id : "", d);
}

/* ---- results ------------------------------------------------------------------------- */
static int write_results(struct engine *e)
{
    for (int i = 0; i < e->norgs; i++) {
        struct org_acc *a = &e->orgs[i];
        if (!judged(e, a->ods))
            continue;
        for (int c = 0; c < DQ_NCHECKS; c++) {
            if (!e->r->on[c] || c == DQ_FEED_LAG)
                continue;
            struct store_dq_result r = {
                e->run_id,    a->ods,       dq_check_name(c),   dq_check_dimension(c),
                a->tested[c], a->failed[c], e->r->threshold[c], NULL};
            if (store_dq_result_add(e->wr, &r) != 0)
                return WEFT_EDB;
        }
    }
    if (!e->r->on[DQ_FEED_LAG])
        return 0;
    for (int i = 0; i < e->nfeeds; i++) {
        struct feed_acc *f = &e->feeds[i];
        double pct[3] = {0.5, 0.9, 0.99}, val[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            int64_t want = (int64_t)ceil(pct[k] * (double)f->n), acc = 0;
            for (int b = 0; b < LAG_BUCKETS; b++) {
                acc += f->hist[b];
                if (acc >= want && want > 0) {
                    val[k] = (pow(2, b + 1) - 1) / 60.0; /* bucket's upper bound, hours */
                    break;
                }
            }
        }
        struct buf x = BUF_INIT;
        buf_adds(&x, "{\"feed\":\"");
        buf_add_json_str(&x, f->name, strlen(f->name));
        buf_addf(&x,
                 "\",\"kind\":\"%s\",\"events\":%lld,\"p50_hours\":%.2f,\"p90_hours\":%.2f,"
                 "\"p99_hours\":%.2f,\"threshold_hours\":%g,\"window_days\":%d}",
                 f->kind ? f->kind : "", (long long)f->n, val[0], val[1], val[2],
                 dq_rules_lag_hours(e->r, f->kind), e->r->lag_window_days);
        struct store_dq_result r = {
            e->run_id, f->org,  dq_check_name(DQ_FEED_LAG),   dq_check_dimension(DQ_FEED_LAG),
            f->n,      f->over, e->r->threshold[DQ_FEED_LAG], x.data};
        int rc = store_dq_result_add(e->wr, &r);
        buf_release(&x);
        if (rc != 0)
            return WEFT_EDB;
    }
    return 0;
}

static void now_iso(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + 19, 13, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

int dq_run(struct store *rd, struct store *wr, const struct dq_options *o, struct dq_summary *out,
           char *err, size_t errlen)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(out, 0, sizeof *out);
    err[0] = 0;
    struct engine e = {.o = o, .r = o->rules, .wr = wr, .sum = out, .err = err, .errlen = errlen};
    char started[32];
    now_iso(started);
    if (o->as_of)
        snprintf(e.asof, sizeof e.asof, "%.10s", o->as_of);
    else
        memcpy(e.asof, started, 10), e.asof[10] = 0;
    if (!dq_day_number(e.asof, &e.asof_day)) {
        snprintf(err, errlen, "as-of day '%s' is not a date (YYYY-MM-DD)", o->as_of);
        return WEFT_EINVAL;
    }
    /* organisation types (ethnicity) and feed kinds (lag thresholds) */
    struct store_org *ol = NULL;
    int no = 0;
    if (store_org_list(rd, &ol, &no) == 0) {
        for (int i = 0; i < no; i++) {
            struct org_acc *a = org_of(&e, ol[i].ods);
            a->type = xstrdup(ol[i].type ? ol[i].type : "");
            store_org_clear(&ol[i]);
        }
        free(ol);
    }
    struct store_feed *fl = NULL;
    int nf = 0;
    if (store_feed_list(rd, &fl, &nf) == 0) {
        for (int i = 0; i < nf; i++) {
            struct feed_acc *f = feed_of(&e, fl[i].name, fl[i].org);
            f->kind = xstrdup(fl[i].kind ? fl[i].kind : "");
            store_feed_clear(&fl[i]);
        }
        free(fl);
    }
    struct store_dq_run run = {.started = started,
                               .org = (char *)o->org,
                               .as_of = e.asof,
                               .rules_sha256 = (char *)o->rules->sha256,
                               .status = "running"};
    int rc = store_dq_run_add(wr, &run, &e.run_id);
    if (rc != 0) {
        snprintf(err, errlen, "recording the run: %s", store_errmsg(wr));
        goto out;
    }
    out->run_id = e.run_id;
    rc = store_dq_scan(rd, on_item, &e);
    if (rc == 0 && !e.rc) {
        person_flush(&e);
        rc = e.rc;
    }
    if (rc == 0 && !e.rc)
        rc = store_dq_inbox_scan(rd, on_inbox, &e);
    if (rc == 0)
        rc = e.rc;
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "reading the store: %s", store_errmsg(rd));
    if (rc == 0) {
        if (e.pending_writes == 0 && store_txn_begin(&e.txn, wr) != 0) {
            rc = WEFT_EDB;
        } else {
            e.pending_writes = 1;
            rc = write_results(&e);
            char fin[32];
            now_iso(fin);
            if (rc == 0)
                rc = store_dq_run_finish(wr, e.run_id, fin, "ok");
            if (rc == 0)
                rc = store_txn_commit(&e.txn);
            else
                store_txn_rollback(&e.txn);
            e.pending_writes = 0;
        }
        if (rc != 0)
            snprintf(err, errlen, "writing results: %s", store_errmsg(wr));
    } else {
        if (e.pending_writes)
            store_txn_commit(&e.txn);
        e.pending_writes = 0;
        char fin[32];
        now_iso(fin);
        store_dq_run_finish(wr, e.run_id, fin, "failed");
    }
out:
    person_flush(&e);
    out->failures = e.failures;
    for (int i = 0; i < e.norgs; i++) {
        bool any = false;
        for (int c = 0; c < DQ_NCHECKS; c++)
            any |= e.orgs[i].tested[c] > 0;
        out->orgs += any;
        free(e.orgs[i].ods);
        free(e.orgs[i].type);
    }
    free(e.orgs);
    for (int i = 0; i < e.nfeeds; i++) {
        free(e.feeds[i].name);
        free(e.feeds[i].org);
        free(e.feeds[i].kind);
    }
    free(e.feeds);
    free(e.pats);
    free(e.evs);
    free(e.pends);
    smap_free(&e.org_idx);
    smap_free(&e.feed_idx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
