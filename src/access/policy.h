/*
 * policy.h - access policy as data: job roles -> access profiles -> record
 * categories (BRIEF §5).  The policy text format is documented in
 * docs/ACCESS.md and the shipped default is policy/default.policy.
 *
 * A parsed policy is an opaque, immutable handle: once parsed it may be read
 * from any number of threads at once.  Categories are kept as a bit set, so
 * "may role R see category C" is two lookups and a mask test.
 *
 * Format, one statement per line ('#' starts a comment):
 *     profile NAME [CATEGORY ...]        categories a profile sees
 *     capability PROFILE CAP ...         break-glass, audit-review, dq-review,
 *                                        objection-decide, secondary-use, risk-list,
 *                                        identity-decide, proxy-grant
 *     role CODE PROFILE [DESCRIPTION]    national RBAC job role code
 *     local-role CODE PROFILE [DESC]     a locally defined role
 *     citizen-withhold category NAME REASON      withheld from the person
 *     citizen-withhold label SYSTEM|CODE REASON  (portal, subject access)
 * Errors name the line: "line 12: unknown category 'resluts'".
 */
#ifndef WEFT_ACCESS_POLICY_H
#define WEFT_ACCESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct policy;

/* Capabilities a profile may carry beyond categories. */
#define POLICY_CAP_BREAK_GLASS 0x1      /* may invoke break-glass */
#define POLICY_CAP_AUDIT_REVIEW 0x2     /* may read the audit log / AuditEvent */
#define POLICY_CAP_DQ_REVIEW 0x4        /* may read its own organisation's data-quality reports */
#define POLICY_CAP_OBJECTION_DECIDE 0x8 /* may decide objections to sharing */
/* may run secondary-use outputs: aggregates only, opt-outs applied, small
 * numbers suppressed (analytics; no person's record) */
#define POLICY_CAP_SECONDARY_USE 0x10
/* may see the direct-care risk list of their own GP practice (analytics) */
#define POLICY_CAP_RISK_LIST 0x20
/* may decide who is who: identity reviews, link, unlink, merge, unmerge */
#define POLICY_CAP_IDENTITY_DECIDE 0x40
/* may look people up by demographics across the record (FHIR Patient/$match:
 * a trace; each candidate is still read through the scoped-read path) */
#define POLICY_CAP_PATIENT_MATCH 0x80
/* may grant and revoke citizens' proxy access to another's record
 * (access/proxy.h) */
#define POLICY_CAP_PROXY_GRANT 0x100

/* The bit of a capability name (break-glass, audit-review, dq-review,
 * objection-decide, secondary-use, risk-list, identity-decide, patient-match,
 * proxy-grant), 0 when
 * unknown. */
unsigned policy_capability_bit(const char *name);

/* Parse and validate policy text.  On success *out is a new policy (free
 * with policy_free).  On failure returns WEFT_EPARSE and, when errmsg is not
 * NULL, a malloc'd message naming the line (caller frees). */
int policy_parse(const char *text, size_t len, struct policy **out, char **errmsg);
/* Read and parse a file; errors as policy_parse (WEFT_EIO when unreadable). */
int policy_parse_file(const char *path, struct policy **out, char **errmsg);
void policy_free(struct policy *p);

/* True when role is defined by the policy. */
bool policy_role_known(const struct policy *p, const char *role);
/* True when role's profile allows category (false for unknown roles). */
bool policy_allows(const struct policy *p, const char *role, const char *category);
/* Capability bits (POLICY_CAP_*) of role's profile, 0 for unknown roles. */
unsigned policy_role_caps(const struct policy *p, const char *role);
/* The profile name of role, NULL when unknown (borrowed from p). */
const char *policy_role_profile(const struct policy *p, const char *role);
/* Fill cats (at least POLICY_MAX_CATEGORIES entries) with the categories
 * role may see, static strings; returns the count (0 for unknown roles). */
int policy_role_categories(const struct policy *p, const char *role, const char **cats);

/* The citizen-withhold rule that keeps an item of this category carrying
 * these labels ("system|code" of its meta.security and meta.tag entries)
 * from the person it is about (their portal pages and subject access
 * copies): the rule's reason (borrowed from p), or NULL when the item may be
 * shown.  The first matching rule in file order wins. */
const char *policy_citizen_withhold(const struct policy *p, const char *category,
                                    const char *const *labels, int nlabels);

/* Human-readable summary (roles, profiles, categories) appended to out. */
void policy_describe(const struct policy *p, struct buf *out);

/* The roles in file order (the governance console's decision matrix):
 * the number, and the i-th role's code (description, which may be NULL, to
 * *description when not NULL); NULL when i is out of range.  Borrowed from p. */
int policy_role_count(const struct policy *p);
const char *policy_role_at(const struct policy *p, int i, const char **description);

/* ---- the category vocabulary (BRIEF §2) -------------------------------- */
#define POLICY_MAX_CATEGORIES 32
/* Every record category name, in BRIEF order; *n gets the count. */
const char *const *policy_categories(int *n);
/* Index of a category name, -1 when unknown. */
int policy_category_index(const char *name);
/* True for safeguarding, legal-status, mental-health-act. */
bool policy_category_restricted(const char *name);

/* ---- the policy in force (kept in the store) ----------------------------- */
struct store;
/* The current stored policy, parsed once per version and cached for the
 * process (thread-safe).  *out is borrowed and stays valid until process
 * exit (replaced versions are kept, not freed, so readers never race a
 * free).  WEFT_ENOTFOUND when the store holds no policy; WEFT_EPARSE when the
 * stored text no longer parses (cannot happen through policy_install). */
int policy_current(struct store *s, const struct policy **out, int64_t *version_out);
/* The policy of a known version (from store_access_facts), cached like
 * policy_current. */
int policy_at_version(struct store *s, int64_t version, const struct policy **out);
/* Validate text and make it the current policy, with an audit entry
 * ("policy-change", by = who did it).  On a validation failure nothing is
 * stored and *errmsg names the line. */
int policy_install(struct store *s, const char *text, size_t len, const char *by,
                   int64_t *version_out, char **errmsg);
/* `weft init`: when the store holds no policy, load the shipped default
 * (policy/default.policy, looked for at $WEFT_POLICY, then beside the weft
 * binary and its parents, then ../share/weft/, then ./policy/).  *loaded
 * (may be NULL) gets the file used, or NULL when a policy was there already
 * (static buffer).  Errors as policy_install; WEFT_ENOTFOUND when no file. */
int policy_ensure_default(struct store *s, const char **loaded, char **errmsg);
/* Free the cached policies (tests, process exit). */
void policy_cache_release(void);

#endif
