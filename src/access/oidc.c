/*
 * oidc.c - ID token verification, client assertions, PKCE (see oidc.h).
 *
 * OpenSSL 3 does the cryptography: a JWK's modulus and exponent become an
 * EVP_PKEY through EVP_PKEY_fromdata, signatures are EVP_DigestVerify /
 * EVP_DigestSign with PKCS#1 v1.5 padding (RS256/RS512).  JSON is jansson.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "access/oidc.h"
#include "core/buf.h"
#include "core/err.h"

static const char b64u_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64u_encode(struct buf *b, const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        buf_addc(b, b64u_chars[v >> 18 & 63]);
        buf_addc(b, b64u_chars[v >> 12 & 63]);
        buf_addc(b, b64u_chars[v >> 6 & 63]);
        buf_addc(b, b64u_chars[v & 63]);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        buf_addc(b, b64u_chars[v >> 18 & 63]);
        buf_addc(b, b64u_chars[v >> 12 & 63]);
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        buf_addc(b, b64u_chars[v >> 18 & 63]);
        buf_addc(b, b64u_chars[v >> 12 & 63]);
        buf_addc(b, b64u_chars[v >> 6 & 63]);
    }
}

/* Decode n base64url characters (no padding) into a malloc'd buffer; NULL
 * when a character is not base64url or the length is impossible. */
static unsigned char *b64u_decode(const char *s, size_t n, size_t *out_len)
{
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = xmalloc(n * 3 / 4 + 3);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = s[i] ? strchr(b64u_chars, s[i]) : NULL;
        if (!p) {
            free(out);
            return NULL;
        }
        v = v << 6 | (unsigned)(p - b64u_chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits & 0xff);
        }
    }
    *out_len = o;
    return out;
}

void oidc_random(char out[44])
{
    unsigned char r[32];
    RAND_bytes(r, sizeof r);
    struct buf b = BUF_INIT;
    b64u_encode(&b, r, sizeof r);
    memcpy(out, b.data, 43);
    out[43] = 0;
    buf_release(&b);
}

void oidc_pkce_challenge(const char *verifier, char out[44])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL);
    struct buf b = BUF_INIT;
    b64u_encode(&b, md, 32);
    memcpy(out, b.data, 43);
    out[43] = 0;
    buf_release(&b);
}

/* An RSA public key from a JWK, or NULL. */
static EVP_PKEY *jwk_rsa(const json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *n64 = json_string_value(json_object_get(jwk, "n"));
    const char *e64 = json_string_value(json_object_get(jwk, "e"));
    if (!kty || strcmp(kty, "RSA") != 0 || !n64 || !e64)
        return NULL;
    size_t nl = 0, el = 0;
    unsigned char *n = b64u_decode(n64, strlen(n64), &nl);
    unsigned char *e = b64u_decode(e64, strlen(e64), &el);
    EVP_PKEY *pkey = NULL;
    if (n && e && nl >= 64 && nl <= 1024 && el >= 1 && el <= 8) {
        BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
            (params = OSSL_PARAM_BLD_to_param(bld)) &&
            (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) &&
            EVP_PKEY_fromdata_init(ctx) > 0 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
            pkey = NULL;
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn);
        BN_free(be);
    }
    free(n);
    free(e);
    return pkey;
}

static const EVP_MD *alg_md(const char *alg)
{
    if (!alg)
        return NULL;
    if (strcmp(alg, "RS256") == 0)
        return EVP_sha256();
    if (strcmp(alg, "RS512") == 0)
        return EVP_sha512();
    return NULL;
}

static json_t *part_json(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *raw = b64u_decode(s, n, &len);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int fail(const char **why, const char *text)
{
    *why = text;
    return WEFT_EAUTH;
}

static bool aud_has(const json_t *aud, const char *client_id)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), client_id) == 0;
    size_t i;
    const json_t *a;
    json_array_foreach(aud, i, a)
    {
        if (json_is_string(a) && strcmp(json_string_value(a), client_id) == 0)
            return true;
    }
    return false;
}

/* A NumericDate claim; false when absent or not a number. */
static bool num_claim(const json_t *c, const char *name, double *out)
{
    const json_t *v = json_object_get(c, name);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static int check_claims(const json_t *c, const struct oidc_expect *x, const char **why)
{
    const char *iss = json_string_value(json_object_get(c, "iss"));
    if (!iss || strcmp(iss, x->issuer) != 0)
        return fail(why, "the sign-in token is from another issuer");
    const json_t *aud = json_object_get(c, "aud");
    if (!aud_has(aud, x->client_id))
        return fail(why, "the sign-in token was not issued to this service (audience)");
    const char *azp = json_string_value(json_object_get(c, "azp"));
    if (json_is_array(aud) && json_array_size(aud) > 1 && (!azp || strcmp(azp, x->client_id)))
        return fail(why, "the sign-in token was not issued to this service (azp)");
    if (azp && strcmp(azp, x->client_id) != 0)
        return fail(why, "the sign-in token was not issued to this service (azp)");
    double exp = 0, iat = 0, nbf = 0;
    double now = (double)x->now, leeway = x->leeway_s;
    if (!num_claim(c, "exp", &exp) || !num_claim(c, "iat", &iat))
        return fail(why, "the sign-in token has no expiry or issue time");
    if (exp + leeway <= now)
        return fail(why, "the sign-in token has expired");
    if (iat - leeway > now)
        return fail(why, "the sign-in token was issued in the future");
    if (num_claim(c, "nbf", &nbf) && nbf - leeway > now)
        return fail(why, "the sign-in token is not valid yet");
    const char *nonce = json_string_value(json_object_get(c, "nonce"));
    if (!x->nonce || !nonce || strcmp(nonce, x->nonce) != 0)
        return fail(why, "the sign-in token does not belong to this sign-in (nonce)");
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (!sub || !*sub)
        return fail(why, "the sign-in token names no subject");
    return WEFT_OK;
}

int oidc_id_token_verify(const char *token, const json_t *jwks, const struct oidc_expect *x,
                         json_t **claims_out, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *claims_out = NULL;
    const char *d1 = token ? strchr(token, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.') || strlen(token) > 16384)
        return fail(why, "the sign-in token is malformed");
    json_t *hdr = part_json(token, (size_t)(d1 - token));
    json_t *claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t siglen = 0;
    unsigned char *sig = b64u_decode(d2 + 1, strlen(d2 + 1), &siglen);
    int rc = WEFT_OK;
    const EVP_MD *md = NULL;
    const char *kid = NULL;
    if (!hdr || !claims || !sig)
        rc = fail(why, "the sign-in token is malformed");
    else if (!(md = alg_md(json_string_value(json_object_get(hdr, "alg")))))
        rc = fail(why, "the sign-in token uses an algorithm that is not accepted");
    else if (json_object_get(hdr, "crit"))
        rc = fail(why, "the sign-in token has critical extensions");
    kid = hdr ? json_string_value(json_object_get(hdr, "kid")) : NULL;
    /* the key: by kid, or the only RSA signing key when the token has none */
    EVP_PKEY *pkey = NULL;
    if (rc == WEFT_OK) {
        const json_t *keys = json_object_get(jwks, "keys");
        size_t i;
        const json_t *k;
        int candidates = 0;
        json_array_foreach(keys, i, k)
        {
            const char *use = json_string_value(json_object_get(k, "use"));
            const char *kkid = json_string_value(json_object_get(k, "kid"));
            if (use && strcmp(use, "sig") != 0)
                continue;
            if (kid ? !kkid || strcmp(kid, kkid) != 0 : false)
                continue;
            candidates++;
            if (!pkey)
                pkey = jwk_rsa(k);
        }
        if (candidates == 0)
            rc = kid ? WEFT_ENOTFOUND : fail(why, "the provider publishes no signing key");
        else if (!kid && candidates > 1)
            rc = fail(why, "the sign-in token names no key and the provider has several");
        else if (!pkey)
            rc = fail(why, "the provider's signing key is not a usable RSA key");
        else if (EVP_PKEY_get_bits(pkey) < 2048)
            rc = fail(why, "the provider's signing key is too short");
        if (rc == WEFT_ENOTFOUND)
            *why = "the sign-in token is signed with a key the provider does not publish";
    }
    if (rc == WEFT_OK) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
                  EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)token,
                                   (size_t)(d2 - token)) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok)
            rc = fail(why, "the sign-in token's signature is not valid");
    }
    if (rc == WEFT_OK)
        rc = check_claims(claims, x, why);
    EVP_PKEY_free(pkey);
    free(sig);
    json_decref(hdr);
    if (rc == WEFT_OK)
        *claims_out = claims;
    else
        json_decref(claims);
    return rc;
}

static EVP_PKEY *read_private(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (k && (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || EVP_PKEY_get_bits(k) < 2048)) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

bool oidc_key_usable(const char *key_pem)
{
    EVP_PKEY *k = key_pem ? read_private(key_pem) : NULL;
    EVP_PKEY_free(k);
    return k != NULL;
}

int oidc_client_assertion(const char *key_pem, const char *kid, const char *client_id,
                          const char *aud, time_t now, char **jwt_out)
{
    *jwt_out = NULL;
    EVP_PKEY *k = read_private(key_pem);
    if (!k)
        return WEFT_EINVAL;
    json_t *h = json_pack("{s:s, s:s}", "alg", "RS512", "typ", "JWT");
    if (kid)
        json_object_set_new(h, "kid", json_string(kid));
    char jti[44];
    oidc_random(jti);
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", client_id, "sub", client_id, "aud", aud,
                  "jti", jti, "iat", (json_int_t)now, "exp", (json_int_t)now + 60);
    char *hs = json_dumps(h, JSON_COMPACT), *cs = json_dumps(c, JSON_COMPACT);
    struct buf b = BUF_INIT;
    b64u_encode(&b, (const unsigned char *)hs, strlen(hs));
    buf_addc(&b, '.');
    b64u_encode(&b, (const unsigned char *)cs, strlen(cs));
    free(hs);
    free(cs);
    json_decref(h);
    json_decref(c);
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha512(), NULL, k) == 1 &&
              EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)b.data, b.len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    if (!ok) {
        buf_release(&b);
        return WEFT_EINVAL;
    }
    buf_addc(&b, '.');
    b64u_encode(&b, sig, siglen);
    *jwt_out = buf_detach(&b, NULL);
    return WEFT_OK;
}
