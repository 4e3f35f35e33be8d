/*
 * session.h - server-side sessions of launched users, SMART app tokens and
 * one-time authorisation codes.
 *
 * A secret (cookie value, bearer token, code) is 32 random bytes from
 * libsodium as 43 base64url characters, with a kind prefix so the HTTP auth
 * chain can tell them apart without a lookup: "wss_" session cookie, "wat_"
 * app access token, "wac_" authorisation code.  Only SHA-256(secret) is
 * stored (struct store_session), so a copy of the database yields no usable
 * credential.  Each launch makes a new session (new secret): an id planted
 * before launch is never adopted (session fixation).
 */
#ifndef WEFT_ACCESS_SESSION_H
#define WEFT_ACCESS_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/principal.h"
#include "store/access.h"

#define SESSION_COOKIE "weft_session"
#define SESSION_SECRET_LEN 48 /* prefix (4) + 43 base64url + NUL fits in 48 */
#define SESSION_HASH_LEN 64
#define SESSION_TTL_DEFAULT 8 * 3600 /* a working day's session */
#define SESSION_TOKEN_TTL 900        /* SMART access token: 15 minutes */
#define SESSION_CODE_TTL 60          /* authorisation code: 1 minute, one use */

struct launch_claims;

/* A new random secret with prefix ("wss_", "wat_", "wac_") into out. */
void session_secret_new(const char *prefix, char out[SESSION_SECRET_LEN]);
/* Lower-case hex SHA-256 of secret into out. */
void session_hash(const char *secret, char out[SESSION_HASH_LEN + 1]);

/* Open a session for verified launch claims and the person they name.
 * secret_out gets the cookie value; csrf_out the session's CSRF token. */
int session_open(struct store *s, const struct launch_claims *c, const char *person_id, int ttl_s,
                 char secret_out[SESSION_SECRET_LEN], char csrf_out[SESSION_SECRET_LEN]);

/* Issue a token or code (kind "token"/"code") derived from parent session
 * row, restricted to scopes, living ttl_s (never beyond the parent).  For a
 * code, parent->csrf is stored with it (the PKCE challenge). */
int session_issue(struct store *s, const struct store_session *parent, const char *kind,
                  const char *scopes, int ttl_s, char secret_out[SESSION_SECRET_LEN]);

/* Look up a valid (unexpired, unrevoked) session/token/code by secret.
 * WEFT_ENOTFOUND when there is none. */
int session_lookup(struct store *s, const char *secret, struct store_session *out);

/* Point p at ss's fields (borrowed: ss must outlive p).  App tokens carry
 * their scopes; sessions have scopes NULL. */
void session_principal(const struct store_session *ss, struct principal *p);

/* The value of cookie name in a Cookie header into out (size n); false when
 * absent or too long. */
bool session_cookie_get(const char *header, const char *name, char *out, size_t n);

/* Constant-time string equality (CSRF tokens). */
bool session_secret_equal(const char *a, const char *b);

#endif
