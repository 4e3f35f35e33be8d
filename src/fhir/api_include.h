/*
 * api_include.h - _include and _revinclude of a search page through the
 * scoped-read path (api_include.c).  Used by api_search.c only.
 */
#ifndef WEFT_FHIR_API_INCLUDE_H
#define WEFT_FHIR_API_INCLUDE_H

#include <stdbool.h>

struct access_read;
struct fhir_shape;
struct store_row;

struct api_include_result {
    struct store_row *rows; /* owned: api_include_result_clear */
    int n, cap;
    bool truncated; /* a limit left some out (say so in the reply) */
};

/*
 * The resources sh's _include/_revinclude parameters bring in for the
 * matches shown (matches themselves never repeated), each one the caller
 * may see under r's principal (decided on its own, as a read by id is).
 * Nothing is audited here: the caller audits matches and includes
 * together.  Returns 0 or a negative store error.
 */
int api_include_rows(struct access_read *r, const struct fhir_shape *sh,
                     const struct store_row *matches, int nmatches, struct api_include_result *out);
void api_include_result_clear(struct api_include_result *out);

#endif
