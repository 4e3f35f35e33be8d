/*
 * auth.c - the authentication chain of the HTTP server (see auth.h).
 *
 * Each link looks at the request; it either does not recognise any credential
 * (returns AUTH_PASS and the next link is tried), accepts one (fills the
 * principal, returns 0) or rejects one (WEFT_EAUTH).  The client tokens are
 * this module's own link; other ways to sign in are registered by the
 * modules that own them (http_auth_register, auth.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/log.h"
#include "http/auth.h"
#include "store/access.h"

#define AUTH_PASS 1 /* this link found no credential of its kind */

/* What the chain keeps alive for the principal's borrowed strings. */
struct auth_data {
    struct store_client client;
    const struct http_auth_method *method; /* the registered method that accepted */
    void *data;                            /* its data (method->release) */
};

static const struct http_auth_method *before[HTTP_AUTH_METHODS_MAX], *after[HTTP_AUTH_METHODS_MAX];
static int nbefore, nafter;
static http_auth_refused_fn refused_hook;

void http_auth_on_refused(http_auth_refused_fn fn)
{
    refused_hook = fn;
}

int http_auth_register(const struct http_auth_method *m, enum http_auth_when when)
{
    const struct http_auth_method **list = when == HTTP_AUTH_BEFORE_CLIENTS ? before : after;
    int *n = when == HTTP_AUTH_BEFORE_CLIENTS ? &nbefore : &nafter;
    for (int i = 0; i < *n; i++)
        if (list[i] == m)
            return WEFT_OK;
    if (*n == HTTP_AUTH_METHODS_MAX)
        return WEFT_EINVAL;
    list[(*n)++] = m;
    return WEFT_OK;
}

void http_auth_unregister_all(void)
{
    nbefore = nafter = 0;
    refused_hook = NULL;
}

void http_auth_token_hash(const char *token, char out[HTTP_AUTH_HASH_HEX + 1])
{
    /* libsodium's SHA-256, as `weft client add` hashes the token it stores:
     * OpenSSL 3's EVP_Digest(EVP_sha256()) fetches the algorithm from its
     * provider on every call - 4% of the server's CPU per search */
    unsigned char md[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(md, (const unsigned char *)token, strlen(token));
    hex_encode(md, sizeof md, out);
}

int http_auth_bearer(const char *h, const char **tok_out, size_t *n_out)
{
    if (!h)
        return 0;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return 0; /* another scheme: a later link may know it */
    const char *tok = h + 6;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    size_t n = strlen(tok);
    while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
        n--;
    if (n == 0 || n > HTTP_AUTH_TOKEN_MAX)
        return WEFT_EAUTH;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)tok[i]))
            return WEFT_EAUTH;
    *tok_out = tok;
    *n_out = n;
    return 1;
}

/* A client bound to a TLS client certificate (weft client add
 * --client-cert-sha256): its token counts only on a connection that
 * presented that very certificate.  Anything else is refused (401
 * invalid_token, as RFC 8705 has it for certificate-bound tokens), with the
 * reason on the request's WARN line and, through the hook, in the audit. */
static int check_bound_cert(struct http_req *req, struct auth_data *ad)
{
    char seen[HTTP_AUTH_HASH_HEX + 1];
    bool have = http_req_tls_client_sha256(req, seen);
    if (have && strcmp(seen, ad->client.client_cert_sha256) == 0)
        return WEFT_OK;
    req->auth_refusal = have ? "the access token is bound to a TLS client certificate and this "
                               "connection presented another one"
                             : "the access token is bound to a TLS client certificate and this "
                               "connection presented none";
    char why[300];
    snprintf(why, sizeof why,
             "API client %lld is bound to the TLS client certificate sha256:%s; the connection "
             "presented %s%s",
             (long long)ad->client.id, ad->client.client_cert_sha256, have ? "sha256:" : "none",
             have ? seen : "");
    if (refused_hook)
        refused_hook(req, &req->principal, why);
    else
        log_warn("auth", "client token refused request=%s: %s", req->request_id, why);
    /* the principal does not outlive the refusal */
    http_auth_release(req);
    return WEFT_EAUTH;
}

/* Link 1: "Authorization: Bearer TOKEN" of a registered API client. */
static int auth_bearer_client(struct http_req *req)
{
    const char *tok = NULL;
    size_t n = 0;
    int b = http_auth_bearer(http_req_header(req, "Authorization"), &tok, &n);
    if (b == 0)
        return AUTH_PASS;
    if (b < 0)
        return b;
    char *token = xstrndup(tok, n);
    char hash[HTTP_AUTH_HASH_HEX + 1];
    http_auth_token_hash(token, hash);
    free(token);

    struct store *s = http_req_store(req);
    if (!s)
        return WEFT_EDB;
    struct auth_data *ad = xcalloc(1, sizeof *ad);
    int rc = store_client_by_hash(s, hash, &ad->client);
    if (rc != 0) {
        store_client_clear(&ad->client);
        free(ad);
        if (rc == WEFT_ENOTFOUND)
            return WEFT_EAUTH;
        log_error("auth", "client lookup failed request=%s: %s", req->request_id,
                  weft_strerror(rc));
        return rc;
    }
    if (ad->client.revoked) {
        store_client_clear(&ad->client);
        free(ad);
        return WEFT_EAUTH;
    }
    req->auth_data = ad;
    req->principal.kind = PRINCIPAL_CLIENT;
    req->principal.client_name = ad->client.name;
    req->principal.scopes = ad->client.scopes ? ad->client.scopes : "";
    req->principal.org = ad->client.org;
    req->principal.client_id = ad->client.id;
    req->principal.client_purpose = principal_client_purpose_of(ad->client.purpose);
    req->principal.request_id = req->request_id;
    if (ad->client.client_cert_sha256)
        return check_bound_cert(req, ad);
    return WEFT_OK;
}

/* A registered method (auth.h). */
static int auth_method(struct http_req *req, const struct http_auth_method *m)
{
    void *data = NULL;
    int rc = m->fn(req, &data);
    if (rc == 0) {
        struct auth_data *ad = xcalloc(1, sizeof *ad);
        ad->method = m;
        ad->data = data;
        req->auth_data = ad;
    }
    return rc == 1 ? AUTH_PASS : rc;
}

int http_auth_authenticate(struct http_req *req)
{
    memset(&req->principal, 0, sizeof req->principal);
    req->principal.kind = PRINCIPAL_NONE;
    req->principal.request_id = req->request_id;
    int rc;
    for (int i = 0; i < nbefore; i++)
        if ((rc = auth_method(req, before[i])) != AUTH_PASS)
            return rc;
    if ((rc = auth_bearer_client(req)) != AUTH_PASS)
        return rc;
    for (int i = 0; i < nafter; i++)
        if ((rc = auth_method(req, after[i])) != AUTH_PASS)
            return rc;
    return WEFT_OK;
}

void http_auth_release(struct http_req *req)
{
    struct auth_data *ad = req->auth_data;
    if (ad) {
        store_client_clear(&ad->client);
        if (ad->method && ad->method->release)
            ad->method->release(ad->data);
        free(ad);
        req->auth_data = NULL;
    }
    memset(&req->principal, 0, sizeof req->principal);
}
