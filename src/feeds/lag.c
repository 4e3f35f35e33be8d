/*
 * lag.c - feed lag samples (lag.h): reading event times out of FHIR
 * resources and accumulating arrival-minus-event into all-time and recent
 * figures.
 *
 * Workload: called once per HL7 message on the MLLP writer, and once per
 * resource of a FHIR bundle or CSV row; a handful of object lookups and one
 * timegm() each, no allocation.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "feeds/lag.h"
#include "store/feeds.h"

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool feed_lag_epoch_ms(const char *s, long long *ms_out)
{
    if (!s || strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return false;
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2), h = 0, mi = 0, sec = 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *p = s + 10;
    long long frac = 0;
    long off = 0;
    if (*p == 'T') {
        if (!digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
            return false;
        h = num(p + 1, 2);
        mi = num(p + 4, 2);
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2))
                return false;
            sec = num(p + 1, 2);
            p += 3;
            if (*p == '.') {
                p++;
                int nd = 0;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3) {
                        frac = frac * 10 + (*p - '0');
                        nd++;
                    }
                    p++;
                }
                while (nd < 3) {
                    frac *= 10;
                    nd++;
                }
            }
        }
        if (*p == '+' || *p == '-') {
            if (!digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
                return false;
            off = (num(p + 1, 2) * 3600L + num(p + 4, 2) * 60L) * (*p == '-' ? -1 : 1);
        } else if (*p != 'Z' && *p != 0) {
            return false;
        }
    } else if (*p != 0) {
        return false;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *ms_out = ((long long)t - off) * 1000 + frac;
    return true;
}

bool feed_lag_add_ms(struct feed_lag *l, long long lag)
{
    if (lag < -FEED_LAG_SKEW_MS)
        return false;
    if (lag < 0)
        lag = 0;
    l->n++;
    l->sum_ms += lag;
    if (lag > l->max_ms)
        l->max_ms = lag;
    if (lag <= FEED_LAG_RECENT_MS) {
        l->recent_n++;
        l->recent_sum_ms += lag;
        if (lag > l->recent_max_ms)
            l->recent_max_ms = lag;
    }
    return true;
}

bool feed_lag_add(struct feed_lag *l, const char *event_time, const char *arrived)
{
    long long e, a;
    if (!feed_lag_epoch_ms(event_time, &e) || !feed_lag_epoch_ms(arrived, &a))
        return false;
    return feed_lag_add_ms(l, a - e);
}

static const char *str_at(const json_t *r, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(r, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

/* A usable event time (at least a full date) copied into out. */
static bool take(const char *v, char *out, size_t cap)
{
    long long ms;
    if (!v || !feed_lag_epoch_ms(v, &ms))
        return false;
    snprintf(out, cap, "%s", v);
    return true;
}

bool feed_lag_event_time(const json_t *r, char *out, size_t cap)
{
    /* when the source changed it, then when it was recorded, then when it
     * happened: the earlier in this list, the closer to "the event that made
     * the sender send this" */
    static const char *const paths[][3] = {
        {"meta", "lastUpdated", NULL},
        {"recordedDate", NULL, NULL},
        {"recorded", NULL, NULL},
        {"authoredOn", NULL, NULL},
        {"authored", NULL, NULL},
        {"issued", NULL, NULL},
        {"created", NULL, NULL},
        {"dateTime", NULL, NULL},
        {"date", NULL, NULL},
        {"dateAsserted", NULL, NULL},
        {"sent", NULL, NULL},
        {NULL, NULL, NULL}, /* extensions: date-recorded */
        {"effectiveDateTime", NULL, NULL},
        {"effectiveInstant", NULL, NULL},
        {"effectivePeriod", "start", NULL},
        {"occurrenceDateTime", NULL, NULL},
        {"occurrencePeriod", "start", NULL},
        {"performedDateTime", NULL, NULL},
        {"performedPeriod", "start", NULL},
        {"onsetDateTime", NULL, NULL},
        {"onsetPeriod", "start", NULL},
        {"period", "start", NULL},
        {"start", NULL, NULL},
        {"context", "period", "start"},
    };
    if (!json_is_object(r))
        return false;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (paths[i][0]) {
            if (take(str_at(r, paths[i][0], paths[i][1], paths[i][2]), out, cap))
                return true;
            continue;
        }
        size_t k;
        const json_t *x;
        json_array_foreach(json_object_get(r, "extension"), k, x)
        {
            const char *url = json_string_value(json_object_get(x, "url"));
            size_t n = url ? strlen(url) : 0;
            if (n >= 14 && strcmp(url + n - 14, "/date-recorded") == 0 &&
                (take(json_string_value(json_object_get(x, "valueDate")), out, cap) ||
                 take(json_string_value(json_object_get(x, "valueDateTime")), out, cap)))
                return true;
        }
    }
    return false;
}

size_t feed_lag_add_bundle(struct feed_lag *l, const json_t *bundle, const char *arrived)
{
    size_t i, taken = 0;
    const json_t *e;
    char when[64];
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        if (feed_lag_event_time(json_object_get(e, "resource"), when, sizeof when) &&
            feed_lag_add(l, when, arrived))
            taken++;
    }
    if (taken == 0 &&
        take(json_string_value(json_object_get(bundle, "timestamp")), when, sizeof when) &&
        feed_lag_add(l, when, arrived))
        taken++;
    return taken;
}

void feed_lag_merge(struct store_feed_counts *c, const struct feed_lag *l)
{
    c->lag_n += l->n;
    c->lag_sum_ms += l->sum_ms;
    if (l->max_ms > c->lag_max_ms)
        c->lag_max_ms = l->max_ms;
    c->lag_recent_n += l->recent_n;
    c->lag_recent_sum_ms += l->recent_sum_ms;
    if (l->recent_max_ms > c->lag_recent_max_ms)
        c->lag_recent_max_ms = l->recent_max_ms;
}
