/*
 * scope.c - SMART scope strings (see scope.h).  Scope sets are short (a
 * handful of scopes), so each question walks the string: no allocation.
 */
#include <string.h>

#include "access/scope.h"

static bool type_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* v2 letters in the order c r u d s, each at most once; v1 words. */
static bool parse_perms(const char *p, size_t n, unsigned *out)
{
    if (n == 4 && strncmp(p, "read", 4) == 0) {
        *out = SCOPE_R | SCOPE_S;
        return true;
    }
    if (n == 5 && strncmp(p, "write", 5) == 0) {
        *out = SCOPE_C | SCOPE_U | SCOPE_D;
        return true;
    }
    if (n == 1 && p[0] == '*') {
        *out = SCOPE_ALL;
        return true;
    }
    static const char order[] = "cruds";
    unsigned bits = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = memchr(order + at, p[i], sizeof order - 1 - at);
        if (!k)
            return false;
        at = (size_t)(k - order) + 1;
        bits |= 1u << (k - order);
    }
    *out = bits;
    return n > 0;
}

bool scope_parse(const char *s, size_t n, struct scope *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = memchr(s, '/', n);
    if (!slash)
        return false;
    size_t ln = (size_t)(slash - s);
    if (!((ln == 6 && strncmp(s, "system", 6) == 0) || (ln == 7 && strncmp(s, "patient", 7) == 0) ||
          (ln == 4 && strncmp(s, "user", 4) == 0)))
        return false;
    memcpy(out->level, s, ln);
    const char *t = slash + 1, *end = s + n;
    const char *dot = memchr(t, '.', (size_t)(end - t));
    if (!dot || dot == t || (size_t)(dot - t) >= SCOPE_TYPE_MAX)
        return false;
    bool star = dot - t == 1 && t[0] == '*';
    for (const char *c = t; !star && c < dot; c++)
        if (!type_char(*c))
            return false;
    memcpy(out->type, t, (size_t)(dot - t));
    const char *p = dot + 1;
    size_t pn = (size_t)(end - p);
    if (pn > 1 && p[0] == '$' && !star) {
        for (size_t i = 1; i < pn; i++)
            if (!type_char(p[i]) && p[i] != '-')
                return false;
        out->perms = SCOPE_OPERATION;
        return true;
    }
    return parse_perms(p, pn, &out->perms);
}

/* Call fn for each scope of the set until it returns true. */
static bool any_scope(const char *scopes, bool (*fn)(const char *, size_t, const void *),
                      const void *ctx)
{
    const char *p = scopes ? scopes : "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p && fn(p, (size_t)(e - p), ctx))
            return true;
        p = e;
    }
    return false;
}

static bool is_literal(const char *s, size_t n, const void *ctx)
{
    const char *want = ctx;
    return strlen(want) == n && strncmp(s, want, n) == 0;
}

bool scope_set_has(const char *scopes, const char *want)
{
    return any_scope(scopes, is_literal, want);
}

struct ask {
    const char *level, *type;
    unsigned perms;
    bool any_type;
};

static bool grants(const char *s, size_t n, const void *ctx)
{
    const struct ask *a = ctx;
    if (n == 1 && s[0] == '*')
        return true;
    struct scope sc;
    if (!scope_parse(s, n, &sc) || sc.perms == SCOPE_OPERATION || strcmp(sc.level, a->level) != 0)
        return false;
    if ((sc.perms & a->perms) != a->perms)
        return false;
    if (a->any_type)
        return true;
    if (strcmp(sc.type, "*") == 0)
        return true;
    return a->type && strcmp(sc.type, a->type) == 0;
}

bool scope_set_allows(const char *scopes, const char *level, const char *type, unsigned perms)
{
    struct ask a = {level, type, perms, false};
    return any_scope(scopes, grants, &a);
}

bool scope_set_allows_any(const char *scopes, const char *level, unsigned perms)
{
    struct ask a = {level, NULL, perms, true};
    return any_scope(scopes, grants, &a);
}

bool scope_within(const struct scope *a, const struct scope *b)
{
    if (strcmp(a->level, b->level) != 0)
        return false;
    if (a->perms == SCOPE_OPERATION || b->perms == SCOPE_OPERATION)
        return false; /* the operation's name is not kept: compare literally */
    if (strcmp(b->type, "*") != 0 && strcmp(a->type, b->type) != 0)
        return false;
    return (a->perms & b->perms) == a->perms;
}
