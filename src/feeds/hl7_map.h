/*
 * hl7_map.h - HL7 v2 message → FHIR R4 transaction Bundle (or, for A40, a
 * merge instruction), for the one loading pipeline (src/fhir/load.h).
 *
 * Usage (the MLLP listener / replay):
 *     struct hl7_map_opts o = {.ods = "RVV"};
 *     struct hl7_map_result r;
 *     int rc = hl7_map_message(msg, &o, &r);
 *     if (rc == 0 && r.kind == HL7_MAP_BUNDLE)  fhir_load_bundle(..., r.bundle, ...)
 *     if (rc == 0 && r.kind == HL7_MAP_MERGE)   apply r.merge_survivor / r.merge_retired
 *     if (rc < 0) answer r.ack_code ("AR") with r.reason, located by r.err
 *     hl7_map_result_clear(&r);
 *
 * What is mapped, field by field, is in docs/feeds/hl7v2.md.  In short:
 * ADT A01/A02/A03/A04/A05/A08/A11/A13/A28/A31 → Patient (+ Encounter when
 * PV1 is present, + AllergyIntolerance per AL1, Condition per DG1, Procedure
 * per PR1, Flag per ZMH); A34/A40 → merge instruction; ORU^R01 → Patient +
 * DiagnosticReport per OBR + Observation per OBX; MDM^T02 → Patient +
 * DocumentReference; SIU^S12-S15 → Patient + Appointment.
 *
 * Resource ids are derived from message content only (identifiers, visit
 * number, filler order number + OBX set id, document number, appointment
 * id, codes), so a repeated message gives the same resources and a changed
 * one new versions of them.  fullUrls are urn:uuid values derived from
 * "Type/id"; every entry is a PUT to Type/id.
 *
 * Omitted fields keep, the HL7 null "" deletes: the Patient entry carries
 * "_keepAbsent" (LOAD_KEEP_ABSENT, fhir/load.h), the names of the Patient
 * elements whose PID/PD1/NK1 fields were omitted, e.g. ["address",
 * "telecom"]; the loader copies those from the stored Patient.  Elements sent
 * as "" are left out and not named (cleared).  See hl7_map.c and
 * docs/feeds/hl7v2.md, "Omitted fields and the HL7 null".
 *
 * Nothing here logs patient data; the result's reason text names fields,
 * never their content.
 */
#ifndef WEFT_FEEDS_HL7_MAP_H
#define WEFT_FEEDS_HL7_MAP_H

#include <jansson.h>
#include <stddef.h>

#include "feeds/hl7.h"
#include "feeds/hl7_ack.h"

struct hl7_map_opts {
    /* ODS code of the sending organisation: local identifier systems are
     * urn:weft:id:{ods}:{kind}.  Required (NULL → WEFT_EINVAL). */
    const char *ods;
};

enum hl7_map_kind {
    HL7_MAP_NONE = 0,
    HL7_MAP_BUNDLE = 1, /* bundle holds a transaction Bundle */
    HL7_MAP_MERGE = 2,  /* merge_survivor / merge_retired hold Identifier arrays (A40/A34
                           merge, A24 link: the second into the first; A37 unlink them) */
};

struct hl7_map_result {
    int kind;
    json_t *bundle;         /* owned by the result; json_incref to keep it */
    json_t *merge_survivor; /* array of FHIR Identifier: PID-3 of the surviving patient */
    json_t *merge_retired;  /* array of FHIR Identifier: MRG-1 of the retired one */
    char msg_type[8];       /* MSH-9.1, e.g. "ADT" */
    char trigger[8];        /* MSH-9.2, e.g. "A01" */
    /* Event time: EVN-6, else EVN-2, else MSH-7, as FHIR dateTime; "" if none.
     * event_epoch is the same instant in seconds since 1970 UTC (0 if none). */
    char event_time[40];
    long long event_epoch;
    size_t resources; /* entries in the bundle */
    /* On failure (rc < 0): what to answer and why. */
    const char *ack_code; /* "AR" (or "AE"); NULL on success */
    char reason[200];
    struct hl7_ack_detail err; /* location and table 0357 code for the ERR segment */
    char err_segment[4];       /* storage for err.segment */
};

/* Only the event time (EVN-6, else EVN-2, else MSH-7) into r->event_time and
 * r->event_epoch, the rest of *r zeroed: for a message that is refused
 * before mapping but whose event time is kept with it. */
void hl7_map_event_only(const struct hl7_msg *msg, struct hl7_map_result *r);

/* Map msg.  Returns 0 (r filled, kind set), WEFT_EUNSUPPORTED (message
 * type/event not mapped: r->ack_code "AR") or WEFT_EINVAL (content cannot be
 * mapped, e.g. an ADT without PID: r->ack_code "AR", r->reason says why).
 * r is always initialised; release it with hl7_map_result_clear(). */
int hl7_map_message(const struct hl7_msg *msg, const struct hl7_map_opts *opts,
                    struct hl7_map_result *r);
void hl7_map_result_clear(struct hl7_map_result *r);

/* HL7 DTM/TS text (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) → FHIR.
 * kind 0: date (YYYY[-MM[-DD]]); 1: dateTime (a time gets seconds and an
 * offset; no offset given = UK local time, GMT/BST); 2: instant (needs at
 * least hours and minutes).  Returns 0, or WEFT_EINVAL for text that is not
 * a valid date/time.  epoch (may be NULL) gets seconds since 1970 UTC. */
int hl7_map_datetime(const char *s, size_t len, int kind, char *out, size_t cap, long long *epoch);

/* FHIR system URI for an HL7 coding-system name (SCT, LN, I10, ...);
 * returns NULL for unknown names (keep them as given). */
const char *hl7_map_code_system(const char *name, size_t len);

/* Make a FHIR id ([A-Za-z0-9-.]{1,64}) from text: other characters become
 * '-', and text too long is cut and given a hash suffix.  out needs 65 bytes. */
void hl7_map_fhir_id(const char *text, size_t len, char out[65]);

#endif
