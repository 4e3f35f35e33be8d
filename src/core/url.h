/*
 * url.h - percent-encoding and query strings (RFC 3986,
 * application/x-www-form-urlencoded): what the HTTP server, the FHIR search
 * parser, paging links, sign-in redirects and tests share.
 *
 * Pure: no I/O, no HTTP.  It lives in core so that parsers above the HTTP
 * layer (fhir/search.c "pure: no HTTP") can take parsed parameters without
 * including the server.  Weft parses the query itself (not libmicrohttpd),
 * so '+', %2F and repeated names mean the same everywhere.
 */
#ifndef WEFT_CORE_URL_H
#define WEFT_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* A name/value pair (query parameter, route parameter).  Both strings are
 * the pair's own (freed by url_kv_free). */
struct url_kv {
    char *name;
    char *value;
};

/* Decode %HH escapes (and '+' as space when plus is true) of s[0..len) into a
 * new string (caller frees).  Returns NULL on a malformed escape or an
 * encoded NUL. */
char *url_decode(const char *s, size_t len, bool plus);
/* Append s percent-encoded for a URL query value or path segment
 * (unreserved characters A-Z a-z 0-9 - . _ ~ as they are, every other byte
 * %HH).  The one URL encoder: web/html.h html_url_addf uses it too. */
void url_encode(struct buf *b, const char *s);
/* The same for n bytes of s (s need not be terminated). */
void url_encode_n(struct buf *b, const char *s, size_t n);
/* Parse "a=1&b=2" (application/x-www-form-urlencoded) into *args and *nargs
 * (appending, order and duplicates kept; "a" alone is a="").  *args may be
 * reallocated; the caller frees it with url_kv_free, also after an error
 * (pairs parsed before it stay).  WEFT_EINVAL on a malformed escape;
 * WEFT_ETOOBIG when *nargs would pass max. */
int url_query_parse(const char *q, size_t len, struct url_kv **args, int *nargs, int max);
/* Free n pairs and the array. */
void url_kv_free(struct url_kv *args, int n);
/* The value of the first argument called name, or NULL. */
const char *url_kv_get(const struct url_kv *args, int n, const char *name);

#endif
