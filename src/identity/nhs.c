/* nhs.c - NHS number validation and formatting (see nhs.h). */
#include <assert.h>
#include <string.h>

#include "identity/nhs.h"

/* Copy the digits of s into d (10 digits + NUL); false unless exactly ten
 * digits separated only by single spaces or hyphens. */
static bool digits_of(const char *s, char d[11])
{
    int n = 0;
    if (!s)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n == 10)
                return false;
            d[n++] = *p;
        } else if ((*p == ' ' || *p == '-') && n > 0 && p[1] >= '0' && p[1] <= '9') {
            continue;
        } else {
            return false;
        }
    }
    d[n] = 0;
    assert(n <= 10);
    return n == 10;
}

bool nhs_number_valid(const char *s, char out[11])
{
    char d[11];
    if (!digits_of(s, d))
        return false;
    if (out)
        memcpy(out, d, 11);
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    assert(check >= 1 && check <= 11);
    if (check == 11)
        check = 0;
    if (check == 10)
        return false;
    return check == d[9] - '0';
}

bool nhs_number_format(const char *s, char out[13])
{
    char d[11];
    if (!digits_of(s, d))
        return false;
    memcpy(out, d, 3);
    out[3] = ' ';
    memcpy(out + 4, d + 3, 3);
    out[7] = ' ';
    memcpy(out + 8, d + 6, 4);
    out[12] = 0;
    assert(strlen(out) == 12);
    return true;
}

bool nhs_number_is_test(const char *digits)
{
    return digits && strncmp(digits, "999", 3) == 0;
}
