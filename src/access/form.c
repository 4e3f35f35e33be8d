/*
 * form.c - the check of state-changing forms (see form.h).
 */
#include <string.h>

#include "access/authz.h"
#include "access/form.h"
#include "access/session.h"
#include "audit/audit.h"
#include "core/err.h"
#include "http/server.h"
#include "store/access.h"
#include "store/records.h"
#include "store/store.h"

bool access_same_origin(struct http_req *req)
{
    const char *sfs = http_req_header(req, "Sec-Fetch-Site");
    if (sfs && strcmp(sfs, "same-origin") != 0 && strcmp(sfs, "none") != 0)
        return false;
    const char *origin = http_req_header(req, "Origin");
    if (origin) {
        const char *host = http_req_header(req, "Host");
        if (!host || strcmp(origin, "null") == 0)
            return false;
        const char *o = origin;
        if (strncmp(o, "http://", 7) == 0)
            o += 7;
        else if (strncmp(o, "https://", 8) == 0)
            o += 8;
        else
            return false;
        if (strcmp(o, host) != 0)
            return false;
    }
    return true;
}

int access_current_session(struct http_req *req, struct store *s, struct store_session *out)
{
    memset(out, 0, sizeof *out);
    const struct principal *p = &req->principal;
    if (p->kind != PRINCIPAL_USER || p->scopes || !p->session_id)
        return WEFT_ENOTFOUND;
    char now[32];
    audit_now(now);
    int rc = store_session_get(s, p->session_id, now, out);
    if (rc == 0 && strcmp(out->kind, "session") != 0) {
        store_session_clear(out);
        return WEFT_ENOTFOUND;
    }
    return rc;
}

enum access_form_verdict access_form_verify(struct http_req *req, struct store *s, const char *csrf,
                                            const char *action, const char *person_id,
                                            struct store_session *sess)
{
    int rc = access_current_session(req, s, sess);
    if (rc == WEFT_ENOTFOUND)
        return ACCESS_FORM_NO_SESSION;
    if (rc)
        return ACCESS_FORM_UNAVAILABLE;
    if (!access_same_origin(req)) {
        authz_audit_denial(s, &req->principal, action, person_id,
                           "form refused: cross-site request (CSRF check)");
        return ACCESS_FORM_CROSS_SITE;
    }
    if (!session_secret_equal(csrf, sess->csrf)) {
        authz_audit_denial(s, &req->principal, action, person_id,
                           "form refused: missing or wrong CSRF token");
        return ACCESS_FORM_BAD_TOKEN;
    }
    return ACCESS_FORM_OK;
}
