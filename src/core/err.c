/* err.c - descriptions for the error codes of err.h. */
#include "core/err.h"

const char *weft_strerror(int code)
{
    switch (code) {
    case WEFT_OK:
        return "success";
    case WEFT_ENOTFOUND:
        return "not found";
    case WEFT_EDENIED:
        return "access denied";
    case WEFT_EINVAL:
        return "invalid argument";
    case WEFT_ENOMEM:
        return "out of memory";
    case WEFT_EIO:
        return "input/output error";
    case WEFT_EDB:
        return "database error";
    case WEFT_EEXIST:
        return "already exists";
    case WEFT_EPARSE:
        return "parse error";
    case WEFT_ETOOBIG:
        return "too large";
    case WEFT_ECONFLICT:
        return "conflict";
    case WEFT_EUNSUPPORTED:
        return "not supported";
    case WEFT_EAUTH:
        return "authentication failed";
    case WEFT_EBUSY:
        return "busy";
    case WEFT_EINTERNAL:
        return "internal error";
    }
    return "unknown error";
}
