/* test_model.c - blocking keys, Fellegi-Sunter weights, term frequencies,
 * EM estimation (recovers known m and lambda from generated vectors) and the
 * model's JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "identity/block.h"
#include "identity/demog.h"
#include "identity/model.h"

static int shares_key(const struct demog *a, const struct demog *b)
{
    char ka[BLOCK_NKEYS][BLOCK_KEYLEN], kb[BLOCK_NKEYS][BLOCK_KEYLEN];
    block_keys(a, ka);
    block_keys(b, kb);
    for (int i = 0; i < BLOCK_NKEYS; i++)
        if (ka[i][0] && strcmp(ka[i], kb[i]) == 0)
            return 1;
    return 0;
}

static int shares_batch_key(const struct demog *a, const struct demog *b)
{
    char ka[BLOCK_BATCH_NKEYS][BLOCK_KEYLEN], kb[BLOCK_BATCH_NKEYS][BLOCK_KEYLEN];
    block_keys_batch(a, ka);
    block_keys_batch(b, kb);
    for (int i = 0; i < BLOCK_BATCH_NKEYS; i++)
        if (ka[i][0] && strcmp(ka[i], kb[i]) == 0)
            return 1;
    return 0;
}

/* The batch-only keys: records whose names and date of birth are both
 * damaged still meet (FEBRL: a given name replaced and no date of birth; a
 * given name missing, the family name replaced, a dob digit wrong). */
static void test_blocking_batch(void **state)
{
    (void)state;
    struct demog a = {.given = "FLYNN",
                      .family = "ROKOBARO",
                      .dob = "19720812",
                      .postcode = "2272",
                      .addr = "12 HERSCHELL CIRCUIT KILLARNEY",
                      .city = "LAWRENCE"};
    char k[BLOCK_BATCH_NKEYS][BLOCK_KEYLEN];
    block_keys_batch(&a, k);
    char k4[BLOCK_NKEYS][BLOCK_KEYLEN];
    block_keys(&a, k4);
    for (int i = 0; i < BLOCK_NKEYS; i++)
        assert_string_equal(k[i], k4[i]); /* the stored keys first, unchanged */
    assert_string_equal(k[4], "F2272R216");
    assert_string_equal(k[5], "A12 HERSCHELL LAWRENCE");
    struct demog b = a;
    snprintf(b.given, sizeof b.given, "THOMAS"); /* given replaced, dob missing */
    b.dob[0] = 0;
    assert_false(shares_key(&a, &b));
    assert_true(shares_batch_key(&a, &b));
    b = a; /* no given name, family replaced, dob one digit off, postcode moved */
    b.given[0] = 0;
    snprintf(b.family, sizeof b.family, "HEFFORD");
    snprintf(b.dob, sizeof b.dob, "19720912");
    snprintf(b.postcode, sizeof b.postcode, "2227");
    assert_false(shares_key(&a, &b));
    assert_true(shares_batch_key(&a, &b));
    /* no house number: no address key; a long city is cut, not overrun */
    snprintf(b.addr, sizeof b.addr, "HERSCHELL CIRCUIT");
    snprintf(b.city, sizeof b.city, "%s", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLM");
    block_keys_batch(&b, k);
    assert_string_equal(k[5], "");
    snprintf(b.addr, sizeof b.addr, "1234567890 LONGSTREETNAMEHERE");
    block_keys_batch(&b, k);
    assert_int_equal(strlen(k[5]), BLOCK_KEYLEN - 1);
}

static void test_blocking(void **state)
{
    (void)state;
    struct demog a = {.given = "ADA", .family = "OKAFOR", .dob = "20130707", .postcode = "ME141AB"};
    char k[BLOCK_NKEYS][BLOCK_KEYLEN];
    block_keys(&a, k);
    assert_string_equal(k[0], "D20130707");
    assert_string_equal(k[1], "NO2162013");
    assert_string_equal(k[2], "PME141ABA");
    assert_string_equal(k[3], "GA300O216");
    /* each fault leaves a shared key */
    struct demog b = a;
    snprintf(b.dob, sizeof b.dob, "20130808"); /* dob typo: name + postcode keys */
    assert_true(shares_key(&a, &b));
    b = a;
    snprintf(b.family, sizeof b.family, "XKAFOR"); /* first-letter typo: dob key */
    assert_true(shares_key(&a, &b));
    b = a;
    snprintf(b.dob, sizeof b.dob, "20120707");
    b.postcode[0] = 0; /* year wrong and no postcode: the name key */
    assert_true(shares_key(&a, &b));
    /* a different person shares none */
    struct demog c = {
        .given = "GRACE", .family = "HUGHES", .dob = "19500101", .postcode = "CT201AB"};
    assert_false(shares_key(&a, &c));
    /* missing parts give empty keys, which never block together */
    struct demog e = {.given = "ADA"};
    block_keys(&e, k);
    for (int i = 0; i < BLOCK_NKEYS; i++)
        assert_string_equal(k[i], "");
}

static void test_weights_and_tf(void **state)
{
    (void)state;
    struct idmodel m;
    idmodel_init_default(&m);
    signed char agree[CF_N], differ[CF_N];
    for (int f = 0; f < CF_N; f++) {
        agree[f] = 0;
        differ[f] = (signed char)(compare_levels(f) - 1);
    }
    assert_float_equal(m.link_weight, IDMODEL_LINK_BITS - IDMODEL_PRIOR_BITS, 1e-12);
    assert_true(idmodel_weight(&m, agree, NULL, NULL) > m.link_weight);
    assert_true(idmodel_weight(&m, differ, NULL, NULL) < m.review_weight);
    /* missing fields weigh nothing */
    signed char miss[CF_N];
    memset(miss, COMPARE_MISSING, sizeof miss);
    double fw[CF_N];
    assert_float_equal(idmodel_weight(&m, miss, NULL, fw), 0.0, 1e-12);
    /* term frequency: a common family name agreeing counts less than a rare one */
    char *names[] = {"SMITH", "OKAFOR", "JONES"};
    long counts[] = {500, 1, 300};
    idmodel_tf_set(&m, 1, names, counts, 3, 10000);
    assert_int_equal(m.tf[1].n, 2); /* seen once: left out */
    assert_float_equal(idmodel_tf(&m, 1, "SMITH"), 0.05, 1e-12);
    assert_float_equal(idmodel_tf(&m, 1, "OKAFOR"), 1e-4, 1e-12);
    struct demog smith = {.family = "SMITH"}, okafor = {.family = "OKAFOR"};
    signed char fam[CF_N];
    memset(fam, COMPARE_MISSING, sizeof fam);
    fam[CF_FAMILY] = 0;
    double ws = idmodel_weight(&m, fam, &smith, NULL);
    double wo = idmodel_weight(&m, fam, &okafor, NULL);
    assert_true(wo > ws + 5);
    idmodel_free(&m);
}

/* A small deterministic generator (tests must not depend on libc rand). */
static uint64_t rs = 88172645463325252ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static int draw(const double *p, int L)
{
    double x = urand(), c = 0;
    for (int l = 0; l < L; l++) {
        c += p[l];
        if (x < c)
            return l;
    }
    return L - 1;
}

static void test_em_recovers_parameters(void **state)
{
    (void)state;
    struct idmodel truth;
    idmodel_init_default(&truth);
    /* true parameters unlike the starting priors */
    double tm[CF_N][COMPARE_MAXLEVELS] = {
        [CF_GIVEN] = {0.7, 0.2, 0.05, 0.05},  [CF_FAMILY] = {0.8, 0.1, 0.05, 0.05},
        [CF_DOB] = {0.85, 0.05, 0.05, 0.05},  [CF_SEX] = {0.95, 0.05},
        [CF_POSTCODE] = {0.6, 0.1, 0.1, 0.2}, [CF_ADDR] = {0.6, 0.2, 0.2},
        [CF_CITY] = {0.8, 0.1, 0.1},          [CF_PHONE] = {0.9, 0.1},
        [CF_EMAIL] = {0.9, 0.05, 0.05},
    };
    double tu[CF_N][COMPARE_MAXLEVELS] = {
        [CF_GIVEN] = {0.05, 0.05, 0.1, 0.8},
        [CF_FAMILY] = {0.05, 0.05, 0.1, 0.8},
        [CF_DOB] = {0.05, 0.01, 0.04, 0.9},
        [CF_SEX] = {0.5, 0.5},
        [CF_POSTCODE] = {0.05, 0.05, 0.1, 0.8},
        [CF_ADDR] = {0.05, 0.05, 0.9},
        [CF_CITY] = {0.2, 0.1, 0.7},
        [CF_PHONE] = {0.01, 0.99},
        [CF_EMAIL] = {0.01, 0.01, 0.98},
    };
    const size_t ncand = 40000, nrand = 40000;
    const double lambda = 0.3;
    signed char *cand = malloc(ncand * CF_N), *rnd = malloc(nrand * CF_N);
    for (size_t i = 0; i < ncand; i++) {
        int match = urand() < lambda;
        for (int f = 0; f < CF_N; f++)
            cand[i * CF_N + f] =
                (signed char)draw(match ? tm[f] : tu[f], compare_levels((enum compare_field)f));
        if (urand() < 0.2)
            cand[i * CF_N + CF_PHONE] = COMPARE_MISSING;
    }
    for (size_t i = 0; i < nrand; i++)
        for (int f = 0; f < CF_N; f++)
            rnd[i * CF_N + f] = (signed char)draw(tu[f], compare_levels((enum compare_field)f));
    struct idmodel m;
    idmodel_init_default(&m);
    int rounds = idmodel_estimate(&m, cand, ncand, rnd, nrand, 200);
    assert_true(rounds > 1);
    assert_float_equal(m.lambda, lambda, 0.02);
    for (int f = 0; f < CF_N; f++)
        for (int l = 0; l < compare_levels((enum compare_field)f); l++) {
            assert_float_equal(m.u[f][l], tu[f][l], 0.02);
            assert_float_equal(m.m[f][l], tm[f][l], 0.03);
        }
    /* JSON round trip keeps everything the weights use */
    char *names[] = {"SMITH", "JONES"};
    long counts[] = {50, 30};
    idmodel_tf_set(&m, 1, names, counts, 2, 1000);
    m.version = 3;
    json_t *j = idmodel_to_json(&m);
    struct idmodel back;
    assert_int_equal(idmodel_from_json(j, &back), 0);
    assert_int_equal(back.version, 3);
    signed char g[CF_N] = {0, 0, 1, 0, 2, 1, 0, COMPARE_MISSING, 2};
    struct demog smith = {.given = "X", .family = "SMITH"};
    assert_float_equal(idmodel_weight(&m, g, &smith, NULL), idmodel_weight(&back, g, &smith, NULL),
                       1e-9);
    json_object_del(json_object_get(j, "fields"), "dob");
    struct idmodel bad;
    assert_int_not_equal(idmodel_from_json(j, &bad), 0);
    idmodel_free(&bad);
    json_decref(j);
    idmodel_free(&back);
    idmodel_free(&m);
    idmodel_free(&truth);
    free(cand);
    free(rnd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking),
        cmocka_unit_test(test_blocking_batch),
        cmocka_unit_test(test_weights_and_tf),
        cmocka_unit_test(test_em_recovers_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
