/*
 * rules.h - the data-quality rules file: which checks run, the pass rate each
 * must reach, plausible ranges per LOINC code and unit, the code systems a
 * region knows, where dates in the future are expected, and feed lag
 * thresholds.  Data, not code: governance edits policy/dq.rules and the
 * engine (dq.h) reads it on every run.  A file with a mistake is refused
 * whole, with the line number and what is wrong.
 *
 * Statements, one per line ('#' starts a comment):
 *   check NAME THRESHOLD          run check NAME (dq_check_names); it passes
 *                                 when its pass rate is >= THRESHOLD (0..1)
 *   plausible LOINC UNIT LOW HIGH [LABEL...]
 *                                 values of LOINC in UCUM UNIT outside
 *                                 [LOW, HIGH] are implausible
 *   code-system URI               a code system the region knows ("L" for HL7
 *                                 v2 local codes sent as local)
 *   future-ok TYPE...             resource types whose dates may be in the
 *                                 future (appointments, plans)
 *   state-types TYPE...           resource types that hold a state later messages
 *                                 restate (RelatedPerson, Flag): their dates
 *                                 say nothing about arrival order or lag
 *   ethnicity-from ORGTYPE...     organisation types expected to send ethnicity
 *   lag KIND HOURS                feed kind (hl7v2, fhir, csv): an event
 *                                 should arrive within HOURS
 *   lag-window DAYS               lag is measured for events at most DAYS old
 *                                 on the run's day (older ones are history)
 */
#ifndef WEFT_DQ_RULES_H
#define WEFT_DQ_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* The checks, in report order. */
enum dq_check {
    DQ_NHS_PRESENT,
    DQ_DOB_PRESENT,
    DQ_SEX_PRESENT,
    DQ_POSTCODE_PRESENT,
    DQ_GP_PRESENT,
    DQ_ETHNICITY_PRESENT,
    DQ_NHS_VALID,
    DQ_NHS_VERIFIED,
    DQ_POSTCODE_VALID,
    DQ_CODE_SYSTEM_KNOWN,
    DQ_UNIT_UCUM,
    DQ_DOB_PLAUSIBLE,
    DQ_DATE_NOT_FUTURE,
    DQ_EVENT_AFTER_BIRTH,
    DQ_EVENT_BEFORE_DEATH,
    DQ_VALUE_PLAUSIBLE,
    DQ_DOB_CONSISTENT,
    DQ_DOB_DAY_MONTH_SWAPPED,
    DQ_NAME_CONSISTENT,
    DQ_NAME_TYPO,
    DQ_SEX_CONSISTENT,
    DQ_DUPLICATE_RECORD,
    DQ_OUT_OF_ORDER,
    DQ_FEED_LAG,
    DQ_MESSAGE_REJECTED,
    DQ_NCHECKS
};

/* Name ("nhs-present") and dimension ("completeness") of a check. */
const char *dq_check_name(enum dq_check c);
const char *dq_check_dimension(enum dq_check c);
/* The check called name, or -1. */
int dq_check_by_name(const char *name);

/* The dimensions, in report order (NULL-terminated). */
extern const char *const dq_dimensions[];

struct dq_plausible {
    char *loinc, *unit, *label;
    double low, high;
};

struct dq_rules {
    bool on[DQ_NCHECKS];
    double threshold[DQ_NCHECKS];
    struct dq_plausible *plausible;
    int nplausible;
    char **code_systems;
    int ncode_systems;
    char **future_ok;
    int nfuture_ok;
    char **state_types;
    int nstate_types;
    char **ethnicity_from;
    int nethnicity_from;
    double lag_hours[3]; /* hl7v2, fhir, csv; 0: no threshold */
    int lag_window_days;
    char sha256[65]; /* of the text parsed */
};

/* Parse text[0..len) into r (zeroed first).  0, or WEFT_EINVAL with
 * "line N: what is wrong" in err[0..errlen). */
int dq_rules_parse(const char *text, size_t len, struct dq_rules *r, char *err, size_t errlen);
/* Read and parse path; NULL looks for $WEFT_DQ_RULES, then policy/dq.rules
 * beside the binary (and its parents) and in the current directory. */
int dq_rules_load(const char *path, struct dq_rules *r, char *err, size_t errlen);
void dq_rules_free(struct dq_rules *r);

/* Lookups. */
const struct dq_plausible *dq_rules_plausible(const struct dq_rules *r, const char *loinc,
                                              const char *unit);
bool dq_rules_code_system_known(const struct dq_rules *r, const char *system, size_t len);
bool dq_rules_future_ok(const struct dq_rules *r, const char *type);
bool dq_rules_state_type(const struct dq_rules *r, const char *type);
bool dq_rules_ethnicity_expected(const struct dq_rules *r, const char *org_type);
/* Threshold in hours for a feed kind, 0 when none. */
double dq_rules_lag_hours(const struct dq_rules *r, const char *kind);

#endif
