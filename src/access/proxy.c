/*
 * proxy.c - proxy access grants and the check every proxied request passes
 * (see proxy.h).  Grants are rare writes made by staff, so each waits for
 * its audit entry; the check is one read by primary key per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/org.h"
#include "access/policy.h"
#include "access/proxy.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/principal.h"
#include "store/proxy.h"

static const struct {
    const char *word;
    unsigned bit;
} scopes[] = {
    {"view", PROXY_SCOPE_VIEW},
    {"objection", PROXY_SCOPE_OBJECTION},
    {"copy", PROXY_SCOPE_COPY},
};
#define NSCOPES (sizeof scopes / sizeof scopes[0])

unsigned proxy_scope_parse(const char *text)
{
    if (!text)
        return 0;
    unsigned bits = 0;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < NSCOPES; i++)
            if (strlen(scopes[i].word) == n && strncmp(p, scopes[i].word, n) == 0)
                bit = scopes[i].bit;
        if (!bit)
            return 0;
        bits |= bit;
        if (!p[n])
            return bits;
        p += n + 1;
    }
}

void proxy_scope_format(unsigned bits, char out[32])
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < NSCOPES; i++)
        if (bits & scopes[i].bit) /* at most "view,objection,copy": 19 bytes */
            n += (size_t)snprintf(out + n, 32 - n, "%s%s", n ? "," : "", scopes[i].word);
}

const char *proxy_basis_purpose(const char *basis)
{
    if (!basis)
        return NULL;
    if (strcmp(basis, "parent") == 0)
        return "FAMRQT"; /* HL7 v3 PurposeOfUse: family requested */
    if (strcmp(basis, "consent") == 0)
        return "SUPNWK"; /* support network: a carer the person chose */
    if (strcmp(basis, "lpa") == 0)
        return "PWATRNY"; /* power of attorney */
    return NULL;
}

const char *proxy_grant_ended(const struct store_proxy_grant *g, const char *today)
{
    if (g->revoked)
        return "Your access to this record as a proxy was revoked.";
    if (!g->until || strcmp(today, g->until) > 0)
        return "Your access to this record as a proxy has ended: it was given until a date that "
               "has passed.";
    return NULL;
}

static bool text_ok(const char *t, size_t max)
{
    if (!t)
        return false;
    size_t n = strlen(t);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r';
    return any && n <= max;
}

static void actor(const struct principal *who, char out[256])
{
    snprintf(out, 256, "%s (%s%s%s)", who->user_id ? who->user_id : "?",
             who->role ? who->role : "?", who->org ? ", " : "", who->org ? who->org : "");
}

/* The audit entry of a grant step or a refusal. */
static int audit_grant(struct store *s, const struct principal *who, const char *outcome,
                       const char *person_id, int64_t id, const char *reason)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, who);
    struct buf what = BUF_INIT;
    if (id > 0)
        buf_addf(&what, "proxy-grant %lld", (long long)id);
    ev.action = AUDIT_ADMIN;
    ev.outcome = outcome;
    ev.person_id = person_id;
    ev.what = id > 0 ? what.data : "proxy-grant";
    ev.count = -1;
    ev.reason = reason;
    int rc = audit_record(s, &ev, true);
    buf_release(&what);
    return rc;
}

/* A member of staff whose role may grant (policy capability proxy-grant);
 * else the refusal is audited and WEFT_EDENIED returned. */
static int may_grant(struct store *s, const struct principal *who, const char *person_id,
                     int64_t id, const char **why)
{
    const struct policy *pol = NULL;
    bool allowed = who->kind == PRINCIPAL_USER && who->user_id && who->role &&
                   policy_current(s, &pol, NULL) == 0 &&
                   (policy_role_caps(pol, who->role) & POLICY_CAP_PROXY_GRANT);
    if (allowed)
        return WEFT_OK;
    *why = "your job role may not grant or revoke proxy access (the access policy names the "
           "roles that may: capability proxy-grant)";
    int rc = audit_grant(s, who, AUDIT_DENIED, person_id, id,
                         "proxy access change refused: role may not grant proxy access");
    return rc ? rc : WEFT_EDENIED;
}

int proxy_grant(struct store *s, const struct principal *who, const struct store_proxy_grant *in,
                int64_t *id_out, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    unsigned bits = proxy_scope_parse(in->scope);
    char today[11];
    org_day(time(NULL), today);
    if (!bits) {
        *why = "the scope is one or more of view, objection, copy (comma-separated)";
        return WEFT_EINVAL;
    }
    if (!proxy_basis_purpose(in->basis)) {
        *why = "the basis is parent, consent or lpa (lasting power of attorney)";
        return WEFT_EINVAL;
    }
    if (!text_ok(in->reason, 2000)) {
        *why = "give the reason for the grant (at most 2000 characters)";
        return WEFT_EINVAL;
    }
    if (in->name && strlen(in->name) > 200) {
        *why = "the name is at most 200 characters";
        return WEFT_EINVAL;
    }
    if (!org_date_valid(in->until) || strcmp(in->until, today) < 0) {
        *why = "the end date is a day YYYY-MM-DD, today or later";
        return WEFT_EINVAL;
    }
    if (!in->proxy_person_id || !in->person_id || strcmp(in->proxy_person_id, in->person_id) == 0) {
        *why = "a person cannot be their own proxy";
        return WEFT_EINVAL;
    }
    int rc = may_grant(s, who, in->person_id, 0, why);
    if (rc)
        return rc;
    char now[32], by[256], scope[32];
    audit_now(now);
    actor(who, by);
    proxy_scope_format(bits, scope);
    struct store_proxy_grant g = *in;
    g.id = 0;
    g.scope = scope;
    g.created = now;
    g.created_by = by;
    g.revoked = g.revoked_by = g.revoked_reason = NULL;
    int64_t id = 0;
    if ((rc = store_proxy_grant_add(s, &g, &id)) != 0)
        return rc;
    struct buf reason = BUF_INIT;
    buf_addf(&reason, "proxy access granted: NHS %s may act for NHS %s (%s; basis %s) until %s: %s",
             in->proxy_nhs ? in->proxy_nhs : "-", in->nhs ? in->nhs : "-", scope, in->basis,
             in->until, in->reason);
    rc = audit_grant(s, who, AUDIT_OK, in->person_id, id, reason.data);
    buf_release(&reason);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

int proxy_revoke(struct store *s, const struct principal *who, int64_t id, const char *reason,
                 const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    if (!text_ok(reason, 2000)) {
        *why = "give the reason for revoking (at most 2000 characters)";
        return WEFT_EINVAL;
    }
    struct store_proxy_grant g;
    int rc = store_proxy_grant_get(s, id, &g);
    if (rc == WEFT_ENOTFOUND)
        *why = "there is no proxy grant with that id";
    if (rc)
        return rc;
    if ((rc = may_grant(s, who, g.person_id, id, why)) != 0) {
        store_proxy_grant_clear(&g);
        return rc;
    }
    char now[32], by[256];
    audit_now(now);
    actor(who, by);
    rc = store_proxy_grant_revoke(s, id, now, by, reason);
    if (rc == WEFT_ECONFLICT)
        *why = "the grant is revoked already";
    if (rc == 0) {
        struct buf text = BUF_INIT;
        buf_addf(&text, "proxy access revoked: NHS %s may no longer act for NHS %s: %s",
                 g.proxy_nhs, g.nhs, reason);
        rc = audit_grant(s, who, AUDIT_OK, g.person_id, id, text.data);
        buf_release(&text);
    }
    store_proxy_grant_clear(&g);
    return rc;
}

int proxy_check(struct store *s, const struct principal *p, unsigned need, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    if (p->proxy_grant == 0)
        return WEFT_OK;
    struct store_proxy_grant g;
    int rc = store_proxy_grant_get(s, p->proxy_grant, &g);
    if (rc && rc != WEFT_ENOTFOUND)
        return rc;
    char today[11];
    org_day(time(NULL), today);
    const char *refusal = NULL, *audit_reason = NULL;
    if (rc == WEFT_ENOTFOUND || p->kind != PRINCIPAL_CITIZEN || !p->person_id ||
        !p->proxy_person_id || strcmp(g.person_id, p->person_id) != 0 ||
        strcmp(g.proxy_person_id, p->proxy_person_id) != 0) {
        refusal = "You do not have proxy access to this record.";
        audit_reason = "proxy access refused: no such grant for this proxy and person";
    } else if ((refusal = proxy_grant_ended(&g, today)) != NULL) {
        audit_reason = g.revoked ? "proxy access refused: the grant was revoked"
                                 : "proxy access refused: the grant has expired";
    } else if ((proxy_scope_parse(g.scope) & need) != need) {
        refusal = need & PROXY_SCOPE_OBJECTION
                      ? "Your proxy access to this record does not include acting on objections "
                        "to sharing."
                  : need & PROXY_SCOPE_COPY
                      ? "Your proxy access to this record does not include asking for a copy."
                      : "Your proxy access to this record does not include seeing it.";
        audit_reason = "proxy access refused: outside the grant's scope";
    }
    if (rc == 0)
        store_proxy_grant_clear(&g);
    if (!refusal)
        return WEFT_OK;
    *why = refusal;
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    ev.action = AUDIT_DENIAL;
    ev.outcome = AUDIT_DENIED;
    ev.person_id = p->person_id;
    ev.count = 0;
    ev.reason = audit_reason;
    log_warn("proxy", "proxy access denied request=%s: %s", p->request_id ? p->request_id : "-",
             audit_reason);
    rc = audit_record(s, &ev, true);
    return rc ? rc : WEFT_EDENIED;
}

void proxy_principal(struct principal *p, const struct store_proxy_grant *g, char *client)
{
    snprintf(client, 32, "proxy-grant:%lld", (long long)g->id);
    p->proxy_person_id = p->person_id;
    p->person_id = g->person_id;
    p->proxy_grant = g->id;
    p->purpose = proxy_basis_purpose(g->basis);
    p->client_name = client;
}
