/*
 * view.h - a person as one source organisation holds them: that source's
 * local id, and the demographics with that source's faults applied (missing
 * or mistyped NHS number, typos, nicknames, an old address, a transposed
 * date of birth, a missing postcode).  One true person has one view per
 * source they are known to, and a second view (copy 1) when the source holds
 * a duplicate record.  Each view is a row of truth/records.csv.
 */
#ifndef WEFT_SYNTH_VIEW_H
#define WEFT_SYNTH_VIEW_H

#include <stdbool.h>

#include "synth/out.h"
#include "synth/person.h"

struct synth_view {
    int org, copy;
    char local[24];     /* the source's id of the person */
    char id_system[64]; /* urn:weft:id:{ODS}:{kind} */
    bool has_nhs;
    char nhs[11];
    char given[40], family[48];
    const char *middle;
    int dob;
    bool stale_address; /* uses the address before the move at every date */
    bool no_postcode;
    bool duplicate;     /* this source also holds copy 1 of the person */
    char dup_local[24]; /* ... under this local id */
    bool dup_merged;    /* ... and merges it into the main record later (HL7 A40) */
    unsigned pending;   /* fault bits (1 << enum synth_fault) to log */
    char detail[160];
};

/* Build the view of p at org (copy 0 = the source's main record, 1 = its
 * duplicate).  id_kind is "mr" (hospital number: what the
 * HL7 mapping derives from PID-3 type MR), "patient" or "person".  Rolls the
 * demographic faults and writes the truth/records.csv row. */
void synth_view_make(struct synth_out *o, const struct synth_person *p, uint64_t seed, int org,
                     int copy, const char *id_kind, const char *feed_kind, struct synth_view *v);
/* Address the source holds on day (the old one before the move or when the
 * view is stale). */
const struct synth_address *synth_view_address(const struct synth_view *v,
                                               const struct synth_person *p, int day);
/* Log the view's pending faults against the record that first carried them. */
void synth_view_log(struct synth_out *o, struct synth_view *v, const struct synth_person *p,
                    const char *rel, long recno);
/* The source's local id of a clinical item: "<local>-<suffix>" sanitised to
 * a FHIR id (at most 64 of [A-Za-z0-9-.]). */
void synth_view_item_id(const struct synth_view *v, const char *suffix, char *out, size_t len);

#endif
