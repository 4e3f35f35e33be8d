/*
 * backend.h - SMART Backend Services: a system (a GP system's population
 * tool, a commissioner's analytics platform) that is registered with its
 * public key set and signs its own short-lived assertion to get an access
 * token, with no user and no shared secret (HL7 SMART App Launch 2.x,
 * "Backend Services"; RFC 7523 private_key_jwt client authentication).
 *
 * Registration (weft client add --jwks FILE) keeps the client's JWKS: RSA
 * keys (at least 2048 bits) for RS384 and EC P-384 keys for ES384, each with
 * a kid; private parts are refused.  At /oauth/token the client sends
 *   grant_type=client_credentials
 *   client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
 *   client_assertion=<JWT>   scope=system/\*.rs ...
 * and the assertion is checked in this order (the first failure is the
 * answer): size and shape; header alg RS384 or ES384 (so "none", HS256 and
 * everything else are refused before any key is used) and a kid, no jku;
 * iss present and equal to sub, and the id of an active client registered
 * with keys; the kid names one of its keys, of the type the alg needs (and
 * the key's own alg, use and key_ops, if it states them, allow it); the
 * signature (OpenSSL libcrypto); aud is the token URL; exp present, not
 * passed (30 s leeway) and at most 5 minutes ahead; nbf/iat not in the
 * future; jti present; then the jti is recorded in the store until the
 * assertion's exp (store_jti_use, issuer "backend:ID"), so a replay is
 * refused on every node sharing the store.
 *
 * The access token ("wbt_" and 43 base64url characters) is a row of the
 * session table (kind "backend", only its SHA-256 kept) naming the client;
 * every request re-reads the client, so revoking it ends its tokens.
 */
#ifndef WEFT_ACCESS_BACKEND_H
#define WEFT_ACCESS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "access/session.h"
#include "store/access.h"

struct store;

#define BACKEND_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define BACKEND_MAX_ASSERTION 16384 /* bytes of a client_assertion */
#define BACKEND_MAX_JWKS 65536      /* bytes of a registered key set */
#define BACKEND_MAX_KEYS 16         /* keys in one set */
#define BACKEND_MAX_AHEAD 300       /* exp at most this many seconds after now */
#define BACKEND_LEEWAY 30           /* clock skew allowed on exp, nbf, iat */
#define BACKEND_TOKEN_TTL 300       /* the access token's life, seconds */
#define BACKEND_TOKEN_PREFIX "wbt_"
#define BACKEND_MIN_RSA_BITS 2048

/* The purposes a client is registered for (store_client.purpose). */
#define BACKEND_PURPOSE_DIRECT "direct"
#define BACKEND_PURPOSE_SECONDARY "secondary"

/*
 * Check a key set for registration: JSON text, an object with "keys", 1 to
 * BACKEND_MAX_KEYS public keys, each kty RSA (n, e; at least 2048 bits) or
 * kty EC with crv P-384 (x, y on the curve), a kid unique in the set, no
 * private member (d, p, q, dp, dq, qi, oth, k).  Returns the number of keys,
 * or WEFT_EINVAL with *why a static explanation.
 */
int backend_jwks_check(const char *jwks, const char **why);

/* Why an assertion was refused: the RFC 6749 error code, the HTTP status
 * and a static, secret-free reason. */
struct backend_refusal {
    const char *error; /* "invalid_client", "invalid_grant", ... */
    int status;        /* 401 for invalid_client, else 400 */
    const char *why;
};

/*
 * Verify a client_assertion for the token endpoint token_url at time now.
 * Returns 0 with *client the registered client (release with
 * store_client_clear).  Returns WEFT_EAUTH with *ref filled when refused;
 * *client then holds the client when it could be named (id non-zero), for
 * the audit entry.  Other negative codes: the check could not be made
 * (store failure; ref says so too).
 */
int backend_assertion_verify(struct store *s, const char *assertion, const char *token_url,
                             time_t now, struct store_client *client, struct backend_refusal *ref);

/*
 * The scopes to grant for requested (space-separated, as the client sent
 * them) to a client registered with registered (NULL: "system/\*.rs").
 * Each requested scope must be a system-level scope (access/scope.h):
 * otherwise NULL and *why.  Those within one of the registered scopes are
 * granted as written; the others are left out (RFC 6749 3.3: the token
 * response says what was granted).  NULL and *why when nothing is left.
 * The result is malloc'd (caller frees).
 */
char *backend_scope_grant(const char *requested, const char *registered, const char **why);

/*
 * Issue an access token for client with scopes, living BACKEND_TOKEN_TTL
 * seconds: secret_out gets the token (shown once), the store only its hash.
 */
int backend_token_issue(struct store *s, const struct store_client *client, const char *scopes,
                        char secret_out[SESSION_SECRET_LEN]);

/*
 * The token endpoint's URL for a server whose FHIR base is base_url
 * ("https://weft.example.nhs.uk/fhir"): the base without its last "/fhir"
 * segment, then "/oauth/token".  malloc'd.
 */
char *backend_token_url(const char *base_url);

#endif
