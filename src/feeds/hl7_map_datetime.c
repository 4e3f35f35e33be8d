/*
 * hl7_map_datetime.c - HL7 DTM/TS → FHIR date, dateTime, instant (UK local time
 * when no offset is given: GMT/BST).
 */
#include "feeds/hl7_map_int.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* ---- dates ------------------------------------------------------------ */

static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Day (of month) of the last Sunday of month m in year y. */
static int last_sunday(int y, int m)
{
    int last = days_in_month(y, m);
    long long dn = days_from_civil(y, m, last);
    int wd = (int)(((dn % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    return last - wd;
}

/* UK offset in minutes for a local wall-clock time (BST: last Sunday of
 * March 01:00 to last Sunday of October 01:00 UTC; the hour around each
 * change is taken as the later offset). */
static int uk_offset(int y, int mo, int d, int h)
{
    if (mo < 3 || mo > 10)
        return 0;
    if (mo > 3 && mo < 10)
        return 60;
    int ls = last_sunday(y, mo);
    if (mo == 3)
        return (d > ls || (d == ls && h >= 1)) ? 60 : 0;
    return (d < ls || (d == ls && h < 1)) ? 60 : 0;
}

static int digits(const char *s, size_t n, size_t at, size_t k, int *v)
{
    if (at + k > n)
        return 0;
    int x = 0;
    for (size_t i = at; i < at + k; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

int hl7_map_datetime(const char *s, size_t len, int kind, char *out, size_t cap, long long *epoch)
{
    int y, mo = 0, d = 0, h = -1, mi = 0, se = 0, tz = 0, have_tz = 0;
    size_t i = 0;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (!digits(s, len, 0, 4, &y) || y < 1800 || y > 2200)
        return WEFT_EINVAL;
    i = 4;
    char frac[8] = "";
    if (digits(s, len, i, 2, &mo)) {
        i += 2;
        if (mo < 1 || mo > 12)
            return WEFT_EINVAL;
        if (digits(s, len, i, 2, &d)) {
            i += 2;
            if (d < 1 || d > days_in_month(y, mo))
                return WEFT_EINVAL;
            if (digits(s, len, i, 2, &h)) {
                i += 2;
                if (h > 23)
                    return WEFT_EINVAL;
                if (digits(s, len, i, 2, &mi)) {
                    i += 2;
                    if (mi > 59)
                        return WEFT_EINVAL;
                    if (digits(s, len, i, 2, &se)) {
                        i += 2;
                        if (se > 59)
                            return WEFT_EINVAL;
                        if (i < len && s[i] == '.') {
                            size_t k = 0;
                            i++;
                            while (i < len && s[i] >= '0' && s[i] <= '9') {
                                if (k < 4)
                                    frac[k++] = s[i];
                                i++;
                            }
                            frac[k] = 0;
                        }
                    }
                }
            }
        }
    }
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        int zh, zm;
        if (!digits(s, len, i + 1, 2, &zh) || !digits(s, len, i + 3, 2, &zm) || zh > 14 || zm > 59)
            return WEFT_EINVAL;
        tz = (zh * 60 + zm) * (s[i] == '-' ? -1 : 1);
        have_tz = 1;
        i += 5;
    }
    if (i != len)
        return WEFT_EINVAL;
    if (kind == 2 && h < 0)
        return WEFT_EINVAL;
    if (h >= 0 && !have_tz)
        tz = uk_offset(y, mo, d, h);
    if (epoch) {
        long long dn = days_from_civil(y, mo ? mo : 1, d ? d : 1);
        *epoch = dn * 86400 + (h > 0 ? h : 0) * 3600 + mi * 60 + se - (long long)tz * 60;
    }
    if (kind == 0 || h < 0) {
        if (mo == 0)
            snprintf(out, cap, "%04d", y);
        else if (d == 0)
            snprintf(out, cap, "%04d-%02d", y, mo);
        else
            snprintf(out, cap, "%04d-%02d-%02d", y, mo, d);
        return 0;
    }
    char z[16];
    if (tz == 0)
        snprintf(z, sizeof z, "Z");
    else
        snprintf(z, sizeof z, "%c%02d:%02d", tz < 0 ? '-' : '+', abs(tz) / 60, abs(tz) % 60);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%s%s", y, mo, d, h, mi, se,
             frac[0] ? "." : "", frac, z);
    return 0;
}

/* Date/time value at the given place as a JSON string, or NULL. */
json_t *hm_jdate(struct mctx *c, long seg, size_t f, size_t r, size_t comp, int kind)
{
    if (!hm_get(c, seg, f, r, comp, 0))
        return NULL;
    char out[48];
    if (hl7_map_datetime(c->t.data, c->t.len, kind, out, sizeof out, NULL))
        return NULL;
    return json_string(out);
}
