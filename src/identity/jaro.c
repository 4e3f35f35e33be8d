/* jaro.c - Jaro-Winkler similarity (see jaro.h).  Names are short: fixed
 * 64-byte match flags on the stack, no allocation; called for every candidate
 * pair on the feed path. */
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "identity/jaro.h"

#define JW_MAX 64

double jaro_winkler(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > JW_MAX)
        la = JW_MAX;
    if (lb > JW_MAX)
        lb = JW_MAX;
    if (la == 0 || lb == 0)
        return 0.0;
    if (la == lb && memcmp(a, b, la) == 0)
        return 1.0;
    size_t win = (la > lb ? la : lb) / 2;
    win = win > 0 ? win - 1 : 0;
    bool ma[JW_MAX] = {0}, mb[JW_MAX] = {0};
    int m = 0;
    for (size_t i = 0; i < la; i++) {
        size_t lo = i > win ? i - win : 0, hi = i + win + 1 < lb ? i + win + 1 : lb;
        for (size_t j = lo; j < hi; j++)
            if (!mb[j] && a[i] == b[j]) {
                ma[i] = mb[j] = true;
                m++;
                break;
            }
    }
    if (m == 0)
        return 0.0;
    int t = 0;
    size_t k = 0;
    for (size_t i = 0; i < la; i++) {
        if (!ma[i])
            continue;
        while (!mb[k])
            k++;
        if (a[i] != b[k])
            t++;
        k++;
    }
    /* every match pairs one position of each; transpositions are among them */
    assert(m >= 1 && (size_t)m <= la && (size_t)m <= lb && t <= m);
    double md = m;
    double jaro = (md / (double)la + md / (double)lb + (md - t / 2.0) / md) / 3.0;
    int l = 0;
    while (l < 4 && (size_t)l < la && (size_t)l < lb && a[l] == b[l])
        l++;
    double jw = jaro + l * 0.1 * (1.0 - jaro);
    assert(jw >= 0.0 && jw <= 1.0 + 1e-9); /* the comparators' weights assume a similarity */
    return jw;
}
