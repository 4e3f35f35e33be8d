/*
 * jload.h - a fast path for parsing JSON files and lines into jansson trees
 * for the loader.
 *
 * jansson's json_loadb reads its input one byte at a time through a stream
 * (a function call and a UTF-8 state check per byte, strings copied byte by
 * byte into a growing buffer): in `weft load` that lexing was most of the
 * 36% spent parsing.  jload_parse scans the buffer in place and builds the
 * same tree with jansson's own constructors (so bulk mode's arena and every
 * jansson function work on it unchanged).
 *
 * It accepts only what json_loadb(data, len, JSON_REJECT_DUPLICATES, ...)
 * accepts and builds the identical tree (same values, types, key order).
 * Anything it is not certain about - malformed input, duplicate keys,
 * \u0000, a lone surrogate, integer or real overflow, very deep nesting,
 * invalid UTF-8 - makes it return NULL; the caller then calls json_loadb,
 * which decides, and reports jansson's exact error (line, column, text).
 * tests/unit/fhir/test_jload.c checks both agree.
 */
#ifndef WEFT_FHIR_JLOAD_H
#define WEFT_FHIR_JLOAD_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parse data[0..len) (need not be NUL-terminated) as one JSON object or
 * array with nothing but whitespace after it.  Returns a new reference
 * (caller json_decref's it), or NULL: "not decided here, ask json_loadb".
 */
json_t *jload_parse(const char *data, size_t len);

/*
 * json_loadb(data, len, JSON_REJECT_DUPLICATES, error) through the fast path
 * first: the same result; *error (may be NULL) is filled only when NULL is
 * returned.
 */
json_t *jload_loadb(const char *data, size_t len, json_error_t *error);

#endif
