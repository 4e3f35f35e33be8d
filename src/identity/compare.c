/*
 * compare.c - the comparison vector (see compare.h): every comparator
 * applied to one pair.  On the feed path this runs for each candidate of a
 * new Patient, so it allocates nothing.
 */
#include <string.h>

#include "identity/compare.h"
#include "identity/dob.h"
#include "identity/jaro.h"
#include "identity/nickname.h"
#include "identity/phonetic.h"
#include "identity/postcode.h"

static const struct {
    const char *name;
    int levels;
    const char *level[COMPARE_MAXLEVELS];
} fields[CF_N] = {
    [CF_GIVEN] = {"given", 4, {"exact", "nickname or close", "initial or similar", "differ"}},
    [CF_FAMILY] = {"family", 4, {"exact", "close", "sounds alike or similar", "differ"}},
    [CF_DOB] = {"dob", 4, {"exact", "day and month swapped", "one digit or year", "differ"}},
    [CF_SEX] = {"sex", 2, {"agree", "differ"}},
    [CF_POSTCODE] = {"postcode", 4, {"full", "sector", "district", "differ"}},
    [CF_ADDR] = {"address", 3, {"exact", "similar", "differ"}},
    [CF_CITY] = {"city", 3, {"exact", "similar", "differ"}},
    [CF_PHONE] = {"phone", 2, {"exact", "differ"}},
    [CF_EMAIL] = {"email", 3, {"exact", "similar", "differ"}},
};

int compare_levels(enum compare_field f)
{
    return fields[f].levels;
}

const char *compare_field_name(enum compare_field f)
{
    return fields[f].name;
}

const char *compare_level_name(enum compare_field f, int l)
{
    if (l < 0)
        return "missing";
    return l < fields[f].levels ? fields[f].level[l] : "?";
}

static int cmp_given(const struct demog *a, const struct demog *b)
{
    const char *x = a->given, *y = b->given;
    if (strcmp(x, y) == 0)
        return 0;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx > 1 && ly > 1) {
        if (nickname_same(x, y) || jaro_winkler(x, y) >= 0.92)
            return 1;
        if ((a->given2[0] && strcmp(a->given2, y) == 0) ||
            (b->given2[0] && strcmp(x, b->given2) == 0))
            return 1;
        if (jaro_winkler(x, y) >= 0.8)
            return 2;
        return 3;
    }
    return x[0] == y[0] ? 2 : 3; /* an initial */
}

static int cmp_family(const char *x, const char *y)
{
    if (strcmp(x, y) == 0)
        return 0;
    double jw = jaro_winkler(x, y);
    if (jw >= 0.92)
        return 1;
    char px[PHONETIC_LEN], py[PHONETIC_LEN];
    phonetic_code(x, px);
    phonetic_code(y, py);
    if (jw >= 0.8 || strcmp(px, py) == 0)
        return 2;
    return 3;
}

/* exact | JW >= 0.9 | differ */
static int cmp_text3(const char *x, const char *y)
{
    if (strcmp(x, y) == 0)
        return 0;
    return jaro_winkler(x, y) >= 0.9 ? 1 : 2;
}

static int cmp_email(const char *x, const char *y)
{
    if (strcmp(x, y) == 0)
        return 0;
    const char *ax = strchr(x, '@'), *ay = strchr(y, '@');
    if (ax && ay && ax - x == ay - y && memcmp(x, y, (size_t)(ax - x)) == 0)
        return 1;
    return jaro_winkler(x, y) >= 0.9 ? 1 : 2;
}

#define BOTH(f) (a->f[0] && b->f[0])

void compare_pair(const struct demog *a, const struct demog *b, signed char g[CF_N])
{
    for (int i = 0; i < CF_N; i++)
        g[i] = COMPARE_MISSING;
    if (BOTH(given))
        g[CF_GIVEN] = (signed char)cmp_given(a, b);
    if (BOTH(family))
        g[CF_FAMILY] = (signed char)cmp_family(a->family, b->family);
    /* given and family written the wrong way round: the crossed names
     * compared instead, when they agree better than the straight ones (at
     * best "close": a swap is itself an error).  A half swap - one name moved
     * to the other field, the other name replaced or missing - counts as
     * that name agreeing and the other differing, as when one name is
     * replaced outright. */
    if (BOTH(given) && BOTH(family) && g[CF_GIVEN] + g[CF_FAMILY] > 2) {
        int cg = cmp_family(a->given, b->family), cf = cmp_family(a->family, b->given);
        if (cg <= 2 && cf <= 2 && cg + cf < g[CF_GIVEN] + g[CF_FAMILY]) {
            g[CF_GIVEN] = (signed char)(cg < 1 ? 1 : cg);
            g[CF_FAMILY] = (signed char)(cf < 1 ? 1 : cf);
        } else if (g[CF_GIVEN] == 3 && g[CF_FAMILY] == 3 && (cg <= 1 || cf <= 1)) {
            g[CF_FAMILY] = 1;
        }
    }
    if (BOTH(dob))
        g[CF_DOB] = (signed char)dob_compare(a->dob, b->dob);
    if (a->sex && b->sex)
        g[CF_SEX] = a->sex == b->sex ? 0 : 1;
    if (BOTH(postcode))
        g[CF_POSTCODE] = (signed char)postcode_compare(a->postcode, b->postcode);
    if (BOTH(addr))
        g[CF_ADDR] = (signed char)cmp_text3(a->addr, b->addr);
    if (BOTH(city))
        g[CF_CITY] = (signed char)cmp_text3(a->city, b->city);
    if (BOTH(phone))
        g[CF_PHONE] = strcmp(a->phone, b->phone) == 0 ? 0 : 1;
    if (BOTH(email))
        g[CF_EMAIL] = (signed char)cmp_email(a->email, b->email);
}
