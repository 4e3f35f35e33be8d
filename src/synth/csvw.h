/*
 * csvw.h - the social care CSV extracts of the local authorities, exactly as
 * docs/feeds/csv-social-care.md specifies (people, contacts, assessments,
 * services, safeguarding, end_of_life; CRLF; RFC 4180 quoting).
 */
#ifndef WEFT_SYNTH_CSVW_H
#define WEFT_SYNTH_CSVW_H

#include <stdint.h>

#include "synth/out.h"
#include "synth/person.h"

/* Write every social care row about p (nothing when p has no social care). */
int synth_csv_person(struct synth_out *o, const struct synth_person *p, uint64_t seed, int asof);

#endif
