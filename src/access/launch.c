/*
 * launch.c - verification of in-context launch tokens (see launch.h).
 *
 * libjwt checks the signature; everything around it is done here, because
 * libjwt 1.10 picks the algorithm from the token's own header: handed an
 * RSA public key PEM and a token claiming HS256, it would happily HMAC with
 * the PEM text as the secret (the classic algorithm-confusion attack).  So
 * the header is read first and its alg must equal the one pinned for the
 * issuer's launcher before any key is used, and libjwt's view of the alg is
 * checked again afterwards.
 */
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "access/launch.h"
#include "core/buf.h"
#include "core/err.h"
#include "identity/nhs.h"
#include "store/access.h"

void launch_claims_clear(struct launch_claims *c)
{
    char **f[] = {&c->iss,     &c->sub,     &c->name, &c->role,    &c->org,
                  &c->patient, &c->purpose, &c->jti,  &c->launcher};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(c, 0, sizeof *c);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *launch_b64url_decode(const char *src, size_t len, size_t *out_len)
{
    while (len > 0 && src[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = xmalloc(len * 3 / 4 + 2);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(src[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = 0;
    if (out_len)
        *out_len = o;
    return out;
}

/* Decode one base64url JSON segment into an object; NULL when it is not. */
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

static char *claim_str(json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v && *v ? xstrdup(v) : NULL;
}

/* Latest NumericDate accepted: 9999-12-31T23:59:59Z.  Checked on the
 * number as sent, before it becomes an int64_t (a double such as 1e300 has
 * no int64_t value: converting it is undefined). */
#define CLAIM_TIME_MAX 253402300799.0

/* NumericDate claim: 1 with *out set, 0 when absent, -1 when present but not
 * a number of seconds from 1970 to 9999. */
static int claim_time(json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!v)
        return 0;
    double d;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > (json_int_t)CLAIM_TIME_MAX)
            return -1;
        *out = (int64_t)i;
        return 1;
    }
    if (!json_is_real(v))
        return -1;
    d = json_real_value(v);
    if (!(d >= 0.0 && d <= CLAIM_TIME_MAX)) /* also NaN */
        return -1;
    *out = (int64_t)d;
    return 1;
}

static bool aud_matches(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                          strcmp(json_string_value(v), want) == 0) return true;
    }
    return false;
}

static bool printable_id(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int launch_verify(struct store *s, const char *token, const char *audience, time_t now,
                  struct launch_claims *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (!audience || !*audience)
        audience = "weft";
    size_t tlen = token ? strlen(token) : 0;
    if (tlen == 0) {
        *why = "no launch token was given";
        return WEFT_EAUTH;
    }
    if (tlen > LAUNCH_MAX_TOKEN) {
        *why = "launch token too large";
        return WEFT_EAUTH;
    }
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.')) {
        *why = "launch token is not a signed JWT (header.payload.signature)";
        return WEFT_EAUTH;
    }
    json_t *hdr = segment_json(token, (size_t)(dot1 - token));
    json_t *pl = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    int rc = WEFT_EAUTH;
    struct store_launcher l = {0};
    jwt_t *jwt = NULL;
    if (!hdr || !pl) {
        *why = "launch token header or payload is not valid JSON";
        goto done;
    }
    out->iss = claim_str(pl, "iss");
    out->sub = claim_str(pl, "sub");
    out->role = claim_str(pl, "role");
    out->org = claim_str(pl, "org");
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg) {
        *why = "launch token header has no alg";
        goto done;
    }
    if (!out->iss) {
        *why = "launch token has no issuer (iss)";
        goto done;
    }
    int lr = store_launcher_by_issuer(s, out->iss, &l);
    if (lr == WEFT_ENOTFOUND) {
        *why = "the token's issuer is not a registered launcher";
        goto done;
    }
    if (lr) {
        rc = lr;
        *why = "launcher lookup failed";
        goto done;
    }
    out->launcher = xstrdup(l.name);
    if (strcmp(alg, l.alg) != 0) {
        *why = "the token's algorithm is not the one registered for its issuer";
        goto done;
    }
    jwt_alg_t want = jwt_str_alg(l.alg);
    if (want != JWT_ALG_HS256 && want != JWT_ALG_RS256 && want != JWT_ALG_ES256) {
        *why = "launcher has an unsupported algorithm";
        goto done;
    }
    int jr = jwt_decode(&jwt, token, (const unsigned char *)l.key, (int)strlen(l.key));
    if (jr != 0 || !jwt || jwt_get_alg(jwt) != want) {
        *why = "the token's signature does not verify";
        goto done;
    }
    if (!aud_matches(json_object_get(pl, "aud"), audience)) {
        *why = "the token is for another audience (aud)";
        goto done;
    }
    int te = claim_time(pl, "exp", &out->exp), ti = claim_time(pl, "iat", &out->iat);
    int tn = claim_time(pl, "nbf", &out->nbf);
    if (te < 0 || ti < 0 || tn < 0) {
        *why = "the token's exp, iat or nbf is not a time (seconds since 1970)";
        goto done;
    }
    if (te == 0 || ti == 0) {
        *why = "the token lacks exp or iat";
        goto done;
    }
    if (tn == 0)
        out->nbf = out->iat;
    if (out->exp <= (int64_t)now - LAUNCH_LEEWAY) {
        *why = "the token has expired: launch again from your system";
        goto done;
    }
    if (out->exp > (int64_t)now + LAUNCH_MAX_AHEAD + LAUNCH_LEEWAY) {
        *why = "the token lives longer than 5 minutes";
        goto done;
    }
    if (out->nbf > (int64_t)now + LAUNCH_LEEWAY || out->iat > (int64_t)now + LAUNCH_LEEWAY) {
        *why = "the token is not valid yet (nbf/iat in the future): check clocks";
        goto done;
    }
    out->jti = claim_str(pl, "jti");
    out->name = claim_str(pl, "name");
    out->patient = claim_str(pl, "patient");
    out->purpose = claim_str(pl, "purpose");
    if (!out->purpose)
        out->purpose = xstrdup("TREAT");
    if (!out->jti || !printable_id(out->jti, 200)) {
        *why = "the token has no usable jti";
        goto done;
    }
    if (!out->sub || !printable_id(out->sub, 200) || !out->role || !printable_id(out->role, 64) ||
        !out->org || !printable_id(out->org, 32)) {
        *why = "the token lacks sub, role or org";
        goto done;
    }
    if (out->name && !printable_id(out->name, 200)) {
        *why = "the token's name claim is not printable text";
        goto done;
    }
    if (!printable_id(out->purpose, 16)) {
        *why = "the token's purpose is not valid";
        goto done;
    }
    if (strcmp(out->org, l.org) != 0) {
        *why = "the token's organisation is not the launcher's";
        goto done;
    }
    char nhs[11];
    if (!out->patient || !nhs_number_valid(out->patient, nhs)) {
        *why = "the token's patient is not a valid NHS number";
        goto done;
    }
    free(out->patient);
    out->patient = xstrdup(nhs);
    /* Last: record the jti, so a refused token does not burn its id. */
    char exp_iso[32];
    time_t et = (time_t)out->exp + LAUNCH_LEEWAY;
    struct tm tm;
    gmtime_r(&et, &tm);
    strftime(exp_iso, sizeof exp_iso, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    int ur = store_jti_use(s, out->iss, out->jti, exp_iso);
    if (ur == WEFT_EEXIST) {
        *why = "the token was used before (replayed jti)";
        goto done;
    }
    if (ur) {
        rc = ur;
        *why = "recording the token id failed";
        goto done;
    }
    rc = WEFT_OK;
done:
    if (jwt)
        jwt_free(jwt);
    store_launcher_clear(&l);
    json_decref(hdr);
    json_decref(pl);
    return rc;
}
