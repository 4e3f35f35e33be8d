/*
 * hex.h - bytes as lower-case hexadecimal text: the one encoder every module
 * uses (digests, derived ids, token hashes, certificate fingerprints, paging
 * cursors, UUIDs).
 */
#ifndef WEFT_CORE_HEX_H
#define WEFT_CORE_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Write the n bytes at bin as 2n lower-case hex digits and a NUL into out,
 * which must hold 2n + 1 bytes; returns out + 2n (the NUL), so encodings
 * can be chained. */
char *hex_encode(const void *bin, size_t n, char *out);
/* Whether s is exactly n lower-case hex digits (what hex_encode writes). */
bool hex_is_lower(const char *s, size_t n);

#endif
