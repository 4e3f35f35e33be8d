/*
 * out.h - the output tree of one weft synth run: feed files per
 * organisation, rolled over in batches of people, the late-delivery queue,
 * and the ground truth beside them (docs/SYNTH.md has the layout).
 *
 * Owns struct synth_out.  Writers hand it whole records (one HL7 message, one
 * NDJSON line holding a FHIR Bundle, one CSV row) and get back where the
 * record landed (file and record number) so that faults and identities can
 * be written to the truth.  Memory is bounded by one batch's late records.
 */
#ifndef WEFT_SYNTH_OUT_H
#define WEFT_SYNTH_OUT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/buf.h"
#include "synth/faults.h"
#include "synth/region.h"
#include "synth/rng.h"

enum synth_file_kind {
    SYNTH_OUT_HL7,
    SYNTH_OUT_FHIR,
    SYNTH_OUT_CSV_PEOPLE,
    SYNTH_OUT_CSV_CONTACTS,
    SYNTH_OUT_CSV_ASSESSMENTS,
    SYNTH_OUT_CSV_SERVICES,
    SYNTH_OUT_CSV_SAFEGUARDING,
    SYNTH_OUT_CSV_EOL,
    SYNTH_OUT_KINDS
};

/* The record categories of BRIEF §2, counted as the writers emit items. */
enum synth_cat {
    CAT_DEMOGRAPHICS,
    CAT_CONTACTS,
    CAT_SOCIAL_CARE_ASSESSMENT,
    CAT_SERVICES,
    CAT_SAFEGUARDING,
    CAT_LEGAL_STATUS,
    CAT_CONDITIONS,
    CAT_PROCEDURES,
    CAT_MEDICATIONS,
    CAT_ALLERGIES,
    CAT_ALERTS,
    CAT_HISTORY,
    CAT_BIRTH,
    CAT_ENCOUNTERS,
    CAT_APPOINTMENTS,
    CAT_DOCUMENTS,
    CAT_RESULTS,
    CAT_IMAGING_REPORTS,
    CAT_OBSERVATIONS,
    CAT_IMMUNISATIONS,
    CAT_RESEARCH,
    CAT_MENTAL_HEALTH_ACT,
    CAT_END_OF_LIFE,
    CAT_SERVICE_SUMMARIES,
    SYNTH_NCAT
};

struct synth_file {
    FILE *f;
    char rel[192];   /* path under the output root */
    long batch;      /* batch of the open file, -1 when closed */
    long next;       /* record number the next record gets */
    struct buf late; /* records deferred to the next file of this stream */
    long nlate;
    long records; /* records written in total */
    int *batches; /* batches that had a file, in order (for the manifest) */
    int nbatches, capbatches;
};

struct synth_out {
    char *root;
    const struct synth_region *rg;
    struct synth_faults faults;
    struct synth_file *files; /* rg->norgs * SYNTH_OUT_KINDS */
    long batch;
    FILE *t_people, *t_records, *t_faults;
    long opportunities[SYNTH_F_COUNT], injected[SYNTH_F_COUNT];
    long cat[SYNTH_NCAT];
    long records_per_kind[SYNTH_OUT_KINDS];
    char err[256];
    char late_rel[192]; /* where the last late record lands (valid until the next emit) */
};

/* Create root/feeds/<ODS>/..., root/truth/ and open the truth files.  root
 * must not hold an earlier run's output (a manifest.json there is refused,
 * so a run never mixes with another).  On failure returns a negative code
 * with o->err set; synth_out_close() is still safe to call. */
int synth_out_open(struct synth_out *o, const char *root, const struct synth_region *rg,
                   const struct synth_faults *f);
/* Start batch b: closes the files of the previous batch. */
void synth_out_set_batch(struct synth_out *o, long b);
/* Write one record of kind to org's current file (or, when late, queue it
 * for the next file of the stream).  Sets *rel / *recno to where it lands.
 * Returns 0 or WEFT_EIO. */
int synth_out_emit(struct synth_out *o, int org, enum synth_file_kind kind, const char *data,
                   size_t len, bool late, const char **rel, long *recno);
/* Count one opportunity for fault k and decide, from r, whether it happens. */
bool synth_out_roll(struct synth_out *o, struct synth_rng *r, enum synth_fault k);
/* Write a fault row to truth/faults.csv. */
void synth_out_fault(struct synth_out *o, enum synth_fault k, int org, const char *rel, long recno,
                     const char *person, const char *detail);
/* Faults decided while a record is built, logged once the record has a
 * place (file, record number).  Lines "kind-number TAB detail LF" in a buf. */
struct synth_pending {
    struct buf lines;
};
void synth_pending_add(struct synth_pending *pd, enum synth_fault k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Log every pending fault against (org, rel, recno) and empty the list. */
void synth_pending_log(struct synth_out *o, struct synth_pending *pd, int org, const char *rel,
                       long recno, const char *person);
/* Write a source-record row to truth/records.csv. */
void synth_out_record(struct synth_out *o, const char *person, int org, const char *feed_kind,
                      const char *id_system, const char *local_id, const char *nhs_sent,
                      bool duplicate);
static inline void synth_out_cat(struct synth_out *o, enum synth_cat c)
{
    o->cat[c]++;
}
/* Flush late records, close every file, write truth/summary.json and
 * manifest.json (when ok).  people/seed/asof go into the summary. */
int synth_out_close(struct synth_out *o, bool ok, long people, unsigned long long seed,
                    const char *asof);

/* The header line (with CRLF) of a CSV kind; defined by the CSV writer. */
const char *synth_csv_header(enum synth_file_kind kind);

#endif
