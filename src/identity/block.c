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

void block_keys_batch(const struct demog *d, char keys[BLOCK_BATCH_NKEYS][BLOCK_KEYLEN])
{
    block_keys(d, keys);
    keys[4][0] = keys[5][0] = 0;
    char sf[PHONETIC_LEN];
    phonetic_code(d->family, sf);
    if (d->postcode[0] && sf[0])
        snprintf(keys[4], BLOCK_KEYLEN, "F%s%s", d->postcode, sf);
    /* "12 HERSCHELL CIRCUIT ..." -> "12 HERSCHELL": a house number first */
    const char *a = d->addr;
    size_t num = strspn(a, "0123456789");
    if (num == 0 || a[num] != ' ')
        return;
    const char *w = a + num + 1;
    size_t wl = strcspn(w, " ");
    const char *place = d->city[0] ? d->city : d->postcode;
    if (wl == 0 || !place[0])
        return;
    char t[128]; /* cut to the key's length: a long city name is still a key */
    snprintf(t, sizeof t, "A%.*s %.*s %.40s", (int)(num > 6 ? 6 : num), a, (int)(wl > 10 ? 10 : wl),
             w, place);
    snprintf(keys[5], BLOCK_KEYLEN, "%.23s", t);
}
