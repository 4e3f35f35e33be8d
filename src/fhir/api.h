/*
 * api.h - the FHIR R4 REST API of `weft serve`, mounted under /fhir.
 *
 *   GET  /fhir/metadata                       CapabilityStatement (no token needed)
 *   GET  /fhir/{type}/{id}                    read
 *   GET  /fhir/{type}/{id}/_history/{vid}     vread
 *   GET  /fhir/{type}/{id}/_history           instance history
 *   GET  /fhir/{type}/_history                type history
 *   GET  /fhir/{type}?params                  search (fhir/search.h)
 *   POST /fhir/{type}/_search                 search, form-encoded parameters
 *   GET  /fhir/Patient/{id}/$everything       the person's whole record, paged
 *   POST /fhir                                transaction or batch Bundle
 *
 * Every route but metadata needs a bearer token (http/auth.c).  Every read of
 * patient data asks access/authz.h first, in one function per request type
 * (api.c: api_authz_*), and applies the scope to the store query itself.
 * Errors are OperationOutcomes (fhir/outcome.h) with the matching status.
 * Responses are application/fhir+json; requests may send application/json.
 */
#ifndef WEFT_FHIR_API_H
#define WEFT_FHIR_API_H

#include "http/server.h"

/* Entries in one POSTed transaction or batch Bundle, at most: counted before
 * the body is parsed, refused with 413 past it (the CapabilityStatement says
 * so).  Bounds the work and the size of the response, which has one entry
 * per request entry. */
#define FHIR_BUNDLE_MAX_ENTRIES 10000

struct fhir_api_config {
    /* Base URL the API is reached at, e.g. "https://weft.example.org/fhir",
     * used in fullUrl and paging links.  NULL: "http://" + the request's Host
     * header + "/fhir". */
    const char *base_url;
};

/* Register the routes above on srv.  cfg is copied. */
int fhir_api_register(struct http_server *srv, const struct fhir_api_config *cfg);

#endif
