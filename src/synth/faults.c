/*
 * faults.c - fault names, default rates and --fault-rate parsing (see
 * faults.h).  Defaults are chosen to look like a real region's data quality
 * reports: most records clean, social care often without an NHS number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "synth/faults.h"

static const struct {
    const char *name;
    double rate;
} table[SYNTH_F_COUNT] = {
    [SYNTH_F_MISSING_NHS] = {"missing-nhs", 0.02},
    [SYNTH_F_SC_MISSING_NHS] = {"sc-missing-nhs", 0.35},
    [SYNTH_F_BAD_CHECK_DIGIT] = {"bad-check-digit", 0.005},
    [SYNTH_F_TYPO] = {"typo", 0.02},
    [SYNTH_F_NICKNAME] = {"nickname", 0.05},
    [SYNTH_F_ADDRESS_CHANGE] = {"address-change", 0.05},
    [SYNTH_F_SWAP_DAY_MONTH] = {"swap-day-month", 0.01},
    [SYNTH_F_MISSING_POSTCODE] = {"missing-postcode", 0.02},
    [SYNTH_F_DUPLICATE] = {"duplicate", 0.01},
    [SYNTH_F_FUTURE_DATE] = {"future-date", 0.003},
    [SYNTH_F_UNKNOWN_CODE] = {"unknown-code", 0.01},
    [SYNTH_F_LATE] = {"late", 0.02},
    [SYNTH_F_MALFORMED] = {"malformed", 0.002},
};

const char *synth_fault_name(enum synth_fault k)
{
    return (unsigned)k < SYNTH_F_COUNT ? table[k].name : "?";
}

void synth_faults_default(struct synth_faults *f)
{
    for (int i = 0; i < SYNTH_F_COUNT; i++)
        f->rate[i] = table[i].rate;
}

void synth_faults_none(struct synth_faults *f)
{
    for (int i = 0; i < SYNTH_F_COUNT; i++)
        f->rate[i] = 0;
}

int synth_faults_parse(struct synth_faults *f, const char *spec, char *err, unsigned errlen)
{
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "bad fault rate item near '%.20s'", p);
            return WEFT_EINVAL;
        }
        memcpy(item, p, len);
        item[len] = 0;
        if (strcmp(item, "none") == 0 || strcmp(item, "0") == 0) {
            synth_faults_none(f);
        } else {
            char *eq = strchr(item, '=');
            if (!eq) {
                snprintf(err, errlen, "fault rate '%s' is not NAME=RATE", item);
                return WEFT_EINVAL;
            }
            *eq = 0;
            char *rend;
            double v = strtod(eq + 1, &rend);
            if (rend == eq + 1 || *rend || !(v >= 0 && v <= 1)) {
                snprintf(err, errlen, "fault rate for '%s' must be a number from 0 to 1", item);
                return WEFT_EINVAL;
            }
            int k = 0;
            for (; k < SYNTH_F_COUNT; k++)
                if (strcmp(table[k].name, item) == 0)
                    break;
            if (k == SYNTH_F_COUNT) {
                snprintf(err, errlen, "unknown fault '%s'", item);
                return WEFT_EINVAL;
            }
            f->rate[k] = v;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return WEFT_OK;
}
