/*
 * authz.h - the one authorisation point.  Every read, search, $everything,
 * page and export of patient data asks it first, and applies what it says
 * to the store query itself, so withheld items are never fetched and cannot
 * leak through totals, counts or paging.
 *
 * The decision for a (principal, person) is a scope: whether the person may
 * be opened at all, which record categories may be seen, and which source
 * organisations' items may be seen (an upheld objection limits a user to
 * their own organisation's items unless break-glass is active).
 *
 * The policy behind it (roles -> profiles -> categories) is data, loaded by
 * the access module; this header is the contract the rest of Weft uses.
 */
#ifndef WEFT_ACCESS_AUTHZ_H
#define WEFT_ACCESS_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/principal.h"
#include "store/records.h"

struct store;

struct authz_scope {
    bool allowed;       /* false: may not see this person's record at all */
    const char *reason; /* static text when !allowed (safe to show: no patient data) */
    int ncategories;    /* -1: every category; else the count in categories */
    char **categories;  /* allowed record categories (owned by the scope) */
    int norgs;          /* -1: items of every organisation; else the count in orgs */
    char **orgs;        /* source organisations whose items may be seen (owned) */
    bool restricted;    /* true when anything may be withheld: say so, generally */
    /* Why the scope is narrower (STYLE habit 18), so that a page or an API
     * answer can tell "none recorded" from "none you may see": */
    bool objection;       /* orgs narrowed to the caller's own by an upheld objection */
    bool break_glass;     /* break-glass is active for this user and person */
    bool may_break_glass; /* the role's policy lets it start break-glass */
    /* !allowed because of who the person is (not the caller's launch
     * context, not the citizen's own record): a read by id must then answer
     * exactly as for an unknown id, so that ids do not reveal who has a
     * record where.  false for refusals that do not depend on the person
     * (role, agreement, read scope): authz_check_principal() gives those for
     * unknown ids too. */
    bool person_refused;
    /* A query across people (person NULL) by a client: items of a person
     * with an upheld objection may be seen only when their source
     * organisation is objection_org (NULL: never).  The store applies it
     * (store_query.objections). */
    bool objections_apply;
    char *objection_org; /* owned */
};

/* What a scope hid from one person's record: set when the record holds at
 * least one item the scope leaves out for that reason.  Booleans only, so
 * the caller can say that something is not shown without saying what. */
struct authz_hidden {
    bool categories; /* items in categories the role does not cover */
    bool orgs;       /* items from organisations the scope leaves out */
};

/*
 * Decide what principal p may see of the record of person_id (NULL: a query
 * across people, allowed only to principals with a system-wide read scope).
 * Fills *out (release with authz_scope_clear) and returns 0; the decision is
 * in out->allowed.  A refusal of a user is written to the audit log here.
 *
 * The rules for a member of staff (PRINCIPAL_USER), in order:
 *   1. their role is in the policy in force, and its profile has categories;
 *   2. their organisation has an agreement in force today (access/org.h);
 *   3. the person is the one in their launch context, or break-glass is
 *      active for (user, organisation, person);
 *   4. categories = the role profile's categories;
 *   5. an upheld objection limits orgs to the user's own organisation,
 *      unless break-glass is active.
 * Clients (API clients and feeds' tokens): any person with a system read
 * scope ("system/\*.rs", ".read", "*", or of some types, "system/Patient.rs",
 * each type then checked by authz_type_allowed) when their organisation, if
 * they have one, has an agreement in force; an upheld objection limits orgs
 * to the client's organisation (none for a client without one).  A client
 * registered for secondary uses (principal.client_purpose
 * PRINCIPAL_CLIENT_PURPOSE_SECONDARY) is refused every record (and writes,
 * $match, the audit log): it may only run bulk exports, which decide for
 * themselves what a secondary use may hold.  Citizens: their own person only,
 * or the person they act for under a proxy grant in force whose scope
 * includes view (access/proxy.h; a refusal is audited there).
 * Every refusal is audited.
 * Returns a negative error only when the decision could not be made (store
 * failure): callers must then deny.
 */
int authz_scope_for_person(struct store *s, const struct principal *p, const char *person_id,
                           struct authz_scope *out);
void authz_scope_clear(struct authz_scope *sc);

/*
 * The part of the decision that does not depend on the person: the role is
 * in the policy and gives categories, the organisation (when the principal
 * has one) has an agreement in force, a client has a read scope.  For
 * replies about an id that does not exist: they must be the same as for an
 * existing item of someone the caller may not see (404), unless the caller
 * would be refused whoever the person was (403 with *reason).  Returns 0
 * with *reason NULL when allowed, 0 with *reason (static, patient-free)
 * after auditing the refusal, or a negative error (deny).
 */
int authz_check_principal(struct store *s, const struct principal *p, const char **reason);

/*
 * Fill *out with what sc (allowed, from authz_scope_for_person for
 * person_id) hides of that person's record at store snapshot (0: now): one
 * indexed query with limit 1 per reason (the categories outside the scope;
 * the source organisations outside it, scanned up to 2000 items, beyond
 * which it is reported as hidden).  Nothing is returned of the hidden items
 * themselves.  Returns 0 or a negative store error (*out then says hidden,
 * the safe answer).
 */
int authz_scope_hidden(struct store *s, const struct authz_scope *sc, const char *person_id,
                       int64_t snapshot, struct authz_hidden *out);

/* True when p is a launched user whose role's profile carries the
 * break-glass capability in the policy in force (and not an app token). */
bool authz_may_break_glass(struct store *s, const struct principal *p);

/* True when the scope lets an item of this category from this organisation
 * be seen (for paths that hold a row already, e.g. read by id). */
bool authz_scope_allows(const struct authz_scope *sc, const char *category, const char *org);

/* True when principal p's scopes permit writing (loading bundles). */
bool authz_may_write(const struct principal *p);
/* The decision on a write through the API (POST /fhir) before anything is
 * kept: NULL when p may write (a write scope and an organisation), else a
 * static, patient-free reason (answer 403; audit it with
 * authz_audit_write).  The organisation's agreement is checked where the
 * bundle is kept (the write hook). */
const char *authz_write_refusal(const struct principal *p);
/* Audit one write (action AUDIT_WRITE) with its outcome (AUDIT_OK,
 * AUDIT_DENIED, AUDIT_FAILED): what names what was sent and what became of
 * it, count the resources written, reason why it failed or was refused
 * (may be NULL).  Returns 0 or a negative error. */
int authz_audit_write(struct store *s, const struct principal *p, const char *outcome,
                      const char *what, int64_t count, const char *reason);

/* True when p may read resources of this FHIR type: always for launched
 * sessions and clients with a wildcard read scope; for SMART app tokens only
 * when a scope such as "patient/\*.rs" or "patient/Observation.rs" (or
 * ".read") grants it. */
bool authz_type_allowed(const struct principal *p, const char *type);

/* True when p's role may read the audit log (policy capability
 * audit-review: R0001, R5105, IG officers in the default policy), or p is an
 * API client with the "system/AuditEvent.rs" scope. */
bool authz_may_review_audit(struct store *s, const struct principal *p);

/* Whose data-quality reports p may read (they list the sources' own
 * identifiers of people): every organisation's (*only_org NULL) for a role
 * that may review the audit log; its own organisation's (*only_org =
 * p->org) for a role with the policy capability dq-review (a data-quality
 * lead, an information officer); false for anyone else.  Launched staff
 * only, of an organisation with an agreement in force. */
bool authz_may_review_dq(struct store *s, const struct principal *p, const char **only_org);

/* True when p may decide who is who (identity reviews, link, unlink, merge,
 * unmerge): a member of staff (not an app or API client) whose role's
 * profile has the policy capability identity-decide (the information-officer
 * profile in the default policy).  The caller audits a refusal
 * (authz_audit_denial). */
bool authz_may_decide_identity(struct store *s, const struct principal *p);

/* True when p may decide objections to sharing (and so see the review
 * queue): a member of staff with an SDS user id whose role's profile has the
 * policy capability objection-decide (the clinician profile in the default
 * policy).  objection_decide() checks the same rule; the caller audits a
 * refusal (authz_audit_denial). */
bool authz_may_decide_objection(struct store *s, const struct principal *p);

/* True when p may run the feeds console (/admin/feeds): read inbound
 * messages verbatim (each read audited by the caller), search them by
 * content, replay and resubmit them.  A member of staff whose role's profile
 * has the policy capability feeds-admin (the integration profile in the
 * default policy).  Feed status and message lists without content are also
 * open to audit-review roles (authz_may_review_audit). */
bool authz_may_admin_feeds(struct store *s, const struct principal *p);

/*
 * Whether p may look people up by demographics (FHIR Patient/$match): a
 * launched member of staff (not an app token) whose role's profile has the
 * policy capability patient-match, of an organisation with an agreement in
 * force; or an API client granted the scope "system/Patient.$match" (or
 * "*") whose organisation, if it has one, has an agreement in force.  0
 * with *reason NULL when allowed; 0 with *reason (static, patient-free)
 * after auditing the refusal; a negative error when it could not be
 * decided (deny).  Each candidate found is then read as any record is
 * (access/read.h): the look-up never widens whose record may be seen.
 */
int authz_may_match_patients(struct store *s, const struct principal *p, const char **reason);

/*
 * Whether p may see the direct-care risk list of their own GP practice
 * (p->org; analytics/risklist.h): a launched member of staff (not an app
 * token) whose role's profile has the policy capability risk-list, of an
 * organisation of type gp with an agreement in force.  0 with *reason NULL
 * when allowed; 0 with *reason (static, patient-free) after auditing the
 * refusal; a negative error when it could not be decided (deny).  Opening
 * a listed patient's record is decided as for any record
 * (authz_scope_for_person: the launched patient, or break-glass).
 */
int authz_risk_list(struct store *s, const struct principal *p, const char **reason);

/*
 * Whether p may see secondary-use outputs on a page (analytics/secondary.h:
 * aggregates only, opt-outs applied, small numbers suppressed): a launched
 * member of staff (not an app token) whose role's profile has the policy
 * capability secondary-use (the analyst profile: ANALYST, PLANNER).  0 with
 * *reason NULL when allowed; 0 with *reason (static) after auditing the
 * refusal; a negative error when it could not be decided (deny).
 */
int authz_secondary_use(struct store *s, const struct principal *p, const char **reason);

/*
 * Audit one access that was allowed (action AUDIT_READ, AUDIT_SEARCH,
 * AUDIT_EXPORT ...): what lists the returned "Type/id" (or categories),
 * count how many.  Denials by authz_scope_for_person() are audited by it;
 * callers audit what they returned.  Returns 0 or a negative error (the
 * caller should then fail the request: no unaudited access).
 */
int authz_audit_access(struct store *s, const struct principal *p, const char *action,
                       const char *person_id, const char *what, int64_t count);
/* Audit what a reply returned: one entry per person among rows (hidden[i]
 * true: row i was not returned; hidden may be NULL).  what lists "Type id
 * id ..." when a person has at most AUTHZ_AUDIT_MAX_IDS items, else the
 * categories returned ("categories: results medications ..."); count is
 * always the number of items. */
#define AUTHZ_AUDIT_MAX_IDS 20
struct store_row;
int authz_audit_rows(struct store *s, const struct principal *p, const char *action,
                     const struct store_row *rows, int nrows, const bool *hidden);
/* Audit a refusal decided outside authz_scope_for_person (e.g. a read by id
 * of an item the scope does not allow).  reason: static, patient-free. */
int authz_audit_denial(struct store *s, const struct principal *p, const char *action,
                       const char *person_id, const char *reason);

#endif
