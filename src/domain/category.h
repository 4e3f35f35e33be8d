/*
 * category.h - the record category of a FHIR R4 resource (BRIEF §2): the
 * unit access rules speak about.  Pure: no store, no I/O.
 *
 * A domain noun, not a FHIR-API one: the policy (access), the loader and the
 * search parser (fhir), the feed mappers, the store's index columns and the
 * pages all speak of categories, so it lives in src/domain, below every one of
 * them (docs/ARCHITECTURE.md "Layers").
 *
 * Decided from the resource type plus, where the type alone is ambiguous, its
 * category/type/code codings (codes first, then display/text keywords):
 *
 *   Patient -> demographics            RelatedPerson -> contacts
 *   Condition -> conditions (category/code naming past or maternity history
 *     -> history)
 *   Procedure -> procedures            AllergyIntolerance -> allergies
 *   MedicationRequest/Statement/Administration/Dispense, Medication -> medications
 *   Encounter -> encounters            Appointment -> appointments
 *   Immunization(+Recommendation) -> immunisations
 *   Observation: birth-only codes (birth weight, Apgar, gestation at birth;
 *     LOINC or SNOMED CT) -> birth whatever the category; then laboratory ->
 *     results; vital-signs -> observations; imaging -> imaging-reports;
 *     legal/immigration status -> legal-status; other birth/neonatal codes and
 *     words -> birth; exam, survey, social-history and the rest -> observations
 *   DiagnosticReport: radiology/imaging category (v2-0074 RAD/CT/MR/US/NMR/...,
 *     LOINC LP29684-5) -> imaging-reports, else results;  ImagingStudy ->
 *     imaging-reports;  Specimen -> results
 *   Flag: coded as a Mental Health Act section (HL7 v2 ZMH mapping: code system
 *     https://weft.nhs.uk/CodeSystem/mha-section, or category record-category
 *     mental-health-act) -> mental-health-act; safeguarding -> safeguarding;
 *     Mental Health Act words -> mental-health-act;
 *     legal status -> legal-status; else alerts.  RiskAssessment -> alerts
 *   DocumentReference: safeguarding / end of life (ReSPECT, DNACPR, advance care
 *     plan, treatment escalation) / social care assessment / service summary
 *     keywords -> that category, else documents
 *   CarePlan: end-of-life keywords -> end-of-life, else documents
 *   Goal, ServiceRequest, Media, Binary -> documents
 *   Composition -> service-summaries (end-of-life keywords -> end-of-life)
 *   Consent -> end-of-life
 *   QuestionnaireResponse -> social-care-assessment
 *   EpisodeOfCare -> services (Mental Health Act section -> mental-health-act)
 *   ResearchSubject, ResearchStudy -> research
 *   Reference data a record needs to display -- Organization, Practitioner,
 *     PractitionerRole, Location, HealthcareService, Endpoint -> services.
 *     These usually have no person; they are stored and readable like the
 *     rest, and their category keeps them under the same access rules.
 *
 * Everything else is outside the record ("not shareable": NULL): billing
 * (Claim, ExplanationOfBenefit, Coverage, ...), and any type not listed.
 * The loader counts those and reports them; it never stores or drops them
 * silently.
 *
 * A sender (or a feed mapping) may state the category itself with a meta.tag
 * {"system": "urn:weft:category", "code": NAME}; a valid NAME wins.
 */
#ifndef WEFT_DOMAIN_CATEGORY_H
#define WEFT_DOMAIN_CATEGORY_H

#include <stdbool.h>

#include <jansson.h>

#define CATEGORY_TAG_SYSTEM "urn:weft:category"

/* The category names, in BRIEF order, NULL-terminated: the one list every
 * module uses (policy validation, synth output, pages). */
#define CATEGORY_COUNT 24
extern const char *const category_names[CATEGORY_COUNT + 1];

/* The category of resource (a JSON object with resourceType), a static
 * string; NULL when the resource is outside the record (not shareable). */
const char *category_of(const json_t *resource);

/* True when name is one of category_names. */
bool category_valid(const char *name);

/* True for categories whose sensitivity is restricted (safeguarding,
 * legal-status, mental-health-act). */
bool category_restricted(const char *name);

#endif
