/*
 * person.c - derive one true person and their story from (seed, index).
 * Prevalences are rough English figures by age (diabetes ~7% of adults,
 * hypertension rising to over half of the over-75s, frailty mostly past 75):
 * good enough for coherent demo records and for realistic skew in volumes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "synth/date.h"
#include "synth/names.h"
#include "synth/person.h"
#include "synth/rng.h"

int synth_nhs_check_digit(const char *nine)
{
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (nine[i] - '0') * (10 - i);
    int c = 11 - sum % 11;
    return c == 11 ? 0 : c;
}

/* The valid six-digit bodies after "999", built once per process (3.6 MB,
 * independent of the population). */
static uint32_t *valid_bodies;
static long nvalid;

static void build_valid(void)
{
    if (valid_bodies)
        return;
    valid_bodies = xmalloc(sizeof *valid_bodies * 1000000);
    char nine[10];
    for (uint32_t b = 0; b < 1000000; b++) {
        snprintf(nine, sizeof nine, "999%06u", b);
        if (synth_nhs_check_digit(nine) != 10)
            valid_bodies[nvalid++] = b;
    }
}

long synth_nhs_capacity(void)
{
    build_valid();
    return nvalid;
}

static long gcd(long a, long b)
{
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Person idx's number: an affine permutation of the valid numbers chosen by
 * the seed, so numbers look scattered but never repeat within a run. */
static bool nhs_for(uint64_t seed, long idx, char *out)
{
    build_valid();
    if (idx >= nvalid)
        return false;
    uint64_t h = synth_hash(seed, 0x4e4853, 0);
    long a = (long)(h % (uint64_t)nvalid) | 1;
    while (gcd(a, nvalid) != 1)
        a += 2;
    long c = (long)((h >> 32) % (uint64_t)nvalid);
    long k = (long)(((unsigned long long)a * (unsigned long long)idx + (unsigned long long)c) %
                    (unsigned long long)nvalid);
    char nine[10];
    snprintf(nine, sizeof nine, "999%06u", valid_bodies[k] % 1000000);
    int cd = synth_nhs_check_digit(nine);
    memcpy(out, nine, 9);
    out[9] = (char)('0' + cd);
    out[10] = 0;
    return true;
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

static void make_address(struct synth_rng *r, int town, struct synth_address *a)
{
    a->house = synth_rng_range(r, 1, 180);
    a->street = synth_name_street(r);
    a->town = town;
    synth_name_postcode(r, town, a->postcode, sizeof a->postcode);
}

static int count(struct synth_rng *r, double mean)
{
    /* Geometric-ish counts with the given mean, capped: cheap and skewed. */
    int n = 0;
    double p = mean / (1.0 + mean);
    while (n < 12 && synth_rng_chance(r, p))
        n++;
    return n;
}

static int pick_gp(const struct synth_region *rg, struct synth_rng *r, int town)
{
    if (town < 64 && rg->town_gp_count[town] > 0)
        return rg->gp_first + rg->town_gp_start[town] +
               (int)synth_rng_below(r, (uint32_t)rg->town_gp_count[town]);
    return rg->gp_first + (int)synth_rng_below(r, (uint32_t)rg->ngp);
}

void synth_person_make(const struct synth_region *rg, uint64_t seed, long idx, int asof,
                       struct synth_person *p)
{
    struct synth_rng r;
    synth_rng_init(&r, seed, (uint64_t)idx, SYNTH_STREAM_CORE);
    memset(p, 0, sizeof *p);
    p->idx = idx;
    snprintf(p->key, sizeof p->key, "P%08ld", idx + 1);
    p->sex = synth_rng_chance(&r, 0.49) ? 1 : 2;

    static const unsigned band_w[] = {11, 44, 160, 150, 190, 260, 100, 65, 25};
    static const int band_lo[] = {0, 1, 5, 18, 30, 45, 65, 75, 85};
    static const int band_hi[] = {0, 4, 17, 29, 44, 64, 74, 84, 100};
    size_t band = synth_rng_weighted(&r, band_w, 9);
    p->age = synth_rng_range(&r, band_lo[band], band_hi[band]);
    p->dob = asof - p->age * 365 - p->age / 4 - synth_rng_range(&r, 1, 364);
    if (p->age == 0)
        p->dob = asof - synth_rng_range(&r, 5, 330);

    p->given = synth_name_given(&r, p->sex);
    p->middle = synth_rng_chance(&r, 0.55) ? synth_name_given(&r, p->sex) : NULL;
    if (p->middle && strcmp(p->middle, p->given) == 0)
        p->middle = NULL;
    p->family = synth_name_family(&r);
    if (p->age < 18)
        p->title = p->sex == 2 ? "Miss" : p->age < 12 ? "Master" : "Mr";
    else if (p->sex == 1)
        p->title = synth_rng_chance(&r, 0.04) ? "Dr" : "Mr";
    else
        p->title = synth_rng_chance(&r, 0.45) ? "Mrs" : synth_rng_chance(&r, 0.5) ? "Ms" : "Miss";

    p->has_nhs = nhs_for(seed, idx, p->nhs);
    int town = synth_name_town(&r);
    make_address(&r, town, &p->addr);
    int prev_town = synth_rng_chance(&r, 0.6) ? town : synth_name_town(&r);
    make_address(&r, prev_town, &p->prev_addr);
    p->moved_day = asof - synth_rng_range(&r, 30, SYNTH_HISTORY_DAYS);
    if (synth_rng_chance(&r, 0.75))
        snprintf(p->phone, sizeof p->phone, "07700 900%03u", synth_rng_below(&r, 1000));
    else
        snprintf(p->phone, sizeof p->phone, "01632 960%03u", synth_rng_below(&r, 1000));

    p->gp = pick_gp(rg, &r, town);
    p->acute = rg->acute[synth_towns[town].acute];
    p->la = rg->la[synth_towns[town].la];
    if (synth_towns[town].la == 1)
        p->community = rg->community[1];
    else if (town == 4 || town == 5)
        p->community = rg->community[2];
    else
        p->community = rg->community[0];
    static const int hospice_of_acute[SYNTH_NACUTE] = {1, 2, 0, 3};
    p->hospice = rg->hospice[hospice_of_acute[synth_towns[town].acute]];

    int a = p->age;
    bool adult = a >= 18;
    p->smoker = adult && synth_rng_chance(&r, 0.13);
    p->diabetes = a >= 25 && synth_rng_chance(&r, clamp01(0.03 + 0.0025 * (a - 25)));
    p->hypertension = a >= 30 && synth_rng_chance(&r, clamp01(0.02 + 0.008 * (a - 30)));
    p->copd =
        a >= 40 && synth_rng_chance(&r, clamp01((p->smoker ? 0.06 : 0.01) + 0.001 * (a - 40)));
    p->asthma = a >= 3 && synth_rng_chance(&r, 0.08);
    p->heart_failure = a >= 55 && synth_rng_chance(&r, clamp01(0.005 + 0.003 * (a - 55)));
    p->af = a >= 55 && synth_rng_chance(&r, clamp01(0.005 + 0.003 * (a - 55)));
    p->ckd =
        a >= 50 && synth_rng_chance(&r, clamp01((p->diabetes ? 0.1 : 0.02) + 0.004 * (a - 50)));
    p->dementia = a >= 65 && synth_rng_chance(&r, clamp01(0.01 + 0.009 * (a - 65)));
    p->depression = a >= 14 && synth_rng_chance(&r, 0.08);
    p->smi = a >= 18 && a <= 75 && synth_rng_chance(&r, 0.012);
    p->child_mh = a >= 6 && a < 18 && synth_rng_chance(&r, 0.04);
    p->cancer = a >= 40 && synth_rng_chance(&r, clamp01(0.005 + 0.002 * (a - 40)));
    p->learning_disability = synth_rng_chance(&r, 0.005);
    int conditions = p->diabetes + p->hypertension + p->copd + p->heart_failure + p->af + p->ckd +
                     p->dementia + p->cancer;
    p->frail = a >= 65 && synth_rng_chance(&r, clamp01(0.05 + 0.02 * (a - 65) + 0.05 * conditions));
    p->falls = p->frail ? synth_rng_range(&r, 1, 4) : (a >= 65 && synth_rng_chance(&r, 0.08));
    p->maternity_history = p->sex == 2 && a >= 18 && a <= 55 && synth_rng_chance(&r, 0.45);
    p->baby = a == 0;
    p->allergy = synth_rng_chance(&r, 0.15);
    p->eol = (p->cancer && a >= 55 && synth_rng_chance(&r, 0.25)) ||
             (p->heart_failure && a >= 75 && synth_rng_chance(&r, 0.2)) ||
             (p->frail && a >= 88 && synth_rng_chance(&r, 0.3)) ||
             (p->dementia && a >= 85 && synth_rng_chance(&r, 0.2));
    p->research = adult && synth_rng_chance(&r, p->cancer || p->diabetes ? 0.08 : 0.015);
    p->overseas_visitor = adult && synth_rng_chance(&r, 0.006);
    p->safeguarding = (a < 18 && synth_rng_chance(&r, 0.012)) ||
                      ((p->frail || p->dementia) && synth_rng_chance(&r, 0.03));
    p->social_care =
        p->safeguarding || p->learning_disability || (p->frail && synth_rng_chance(&r, 0.55)) ||
        (p->dementia && synth_rng_chance(&r, 0.5)) || (p->eol && synth_rng_chance(&r, 0.5)) ||
        (a >= 18 && synth_rng_chance(&r, 0.01));
    p->has_carer = p->social_care && a >= 18 && synth_rng_chance(&r, 0.6);

    double acute_mean =
        0.15 + 0.012 * (a > 40 ? a - 40 : 0) + 0.25 * conditions + (p->frail ? 0.8 : 0);
    p->n_ae = count(&r, acute_mean * 0.8);
    p->n_ip = count(&r, acute_mean * 0.4);
    p->n_op = count(&r, acute_mean * 0.9 + (p->cancer ? 1.5 : 0) + (p->diabetes ? 0.5 : 0));
    if (p->baby && p->n_ip == 0)
        p->n_ip = 1; /* born in hospital */
    p->n_ambulance = p->frail ? 1 + count(&r, 0.8 + p->falls * 0.3) : count(&r, 0.04 + a * 0.001);
    p->mh_inpatient = p->smi && synth_rng_chance(&r, 0.35);
    p->mh_section = p->mh_inpatient && synth_rng_chance(&r, 0.6);
    p->mh_outpatient = p->smi || p->child_mh || (p->depression && synth_rng_chance(&r, 0.2)) ||
                       (p->dementia && synth_rng_chance(&r, 0.3));
    p->community_care = p->frail || p->eol || (p->heart_failure && synth_rng_chance(&r, 0.5)) ||
                        (p->copd && synth_rng_chance(&r, 0.4)) || p->baby ||
                        (p->diabetes && a >= 70 && synth_rng_chance(&r, 0.3)) ||
                        (p->n_ip > 0 && a >= 75 && synth_rng_chance(&r, 0.4));
}
