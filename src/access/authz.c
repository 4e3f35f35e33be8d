/*
 * authz.c - the authorisation point (see authz.h).
 *
 * First version, before the role policy lands: API clients with a read scope
 * ("system/\*.rs", "system/\*.read" or "*") see every category of every person;
 * every other principal is denied.  The access module replaces the body of
 * authz_scope_for_person() with the policy engine; the contract stays.
 */
#include <stdlib.h>
#include <string.h>

#include "access/authz.h"
#include "core/err.h"

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

int authz_scope_for_person(struct store *s, const struct principal *p, const char *person_id,
                           struct authz_scope *out)
{
    (void)s;
    (void)person_id;
    memset(out, 0, sizeof *out);
    out->ncategories = -1;
    out->norgs = -1;
    if (p->kind == PRINCIPAL_CLIENT &&
        (has_scope(p->scopes, "system/*.rs") || has_scope(p->scopes, "system/*.read") ||
         has_scope(p->scopes, "*"))) {
        out->allowed = true;
        return WEFT_OK;
    }
    out->allowed = false;
    out->reason = "your access does not include this record";
    return WEFT_OK;
}

void authz_scope_clear(struct authz_scope *sc)
{
    for (int i = 0; i < sc->ncategories; i++)
        free(sc->categories[i]);
    free(sc->categories);
    for (int i = 0; i < sc->norgs; i++)
        free(sc->orgs[i]);
    free(sc->orgs);
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

bool authz_may_write(const struct principal *p)
{
    return p->kind == PRINCIPAL_CLIENT &&
           (has_scope(p->scopes, "system/*.cud") || has_scope(p->scopes, "system/*.write") ||
            has_scope(p->scopes, "system/Bundle.c") || has_scope(p->scopes, "*"));
}
