/* test_pairscore.c - relink's batch scoring (identity/pairscore.h): the
 * table weight is idmodel_weight's, bit for bit; the cheap bound is never
 * below the weight (after mpi_auto_weight) for pairs drawn to hit every
 * comparator's levels (nicknames, swapped names, initials, dob swaps and
 * typos, postcode sectors, similar addresses and emails, missing fields),
 * yet below the review weight for pairs that share little; and
 * block_chunks splits blocks into minimal chunks of at least the target
 * work that cover every block once, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "identity/compare.h"
#include "identity/demog.h"
#include "identity/model.h"
#include "identity/mpi.h"
#include "identity/pairscore.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;
static unsigned pick(unsigned n)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (unsigned)(rs % n);
}

static const char *const GIVEN[] = {"WILLIAM", "BILL",   "WILLIAM", "MARGARET", "PEGGY",
                                    "THOMAS",  "TOM",    "J",       "JOHN",     "JON",
                                    "SMITH",   "OKAFOR", ""};
static const char *const FAMILY[] = {"SMITH",   "SMYTH",   "SMITH",  "OKAFOR", "OKAFORR", "JONES",
                                     "JOHNSON", "WILLIAM", "THOMAS", "JON",    ""};
static const char *const DOB[] = {"19700307", "19700703", "19700308", "19710307",
                                  "19800307", "20010101", ""};
static const char *const PC[] = {"ME141AB", "ME141AD", "ME142ZZ", "ME159XX", "CT11AA", ""};
static const char *const ADDR[] = {"1 HIGH ST", "1 HIGH STR", "2 LOW RD", ""};
static const char *const CITY[] = {"CANTERBURY", "CANTERBURRY", "DOVER", ""};
static const char *const PHONE[] = {"1234567890", "1234567891", ""};
static const char *const EMAIL[] = {"a.b@x.org", "a.b@y.org", "a.bb@x.org", "zz@q.net", ""};
static const char SEX[] = {'M', 'F', 0};

#define PICK(arr) arr[pick(sizeof arr / sizeof arr[0])]

static void draw_demog(struct demog *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->given, sizeof d->given, "%s", PICK(GIVEN));
    if (pick(4) == 0)
        snprintf(d->given2, sizeof d->given2, "%s", PICK(GIVEN));
    snprintf(d->family, sizeof d->family, "%s", PICK(FAMILY));
    snprintf(d->dob, sizeof d->dob, "%s", PICK(DOB));
    d->sex = PICK(SEX);
    snprintf(d->postcode, sizeof d->postcode, "%s", PICK(PC));
    snprintf(d->addr, sizeof d->addr, "%s", PICK(ADDR));
    snprintf(d->city, sizeof d->city, "%s", PICK(CITY));
    snprintf(d->phone, sizeof d->phone, "%s", PICK(PHONE));
    snprintf(d->email, sizeof d->email, "%s", PICK(EMAIL));
}

/* A model with term frequencies for both names, as estimate leaves it. */
static void model_with_tf(struct idmodel *m)
{
    idmodel_init_default(m);
    char *g[] = {"WILLIAM", "JOHN", "THOMAS"}, *f[] = {"SMITH", "JONES", "OKAFOR"};
    long gc[] = {400, 150, 2}, fc[] = {900, 30, 3};
    idmodel_tf_set(m, 0, g, gc, 3, 10000);
    idmodel_tf_set(m, 1, f, fc, 3, 10000);
}

static void check_pairs(const struct idmodel *m)
{
    struct pairscore ps;
    pairscore_init(&ps, m);
    int below = 0;
    for (int k = 0; k < 20000; k++) {
        struct demog a, b;
        draw_demog(&a);
        draw_demog(&b);
        if (pick(5) == 0) { /* names written the wrong way round (all fit both fields) */
            memcpy(b.given, a.family, sizeof b.given);
            memcpy(b.family, a.given, sizeof b.given);
            b.given[sizeof b.given - 1] = 0;
        }
        struct pairscore_names an;
        pairscore_names(&ps, m, &a, &an);
        signed char g[CF_N];
        compare_pair(&a, &b, g);
        double w = idmodel_weight(m, g, &a, NULL);
        /* the same additions in the same order: equal, not merely close */
        assert_true(pairscore_weight(&ps, g, &an) == w);
        double bound = pairscore_bound(&ps, &a, &an, &b);
        double after = mpi_auto_weight(m, &a, &b, g, w);
        if (!(bound >= w - 1e-9 && bound >= after - 1e-9))
            fail_msg("bound %.6f below weight %.6f: %s %s %s / %s %s %s", bound, w, a.given,
                     a.family, a.dob, b.given, b.family, b.dob);
        below += bound < m->review_weight;
    }
    /* the bound prunes: many of these pairs cannot reach review */
    assert_true(below > 1000);
}

static void test_weight_and_bound_default(void **state)
{
    (void)state;
    struct idmodel m;
    idmodel_init_default(&m);
    check_pairs(&m);
    idmodel_free(&m);
}

static void test_weight_and_bound_tf(void **state)
{
    (void)state;
    struct idmodel m;
    model_with_tf(&m);
    check_pairs(&m);
    /* an exact rare name weighs more than an exact common one, in the
     * record's exact-name weights as in idmodel_weight */
    struct pairscore ps;
    pairscore_init(&ps, &m);
    struct demog smith = {.family = "SMITH"}, okafor = {.family = "OKAFOR"};
    struct pairscore_names ns, no;
    pairscore_names(&ps, &m, &smith, &ns);
    pairscore_names(&ps, &m, &okafor, &no);
    assert_true(no.family > ns.family + 3);
    idmodel_free(&m);
}

static void test_bound_equal_names(void **state)
{
    (void)state;
    struct idmodel m;
    model_with_tf(&m);
    struct pairscore ps;
    pairscore_init(&ps, &m);
    /* everything equal: the bound is the weight itself */
    struct demog a = {.given = "OKAFORA",
                      .family = "OKAFOR",
                      .dob = "19700307",
                      .sex = 'F',
                      .postcode = "ME141AB",
                      .addr = "1 HIGH ST",
                      .city = "DOVER",
                      .phone = "1234567890",
                      .email = "a@b.org"};
    struct pairscore_names an;
    pairscore_names(&ps, &m, &a, &an);
    signed char g[CF_N];
    compare_pair(&a, &a, g);
    assert_float_equal(pairscore_bound(&ps, &a, &an, &a), idmodel_weight(&m, g, &a, NULL), 1e-9);
    /* nothing shared but the date of birth: below review, whatever the names do */
    struct demog b = {.given = "ZED",
                      .family = "QUARTERMAIN",
                      .dob = "19700307",
                      .postcode = "CT11AA",
                      .sex = 'M'};
    assert_true(pairscore_bound(&ps, &a, &an, &b) < m.review_weight);
    idmodel_free(&m);
}

static long pairs_of(int s)
{
    return (long)s * (s - 1) / 2;
}

static void test_block_chunks(void **state)
{
    (void)state;
    int bounds[1];
    assert_int_equal(block_chunks(NULL, 0, 10, bounds), 0);
    enum { N = 5000 };
    static int sizes[N], b[N + 1];
    for (int round = 0; round < 20; round++) {
        long total = 0;
        for (int i = 0; i < N; i++) {
            /* mostly small blocks, a few large: the shape of real keys */
            sizes[i] = pick(50) == 0 ? 2 + (int)pick(399) : 2 + (int)pick(6);
            total += pairs_of(sizes[i]);
        }
        long target = round == 0 ? 1 : total / (1 + pick(300));
        int c = block_chunks(sizes, N, target, b);
        assert_true(c >= 1);
        assert_int_equal(b[0], 0);
        assert_int_equal(b[c], N);
        long seen = 0;
        for (int k = 0; k < c; k++) {
            assert_true(b[k] < b[k + 1]);
            long w = 0;
            for (int i = b[k]; i < b[k + 1]; i++)
                w += pairs_of(sizes[i]);
            seen += w;
            if (k < c - 1) {
                /* enough work, and no more blocks than needed for it */
                assert_true(w >= target);
                assert_true(w - pairs_of(sizes[b[k + 1] - 1]) < target);
            }
        }
        assert_int_equal(seen, total);
        if (round == 0)
            assert_int_equal(c, N); /* target 1: every block its own chunk */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_and_bound_default),
        cmocka_unit_test(test_weight_and_bound_tf),
        cmocka_unit_test(test_bound_equal_names),
        cmocka_unit_test(test_block_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
