/*
 * region.c - the fixed organisations of the synthetic region (see region.h).
 * The trusts carry the ODS codes of the real Kent and Medway providers they
 * stand in for, so screens look familiar; GP practices, hospices and local
 * authorities get synthetic codes in the right shape.
 */
#include <stdio.h>
#include <string.h>

#include "synth/names.h"
#include "synth/region.h"

const char *synth_org_type_name(enum synth_org_type t)
{
    switch (t) {
    case SYNTH_GP:
        return "gp";
    case SYNTH_ACUTE:
        return "acute";
    case SYNTH_COMMUNITY:
        return "community";
    case SYNTH_MENTAL_HEALTH:
        return "mental-health";
    case SYNTH_SOCIAL_CARE:
        return "social-care";
    case SYNTH_AMBULANCE:
        return "ambulance";
    case SYNTH_HOSPICE:
        return "hospice";
    }
    return "gp";
}

static int add(struct synth_region *rg, const char *ods, const char *name, enum synth_org_type type,
               int town, unsigned feeds)
{
    struct synth_org *o = &rg->orgs[rg->norgs];
    snprintf(o->ods, sizeof o->ods, "%s", ods);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->type = type;
    o->town = town;
    o->feeds = feeds;
    return rg->norgs++;
}

static const char *const practice_kinds[] = {"Surgery", "Medical Centre", "Health Centre",
                                             "Medical Practice", "Family Practice"};
static const char *const practice_names[] = {
    "Priory",       "Abbey",     "Orchard",     "Riverside",  "Castle",        "Grove",
    "Meadow",       "Oakwood",   "Beech",       "Parkside",   "Northgate",     "Westgate",
    "Eastgate",     "Southgate", "Cornwallis",  "Cobtree",    "Hollingbury",   "Bearsted",
    "Hempstead",    "Lordswood", "Walderslade", "Strood",     "Cliftonville",  "Newington",
    "Minster",      "Sandgate",  "Cheriton",    "Kennington", "Willesborough", "Pembury",
    "Southborough", "Rusthall",  "Snodland",    "Larkfield",  "Aylesford",     "Swanscombe",
    "Northfleet",   "Higham",    "Hoo",         "Rainham"};

void synth_region_init(struct synth_region *rg, long people)
{
    memset(rg, 0, sizeof *rg);
    /* towns: 0 Maidstone 1 Chatham 7 Canterbury 17 Ashford 21 Tunbridge Wells
     * 25 Dartford (see names.c) */
    rg->acute[0] = add(rg, "RWF", "Maidstone and Tunbridge Wells NHS Trust", SYNTH_ACUTE, 0,
                       SYNTH_FEED_HL7 | SYNTH_FEED_FHIR);
    rg->acute[1] = add(rg, "RPA", "Medway NHS Foundation Trust", SYNTH_ACUTE, 3,
                       SYNTH_FEED_HL7 | SYNTH_FEED_FHIR);
    rg->acute[2] = add(rg, "RVV", "East Kent Hospitals University NHS Foundation Trust",
                       SYNTH_ACUTE, 7, SYNTH_FEED_HL7 | SYNTH_FEED_FHIR);
    rg->acute[3] = add(rg, "RN7", "Dartford and Gravesham NHS Trust", SYNTH_ACUTE, 25,
                       SYNTH_FEED_HL7 | SYNTH_FEED_FHIR);
    rg->mh[0] = add(rg, "RXY", "Kent and Medway Mental Health NHS Trust", SYNTH_MENTAL_HEALTH, 0,
                    SYNTH_FEED_HL7);
    rg->mh[1] = add(rg, "RAT", "Children and Young People's Mental Health Service",
                    SYNTH_MENTAL_HEALTH, 0, SYNTH_FEED_HL7);
    rg->community[0] = add(rg, "RYY", "Kent Community Health NHS Foundation Trust", SYNTH_COMMUNITY,
                           0, SYNTH_FEED_FHIR);
    rg->community[1] =
        add(rg, "NQV", "Medway Community Healthcare", SYNTH_COMMUNITY, 1, SYNTH_FEED_FHIR);
    rg->community[2] =
        add(rg, "NLX", "Swale Community Services", SYNTH_COMMUNITY, 4, SYNTH_FEED_FHIR);
    rg->ambulance = add(rg, "RYD", "South East Coast Ambulance Service NHS Foundation Trust",
                        SYNTH_AMBULANCE, 0, SYNTH_FEED_FHIR);
    rg->hospice[0] =
        add(rg, "HSPIL", "Pilgrims Hospices in East Kent", SYNTH_HOSPICE, 7, SYNTH_FEED_FHIR);
    rg->hospice[1] = add(rg, "HSHOK", "Heart of Kent Hospice", SYNTH_HOSPICE, 0, SYNTH_FEED_FHIR);
    rg->hospice[2] = add(rg, "HSWIS", "Wisdom Hospice", SYNTH_HOSPICE, 2, SYNTH_FEED_FHIR);
    rg->hospice[3] = add(rg, "HSELL", "Ellenor Hospice", SYNTH_HOSPICE, 26, SYNTH_FEED_FHIR);
    rg->la[0] = add(rg, "KENTCC", "Kent County Council Adult and Children's Social Care",
                    SYNTH_SOCIAL_CARE, 0, SYNTH_FEED_CSV);
    rg->la[1] =
        add(rg, "MEDWAYC", "Medway Council Social Care", SYNTH_SOCIAL_CARE, 1, SYNTH_FEED_CSV);

    long ngp = people / 50;
    if (ngp < 3)
        ngp = 3;
    if (ngp > SYNTH_MAX_GP)
        ngp = SYNTH_MAX_GP;
    rg->ngp = (int)ngp;
    rg->gp_first = rg->norgs;
    unsigned total = 0;
    for (size_t t = 0; t < synth_ntowns; t++)
        total += synth_towns[t].weight;
    /* Practice g serves the town whose cumulative population interval holds
     * the middle of g's share, so practices follow the population and the
     * ranges per town are contiguous. */
    for (size_t t = 0; t < synth_ntowns; t++)
        rg->town_gp_start[t] = -1;
    for (int g = 0; g < rg->ngp; g++) {
        double pos = ((double)g + 0.5) / rg->ngp * total;
        unsigned acc = 0;
        size_t t = 0;
        for (; t < synth_ntowns; t++) {
            acc += synth_towns[t].weight;
            if (pos < acc)
                break;
        }
        if (t == synth_ntowns)
            t = synth_ntowns - 1;
        if (rg->town_gp_start[t] < 0)
            rg->town_gp_start[t] = g;
        rg->town_gp_count[t]++;
        char ods[16], name[96];
        snprintf(ods, sizeof ods, "G82%03d", g + 1);
        const char *nm =
            practice_names[(g * 7) % (int)(sizeof practice_names / sizeof practice_names[0])];
        const char *kind = practice_kinds[g % 5];
        snprintf(name, sizeof name, "%s %s, %s", nm, kind, synth_towns[t].name);
        add(rg, ods, name, SYNTH_GP, (int)t, SYNTH_FEED_FHIR);
    }
}
