/*
 * link.h - person linking, first version: deterministic.
 *
 * A Patient resource is linked to a person by, in order:
 *   1. a valid NHS number (identifier system https://fhir.nhs.uk/Id/nhs-number,
 *      modulus 11 checked) -> the person with that number (created if new);
 *   2. else its organisation-local identifiers (org, system, value) -> the
 *      person already holding one of them, else a new person;
 *   3. else its own source id, as the local identifier
 *      (org, "urn:weft:source-id:Patient", id), so every Patient has a person.
 * Every local identifier of the Patient is then attached to that person
 * (an identifier already held by another person stays with it: one source
 * record never belongs to two people).
 *
 * The organisation of a local identifier is the one named in a Weft local
 * system (urn:weft:id:{ODS}:{kind}), else the sending organisation.
 *
 * An NHS number that fails the check is kept in the resource as sent, never
 * used to link, and flagged: the Patient gets the meta.tag
 *   {"system": "urn:weft:data-quality", "code": "invalid-nhs-number", ...}
 * (LINK_TAG_SYSTEM / LINK_TAG_INVALID_NHS) and the identifier itself an
 * extension {"url": "urn:weft:data-quality", "valueCode": "invalid-nhs-number"}
 * so data-quality reports and viewers can show it.
 */
#ifndef WEFT_IDENTITY_LINK_H
#define WEFT_IDENTITY_LINK_H

#include <stdbool.h>

#include <jansson.h>

#include "domain/systems.h"

struct store;

#define LINK_TAG_SYSTEM "urn:weft:data-quality"
#define LINK_TAG_INVALID_NHS "invalid-nhs-number"
#define LINK_SOURCE_ID_SYSTEM SOURCE_ID_SYSTEM ":Patient"

struct link_outcome {
    char *person_id; /* malloc'd, caller frees; never NULL on success */
    char nhs[11];    /* the valid NHS number used, "" when none */
    int invalid_nhs; /* NHS numbers that failed the check (flagged) */
    int conflicts;   /* local identifiers already held by another person */
    int merged;      /* other persons the master person index merged into this one:
                        person ids the caller holds for other records may be stale */
};

/* Flag the Patient's NHS numbers that fail the check (a meta tag and an
 * identifier extension), as link_patient does; no store, any thread, and
 * link_patient leaves a flagged Patient unchanged. */
void link_mark_invalid(json_t *patient);

/*
 * Link a Patient (modified in place only to flag invalid NHS numbers) sent by
 * org with the sender's id source_id.  Returns 0 and fills *out, or a store
 * error.
 */
int link_patient(struct store *s, const char *org, const char *source_id, json_t *patient,
                 struct link_outcome *out);

/* The person source record (org, source_id) belongs to now (after any
 * merge); WEFT_ENOTFOUND when it has none.  *person_id_out is malloc'd. */
int link_record_person(struct store *s, const char *org, const char *source_id,
                       char **person_id_out);

/*
 * The person named by a logical identifier (a reference's identifier):
 * a valid NHS number -> that person (created if new); another system ->
 * the person holding (org, system, value), WEFT_ENOTFOUND when none; an
 * invalid NHS number -> WEFT_EINVAL.  *person_id_out is malloc'd.
 */
int link_identifier(struct store *s, const char *org, const char *system, const char *value,
                    char **person_id_out);

#endif
