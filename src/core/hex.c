/*
 * hex.c - bytes as lower-case hexadecimal text (hex.h).  Runs for every
 * resource stored (its derived id) and every paging cursor: a table lookup
 * per nibble, no formatting.
 */
#include <assert.h>
#include <string.h>

#include "core/hex.h"

static const char digits[] = "0123456789abcdef";

char *hex_encode(const void *bin, size_t n, char *out)
{
    const unsigned char *b = bin;
    assert(out && (b || n == 0));
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
    return out + 2 * n;
}

bool hex_is_lower(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, digits) == n;
}
