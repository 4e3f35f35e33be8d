/*
 * systems.h - the identifier systems, code systems and extension URLs Weft
 * writes or recognises, each defined once.  Every mapper (HL7 v2, social
 * care CSV, the synthetic region), the loader, identity, data quality and
 * the pages use these names; a module that spells one of these URIs itself
 * can drift from the others (a typo in one mapper is a patient who never
 * links).  Add a system here the second time it is needed.
 *
 * Names end in _SYSTEM (identifier or code system), _EXTENSION (extension
 * URL) or _PREFIX (the start of a family of URIs).
 */
#ifndef WEFT_DOMAIN_SYSTEMS_H
#define WEFT_DOMAIN_SYSTEMS_H

/* ---- identifiers --------------------------------------------------------- */

/* NHS number (validated by identity/nhs.h; links persons). */
#define NHS_NUMBER_SYSTEM "https://fhir.nhs.uk/Id/nhs-number"
/* ODS organisation code (organisations, sources). */
#define ODS_SYSTEM "https://fhir.nhs.uk/Id/ods-organization-code"
/* A sender's local identifiers: LOCAL_ID_SYSTEM_PREFIX "{ODS}:{kind}", e.g.
 * urn:weft:id:RXX01:mrn, urn:weft:id:RXX01:visit (docs/feeds/hl7v2.md). */
#define LOCAL_ID_SYSTEM_PREFIX "urn:weft:id:"
/* The sender's own id of a stored resource (the loader's tag). */
#define SOURCE_ID_SYSTEM "urn:weft:source-id"

/* ---- code systems ------------------------------------------------------- */

#define SNOMED_SYSTEM "http://snomed.info/sct"
#define LOINC_SYSTEM "http://loinc.org"
#define UCUM_SYSTEM "http://unitsofmeasure.org"
/* Weft's own code systems: WEFT_CODE_SYSTEM_PREFIX "{name}". */
#define WEFT_CODE_SYSTEM_PREFIX "https://weft.nhs.uk/CodeSystem/"
/* Record categories as codes (domain/category.h names). */
#define RECORD_CATEGORY_SYSTEM WEFT_CODE_SYSTEM_PREFIX "record-category"
/* Mental Health Act sections (HL7 v2 ZMH). */
#define MHA_SECTION_SYSTEM WEFT_CODE_SYSTEM_PREFIX "mha-section"
/* UK Core NHS number verification status (01 verified, 02 not traced ...). */
#define NHS_NUMBER_VERIFICATION_SYSTEM                                                             \
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus"

/* ---- extensions ----------------------------------------------------------- */

#define NHS_NUMBER_VERIFICATION_EXTENSION                                                          \
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
/* Weft's own extensions: WEFT_EXTENSION_PREFIX "{name}". */
#define WEFT_EXTENSION_PREFIX "https://weft.nhs.uk/StructureDefinition/"
/* The organisation an item came from, in exports (subject access package). */
#define SOURCE_ORG_EXTENSION WEFT_EXTENSION_PREFIX "source-organisation"

#endif
