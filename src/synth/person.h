/*
 * person.h - one true person of the synthetic region and their clinical
 * story, derived from (seed, index) alone.
 *
 * synth_person_make() is a pure function: the same (seed, index, as-of day,
 * region) always gives the same person, so the generator streams the
 * population one person at a time.  The story is coarse on purpose (which
 * conditions, how many contacts of each kind); the feed writers fill in the
 * details from their own random streams, so each source's output is stable
 * even when another source's writer changes.
 */
#ifndef WEFT_SYNTH_PERSON_H
#define WEFT_SYNTH_PERSON_H

#include <stdbool.h>
#include <stdint.h>

#include "synth/region.h"

/* The random streams (third argument of synth_rng_init) of one person. */
enum synth_stream {
    SYNTH_STREAM_CORE = 1,
    SYNTH_STREAM_GP,
    SYNTH_STREAM_ACUTE,
    SYNTH_STREAM_MH,
    SYNTH_STREAM_COMMUNITY,
    SYNTH_STREAM_AMBULANCE,
    SYNTH_STREAM_HOSPICE,
    SYNTH_STREAM_SOCIAL,
    SYNTH_STREAM_RESEARCH,
    SYNTH_STREAM_FAULTS = 100, /* + org index: faults of one source record */
};

struct synth_address {
    int house;
    const char *street;
    int town;
    char postcode[10];
};

struct synth_person {
    long idx;
    char key[24];                        /* true person id in the ground truth: "P00000042" */
    int sex;                             /* 1 male, 2 female */
    const char *given, *middle, *family; /* middle may be NULL */
    const char *title;
    int dob;      /* day number */
    int age;      /* whole years on the as-of day */
    bool has_nhs; /* false only beyond the test-number capacity */
    char nhs[11];
    struct synth_address addr, prev_addr; /* prev: where they lived before */
    int moved_day;                        /* day they moved from prev_addr to addr */
    char phone[16];
    int gp;        /* orgs[] index of their practice */
    int acute;     /* orgs[] index of their nearest acute trust */
    int community; /* orgs[] index of their community provider */
    int la;        /* orgs[] index of their local authority */
    int hospice;   /* orgs[] index of their nearest hospice */
    /* conditions and circumstances */
    bool diabetes, hypertension, copd, asthma, heart_failure, af, ckd, dementia, depression;
    bool smi, cancer, frail, smoker, child_mh, learning_disability;
    bool maternity_history, baby, eol, research, overseas_visitor, safeguarding;
    bool social_care, has_carer, allergy;
    int falls; /* falls recorded in the last years (frail people) */
    /* contacts over the history window */
    int n_ae, n_ip, n_op; /* acute: A&E, admissions, outpatient */
    int n_ambulance;
    bool mh_inpatient, mh_section, mh_outpatient;
    bool community_care;
};

/* The region's fixed "as of" day and the history window used by writers. */
#define SYNTH_HISTORY_DAYS 1826 /* five years */

/* Fill p for person index idx (0-based).  rg must outlive p (strings in p
 * point at static tables). */
void synth_person_make(const struct synth_region *rg, uint64_t seed, long idx, int asof,
                       struct synth_person *p);

/* The NHS number check digit of the first nine digits, or 10 when no valid
 * check digit exists (such a number is never issued). */
int synth_nhs_check_digit(const char *nine);
/* How many distinct valid 999 test numbers exist (the people that can have
 * one; people beyond that have none). */
long synth_nhs_capacity(void);

#endif
