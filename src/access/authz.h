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

#include "access/principal.h"

struct store;

struct authz_scope {
    bool allowed;          /* false: may not see this person's record at all */
    const char *reason;    /* static text when !allowed (safe to show: no patient data) */
    int ncategories;       /* -1: every category; else the count in categories */
    char **categories;     /* allowed record categories (owned by the scope) */
    int norgs;             /* -1: items of every organisation; else the count in orgs */
    char **orgs;           /* source organisations whose items may be seen (owned) */
    bool restricted;       /* true when anything may be withheld: say so, generally */
};

/*
 * Decide what principal p may see of the record of person_id (NULL: a query
 * across people, allowed only to principals with a system-wide read scope).
 * Fills *out (release with authz_scope_clear) and returns 0; the decision is
 * in out->allowed.  Returns a negative error only when the decision could not
 * be made (store failure): callers must then deny.
 */
int authz_scope_for_person(struct store *s, const struct principal *p, const char *person_id,
                           struct authz_scope *out);
void authz_scope_clear(struct authz_scope *sc);

/* True when the scope lets an item of this category from this organisation
 * be seen (for paths that hold a row already, e.g. read by id). */
bool authz_scope_allows(const struct authz_scope *sc, const char *category, const char *org);

/* True when principal p's scopes permit writing (loading bundles). */
bool authz_may_write(const struct principal *p);

#endif
