/*
 * datatype.h - FHIR R4 datatypes as jansson objects, built in one place for
 * every mapper that turns a source format into FHIR (feeds/hl7_map*.c,
 * feeds/socialcare*.c): Coding, CodeableConcept, Identifier, Reference,
 * HumanName, Address, ContactPoint, Period, Extension.  Pure: no store, no
 * HTTP, no I/O.
 *
 * What each builder knows is the shape of its datatype; where the values
 * come from (HL7 components, CSV columns) stays with the mapper.  So:
 *
 *   - element values are passed as json_t * and stolen: the builder owns
 *     them whether it returns an object or NULL.  NULL means absent;
 *   - repeating elements (HumanName.given, Address.line ...) are passed as
 *     JSON arrays, and an empty one is left out (and freed);
 *   - a datatype with no content returns NULL (FHIR has no empty elements),
 *     so a result can be set or appended as it is when it is not NULL;
 *   - const char * arguments (systems, codes, use values, urls) are copied
 *     without a UTF-8 check: they must be valid UTF-8 without NUL (literals,
 *     or text the caller has already checked, as both mappers do);
 *   - keys are written in the order of the datatype's element definitions
 *     in the FHIR specification.  The store keeps resources as canonical
 *     JSON (sorted keys, fhir/canon.h), so the order shows only in the
 *     mapped Bundle itself.
 *
 * The systems Weft writes are named once, in domain/systems.h.
 */
#ifndef WEFT_FHIR_DATATYPE_H
#define WEFT_FHIR_DATATYPE_H

#include <jansson.h>
#include <stddef.h>

/* Coding {system, code, display}.  system and display may be NULL; code is
 * required: NULL code returns NULL. */
json_t *fhir_coding(const char *system, const char *code, const char *display);
/* The same from JSON values (stolen, each may be NULL): NULL when code is. */
json_t *fhir_coding_j(json_t *system, json_t *code, json_t *display);

/* CodeableConcept {coding, text}: codings is an array of Coding (stolen; left
 * out when NULL or empty), text a string (stolen, may be NULL).  NULL when
 * both are absent. */
json_t *fhir_concept(json_t *codings, json_t *text);
/* CodeableConcept with the one Coding fhir_coding(system, code, display) and
 * text (stolen, may be NULL). */
json_t *fhir_concept1(const char *system, const char *code, const char *display, json_t *text);

/* Identifier.  extension and type (a CodeableConcept) may be NULL; value is
 * required.  All json_t members are stolen. */
struct fhir_identifier {
    json_t *extension; /* array of Extension */
    json_t *type;
    const char *system;
    json_t *value;
};
/* {extension, type, system, value}; NULL (members freed) when value is NULL. */
json_t *fhir_identifier(const struct fhir_identifier *id);

/* Reference: a literal reference ("Patient/x", "urn:uuid:..."), a logical one
 * by identifier, a display, or several; type is the referenced resource type
 * (written only with one of the others). */
struct fhir_reference {
    const char *reference;
    const char *type;
    json_t *identifier; /* an Identifier, stolen */
    json_t *display;    /* a string, stolen */
};
/* {reference, type, identifier, display}; NULL when reference, identifier
 * and display are all absent. */
json_t *fhir_reference(const struct fhir_reference *r);

/* HumanName.  use is a code of name-use (official, usual, ...) or NULL; given,
 * prefix and suffix are arrays of strings.  All json_t members stolen. */
struct fhir_human_name {
    const char *use;
    json_t *family;
    json_t *given;
    json_t *prefix;
    json_t *suffix;
};
/* {use, family, given, prefix, suffix}; NULL when family, given, prefix and
 * suffix are all absent or empty (a use alone is no name). */
json_t *fhir_human_name(const struct fhir_human_name *n);

/* Address.  use is a code of address-use (home, work, temp ...) or NULL; line
 * an array of strings.  All json_t members stolen. */
struct fhir_address {
    const char *use;
    json_t *line;
    json_t *city;
    json_t *district;
    json_t *postal_code;
    json_t *country;
};
/* {use, line, city, district, postalCode, country}; NULL when every element
 * but use is absent or empty. */
json_t *fhir_address(const struct fhir_address *a);

/* ContactPoint {system, value, use}: system is phone, fax, email ... (not
 * NULL), use home, work, mobile ... or NULL; value is stolen.  NULL when
 * value is NULL. */
json_t *fhir_contact_point(const char *system, json_t *value, const char *use);

/* Period {start, end} (each a date or dateTime string, stolen, may be NULL);
 * NULL when both are absent. */
json_t *fhir_period(json_t *start, json_t *end);

/* Append the Extension {url, <value_key>: value} to the array *exts, making
 * the array when *exts is NULL.  value (stolen) NULL: nothing is added.
 * value_key is the value[x] element, e.g. "valueString", "valueCoding". */
void fhir_extension_add(json_t **exts, const char *url, const char *value_key, json_t *value);

/* Write the system of an organisation's local identifiers,
 * LOCAL_ID_SYSTEM_PREFIX "{ods}:{kind}" (e.g. urn:weft:id:RVV:mr), into out
 * (cap bytes, cut to fit).  Returns what snprintf returns. */
int fhir_local_id_system(char *out, size_t cap, const char *ods, const char *kind);

#endif
