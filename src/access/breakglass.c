/*
 * breakglass.c - starting break-glass (see breakglass.h).  The decision of
 * what break-glass allows lives in authz.c, which asks
 * store_breakglass_active() for (user, organisation, person).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/authz.h"
#include "access/breakglass.h"
#include "access/org.h"
#include "access/policy.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "identity/identity.h"
#include "store/access.h"
#include "store/records.h"

const char *const breakglass_codes[] = {
    "emergency-care", "patient-unconscious", "safeguarding-risk", "urgent-clinical-need", NULL,
};
static const char *const labels[] = {
    "Emergency care: the patient needs treatment now",
    "Patient cannot consent (unconscious or lacks capacity)",
    "Risk of serious harm to the patient or others",
    "Other urgent clinical need (explain below)",
};

const char *breakglass_code_label(const char *code)
{
    for (int i = 0; code && breakglass_codes[i]; i++)
        if (strcmp(breakglass_codes[i], code) == 0)
            return labels[i];
    return NULL;
}

static int refuse(struct store *s, const struct principal *p, const char *person_id,
                  const char *reason, int code, const char **why)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    ev.action = AUDIT_BREAK_GLASS;
    ev.outcome = AUDIT_DENIED;
    ev.person_id = person_id;
    ev.reason = reason;
    ev.count = -1;
    int rc = audit_record(s, &ev, true);
    *why = reason;
    return rc ? rc : code;
}

static bool text_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    size_t visible = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
            return false;
        if (c > ' ')
            visible++;
    }
    return visible >= 5 && n <= BREAKGLASS_TEXT_MAX;
}

int breakglass_start(struct store *s, const struct principal *p, const char *person_id,
                     const char *code, const char *text, int hours, char expires_out[32],
                     const char **why)
{
    *why = NULL;
    expires_out[0] = 0;
    if (p->kind != PRINCIPAL_USER || p->scopes)
        return refuse(s, p, person_id, "break-glass needs a launched session", WEFT_EDENIED, why);
    if (!person_id || !*person_id)
        return refuse(s, p, person_id, "break-glass needs a person", WEFT_EINVAL, why);
    struct store_person who = {0};
    int prc = store_person_get(s, person_id, &who);
    store_person_clear(&who);
    if (prc == WEFT_ENOTFOUND) /* nothing to widen access to: refused, and not kept as a person */
        return refuse(s, p, NULL, "no such person in the shared care record", WEFT_ENOTFOUND, why);
    if (prc)
        return prc;
    if (!breakglass_code_label(code))
        return refuse(s, p, person_id, "choose a reason code", WEFT_EINVAL, why);
    if (!text_ok(text))
        return refuse(s, p, person_id,
                      "explain the reason in your own words (5 to 1000 characters)", WEFT_EINVAL,
                      why);
    const struct policy *pol = NULL;
    int rc = policy_current(s, &pol, NULL);
    if (rc)
        return rc;
    if (!(policy_role_caps(pol, p->role) & POLICY_CAP_BREAK_GLASS))
        return refuse(s, p, person_id, "your job role may not use break-glass", WEFT_EDENIED, why);
    int err = 0;
    if (!org_agreement_in_force(s, p->org, time(NULL), &err))
        return err ? err
                   : refuse(s, p, person_id,
                            "your organisation has no data sharing agreement in force",
                            WEFT_EDENIED, why);
    if (hours <= 0)
        hours = BREAKGLASS_HOURS_DEFAULT;
    char now[32];
    audit_now(now);
    time_t t = time(NULL) + (time_t)hours * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(expires_out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    struct store_breakglass b = {
        .user_id = (char *)p->user_id,
        .user_name = (char *)p->user_name,
        .role = (char *)p->role,
        .org = (char *)p->org,
        .person_id = (char *)person_id,
        .session = (char *)p->session_id,
        .reason_code = (char *)code,
        .reason_text = (char *)text,
        .started = now,
        .expires = expires_out,
    };
    int64_t id = 0;
    if ((rc = store_breakglass_add(s, &b, &id)) != 0)
        return rc;
    struct buf reason = BUF_INIT;
    buf_addf(&reason, "%s: %s (until %s)", code, text, expires_out);
    struct buf what = BUF_INIT;
    buf_addf(&what, "breakglass/%lld", (long long)id);
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    ev.action = AUDIT_BREAK_GLASS;
    ev.outcome = AUDIT_OK;
    ev.purpose = "ETREAT";
    ev.person_id = person_id;
    ev.what = what.data;
    ev.count = -1;
    ev.reason = reason.data;
    rc = audit_record(s, &ev, true);
    buf_release(&reason);
    buf_release(&what);
    return rc;
}

enum breakglass_outcome breakglass_request(struct store *s, const struct principal *p,
                                           const struct breakglass_ask *ask, char **person_out,
                                           char expires_out[32], const char **why)
{
    *person_out = NULL;
    *why = NULL;
    expires_out[0] = 0;
    int rc = 0;
    if (ask->person_id) {
        *person_out = xstrdup(ask->person_id);
    } else if (ask->nhs && *ask->nhs) {
        /* find, never create, through the identity API: a person held only
         * for an objection lodged before any record of them (identity.h)
         * has no shared record to open, as for a number never seen */
        bool has_record = false;
        rc = identity_find_nhs(s, ask->nhs, person_out, &has_record);
        if (rc == WEFT_EINVAL)
            return BREAKGLASS_BAD_NHS;
        if (rc == 0 && !has_record) {
            free(*person_out);
            *person_out = NULL;
            rc = WEFT_ENOTFOUND;
        }
        if (rc == WEFT_ENOTFOUND) {
            authz_audit_denial(s, p, AUDIT_BREAK_GLASS, NULL,
                               "no record is held for the NHS number given");
            return BREAKGLASS_NO_RECORD;
        }
        if (rc)
            return BREAKGLASS_FAILED;
    } else {
        *person_out = ask->session_person ? xstrdup(ask->session_person) : NULL;
    }
    rc = breakglass_start(s, p, *person_out, ask->code, ask->text, ask->hours, expires_out, why);
    if (rc == WEFT_EINVAL)
        return BREAKGLASS_INVALID;
    if (rc == WEFT_ENOTFOUND)
        return BREAKGLASS_NOT_FOUND;
    if (rc == WEFT_EDENIED)
        return BREAKGLASS_DENIED;
    return rc ? BREAKGLASS_FAILED : BREAKGLASS_STARTED;
}
