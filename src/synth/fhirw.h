/*
 * fhirw.h - the FHIR R4 feeds of the synthetic region: GP practices,
 * community providers, the ambulance service, hospices, and the research /
 * overseas-visitor feed of the acute trusts.  Each record is one
 * transaction Bundle (entries PUT Type/id, ids as the sender keeps them) on
 * one line of an NDJSON file, ready to POST to /fhir.
 */
#ifndef WEFT_SYNTH_FHIRW_H
#define WEFT_SYNTH_FHIRW_H

#include <stdint.h>

#include "synth/out.h"
#include "synth/person.h"

/* Write every FHIR bundle about p. */
int synth_fhir_person(struct synth_out *o, const struct synth_person *p, uint64_t seed, int asof);

#endif
