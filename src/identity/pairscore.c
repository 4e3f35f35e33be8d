/*
 * pairscore.c - weight tables, the cheap upper bound and the chunks of
 * blocks for batch scoring (see pairscore.h).
 */
#include <math.h>
#include <string.h>

#include "identity/dob.h"
#include "identity/pairscore.h"
#include "identity/postcode.h"

void pairscore_init(struct pairscore *ps, const struct idmodel *m)
{
    memset(ps, 0, sizeof *ps);
    for (int f = 0; f < CF_N; f++) {
        int nl = compare_levels(f);
        ps->best_inexact[f] = -INFINITY;
        ps->best[f] = -INFINITY;
        for (int l = 0; l < nl; l++) {
            /* the expression idmodel_weight evaluates */
            ps->w[f][l] = log2(m->m[f][l] / m->u[f][l]);
            if (l > 0 && ps->w[f][l] > ps->best_inexact[f])
                ps->best_inexact[f] = ps->w[f][l];
            if (ps->w[f][l] > ps->best[f])
                ps->best[f] = ps->w[f][l];
        }
    }
    ps->tf = m->tf_floor > 0;
}

static double exact_name(const struct pairscore *ps, const struct idmodel *m, int f,
                         const char *name)
{
    double u = m->u[f][0];
    if (ps->tf) {
        double tf = idmodel_tf(m, f == CF_GIVEN ? 0 : 1, name);
        if (tf > 0)
            u = tf;
    }
    return log2(m->m[f][0] / u);
}

void pairscore_names(const struct pairscore *ps, const struct idmodel *m, const struct demog *d,
                     struct pairscore_names *out)
{
    out->given = exact_name(ps, m, CF_GIVEN, d->given);
    out->family = exact_name(ps, m, CF_FAMILY, d->family);
}

double pairscore_weight(const struct pairscore *ps, const signed char g[CF_N],
                        const struct pairscore_names *an)
{
    double w = 0;
    for (int f = 0; f < CF_N; f++) {
        double x = 0;
        int l = g[f];
        if (l == 0 && f == CF_GIVEN)
            x = an->given;
        else if (l == 0 && f == CF_FAMILY)
            x = an->family;
        else if (l >= 0)
            x = ps->w[f][l];
        w += x;
    }
    return w;
}

/* A name field: exact only when the two are equal (compare.c); the
 * crossed-names rule can lower an exact name to "close", never raise a
 * differing one to exact. */
static double name_bound(const struct pairscore *ps, int f, const char *x, const char *y,
                         double exact)
{
    if (!x[0] || !y[0])
        return 0;
    if (strcmp(x, y) != 0)
        return ps->best_inexact[f];
    return exact > ps->best_inexact[f] ? exact : ps->best_inexact[f];
}

/* A text field whose only exact level is equality (address, city, email). */
static double text_bound(const struct pairscore *ps, int f, const char *x, const char *y)
{
    if (!x[0] || !y[0])
        return 0;
    return strcmp(x, y) == 0 ? ps->best[f] : ps->best_inexact[f];
}

double pairscore_bound(const struct pairscore *ps, const struct demog *a,
                       const struct pairscore_names *an, const struct demog *b)
{
    double w = name_bound(ps, CF_GIVEN, a->given, b->given, an->given) +
               name_bound(ps, CF_FAMILY, a->family, b->family, an->family);
    if (a->dob[0] && b->dob[0])
        w += ps->w[CF_DOB][dob_compare(a->dob, b->dob)];
    if (a->sex && b->sex)
        w += ps->w[CF_SEX][a->sex == b->sex ? 0 : 1];
    if (a->postcode[0] && b->postcode[0])
        w += ps->w[CF_POSTCODE][postcode_compare(a->postcode, b->postcode)];
    w += text_bound(ps, CF_ADDR, a->addr, b->addr) + text_bound(ps, CF_CITY, a->city, b->city);
    if (a->phone[0] && b->phone[0])
        w += ps->w[CF_PHONE][strcmp(a->phone, b->phone) == 0 ? 0 : 1];
    return w + text_bound(ps, CF_EMAIL, a->email, b->email);
}

int block_chunks(const int *sizes, int n, long target, int *bounds)
{
    int c = 0;
    long acc = 0;
    bounds[0] = 0;
    for (int i = 0; i < n; i++) {
        long s = sizes[i];
        acc += s * (s - 1) / 2;
        if (acc >= target || i == n - 1) {
            bounds[++c] = i + 1;
            acc = 0;
        }
    }
    return c;
}
