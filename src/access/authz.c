/*
 * authz.c - the one authorisation point (see authz.h for the rules).
 *
 * Every path to patient data asks authz_scope_for_person() and hands the
 * resulting category and organisation lists to the store query, so what is
 * withheld is never fetched and cannot show in totals or paging.
 *
 * Cost per decision for a user: the policy version (one row, the parsed
 * policy is cached), the agreement lookup, the objection lookup and, when the
 * person is not the launch context's or an objection is upheld, the
 * break-glass lookup: three or four indexed point reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/authz.h"
#include "access/org.h"
#include "access/policy.h"
#include "access/proxy.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "store/access.h"
#include "store/records.h"

static bool has_scope(const char *scopes, const char *want)
{
    if (!scopes)
        return false;
    size_t n = strlen(want);
    for (const char *p = scopes; (p = strstr(p, want)) != NULL; p += n) {
        bool start = p == scopes || p[-1] == ' ';
        bool end = p[n] == 0 || p[n] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

static bool client_may_read_all(const struct principal *p)
{
    return has_scope(p->scopes, "system/*.rs") || has_scope(p->scopes, "system/*.read") ||
           has_scope(p->scopes, "*");
}

static int deny(struct store *s, const struct principal *p, const char *person_id,
                struct authz_scope *out, const char *reason)
{
    out->allowed = false;
    out->reason = reason;
    if (p->kind == PRINCIPAL_NONE)
        return WEFT_OK; /* nobody to name: the HTTP layer answers 401 */
    return authz_audit_denial(s, p, AUDIT_DENIAL, person_id, reason);
}

/* A refusal because of who the person is (see authz_scope.person_refused). */
static int deny_person(struct store *s, const struct principal *p, const char *person_id,
                       struct authz_scope *out, const char *reason)
{
    out->person_refused = true;
    return deny(s, p, person_id, out, reason);
}

/* The facts of a decision (one statement) for p and person_id (may be NULL). */
static int facts_for(struct store *s, const struct principal *p, const char *person_id,
                     struct store_access_facts *f)
{
    char day[11], now[32];
    org_day(time(NULL), day);
    audit_now(now);
    memset(f, 0, sizeof *f);
    return store_access_facts(s, p->org, day, person_id, p->user_id, now, f);
}

/* The person-independent rules for a user; NULL when they pass.  *cats and
 * *ncats get the role's categories. */
static const char *user_principal_refusal(struct store *s, const struct principal *p,
                                          const struct store_access_facts *f, const char **cats,
                                          int *ncats, int *rc)
{
    const struct policy *pol = NULL;
    *ncats = 0;
    *rc = policy_at_version(s, f->policy_version, &pol);
    if (*rc == WEFT_ENOTFOUND) {
        *rc = 0;
        return "no access policy is loaded: ask the administrator";
    }
    if (*rc)
        return NULL;
    if (!p->role || !policy_role_known(pol, p->role))
        return "your job role is not in the access policy";
    *ncats = policy_role_categories(pol, p->role, cats);
    if (*ncats == 0)
        return "your job role does not give access to records";
    if (!p->org || !f->agreement_in_force)
        return "your organisation has no data sharing agreement in force";
    return NULL;
}

/* The person-independent rules for a client; NULL when they pass. */
static const char *client_principal_refusal(const struct principal *p,
                                            const struct store_access_facts *f)
{
    if (!client_may_read_all(p))
        return "your access does not include this record";
    if (p->client_purpose == PRINCIPAL_PURPOSE_SECONDARY && !p->deidentified_export)
        return "a secondary-use client reads records only de-identified, through FHIR Bulk Data "
               "$export";
    /* a client of an organisation takes part only while the organisation
     * has an agreement in force, as its users and feeds do; a client
     * without one acts for the region that runs Weft */
    if (p->org && *p->org && !f->agreement_in_force)
        return "your organisation has no data sharing agreement in force";
    return NULL;
}

static int user_scope(struct store *s, const struct principal *p, const char *person_id,
                      struct authz_scope *out)
{
    /* one statement for every fact the decision needs */
    struct store_access_facts f;
    int rc = facts_for(s, p, person_id, &f);
    if (rc)
        return rc;
    /* whether the role may start break-glass (pages offer it only then),
     * decided as soon as the role is known */
    const struct policy *pol = NULL;
    if (policy_at_version(s, f.policy_version, &pol) == 0 && p->role &&
        policy_role_known(pol, p->role))
        out->may_break_glass =
            !p->scopes && (policy_role_caps(pol, p->role) & POLICY_CAP_BREAK_GLASS) != 0;
    const char *cats[POLICY_MAX_CATEGORIES];
    int ncats = 0;
    const char *why = user_principal_refusal(s, p, &f, cats, &ncats, &rc);
    if (rc)
        return rc;
    if (why)
        return deny(s, p, person_id, out, why);
    if (!person_id) /* a search across people, or an item of no person: not theirs */
        return deny_person(s, p, NULL, out,
                           "searching across people is not allowed: open a patient from your "
                           "own system");

    bool in_context = p->person_id && strcmp(p->person_id, person_id) == 0;
    bool upheld = strcmp(f.objection, "upheld") == 0;
    bool glass = f.breakglass_until[0] != 0;
    /* an app token (scopes set) is bound to the patient it was launched
     * with: break-glass for someone else widens the user's session, never
     * an app's token */
    if (!in_context && p->scopes)
        return deny_person(s, p, person_id, out,
                           "an app's access is for the patient it was opened with only");
    if (!in_context && !glass)
        return deny_person(s, p, person_id, out,
                           "you may only open the patient you launched from your own system "
                           "(or use break-glass in an emergency)");

    out->allowed = true;
    out->ncategories = ncats;
    out->categories = xcalloc((size_t)ncats, sizeof *out->categories);
    for (int i = 0; i < ncats; i++)
        out->categories[i] = xstrdup(cats[i]);
    int nall;
    policy_categories(&nall);
    out->restricted = ncats < nall;
    out->break_glass = glass;
    if (upheld && !glass) {
        out->objection = true;
        out->norgs = 1;
        out->orgs = xcalloc(1, sizeof *out->orgs);
        out->orgs[0] = xstrdup(p->org);
        out->restricted = true;
    } else {
        out->norgs = -1;
    }
    return WEFT_OK;
}

/*
 * A client: the read scope and its organisation's agreement; then an upheld
 * objection narrows what it sees of the person to the items its own
 * organisation sent (nothing, for a client without an organisation), as it
 * does for users.  Clients have no break-glass.  Across people (person_id
 * NULL) the same rule is applied per person by the store query
 * (objections_apply).
 */
static int client_scope(struct store *s, const struct principal *p, const char *person_id,
                        struct authz_scope *out)
{
    struct store_access_facts f;
    int rc = facts_for(s, p, person_id, &f);
    if (rc)
        return rc;
    const char *why = client_principal_refusal(p, &f);
    if (why)
        return deny(s, p, person_id, out, why);
    out->allowed = true;
    bool has_org = p->org && *p->org;
    if (!person_id) {
        out->objections_apply = true;
        out->objection_org = has_org ? xstrdup(p->org) : NULL;
    } else if (strcmp(f.objection, "upheld") == 0) {
        out->norgs = has_org ? 1 : 0;
        out->orgs = xcalloc(1, sizeof *out->orgs);
        if (has_org)
            out->orgs[0] = xstrdup(p->org);
        out->restricted = true;
        out->objection = true;
    }
    return WEFT_OK;
}

int authz_check_principal(struct store *s, const struct principal *p, const char **reason)
{
    *reason = NULL;
    struct store_access_facts f;
    const char *cats[POLICY_MAX_CATEGORIES];
    int ncats = 0, rc = 0;
    switch (p->kind) {
    case PRINCIPAL_USER:
        if ((rc = facts_for(s, p, NULL, &f)) != 0)
            return rc;
        *reason = user_principal_refusal(s, p, &f, cats, &ncats, &rc);
        if (rc)
            return rc;
        break;
    case PRINCIPAL_CLIENT:
        if (!client_may_read_all(p)) {
            *reason = "your access does not include this record";
            break;
        }
        if ((rc = facts_for(s, p, NULL, &f)) != 0)
            return rc;
        *reason = client_principal_refusal(p, &f);
        break;
    case PRINCIPAL_CITIZEN:
        break;
    case PRINCIPAL_NONE:
        *reason = "sign in first";
        return WEFT_OK;
    }
    if (*reason)
        return authz_audit_denial(s, p, AUDIT_DENIAL, NULL, *reason);
    return WEFT_OK;
}

int authz_scope_for_person(struct store *s, const struct principal *p, const char *person_id,
                           struct authz_scope *out)
{
    memset(out, 0, sizeof *out);
    out->ncategories = -1;
    out->norgs = -1;
    switch (p->kind) {
    case PRINCIPAL_CLIENT: {
        int rc = client_scope(s, p, person_id, out);
        if (rc < 0) {
            authz_scope_clear(out);
            out->allowed = false;
            out->reason = "the access check could not be made: try again";
        }
        return rc;
    }
    case PRINCIPAL_USER: {
        int rc = user_scope(s, p, person_id, out);
        if (rc < 0) {
            authz_scope_clear(out);
            out->allowed = false;
            out->reason = "the access check could not be made: try again";
        }
        return rc;
    }
    case PRINCIPAL_CITIZEN:
        if (person_id && p->person_id && strcmp(p->person_id, person_id) == 0) {
            /* a proxy: a grant in force, with the view scope, for this
             * proxy and this person (proxy_check audits a refusal) */
            const char *why = NULL;
            int rc = proxy_check(s, p, PROXY_SCOPE_VIEW, &why);
            if (rc == WEFT_EDENIED) {
                out->allowed = false;
                out->person_refused = true;
                out->reason = "your proxy access to this record is not in force";
                return WEFT_OK;
            }
            if (rc < 0) {
                out->reason = "the access check could not be made: try again";
                return rc;
            }
            out->allowed = true;
            return WEFT_OK;
        }
        return deny_person(s, p, person_id, out, "you may only see your own record");
    case PRINCIPAL_NONE:
        break;
    }
    return deny(s, p, person_id, out, "sign in first");
}

void authz_scope_clear(struct authz_scope *sc)
{
    for (int i = 0; i < sc->ncategories; i++)
        free(sc->categories[i]);
    free(sc->categories);
    for (int i = 0; i < sc->norgs; i++)
        free(sc->orgs[i]);
    free(sc->orgs);
    free(sc->objection_org);
    memset(sc, 0, sizeof *sc);
}

bool authz_scope_allows(const struct authz_scope *sc, const char *category, const char *org)
{
    if (!sc->allowed)
        return false;
    bool cat_ok = sc->ncategories < 0;
    for (int i = 0; !cat_ok && i < sc->ncategories; i++)
        cat_ok = category && strcmp(sc->categories[i], category) == 0;
    bool org_ok = sc->norgs < 0;
    for (int i = 0; !org_ok && i < sc->norgs; i++)
        org_ok = org && strcmp(sc->orgs[i], org) == 0;
    return cat_ok && org_ok;
}

int authz_scope_hidden(struct store *s, const struct authz_scope *sc, const char *person_id,
                       int64_t snapshot, struct authz_hidden *out)
{
    out->categories = out->orgs = false;
    if (!sc->allowed || !person_id)
        return WEFT_OK;
    int rc = WEFT_OK;
    if (sc->ncategories >= 0) {
        /* the categories outside the scope: any one item of them */
        int nall;
        const char *const *all = policy_categories(&nall);
        const char *outside[POLICY_MAX_CATEGORIES];
        int nout = 0;
        for (int i = 0; i < nall && nout < POLICY_MAX_CATEGORIES; i++) {
            bool in = false;
            for (int k = 0; k < sc->ncategories && !in; k++)
                in = strcmp(sc->categories[k], all[i]) == 0;
            if (!in)
                outside[nout++] = all[i];
        }
        if (nout > 0) {
            struct store_query q = {.person_id = person_id,
                                    .categories = outside,
                                    .ncategories = nout,
                                    .limit = 1,
                                    .snapshot = snapshot};
            struct store_result r = {0};
            rc = store_search(s, &q, &r);
            out->categories = rc < 0 || r.nrows > 0;
            store_result_clear(&r);
        }
    }
    if (sc->norgs >= 0) {
        /* the store filters by organisations it is given, not by those it
         * is not: page through the person's items of the allowed categories
         * (index columns are enough) until one from elsewhere turns up */
        const char *after = NULL;
        char *next = NULL;
        int seen = 0;
        out->orgs = false;
        for (;;) {
            struct store_query q = {
                .person_id = person_id,
                .categories = sc->ncategories >= 0 ? (const char *const *)sc->categories : NULL,
                .ncategories = sc->ncategories >= 0 ? sc->ncategories : 0,
                .limit = 500,
                .after = after,
                .snapshot = snapshot};
            struct store_result r = {0};
            int qrc = store_search(s, &q, &r);
            if (qrc < 0) {
                rc = qrc;
                out->orgs = true;
                store_result_clear(&r);
                break;
            }
            for (int i = 0; i < r.nrows && !out->orgs; i++)
                out->orgs = !r.rows[i].deleted &&
                            !authz_scope_allows(sc, r.rows[i].category, r.rows[i].source_org);
            seen += r.nrows;
            free(next);
            next = r.next ? xstrdup(r.next) : NULL;
            snapshot = r.snapshot;
            store_result_clear(&r);
            if (out->orgs || !next)
                break;
            if (seen >= 2000) {
                out->orgs = true; /* not scanned further: say so, safely */
                break;
            }
            after = next;
        }
        free(next);
    }
    if (rc < 0)
        out->categories = true;
    return rc;
}

bool authz_may_break_glass(struct store *s, const struct principal *p)
{
    if (p->kind != PRINCIPAL_USER || p->scopes)
        return false;
    const struct policy *pol = NULL;
    if (policy_current(s, &pol, NULL) != 0)
        return false;
    return (policy_role_caps(pol, p->role) & POLICY_CAP_BREAK_GLASS) != 0;
}

bool authz_may_write(const struct principal *p)
{
    return p->kind == PRINCIPAL_CLIENT &&
           (has_scope(p->scopes, "system/*.cud") || has_scope(p->scopes, "system/*.write") ||
            has_scope(p->scopes, "system/Bundle.c") || has_scope(p->scopes, "*"));
}

const char *authz_write_refusal(const struct principal *p)
{
    if (!authz_may_write(p))
        return "this client may not write: its scopes do not include a write scope";
    if (!p->org || !*p->org)
        return "this client has no organisation: data must be sent by a client registered "
               "with --org";
    return NULL;
}

int authz_audit_write(struct store *s, const struct principal *p, const char *outcome,
                      const char *what, int64_t count, const char *reason)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    ev.action = AUDIT_WRITE;
    ev.outcome = outcome;
    ev.what = what;
    ev.count = count;
    ev.reason = reason;
    int rc = audit_record(s, &ev, false);
    if (rc)
        log_error("authz", "audit append failed request=%s: %s",
                  p->request_id ? p->request_id : "-", weft_strerror(rc));
    return rc;
}

bool authz_type_allowed(const struct principal *p, const char *type)
{
    if (p->kind == PRINCIPAL_CLIENT)
        return client_may_read_all(p);
    if (p->kind != PRINCIPAL_USER)
        return p->kind == PRINCIPAL_CITIZEN;
    if (!p->scopes)
        return true; /* a launched session: the policy decides by category */
    if (has_scope(p->scopes, "patient/*.rs") || has_scope(p->scopes, "patient/*.read") ||
        has_scope(p->scopes, "patient/*.r"))
        return true;
    if (!type)
        return false;
    static const char *const suffix[] = {".rs", ".read", ".r"};
    for (size_t i = 0; i < 3; i++) {
        char want[96];
        int n = snprintf(want, sizeof want, "patient/%s%s", type, suffix[i]);
        if (n > 0 && (size_t)n < sizeof want && has_scope(p->scopes, want))
            return true;
    }
    return false;
}

bool authz_may_review_audit(struct store *s, const struct principal *p)
{
    if (p->kind == PRINCIPAL_CLIENT)
        return has_scope(p->scopes, "system/AuditEvent.rs") ||
               has_scope(p->scopes, "system/AuditEvent.read") || has_scope(p->scopes, "*");
    if (p->kind != PRINCIPAL_USER || p->scopes) /* app tokens never review audit */
        return false;
    const struct policy *pol = NULL;
    if (policy_current(s, &pol, NULL) != 0)
        return false;
    if (!(policy_role_caps(pol, p->role) & POLICY_CAP_AUDIT_REVIEW))
        return false;
    return org_agreement_in_force(s, p->org, time(NULL), NULL);
}

bool authz_may_review_dq(struct store *s, const struct principal *p, const char **only_org)
{
    *only_org = NULL;
    if (p->kind != PRINCIPAL_USER || p->scopes || !p->org)
        return false;
    const struct policy *pol = NULL;
    if (policy_current(s, &pol, NULL) != 0)
        return false;
    unsigned caps = policy_role_caps(pol, p->role);
    if (!(caps & (POLICY_CAP_AUDIT_REVIEW | POLICY_CAP_DQ_REVIEW)))
        return false;
    if (!org_agreement_in_force(s, p->org, time(NULL), NULL))
        return false;
    if (!(caps & POLICY_CAP_AUDIT_REVIEW))
        *only_org = p->org;
    return true;
}

/* A member of staff with an SDS user id whose role's profile has capability
 * cap in the current policy (never an API client or a citizen). */
static bool staff_has_cap(struct store *s, const struct principal *p, unsigned cap)
{
    if (p->kind != PRINCIPAL_USER || p->scopes || !p->user_id || !p->role)
        return false;
    const struct policy *pol = NULL;
    if (policy_current(s, &pol, NULL) != 0)
        return false;
    return (policy_role_caps(pol, p->role) & cap) != 0;
}

bool authz_may_decide_identity(struct store *s, const struct principal *p)
{
    return staff_has_cap(s, p, POLICY_CAP_IDENTITY_DECIDE);
}

bool authz_may_decide_objection(struct store *s, const struct principal *p)
{
    return staff_has_cap(s, p, POLICY_CAP_OBJECTION_DECIDE);
}

bool authz_may_admin_feeds(struct store *s, const struct principal *p)
{
    return staff_has_cap(s, p, POLICY_CAP_FEEDS_ADMIN);
}

int authz_audit_access(struct store *s, const struct principal *p, const char *action,
                       const char *person_id, const char *what, int64_t count)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    if (p->break_glass && p->person_id && person_id && strcmp(p->person_id, person_id) == 0)
        ev.purpose = "ETREAT";
    ev.action = action;
    ev.outcome = AUDIT_OK;
    ev.person_id = person_id;
    ev.what = what;
    ev.count = count;
    int rc = audit_record(s, &ev, false);
    if (rc)
        log_error("authz", "audit append failed request=%s: %s",
                  p->request_id ? p->request_id : "-", weft_strerror(rc));
    return rc;
}

int authz_audit_denial(struct store *s, const struct principal *p, const char *action,
                       const char *person_id, const char *reason)
{
    struct audit_event ev = {0};
    audit_event_from_principal(&ev, p);
    ev.action = action ? action : AUDIT_DENIAL;
    ev.outcome = AUDIT_DENIED;
    ev.person_id = person_id;
    ev.count = 0;
    ev.reason = reason;
    /* The operational log gets the refusal and its reason (policy words),
     * never who it was about: that is in the audit entry. */
    log_warn("authz", "access denied request=%s action=%s: %s", p->request_id ? p->request_id : "-",
             ev.action, reason ? reason : "-");
    int rc = audit_record(s, &ev, false);
    if (rc)
        log_error("authz", "audit append failed request=%s: %s",
                  p->request_id ? p->request_id : "-", weft_strerror(rc));
    return rc;
}

static bool same_person(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

int authz_audit_rows(struct store *s, const struct principal *p, const char *action,
                     const struct store_row *rows, int nrows, const bool *hidden)
{
    int rc = WEFT_OK;
    bool *done = xcalloc((size_t)nrows + 1, sizeof *done);
    int *mine = xcalloc((size_t)nrows + 1, sizeof *mine);
    for (int i = 0; i < nrows; i++) {
        if (done[i] || (hidden && hidden[i]))
            continue;
        /* the rows of this person (each row is compared once per person) */
        const char *person = rows[i].person_id;
        int count = 0;
        for (int j = i; j < nrows; j++)
            if (!done[j] && !(hidden && hidden[j]) && same_person(person, rows[j].person_id)) {
                done[j] = true;
                mine[count++] = j;
            }
        struct buf what = BUF_INIT;
        if (count <= AUTHZ_AUDIT_MAX_IDS) {
            /* few items: "Type id id Type2 id" */
            const char *last_type = NULL;
            for (int k = 0; k < count; k++) {
                const struct store_row *r = &rows[mine[k]];
                if (!last_type || strcmp(last_type, r->type) != 0)
                    buf_addf(&what, "%s%s", what.len ? " " : "", r->type);
                buf_addc(&what, ' ');
                buf_adds(&what, r->id);
                last_type = r->type;
            }
        } else {
            /* many items: the categories they belong to, each once */
            const char *seen[POLICY_MAX_CATEGORIES + 8];
            int nseen = 0;
            buf_adds(&what, "categories:");
            for (int k = 0; k < count; k++) {
                const char *c = rows[mine[k]].category;
                bool dup = !c;
                for (int m = 0; m < nseen && !dup; m++)
                    dup = strcmp(seen[m], c) == 0;
                if (dup)
                    continue;
                if (nseen < (int)(sizeof seen / sizeof seen[0]))
                    seen[nseen++] = c;
                buf_addc(&what, ' ');
                buf_adds(&what, c);
            }
        }
        int r = authz_audit_access(s, p, action, person, what.data, count);
        if (r && !rc)
            rc = r;
        buf_release(&what);
    }
    free(mine);
    free(done);
    return rc;
}

int authz_risk_list(struct store *s, const struct principal *p, const char **reason)
{
    *reason = NULL;
    const char *why = NULL;
    const struct policy *pol = NULL;
    if (p->kind != PRINCIPAL_USER || p->scopes || !p->org || !p->role) {
        why = "the risk list is for a GP practice's staff signed in from their own system";
    } else if (policy_current(s, &pol, NULL) != 0 || !policy_role_known(pol, p->role) ||
               !(policy_role_caps(pol, p->role) & POLICY_CAP_RISK_LIST)) {
        why = "your role may not see the practice's risk list";
    } else {
        struct store_org o;
        int rc = store_org_get(s, p->org, &o);
        if (rc && rc != WEFT_ENOTFOUND)
            return rc;
        bool gp = rc == 0 && o.type && strcmp(o.type, "gp") == 0;
        if (rc == 0)
            store_org_clear(&o);
        int err = 0;
        if (!gp)
            why = "the risk list is for GP practices: your organisation is not one";
        else if (!org_agreement_in_force(s, p->org, time(NULL), &err))
            why = err ? "the organisation's agreement could not be checked"
                      : "your organisation has no data sharing agreement in force";
    }
    if (!why)
        return WEFT_OK;
    *reason = why;
    if (p->kind == PRINCIPAL_NONE)
        return WEFT_OK;
    return authz_audit_denial(s, p, AUDIT_DENIAL, NULL, why);
}

int authz_secondary_use(struct store *s, const struct principal *p, const char **reason)
{
    *reason = NULL;
    const char *why = NULL;
    const struct policy *pol = NULL;
    if (p->kind != PRINCIPAL_USER || p->scopes || !p->role)
        why = "secondary-use outputs are for analysts and planners signed in from their own "
              "system";
    else if (policy_current(s, &pol, NULL) != 0 || !policy_role_known(pol, p->role) ||
             !(policy_role_caps(pol, p->role) & POLICY_CAP_SECONDARY_USE))
        why = "your role may not see secondary-use outputs (the policy capability "
              "secondary-use)";
    if (!why)
        return WEFT_OK;
    *reason = why;
    if (p->kind == PRINCIPAL_NONE)
        return WEFT_OK;
    return authz_audit_denial(s, p, AUDIT_DENIAL, NULL, why);
}

int authz_may_match_patients(struct store *s, const struct principal *p, const char **reason)
{
    *reason = NULL;
    const char *why = NULL;
    const struct policy *pol = NULL;
    if (p->kind == PRINCIPAL_CLIENT) {
        if (!has_scope(p->scopes, "system/Patient.$match") && !has_scope(p->scopes, "*"))
            why = "this client may not look people up: its scopes do not include "
                  "system/Patient.$match";
    } else if (p->kind != PRINCIPAL_USER || p->scopes || !p->role) {
        why = "looking people up is for staff signed in from their own system and for "
              "registered host systems";
    } else if (policy_current(s, &pol, NULL) != 0 || !policy_role_known(pol, p->role) ||
               !(policy_role_caps(pol, p->role) & POLICY_CAP_PATIENT_MATCH)) {
        why = "your role may not look people up (policy capability patient-match)";
    }
    if (!why && p->org && *p->org) {
        int err = 0;
        if (!org_agreement_in_force(s, p->org, time(NULL), &err))
            why = err ? "the organisation's agreement could not be checked"
                      : "your organisation has no data sharing agreement in force";
    }
    if (!why)
        return WEFT_OK;
    *reason = why;
    if (p->kind == PRINCIPAL_NONE)
        return WEFT_OK;
    return authz_audit_denial(s, p, AUDIT_DENIAL, NULL, why);
}
