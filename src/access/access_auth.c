/*
 * access_auth.c - the sign-in methods the access module registers with the
 * HTTP core's chain (http/auth.h http_auth_register, in access_serve_start):
 * SMART app tokens ("Bearer wat_...") and launch session cookies.  Each
 * fills req->principal from the stored session.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access/access_serve.h"
#include "access/access_serve_int.h"
#include "access/app.h"
#include "access/authz.h"
#include "access/form.h"
#include "access/launch.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"
#include "store/access.h"
#include "store/apps.h"
#include "store/audit.h"
#include "store/records.h"
#include "store/store.h"

/* ---- auth chain links (called from http/auth.c) ------------------------------------------ */

struct access_auth {
    struct store_session ss;
};

void access_auth_free(void *data)
{
    struct access_auth *a = data;
    if (!a)
        return;
    store_session_clear(&a->ss);
    free(a);
}

void access_auth_refused(struct http_req *req, const struct principal *who, const char *reason)
{
    log_warn("auth", "credential refused request=%s client=%s: %s", req->request_id,
             who->client_name ? who->client_name : "-", reason);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, who);
    ev.action = AUDIT_DENIAL;
    ev.outcome = AUDIT_DENIED;
    ev.what = "token";
    ev.count = 0;
    ev.reason = reason;
    int rc = audit_record(http_req_store(req), &ev, false);
    if (rc)
        log_error("auth", "audit append failed request=%s: %s", req->request_id, weft_strerror(rc));
}

static int principal_from(struct http_req *req, struct store *s, const char *secret,
                          const char *kind, void **data)
{
    struct access_auth *a = xcalloc(1, sizeof *a);
    int rc = session_lookup(s, secret, &a->ss);
    if (rc == 0 && strcmp(a->ss.kind, kind) != 0)
        rc = WEFT_ENOTFOUND;
    if (rc == 0 && a->ss.parent) {
        /* an app token lives no longer than the launched session it came
         * from: signing out (or a new launch ending it) ends the token too */
        struct store_session parent = {0};
        char now[32];
        audit_now(now);
        rc = store_session_get(s, a->ss.parent, now, &parent);
        if (rc == 0 && strcmp(parent.kind, "session") != 0)
            rc = WEFT_ENOTFOUND;
        store_session_clear(&parent);
        /* and no longer than its app's registration */
        if (rc == 0 && strcmp(a->ss.kind, "token") == 0 &&
            (!a->ss.app || !access_app_active(s, a->ss.app)))
            rc = WEFT_ENOTFOUND;
    }
    if (rc) {
        access_auth_free(a);
        return rc;
    }
    session_principal(&a->ss, &req->principal);
    req->principal.request_id = req->request_id;
    if (a->ss.person_id) {
        char now[32];
        audit_now(now);
        int bg = store_breakglass_active(s, a->ss.user_id, a->ss.org, a->ss.person_id, now, NULL);
        req->principal.break_glass = bg == 0;
        if (bg == 0)
            req->principal.purpose = "ETREAT";
    }
    *data = a;
    return 0;
}

int access_auth_token(struct http_req *req, void **data)
{
    const char *h = http_req_header(req, "Authorization");
    if (!h)
        return 1;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return 1;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (strncmp(tok, "wat_", 4) != 0)
        return 1;
    if (strlen(tok) >= SESSION_SECRET_LEN)
        return WEFT_EAUTH;
    struct store *s = http_req_store(req);
    if (!s)
        return WEFT_EDB;
    int rc = principal_from(req, s, tok, "token", data);
    return rc == WEFT_ENOTFOUND ? WEFT_EAUTH : rc;
}

int access_auth_cookie(struct http_req *req, void **data)
{
    char secret[SESSION_SECRET_LEN + 8];
    if (!session_cookie_get(http_req_header(req, "Cookie"), SESSION_COOKIE, secret, sizeof secret))
        return 1;
    if (strncmp(secret, "wss_", 4) != 0)
        return 1;
    struct store *s = http_req_store(req);
    if (!s)
        return WEFT_EDB;
    int rc = principal_from(req, s, secret, "session", data);
    /* An ended session is no credential: pages then ask to launch again. */
    return rc == WEFT_ENOTFOUND ? 1 : rc;
}
