/*
 * systems.h - the identifier and code systems Weft writes, in one place.
 *
 * Every mapper (HL7 v2, social care CSV) names these systems through the
 * constants below rather than spelling the URIs again.  The NHS number
 * system is NHS_NUMBER_SYSTEM in identity/nhs.h (identity owns "who is
 * this"); it is not repeated here.  Local identifiers, a source system's own
 * ids, have the system urn:weft:id:{ODS}:{kind} (fhir_local_id_system() in
 * fhir/datatype.h writes it).
 *
 * Constants only: no functions, no includes, so any layer may use them.
 */
#ifndef WEFT_FHIR_SYSTEMS_H
#define WEFT_FHIR_SYSTEMS_H

/* ---- identifier systems ------------------------------------------------ */

/* ODS code of an organisation (NHS Organisation Data Service). */
#define FHIR_ODS_SYSTEM "https://fhir.nhs.uk/Id/ods-organization-code"
/* General medical practitioner (GP) code. */
#define FHIR_GMP_SYSTEM "https://fhir.hl7.org.uk/Id/gmp-number"
/* A source system's own id: FHIR_LOCAL_ID_PREFIX "{ODS}:{kind}". */
#define FHIR_LOCAL_ID_PREFIX "urn:weft:id:"

/* ---- code systems and extensions --------------------------------------- */

/* Weft's own code systems and extension definitions. */
#define WEFT_CODE_SYSTEM_BASE "https://weft.nhs.uk/CodeSystem/"
#define WEFT_EXTENSION_BASE "https://weft.nhs.uk/StructureDefinition/"
/* Record category as a coding (CodeableConcept), as the mappers state it. */
#define WEFT_RECORD_CATEGORY_SYSTEM WEFT_CODE_SYSTEM_BASE "record-category"
/* HL7 v2 tables as FHIR code systems: FHIR_V2_TABLE_BASE "0203" ... */
#define FHIR_V2_TABLE_BASE "http://terminology.hl7.org/CodeSystem/v2-"

#endif
