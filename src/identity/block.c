/* block.c - blocking keys (see block.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "identity/block.h"
#include "identity/phonetic.h"

void block_keys(const struct demog *d, char keys[BLOCK_NKEYS][BLOCK_KEYLEN])
{
    for (int i = 0; i < BLOCK_NKEYS; i++)
        keys[i][0] = 0;
    char sf[PHONETIC_LEN], sg[PHONETIC_LEN];
    phonetic_code(d->family, sf);
    phonetic_code(d->given, sg);
    if (d->dob[0])
        snprintf(keys[0], BLOCK_KEYLEN, "D%s", d->dob);
    if (sf[0] && d->dob[0])
        snprintf(keys[1], BLOCK_KEYLEN, "N%s%.4s", sf, d->dob);
    if (d->postcode[0] && d->given[0])
        snprintf(keys[2], BLOCK_KEYLEN, "P%s%c", d->postcode, d->given[0]);
    /* in code order, so names written the wrong way round block together */
    if (sf[0] && sg[0]) {
        bool gf = strcmp(sg, sf) <= 0;
        snprintf(keys[3], BLOCK_KEYLEN, "G%s%s", gf ? sg : sf, gf ? sf : sg);
    }
}
