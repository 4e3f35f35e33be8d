/*
 * synth.c - the generator's main loop (see synth.h): person by person,
 * derive the person, write the truth row, then every source's records.
 * Batches of people map to feed files (out.c), so memory stays flat however
 * large the population is.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "synth/csvw.h"
#include "synth/date.h"
#include "synth/fhirw.h"
#include "synth/hl7w.h"
#include "synth/names.h"
#include "synth/out.h"
#include "synth/person.h"
#include "synth/synth.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void truth_person(struct synth_out *o, const struct synth_person *p)
{
    char dob[16];
    synth_date_iso(p->dob, dob, sizeof dob);
    char cond[256] = "";
    size_t n = 0;
    struct {
        bool on;
        const char *name;
    } flags[] = {{p->diabetes, "diabetes"},
                 {p->hypertension, "hypertension"},
                 {p->copd, "copd"},
                 {p->asthma, "asthma"},
                 {p->heart_failure, "heart-failure"},
                 {p->af, "af"},
                 {p->ckd, "ckd"},
                 {p->dementia, "dementia"},
                 {p->depression, "depression"},
                 {p->smi, "smi"},
                 {p->cancer, "cancer"},
                 {p->frail, "frail"},
                 {p->eol, "end-of-life"},
                 {p->social_care, "social-care"},
                 {p->safeguarding, "safeguarding"},
                 {p->mh_section, "mha-section"},
                 {p->research, "research"},
                 {p->overseas_visitor, "overseas-visitor"}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].on)
            n += (size_t)snprintf(cond + n, sizeof cond - n, "%s%s", n ? ";" : "", flags[i].name);
    /* names never hold commas or quotes except O'Brien's apostrophe */
    fprintf(o->t_people, "%s,%s,%s,%s,%s,%s,%s,%s,%d %s,%s,%s,%s,%s\n", p->key,
            p->has_nhs ? p->nhs : "", p->title, p->family, p->given, p->middle ? p->middle : "",
            p->sex == 1 ? "male" : "female", dob, p->addr.house, p->addr.street,
            synth_towns[p->addr.town].name, p->addr.postcode, o->rg->orgs[p->gp].ods, cond);
}

int synth_run(const struct synth_config *cfg, struct synth_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (cfg->people <= 0 || cfg->batch <= 0) {
        snprintf(err, errlen, "people and batch must be positive");
        return WEFT_EINVAL;
    }
    static struct synth_region rg; /* ~25 KB: keep it off the stack */
    synth_region_init(&rg, cfg->people);
    struct synth_out o;
    int rc = synth_out_open(&o, cfg->out, &rg, &cfg->faults);
    if (rc) {
        snprintf(err, errlen, "%s", o.err);
        synth_out_close(&o, false, 0, 0, "");
        return rc;
    }
    char asof[16];
    synth_date_iso(cfg->asof, asof, sizeof asof);
    double t0 = now(), last = t0;
    bool tty = cfg->progress && isatty(2);
    struct synth_person p;
    for (long i = 0; i < cfg->people && rc == 0; i++) {
        if (i % cfg->batch == 0)
            synth_out_set_batch(&o, i / cfg->batch);
        synth_person_make(&rg, cfg->seed, i, cfg->asof, &p);
        truth_person(&o, &p);
        rc = synth_hl7_person(&o, &p, cfg->seed, cfg->asof);
        if (!rc)
            rc = synth_fhir_person(&o, &p, cfg->seed, cfg->asof);
        if (!rc)
            rc = synth_csv_person(&o, &p, cfg->seed, cfg->asof);
        if (cfg->progress && (i & 1023) == 1023) {
            double t = now();
            if (t - last >= (tty ? 0.2 : 10.0)) {
                last = t;
                double frac = (double)(i + 1) / (double)cfg->people;
                if (tty) {
                    char bar[41];
                    int fill = (int)(frac * 40);
                    for (int k = 0; k < 40; k++)
                        bar[k] = k < fill ? '#' : '.';
                    bar[40] = 0;
                    fprintf(stderr, "\r[%s] %5.1f%% %ld people, %.0f/s", bar, frac * 100, i + 1,
                            (double)(i + 1) / (t - t0));
                } else {
                    fprintf(stderr, "synth: %ld of %ld people (%.0f/s)\n", i + 1, cfg->people,
                            (double)(i + 1) / (t - t0));
                }
            }
        }
    }
    if (tty)
        fputc('\n', stderr);
    st->people = cfg->people;
    st->hl7_messages = o.records_per_kind[SYNTH_OUT_HL7];
    st->fhir_bundles = o.records_per_kind[SYNTH_OUT_FHIR];
    for (int k = SYNTH_OUT_CSV_PEOPLE; k < SYNTH_OUT_KINDS; k++)
        st->csv_rows += o.records_per_kind[k];
    if (rc)
        snprintf(err, errlen, "%s", o.err[0] ? o.err : weft_strerror(rc));
    int rc2 = synth_out_close(&o, rc == 0, cfg->people, (unsigned long long)cfg->seed, asof);
    if (!rc && rc2) {
        rc = rc2;
        snprintf(err, errlen, "%s", o.err[0] ? o.err : "could not finish the output");
    }
    st->seconds = now() - t0;
    if (!rc)
        log_info("synth", "generated people=%ld hl7=%ld fhir=%ld csv=%ld seconds=%.1f", st->people,
                 st->hl7_messages, st->fhir_bundles, st->csv_rows, st->seconds);
    return rc;
}
