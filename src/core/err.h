/*
 * err.h - the one error type of Weft.
 *
 * Every fallible function returns an int: 0 (WEFT_OK) on success or one of the
 * negative codes below.  "Not found" and "access denied" are ordinary return
 * values, not log lines: callers decide what to tell the other side.  Codes are
 * passed up unchanged; weft_strerror() turns one into a short lower-case phrase.
 */
#ifndef WEFT_CORE_ERR_H
#define WEFT_CORE_ERR_H

enum weft_err {
    WEFT_OK = 0,
    WEFT_ENOTFOUND = -1,     /* the thing asked for does not exist */
    WEFT_EDENIED = -2,       /* access rules forbid it */
    WEFT_EINVAL = -3,        /* caller passed bad input (message says which) */
    WEFT_ENOMEM = -4,        /* allocation failed */
    WEFT_EIO = -5,           /* file or socket error */
    WEFT_EDB = -6,           /* the store reported an error */
    WEFT_EEXIST = -7,        /* already exists (unique identity clash) */
    WEFT_EPARSE = -8,        /* input could not be parsed */
    WEFT_ETOOBIG = -9,       /* input exceeds a documented limit */
    WEFT_ECONFLICT = -10,    /* concurrent change or version conflict */
    WEFT_EUNSUPPORTED = -11, /* valid but not supported by this build */
    WEFT_EAUTH = -12,        /* authentication failed (bad/expired credentials) */
    WEFT_EBUSY = -13,        /* resource busy, retry later */
    WEFT_EINTERNAL = -14,    /* programmer error surfaced at runtime */
};

/* A static string describing code; never NULL, never freed. */
const char *weft_strerror(int code);

#endif
