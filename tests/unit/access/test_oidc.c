/* test_oidc.c - ID token verification (access/oidc.h) against every way a
 * token can be wrong, with keys made here by OpenSSL: a good token passes;
 * expired, not yet valid, issued in the future, wrong issuer, wrong audience,
 * wrong azp, wrong or missing nonce, no subject, forged signature, a token
 * altered after signing, alg none, HS256 (key confusion), an unknown kid
 * (WEFT_ENOTFOUND: refetch the JWKS), a short key and malformed input are
 * refused.  Also the PKCE challenge (RFC 7636 appendix B) and that a client
 * assertion verifies with the public half of its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "access/oidc.h"
#include "core/buf.h"
#include "core/err.h"

static EVP_PKEY *key_a, *key_b, *key_short;
static const time_t NOW = 1780000000;

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

static json_t *jwk_of(EVP_PKEY *k, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
    unsigned char nb[1024], eb[16];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    struct buf ns = BUF_INIT, es = BUF_INIT;
    b64u(&ns, nb, (size_t)nl);
    b64u(&es, eb, (size_t)el);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid, "use", "sig", "n",
                          ns.data, "e", es.data);
    buf_release(&ns);
    buf_release(&es);
    BN_free(n);
    BN_free(e);
    return j;
}

/* A compact JWS of header and claims signed by k (NULL: no signature). */
static char *jws(json_t *h, json_t *c, EVP_PKEY *k, const EVP_MD *md)
{
    char *hs = json_dumps(h, JSON_COMPACT), *cs = json_dumps(c, JSON_COMPACT);
    struct buf b = BUF_INIT;
    b64u(&b, (const unsigned char *)hs, strlen(hs));
    buf_addc(&b, '.');
    b64u(&b, (const unsigned char *)cs, strlen(cs));
    buf_addc(&b, '.');
    if (k) {
        unsigned char sig[1024];
        size_t sl = sizeof sig;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &sl, (unsigned char *)b.data, b.len - 1), 1);
        EVP_MD_CTX_free(ctx);
        b64u(&b, sig, sl);
    }
    free(hs);
    free(cs);
    json_decref(h);
    json_decref(c);
    return buf_detach(&b, NULL);
}

static json_t *claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", "https://op.example", "sub",
                     "user-1", "aud", "weft", "iat", (json_int_t)NOW - 10, "exp",
                     (json_int_t)NOW + 300, "nonce", "n-123", "nhs_number", "9434765919",
                     "identity_proofing_level", "P9");
}

static const struct oidc_expect X = {"https://op.example", "weft", "n-123", NOW, 60};

static json_t *jwks(void)
{
    return json_pack("{s:[o,o]}", "keys", jwk_of(key_a, "a"), jwk_of(key_short, "short"));
}

static int verify(char *tok, const char **why)
{
    json_t *keys = jwks(), *out = NULL;
    int rc = oidc_id_token_verify(tok, keys, &X, &out, why);
    if (rc == 0) {
        assert_string_equal(json_string_value(json_object_get(out, "nhs_number")), "9434765919");
        json_decref(out);
    } else {
        assert_null(out);
    }
    json_decref(keys);
    free(tok);
    return rc;
}

static json_t *hdr(const char *alg, const char *kid)
{
    json_t *h = json_pack("{s:s}", "alg", alg);
    if (kid)
        json_object_set_new(h, "kid", json_string(kid));
    return h;
}

static void expect_refused(json_t *c, json_t *h, EVP_PKEY *k, const char *words)
{
    const char *why = NULL;
    int rc = verify(jws(h, c, k, EVP_sha256()), &why);
    assert_int_equal(rc, WEFT_EAUTH);
    if (!why || !strstr(why, words))
        fail_msg("wanted '%s', got '%s'", words, why ? why : "(null)");
}

static void test_good_and_bad(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(verify(jws(hdr("RS256", "a"), claims(), key_a, EVP_sha256()), &why), 0);
    assert_int_equal(verify(jws(hdr("RS512", "a"), claims(), key_a, EVP_sha512()), &why), 0);
    json_t *c;
    c = claims(), json_object_set_new(c, "exp", json_integer(NOW - 61));
    expect_refused(c, hdr("RS256", "a"), key_a, "expired");
    c = claims(), json_object_set_new(c, "nbf", json_integer(NOW + 600));
    expect_refused(c, hdr("RS256", "a"), key_a, "not valid yet");
    c = claims(), json_object_set_new(c, "iat", json_integer(NOW + 600));
    expect_refused(c, hdr("RS256", "a"), key_a, "future");
    c = claims(), json_object_set_new(c, "iss", json_string("https://evil.example"));
    expect_refused(c, hdr("RS256", "a"), key_a, "issuer");
    c = claims(), json_object_set_new(c, "aud", json_string("another"));
    expect_refused(c, hdr("RS256", "a"), key_a, "audience");
    c = claims(), json_object_set_new(c, "aud", json_pack("[s,s]", "weft", "another"));
    expect_refused(c, hdr("RS256", "a"), key_a, "azp");
    c = claims(), json_object_set_new(c, "azp", json_string("another"));
    expect_refused(c, hdr("RS256", "a"), key_a, "azp");
    c = claims(), json_object_set_new(c, "nonce", json_string("n-999"));
    expect_refused(c, hdr("RS256", "a"), key_a, "nonce");
    c = claims(), json_object_del(c, "nonce");
    expect_refused(c, hdr("RS256", "a"), key_a, "nonce");
    c = claims(), json_object_del(c, "sub");
    expect_refused(c, hdr("RS256", "a"), key_a, "subject");
    c = claims(), json_object_del(c, "exp");
    expect_refused(c, hdr("RS256", "a"), key_a, "expiry");
    expect_refused(claims(), hdr("RS256", "a"), key_b, "signature"); /* forged */
    expect_refused(claims(), hdr("none", "a"), NULL, "algorithm");   /* unsigned */
    expect_refused(claims(), hdr("HS256", "a"), key_a, "algorithm"); /* key confusion */
    expect_refused(claims(), hdr("RS256", "short"), key_short, "too short");
    /* altered after signing */
    char *tok = jws(hdr("RS256", "a"), claims(), key_a, EVP_sha256());
    char *dot = strchr(tok, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tok, &why), WEFT_EAUTH);
    /* a key the JWKS does not hold: the caller fetches it again */
    assert_int_equal(verify(jws(hdr("RS256", "rotated"), claims(), key_b, EVP_sha256()), &why),
                     WEFT_ENOTFOUND);
    /* no kid and several keys */
    expect_refused(claims(), hdr("RS256", NULL), key_a, "several");
    /* malformed */
    assert_int_equal(verify(xstrdup("abc"), &why), WEFT_EAUTH);
    assert_int_equal(verify(xstrdup("a.b.c.d"), &why), WEFT_EAUTH);
    assert_int_equal(verify(xstrdup("!!.??.**"), &why), WEFT_EAUTH);
}

static void test_pkce_and_assertion(void **state)
{
    (void)state;
    char ch[44];
    oidc_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
    assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    char r1[44], r2[44];
    oidc_random(r1);
    oidc_random(r2);
    assert_int_equal(strlen(r1), 43);
    assert_string_not_equal(r1, r2);
    /* the assertion verifies with the public half (as a JWKS) */
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key_a, NULL, NULL, 0, NULL, NULL);
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    char *pemz = xmalloc((size_t)n + 1);
    memcpy(pemz, pem, (size_t)n);
    pemz[n] = 0;
    BIO_free(bio);
    assert_true(oidc_key_usable(pemz));
    assert_false(oidc_key_usable("not a key"));
    char *jwt = NULL;
    assert_int_equal(
        oidc_client_assertion(pemz, "a", "weft", "https://op.example/token", NOW, &jwt), 0);
    json_t *keys = json_pack("{s:[o]}", "keys", jwk_of(key_a, "a")), *out = NULL;
    /* its claims are not an ID token's (no nonce): the signature part passes, the nonce fails */
    const char *why = NULL;
    struct oidc_expect x = {"weft", "https://op.example/token", "none", NOW, 0};
    assert_int_equal(oidc_id_token_verify(jwt, keys, &x, &out, &why), WEFT_EAUTH);
    assert_non_null(strstr(why, "nonce"));
    json_decref(keys);
    free(jwt);
    free(pemz);
}

static int setup(void **state)
{
    (void)state;
    key_a = EVP_RSA_gen(2048);
    key_b = EVP_RSA_gen(2048);
    key_short = EVP_RSA_gen(1024);
    return key_a && key_b && key_short ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    EVP_PKEY_free(key_short);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_and_bad),
        cmocka_unit_test(test_pkce_and_assertion),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
