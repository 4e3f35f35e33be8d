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

enum principal_kind {
    PRINCIPAL_NONE = 0, /* unauthenticated */
    PRINCIPAL_CLIENT,   /* API client without user context (service, feed) */
    PRINCIPAL_USER,     /* a member of staff: launched session or SMART token */
    PRINCIPAL_CITIZEN,  /* a citizen reading their own record */
};

/* What an API client's access is for (weft client add --purpose): direct
 * care, or secondary uses (planning, research), whose FHIR Bulk Data
 * exports hold only people cleared by the national data opt-out and no
 * direct identifiers (analytics/bulk.h). */
enum principal_purpose {
    PRINCIPAL_PURPOSE_DIRECT = 0, /* the default */
    PRINCIPAL_PURPOSE_SECONDARY,
};

struct principal {
    enum principal_kind kind;
    const char *client_name; /* CLIENT: the registered client's name */
    int64_t client_id;       /* CLIENT: the registered client's id (0: not a registered client) */
    /* CLIENT: what its access is for.  (Named client_purpose because
     * purpose below is the audit purpose of use.) */
    enum principal_purpose client_purpose;
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
};

#endif
