/*
 * my_login.c - citizen sign-in with OpenID Connect in the shape of NHS
 * login: authorization code flow with PKCE (S256), private_key_jwt client
 * authentication, scopes "openid profile", the nhs_number and
 * identity_proofing_level claims.
 *
 *   GET /my/login?idp=NAME   new state, nonce and PKCE verifier, kept
 *                            server-side (an access_session row of kind
 *                            "oidc-state", keyed by SHA-256(state), 10
 *                            minutes, one use) and bound to this browser by
 *                            a short-lived cookie; redirect to the provider.
 *   GET /my/callback         state checked against the cookie and the store
 *                            (then spent), the code exchanged at the token
 *                            endpoint with a signed client assertion and the
 *                            verifier, the ID token verified (access/oidc.h)
 *                            with the provider's JWKS (cached; fetched again
 *                            once when the token names an unknown key, so
 *                            rotated keys are picked up), claims read from
 *                            the ID token or else userinfo; a session opened.
 *
 * Every refusal is a clear page and an audit entry (action launch, outcome
 * denied, the reason).  The provider's documents come over http/client.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "access/oidc.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/client.h"
#include "http/server.h"
#include "identity/nhs.h"
#include "web/html.h"
#include "web/my_int.h"
#include "store/access.h"
#include "store/citizen.h"
#include "store/records.h"

#define LOGIN_COOKIE "weft_citizen_login"
#define STATE_TTL_S 600
#define FETCH_TIMEOUT_MS 10000
#define FETCH_MAX (256 * 1024)

/* ---- the provider's documents ----------------------------------------------------------- */

static json_t *fetch_json(const char *method, const char *url, const char *const *headers,
                          const char *body, int *status, char **errmsg)
{
    struct http_client_resp r;
    int rc = http_client_request(method, url, headers, body, body ? strlen(body) : 0,
                                 FETCH_TIMEOUT_MS, FETCH_MAX, &r, errmsg);
    if (rc)
        return NULL;
    *status = r.status;
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    http_client_resp_clear(&r);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The discovery document of idp; NULL when unreachable or for another issuer. */
static json_t *discover(const struct store_citizen_idp *idp)
{
    struct buf url = BUF_INIT;
    buf_addf(&url, "%s%s.well-known/openid-configuration", idp->issuer,
             idp->issuer[strlen(idp->issuer) - 1] == '/' ? "" : "/");
    int status = 0;
    char *err = NULL;
    json_t *d = fetch_json("GET", url.data, NULL, NULL, &status, &err);
    buf_release(&url);
    if (err)
        log_warn("my", "provider %s: %s", idp->name, err);
    free(err);
    const char *iss = json_string_value(json_object_get(d, "issuer"));
    if (status != 200 || !iss || strcmp(iss, idp->issuer) != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* JWKS per provider, refetched on an unknown kid (key rotation). */
#define JWKS_SLOTS 8
static pthread_mutex_t jwks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char issuer[512];
    json_t *jwks;
} jwks_cache[JWKS_SLOTS];

/* A new reference to the JWKS of issuer (fresh: fetched now). */
static json_t *jwks_get(const char *issuer, const char *jwks_uri, bool fresh)
{
    pthread_mutex_lock(&jwks_mu);
    int slot = -1;
    for (int i = 0; i < JWKS_SLOTS && slot < 0; i++)
        if (strcmp(jwks_cache[i].issuer, issuer) == 0)
            slot = i;
    if (slot >= 0 && !fresh && jwks_cache[slot].jwks) {
        json_t *j = json_incref(jwks_cache[slot].jwks);
        pthread_mutex_unlock(&jwks_mu);
        return j;
    }
    pthread_mutex_unlock(&jwks_mu);
    int status = 0;
    char *err = NULL;
    json_t *j = fetch_json("GET", jwks_uri, NULL, NULL, &status, &err);
    if (err) /* the provider's address and why, never patient data */
        log_warn("my", "provider %s keys: %s", issuer, err);
    free(err);
    if (!j || status != 200 || !json_is_array(json_object_get(j, "keys"))) {
        json_decref(j);
        return NULL;
    }
    pthread_mutex_lock(&jwks_mu);
    if (slot < 0)
        for (int i = 0; i < JWKS_SLOTS && slot < 0; i++)
            if (!jwks_cache[i].issuer[0] || strcmp(jwks_cache[i].issuer, issuer) == 0)
                slot = i;
    if (slot < 0)
        slot = 0;
    json_decref(jwks_cache[slot].jwks);
    snprintf(jwks_cache[slot].issuer, sizeof jwks_cache[slot].issuer, "%s", issuer);
    jwks_cache[slot].jwks = json_incref(j);
    pthread_mutex_unlock(&jwks_mu);
    return j;
}

/* ---- pages and audit -------------------------------------------------------------------- */

static int refuse(struct http_req *req, struct store *s, int status, const char *why,
                  const char *sub, const char *idp)
{
    struct buf client = BUF_INIT;
    buf_addf(&client, "citizen:%s", idp ? idp : "-");
    struct audit_event ev = {.action = AUDIT_LAUNCH,
                             .outcome = AUDIT_DENIED,
                             .user_id = sub,
                             .client = client.data,
                             .request_id = req->request_id,
                             .count = 0,
                             .reason = why};
    if (s)
        audit_record(s, &ev, true);
    buf_release(&client);
    struct buf body = BUF_INIT;
    html_addf(&body,
              "<h1>You could not be signed in</h1><p id=\"signin-error\">%s.</p>"
              "<p><a href=\"/my\">Go back and try again</a>. If this keeps happening, contact "
              "your GP practice.</p>",
              why);
    my_page(req, status, "Sign-in failed", NULL, &body);
    buf_release(&body);
    return 0;
}

/* ---- GET /my/login -------------------------------------------------------------------------- */

int my_login(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    const char *name = http_req_arg(req, "idp");
    struct store_citizen_idp idp;
    if (!s)
        return refuse(req, NULL, 503, "Weft cannot reach its database just now", NULL, name);
    if (!name || store_citizen_idp_get(s, name, &idp) != 0)
        return refuse(req, s, 404, "That sign-in service is not known here", NULL, name);
    json_t *d = discover(&idp);
    const char *authz_ep = json_string_value(json_object_get(d, "authorization_endpoint"));
    if (!authz_ep) {
        json_decref(d);
        store_citizen_idp_clear(&idp);
        return refuse(req, s, 502, "The sign-in service cannot be reached just now", NULL, name);
    }
    char state[44], nonce[44], verifier[44], challenge[44], hash[SESSION_HASH_LEN + 1];
    oidc_random(state);
    oidc_random(nonce);
    oidc_random(verifier);
    oidc_pkce_challenge(verifier, challenge);
    session_hash(state, hash);
    char now[32], exp[32];
    time_t t = time(NULL);
    audit_now(now);
    struct tm tm;
    time_t te = t + STATE_TTL_S;
    gmtime_r(&te, &tm);
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    struct store_session st = {.id_hash = hash,
                               .kind = "oidc-state",
                               .launcher = idp.name,
                               .scopes = nonce,
                               .csrf = verifier,
                               .created = now,
                               .expires = exp};
    int rc = store_session_put(s, &st);
    struct buf loc = BUF_INIT;
    buf_addf(&loc, "%s%sresponse_type=code&scope=openid%%20profile&client_id=", authz_ep,
             strchr(authz_ep, '?') ? "&" : "?");
    url_encode(&loc, idp.client_id);
    buf_adds(&loc, "&redirect_uri=");
    url_encode(&loc, idp.redirect_uri);
    buf_addf(&loc, "&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256", state, nonce,
             challenge);
    json_decref(d);
    store_citizen_idp_clear(&idp);
    if (rc) {
        buf_release(&loc);
        return refuse(req, s, 503, "Weft could not start the sign-in", NULL, name);
    }
    struct buf cookie = BUF_INIT;
    buf_addf(&cookie, LOGIN_COOKIE "=%s; Path=/my; HttpOnly; SameSite=Lax; Max-Age=%d", state,
             STATE_TTL_S);
    http_reply_header(req, "Set-Cookie", cookie.data);
    http_reply_header(req, "Location", loc.data);
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply(req, 303, "text/plain", "", 0);
    buf_release(&cookie);
    buf_release(&loc);
    return 0;
}

/* ---- GET /my/callback -------------------------------------------------------------------------
 */

struct login {
    struct store_citizen_idp idp;
    json_t *disc, *token, *claims, *userinfo;
    char *assertion;
};

static void login_clear(struct login *l)
{
    store_citizen_idp_clear(&l->idp);
    json_decref(l->disc);
    json_decref(l->token);
    json_decref(l->claims);
    json_decref(l->userinfo);
    free(l->assertion);
}

/* A claim from the ID token, else from userinfo. */
static const char *claim(const struct login *l, const char *name)
{
    const char *v = json_string_value(json_object_get(l->claims, name));
    return v ? v : json_string_value(json_object_get(l->userinfo, name));
}

static int exchange(struct login *l, const char *code, const char *verifier, const char **why)
{
    const char *token_ep = json_string_value(json_object_get(l->disc, "token_endpoint"));
    if (!token_ep) {
        *why = "The sign-in service did not say where to complete the sign-in";
        return WEFT_EAUTH;
    }
    if (oidc_client_assertion(l->idp.key_pem, l->idp.key_id, l->idp.client_id, token_ep, time(NULL),
                              &l->assertion) != 0) {
        *why = "Weft's key for this sign-in service cannot be used";
        return WEFT_EAUTH;
    }
    struct buf form = BUF_INIT;
    buf_adds(&form, "grant_type=authorization_code&code=");
    url_encode(&form, code);
    buf_adds(&form, "&redirect_uri=");
    url_encode(&form, l->idp.redirect_uri);
    buf_adds(&form, "&client_id=");
    url_encode(&form, l->idp.client_id);
    buf_adds(&form, "&code_verifier=");
    url_encode(&form, verifier);
    buf_adds(&form, "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type"
                    "%3Ajwt-bearer&client_assertion=");
    url_encode(&form, l->assertion);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    int status = 0;
    char *err = NULL;
    l->token = fetch_json("POST", token_ep, hdrs, form.data, &status, &err);
    buf_release(&form);
    if (status != 200 || err) /* the provider's error code, never patient data */
        log_warn("my", "provider %s token endpoint: status %d %s %s", l->idp.name, status,
                 err ? err : "",
                 json_string_value(json_object_get(l->token, "error"))
                     ? json_string_value(json_object_get(l->token, "error"))
                     : "");
    free(err);
    if (!l->token || status != 200 || !json_string_value(json_object_get(l->token, "id_token"))) {
        *why = "The sign-in service did not accept the sign-in (it may have been used already "
               "or have expired)";
        return WEFT_EAUTH;
    }
    return 0;
}

static int verify(struct login *l, const char *nonce, const char **why)
{
    const char *jwks_uri = json_string_value(json_object_get(l->disc, "jwks_uri"));
    if (!jwks_uri) {
        *why = "The sign-in service publishes no keys";
        return WEFT_EAUTH;
    }
    struct oidc_expect x = {.issuer = l->idp.issuer,
                            .client_id = l->idp.client_id,
                            .nonce = nonce,
                            .now = time(NULL),
                            .leeway_s = 60};
    const char *tok = json_string_value(json_object_get(l->token, "id_token"));
    int rc = WEFT_ENOTFOUND;
    for (int attempt = 0; attempt < 2 && rc == WEFT_ENOTFOUND; attempt++) {
        json_t *jwks = jwks_get(l->idp.issuer, jwks_uri, attempt > 0);
        if (!jwks) {
            *why = "The sign-in service's keys cannot be fetched";
            return WEFT_EAUTH;
        }
        rc = oidc_id_token_verify(tok, jwks, &x, &l->claims, why);
        if (rc == WEFT_ENOTFOUND)
            log_info("my", "provider %s: token key not in its JWKS (%zu keys)%s", l->idp.name,
                     json_array_size(json_object_get(jwks, "keys")),
                     attempt ? "" : ": fetching the JWKS again");
        json_decref(jwks);
    }
    if (rc)
        return WEFT_EAUTH;
    *why = NULL; /* an unknown key on the first try, found after fetching the JWKS again */
    /* NHS login gives nhs_number and the proofing level in userinfo */
    const char *ui = json_string_value(json_object_get(l->disc, "userinfo_endpoint"));
    const char *at = json_string_value(json_object_get(l->token, "access_token"));
    if ((!json_object_get(l->claims, "nhs_number") ||
         !json_object_get(l->claims, "identity_proofing_level")) &&
        ui && at) {
        struct buf h = BUF_INIT;
        buf_addf(&h, "Authorization: Bearer %s", at);
        const char *hdrs[] = {h.data, NULL};
        int status = 0;
        char *err = NULL;
        l->userinfo = fetch_json("GET", ui, hdrs, NULL, &status, &err);
        free(err);
        buf_release(&h);
        const char *sub = json_string_value(json_object_get(l->claims, "sub"));
        const char *usub = json_string_value(json_object_get(l->userinfo, "sub"));
        if (status != 200 || !usub || !sub || strcmp(sub, usub) != 0) {
            json_decref(l->userinfo);
            l->userinfo = NULL;
        }
    }
    return 0;
}

int my_callback(struct http_req *req, void *ctx)
{
    (void)ctx;
    struct store *s = http_req_store(req);
    if (!s)
        return refuse(req, NULL, 503, "Weft cannot reach its database just now", NULL, NULL);
    const char *state = http_req_arg(req, "state"), *code = http_req_arg(req, "code");
    char bound[64] = "";
    const char *ck = http_req_header(req, "Cookie");
    bool have_cookie = ck && session_cookie_get(ck, LOGIN_COOKIE, bound, sizeof bound);
    http_reply_header(req, "Set-Cookie",
                      LOGIN_COOKIE "=; Path=/my; HttpOnly; SameSite=Lax; "
                                   "Max-Age=0");
    if (!state || !have_cookie || !session_secret_equal(state, bound))
        return refuse(req, s, 400,
                      "This sign-in did not start in this browser, or has already been used "
                      "(state)",
                      NULL, NULL);
    char hash[SESSION_HASH_LEN + 1], now[32];
    session_hash(state, hash);
    audit_now(now);
    struct store_session st;
    int rc = store_session_get(s, hash, now, &st);
    if (rc == 0 && strcmp(st.kind, "oidc-state") != 0)
        rc = WEFT_ENOTFOUND;
    if (rc == 0)
        rc = store_session_revoke(s, hash); /* one use, whatever happens next */
    if (rc) {
        if (rc != WEFT_ENOTFOUND)
            store_session_clear(&st);
        return refuse(req, s, 400,
                      "This sign-in has expired or has already been used (state): start again",
                      NULL, NULL);
    }
    struct login l = {0};
    const char *why = NULL;
    const char *perr = http_req_arg(req, "error");
    if (perr)
        why = "The sign-in was cancelled or refused by the sign-in service";
    else if (!code)
        why = "The sign-in service sent no authorisation code";
    else if (store_citizen_idp_get(s, st.launcher, &l.idp) != 0)
        why = "That sign-in service is no longer registered here";
    else if (!(l.disc = discover(&l.idp)))
        why = "The sign-in service cannot be reached just now";
    if (!why && exchange(&l, code, st.csrf, &why) == 0)
        verify(&l, st.scopes, &why);
    const char *sub = l.claims ? json_string_value(json_object_get(l.claims, "sub")) : NULL;
    const char *nhs = claim(&l, "nhs_number"), *ial = claim(&l, "identity_proofing_level");
    char digits[11] = "";
    if (!why && (!nhs || !nhs_number_valid(nhs, digits)))
        why = "The sign-in service did not give a valid NHS number";
    if (!why && !ial)
        why = "The sign-in service did not say how your identity was proved";
    if (why) {
        refuse(req, s, 401, why, sub, st.launcher);
        login_clear(&l);
        store_session_clear(&st);
        return 0;
    }
    /* the person: found, never created, by the NHS number the provider proved */
    char *person = NULL;
    rc = store_person_find_nhs(s, digits, &person);
    char secret[SESSION_SECRET_LEN], csrf[44], sh[SESSION_HASH_LEN + 1], exp[32];
    session_secret_new("wcs_", secret);
    session_hash(secret, sh);
    oidc_random(csrf);
    time_t te = time(NULL) + MY_ABSOLUTE_S;
    struct tm tm;
    gmtime_r(&te, &tm);
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    struct store_citizen_session cs = {.id_hash = sh,
                                       .idp = l.idp.name,
                                       .sub = (char *)sub,
                                       .person_id = person,
                                       .nhs = digits,
                                       .ial = (char *)ial,
                                       .csrf = csrf,
                                       .created = now,
                                       .last_seen = now,
                                       .expires = exp};
    rc = (rc == 0 || rc == WEFT_ENOTFOUND) ? store_citizen_session_put(s, &cs) : rc;
    if (rc == 0) {
        struct buf client = BUF_INIT, reason = BUF_INIT;
        buf_addf(&client, "citizen:%s", l.idp.name);
        buf_addf(&reason, "citizen signed in, identity proofing level %s", ial);
        struct audit_event ev = {.action = AUDIT_LAUNCH,
                                 .outcome = AUDIT_OK,
                                 .user_id = sub,
                                 .client = client.data,
                                 .purpose = "PATRQT",
                                 .person_id = person,
                                 .request_id = req->request_id,
                                 .count = -1,
                                 .reason = reason.data};
        rc = audit_record(s, &ev, true);
        buf_release(&client);
        buf_release(&reason);
    }
    if (rc) {
        refuse(req, s, 503, "Weft could not open your session: try again", sub, st.launcher);
    } else {
        struct buf cookie = BUF_INIT;
        buf_addf(&cookie, MY_COOKIE "=%s; Path=/my; HttpOnly; SameSite=Lax; Max-Age=%d", secret,
                 MY_ABSOLUTE_S);
        http_reply_header(req, "Set-Cookie", cookie.data);
        http_reply_header(req, "Location", "/my");
        http_reply(req, 303, "text/plain", "", 0);
        buf_release(&cookie);
    }
    free(person);
    login_clear(&l);
    store_session_clear(&st);
    return 0;
}
