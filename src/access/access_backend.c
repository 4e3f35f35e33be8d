/*
 * access_backend.c - the HTTP side of SMART Backend Services (access/
 * backend.h): /oauth/token with grant_type=client_credentials and a signed
 * client_assertion, and the sign-in link for the tokens it issues ("Bearer
 * wbt_..."), which makes the caller the registered API client, with its
 * organisation and purpose, as a bearer-token client is.
 *
 * Every issue and every refusal is audited (action "token"; a refusal as a
 * denial) and a refusal is logged at WARN with its reason: never the
 * assertion, the token or a key.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access/access_serve.h"
#include "access/access_serve_int.h"
#include "access/backend.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/auth.h"
#include "http/server.h"
#include "store/access.h"
#include "store/store.h"

char *access_token_url(struct http_req *req, const struct access_cfg *cfg)
{
    if (cfg && cfg->base_url)
        return backend_token_url(cfg->base_url);
    /* no --base-url (loopback only, see weft serve): the scheme the server
     * speaks and the Host the client used, as the FHIR API's own links are
     * built */
    const char *host = http_req_header(req, "Host");
    bool ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-.:[]_", *p)))
            ok = false;
    struct buf b = BUF_INIT;
    buf_adds(&b, http_server_is_tls(req->server) ? "https://" : "http://");
    if (ok)
        buf_addf(&b, "%s/oauth/token", host);
    else
        buf_addf(&b, "localhost:%d/oauth/token", http_server_port(req->server));
    return buf_detach(&b, NULL);
}

/* The principal of a registered client (borrowing from c). */
static void client_principal(const struct store_client *c, struct http_req *req,
                             struct principal *p)
{
    memset(p, 0, sizeof *p);
    p->kind = PRINCIPAL_CLIENT;
    p->client_name = c->name;
    p->scopes = c->scopes ? c->scopes : "";
    p->org = c->org;
    p->client_id = c->id;
    p->client_purpose = principal_client_purpose_of(c->purpose);
    p->request_id = req->request_id;
}

/* Audit and log a refusal, then answer it (RFC 6749 5.2). */
static void refuse(struct http_req *req, struct store *s, const struct store_client *c,
                   const char *error, int status, const char *why)
{
    char cid[24] = "-";
    if (c && c->id)
        snprintf(cid, sizeof cid, "%lld", (long long)c->id);
    log_warn("access", "backend token refused request=%s client=%s error=%s: %s", req->request_id,
             cid, error, why);
    struct principal p = {.kind = PRINCIPAL_NONE, .request_id = req->request_id};
    if (c && c->id)
        client_principal(c, req, &p);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &p);
    if (!ev.client)
        ev.client = "unknown backend client";
    ev.action = AUDIT_TOKEN;
    ev.outcome = AUDIT_DENIED;
    ev.what = "SMART Backend Services token";
    ev.count = 0;
    char reason[400];
    snprintf(reason, sizeof reason, "%s: %s (client id %s)", error, why, cid);
    ev.reason = reason;
    if (s) {
        int rc = audit_record(s, &ev, true);
        if (rc)
            log_error("access", "audit append failed request=%s: %s", req->request_id,
                      weft_strerror(rc));
    }
    access_reply_json(req, status,
                      json_pack("{s:s, s:s}", "error", error, "error_description", why));
}

void access_token_refuse(struct http_req *req, struct store *s, const char *error, int status,
                         const char *why)
{
    refuse(req, s, NULL, error, status, why);
}

void access_token_backend(struct http_req *req, struct store *s, const struct access_form *f,
                          const struct access_cfg *cfg)
{
    const char *type = access_form_get(f, "client_assertion_type");
    const char *assertion = access_form_get(f, "client_assertion");
    const char *scope = access_form_get(f, "scope");
    if (!type || strcmp(type, BACKEND_ASSERTION_TYPE) != 0 || !assertion) {
        refuse(req, s, NULL, "invalid_client", 401,
               "client_credentials needs client_assertion_type=" BACKEND_ASSERTION_TYPE
               " and a client_assertion (a JWT signed with RS384 or ES384)");
        return;
    }
    char *url = access_token_url(req, cfg);
    struct store_client c;
    struct backend_refusal ref;
    char *granted = NULL;
    int rc = backend_assertion_verify(s, assertion, url, time(NULL), &c, &ref);
    if (rc) {
        refuse(req, s, &c, ref.error ? ref.error : "invalid_client", ref.status ? ref.status : 401,
               ref.why ? ref.why : "the client_assertion was refused");
        goto out;
    }
    const char *why = NULL;
    granted = backend_scope_grant(scope, c.scopes, &why);
    if (!granted) {
        refuse(req, s, &c, "invalid_scope", 400, why);
        goto out;
    }
    char tok[SESSION_SECRET_LEN];
    if (backend_token_issue(s, &c, granted, tok) != 0) {
        refuse(req, s, &c, "temporarily_unavailable", 503,
               "the token could not be kept: try again");
        goto out;
    }
    struct principal p;
    client_principal(&c, req, &p);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, &p);
    ev.action = AUDIT_TOKEN;
    ev.outcome = AUDIT_OK;
    ev.what = granted;
    ev.count = -1;
    char reason[160];
    snprintf(reason, sizeof reason,
             "SMART Backend Services access token issued to client %lld (purpose %s)",
             (long long)c.id, c.purpose ? c.purpose : BACKEND_PURPOSE_DIRECT);
    ev.reason = reason;
    if (audit_record(s, &ev, true) != 0) {
        /* no unaudited access: the token is not handed out (it expires
         * unused) */
        access_reply_json(req, 503,
                          json_pack("{s:s, s:s}", "error", "temporarily_unavailable",
                                    "error_description", "the audit log could not be written"));
        goto out;
    }
    log_info("access", "backend token issued request=%s client=%lld scope=\"%s\"", req->request_id,
             (long long)c.id, granted);
    access_reply_json(req, 200,
                      json_pack("{s:s, s:s, s:i, s:s}", "access_token", tok, "token_type", "bearer",
                                "expires_in", BACKEND_TOKEN_TTL, "scope", granted));
out:
    free(granted);
    free(url);
    store_client_clear(&c);
}

/* ---- the sign-in link ----------------------------------------------------------------------- */

struct backend_auth {
    struct store_session ss;
    struct store_client client;
};

void access_auth_backend_free(void *data)
{
    struct backend_auth *a = data;
    if (!a)
        return;
    store_session_clear(&a->ss);
    store_client_clear(&a->client);
    free(a);
}

int access_auth_backend(struct http_req *req, void **data)
{
    const char *tok = NULL;
    size_t n = 0;
    int b = http_auth_bearer(http_req_header(req, "Authorization"), &tok, &n);
    if (b <= 0 || n < 4 || strncmp(tok, BACKEND_TOKEN_PREFIX, 4) != 0)
        return 1; /* not ours: the next link decides */
    if (n >= SESSION_SECRET_LEN)
        return WEFT_EAUTH;
    char secret[SESSION_SECRET_LEN];
    memcpy(secret, tok, n);
    secret[n] = 0;
    struct store *s = http_req_store(req);
    if (!s)
        return WEFT_EDB;
    struct backend_auth *a = xcalloc(1, sizeof *a);
    int rc = session_lookup(s, secret, &a->ss);
    int64_t id = 0;
    if (rc == 0 && (strcmp(a->ss.kind, "backend") != 0 || !a->ss.app ||
                    sscanf(a->ss.app, "%lld", (long long *)&id) != 1))
        rc = WEFT_ENOTFOUND;
    /* the client as it is now: a revoked client's tokens end with it */
    if (rc == 0)
        rc = store_client_get(s, id, &a->client);
    if (rc == 0 && a->client.revoked)
        rc = WEFT_ENOTFOUND;
    if (rc) {
        access_auth_backend_free(a);
        return rc == WEFT_ENOTFOUND ? WEFT_EAUTH : rc;
    }
    client_principal(&a->client, req, &req->principal);
    req->principal.scopes = a->ss.scopes ? a->ss.scopes : "";
    req->principal.session_id = a->ss.id_hash;
    *data = a;
    return 0;
}
