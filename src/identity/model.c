/*
 * model.c - Fellegi-Sunter weights, EM estimation, term frequencies and the
 * model's JSON form (see model.h).
 *
 * EM works on the distinct comparison vectors with their counts rather than
 * on every pair: candidate pairs number in the millions at a million
 * records, distinct vectors in the thousands.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "identity/model.h"

static const double def_m[CF_N][COMPARE_MAXLEVELS] = {
    [CF_GIVEN] = {0.88, 0.07, 0.03, 0.02},  [CF_FAMILY] = {0.9, 0.05, 0.03, 0.02},
    [CF_DOB] = {0.95, 0.01, 0.03, 0.01},    [CF_SEX] = {0.98, 0.02},
    [CF_POSTCODE] = {0.8, 0.05, 0.05, 0.1}, [CF_ADDR] = {0.75, 0.1, 0.15},
    [CF_CITY] = {0.85, 0.1, 0.05},          [CF_PHONE] = {0.8, 0.2},
    [CF_EMAIL] = {0.8, 0.1, 0.1},
};
static const double def_u[CF_N][COMPARE_MAXLEVELS] = {
    [CF_GIVEN] = {0.01, 0.005, 0.05, 0.935},
    [CF_FAMILY] = {0.005, 0.003, 0.02, 0.972},
    [CF_DOB] = {0.0002, 0.00002, 0.002, 0.99778},
    [CF_SEX] = {0.5, 0.5},
    [CF_POSTCODE] = {0.0005, 0.003, 0.02, 0.9765},
    [CF_ADDR] = {0.0005, 0.002, 0.9975},
    [CF_CITY] = {0.05, 0.02, 0.93},
    [CF_PHONE] = {0.0001, 0.9999},
    [CF_EMAIL] = {0.0001, 0.0002, 0.9997},
};

void idmodel_init_default(struct idmodel *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "default");
    m->lambda = 0.01;
    memcpy(m->m, def_m, sizeof def_m);
    memcpy(m->u, def_u, sizeof def_u);
    m->prior_bits = IDMODEL_PRIOR_BITS;
    m->link_bits = IDMODEL_LINK_BITS;
    m->review_bits = IDMODEL_REVIEW_BITS;
    idmodel_thresholds(m);
    m->tf_floor = 0;
}

void idmodel_thresholds(struct idmodel *m)
{
    m->link_weight = m->link_bits - m->prior_bits;
    m->review_weight = m->review_bits - m->prior_bits;
}

static void tf_free(struct idmodel_tf *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->name[i]);
    free(t->name);
    free(t->freq);
    memset(t, 0, sizeof *t);
}

void idmodel_free(struct idmodel *m)
{
    tf_free(&m->tf[0]);
    tf_free(&m->tf[1]);
}

double idmodel_tf(const struct idmodel *m, int field, const char *name)
{
    const struct idmodel_tf *t = &m->tf[field];
    int lo = 0, hi = t->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(name, t->name[mid]);
        if (c == 0)
            return t->freq[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return m->tf_floor;
}

double idmodel_weight(const struct idmodel *m, const signed char g[CF_N], const struct demog *a,
                      double fw[CF_N])
{
    double w = 0;
    for (int f = 0; f < CF_N; f++) {
        double x = 0;
        int l = g[f];
        if (l >= 0) {
            double u = m->u[f][l];
            /* term frequency: the chance two different people share this
             * very name, when the model has a table */
            if (l == 0 && a && m->tf_floor > 0 && (f == CF_GIVEN || f == CF_FAMILY)) {
                double tf =
                    idmodel_tf(m, f == CF_GIVEN ? 0 : 1, f == CF_GIVEN ? a->given : a->family);
                if (tf > 0)
                    u = tf;
            }
            x = log2(m->m[f][l] / u);
        }
        if (fw)
            fw[f] = x;
        w += x;
    }
    return w;
}

/* ---- estimation ---------------------------------------------------------------- */

struct vec {
    signed char g[CF_N];
    double count;
};

static int vec_cmp(const void *a, const void *b)
{
    return memcmp(((const struct vec *)a)->g, ((const struct vec *)b)->g, CF_N);
}

/* Distinct vectors of v[0..n) with counts (caller frees). */
static struct vec *distinct(const signed char *v, size_t n, size_t *nd)
{
    struct vec *d = xmalloc(sizeof *d * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        memcpy(d[i].g, v + i * CF_N, CF_N);
        d[i].count = 1;
    }
    qsort(d, n, sizeof *d, vec_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && memcmp(d[k - 1].g, d[i].g, CF_N) == 0)
            d[k - 1].count += 1;
        else
            d[k++] = d[i];
    }
    *nd = k;
    return d;
}

int idmodel_estimate(struct idmodel *m, const signed char *cand, size_t ncand,
                     const signed char *rnd, size_t nrand, int iters)
{
    /* u from random pairs */
    if (nrand > 0) {
        for (int f = 0; f < CF_N; f++) {
            int L = compare_levels(f);
            double c[COMPARE_MAXLEVELS] = {0}, tot = 0;
            for (size_t i = 0; i < nrand; i++) {
                int l = rnd[i * CF_N + f];
                if (l >= 0) {
                    c[l]++;
                    tot++;
                }
            }
            if (tot < 1)
                continue;
            for (int l = 0; l < L; l++)
                m->u[f][l] = (c[l] + 0.5) / (tot + 0.5 * L);
        }
    }
    size_t nd = 0;
    struct vec *d = distinct(cand, ncand, &nd);
    double *p = xmalloc(sizeof *p * (nd ? nd : 1));
    int it = 0;
    for (; it < iters && nd > 0; it++) {
        double sp = 0, tot = 0;
        for (size_t i = 0; i < nd; i++) {
            double lm = log(m->lambda), lu = log(1 - m->lambda);
            for (int f = 0; f < CF_N; f++) {
                int l = d[i].g[f];
                if (l >= 0) {
                    lm += log(m->m[f][l]);
                    lu += log(m->u[f][l]);
                }
            }
            p[i] = 1.0 / (1.0 + exp(lu - lm));
            sp += p[i] * d[i].count;
            tot += d[i].count;
        }
        double moved = fabs(sp / tot - m->lambda);
        m->lambda = sp / tot;
        if (m->lambda < 1e-6)
            m->lambda = 1e-6;
        if (m->lambda > 1 - 1e-6)
            m->lambda = 1 - 1e-6;
        for (int f = 0; f < CF_N; f++) {
            int L = compare_levels(f);
            double c[COMPARE_MAXLEVELS] = {0}, t = 0;
            for (size_t i = 0; i < nd; i++) {
                int l = d[i].g[f];
                if (l >= 0) {
                    c[l] += p[i] * d[i].count;
                    t += p[i] * d[i].count;
                }
            }
            if (t <= 0)
                continue;
            for (int l = 0; l < L; l++) {
                /* a small floor keeps every level possible for a match */
                double nm = (c[l] + 1e-3) / (t + 1e-3 * L);
                if (fabs(nm - m->m[f][l]) > moved)
                    moved = fabs(nm - m->m[f][l]);
                m->m[f][l] = nm;
            }
        }
        if (moved < 1e-6) {
            it++;
            break;
        }
    }
    m->pairs = (long)ncand;
    free(p);
    free(d);
    return it;
}

/* ---- term frequencies ------------------------------------------------------------ */

struct tfe {
    char *name;
    long count;
};

static int tfe_by_count(const void *a, const void *b)
{
    long x = ((const struct tfe *)a)->count, y = ((const struct tfe *)b)->count;
    return x < y   ? 1
           : x > y ? -1
                   : strcmp(((const struct tfe *)a)->name, ((const struct tfe *)b)->name);
}

static int tfe_by_name(const void *a, const void *b)
{
    return strcmp(((const struct tfe *)a)->name, ((const struct tfe *)b)->name);
}

#define TF_MAX 20000

void idmodel_tf_set(struct idmodel *m, int field, char **names, const long *counts, int n,
                    long total)
{
    struct idmodel_tf *t = &m->tf[field];
    tf_free(t);
    struct tfe *e = xmalloc(sizeof *e * (size_t)(n ? n : 1));
    int k = 0;
    for (int i = 0; i < n; i++)
        if (counts[i] >= 2)
            e[k++] = (struct tfe){names[i], counts[i]};
    qsort(e, (size_t)k, sizeof *e, tfe_by_count);
    if (k > TF_MAX)
        k = TF_MAX;
    qsort(e, (size_t)k, sizeof *e, tfe_by_name);
    t->name = xmalloc(sizeof *t->name * (size_t)(k ? k : 1));
    t->freq = xmalloc(sizeof *t->freq * (size_t)(k ? k : 1));
    for (int i = 0; i < k; i++) {
        t->name[i] = xstrdup(e[i].name);
        t->freq[i] = (double)e[i].count / (double)total;
    }
    t->n = k;
    m->tf_floor = total > 0 ? 1.0 / (double)total : 0;
    free(e);
}

/* ---- JSON ------------------------------------------------------------------------ */

json_t *idmodel_to_json(const struct idmodel *m)
{
    json_t *fields = json_object();
    for (int f = 0; f < CF_N; f++) {
        json_t *mm = json_array(), *uu = json_array();
        for (int l = 0; l < compare_levels(f); l++) {
            json_array_append_new(mm, json_real(m->m[f][l]));
            json_array_append_new(uu, json_real(m->u[f][l]));
        }
        json_object_set_new(fields, compare_field_name(f),
                            json_pack("{s:o,s:o}", "m", mm, "u", uu));
    }
    json_t *tf = json_object();
    for (int k = 0; k < 2; k++) {
        json_t *o = json_object();
        for (int i = 0; i < m->tf[k].n; i++)
            json_object_set_new(o, m->tf[k].name[i], json_real(m->tf[k].freq[i]));
        json_object_set_new(tf, k == 0 ? "given" : "family", o);
    }
    return json_pack("{s:i,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:o,s:o}", "version", m->version,
                     "id", m->id, "created", m->created, "lambda", m->lambda, "prior_bits",
                     m->prior_bits, "link_bits", m->link_bits, "review_bits", m->review_bits,
                     "tf_floor", m->tf_floor, "records", (json_int_t)m->records, "pairs",
                     (json_int_t)m->pairs, "fields", fields, "tf", tf);
}

int idmodel_from_json(const json_t *j, struct idmodel *m)
{
    idmodel_init_default(m);
    if (!json_is_object(j))
        return WEFT_EINVAL;
    m->version = (int)json_integer_value(json_object_get(j, "version"));
    snprintf(m->id, sizeof m->id, "%s", json_string_value(json_object_get(j, "id")) ?: "");
    snprintf(m->created, sizeof m->created, "%s",
             json_string_value(json_object_get(j, "created")) ?: "");
    m->lambda = json_number_value(json_object_get(j, "lambda"));
    m->prior_bits = json_number_value(json_object_get(j, "prior_bits"));
    m->link_bits = json_number_value(json_object_get(j, "link_bits"));
    m->review_bits = json_number_value(json_object_get(j, "review_bits"));
    idmodel_thresholds(m);
    m->tf_floor = json_number_value(json_object_get(j, "tf_floor"));
    m->records = (long)json_integer_value(json_object_get(j, "records"));
    m->pairs = (long)json_integer_value(json_object_get(j, "pairs"));
    json_t *fields = json_object_get(j, "fields");
    for (int f = 0; f < CF_N; f++) {
        json_t *o = json_object_get(fields, compare_field_name(f));
        json_t *mm = json_object_get(o, "m"), *uu = json_object_get(o, "u");
        if ((int)json_array_size(mm) != compare_levels(f) ||
            (int)json_array_size(uu) != compare_levels(f)) {
            idmodel_free(m);
            idmodel_init_default(m);
            return WEFT_EINVAL;
        }
        for (int l = 0; l < compare_levels(f); l++) {
            m->m[f][l] = json_number_value(json_array_get(mm, l));
            m->u[f][l] = json_number_value(json_array_get(uu, l));
            if (!(m->m[f][l] > 0) || !(m->u[f][l] > 0)) {
                idmodel_init_default(m);
                return WEFT_EINVAL;
            }
        }
    }
    json_t *tf = json_object_get(j, "tf");
    for (int k = 0; k < 2; k++) {
        json_t *o = json_object_get(tf, k == 0 ? "given" : "family");
        int n = (int)json_object_size(o);
        struct tfe *e = xmalloc(sizeof *e * (size_t)(n ? n : 1));
        double *fq = xmalloc(sizeof *fq * (size_t)(n ? n : 1));
        const char *key;
        json_t *v;
        int i = 0;
        json_object_foreach((json_t *)o, key, v)
        {
            e[i].name = xstrdup(key);
            /* the frequency rides in count's place while sorting */
            fq[i] = json_number_value(v);
            e[i].count = i;
            i++;
        }
        qsort(e, (size_t)i, sizeof *e, tfe_by_name);
        struct idmodel_tf *t = &m->tf[k];
        t->name = xmalloc(sizeof *t->name * (size_t)(i ? i : 1));
        t->freq = xmalloc(sizeof *t->freq * (size_t)(i ? i : 1));
        for (int x = 0; x < i; x++) {
            t->name[x] = e[x].name;
            t->freq[x] = fq[e[x].count];
        }
        t->n = i;
        free(e);
        free(fq);
    }
    return WEFT_OK;
}
