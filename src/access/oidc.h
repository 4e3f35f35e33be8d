/*
 * oidc.h - the OpenID Connect relying party's cryptography for citizen
 * sign-in in the shape of NHS login: ID token checks against the provider's
 * JWKS, the private_key_jwt client assertion, PKCE (S256) and random values.
 * Pure functions over their inputs (no I/O, no store): the sign-in flow that
 * fetches documents and keeps state is web/my_login.c.
 *
 * Algorithms: RS256 and RS512 (NHS login signs with RS512; oidc-provider
 * defaults to RS256); "none", HMAC and the rest are refused, as is any key
 * that is not an RSA key of at least 2048 bits.
 */
#ifndef WEFT_ACCESS_OIDC_H
#define WEFT_ACCESS_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

/* What the ID token must say. */
struct oidc_expect {
    const char *issuer;    /* iss, exactly */
    const char *client_id; /* in aud (string or array); azp, when present, equals it */
    const char *nonce;     /* nonce, exactly */
    time_t now;
    int leeway_s; /* clock skew allowed on exp/iat/nbf */
};

/*
 * Verify token (compact JWS) with the keys of jwks ({"keys": [...]}) and the
 * claims against x.  On success *claims_out is the payload (json_decref it).
 * WEFT_ENOTFOUND when no key of jwks has the token's kid (the provider may
 * have rotated its keys: fetch the JWKS again and retry once); WEFT_EAUTH for
 * every other failure, with *why a static sentence (malformed, algorithm,
 * signature, issuer, audience, nonce, expired, not yet valid).
 */
int oidc_id_token_verify(const char *token, const json_t *jwks, const struct oidc_expect *x,
                         json_t **claims_out, const char **why);

/* A private_key_jwt client assertion (RFC 7523): iss = sub = client_id, aud
 * = the token endpoint, a random jti, exp 60 s after now, signed RS512 with
 * the PEM private key key_pem (kid in the header when not NULL).  *jwt_out is
 * malloc'd.  WEFT_EINVAL when the key cannot be used. */
int oidc_client_assertion(const char *key_pem, const char *kid, const char *client_id,
                          const char *aud, time_t now, char **jwt_out);

/* 32 random bytes as 43 base64url characters + NUL. */
void oidc_random(char out[44]);
/* The S256 PKCE challenge of verifier (base64url SHA-256) into out. */
void oidc_pkce_challenge(const char *verifier, char out[44]);

/* Whether key_pem is a usable RSA private key (>= 2048 bits). */
bool oidc_key_usable(const char *key_pem);

#endif
