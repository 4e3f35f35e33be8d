/*
 * canon.h - the canonical text of a resource: compact JSON with object keys
 * sorted, byte for byte what json_dumpb(j, ..., JSON_COMPACT | JSON_SORT_KEYS)
 * writes (jansson 2.14).  The loader stores this text and the store hashes
 * it to see "unchanged", so it must never drift from that form: databases
 * written before this module existed hold jansson's output, and a reload
 * of unchanged data must stay a no-op (tests/unit/fhir/test_canon.c checks
 * the two agree on every shared Synthea resource and on edge cases).
 *
 * Why not json_dumpb: with JSON_SORT_KEYS jansson mallocs and qsorts a key
 * array per object and writes through a callback a few bytes at a time;
 * for bulk loading that was 15% of `weft load`.  This writes straight into
 * a reused struct buf, sorts small objects on the stack, and hands only
 * reals (rare, and their formatting is jansson's own) back to jansson.
 */
#ifndef WEFT_FHIR_CANON_H
#define WEFT_FHIR_CANON_H

#include <stddef.h>

#include <jansson.h>

struct buf;

/*
 * Replace the contents of b with the canonical text of j (NUL-terminated;
 * b keeps its memory between calls).  Returns the length, or 0 when j
 * cannot be serialised (nesting deeper than 2048, a real jansson cannot
 * format); b is then empty.  Strings must be valid UTF-8, as every jansson
 * string is unless made with the _nocheck constructors.
 */
size_t canon_dump(const json_t *j, struct buf *b);

#endif
