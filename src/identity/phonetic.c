/* phonetic.c - Soundex (see phonetic.h). */
#include <ctype.h>

#include "identity/phonetic.h"

/* Digit of each letter A..Z; '0' for vowels and Y; 'h' for H and W, which
 * do not separate two letters with the same digit. */
static const char digit[26] = {'0', '1', '2', '3', '0', '1', '2', 'h', '0', '2', '2', '4', '5',
                               '5', '0', '1', '2', '6', '2', '3', '0', '1', 'h', '2', '0', '2'};

void phonetic_code(const char *name, char out[PHONETIC_LEN])
{
    int n = 0;
    char last = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && n < 4; p++) {
        if (!isalpha(*p))
            continue;
        int c = toupper(*p);
        char d = digit[c - 'A'];
        if (n == 0) {
            out[n++] = (char)c;
            last = d;
            continue;
        }
        if (d == 'h')
            continue;
        if (d != '0' && d != last)
            out[n++] = d;
        last = d;
    }
    if (n == 0) {
        out[0] = 0;
        return;
    }
    while (n < 4)
        out[n++] = '0';
    out[4] = 0;
}
