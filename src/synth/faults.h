/*
 * faults.h - the realistic imperfections weft synth injects, their names and
 * default rates, and the --fault-rate parser.
 *
 * Each fault kind has a rate in [0, 1]: the probability that one eligible
 * record (its "opportunity") gets the fault.  What a record is depends on
 * the kind (docs/SYNTH.md): a source person record (one person as one
 * organisation holds them) for the demographic faults, one clinical item for
 * future-date and unknown-code, one message / bundle / CSV row for late and
 * malformed.  Every injection is written to truth/faults.csv and counted
 * with its opportunities in truth/summary.json.
 */
#ifndef WEFT_SYNTH_FAULTS_H
#define WEFT_SYNTH_FAULTS_H

enum synth_fault {
    SYNTH_F_MISSING_NHS,      /* health source record without NHS number */
    SYNTH_F_SC_MISSING_NHS,   /* social care person without NHS number */
    SYNTH_F_BAD_CHECK_DIGIT,  /* NHS number sent with a wrong check digit */
    SYNTH_F_TYPO,             /* one typing error in family or given name */
    SYNTH_F_NICKNAME,         /* given name sent as its nickname */
    SYNTH_F_ADDRESS_CHANGE,   /* source still holds the previous address */
    SYNTH_F_SWAP_DAY_MONTH,   /* date of birth with day and month transposed */
    SYNTH_F_MISSING_POSTCODE, /* address without postcode */
    SYNTH_F_DUPLICATE,        /* a second record of the person in one source */
    SYNTH_F_FUTURE_DATE,      /* clinical date in the future */
    SYNTH_F_UNKNOWN_CODE,     /* code that is in no code system we know */
    SYNTH_F_LATE,             /* message or bundle delivered a batch late */
    SYNTH_F_MALFORMED,        /* message, bundle or CSV row broken on purpose */
    SYNTH_F_COUNT
};

struct synth_faults {
    double rate[SYNTH_F_COUNT];
};

/* The documented default rates. */
void synth_faults_default(struct synth_faults *f);
/* Every rate 0 (a clean region). */
void synth_faults_none(struct synth_faults *f);
/* Apply "name=rate,name=rate" (or "none") on top of f.  On error returns
 * WEFT_EINVAL and writes a message naming the bad item into err. */
int synth_faults_parse(struct synth_faults *f, const char *spec, char *err, unsigned errlen);
/* "missing-nhs", "typo", ... (the names --fault-rate takes). */
const char *synth_fault_name(enum synth_fault k);

#endif
