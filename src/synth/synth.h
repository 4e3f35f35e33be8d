/*
 * synth.h - weft synth: generate a synthetic Kent and Medway-like region's
 * feeds (HL7 v2, FHIR R4, social care CSV) with ground truth and a manifest.
 * docs/SYNTH.md describes the output.  The whole API is synth_run().
 */
#ifndef WEFT_SYNTH_SYNTH_H
#define WEFT_SYNTH_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "synth/faults.h"

struct synth_config {
    long people; /* population size (> 0) */
    uint64_t seed;
    const char *out; /* output directory (created; must not hold a manifest) */
    int asof;        /* day number of the "as of" date (every date is relative to it) */
    long batch;      /* people per feed file (default 1000) */
    struct synth_faults faults;
    bool progress; /* progress line on stderr */
};

/* Report of a finished run. */
struct synth_stats {
    long people;
    long hl7_messages, fhir_bundles, csv_rows;
    double seconds;
};

/* Generate the region.  Returns 0 or a negative code with a message in err. */
int synth_run(const struct synth_config *cfg, struct synth_stats *st, char *err, size_t errlen);

#endif
