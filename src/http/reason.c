/*
 * reason.c - why a request was refused, kept with the request for its log
 * line (http_req_reason in server.h), and made safe for the operational log:
 * error messages quote what the client sent back to it, and a client can
 * send patient data where a parameter belongs (a birth date, an NHS number,
 * a family name).  The log must never hold patient data (core/log.h), so
 * values are masked on the way in.  Kept apart from server.c: it is text
 * handling, not connection handling.
 */
#include <ctype.h>
#include <string.h>

#include "http/server.h"

void http_req_reason(struct http_req *req, const char *text)
{
    char *o = req->reason;
    size_t cap = sizeof req->reason, n = 0;
    if (!text) {
        o[0] = 0;
        return;
    }
    for (const char *p = text; *p && n + 5 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        /* A quote opens a quoted span when it follows the start or a
         * non-alphanumeric character (so "token's" is an apostrophe) and
         * the span closes; every quoted span is a value the client sent,
         * except the name in "parameter 'NAME'" (how search messages
         * start), which is kept. */
        const char *close = ch == '\'' && (p == text || !isalnum((unsigned char)p[-1]))
                                ? strchr(p + 1, '\'')
                                : NULL;
        if (close) {
            bool keep = p - text >= 10 && strncmp(p - 10, "parameter ", 10) == 0;
            if (keep) {
                for (; p < close && n + 2 < cap; p++)
                    o[n++] = (*p >= 32 && *p < 127 && *p != '"') ? *p : '?';
                o[n++] = '\'';
            } else {
                memcpy(o + n, "'...'", 5);
                n += 5;
                p = close;
            }
            continue;
        }
        o[n++] = (ch >= 32 && ch < 127 && ch != '"') ? (char)ch : (ch == '"' ? '\'' : '?');
    }
    o[n] = 0;
    /* digits: runs of 6 or more (NHS numbers, compact dates, phone numbers)
     * and YYYY-MM-DD dates become '#' */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && isdigit((unsigned char)o[j]))
            j++;
        if (j - i >= 6)
            memset(o + i, '#', j - i);
        if (j - i == 4 && j + 5 < n && o[j] == '-' && isdigit((unsigned char)o[j + 1]) &&
            isdigit((unsigned char)o[j + 2]) && o[j + 3] == '-' &&
            isdigit((unsigned char)o[j + 4]) && isdigit((unsigned char)o[j + 5]))
            memset(o + i, '#', 10), o[i + 4] = '-', o[i + 7] = '-';
        i = j > i ? j : i + 1;
    }
}
