/*
 * date.c - day-number arithmetic (see date.h).  Conversions use the usual
 * era decomposition of the Gregorian calendar (400-year eras of 146097 days,
 * years starting in March so the leap day is last).
 */
#include <stdio.h>

#include "synth/date.h"

int synth_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int mp = (m + 9) % 12; /* March = 0 */
    int doy = (153 * mp + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void synth_civil_from_days(int days, int *y, int *m, int *d)
{
    int z = days + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

bool synth_date_parse(const char *s, int *days)
{
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    int n = synth_days_from_civil(y, m, d);
    int y2, m2, d2;
    synth_civil_from_days(n, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return false;
    *days = n;
    return true;
}

void synth_date_iso(int days, char *out, size_t len)
{
    int y, m, d;
    synth_civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04d-%02d-%02d", y, m, d);
}

void synth_date_hl7(int days, char *out, size_t len)
{
    int y, m, d;
    synth_civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04d%02d%02d", y, m, d);
}

void synth_dtm_hl7(int days, int minute, char *out, size_t len)
{
    int y, m, d;
    synth_civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04d%02d%02d%02d%02d", y, m, d, (minute / 60) % 24, minute % 60);
}

void synth_dtm_iso(int days, int minute, char *out, size_t len)
{
    int y, m, d;
    synth_civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:00Z", y, m, d, (minute / 60) % 24, minute % 60);
}
