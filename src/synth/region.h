/*
 * region.h - the organisations of the synthetic region and which feeds each
 * sends.  The set is fixed except for the number of GP practices, which
 * grows with the population (about one per 50 people, at most 200, at least
 * 3) so that a tiny demo still has several practices and 10,000 people give
 * the ~200 practices of a real Kent and Medway.
 */
#ifndef WEFT_SYNTH_REGION_H
#define WEFT_SYNTH_REGION_H

#include <stdbool.h>

enum synth_org_type {
    SYNTH_GP,
    SYNTH_ACUTE,
    SYNTH_COMMUNITY,
    SYNTH_MENTAL_HEALTH,
    SYNTH_SOCIAL_CARE,
    SYNTH_AMBULANCE,
    SYNTH_HOSPICE,
};

/* Feed kinds an organisation sends (bit set). */
enum { SYNTH_FEED_HL7 = 1, SYNTH_FEED_FHIR = 2, SYNTH_FEED_CSV = 4 };

#define SYNTH_NACUTE 4
#define SYNTH_NMH 2
#define SYNTH_NCOMMUNITY 3
#define SYNTH_NHOSPICE 4
#define SYNTH_NLA 2
#define SYNTH_MAX_GP 200

struct synth_org {
    char ods[16];
    char name[96];
    enum synth_org_type type;
    int town;       /* index into synth_towns */
    unsigned feeds; /* SYNTH_FEED_* bits */
};

struct synth_region {
    int norgs;
    struct synth_org orgs[32 + SYNTH_MAX_GP];
    /* indices into orgs[] */
    int acute[SYNTH_NACUTE], mh[SYNTH_NMH], community[SYNTH_NCOMMUNITY];
    int hospice[SYNTH_NHOSPICE], la[SYNTH_NLA], ambulance;
    int gp_first, ngp;
    /* GP practices are assigned to towns in order: town t owns the practices
     * gp_first + town_gp_start[t] .. + town_gp_count[t] - 1 */
    int town_gp_start[64], town_gp_count[64];
};

/* Build the region for a population of people. */
void synth_region_init(struct synth_region *rg, long people);
/* "gp", "acute", "community", "mental-health", "social-care", "ambulance",
 * "hospice" (the names `weft org add --type` takes). */
const char *synth_org_type_name(enum synth_org_type t);

#endif
