/*
 * inbox.c - helpers of the inbound message store (inbox.h): outcome names,
 * operator time filters, JSON rendering (lag: feeds/lag.h).  The rows themselves live in
 * the store (store_inbox_*); this file never touches SQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "feeds/csv.h"
#include "feeds/inbox.h"
#include "store/feeds.h"

bool inbox_outcome_valid(const char *o)
{
    static const char *const names[] = {INBOX_PENDING, INBOX_APPLIED, INBOX_REJECTED,
                                        INBOX_DUPLICATE, INBOX_PARTIAL};
    for (size_t i = 0; o && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(o, names[i]) == 0)
            return true;
    return false;
}

static void iso_of(time_t t, int ms, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, ms % 1000);
}

void inbox_now(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    iso_of(ts.tv_sec, (int)(ts.tv_nsec / 1000000), out);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int inbox_parse_since(const char *text, time_t now, char out[32])
{
    if (!text || !*text)
        return WEFT_EINVAL;
    size_t n = strlen(text);
    char unit = text[n - 1];
    if (n >= 2 && n <= 9 && digits(text, n - 1) && strchr("smhd", unit)) {
        long v = strtol(text, NULL, 10);
        long mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
        iso_of(now - (time_t)(v * mult), 0, out);
        return 0;
    }
    /* YYYY-MM-DD[THH:MM[:SS[.sss]]][Z] */
    if (n < 10 || !digits(text, 4) || text[4] != '-' || !digits(text + 5, 2) || text[7] != '-' ||
        !digits(text + 8, 2))
        return WEFT_EINVAL;
    size_t keep = n;
    if (text[n - 1] == 'Z')
        keep = n - 1;
    if (keep > 10) {
        if (text[10] != 'T' || keep < 16 || !digits(text + 11, 2) || text[13] != ':' ||
            !digits(text + 14, 2))
            return WEFT_EINVAL;
        if (keep > 16 && (text[16] != ':' || keep < 19 || !digits(text + 17, 2)))
            return WEFT_EINVAL;
        if (keep > 19 && (text[19] != '.' || !digits(text + 20, keep - 20)))
            return WEFT_EINVAL;
    }
    if (keep > 23)
        keep = 23;
    memcpy(out, text, keep);
    out[keep] = 0;
    return 0;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *inbox_msg_json(const struct store_inbox_msg *m, const char *feed_name)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "feed", str_or_null(feed_name));
    json_object_set_new(o, "kind", str_or_null(m->kind));
    json_object_set_new(o, "arrived", str_or_null(m->arrived));
    json_object_set_new(o, "sender", str_or_null(m->sender));
    json_object_set_new(o, "peer", str_or_null(m->peer));
    json_object_set_new(o, "control_id", str_or_null(m->control_id));
    json_object_set_new(o, "type", str_or_null(m->msg_type));
    json_object_set_new(o, "event_time", str_or_null(m->event_time));
    json_object_set_new(o, "outcome", str_or_null(m->outcome));
    json_object_set_new(o, "error", str_or_null(m->error));
    json_object_set_new(o, "updated", str_or_null(m->updated));
    json_object_set_new(o, "attempts", json_integer(m->attempts));
    json_object_set_new(o, "resources", json_integer(m->resources));
    json_object_set_new(o, "duplicate_of",
                        m->duplicate_of ? json_integer(m->duplicate_of) : json_null());
    if (m->body) {
        json_object_set_new(o, "bytes", json_integer((json_int_t)m->body_len));
        if (csv_utf8_valid(m->body, m->body_len)) {
            json_object_set_new(o, "body", json_stringn(m->body, m->body_len));
        } else {
            size_t cap = sodium_base64_ENCODED_LEN(m->body_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = xmalloc(cap);
            sodium_bin2base64(b64, cap, (const unsigned char *)m->body, m->body_len,
                              sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(o, "body_base64", json_string(b64));
            free(b64);
        }
    }
    return o;
}
