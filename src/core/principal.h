/*
 * principal.h - who is asking: the one description of a caller that every
 * path to patient data (FHIR API, web pages, exports) hands to the
 * authorisation point (access/authz.h) and the audit log.
 *
 * Filled by whoever authenticated the caller (bearer token, launch session,
 * SMART token, citizen sign-in).  Strings are borrowed: they must outlive
 * every call the principal is passed to (typically the request).
 *
 * It lives in core, below the HTTP server, the audit log and access, which
 * all speak of it: none of them needs to include another for it.
 */
#ifndef WEFT_CORE_PRINCIPAL_H
#define WEFT_CORE_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum principal_kind {
    PRINCIPAL_NONE = 0, /* unauthenticated */
    PRINCIPAL_CLIENT,   /* API client without user context (service, feed) */
    PRINCIPAL_USER,     /* a member of staff: launched session or SMART token */
    PRINCIPAL_CITIZEN,  /* a citizen reading their own record */
};

/* What an API client is registered for (weft client add --purpose; SMART
 * Backend Services, access/backend.h).  UNSET: not a client, or a client
 * registered before purposes existed, which counts as DIRECT. */
enum principal_client_purpose {
    PRINCIPAL_CLIENT_PURPOSE_UNSET = 0,
    PRINCIPAL_CLIENT_PURPOSE_DIRECT,    /* direct care: the records its organisation may see */
    PRINCIPAL_CLIENT_PURPOSE_SECONDARY, /* secondary uses: bulk export only, de-identified and
                                           opt-outs applied; never the FHIR API's records */
};

struct principal {
    enum principal_kind kind;
    const char *client_name; /* CLIENT: the registered client's name */
    /* CLIENT: set only by the bulk export (analytics/bulk.c) for the read
     * behind a secondary client's de-identified, opt-out-filtered export;
     * never from anything a client sends.  A secondary client's reads
     * without it are refused (access/authz.c): it gets no identifiable
     * record through the API. */
    bool deidentified_export;
    const char *scopes;  /* space-separated SMART-style scopes, e.g. "system/\*.rs" */
    const char *user_id; /* USER: SDS user id (sub claim) */
    const char *user_name;
    const char *role;      /* USER: job role code, e.g. R8000 */
    const char *org;       /* ODS code of the caller's organisation (CLIENT may have one) */
    const char *launcher;  /* USER: the host system that launched them */
    const char *purpose;   /* TREAT, ETREAT, PATRQT, ... */
    const char *person_id; /* USER/CITIZEN: the one person in context, NULL = none */
    bool break_glass;      /* USER: break-glass active for person_id */
    /* CITIZEN acting as another person's proxy (access/proxy.h): person_id
     * is the person they act for, proxy_person_id their own person id and
     * proxy_grant the grant they act under (0: acting for themself).  The
     * authorisation point checks the grant on every request. */
    int64_t proxy_grant;
    const char *proxy_person_id;
    const char *session_id; /* for audit correlation, may be NULL */
    const char *request_id; /* for audit correlation, may be NULL */
    /* CLIENT: the registered client's id (weft client list; the iss/sub of
     * its signed assertions) and what its access is for (client_purpose,
     * as purpose above is the audit's purpose of use); the client's
     * organisation is org above.  0 / UNSET for everyone else. */
    int64_t client_id;
    enum principal_client_purpose client_purpose;
};

/* The purpose as stored ("direct", "secondary"; NULL: a client registered
 * before purposes, direct).  Anything else is SECONDARY, the narrower. */
static inline enum principal_client_purpose principal_client_purpose_of(const char *stored)
{
    if (!stored || strcmp(stored, "direct") == 0)
        return PRINCIPAL_CLIENT_PURPOSE_DIRECT;
    return PRINCIPAL_CLIENT_PURPOSE_SECONDARY;
}

#endif
