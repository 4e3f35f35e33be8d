/*
 * day.c - calendar days (day.h).  The conversions are Howard Hinnant's
 * public-domain civil-from-days algorithm, written out here from its
 * description.
 */
#include "analytics/day.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

char *day_text(int64_t z, char out[11])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (int)(y % 10000), m, d);
    memcpy(out, tmp, 10);
    out[10] = '\0';
    return out;
}

bool day_parse(const char *s, int64_t *day)
{
    if (!s)
        return false;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return false;
        } else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return false;
    *day = from_civil(y, m, d);
    return true;
}

int64_t day_today(void)
{
    time_t t = time(NULL);
    return (int64_t)(t / 86400);
}

int day_age(int64_t birth, int64_t day)
{
    if (birth > day)
        return -1;
    char b[11], d[11];
    day_text(birth, b);
    day_text(day, d);
    int by, bm, bd, dy, dm, dd;
    if (sscanf(b, "%d-%d-%d", &by, &bm, &bd) != 3 || sscanf(d, "%d-%d-%d", &dy, &dm, &dd) != 3)
        return -1;
    int age = dy - by;
    if (dm < bm || (dm == bm && dd < bd))
        age--;
    return age;
}
