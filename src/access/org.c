/*
 * org.c - organisations and agreements: validation of what `weft org` is
 * given and the "agreement in force" question (see org.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/org.h"
#include "core/err.h"
#include "store/access.h"

void org_day(time_t t, char out[11])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

bool org_agreement_in_force(struct store *s, const char *ods, time_t when, int *err)
{
    if (err)
        *err = 0;
    if (!ods || !*ods)
        return false;
    char day[11];
    org_day(when, day);
    bool in = false;
    int rc = store_agreement_in_force(s, ods, day, &in);
    if (rc) {
        if (err)
            *err = rc;
        return false;
    }
    return in;
}

bool org_type_valid(const char *type)
{
    static const char *const types[] = {"gp",          "acute",     "community", "mental-health",
                                        "social-care", "ambulance", "hospice"};
    for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i], type) == 0)
            return true;
    return false;
}

bool org_ods_valid(const char *ods)
{
    size_t n = ods ? strlen(ods) : 0;
    if (n < 3 || n > 12)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)ods[i]) && !isdigit((unsigned char)ods[i]))
            return false;
    return true;
}

bool org_agreement_kind_valid(const char *kind)
{
    return kind && (strcmp(kind, "jca") == 0 || strcmp(kind, "dpa") == 0);
}

bool org_date_valid(const char *d)
{
    if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)d[i]))
            return false;
    int y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    int m = (d[5] - '0') * 10 + (d[6] - '0');
    int day = (d[8] - '0') * 10 + (d[9] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || day < 1)
        return false;
    int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return day <= max;
}

bool org_date_add_months(const char *date, int months, char out[11])
{
    if (!org_date_valid(date) || months < 0 || months > 1200)
        return false;
    int y = atoi(date), m = atoi(date + 5), d = atoi(date + 8);
    int total = y * 12 + (m - 1) + months;
    y = total / 12;
    m = total % 12 + 1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    if (d > max)
        d = max;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
    return true;
}
