/*
 * hl7w.h - the HL7 v2.4 feeds of the acute and mental health trusts of the
 * synthetic region: ADT (A01/A02/A03/A04/A08/A40), ORU^R01 lab and
 * radiology results, MDM^T02 discharge summaries and clinic letters,
 * SIU^S12 appointments and ZMH Mental Health Act sections
 * (docs/feeds/hl7v2.md).  Segments end in CR; each message is stored
 * MLLP-framed (0x0B message 0x1C 0x0D, then LF) as an MLLP sender sends it.
 */
#ifndef WEFT_SYNTH_HL7W_H
#define WEFT_SYNTH_HL7W_H

#include <stdint.h>

#include "synth/out.h"
#include "synth/person.h"

/* Write every HL7 message about p (acute and mental health trusts). */
int synth_hl7_person(struct synth_out *o, const struct synth_person *p, uint64_t seed, int asof);

#endif
