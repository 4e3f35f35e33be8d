/*
 * scope.h - SMART scopes as strings ("system/Observation.rs",
 * "system/\*.read", "patient/\*.r"): parsing one, and asking a space-separated
 * set whether it grants a level, resource type and permission.
 *
 * Both SMART versions are understood: v1 "read" (= v2 "rs"), "write"
 * (= "cud") and "*" (= "cruds"), and v2 permission letters, each at most
 * once and in the order c r u d s.  A scope naming an operation
 * ("system/Patient.$match") is not a resource scope: it parses as
 * SCOPE_OPERATION and is matched only literally (scope_set_has).
 */
#ifndef WEFT_ACCESS_SCOPE_H
#define WEFT_ACCESS_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

enum {
    SCOPE_C = 1,  /* create */
    SCOPE_R = 2,  /* read */
    SCOPE_U = 4,  /* update */
    SCOPE_D = 8,  /* delete */
    SCOPE_S = 16, /* search */
    SCOPE_ALL = 31,
    SCOPE_OPERATION = 32, /* "Type.$op": no permissions, matched literally */
};

#define SCOPE_TYPE_MAX 64

struct scope {
    char level[8];             /* "system", "patient" or "user" */
    char type[SCOPE_TYPE_MAX]; /* resource type or "*" */
    unsigned perms;            /* SCOPE_* bits */
};

/* Parse s[0..n) as one scope into *out; false when it is not one. */
bool scope_parse(const char *s, size_t n, struct scope *out);

/* True when scopes (space-separated, may be NULL) holds exactly want. */
bool scope_set_has(const char *scopes, const char *want);

/* True when scopes grants every permission in perms on resource type type
 * (NULL: on every type, i.e. a "*" scope) at level: one scope must give
 * them all (as "system/\*.rs" or "system/Observation.read"), or the whole-
 * access scope "*". */
bool scope_set_allows(const char *scopes, const char *level, const char *type, unsigned perms);

/* True when scopes holds some scope of level with perms on any type. */
bool scope_set_allows_any(const char *scopes, const char *level, unsigned perms);

/* True when scope a (parsed) is within scope b: same level, b's type "*" or
 * a's type, a's permissions among b's.  Never for operation scopes: compare
 * those literally (scope_set_has). */
bool scope_within(const struct scope *a, const struct scope *b);

#endif
