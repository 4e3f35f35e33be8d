/*
 * match.c - looking a Patient up without linking it (identity_match,
 * identity.h): the candidates the feed path would consider, graded for the
 * FHIR Patient/$match operation.  Reads only: the blocking keys' candidate
 * records, the person of a valid NHS number, the current model.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "identity/block.h"
#include "identity/identity.h"
#include "identity/mpi.h"
#include "store/identity.h"

const char *identity_grade_code(enum identity_grade g)
{
    switch (g) {
    case IDENTITY_CERTAIN:
        return "certain";
    case IDENTITY_PROBABLE:
        return "probable";
    case IDENTITY_POSSIBLE:
        return "possible";
    case IDENTITY_CERTAINLY_NOT:
        return "certainly-not";
    }
    return "possible";
}

void identity_candidates_free(struct identity_candidate *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].person_id);
        free(c[i].org);
        free(c[i].source_id);
        free(c[i].nhs);
    }
    free(c);
}

static int by_grade(const void *x, const void *y)
{
    const struct identity_candidate *a = x, *b = y;
    int ca = a->grade == IDENTITY_CERTAIN, cb = b->grade == IDENTITY_CERTAIN;
    if (ca != cb)
        return cb - ca;
    if (a->probability != b->probability)
        return a->probability < b->probability ? 1 : -1;
    if (a->weight != b->weight)
        return a->weight < b->weight ? 1 : -1;
    return strcmp(a->person_id, b->person_id);
}

static struct identity_candidate *find(struct identity_candidate *c, int n, const char *pid)
{
    for (int i = 0; i < n; i++)
        if (strcmp(c[i].person_id, pid) == 0)
            return &c[i];
    return NULL;
}

int identity_match(struct store *s, const json_t *patient, int max, struct identity_candidate **out,
                   int *n)
{
    *out = NULL;
    *n = 0;
    struct demog d;
    demog_from_patient(patient, &d);
    struct identity_candidate *c = NULL;
    int nc = 0, cap = 0;
    /* the valid NHS number: its person, when Weft holds a record of them */
    char *nhs_person = NULL;
    if (d.nhs[0]) {
        bool has_record = false;
        int rc = identity_find_nhs(s, d.nhs, &nhs_person, &has_record);
        if (rc != 0 && rc != WEFT_ENOTFOUND)
            return rc;
        if (rc == 0 && has_record) {
            cap = 8;
            c = xcalloc((size_t)cap, sizeof *c);
            c[nc++] = (struct identity_candidate){.person_id = xstrdup(nhs_person),
                                                  .nhs = xstrdup(d.nhs),
                                                  .weight = -INFINITY,
                                                  .probability = 1.0,
                                                  .grade = IDENTITY_CERTAIN};
        }
    }
    char keys[BLOCK_NKEYS][BLOCK_KEYLEN];
    block_keys(&d, keys);
    const char *kp[BLOCK_NKEYS] = {keys[0], keys[1], keys[2], keys[3]};
    struct store_idrec *r = NULL;
    int nr = 0;
    int rc = store_idrec_candidates(s, LINK_SOURCE_ID_SYSTEM, kp, BLOCK_FEED_CAP, false, &r, &nr);
    if (rc != 0) {
        free(nhs_person);
        identity_candidates_free(c, nc);
        return rc;
    }
    const struct idmodel *m = mpi_model_acquire(s);
    double possible = m->review_weight - IDENTITY_POSSIBLE_BITS;
    for (int i = 0; i < nr && rc == 0; i++) {
        struct demog o;
        if (demog_unpack(r[i].demog, &o) != 0)
            continue;
        signed char g[CF_N];
        double w = mpi_compare(m, &d, &o, g, NULL);
        w = mpi_auto_weight(m, &d, &o, g, w);
        if (w < possible)
            continue;
        if ((rc = store_idrec_person(s, LINK_SOURCE_ID_SYSTEM, &r[i])) != 0 || !r[i].person_id)
            continue;
        bool other_nhs = d.nhs[0] && r[i].person_nhs && strcmp(r[i].person_nhs, d.nhs) != 0;
        enum identity_grade gr = other_nhs               ? IDENTITY_CERTAINLY_NOT
                                 : w >= m->link_weight   ? IDENTITY_CERTAIN
                                 : w >= m->review_weight ? IDENTITY_PROBABLE
                                                         : IDENTITY_POSSIBLE;
        double prob = gr == IDENTITY_CERTAINLY_NOT ? 0.0 : 1.0 / (1.0 + exp2(-(w + m->prior_bits)));
        struct identity_candidate *k = find(c, nc, r[i].person_id);
        if (!k) {
            if (nc == cap) {
                cap = cap ? cap * 2 : 8;
                c = xrealloc(c, sizeof *c * (size_t)cap);
            }
            k = &c[nc++];
            *k = (struct identity_candidate){.person_id = xstrdup(r[i].person_id),
                                             .nhs =
                                                 r[i].person_nhs ? xstrdup(r[i].person_nhs) : NULL,
                                             .weight = -INFINITY,
                                             .grade = gr,
                                             .probability = prob};
        }
        if (w > k->weight) {
            free(k->org);
            free(k->source_id);
            k->org = xstrdup(r[i].org);
            k->source_id = xstrdup(r[i].source_id);
            k->weight = w;
            /* an NHS number match stays certain whatever the demographics say */
            if (!(nhs_person && strcmp(k->person_id, nhs_person) == 0)) {
                k->grade = gr;
                k->probability = prob;
            }
        }
    }
    for (int i = 0; i < nc; i++)
        if (c[i].weight == -INFINITY)
            c[i].weight = 0;
    /* persons certain on demographics alone who hold different NHS numbers
     * (twins): none is certain, as the feed path would queue them */
    bool twins = false;
    for (int i = 0; i < nc && !twins; i++)
        for (int j = i + 1; j < nc && !twins; j++)
            twins = c[i].grade == IDENTITY_CERTAIN && c[j].grade == IDENTITY_CERTAIN && c[i].nhs &&
                    c[j].nhs && strcmp(c[i].nhs, c[j].nhs) != 0;
    for (int i = 0; twins && i < nc; i++)
        if (c[i].grade == IDENTITY_CERTAIN && !(nhs_person && !strcmp(c[i].person_id, nhs_person)))
            c[i].grade = IDENTITY_PROBABLE;
    mpi_model_release(m);
    store_idrecs_free(r, nr);
    free(nhs_person);
    if (rc != 0) {
        identity_candidates_free(c, nc);
        return rc;
    }
    if (nc > 1)
        qsort(c, (size_t)nc, sizeof *c, by_grade);
    while (nc > max && nc > 0) {
        nc--;
        free(c[nc].person_id);
        free(c[nc].org);
        free(c[nc].source_id);
        free(c[nc].nhs);
    }
    *out = c;
    *n = nc;
    return WEFT_OK;
}
