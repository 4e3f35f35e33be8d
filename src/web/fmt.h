/*
 * fmt.h - turning FHIR R4 values into the words a clinician reads.
 *
 * Two kinds of helper, both pure (no store, no I/O), unit-tested in
 * tests/unit/web/test_fmt.c:
 *   - display formats used on every page: NHS number "999 123 4567",
 *     dates "5 Apr 2023" / "5 Apr 2023 14:30", age "54 years" / "7 months";
 *   - text for a FHIR element or resource: CodeableConcept, Quantity,
 *     Observation value and reference range, HumanName in the NHS banner
 *     form "SMITH, John (Mr)", Address, the title, date and status of any
 *     resource type Weft stores.
 *
 * Functions writing into a struct buf append PLAIN text: the caller escapes
 * it (html_addf's %s).  Functions returning const char * return a string
 * borrowed from the json_t passed in (valid while it lives) or a static.
 */
#ifndef WEFT_WEB_FMT_H
#define WEFT_WEB_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "core/buf.h"

/* NHS number as "XXX XXX XXXX" when it is 10 digits, else copied as given. */
void fmt_nhs_number(struct buf *b, const char *nhs);

/* ISO 8601 date/dateTime (FHIR partial dates allowed: "2019", "2019-03")
 * as "5 Apr 2023", with " 14:30" when with_time and a time is present;
 * "Mar 2019", "2019" for partial dates; unrecognised text is copied. */
void fmt_date(struct buf *b, const char *iso, bool with_time);

/* Age at today (both "YYYY-MM-DD..."): "54 years", under 2 years "7 months",
 * under 2 months "3 weeks"/"5 days".  Returns false (nothing written) when
 * either date is unusable or birth is after today. */
bool fmt_age(struct buf *b, const char *birth, const char *today);

/* Today's date "YYYY-MM-DD" (UTC) into out[11]. */
void fmt_today(char out[11]);

/* Text of a CodeableConcept: .text, else the first coding's display, else its
 * code; NULL when none. */
const char *fmt_cc(const json_t *cc);
/* The first coding's "system|code" into b (nothing when none). */
void fmt_cc_code(struct buf *b, const json_t *cc);
/* True when the CodeableConcept has a coding with this code (any system). */
bool fmt_cc_has_code(const json_t *cc, const char *code);

/* A unit as people read it.  Senders put UCUM codes where a human unit
 * belongs ("mm[Hg]", "mL/min/{1.73_m2}", "10*9/L", "{score}"): the codes
 * Weft knows are written the way a clinician reads them ("mmHg",
 * "mL/min/1.73m²", "×10⁹/L", "score"); anything else is copied as sent, so a
 * unit Weft does not know is never changed or dropped.  Nothing for NULL,
 * "" and "1" (a plain number). */
void fmt_unit(struct buf *b, const char *unit);

/* Quantity "7.2 mmol/L" (unit, else code, as fmt_unit writes it);
 * comparator kept ("<5 mg/L"). */
void fmt_quantity(struct buf *b, const json_t *q);

/* An Observation's value as text: valueQuantity, valueCodeableConcept,
 * valueString, valueBoolean, valueInteger, valueRange, valueRatio,
 * valueDateTime, valuePeriod; for blood pressure style components
 * "120/80 mmHg".  Nothing when it has none (dataAbsentReason is written as
 * "not recorded: REASON"). */
void fmt_obs_value(struct buf *b, const json_t *obs);

/* The first referenceRange as "3.5 to 5.3 mmol/L", "< 42", "> 60" or its
 * text; nothing when absent. */
void fmt_ref_range(struct buf *b, const json_t *obs);

enum fmt_flag { FMT_FLAG_NONE = 0, FMT_FLAG_LOW, FMT_FLAG_HIGH, FMT_FLAG_ABNORMAL };
/* Out-of-range judgement: the interpretation code (L, LL, H, HH, A, AA, <, >)
 * when given, else the numeric value against the first reference range. */
enum fmt_flag fmt_obs_flag(const json_t *obs);

/* Numeric value of valueQuantity (or of the component with this LOINC code
 * when component_code is not NULL); false when none. */
bool fmt_obs_number(const json_t *obs, const char *component_code, double *out);

/* Patient.name in the banner form "FAMILY, Given Middle (Title)": the
 * official (else usual, else first) name.  Nothing when absent. */
void fmt_patient_name(struct buf *b, const json_t *patient);
/* A HumanName "Given Family" (for practitioners, contacts). */
void fmt_human_name(struct buf *b, const json_t *name);
/* The home (else first) address joined with ", ". */
void fmt_address(struct buf *b, const json_t *patient);
/* The value of the identifier with this system, or NULL. */
const char *fmt_identifier(const json_t *res, const char *system);

/* The title of any resource: what a clinician calls the item (the code,
 * medication, vaccine, type, description...).  Never empty: falls back to
 * the resourceType. */
void fmt_resource_title(struct buf *b, const json_t *res);
/* An Encounter named from what it holds: its type, else its class in
 * words ("Emergency department attendance", "Hospital admission"), the
 * service when named, the ward or location, and the reason ("Hospital
 * admission, Cardiology (Ward 3) for chest pain").  Nothing when it holds
 * none of them (callers add the organisation: see web_item_title). */
void fmt_encounter_title(struct buf *b, const json_t *enc);
/* The clinically relevant date of a resource, borrowed, or NULL when the
 * resource carries none.  Never the time Weft received or stored it
 * (meta.lastUpdated): that is not a clinical date. */
const char *fmt_resource_date(const json_t *res);
/* A short status for display ("active", "completed", "resolved"...), or
 * NULL. */
const char *fmt_resource_status(const json_t *res);
/* When Weft received the resource (meta.lastUpdated), borrowed, or NULL:
 * shown only labelled as "received", never as the clinical date. */
const char *fmt_resource_received(const json_t *res);
/* A one-line detail (dosage, severity/reaction, performer role, value...),
 * possibly empty. */
void fmt_resource_detail(struct buf *b, const json_t *res);
/* A human name for a resourceType ("MedicationRequest" -> "Medication
 * request"); static. */
const char *fmt_type_label(const char *type);

#endif
