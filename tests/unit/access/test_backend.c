/* test_backend.c - SMART Backend Services (access/backend.h) with keys made
 * here by OpenSSL and a real store: a good RS384 and a good ES384 assertion
 * pass; a wrong aud, an expired assertion, one living longer than 5
 * minutes, a reused jti, no jti, an unknown kid, a kid of the other key
 * type, alg HS256, none and RS256, iss != sub, a signature by another key,
 * an unknown, revoked or bearer-token client are each refused with the
 * RFC 6749 error they should get; a refused assertion does not burn its
 * jti.  Also the registration check of key sets, the scope grant and the
 * token URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "access/backend.h"
#include "access/scope.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/access.h"
#include "store/store.h"
#include "unit/testdb.h"

#define TOKEN_URL "https://weft.example.nhs.uk/oauth/token"

static struct store *s;
static char dbpath[512];
static EVP_PKEY *rsa, *ec, *rsa_other, *rsa_short, *ec256;
static int64_t id_keys, id_revoked, id_bearer;
static char iss[24];
static time_t now;
static int jti_n;

static void b64u(struct buf *b, const unsigned char *p, size_t n)
{
    static const char c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        buf_addc(b, c[v >> 18 & 63]);
        buf_addc(b, c[v >> 12 & 63]);
        if (i + 1 < n)
            buf_addc(b, c[v >> 6 & 63]);
        if (i + 2 < n)
            buf_addc(b, c[v & 63]);
    }
}

static char *b64u_bn(const BIGNUM *bn, int pad)
{
    unsigned char raw[1024];
    int n = pad ? BN_bn2binpad(bn, raw, pad) : BN_bn2bin(bn, raw);
    struct buf b = BUF_INIT;
    b64u(&b, raw, (size_t)n);
    return buf_detach(&b, NULL);
}

static json_t *jwk_rsa(EVP_PKEY *k, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
    char *ns = b64u_bn(n, 0), *es = b64u_bn(e, 0);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid, "n", ns, "e", es);
    free(ns);
    free(es);
    BN_free(n);
    BN_free(e);
    return j;
}

static json_t *jwk_ec(EVP_PKEY *k, const char *kid, const char *crv, int coord)
{
    BIGNUM *x = NULL, *y = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    char *xs = b64u_bn(x, coord), *ys = b64u_bn(y, coord);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "kid", kid, "crv", crv, "x", xs,
                          "y", ys);
    free(xs);
    free(ys);
    BN_free(x);
    BN_free(y);
    return j;
}

static char *dump(json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return t;
}

/* A compact JWS of header h and claims c: RS384/ES384 with k, HS256 with
 * the text "secret", none with no signature. */
static char *jws(json_t *h, json_t *c, EVP_PKEY *k)
{
    char alg[16];
    snprintf(alg, sizeof alg, "%s", json_string_value(json_object_get(h, "alg")));
    char *hs = dump(h), *cs = dump(c);
    struct buf b = BUF_INIT;
    b64u(&b, (const unsigned char *)hs, strlen(hs));
    buf_addc(&b, '.');
    b64u(&b, (const unsigned char *)cs, strlen(cs));
    size_t signed_len = b.len;
    buf_addc(&b, '.');
    unsigned char sig[1024];
    size_t sl = sizeof sig;
    if (strcmp(alg, "HS256") == 0) {
        unsigned int hl = 0;
        HMAC(EVP_sha256(), "secret", 6, (unsigned char *)b.data, signed_len, sig, &hl);
        b64u(&b, sig, hl);
    } else if (strcmp(alg, "none") != 0) {
        const EVP_MD *md = strcmp(alg, "RS256") == 0 ? EVP_sha256() : EVP_sha384();
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &sl, (unsigned char *)b.data, signed_len), 1);
        EVP_MD_CTX_free(ctx);
        if (EVP_PKEY_is_a(k, "EC")) {
            /* DER -> JOSE r || s */
            const unsigned char *p = sig;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
            assert_non_null(es);
            unsigned char rs[96];
            BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 48);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 48, 48);
            ECDSA_SIG_free(es);
            b64u(&b, rs, sizeof rs);
        } else {
            b64u(&b, sig, sl);
        }
    }
    free(hs);
    free(cs);
    return buf_detach(&b, NULL);
}

static json_t *hdr(const char *alg, const char *kid)
{
    return json_pack("{s:s, s:s, s:s}", "alg", alg, "typ", "JWT", "kid", kid);
}

/* Good claims for client iss, a fresh jti each call. */
static json_t *claims(void)
{
    char jti[32];
    snprintf(jti, sizeof jti, "jti-%d", ++jti_n);
    return json_pack("{s:s, s:s, s:s, s:I, s:s}", "iss", iss, "sub", iss, "aud", TOKEN_URL, "exp",
                     (json_int_t)now + 240, "jti", jti);
}

/* Verify; on refusal check the error code. */
static int verify(char *a, const char *want_error)
{
    struct store_client c;
    struct backend_refusal ref;
    int rc = backend_assertion_verify(s, a, TOKEN_URL, now, &c, &ref);
    if (want_error) {
        assert_int_equal(rc, WEFT_EAUTH);
        assert_non_null(ref.why);
        if (strcmp(ref.error, want_error) != 0)
            fail_msg("refused with %s (%s), expected %s", ref.error, ref.why, want_error);
        assert_int_equal(ref.status, strcmp(want_error, "invalid_client") == 0 ? 401 : 400);
    } else {
        if (rc != 0)
            fail_msg("refused: %s %s", ref.error, ref.why);
        assert_int_equal(c.id, id_keys);
        assert_string_equal(c.purpose, "secondary");
        assert_string_equal(c.org, "RVV");
    }
    store_client_clear(&c);
    free(a);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    rsa = EVP_RSA_gen(2048);
    rsa_other = EVP_RSA_gen(2048);
    rsa_short = EVP_RSA_gen(1024);
    ec = EVP_EC_gen("P-384");
    ec256 = EVP_EC_gen("P-256");
    assert_true(rsa && rsa_other && rsa_short && ec && ec256);
    const char *tmp = getenv("WEFT_TMP");
    snprintf(dbpath, sizeof dbpath, "%s/backend-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    testdb_remove(dbpath);
    char *err = NULL;
    assert_int_equal(store_open(&s, testdb_pick(dbpath), true, &err), 0);
    int from, to;
    assert_int_equal(store_migrate(s, &from, &to), 0);
    char *set = dump(
        json_pack("{s:[o,o]}", "keys", jwk_rsa(rsa, "rsa-1"), jwk_ec(ec, "ec-1", "P-384", 48)));
    assert_int_equal(backend_jwks_check(set, &(const char *){NULL}), 2);
    assert_int_equal(
        store_client_add_keys(s, "analytics", "RVV", "system/*.rs", "secondary", set, &id_keys), 0);
    assert_int_equal(
        store_client_add_keys(s, "gone", "RVV", "system/*.rs", "direct", set, &id_revoked), 0);
    assert_int_equal(store_client_revoke(s, id_revoked), 0);
    assert_int_equal(
        store_client_add(s, "bearer", "RVV", "system/*.rs",
                         "00112233445566778899aabbccddeeff00112233445566778899aabbccddee"
                         "ff",
                         NULL, &id_bearer),
        0);
    free(set);
    snprintf(iss, sizeof iss, "%lld", (long long)id_keys);
    now = time(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(s);
    testdb_remove(dbpath);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(rsa_short);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec256);
    return 0;
}

static void test_good(void **state)
{
    (void)state;
    assert_int_equal(verify(jws(hdr("RS384", "rsa-1"), claims(), rsa), NULL), 0);
    assert_int_equal(verify(jws(hdr("ES384", "ec-1"), claims(), ec), NULL), 0);
    /* aud may be an array holding the token URL */
    json_t *c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "other", TOKEN_URL));
    assert_int_equal(verify(jws(hdr("ES384", "ec-1"), c, ec), NULL), 0);
}

static void test_claims_refused(void **state)
{
    (void)state;
    json_t *c = claims();
    json_object_set_new(c, "aud", json_string("https://weft.example.nhs.uk/fhir"));
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_grant");

    c = claims();
    json_object_set_new(c, "exp", json_integer((json_int_t)now - 120));
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_grant");

    c = claims();
    json_object_set_new(c, "exp", json_integer((json_int_t)now + 3600));
    verify(jws(hdr("ES384", "ec-1"), c, ec), "invalid_grant");

    c = claims();
    json_object_del(c, "exp");
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_grant");

    c = claims();
    json_object_del(c, "jti");
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_grant");

    c = claims();
    json_object_set_new(c, "nbf", json_integer((json_int_t)now + 600));
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_grant");

    c = claims();
    json_object_set_new(c, "sub", json_string("999"));
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_client");

    c = claims();
    json_object_del(c, "sub");
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_client");
}

static void test_replay(void **state)
{
    (void)state;
    json_t *c = claims();
    char *a = jws(hdr("RS384", "rsa-1"), c, rsa);
    char *b = strdup(a);
    assert_int_equal(verify(a, NULL), 0);
    verify(b, "invalid_grant");
    /* a refused assertion does not burn its jti: the same jti, first for
     * another aud, then as it should be */
    c = claims();
    json_t *c2 = json_deep_copy(c);
    json_object_set_new(c, "aud", json_string("https://elsewhere.example/token"));
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_grant");
    assert_int_equal(verify(jws(hdr("RS384", "rsa-1"), c2, rsa), NULL), 0);
}

static void test_keys_and_algs(void **state)
{
    (void)state;
    verify(jws(hdr("RS384", "no-such-kid"), claims(), rsa), "invalid_client");
    /* the kid of the EC key with an RSA signature, and the other way round */
    verify(jws(hdr("RS384", "ec-1"), claims(), rsa), "invalid_client");
    verify(jws(hdr("ES384", "rsa-1"), claims(), ec), "invalid_client");
    /* signed by a key that is not the client's, under its kid */
    verify(jws(hdr("RS384", "rsa-1"), claims(), rsa_other), "invalid_client");
    verify(jws(hdr("HS256", "rsa-1"), claims(), NULL), "invalid_client");
    verify(jws(hdr("none", "rsa-1"), claims(), NULL), "invalid_client");
    verify(jws(hdr("RS256", "rsa-1"), claims(), rsa), "invalid_client");
    json_t *h = hdr("RS384", "rsa-1");
    json_object_del(h, "kid");
    verify(jws(h, claims(), rsa), "invalid_client");
    h = hdr("RS384", "rsa-1");
    json_object_set_new(h, "jku", json_string("https://attacker.example/jwks"));
    verify(jws(h, claims(), rsa), "invalid_client");
    /* a signature altered after signing */
    char *a = jws(hdr("ES384", "ec-1"), claims(), ec);
    size_t n = strlen(a);
    a[n - 3] = a[n - 3] == 'A' ? 'B' : 'A';
    verify(a, "invalid_client");
    verify(strdup("not-a-jwt"), "invalid_client");
    verify(strdup(""), "invalid_client");
}

static void test_clients_refused(void **state)
{
    (void)state;
    char other[24];
    const int64_t ids[] = {id_revoked, id_bearer, 987654};
    for (size_t i = 0; i < 3; i++) {
        snprintf(other, sizeof other, "%lld", (long long)ids[i]);
        json_t *c = claims();
        json_object_set_new(c, "iss", json_string(other));
        json_object_set_new(c, "sub", json_string(other));
        verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_client");
    }
    json_t *c = claims();
    json_object_set_new(c, "iss", json_string("0012"));
    json_object_set_new(c, "sub", json_string("0012"));
    verify(jws(hdr("RS384", "rsa-1"), c, rsa), "invalid_client");
}

static void test_jwks_check(void **state)
{
    (void)state;
    const char *why = NULL;
    struct {
        json_t *set;
        int want;
    } cases[] = {
        {json_pack("{s:[o]}", "keys", jwk_rsa(rsa, "a")), 1},
        {json_pack("{s:[o,o]}", "keys", jwk_rsa(rsa, "a"), jwk_ec(ec, "a", "P-384", 48)),
         WEFT_EINVAL},
        {json_pack("{s:[o]}", "keys", jwk_rsa(rsa_short, "short")), WEFT_EINVAL},
        {json_pack("{s:[o]}", "keys", jwk_ec(ec256, "p256", "P-256", 32)), WEFT_EINVAL},
        {json_pack("{s:[]}", "keys"), WEFT_EINVAL},
        {json_pack("{s:s}", "kty", "RSA"), WEFT_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = dump(cases[i].set);
        int rc = backend_jwks_check(t, &why);
        if (rc != cases[i].want)
            fail_msg("case %zu: %d (%s)", i, rc, why ? why : "-");
        free(t);
    }
    /* no kid; a private part; an EC key off the curve */
    json_t *k = jwk_rsa(rsa, "x");
    json_object_del(k, "kid");
    char *t = dump(json_pack("{s:[o]}", "keys", k));
    assert_int_equal(backend_jwks_check(t, &why), WEFT_EINVAL);
    free(t);
    k = jwk_rsa(rsa, "x");
    json_object_set_new(k, "d", json_string("AQAB"));
    t = dump(json_pack("{s:[o]}", "keys", k));
    assert_int_equal(backend_jwks_check(t, &why), WEFT_EINVAL);
    assert_non_null(strstr(why, "private"));
    free(t);
    k = jwk_ec(ec, "x", "P-384", 48);
    json_object_set_new(
        k, "y", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    t = dump(json_pack("{s:[o]}", "keys", k));
    assert_int_equal(backend_jwks_check(t, &why), WEFT_EINVAL);
    free(t);
    assert_int_equal(backend_jwks_check("{not json", &why), WEFT_EINVAL);
}

/* An EC key whose x or y has a leading zero byte, written as some clients
 * write it (PyJWT 2.6: the coordinate without its leading zeros, 47 bytes
 * or fewer - one key in about 128): the same point, accepted. */
static void test_jwks_short_coordinate(void **state)
{
    (void)state;
    EVP_PKEY *k = NULL;
    for (int i = 0; i < 5000 && !k; i++) {
        EVP_PKEY *c = EVP_EC_gen("P-384");
        BIGNUM *x = NULL, *y = NULL;
        EVP_PKEY_get_bn_param(c, OSSL_PKEY_PARAM_EC_PUB_X, &x);
        EVP_PKEY_get_bn_param(c, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
        if (BN_num_bytes(x) < 48 || BN_num_bytes(y) < 48)
            k = c;
        else
            EVP_PKEY_free(c);
        BN_free(x);
        BN_free(y);
    }
    assert_non_null(k);
    const char *why = NULL;
    char *t = dump(json_pack("{s:[o]}", "keys", jwk_ec(k, "short", "P-384", 0)));
    int rc = backend_jwks_check(t, &why);
    if (rc != 1)
        fail_msg("a coordinate without its leading zeros: %d (%s)", rc, why ? why : "-");
    free(t);
    EVP_PKEY_free(k);
}

static void test_scopes(void **state)
{
    (void)state;
    const char *why = NULL;
    struct {
        const char *req, *reg, *want;
    } cases[] = {
        {"system/*.rs", "system/*.rs", "system/*.rs"},
        {"system/*.read", "system/*.rs", "system/*.read"},
        {"system/Patient.rs system/Observation.r", "system/*.rs",
         "system/Patient.rs system/Observation.r"},
        {"system/*.rs system/*.cud", "system/*.rs", "system/*.rs"},
        {"system/*.cud", "system/*.rs", NULL},
        {"system/*.rs", "system/Patient.rs", NULL},
        {"system/Patient.rs system/Observation.rs", "system/Patient.rs", "system/Patient.rs"},
        {"system/*.rs", NULL, "system/*.rs"},
        {"system/Patient.$match", "system/*.rs system/Patient.$match", "system/Patient.$match"},
        {"system/Patient.$everything", "system/Patient.$match", NULL},
        {"patient/*.rs", "system/*.rs", NULL},
        {"system/*.rs launch", "system/*.rs", NULL},
        {"system/*.sr", "system/*.rs", NULL},
        {"", "system/*.rs", NULL},
        {NULL, "system/*.rs", NULL},
        {"system/*.cruds", "*", "system/*.cruds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *g = backend_scope_grant(cases[i].req, cases[i].reg, &why);
        if (cases[i].want ? !g || strcmp(g, cases[i].want) != 0 : g != NULL)
            fail_msg("case %zu: granted %s", i, g ? g : "(null)");
        if (!g)
            assert_non_null(why);
        free(g);
    }
    assert_true(scope_set_allows("system/Observation.rs", "system", "Observation", SCOPE_R));
    assert_false(scope_set_allows("system/Observation.rs", "system", "Patient", SCOPE_R));
    assert_false(scope_set_allows("system/Observation.rs", "system", NULL, SCOPE_R));
    assert_true(scope_set_allows("system/*.read", "system", NULL, SCOPE_R));
    assert_false(scope_set_allows("system/*.cud", "system", NULL, SCOPE_R));
    assert_false(scope_set_allows("patient/*.rs", "system", "Patient", SCOPE_R));
    assert_true(scope_set_allows("*", "system", NULL, SCOPE_R));
    assert_true(scope_set_allows_any("system/Patient.rs", "system", SCOPE_R));
    assert_false(scope_set_allows_any("system/Patient.$match system/*.cud", "system", SCOPE_R));
}

static void test_token_url(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"https://weft.example.nhs.uk/fhir", "https://weft.example.nhs.uk/oauth/token"},
        {"https://weft.example.nhs.uk/fhir/", "https://weft.example.nhs.uk/oauth/token"},
        {"https://x.example/weft/fhir", "https://x.example/weft/oauth/token"},
        {"https://x.example", "https://x.example/oauth/token"},
    };
    for (size_t i = 0; i < 4; i++) {
        char *u = backend_token_url(cases[i][0]);
        assert_string_equal(u, cases[i][1]);
        free(u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_claims_refused),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_keys_and_algs),
        cmocka_unit_test(test_jwks_short_coordinate),
        cmocka_unit_test(test_clients_refused),
        cmocka_unit_test(test_jwks_check),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_token_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
