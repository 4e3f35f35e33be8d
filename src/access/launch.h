/*
 * launch.h - in-context launch: verifying the signed JWT a host system (GP
 * system, hospital EPR, social care system) hands Weft when a member of
 * staff opens a patient's shared record from inside it.
 *
 * The claims (documented for integrators in docs/ACCESS.md):
 *   iss      the launcher's registered issuer (`weft launcher add --issuer`)
 *   aud      the server's audience (config `audience`, default "weft");
 *            a string or an array containing it
 *   iat, nbf, exp   NumericDate seconds; exp at most 5 minutes after now
 *   jti      unique token id: each is accepted once
 *   sub      the user's id (SDS user id), name (display name)
 *   role     job role code known to the policy (e.g. R8000)
 *   org      ODS code of the user's organisation: must be the launcher's
 *   patient  the patient's NHS number (10 digits, valid check digit)
 *   purpose  TREAT (default) or another purpose of use
 *
 * Verification order: size and shape; the header's alg must be exactly the
 * algorithm pinned for the issuer's launcher (so "none" and RS256->HS256
 * confusion are refused before any key is used); signature (libjwt); aud,
 * exp, nbf, iat; required claims; then the jti is recorded (a replay fails).
 */
#ifndef WEFT_ACCESS_LAUNCH_H
#define WEFT_ACCESS_LAUNCH_H

#include <stdint.h>
#include <time.h>

struct store;

#define LAUNCH_MAX_TOKEN 8192
#define LAUNCH_MAX_AHEAD 300 /* exp may be at most this many seconds after now */
#define LAUNCH_LEEWAY 30     /* clock skew allowed on nbf/iat/exp */

struct launch_claims {
    char *iss, *sub, *name, *role, *org, *patient, *purpose, *jti;
    int64_t iat, nbf, exp;
    char *launcher; /* the registered launcher's name */
};
void launch_claims_clear(struct launch_claims *c);

/*
 * Verify token for audience at time now.  Returns 0 and fills *out (release
 * with launch_claims_clear), or WEFT_EAUTH with *why set to a static,
 * patient-free explanation ("token expired", "algorithm not allowed for this
 * issuer", ...).  Fields of *out that could be read before the failure (iss,
 * sub, role, org, launcher) are filled even on failure, for the audit entry.
 * Other negative codes: the check could not be made (store error).
 */
int launch_verify(struct store *s, const char *token, const char *audience, time_t now,
                  struct launch_claims *out, const char **why);

/* Base64url without padding, for tests and SMART: decode src[0..len) into a
 * malloc'd buffer (NUL-terminated for convenience), NULL on bad input. */
unsigned char *launch_b64url_decode(const char *src, size_t len, size_t *out_len);

#endif
