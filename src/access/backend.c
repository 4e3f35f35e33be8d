/*
 * backend.c - SMART Backend Services (see backend.h): key sets, client
 * assertions, scopes and access tokens.
 *
 * The signature is checked with OpenSSL's libcrypto directly rather than
 * libjwt: libjwt 1.10 (Debian 12) reads no JWKS and takes the algorithm from
 * the token's own header (the algorithm-confusion trap launch.c works
 * around), while here the key comes from the registered set by kid and the
 * algorithm is fixed by the key's type before anything is verified.  JOSE's
 * ES384 signature is r || s (48 bytes each); libcrypto wants DER, so it is
 * re-encoded.
 *
 * Workload: one verification per token request (a few a minute per
 * client); the keys are rebuilt from the JWKS each time, which costs
 * microseconds and keeps no key state between requests.
 */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/backend.h"
#include "access/launch.h"
#include "access/scope.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"

#define DEFAULT_REGISTERED "system/*.rs"
#define EC384_COORD 48 /* bytes of a P-384 coordinate, and of r and s */

/* ---- JWKs ------------------------------------------------------------------------------- */

/* A base64url member of a JWK, decoded; NULL when absent or not base64url. */
static unsigned char *jwk_bytes(json_t *k, const char *name, size_t *n)
{
    const char *v = json_string_value(json_object_get(k, name));
    if (!v || !*v)
        return NULL;
    return launch_b64url_decode(v, strlen(v), n);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* An RSA public key from n and e (at least BACKEND_MIN_RSA_BITS). */
static EVP_PKEY *jwk_rsa(json_t *k, const char **why)
{
    size_t nn = 0, en = 0;
    unsigned char *n = jwk_bytes(k, "n", &nn), *e = jwk_bytes(k, "e", &en);
    EVP_PKEY *pk = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    *why = "an RSA key needs n and e (base64url)";
    if (!n || !e || en == 0 || en > 8)
        goto out;
    bn = BN_bin2bn(n, (int)nn, NULL);
    be = BN_bin2bn(e, (int)en, NULL);
    if (!bn || !be)
        goto out;
    if (BN_num_bits(bn) < BACKEND_MIN_RSA_BITS) {
        *why = "an RSA key must have at least 2048 bits";
        goto out;
    }
    if (!BN_is_odd(be) || BN_is_one(be)) {
        *why = "an RSA key's exponent e must be odd and greater than 1";
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)))
        goto out;
    pk = pkey_fromdata("RSA", params);
    *why = pk ? NULL : "the RSA key could not be read";
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pk;
}

/* An EC P-384 public key from x and y, which must be a point on the curve.
 * RFC 7518 6.2.1.2 wants each coordinate at its full 48 bytes, but some
 * clients drop leading zero bytes (PyJWT 2.6, Debian 12's python3-jwt, about
 * one key in 128): a shorter coordinate is the same number, left-padded
 * here. */
static EVP_PKEY *jwk_ec384(json_t *k, const char **why)
{
    const char *crv = json_string_value(json_object_get(k, "crv"));
    if (!crv || strcmp(crv, "P-384") != 0) {
        *why = "an EC key must be on the curve P-384 (crv), for ES384";
        return NULL;
    }
    size_t xn = 0, yn = 0;
    unsigned char *x = jwk_bytes(k, "x", &xn), *y = jwk_bytes(k, "y", &yn);
    EVP_PKEY *pk = NULL;
    *why = "an EC P-384 key needs x and y of 48 bytes each (base64url)";
    if (x && y && xn >= 1 && xn <= EC384_COORD && yn >= 1 && yn <= EC384_COORD) {
        unsigned char pub[1 + 2 * EC384_COORD];
        memset(pub, 0, sizeof pub);
        pub[0] = 0x04; /* uncompressed point */
        memcpy(pub + 1 + (EC384_COORD - xn), x, xn);
        memcpy(pub + 1 + EC384_COORD + (EC384_COORD - yn), y, yn);
        char group[] = "secp384r1";
        OSSL_PARAM params[] = {
            OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
            OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
            OSSL_PARAM_END,
        };
        pk = pkey_fromdata("EC", params);
        if (pk) {
            /* decoding checks the point; the public check says so again */
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
            if (!c || EVP_PKEY_public_check(c) != 1) {
                EVP_PKEY_free(pk);
                pk = NULL;
            }
            EVP_PKEY_CTX_free(c);
        }
        *why = pk ? NULL : "the EC key's x and y are not a point on P-384";
    }
    free(x);
    free(y);
    return pk;
}

/* The key of JWK k, or NULL and *why.  *es384 says which algorithm it is
 * for (kty EC: ES384; kty RSA: RS384). */
static EVP_PKEY *jwk_key(json_t *k, bool *es384, const char **why)
{
    const char *kty = json_string_value(json_object_get(k, "kty"));
    *es384 = false;
    if (kty && strcmp(kty, "RSA") == 0)
        return jwk_rsa(k, why);
    if (kty && strcmp(kty, "EC") == 0) {
        *es384 = true;
        return jwk_ec384(k, why);
    }
    *why = "a key's kty must be RSA (for RS384) or EC (P-384, for ES384)";
    return NULL;
}

static bool has_private_part(json_t *k)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        if (json_object_get(k, priv[i]))
            return true;
    return false;
}

static bool printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static json_t *jwks_keys(json_t *set)
{
    json_t *keys = json_object_get(set, "keys");
    return json_is_array(keys) ? keys : NULL;
}

int backend_jwks_check(const char *jwks, const char **why)
{
    *why = NULL;
    if (!jwks || strlen(jwks) > BACKEND_MAX_JWKS) {
        *why = "the key set is empty or larger than 64 KiB";
        return WEFT_EINVAL;
    }
    json_t *set = json_loads(jwks, JSON_REJECT_DUPLICATES, NULL);
    json_t *keys = json_is_object(set) ? jwks_keys(set) : NULL;
    int rc = WEFT_EINVAL;
    size_t n = keys ? json_array_size(keys) : 0;
    if (!keys) {
        *why = "the key set is not a JWKS (a JSON object with \"keys\": [...])";
        goto out;
    }
    if (n == 0 || n > BACKEND_MAX_KEYS) {
        *why = "the key set must hold 1 to 16 keys";
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *k = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(k, "kid"));
        if (!json_is_object(k) || !printable(kid, 200)) {
            *why = "every key needs a kid (1-200 printable characters)";
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(kid, json_string_value(json_object_get(json_array_get(keys, j), "kid"))) ==
                0) {
                *why = "two keys have the same kid";
                goto out;
            }
        if (has_private_part(k)) {
            *why = "the key set holds a private key: register only the public keys";
            goto out;
        }
        const char *alg = json_string_value(json_object_get(k, "alg"));
        bool es = false;
        EVP_PKEY *pk = jwk_key(k, &es, why);
        if (!pk)
            goto out;
        EVP_PKEY_free(pk);
        if (alg && strcmp(alg, es ? "ES384" : "RS384") != 0) {
            *why = "a key's alg must be RS384 (RSA) or ES384 (EC P-384)";
            goto out;
        }
    }
    rc = (int)n;
out:
    json_decref(set);
    return rc;
}

/* ---- assertions ------------------------------------------------------------------------- */

static json_t *segment_json(const char *s, size_t len)
{
    size_t n;
    unsigned char *raw = launch_b64url_decode(s, len, &n);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Latest NumericDate accepted: 9999-12-31T23:59:59Z. */
#define CLAIM_TIME_MAX 253402300799.0

/* 1 with *out, 0 when absent, -1 when not seconds from 1970 to 9999. */
static int claim_time(json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > (json_int_t)CLAIM_TIME_MAX)
            return -1;
        *out = (int64_t)i;
        return 1;
    }
    if (!json_is_real(v))
        return -1;
    double d = json_real_value(v);
    if (!(d >= 0.0 && d <= CLAIM_TIME_MAX)) /* also NaN */
        return -1;
    *out = (int64_t)d;
    return 1;
}

static bool aud_matches(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    if (json_is_array(aud))
        json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                          strcmp(json_string_value(v), want) == 0) return true;
    return false;
}

/* A client id as issued: decimal, no sign, no leading zero. */
static bool parse_client_id(const char *s, int64_t *id)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || s[0] == '0')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *id = v;
    return true;
}

/* Whether the JWK's own alg, use and key_ops (when it states them) allow
 * verifying with alg. */
static bool jwk_allows(json_t *k, const char *alg)
{
    const char *kalg = json_string_value(json_object_get(k, "alg"));
    const char *use = json_string_value(json_object_get(k, "use"));
    json_t *ops = json_object_get(k, "key_ops");
    if ((kalg && strcmp(kalg, alg) != 0) || (use && strcmp(use, "sig") != 0))
        return false;
    if (!ops)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(ops, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), "verify") == 0) return true;
    return false;
}

/* Verify sig over data[0..n) with pk: RS384 (PKCS #1 v1.5, SHA-384) or
 * ES384 (JOSE r || s, re-encoded as DER). */
static bool signature_ok(EVP_PKEY *pk, bool es384, const char *data, size_t n,
                         const unsigned char *sig, size_t siglen)
{
    unsigned char *der = NULL;
    int derlen = 0;
    if (es384) {
        if (siglen != 2 * EC384_COORD)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, EC384_COORD, NULL);
        BIGNUM *s = BN_bin2bn(sig + EC384_COORD, EC384_COORD, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (derlen <= 0)
            return false;
        sig = der;
        siglen = (size_t)derlen;
    }
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    bool ok = m && EVP_DigestVerifyInit(m, NULL, EVP_sha384(), NULL, pk) == 1 &&
              EVP_DigestVerify(m, sig, siglen, (const unsigned char *)data, n) == 1;
    EVP_MD_CTX_free(m);
    OPENSSL_free(der);
    return ok;
}

static int refuse(struct backend_refusal *ref, const char *error, const char *why)
{
    ref->error = error;
    ref->status = strcmp(error, "invalid_client") == 0 ? 401 : 400;
    ref->why = why;
    return WEFT_EAUTH;
}

#define BAD_CLIENT(why) refuse(ref, "invalid_client", why)
#define BAD_GRANT(why) refuse(ref, "invalid_grant", why)

int backend_assertion_verify(struct store *s, const char *assertion, const char *token_url,
                             time_t now, struct store_client *client, struct backend_refusal *ref)
{
    memset(client, 0, sizeof *client);
    memset(ref, 0, sizeof *ref);
    size_t alen = assertion ? strlen(assertion) : 0;
    if (alen == 0)
        return BAD_CLIENT("no client_assertion was sent");
    if (alen > BACKEND_MAX_ASSERTION)
        return BAD_CLIENT("the client_assertion is larger than 16 KiB");
    const char *dot1 = strchr(assertion, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot2[1] == 0)
        return BAD_CLIENT("the client_assertion is not a signed JWT (header.payload.signature)");
    json_t *hdr = segment_json(assertion, (size_t)(dot1 - assertion));
    json_t *pl = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    json_t *set = NULL;
    EVP_PKEY *pk = NULL;
    unsigned char *sig = NULL;
    int rc;
    if (!hdr || !pl) {
        rc = BAD_CLIENT("the client_assertion's header or payload is not a JSON object");
        goto out;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg || (strcmp(alg, "RS384") != 0 && strcmp(alg, "ES384") != 0)) {
        rc = BAD_CLIENT("the client_assertion's alg must be RS384 or ES384");
        goto out;
    }
    if (json_object_get(hdr, "jku") || json_object_get(hdr, "x5u") || json_object_get(hdr, "jwk") ||
        json_object_get(hdr, "x5c") || json_object_get(hdr, "crit")) {
        rc = BAD_CLIENT("the client_assertion's header names keys or extensions (jku, x5u, jwk, "
                        "x5c, crit): only the key set registered for the client is used");
        goto out;
    }
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    if (!printable(kid, 200)) {
        rc = BAD_CLIENT("the client_assertion's header has no kid");
        goto out;
    }
    const char *iss = json_string_value(json_object_get(pl, "iss"));
    const char *sub = json_string_value(json_object_get(pl, "sub"));
    if (!iss || !sub || strcmp(iss, sub) != 0) {
        rc = BAD_CLIENT("the client_assertion's iss and sub must both be the client id");
        goto out;
    }
    int64_t id = 0;
    rc = parse_client_id(iss, &id) ? store_client_get(s, id, client) : WEFT_ENOTFOUND;
    if (rc == WEFT_ENOTFOUND) {
        rc = BAD_CLIENT("the client_assertion's iss is not a registered client id");
        goto out;
    }
    if (rc) {
        ref->error = "temporarily_unavailable";
        ref->status = 503;
        ref->why = "the client could not be looked up";
        goto out;
    }
    if (client->revoked) {
        rc = BAD_CLIENT("the client's registration was revoked");
        goto out;
    }
    if (!client->jwks) {
        rc = BAD_CLIENT("the client is registered with a bearer token, not a key set");
        goto out;
    }
    set = json_loads(client->jwks, 0, NULL);
    json_t *keys = set ? jwks_keys(set) : NULL, *key = NULL, *k;
    size_t i;
    if (keys)
        json_array_foreach(keys, i, k)
        {
            const char *kk = json_string_value(json_object_get(k, "kid"));
            if (kk && strcmp(kk, kid) == 0) {
                key = k;
                break;
            }
        }
    if (!key) {
        rc = BAD_CLIENT("no key with the client_assertion's kid is registered for the client");
        goto out;
    }
    bool es384 = false;
    const char *kwhy = NULL;
    pk = jwk_key(key, &es384, &kwhy);
    if (!pk || strcmp(alg, es384 ? "ES384" : "RS384") != 0 || !jwk_allows(key, alg)) {
        rc = BAD_CLIENT("the key the kid names is not for the client_assertion's alg");
        goto out;
    }
    size_t siglen = 0;
    sig = launch_b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    if (!sig || !signature_ok(pk, es384, assertion, (size_t)(dot2 - assertion), sig, siglen)) {
        rc = BAD_CLIENT("the client_assertion's signature does not verify with the registered "
                        "key");
        goto out;
    }
    /* who sent it is settled: what is wrong from here on is the assertion */
    if (!token_url || !aud_matches(json_object_get(pl, "aud"), token_url)) {
        rc = BAD_GRANT("the client_assertion's aud is not this server's token URL");
        goto out;
    }
    int64_t exp = 0, nbf = 0, iat = 0;
    int te = claim_time(pl, "exp", &exp), tn = claim_time(pl, "nbf", &nbf),
        ti = claim_time(pl, "iat", &iat);
    if (te <= 0 || tn < 0 || ti < 0) {
        rc = BAD_GRANT("the client_assertion needs exp, and exp, nbf and iat must be times "
                       "(seconds since 1970)");
        goto out;
    }
    if (exp <= (int64_t)now - BACKEND_LEEWAY) {
        rc = BAD_GRANT("the client_assertion has expired");
        goto out;
    }
    if (exp > (int64_t)now + BACKEND_MAX_AHEAD + BACKEND_LEEWAY) {
        rc = BAD_GRANT("the client_assertion's exp is more than 5 minutes ahead");
        goto out;
    }
    if ((tn > 0 && nbf > (int64_t)now + BACKEND_LEEWAY) ||
        (ti > 0 && iat > (int64_t)now + BACKEND_LEEWAY)) {
        rc = BAD_GRANT("the client_assertion is not valid yet (nbf or iat in the future): check "
                       "clocks");
        goto out;
    }
    const char *jti = json_string_value(json_object_get(pl, "jti"));
    if (!printable(jti, 200)) {
        rc = BAD_GRANT("the client_assertion has no jti (1-200 printable characters)");
        goto out;
    }
    /* last: a refused assertion does not burn its jti */
    char issuer[40], until[32];
    snprintf(issuer, sizeof issuer, "backend:%lld", (long long)client->id);
    time_t et = (time_t)exp + BACKEND_LEEWAY;
    struct tm tm;
    gmtime_r(&et, &tm);
    strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    rc = store_jti_use(s, issuer, jti, until);
    if (rc == WEFT_EEXIST) {
        rc = BAD_GRANT("the client_assertion's jti was used before (a replay)");
        goto out;
    }
    if (rc) {
        ref->error = "temporarily_unavailable";
        ref->status = 503;
        ref->why = "the assertion's jti could not be recorded";
        goto out;
    }
out:
    free(sig);
    EVP_PKEY_free(pk);
    json_decref(set);
    json_decref(hdr);
    json_decref(pl);
    return rc;
}

/* ---- scopes, tokens ------------------------------------------------------------------------ */

/* Whether requested scope (parsed as r, text t[0..n)) is within one of the
 * registered scopes. */
static bool registered_covers(const char *registered, const struct scope *r, const char *t,
                              size_t n)
{
    const char *p = registered;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        struct scope g;
        if (e > p) {
            if ((e - p == 1 && *p == '*') || ((size_t)(e - p) == n && strncmp(p, t, n) == 0))
                return true;
            if (scope_parse(p, (size_t)(e - p), &g) && scope_within(r, &g))
                return true;
        }
        p = e;
    }
    return false;
}

char *backend_scope_grant(const char *requested, const char *registered, const char **why)
{
    *why = NULL;
    if (!registered || !*registered)
        registered = DEFAULT_REGISTERED;
    struct buf b = BUF_INIT;
    const char *p = requested ? requested : "";
    bool any = false;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e == p)
            break;
        any = true;
        struct scope sc;
        if (!scope_parse(p, (size_t)(e - p), &sc) || strcmp(sc.level, "system") != 0) {
            *why = "every scope must be a system scope such as system/*.rs or "
                   "system/Patient.rs (Backend Services act for no user or patient)";
            buf_release(&b);
            return NULL;
        }
        if (registered_covers(registered, &sc, p, (size_t)(e - p))) {
            if (b.len)
                buf_addc(&b, ' ');
            buf_add(&b, p, (size_t)(e - p));
        }
        p = e;
    }
    if (!any) {
        *why = "no scope was asked for (e.g. scope=system/*.rs)";
        return NULL;
    }
    if (b.len == 0) {
        buf_release(&b);
        *why = "none of the scopes asked for is within the client's registered scopes";
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int backend_token_issue(struct store *s, const struct store_client *client, const char *scopes,
                        char secret_out[SESSION_SECRET_LEN])
{
    session_secret_new(BACKEND_TOKEN_PREFIX, secret_out);
    char hash[SESSION_HASH_LEN + 1], now[32], exp[32], id[24];
    session_hash(secret_out, hash);
    audit_now(now);
    time_t t = time(NULL) + BACKEND_TOKEN_TTL;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    snprintf(id, sizeof id, "%lld", (long long)client->id);
    struct store_session ss = {
        .id_hash = hash,
        .kind = "backend",
        .org = client->org,
        .scopes = (char *)scopes,
        .created = now,
        .expires = exp,
        .app = id,
    };
    return store_session_put(s, &ss);
}

char *backend_token_url(const char *base_url)
{
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    if (n >= 5 && strncmp(base_url + n - 5, "/fhir", 5) == 0)
        n -= 5;
    struct buf b = BUF_INIT;
    buf_add(&b, base_url, n);
    buf_adds(&b, "/oauth/token");
    return buf_detach(&b, NULL);
}
