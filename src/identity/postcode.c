/* postcode.c - UK postcode comparison (see postcode.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "identity/postcode.h"

void postcode_norm(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < cap; p++)
        if (isalnum(*p))
            out[n++] = (char)toupper(*p);
    if (cap)
        out[n] = 0;
}

/* Length of the outward code when pc is UK-shaped, else 0. */
static size_t outward_len(const char *pc)
{
    size_t l = strlen(pc);
    if (l < 5 || l > 7)
        return 0;
    const char *in = pc + l - 3;
    if (!isdigit((unsigned char)in[0]) || !isalpha((unsigned char)in[1]) ||
        !isalpha((unsigned char)in[2]) || !isalpha((unsigned char)pc[0]))
        return 0;
    return l - 3;
}

void postcode_outward(const char *pc, char out[8])
{
    size_t o = outward_len(pc);
    if (o == 0)
        snprintf(out, 8, "%s", pc);
    else
        snprintf(out, 8, "%.*s", (int)o, pc);
}

/* a and b (one length) differ only by two neighbouring characters swapped */
static int transposed(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n != strlen(b))
        return 0;
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i + 1 < n && a[i] == b[i + 1] && a[i + 1] == b[i] && strcmp(a + i + 2, b + i + 2) == 0;
}

enum postcode_level postcode_compare(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return POSTCODE_FULL;
    size_t oa = outward_len(a), ob = outward_len(b);
    if (oa == 0 || ob == 0 || oa != ob || memcmp(a, b, oa) != 0)
        return transposed(a, b) ? POSTCODE_DISTRICT : POSTCODE_DIFFER;
    return a[oa] == b[ob] ? POSTCODE_SECTOR : POSTCODE_DISTRICT;
}
