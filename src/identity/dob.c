/* dob.c - date of birth comparison (see dob.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "identity/dob.h"

int dob_valid(const char *s)
{
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return s[8] == 0;
}

enum dob_level dob_compare(const char *a, const char *b)
{
    if (!dob_valid(a) || !dob_valid(b))
        return DOB_DIFFER;
    if (memcmp(a, b, 8) == 0)
        return DOB_EXACT;
    /* YYYY MM DD: month a == day b and day a == month b */
    if (memcmp(a, b, 4) == 0 && memcmp(a + 4, b + 6, 2) == 0 && memcmp(a + 6, b + 4, 2) == 0)
        return DOB_SWAPPED;
    int diff = 0, first = -1, second = -1;
    for (int i = 0; i < 8; i++)
        if (a[i] != b[i]) {
            if (diff == 0)
                first = i;
            else if (diff == 1)
                second = i;
            diff++;
        }
    if (diff == 1)
        return DOB_TYPO;
    if (diff == 2 && second == first + 1 && a[first] == b[second] && a[second] == b[first])
        return DOB_TYPO;
    if (memcmp(a + 4, b + 4, 4) == 0) {
        int ya = atoi((char[5]){a[0], a[1], a[2], a[3], 0});
        int yb = atoi((char[5]){b[0], b[1], b[2], b[3], 0});
        int d = abs(ya - yb);
        if (d == 1 || d == 10)
            return DOB_TYPO;
    }
    return DOB_DIFFER;
}
