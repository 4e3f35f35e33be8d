/*
 * form.h - state-changing forms of launched sessions: the one check every
 * POST from a browser goes through (break-glass, logout, the governance
 * console's decisions).
 *
 * A form is accepted only from a launched session (the cookie's, not an app
 * token), from this site (Sec-Fetch-Site and Origin, when the browser says),
 * carrying that session's CSRF token.  The session cookie is SameSite=Strict
 * on top.  Refusals are audited here; the caller renders the answer.
 */
#ifndef WEFT_ACCESS_FORM_H
#define WEFT_ACCESS_FORM_H

#include <stdbool.h>

struct http_req;
struct store;
struct store_session;

enum access_form_verdict {
    ACCESS_FORM_OK = 0,
    ACCESS_FORM_NO_SESSION,  /* not a launched session (or it ended): 401 */
    ACCESS_FORM_UNAVAILABLE, /* the session could not be checked: 503 */
    ACCESS_FORM_CROSS_SITE,  /* sent from another site: 403 (audited) */
    ACCESS_FORM_BAD_TOKEN,   /* missing or wrong CSRF token: 403 (audited) */
};

/* True when the browser says req came from this site (or says nothing). */
bool access_same_origin(struct http_req *req);

/* The launched session behind req (cookie sessions only, not app tokens):
 * 0, WEFT_ENOTFOUND or a store error.  Release out with store_session_clear. */
int access_current_session(struct http_req *req, struct store *s, struct store_session *out);

/* Check a submitted form (csrf: the value of its "csrf" field).  A refusal
 * is audited with action and person_id (may be NULL).  *sess (always
 * initialised; release it) is the session when ACCESS_FORM_OK. */
enum access_form_verdict access_form_verify(struct http_req *req, struct store *s, const char *csrf,
                                            const char *action, const char *person_id,
                                            struct store_session *sess);

#endif
